/*
 * cmd_explain_gen.c — `attrib explain MODEL PROMPT --generate N` (the
 * model's own greedy answer) and `--continuation TEXT` (a given answer,
 * forced): why did the model write this answer? Every answer token's
 * target is attributed to the prompt's tokens and to the answer tokens
 * before it (attrib_explain_continuation), giving a matrix with one row per
 * answer token, shown as a terminal heat map, an interactive HTML page, CSV
 * or JSON (explain_gen.h has the document's shape).
 *
 * A given answer is tokenized together with the prompt (the tokens the model
 * would see for the whole text), so its first token must start where the
 * prompt's text ends; a token spanning both is refused with the pieces it
 * merges. A contrast answer (--contrast TEXT) is tokenized the same way and
 * step j is explained against its token j: "why this token and not that
 * one here?", logit(answer token) - logit(contrast token), both read in the
 * real answer's context.
 */
#include "cli.h"
#include "explain_gen.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int explain_gen_option(int argc, char **argv, int *i, explain_gen_opts *g) {
    const char *k = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(k, "--target")) {
        g->target_given = 1;
        return 0;
    }
    if (!strcmp(k, "--generate")) {
        if (!cli_parse_int("explain", k, v, 1, 1 << 20, &g->n_generate)) return -1;
    } else if (!strcmp(k, "--continuation")) {
        if (!v) return cli_usage_error("explain", "--continuation needs the answer's text"), -1;
        g->continuation = v;
    } else if (!strcmp(k, "--contrast")) {
        if (!v) return cli_usage_error("explain", "--contrast needs a contrast answer's text"), -1;
        g->contrast = v;
    } else if (!strcmp(k, "--contrast-token")) {
        if (!v) return cli_usage_error("explain", "--contrast-token needs a word, e.g. \" Tom\""), -1;
        g->contrast_word = v;
    } else if (!strcmp(k, "--contrast-token-id")) {
        if (!cli_parse_int("explain", k, v, 0, 1 << 24, &g->contrast_id)) return -1;
        g->contrast_id_given = 1;
    } else if (!strcmp(k, "--ignore-eos")) {
        g->ignore_eos = 1;
        return 1;
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

/* ---- the token sequence ------------------------------------------------ */

typedef struct gen_seq {
    int32_t *ids;        /* (n) prompt then answer */
    uint32_t *begin, *end; /* (n) bytes in full */
    int n, n_prompt;
    char *full;          /* prompt text + answer text */
    size_t full_len, prompt_len;
    bool stopped_at_eos;
} gen_seq;

static void gen_seq_free(gen_seq *s) {
    free(s->ids), free(s->begin), free(s->end), free(s->full);
    memset(s, 0, sizeof *s);
}

static bool gen_seq_alloc(gen_seq *s, int cap) {
    s->ids = malloc((size_t)cap * sizeof *s->ids);
    s->begin = malloc((size_t)cap * sizeof *s->begin);
    s->end = malloc((size_t)cap * sizeof *s->end);
    return s->ids && s->begin && s->end;
}

/* Tokenizes TEXT (+ ANSWER when given) as one text, BOS as the tokenizer
 * says and a trailing EOS dropped. *toks_out: the tokens (attrib_free). */
static int tokenize_joint(const attrib_tokenizer *tok, const char *text, size_t tlen, const char *answer, attrib_token **toks_out,
                          size_t *n_out, char **joined_out) {
    size_t alen = answer ? strlen(answer) : 0;
    char *joined = malloc(tlen + alen + 1);
    if (!joined) return cli_fail_status(ATTRIB_E_NOMEM, "cannot tokenize");
    memcpy(joined, text, tlen);
    if (alen) memcpy(joined + tlen, answer, alen);
    joined[tlen + alen] = '\0';
    attrib_token *t = NULL;
    size_t n = 0;
    attrib_status s = attrib_tokenize(tok, joined, tlen + alen, ATTRIB_TOK_ADD_SPECIAL, &t, &n);
    if (s) {
        free(joined);
        return cli_fail_status(s, answer ? "cannot tokenize TEXT with the answer" : "cannot tokenize TEXT");
    }
    const int eos = attrib_tokenizer_eos(tok);
    if (n > 0 && t[n - 1].id == eos && t[n - 1].begin == t[n - 1].end) n--; /* a tokenizer that appends EOS */
    *toks_out = t;
    *n_out = n;
    *joined_out = joined;
    return 0;
}

/* The number of tokens that lie in the first PLEN bytes; -1 (after printing
 * which pieces) when a token spans the boundary. */
static int split_at(const attrib_tokenizer *tok, const attrib_token *t, size_t n, size_t plen, const char *opt) {
    size_t k = 0;
    while (k < n && (t[k].end <= plen || (t[k].begin == t[k].end && t[k].begin < plen))) k++;
    if (k < n && t[k].begin < plen) {
        size_t pl = 0;
        const char *p = attrib_tokenizer_piece(tok, t[k].id, &pl);
        cli_usage_error("explain", "the first token of %s merges with the end of TEXT (token %d '%.*s' covers bytes %u-%u, "
                        "TEXT ends at %zu): start the answer where a token starts, e.g. with a space",
                        opt, t[k].id, (int)(pl < 40 ? pl : 40), p ? p : "", t[k].begin, t[k].end, plen);
        return -1;
    }
    return (int)k;
}

/* Decoded bytes of ids[0..n) (keep_special 0). */
static char *decode(const attrib_tokenizer *tok, const int32_t *ids, int n, size_t *len) {
    char *s = NULL;
    if (attrib_detokenize(tok, ids, (size_t)n, 0, &s, len)) return NULL;
    return s;
}

/* Appends the answer IDS[P..n) to the full text: each token's bytes are what
 * its decoding adds to that of the tokens before it. */
static int append_answer_text(const attrib_tokenizer *tok, gen_seq *s) {
    size_t base_len = 0;
    char *base = decode(tok, s->ids, s->n_prompt, &base_len);
    char *all = NULL;
    size_t all_len = 0;
    int rc = 1;
    if (!base || !(all = decode(tok, s->ids, s->n, &all_len)) || all_len < base_len || memcmp(all, base, base_len)) {
        fprintf(stderr, "attrib: error: cannot decode the answer\n");
        goto done;
    }
    char *full = realloc(s->full, s->prompt_len + (all_len - base_len) + 1);
    if (!full) goto done;
    s->full = full;
    memcpy(full + s->prompt_len, all + base_len, all_len - base_len);
    s->full_len = s->prompt_len + (all_len - base_len);
    full[s->full_len] = '\0';
    size_t at = base_len;
    for (int i = s->n_prompt; i < s->n; i++) {
        size_t l = 0;
        char *d = decode(tok, s->ids, i + 1, &l);
        /* a decoding that is no prefix of the whole (a normaliser at work): no bytes of its own */
        size_t e = d && l >= at && l <= all_len && !memcmp(d, all, l) ? l : at;
        free(d);
        s->begin[i] = (uint32_t)(s->prompt_len + at - base_len);
        s->end[i] = (uint32_t)(s->prompt_len + e - base_len);
        at = e;
    }
    rc = 0;
done:
    free(base);
    free(all);
    return rc;
}

/* The prompt and the answer: tokenized and, with --generate, generated. */
static int build_sequence(attrib_model *m, const explain_gen_opts *g, const char *text, size_t tlen, gen_seq *s) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int ctx = attrib_model_get_info(m)->n_ctx_train;
    attrib_token *t = NULL;
    size_t n = 0;
    char *joined = NULL;
    int rc = tokenize_joint(tok, text, tlen, g->continuation, &t, &n, &joined);
    if (rc) return rc;
    rc = 1;
    int P = split_at(tok, t, n, tlen, "--continuation");
    if (P < 0) {
        rc = 2;
        goto done;
    }
    const int bos = attrib_tokenizer_bos(tok);
    if (P == 0 || (P == 1 && t[0].id == bos)) {
        rc = cli_usage_error("explain", "TEXT has no token to attribute (BOS is never a source)");
        goto done;
    }
    const int G = g->continuation ? (int)n - P : g->n_generate;
    if (g->continuation && G == 0) {
        rc = cli_usage_error("explain", "--continuation gives no token to explain");
        goto done;
    }
    if ((long)P + G > ctx) {
        rc = cli_usage_error("explain", "TEXT (%d tokens) + the answer (%d tokens%s) exceed the model's context of %d tokens", P, G,
                             g->continuation ? "" : ", --generate", ctx);
        goto done;
    }
    if (!gen_seq_alloc(s, P + G)) goto done;
    s->n_prompt = P;
    for (int i = 0; i < (g->continuation ? (int)n : P); i++) s->ids[i] = t[i].id, s->begin[i] = t[i].begin, s->end[i] = t[i].end;
    s->full = joined;
    s->full_len = g->continuation ? tlen + strlen(g->continuation) : tlen;
    s->prompt_len = tlen;
    joined = NULL;
    if (g->continuation) {
        s->n = P + G;
    } else {
        int got = 0;
        attrib_status st = attrib_generate_greedy(m, s->ids, P, G, !g->ignore_eos, s->ids + P, &got);
        if (st) {
            rc = cli_fail_status(st, "cannot generate the answer");
            goto done;
        }
        s->n = P + got;
        s->stopped_at_eos = got < G;
        if (append_answer_text(tok, s)) goto done;
    }
    rc = 0;
done:
    attrib_free(t);
    free(joined);
    return rc;
}

