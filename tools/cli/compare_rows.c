/*
 * compare_rows.c — what lets a long `attrib compare` run lose nothing.
 *
 * * Rows that are not computed: a prompt longer than the model's context
 *   (skipped, or truncated, by --too-long) and a prompt on which a method
 *   fails are recorded, with their reason and token length, in the
 *   document's "skipped" and "failed" lists, and the run goes on.
 * * The journal: every finished row is appended, as one JSON line, to
 *   OUT.partial.jsonl beside the output and flushed to disk, after a header
 *   line that identifies the run (model, data and settings, each with a
 *   sha256). `--resume` reads it back, refuses a journal of another run, and
 *   reuses the finished prompts instead of recomputing them. A line cut off
 *   by a kill is dropped; every line before it is whole, since each line is
 *   written complete before the next prompt starts.
 * * Interrupts: SIGINT and SIGTERM only set a flag, which the run checks
 *   between methods and prompts, so the library is never stopped mid-write
 *   and the journal stays valid. A second SIGINT stops the process at once
 *   (the default action is restored): the journal is still usable.
 * The document format is in docs/compare.md.
 */
#include "compare.h"
#include "render.h"

#include <errno.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ interrupts */

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

void compare_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: reads and writes in progress complete; SA_RESETHAND: a
     * second Ctrl-C ends the process (the journal holds whole lines) */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int compare_interrupted(void) { return (int)g_signal; }

/* ------------------------------------------------------------ run identity */

static int sha256_hex(const char *s, char hex[65]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL) || n != 32) return 1;
    for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* A canonical text of V (sorted keys, exact doubles) hashed into HEX. */
static int json_sha256(const json_t *v, char hex[65]) {
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY);
    int rc = !s || sha256_hex(s, hex);
    free(s);
    return rc;
}

json_t *compare_run_identity(const json_t *doc) {
    json_t *prov = json_deep_copy(json_object_get(doc, "provenance"));
    if (!prov) return NULL;
    /* what measures time or describes where and how the run was started is
     * not part of what it computes; paths may change, contents may not */
    static const char *const drop[] = {"command", "started", "wall_seconds", "peak_rss_mb", "machine", "merged_from", "resumed"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++) json_object_del(prov, drop[i]);
    json_t *model = json_incref(json_object_get(prov, "model")), *data = json_incref(json_object_get(prov, "data"));
    json_object_del(prov, "model");
    json_object_del(prov, "data");
    json_object_del(model, "path");
    json_object_del(data, "path");
    json_t *files = json_object_get(data, "files");
    for (size_t i = 0; i < json_array_size(files); i++) json_object_del(json_array_get(files, i), "path");
    json_object_del(json_object_get(prov, "classifier"), "path");
    json_object_set(prov, "method_list", json_object_get(doc, "methods"));
    json_object_set(prov, "pairs", json_object_get(doc, "pairs"));
    char hm[65], hd[65], hs[65];
    json_t *id = NULL;
    /* the model by its weights' own sha256 (as in the provenance); the data
     * and the settings by the sha256 of their canonical JSON */
    const char *msha = json_string_value(json_object_get(model, "sha256"));
    if (msha) snprintf(hm, sizeof hm, "%s", msha);
    if (model && data && (msha || !json_sha256(model, hm)) && !json_sha256(data, hd) && !json_sha256(prov, hs))
        id = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "schema", COMPARE_PARTIAL_SCHEMA, "model_sha256", hm, "data_sha256",
                       hd, "settings_sha256", hs, "model", model, "data", data, "settings", prov);
    else json_decref(model), json_decref(data), json_decref(prov);
    return id;
}

/* The first place where A and B differ, as a path ("settings.methods.ig.steps"). */
static void first_difference(const json_t *a, const json_t *b, char *path, size_t cap) {
    const size_t len = strlen(path);
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            if (!json_equal(v, json_object_get(b, k))) {
                snprintf(path + len, cap - len, "%s%s", len ? "." : "", k);
                first_difference(v, json_object_get(b, k), path, cap);
                return;
            }
        }
        json_object_foreach((json_t *)b, k, v) {
            if (!json_object_get(a, k)) {
                snprintf(path + len, cap - len, "%s%s", len ? "." : "", k);
                return;
            }
        }
    } else if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_equal(json_array_get(a, i), json_array_get(b, i))) {
                snprintf(path + len, cap - len, "[%zu]", i);
                first_difference(json_array_get(a, i), json_array_get(b, i), path, cap);
                return;
            }
    }
}

/* ------------------------------------------------------------ journal */

char *compare_journal_path(const char *out) {
    size_t n = strlen(out) + sizeof ".partial.jsonl";
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.partial.jsonl", out);
    return p;
}

static int write_line(FILE *f, const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) return 1;
    int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF || fflush(f) != 0;
    free(s);
    /* on disk before the next prompt starts: a crash or power loss keeps it */
    if (!rc) fsync(fileno(f));
    return rc;
}

/* Reads every whole line of PATH; a last line without its newline (cut by
 * a kill mid-write) is dropped. NULL after printing an error. */
