/*
 * perturb_dump — runs attrib_explain as a JSON request says and prints the
 * result as one JSON line. Used by tests/py/check_occlusion.py (compared
 * with the independent PyTorch reference) and bench/bench_perturb.py. Uses
 * only the public API (include/attrib.h). Unlike explain_dump (command-line
 * keys, gradient methods) it takes feature groups and LIME parameters.
 *
 *   perturb_dump MODEL REQUEST.json
 *
 * REQUEST keys (all optional except "tokens"):
 *   "tokens": [id, ...]           the input, including any BOS
 *   "method": "occlusion"         any attrib_method_name
 *   "mask": "token"|"zero"|"delete"|"attention"
 *   "mask_token": id              default -1 (the tokenizer's default)
 *   "target": "logit"|"logprob"|"prob"|"logit_diff", "target_token", "target_token2"
 *   "span": [begin, end]          default: the library's (skip a leading BOS)
 *   "groups": [g, ...]            one per span token
 *   "window", "stride", "samples", "seed", "batch", "max_exact_features"
 *   "lime_kernel_width", "lime_ridge"
 *   "threads": N                  default 0 (all CPUs)
 * Output: {"scores", "std_errors" (or null), "token_scores", "feature_of_token",
 *          "f_input", "f_baseline", "target_token", "mask_token", "mask",
 *          "n_forward", "seconds", "sum_scores"}. Errors go to stderr, exit 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attrib.h"

static void die(const char *what) {
    fprintf(stderr, "perturb_dump: %s\n", what);
    exit(1);
}

static int32_t *int_array(json_t *a, int *n) {
    if (!json_is_array(a) || json_array_size(a) == 0) die("expected a non-empty array of integers");
    *n = (int)json_array_size(a);
    int32_t *out = calloc((size_t)*n, sizeof(int32_t));
    if (!out) die("out of memory");
    for (int i = 0; i < *n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v)) die("expected integers");
        out[i] = (int32_t)json_integer_value(v);
    }
    return out;
}

static int get_int(json_t *req, const char *key, int def) {
    json_t *v = json_object_get(req, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static double get_num(json_t *req, const char *key, double def) {
    json_t *v = json_object_get(req, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *doubles(const double *x, int n) {
    if (!x) return json_null();
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, num(x[i]));
    return a;
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage: perturb_dump MODEL REQUEST.json");
    json_error_t jerr;
    json_t *req = json_load_file(argv[2], 0, &jerr);
    if (!req) die(jerr.text);
    int n = 0;
    int32_t *ids = int_array(json_object_get(req, "tokens"), &n);

    attrib_model_options mo = attrib_model_default_options();
    mo.n_threads = get_int(req, "threads", 0);
    attrib_model *m = NULL;
    attrib_status st = attrib_model_load(argv[1], &mo, &m);
    if (st) {
        fprintf(stderr, "perturb_dump: load: %s: %s\n", attrib_status_name(st), attrib_last_error());
        return 1;
    }

    const char *mname = json_string_value(json_object_get(req, "method"));
    int meth = attrib_method_from_name(mname ? mname : "occlusion");
    if (meth < 0) die("unknown method");
    attrib_explain_options o = attrib_explain_default_options((attrib_method)meth);
    const char *mask = json_string_value(json_object_get(req, "mask"));
    if (mask) {
        if (attrib_mask_from_name(mask) < 0) die("unknown mask");
        o.mask = (attrib_mask_kind)attrib_mask_from_name(mask);
    }
    o.mask_token = get_int(req, "mask_token", -1);
    const char *tk = json_string_value(json_object_get(req, "target"));
    if (tk) {
        if (!strcmp(tk, "logit")) o.target.kind = ATTRIB_TARGET_LOGIT;
        else if (!strcmp(tk, "logprob")) o.target.kind = ATTRIB_TARGET_LOGPROB;
        else if (!strcmp(tk, "prob")) o.target.kind = ATTRIB_TARGET_PROB;
        else if (!strcmp(tk, "logit_diff")) o.target.kind = ATTRIB_TARGET_LOGIT_DIFF;
        else die("unknown target");
    }
    o.target.token = get_int(req, "target_token", -1);
    o.target.token2 = get_int(req, "target_token2", -1);
    json_t *span = json_object_get(req, "span");
    if (json_is_array(span) && json_array_size(span) == 2) {
        o.span_begin = (int)json_integer_value(json_array_get(span, 0));
        o.span_end = (int)json_integer_value(json_array_get(span, 1));
    }
    int32_t *groups = NULL;
    if (json_object_get(req, "groups")) {
        int ng = 0;
        groups = int_array(json_object_get(req, "groups"), &ng);
        o.groups = groups;
    }
    o.window = get_int(req, "window", o.window);
    o.stride = get_int(req, "stride", o.stride);
    o.samples = get_int(req, "samples", o.samples);
    o.seed = (uint64_t)get_int(req, "seed", 0);
    o.batch = get_int(req, "batch", 0);
    o.max_exact_features = get_int(req, "max_exact_features", o.max_exact_features);
    o.lime_kernel_width = (float)get_num(req, "lime_kernel_width", o.lime_kernel_width);
    o.lime_ridge = (float)get_num(req, "lime_ridge", o.lime_ridge);

    attrib_result *r = NULL;
    st = attrib_explain(m, ids, n, &o, &r);
    if (st) {
        fprintf(stderr, "perturb_dump: explain: %s: %s\n", attrib_status_name(st), attrib_last_error());
        return 1;
    }
    json_t *out = json_object();
    json_object_set_new(out, "scores", doubles(r->scores, r->n_features));
    json_object_set_new(out, "std_errors", doubles(r->std_errors, r->n_features));
    json_object_set_new(out, "token_scores", doubles(r->token_scores, r->n_tokens));
    json_t *fot = json_array();
    for (int i = 0; i < r->n_tokens; i++) json_array_append_new(fot, json_integer(r->feature_of_token[i]));
    json_object_set_new(out, "feature_of_token", fot);
    json_object_set_new(out, "f_input", num(r->f_input));
    json_object_set_new(out, "f_baseline", num(r->f_baseline));
    json_object_set_new(out, "sum_scores", num(r->sum_scores));
    json_object_set_new(out, "target_token", json_integer(r->target_token));
    json_object_set_new(out, "mask_token", json_integer(r->mask_token));
    json_object_set_new(out, "mask", json_integer(r->mask));
    json_object_set_new(out, "n_forward", json_integer(r->n_forward));
    json_object_set_new(out, "seconds", json_real(r->seconds));
    char *txt = json_dumps(out, JSON_COMPACT);
    puts(txt);
    free(txt);
    json_decref(out);
    json_decref(req);
    attrib_result_free(r);
    attrib_model_free(m);
    free(ids);
    free(groups);
    return 0;
}