/* Step j's contrast token into contrast[0..G): one token for every step,
 * or the tokens of a contrast answer. */
static int contrast_tokens(const attrib_model *m, const explain_gen_opts *g, const char *text, size_t tlen, const gen_seq *s,
                           int32_t *contrast) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int G = s->n - s->n_prompt;
    if (g->contrast_word || g->contrast_id_given) {
        int32_t id = g->contrast_id;
        if (g->contrast_word && cli_word_error(tok, NULL, NULL, "--contrast-token", g->contrast_word, &id)) return 1;
        if (id >= attrib_model_get_info(m)->n_vocab)
            return cli_usage_error("explain", "--contrast-token-id %d is outside the vocabulary [0, %d)", id,
                                   attrib_model_get_info(m)->n_vocab);
        for (int j = 0; j < G; j++) contrast[j] = id;
        return 0;
    }
    attrib_token *t = NULL;
    size_t n = 0;
    char *joined = NULL;
    int rc = tokenize_joint(tok, text, tlen, g->contrast, &t, &n, &joined);
    if (rc) return rc;
    rc = 1;
    int P = split_at(tok, t, n, tlen, "--contrast");
    if (P < 0) {
        rc = 2;
        goto done;
    }
    bool same = P == s->n_prompt;
    for (int i = 0; same && i < P; i++) same = t[i].id == s->ids[i];
    if (!same) {
        fprintf(stderr, "attrib: error: TEXT tokenizes differently before --contrast than before the answer\n");
        goto done;
    }
    if ((int)n - P < G) {
        rc = cli_usage_error("explain", "--contrast has %d tokens but the answer has %d: step j is contrasted with the "
                             "contrast's token j, so it needs at least as many", (int)n - P, G);
        goto done;
    }
    if ((int)n - P > G)
        fprintf(stderr, "attrib explain: note: --contrast has %d tokens, the answer %d: the last %d are not used\n", (int)n - P, G,
                (int)n - P - G);
    for (int j = 0; j < G; j++) contrast[j] = t[P + j].id;
    rc = 0;
