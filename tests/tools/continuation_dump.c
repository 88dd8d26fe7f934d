/*
 * continuation_dump.c — runs attrib_explain_continuation (and, with gen=N,
 * attrib_generate_greedy first) through the public API and prints the whole
 * result as JSON, for tests/py/check_continuation.py.
 *
 * usage: continuation_dump MODEL IDS N_PROMPT METHOD [key=value ...]
 *   IDS: comma-separated token ids of the prompt and the forced answer (the
 *        answer starts at position N_PROMPT); with gen=N only the prompt
 *   keys: gen=N (greedy answer of N tokens, not stopping at EOS)
 *         target=logit|logprob|prob|diff contrast=ID,ID,... (diff: per step)
 *         steps=N (fixed-rule IG) tol=F mask=token|zero mask_token=N
 *         norm=l1|l2 span=B:E samples=N seed=N threads=N
 */
#include "attrib.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "continuation_dump: %s: %s\n", what, attrib_last_error());
    return 1;
}

static int parse_ids(const char *s, int32_t *ids, int cap) {
    int n = 0;
    while (*s && n < cap) {
        ids[n++] = (int32_t)strtol(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    return n;
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: continuation_dump MODEL IDS N_PROMPT METHOD [key=value ...]\n");
        return 2;
    }
    int method = attrib_method_from_name(argv[4]);
    if (method < 0) return 2;
    attrib_explain_options o = attrib_explain_default_options((attrib_method)method);
    o.target.kind = ATTRIB_TARGET_LOGPROB;
    static int32_t ids[8192], contrast[4096];
    int n = parse_ids(argv[2], ids, 4096), n_prompt = atoi(argv[3]), gen = 0, n_contrast = 0, threads = 0;
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "gen")) gen = atoi(v);
        else if (!strcmp(k, "target"))
            o.target.kind = !strcmp(v, "logit") ? ATTRIB_TARGET_LOGIT : !strcmp(v, "logprob") ? ATTRIB_TARGET_LOGPROB
                          : !strcmp(v, "prob") ? ATTRIB_TARGET_PROB : ATTRIB_TARGET_LOGIT_DIFF;
        else if (!strcmp(k, "contrast")) n_contrast = parse_ids(v, contrast, 4096);
        else if (!strcmp(k, "steps")) o.ig_steps = atoi(v), o.ig_tol = 0;
        else if (!strcmp(k, "tol")) o.ig_tol = atof(v);
        else if (!strcmp(k, "mask")) o.mask = !strcmp(v, "zero") ? ATTRIB_MASK_ZERO : ATTRIB_MASK_TOKEN;
        else if (!strcmp(k, "mask_token")) o.mask_token = atoi(v);
        else if (!strcmp(k, "norm")) o.norm = !strcmp(v, "l1") ? ATTRIB_NORM_L1 : ATTRIB_NORM_L2;
        else if (!strcmp(k, "samples")) o.samples = atoi(v);
        else if (!strcmp(k, "seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "threads")) threads = atoi(v);
        else if (!strcmp(k, "span")) {
            if (sscanf(v, "%d:%d", &o.span_begin, &o.span_end) != 2) return 2;
        } else {
            fprintf(stderr, "unknown key %s\n", k);
            return 2;
        }
    }
    attrib_model_options mo = attrib_model_default_options();
    mo.n_threads = threads;
    attrib_model *m;
    if (attrib_model_load(argv[1], &mo, &m)) return fail("load");
    if (gen > 0) {
        int got = 0;
        if (gen > 4096 || attrib_generate_greedy(m, ids, n_prompt, gen, 0, ids + n_prompt, &got)) return fail("generate");
        n = n_prompt + got;
    }
    attrib_continuation *c;
    if (attrib_explain_continuation(m, ids, n_prompt, n, n_contrast ? contrast : NULL, &o, &c)) return fail("explain");
    json_t *rows = json_array(), *jids = json_array();
    for (int i = 0; i < c->n_tokens; i++) json_array_append_new(jids, json_integer(c->ids[i]));
    for (int j = 0; j < c->n_gen; j++) {
        json_t *row = json_array(), *nodes = json_array(), *weights = json_array();
        for (int i = 0; i < c->n_src; i++) json_array_append_new(row, num_or_null(c->matrix[(size_t)j * c->n_src + i]));
        for (int k = c->ig_row ? c->ig_row[j] : 0; c->ig_row && k < c->ig_row[j + 1]; k++) {
            json_array_append_new(nodes, json_real(c->ig_nodes[k]));
            json_array_append_new(weights, json_real(c->ig_weights[k]));
        }
        json_array_append_new(rows, json_pack("{s:o, s:f, s:o, s:f, s:o, s:o, s:o}", "scores", row, "f", c->f[j], "f_baseline",
                                              num_or_null(c->f_baseline[j]), "sum", c->sum[j], "delta", num_or_null(c->delta[j]),
                                              "ig_nodes", nodes, "ig_weights", weights));
    }
    json_t *doc = json_pack("{s:s, s:o, s:i, s:i, s:i, s:i, s:i, s:o, s:I, s:I}", "method", attrib_method_name(c->method), "ids",
                            jids, "n_prompt", c->n_prompt, "n_src", c->n_src, "prompt_begin", c->prompt_begin, "prompt_end",
                            c->prompt_end, "mask_token", c->mask_token, "steps", rows, "n_forward", (json_int_t)c->n_forward,
                            "n_backward", (json_int_t)c->n_backward);
    char *txt = json_dumps(doc, JSON_COMPACT);
    puts(txt);
    free(txt);
    json_decref(doc);
    attrib_continuation_free(c);
    attrib_model_free(m);
    return 0;
}