static json_t *read_lines(const char *path, int *dropped) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "attrib: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    json_t *lines = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long no = 0;
    *dropped = 0;
    while (lines && (got = getline(&line, &cap, f)) > 0) {
        no++;
        if (line[got - 1] != '\n') { /* the last line, incomplete */
            *dropped = 1;
            break;
        }
        json_error_t err;
        json_t *v = json_loadb(line, (size_t)got, 0, &err);
        if (!v) {
            fprintf(stderr, "attrib: error: %s line %ld is damaged (%s); delete the file to start again\n", path, no, err.text);
            json_decref(lines);
            lines = NULL;
            break;
        }
        json_array_append_new(lines, v);
    }
    free(line);
    fclose(f);
    return lines;
}

int compare_journal_open(compare_journal *j, const char *out, const json_t *identity, bool resume, bool quiet) {
    memset(j, 0, sizeof *j);
    j->done = json_object();
    if (!(j->path = compare_journal_path(out)) || !j->done) return 1;
    const bool exists = access(j->path, F_OK) == 0;
    if (exists && !resume) {
        fprintf(stderr,
                "attrib: error: %s holds the finished prompts of an unfinished run: continue it with --resume, or delete it "
                "to start again\n",
                j->path);
        return 2;
    }
    json_t *keep = json_array();
    if (exists) {
        int dropped = 0;
        json_t *lines = read_lines(j->path, &dropped);
        if (!lines) {
            json_decref(keep);
            return 1;
        }
        const json_t *head = json_array_get(lines, 0);
        const char *schema = json_string_value(json_object_get(head, "schema"));
        if (!schema || strcmp(schema, COMPARE_PARTIAL_SCHEMA) != 0) {
            fprintf(stderr, "attrib: error: %s is not a journal of attrib compare (schema %s)\n", j->path, COMPARE_PARTIAL_SCHEMA);
            json_decref(lines);
            json_decref(keep);
            return 1;
        }
        static const char *const parts[] = {"model", "data", "settings"};
        for (int k = 0; k < 3; k++) {
            char key[32];
            snprintf(key, sizeof key, "%s_sha256", parts[k]);
            const char *was = json_string_value(json_object_get(head, key));
            const char *now = json_string_value(json_object_get(identity, key));
            if (was && now && !strcmp(was, now)) continue;
            char where[256] = "";
            snprintf(where, sizeof where, "%s", parts[k]);
            first_difference(json_object_get(head, parts[k]), json_object_get(identity, parts[k]), where, sizeof where);
            fprintf(stderr,
                    "attrib: error: cannot resume: %s belongs to a run with other %s (sha256 %.12s..., here %.12s...; first "
                    "difference at %s). Resume with the same model, data and settings, or delete the file to start again\n",
                    j->path, parts[k], was ? was : "?", now ? now : "?", where);
            json_decref(lines);
            json_decref(keep);
            return 1;
        }
        /* finished prompts are kept; skipped and failed rows are cheap to
         * reconsider (and a failure may have been transient): they run again */
        for (size_t i = 1; i < json_array_size(lines); i++) {
            json_t *rec = json_object_get(json_array_get(lines, i), "prompt");
            json_t *index = json_object_get(rec, "index");
            if (!json_is_integer(index)) continue;
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)json_integer_value(index));
            if (json_object_get(j->done, key)) continue;
            json_object_set(j->done, key, rec);
            json_array_append(keep, json_array_get(lines, i));
        }
        j->n_resumed = (int)json_object_size(j->done);
        if (!quiet) fprintf(stderr, "attrib: resuming: %d finished prompts kept from %s\n", j->n_resumed, j->path);
        if (dropped) fprintf(stderr, "attrib: note: %s: the last line was cut off (a kill while writing); it is redone\n", j->path);
        json_decref(lines);
    } else if (resume && !quiet) {
        fprintf(stderr, "attrib: note: no %s to resume: starting from the first prompt\n", j->path);
    }
    /* the journal is rewritten (header and the kept prompts, then renamed
     * over the old one) so that it never holds stale or cut lines */
    size_t n = strlen(j->path) + 8;
    char *tmp = malloc(n);
    int rc = 1;
    if (tmp) {
        snprintf(tmp, n, "%s.tmp", j->path);
        FILE *f = fopen(tmp, "wb");
        if (f) {
            rc = write_line(f, identity);
            for (size_t i = 0; i < json_array_size(keep) && !rc; i++) rc = write_line(f, json_array_get(keep, i));
            rc |= fclose(f) != 0;
            rc = rc || rename(tmp, j->path) != 0;
            if (rc) remove(tmp);
        }
    }
    if (rc) fprintf(stderr, "attrib: error: cannot write the journal %s: %s\n", j->path, strerror(errno));
    else if (!(j->f = fopen(j->path, "ab"))) {
        fprintf(stderr, "attrib: error: cannot append to %s: %s\n", j->path, strerror(errno));
        rc = 1;
    }
    free(tmp);
    json_decref(keep);
    return rc;
}

json_t *compare_journal_find(const compare_journal *j, int64_t index) {
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)index);
    return j && j->done ? json_object_get(j->done, key) : NULL;
}