done:
    attrib_free(t);
    free(joined);
    return rc;
}

/* ---- the document ------------------------------------------------------ */

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *piece_json(const attrib_tokenizer *tok, int32_t id) {
    size_t len = 0;
    const char *p = attrib_tokenizer_piece(tok, id, &len);
    return cli_json_bytes(p ? p : "", p ? len : 0);
}

/* The text token ID stands for after other text: the decoding of [id, id]
 * after that of [id] (a decoder may drop the space of a first token). */
static json_t *lone_token_text(const attrib_tokenizer *tok, int32_t id) {
    int32_t two[2] = {id, id};
    size_t l1 = 0, l2 = 0;
    char *t1 = decode(tok, two, 1, &l1), *t2 = t1 ? decode(tok, two, 2, &l2) : NULL;
    json_t *j = t2 && l2 >= l1 ? cli_json_bytes(t2 + l1, l2 - l1) : piece_json(tok, id);
    free(t1);
    free(t2);
    return j;
}

static json_t *token_text(const attrib_tokenizer *tok, const gen_seq *s, int i) {
    if (s->end[i] > s->begin[i] && s->end[i] <= s->full_len) return cli_json_bytes(s->full + s->begin[i], s->end[i] - s->begin[i]);
    return piece_json(tok, s->ids[i]);
}

