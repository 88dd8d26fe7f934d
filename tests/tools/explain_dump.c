/*
 * explain_dump.c — runs attrib_explain through the public API and prints the
 * whole result as JSON, for the Python checks against the PyTorch reference.
 *
 * usage: explain_dump MODEL IDS METHOD [key=value ...]
 *   IDS: comma-separated token ids (including any BOS)
 *   keys: target=logit|logprob|prob|diff token=N token2=N steps=N (fixed rule)
 *         tol=F max_steps=N (adaptive IG; without steps or tol: the library default)
 *         rule=gl|gauss-legendre|left|right|middle|trapezoid mask=token|zero|delete|attention
 *         mask_token=N samples=N seed=N window=N stride=N batch=N span=B:E
 *         norm=l1|l2 on_gxi=0|1 noise=F threads=N probe=FILE (target = the probe's logit)
 */
#include "attrib.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "explain_dump: %s: %s\n", what, attrib_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: explain_dump MODEL IDS METHOD [key=value ...]\n");
        return 2;
    }
    int method = attrib_method_from_name(argv[3]);
    if (method < 0) {
        fprintf(stderr, "unknown method %s\n", argv[3]);
        return 2;
    }
    attrib_explain_options o = attrib_explain_default_options((attrib_method)method);
    int threads = 0;
    const char *probe_path = NULL;
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "target")) {
            o.target.kind = !strcmp(v, "logit") ? ATTRIB_TARGET_LOGIT : !strcmp(v, "logprob") ? ATTRIB_TARGET_LOGPROB
                          : !strcmp(v, "prob") ? ATTRIB_TARGET_PROB : ATTRIB_TARGET_LOGIT_DIFF;
        } else if (!strcmp(k, "token")) o.target.token = atoi(v);
        else if (!strcmp(k, "token2")) o.target.token2 = atoi(v);
        else if (!strcmp(k, "steps")) o.ig_steps = atoi(v), o.ig_tol = 0;
        else if (!strcmp(k, "tol")) o.ig_tol = atof(v);
        else if (!strcmp(k, "max_steps")) o.ig_max_steps = atoi(v);
        else if (!strcmp(k, "rule") && attrib_ig_rule_from_name(v) >= 0) o.ig_rule = (attrib_ig_rule)attrib_ig_rule_from_name(v);
        else if (!strcmp(k, "mask") && attrib_mask_from_name(v) >= 0) o.mask = (attrib_mask_kind)attrib_mask_from_name(v);
        else if (!strcmp(k, "mask_token")) o.mask_token = atoi(v);
        else if (!strcmp(k, "samples")) o.samples = o.smooth_samples = atoi(v);
        else if (!strcmp(k, "seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "window")) o.window = atoi(v);
        else if (!strcmp(k, "stride")) o.stride = atoi(v);
        else if (!strcmp(k, "batch")) o.batch = atoi(v);
        else if (!strcmp(k, "norm")) o.norm = !strcmp(v, "l1") ? ATTRIB_NORM_L1 : ATTRIB_NORM_L2;
        else if (!strcmp(k, "on_gxi")) o.smooth_on_gxi = atoi(v);
        else if (!strcmp(k, "noise")) o.smooth_noise = (float)atof(v);
        else if (!strcmp(k, "threads")) threads = atoi(v);
        else if (!strcmp(k, "probe")) probe_path = v;
        else if (!strcmp(k, "span")) {
            if (sscanf(v, "%d:%d", &o.span_begin, &o.span_end) != 2) return 2;
        } else {
            fprintf(stderr, "unknown key %s\n", k);
            return 2;
        }
    }
    int32_t ids[4096];
    int n = 0;
    for (char *s = argv[2]; *s && n < 4096;) {
        ids[n++] = (int32_t)strtol(s, &s, 10);
        if (*s == ',') s++;
    }
    attrib_model_options mo = attrib_model_default_options();
    mo.n_threads = threads;
    attrib_model *m;
    if (attrib_model_load(argv[1], &mo, &m)) return fail("load");
    attrib_probe *probe = NULL;
    if (probe_path) {
        if (attrib_probe_load(probe_path, &probe)) return fail("probe");
        o.target.kind = ATTRIB_TARGET_PROBE;
        o.target.probe = probe;
    }
    attrib_result *r;
    if (attrib_explain(m, ids, n, &o, &r)) return fail("explain");
    const int C = attrib_model_get_info(m)->n_embd;
    json_t *scores = json_array(), *tok = json_array(), *se = json_array(), *grad = json_array(), *fot = json_array();
    for (int f = 0; f < r->n_features; f++) {
        json_array_append_new(scores, json_real(r->scores[f]));
        if (r->std_errors) json_array_append_new(se, json_real(r->std_errors[f]));
    }
    for (int i = 0; i < r->n_tokens; i++) {
        json_array_append_new(tok, json_real(r->token_scores[i]));
        json_array_append_new(fot, json_integer(r->feature_of_token[i]));
    }
    if (r->gradients)
        for (int i = 0; i < r->n_tokens * C; i++) json_array_append_new(grad, json_real(r->gradients[i]));
    json_t *o_json = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:f, s:f, s:f, s:f, s:I, s:I, s:f}",
                               "method", attrib_method_name(r->method), "scores", scores, "token_scores", tok, "std_errors", se,
                               "gradients", grad, "feature_of_token", fot, "target_token", r->target_token, "mask_token",
                               r->mask_token, "f_input", r->f_input, "f_baseline", isnan(r->f_baseline) ? 0.0 : r->f_baseline,
                               "sum_scores", r->sum_scores,
                               "completeness_relative", isnan(r->completeness_relative) ? -1.0 : r->completeness_relative,
                               "n_forward", (json_int_t)r->n_forward, "n_backward", (json_int_t)r->n_backward, "seconds",
                               r->seconds);
    if (r->ig_n_nodes > 0) { /* the IG rule actually used */
        json_t *nodes = json_array(), *weights = json_array();
        for (int k = 0; k < r->ig_n_nodes; k++) {
            json_array_append_new(nodes, json_real(r->ig_nodes[k]));
            json_array_append_new(weights, json_real(r->ig_weights[k]));
        }
        json_object_set_new(o_json, "ig_nodes", nodes);
        json_object_set_new(o_json, "ig_weights", weights);
        json_object_set_new(o_json, "ig_pieces", json_integer(r->ig_pieces));
        json_object_set_new(o_json, "ig_cap_reached", json_boolean(r->ig_cap_reached));
        json_object_set_new(o_json, "ig_error_bound", isnan(r->ig_error_bound) ? json_null() : json_real(r->ig_error_bound));
        json_object_set_new(o_json, "completeness_delta", json_real(r->completeness_delta));
    }
    char *txt = json_dumps(o_json, JSON_COMPACT);
    puts(txt);
    free(txt);
    json_decref(o_json);
    attrib_result_free(r);
    attrib_probe_free(probe);
    attrib_model_free(m);
    return 0;
}