int compare_journal_append(compare_journal *j, const char *kind, json_t *rec) {
    if (!j || !j->f) return 0;
    json_t *line = json_pack("{s:O}", kind, rec);
    int rc = !line || write_line(j->f, line);
    json_decref(line);
    if (rc) fprintf(stderr, "attrib: error: cannot append to the journal %s\n", j->path);
    return rc;
}

void compare_journal_close(compare_journal *j, bool remove_file) {
    if (j->f) fclose(j->f);
    if (remove_file && j->path) remove(j->path);
    free(j->path);
    json_decref(j->done);
    memset(j, 0, sizeof *j);
}

/* ------------------------------------------------------------ rows not computed */

json_t *compare_row_note(const cli_rows *rows, int i, const char *reason, const char *stage, int n_tokens, int n_ctx) {
    json_t *r = json_pack("{s:I, s:s, s:i, s:i, s:s, s:s?}", "index", (json_int_t)rows->index[i], "id", rows->id[i], "file",
                          rows->file[i], "label", rows->label[i], "reason", reason, "stage", stage);
    if (!r) return NULL;
    json_object_set_new(r, "n_tokens", n_tokens > 0 ? json_integer(n_tokens) : json_null());
    json_object_set_new(r, "n_ctx", n_ctx > 0 ? json_integer(n_ctx) : json_null());
    /* the text, when it is valid UTF-8 (jansson refuses anything else) */
    json_t *text = json_string(rows->text[i]);
    json_object_set_new(r, "text", text ? text : json_null());
    return r;
}

static void print_list(FILE *f, const json_t *list, const char *title) {
    const size_t n = json_array_size(list);
    if (!n) return;
    fprintf(f, "\n%s (%zu):\n", title, n);
    for (size_t i = 0; i < n && i < 20; i++) {
        const json_t *r = json_array_get(list, i);
        const json_t *nt = json_object_get(r, "n_tokens");
        fprintf(f, "  index %lld  id %s  ", (long long)json_integer_value(json_object_get(r, "index")),
                json_string_value(json_object_get(r, "id")));
        if (json_is_integer(nt)) fprintf(f, "%lld tokens  ", (long long)json_integer_value(nt));
        const char *stage = json_string_value(json_object_get(r, "stage"));
        if (stage) fprintf(f, "%s: ", stage);
        fprintf(f, "%s\n", json_string_value(json_object_get(r, "reason")));
    }
    if (n > 20) fprintf(f, "  ... and %zu more (the JSON document lists them all)\n", n - 20);
}

void compare_print_missing(FILE *f, const json_t *doc) {
    print_list(f, json_object_get(doc, "skipped"), "rows skipped");
    print_list(f, json_object_get(doc, "failed"), "rows that failed (not in the figures above)");
}

/* ------------------------------------------------------------ too long */

int compare_prepare_prompt(const attrib_tokenizer *tok, const char *tmpl, const char *text, int n_ctx, int policy,
                           attrib_prompt **out, int *n_tokens, char *why, size_t cap) {
    *out = NULL;
    *n_tokens = 0;
    attrib_prompt *p = NULL;
    if (attrib_template_apply(tok, tmpl, text, strlen(text), &p)) {
        snprintf(why, cap, "%s", attrib_last_error());
        return 2;
    }
    *n_tokens = p->n;
    if (n_ctx <= 0 || p->n <= n_ctx) {
        *out = p;
        return 0;
    }
    const int fixed = p->n - (p->span_end - p->span_begin); /* BOS and the template's tokens */
    if (policy != COMPARE_TOO_LONG_TRUNCATE || fixed >= n_ctx) {
        snprintf(why, cap, "%d tokens (template included) exceed the model's context of %d", p->n, n_ctx);
        if (policy == COMPARE_TOO_LONG_TRUNCATE)
            snprintf(why, cap, "the template alone has %d tokens, the model's context %d: nothing of the prompt fits", fixed, n_ctx);
        attrib_prompt_free(p);
        return 1;
    }
    /* keep the input's first tokens that fit: cut the text where the first
     * token that does not fit begins (on a UTF-8 boundary), render again, and
     * cut further in the rare case the new end tokenizes longer */
    const size_t len = strlen(text);
    for (int keep = n_ctx - fixed; keep > 0; keep--) {
        size_t cut = p->tokens[p->span_begin + keep].begin;
        cut = cut > p->input_begin ? cut - p->input_begin : 0;
        if (cut > len) cut = len;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
        attrib_prompt *q = NULL;
        if (cut == 0 || attrib_template_apply(tok, tmpl, text, cut, &q)) break;
        if (q->n <= n_ctx) {
            attrib_prompt_free(p);
            *out = q;
            snprintf(why, cap, "truncated from %d tokens to the model's context of %d", *n_tokens, n_ctx);
            return 0;
        }
        attrib_prompt_free(q);
    }
    snprintf(why, cap, "%d tokens exceed the model's context of %d and the prompt could not be cut to fit", p->n, n_ctx);
    attrib_prompt_free(p);
    return 1;
}