static const char *const TARGET_NAMES[] = {"logit", "logprob", "prob", "logit diff", "probe"};
/* The settings that matter for the method, as explain records them (the
 * library's method table), with the mask the run resolved and --words. */
static json_t *settings_json(const attrib_explain_options *o, const attrib_continuation *c, bool words) {
    attrib_explain_options run = *o;
    run.method = c->method;
    run.mask = c->mask;
    run.mask_token = c->mask_token;
    json_t *s = cli_method_settings(&run, NULL);
    if (s && words) json_object_set_new(s, "words", json_true());
    return s;
}

/* Word columns: whitespace-separated words of the full text (render_words),
 * a source token without bytes of its own joining the next word; each row
 * sums its word's source tokens (null when the word has none yet). */
static json_t *words_json(const gen_seq *s, const attrib_continuation *c) {
    const int n = s->n, S = c->n_src;
    int32_t *word = malloc((size_t)n * sizeof *word);
    uint32_t *wb = malloc((size_t)n * sizeof *wb), *we = malloc((size_t)n * sizeof *we);
    int *first = malloc((size_t)n * sizeof *first), *last = malloc((size_t)n * sizeof *last);
    json_t *out = NULL;
    if (!word || !wb || !we || !first || !last) goto done;
    int nw = render_words(s->full, s->full_len, s->begin, s->end, (size_t)n, word, wb, we);
    for (int i = n - 1; i-- > 0;)
        if (word[i] < 0 && i >= c->prompt_begin) word[i] = word[i + 1];
    for (int w = 0; w < nw; w++) first[w] = -1, last[w] = -1;
    for (int i = 0; i < n; i++)
        if (word[i] >= 0) {
            if (first[word[i]] < 0) first[word[i]] = i;
            last[word[i]] = i;
        }
    json_t *cols = json_array(), *rows = json_array();
    int *col_of = malloc((size_t)(nw ? nw : 1) * sizeof *col_of), ncol = 0;
    if (!col_of) {
        json_decref(cols), json_decref(rows);
        goto done;
    }
    for (int w = 0; w < nw; w++) { /* a word is a column when one of its tokens is a source of some step */
        bool src = false;
        for (int i = first[w]; i >= 0 && i <= last[w] && i < S; i++)
            src = src || (word[i] == w && ((i >= c->prompt_begin && i < c->prompt_end) || i >= c->n_prompt));
        col_of[w] = src ? ncol++ : -1;
        if (src)
            json_array_append_new(cols, json_pack("{s:o, s:i, s:i, s:s}", "text", cli_json_bytes(s->full + wb[w], we[w] - wb[w]),
                                                  "first", first[w], "last", last[w], "role",
                                                  last[w] < c->n_prompt ? "prompt" : first[w] >= c->n_prompt ? "answer" : "both"));
    }
    for (int j = 0; j < c->n_gen; j++) {
        json_t *row = json_array();
        for (int w = 0; w < nw; w++) {
            if (col_of[w] < 0) continue;
            double sum = 0;
            bool any = false;
            for (int i = first[w]; i <= last[w] && i < S; i++) {
                double v = c->matrix[(size_t)j * S + i];
                if (word[i] == w && !isnan(v)) sum += v, any = true;
            }
            json_array_append_new(row, any ? json_real(sum) : json_null());
        }
        json_array_append_new(rows, row);
    }
    free(col_of);
    out = json_pack("{s:o, s:o}", "columns", cols, "matrix", rows);
done:
    free(word), free(wb), free(we), free(first), free(last);
    return out;
}

