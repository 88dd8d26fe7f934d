/*
 * data.c — the dataset and prompt options shared by `attrib probe` and
 * `attrib compare`: which files, which columns, which rows (--limit,
 * --sample, --shard), and how each prompt becomes tokens (a template with
 * an {input} slot; the input's tokens are the attribution span).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *CLI_DATA_HELP =
    "data (CSV with a header row, JSON array of objects, or JSONL):\n"
    "  --data FILE          labelled prompts; repeatable\n"
    "  --harmful FILE       every row of FILE is harmful (label 1); repeatable\n"
    "  --harmless FILE      every row of FILE is harmless (label 0); repeatable\n"
    "  --text-col NAME      column with the prompt (default: prompt, instruction, goal, Goal,\n"
    "                       text, query or question, whichever comes first)\n"
    "  --label-col NAME     column with the label (default: label, if present)\n"
    "  --positive VALUE     the label value meaning harmful (default: unsafe, harmful, 1,\n"
    "                       true or yes)\n"
    "  --limit N            the first N rows of each file (after --sample)\n"
    "  --sample N           a seeded random N rows of each file, kept in file order\n"
    "  --data-seed S        seed of --sample (default: the command's --seed, else 0)\n"
    "  --shard K/N          every N-th row starting at the K-th (K = 1..N), to split a run\n"
    "                       across machines; merge the outputs with `attrib compare --merge`\n"
    "  --template T         how a prompt is presented: plain (default), judge, chatml, llama3,\n"
    "                       llama-guard, or @FILE holding a template with one {input} slot;\n"
    "                       auto / chat: the model's own chat template (explain --help)\n";

static bool parse_i64(const char *cmd, const char *opt, const char *v, int64_t lo, int64_t *out) {
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || !*v || *end || x < lo) {
        cli_usage_error(cmd, "%s takes a whole number >= %lld", opt, (long long)lo);
        return false;
    }
    *out = x;
    return true;
}

int cli_data_option(const char *cmd, int argc, char **argv, int *i, cli_data_opts *o) {
    const char *k = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int label = -2;
    if (!strcmp(k, "--data")) label = -1;
    else if (!strcmp(k, "--harmful")) label = 1;
    else if (!strcmp(k, "--harmless")) label = 0;
    if (label != -2) {
        if (!v) {
            cli_usage_error(cmd, "%s needs a file", k);
            return -1;
        }
        if (o->n_files >= CLI_MAX_FILES) {
            cli_usage_error(cmd, "at most %d data files", CLI_MAX_FILES);
            return -1;
        }
        o->files[o->n_files] = v;
        o->file_label[o->n_files++] = label;
        ++*i;
        return 1;
    }
    const char **str = !strcmp(k, "--text-col") ? &o->text_col : !strcmp(k, "--label-col") ? &o->label_col
                     : !strcmp(k, "--positive") ? &o->positive : !strcmp(k, "--template") ? &o->template_arg : NULL;
    if (str) {
        if (!v) {
            cli_usage_error(cmd, "%s needs a value", k);
            return -1;
        }
        *str = v;
        ++*i;
        return 1;
    }
    if (!strcmp(k, "--limit") || !strcmp(k, "--sample") || !strcmp(k, "--data-seed")) {
        int64_t x;
        if (!parse_i64(cmd, k, v, !strcmp(k, "--data-seed") ? 0 : 1, &x)) return -1;
        if (!strcmp(k, "--limit")) o->limit = x;
        else if (!strcmp(k, "--sample")) o->sample = x;
        else o->seed = (uint64_t)x, o->seed_set = 1;
        ++*i;
        return 1;
    }
    if (!strcmp(k, "--shard")) {
        int a, b, used = 0;
        if (!v || sscanf(v, "%d/%d%n", &a, &b, &used) != 2 || v[used] || b < 1 || a < 1 || a > b) {
            cli_usage_error(cmd, "--shard takes K/N with 1 <= K <= N, e.g. 2/4");
            return -1;
        }
        o->shard_k = a;
        o->shard_n = b;
        ++*i;
        return 1;
    }
    return 0;
}

void cli_rows_free(cli_rows *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->text[i]);
        free(r->id[i]);
    }
    free(r->text);
    free(r->id);
    free(r->label);
    free(r->index);
    free(r->file);
    memset(r, 0, sizeof *r);
}

int cli_data_load(const cli_data_opts *o, cli_rows *out) {
    memset(out, 0, sizeof *out);
    if (o->n_files == 0) {
        fprintf(stderr, "attrib: error: no data: give --data, --harmful or --harmless\n");
        return 2;
    }
    int64_t offset = 0;
    for (int f = 0; f < o->n_files; f++) {
        attrib_dataset_options dopt = attrib_dataset_default_options();
        dopt.text_col = o->text_col;
        dopt.label_col = o->file_label[f] >= 0 ? NULL : o->label_col;
        dopt.positive = o->positive;
        dopt.default_label = o->file_label[f];
        dopt.limit = o->limit;
        dopt.sample = o->sample;
        dopt.seed = o->seed;
        dopt.shard_k = o->shard_k;
        dopt.shard_n = o->shard_n;
        attrib_dataset *ds = NULL;
        attrib_status s = attrib_dataset_load(o->files[f], &dopt, &ds);
        if (s) {
            cli_fail_status(s, "cannot load data");
            if (s == ATTRIB_E_MISSING && !o->text_col && strstr(attrib_last_error(), "no text column"))
                fprintf(stderr, "  name the column that holds the prompts with --text-col NAME\n");
            cli_rows_free(out);
            return 1;
        }
        const int64_t n = attrib_dataset_size(ds);
        if (n > (1 << 24) - out->n) {
            fprintf(stderr, "attrib: error: too many rows\n");
            attrib_dataset_free(ds);
            cli_rows_free(out);
            return 1;
        }
        const int total = out->n + (int)n;
        char **text = realloc(out->text, sizeof(char *) * (total ? total : 1));
        if (text) out->text = text;
        char **id = realloc(out->id, sizeof(char *) * (total ? total : 1));
        if (id) out->id = id;
        int *label = realloc(out->label, sizeof(int) * (total ? total : 1));
        if (label) out->label = label;
        int64_t *index = realloc(out->index, sizeof(int64_t) * (total ? total : 1));
        if (index) out->index = index;
        int *file = realloc(out->file, sizeof(int) * (total ? total : 1));
        if (file) out->file = file;
        if (!text || !id || !label || !index || !file) {
            fprintf(stderr, "attrib: error: out of memory\n");
            attrib_dataset_free(ds);
            cli_rows_free(out);
            return 1;
        }
        for (int64_t i = 0; i < n; i++) {
            const int r = out->n;
            size_t len = 0;
            const char *t = attrib_dataset_text(ds, i, &len);
            out->text[r] = malloc(len + 1);
            out->id[r] = strdup(attrib_dataset_id(ds, i));
            if (!out->text[r] || !out->id[r]) {
                free(out->text[r]);
                free(out->id[r]);
                fprintf(stderr, "attrib: error: out of memory\n");
                attrib_dataset_free(ds);
                cli_rows_free(out);
                return 1;
            }
            memcpy(out->text[r], t, len);
            out->text[r][len] = '\0';
            out->label[r] = attrib_dataset_label(ds, i);
            /* indices stay unique across files: each file's selection is offset by the rows before it */
            out->index[r] = offset + attrib_dataset_index(ds, i);
            out->file[r] = f;
            out->n++;
        }
        out->rows_in_file[f] = attrib_dataset_file_rows(ds);
        snprintf(out->text_col[f], sizeof out->text_col[f], "%s", attrib_dataset_text_col(ds));
        snprintf(out->label_col[f], sizeof out->label_col[f], "%s",
                 attrib_dataset_label_col(ds) ? attrib_dataset_label_col(ds) : "");
        offset += attrib_dataset_file_rows(ds);
        attrib_dataset_free(ds);
    }
    return 0;
}

int cli_template(const char *arg, char **tmpl_out, const char **name_out) {
    const char *name = arg ? arg : "plain";
    *name_out = name;
    if (name[0] == '@') {
        FILE *f = fopen(name + 1, "rb");
        if (!f) {
            fprintf(stderr, "attrib: error: cannot open template file '%s': %s\n", name + 1, strerror(errno));
            return 1;
        }
        char *buf = malloc(1 << 16);
        size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
        int big = buf && !feof(f);
        fclose(f);
        if (!buf || big) {
            free(buf);
            fprintf(stderr, "attrib: error: template file '%s' is larger than 64 KiB\n", name + 1);
            return 1;
        }
        buf[n] = '\0';
        *tmpl_out = buf;
        return 0;
    }
    const char *t = attrib_template_builtin(name);
    if (!t) {
        fprintf(stderr, "attrib: error: unknown template '%s' (built-ins:", name);
        for (const char *const *p = attrib_template_names(); *p; p++) fprintf(stderr, " %s", *p);
        fprintf(stderr, "; or @FILE)\n");
        return 2;
    }
    *tmpl_out = strdup(t);
    return *tmpl_out ? 0 : 1;
}