static json_t *build_doc(const explain_gen_opts *g, const explain_gen_base *b, attrib_model *m, const gen_seq *s,
                         const attrib_continuation *c) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int S = c->n_src, P = c->n_prompt;
    json_t *toks = json_array(), *steps = json_array(), *matrix = json_array(), *se = c->std_errors ? json_array() : NULL;
    for (int i = 0; i < s->n; i++)
        json_array_append_new(toks, json_pack("{s:i, s:i, s:o, s:o, s:i, s:i, s:s}", "position", i, "id", s->ids[i], "piece",
                                              piece_json(tok, s->ids[i]), "text", token_text(tok, s, i), "begin",
                                              (int)s->begin[i], "end", (int)s->end[i], "role", i < P ? "prompt" : "answer"));
    for (int j = 0; j < c->n_gen; j++) {
        const double *row = c->matrix + (size_t)j * S;
        json_t *r = json_array(), *e = se ? json_array() : NULL;
        double mass_prompt = 0, mass = 0;
        for (int i = 0; i < S; i++) {
            json_array_append_new(r, num_or_null(row[i]));
            if (e) json_array_append_new(e, num_or_null(c->std_errors[(size_t)j * S + i]));
            if (isnan(row[i])) continue;
            mass += fabs(row[i]);
            if (i < P) mass_prompt += fabs(row[i]);
        }
        json_array_append_new(matrix, r);
        if (e) json_array_append_new(se, e);
        const int pos = P + j;
        json_t *st = json_pack("{s:i, s:i, s:o, s:o, s:f, s:o, s:f, s:o, s:o, s:o, s:o}", "position", pos, "token", s->ids[pos],
                               "piece", piece_json(tok, s->ids[pos]), "text", token_text(tok, s, pos), "f", c->f[j], "f_baseline",
                               num_or_null(c->f_baseline[j]), "sum", c->sum[j], "completeness_delta", num_or_null(c->delta[j]),
                               "completeness_relative", num_or_null(c->relative[j]), "prompt_share",
                               mass > 0 ? json_real(mass_prompt / mass) : json_null(), "answer_share",
                               mass > 0 ? json_real(1 - mass_prompt / mass) : json_null());
        if (c->contrast)
            json_object_set_new(st, "contrast", json_pack("{s:i, s:o, s:o}", "token", c->contrast[j], "piece",
                                                          piece_json(tok, c->contrast[j]), "text", lone_token_text(tok, c->contrast[j])));
        json_array_append_new(steps, st);
    }
    json_t *target = json_pack("{s:s}", "kind", TARGET_NAMES[c->target_kind]);
    if (g->contrast) json_object_set_new(target, "contrast", json_pack("{s:s, s:o}", "mode", "text", "text",
                                                                       cli_json_bytes(g->contrast, strlen(g->contrast))));
    else if (c->contrast) json_object_set_new(target, "contrast", json_pack("{s:s, s:i}", "mode", "token", "token", c->contrast[0]));
    const attrib_model_info *in = attrib_model_get_info(m);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:i, s:o, s:o, s:s, s:o, s:o, s:i, s:[i, i], s:o, s:o, s:o}",
                            "kind", "attrib.continuation/1", "attrib_version", attrib_version(), "commit", attrib_commit(), "model",
                            cli_json_bytes(in->path, strlen(in->path)), "mode", g->continuation ? "continuation" : "generate",
                            "text", cli_json_bytes(s->full, s->prompt_len), "answer_text",
                            cli_json_bytes(s->full + s->prompt_len, s->full_len - s->prompt_len), "n_generate",
                            g->continuation ? 0 : g->n_generate, "stopped_at_eos", json_boolean(s->stopped_at_eos), "settings",
                            settings_json(&b->o, c, b->words), "method", attrib_method_name(c->method), "target", target, "tokens",
                            toks, "n_prompt", P, "prompt_span", c->prompt_begin, c->prompt_end, "steps", steps, "matrix", matrix,
                            "cost", json_pack("{s:I, s:I, s:f, s:i, s:s}", "n_forward", (json_int_t)c->n_forward, "n_backward",
                                              (json_int_t)c->n_backward, "seconds", c->seconds, "threads", b->threads, "compute",
                                              b->compute ? "fast" : "exact"));
    if (!doc) {
        json_decref(se);
        return NULL;
    }
    if (se) json_object_set_new(doc, "std_errors", se);
    if (cli_method_reads(c->method, ATTRIB_READS_IG))
        json_object_set_new(doc, "ig", json_pack("{s:b, s:b}", "adaptive", b->o.ig_tol > 0, "cap_reached", c->ig_cap_reached));
    if (b->words) {
        json_t *w = words_json(s, c);
        if (!w) {
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(doc, "words", w);
    }
    return doc;
}

/* ---- output -------------------------------------------------------------- */

static render_colour pick_colour(int color) {
    const char *no = getenv("NO_COLOR");
    bool on = color == 1 || (color == -1 && isatty(1) && !(no && *no));
    if (!on) return RENDER_PLAIN;
    const char *ct = getenv("COLORTERM");
    return ct && (!strcmp(ct, "truecolor") || !strcmp(ct, "24bit")) ? RENDER_TRUECOLOR : RENDER_ANSI256;
}

/* Characters per line: the terminal's, else $COLUMNS, else 120. */
static int term_width(void) {
    struct winsize ws;
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int w = c ? atoi(c) : 0;
    return w >= 40 ? w : 120;
}

static int print_doc(const explain_gen_base *b, const json_t *doc) {
    int bad;
    if (!strcmp(b->format, "json")) {
        char *s = json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII);
        bad = !s || puts(s) < 0;
        free(s);
    } else if (!strcmp(b->format, "csv")) {
        bad = render_matrix_csv(stdout, doc);
    } else if (!strcmp(b->format, "html")) {
        bad = render_matrix_html(stdout, doc);
    } else {
        bad = render_matrix_term(stdout, doc, pick_colour(b->color), term_width(), b->words);
    }
    return bad || fflush(stdout) ? 1 : 0;
}

/* ---- the command --------------------------------------------------------- */

static int check_usage(const explain_gen_opts *g, const explain_gen_base *b) {
    if (g->n_generate && g->continuation) return cli_usage_error("explain", "give --generate N or --continuation TEXT, not both");
    if (b->conflict) return cli_usage_error("explain", "%s does not go with --generate / --continuation", b->conflict);
    const int contrasts = !!g->contrast + !!g->contrast_word + (g->contrast_id_given);
    if (contrasts > 1) return cli_usage_error("explain", "give one of --contrast, --contrast-token and --contrast-token-id");
    if (g->continuation && g->ignore_eos) return cli_usage_error("explain", "--ignore-eos goes with --generate");
    if (g->continuation && !g->continuation[0]) return cli_usage_error("explain", "--continuation is empty: there is nothing to explain");
    if (g->contrast && !g->contrast[0]) return cli_usage_error("explain", "--contrast is empty");
    if (contrasts && g->target_given && b->o.target.kind != ATTRIB_TARGET_LOGIT_DIFF)
        return cli_usage_error("explain", "a contrast's target is the logit difference (--target diff), not --target %s",
                               TARGET_NAMES[b->o.target.kind]);
    if (!contrasts && b->o.target.kind == ATTRIB_TARGET_LOGIT_DIFF)
        return cli_usage_error("explain", "--target diff with --generate / --continuation needs --contrast TEXT or --contrast-token WORD");
    if (!strcmp(b->format, "term") || !strcmp(b->format, "json") || !strcmp(b->format, "csv") || !strcmp(b->format, "html"))
        return 0;
    return cli_usage_error("explain", "unknown format");
}

int explain_gen_main(const explain_gen_opts *g, const explain_gen_base *b) {
    int rc = check_usage(g, b);
    if (rc) return rc;
    char *owned = NULL;
    size_t tlen = 0;
    const char *text = cli_text_arg(b->text, &owned, &tlen);
    if (!text) return 1;
    if (!tlen) {
        free(owned);
        return cli_usage_error("explain", "TEXT is empty: a continuation needs a prompt");
    }
    attrib_model *m = cli_load_model(b->model, b->threads, false);
    if (!m) {
        free(owned);
        return 1;
    }
    attrib_model_set_compute(m, (attrib_compute)b->compute);
    gen_seq s = {0};
    int32_t *contrast = NULL;
    attrib_continuation *c = NULL;
    json_t *doc = NULL;
    rc = 1;
    if (!attrib_model_tokenizer(m)) {
        fprintf(stderr, "attrib: error: %s has no tokenizer\n", b->model);
        goto done;
    }
    if ((rc = build_sequence(m, g, text, tlen, &s))) goto done;
    rc = 1;
    attrib_explain_options o = b->o;
    if (o.span_end > s.n_prompt) {
        rc = cli_usage_error("explain", "--span %d:%d is outside TEXT's %d tokens", o.span_begin, o.span_end, s.n_prompt);
        goto done;
    }
    const bool has_contrast = g->contrast || g->contrast_word || g->contrast_id_given;
    if (has_contrast) {
        contrast = malloc((size_t)(s.n - s.n_prompt) * sizeof *contrast);
        if (!contrast) goto done;
        if ((rc = contrast_tokens(m, g, text, tlen, &s, contrast))) goto done;
        rc = 1;
        o.target.kind = ATTRIB_TARGET_LOGIT_DIFF;
        for (int j = 0; j < s.n - s.n_prompt; j++)
            if (contrast[j] == s.ids[s.n_prompt + j])
                fprintf(stderr, "attrib explain: note: step %d's contrast token is its own answer token: that row is 0\n", j);
    } else if (!g->target_given) {
        o.target.kind = ATTRIB_TARGET_LOGPROB; /* a continuation's default: each token's log-probability */
    }
    cli_progress prog = {.force = b->progress, .what = attrib_method_name(o.method)};
    prog.t0 = prog.last = cli_now();
    o.progress = cli_progress_cb;
    o.progress_user = &prog;
    attrib_status st = attrib_explain_continuation(m, s.ids, s.n_prompt, s.n, contrast, &o, &c);
    cli_progress_end(&prog);
    if (st) {
        rc = cli_fail_status(st, "cannot explain the answer");
        goto done;
    }
    if (c->ig_cap_reached)
        fprintf(stderr, "attrib explain: warning: adaptive IG stopped at --max-steps %d in some steps, short of the tolerance\n",
                o.ig_max_steps);
    doc = build_doc(g, b, m, &s, c);
    if (!doc) {
        fprintf(stderr, "attrib: error: out of memory\n");
        goto done;
    }
    rc = (b->html_path && cli_write_file(b->html_path, render_matrix_html, doc)) ||
         (b->csv_path && cli_write_file(b->csv_path, render_matrix_csv, doc)) || print_doc(b, doc);
done:
    json_decref(doc);
    attrib_continuation_free(c);
    free(contrast);
    gen_seq_free(&s);
    attrib_model_free(m);
    free(owned);
    return rc;
}
