/*
 * test-prefix.c — the prefix cache (attrib_prefix): passes that start at
 * position P from the cached keys and values of positions 0..P-1 must give
 * what passes over the whole input give.
 *
 * - The gradient pass (attrib_grad_pass_prefix) against attrib_grad_pass
 *   over the whole sequence, on the three shared models (two RoPE layouts,
 *   GQA, F16) and on random gemma2 and gemma3 models with a sliding window
 *   of 4 positions (windows that cut through the prefix and the suffix, so
 *   the true positions matter; gemma3 also has local RoPE frequencies and
 *   Q/K norms): equal target values and span gradients, for two sequences
 *   in one batch, and the prefix's keys and values untouched (the backward
 *   treats them as constants).
 * - attrib_explain for every method, attrib_evaluate_masked and
 *   attrib_faithfulness_eval with and without the prefix: equal scores,
 *   values and metrics; result.prefix_len says whether it was used.
 * - The fast compute mode (a Q8_0 model): the prefix keeps fast keys and
 *   values too, so fast perturbation results do not change either.
 * - Probe targets: last-token pooling uses the prefix, mean pooling ignores
 *   it (prefix_len 0); both equal the results without it.
 * - Errors: another model, ids that differ, a span inside the prefix.
 *
 * The bound: the cached rows are the same arithmetic in a different batch,
 * so the only differences are float32 rounding of the matrix products
 * (OpenBLAS may block a P-row product differently from an n-row one). A
 * difference of a few float32 ulps in the keys moves a score by about
 * 1e-6 of its scale through a handful of blocks (measured here: at most
 * 3e-6 of max |score|, 5e-7 of |f|); the tests allow
 *   max |d| <= 1e-4 * max |score| + 1e-5 * max(|f(x)|, |f(baseline)|)
 * (the second term because perturbation scores are differences of target
 * values, whose rounding follows |f|; gradients and values: 1e-4
 * relative alone), far below any real difference (a wrong position or a
 * prefix row counted twice moves scores by whole percents).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/backward.h"
#include "model/prefix.h"
#include "test_util.h"

#define BOUND 1e-4

static const char *SHARED[] = {"models/stories260K/stories260K-f32.gguf", "models/TinyStories-656K",
                               "models/llama-2-tiny-random/llama-2-tiny-random.gguf"};

/* Writes a small random model with tools/make_gguf.py ARGS into the build
 * directory (false, and the test skips, without python). */
static bool make_model(char *path, size_t n, const char *name, const char *args) {
    const char *build = getenv("ATTRIB_BUILD");
    char src[900]; /* the source tree: this file is SRC/tests/test-prefix.c */
    snprintf(src, sizeof src, "%s", __FILE__);
    char *cut = strstr(src, "/tests/test-prefix.c");
    if (!cut) return false;
    *cut = 0;
    snprintf(path, n, "%s/test-prefix-%s.gguf", build && *build ? build : ".", name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/make_gguf.py %s --quiet %s", src, args, path);
    return system(cmd) == 0 && test_have(path);
}

static attrib_model *load(const char *path) {
    attrib_model_options o = attrib_model_default_options();
    o.n_threads = 2;
    attrib_model *m = NULL;
    assert_int_equal(attrib_model_load(path, &o, &m), ATTRIB_OK);
    return m;
}

static attrib_model *load_shared(int i) {
    char p[1024];
    test_shared_path(p, sizeof p, SHARED[i]);
    if (!test_have(p) && !test_have(strcat(p, "/config.json"))) return NULL;
    test_shared_path(p, sizeof p, SHARED[i]);
    return load(p);
}

/* Deterministic ids: BOS (if any) then tokens spread over the vocabulary. */
static void make_ids(const attrib_model *m, int32_t *ids, int n, uint32_t seed) {
    const int V = attrib_model_get_info(m)->n_vocab;
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    uint32_t s = seed;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = 3 + (int32_t)((s >> 8) % (uint32_t)(V - 3));
    }
    if (tok && attrib_tokenizer_bos(tok) >= 0) ids[0] = attrib_tokenizer_bos(tok);
}

static double max_abs(const double *a, int n) {
    double x = 0;
    for (int i = 0; i < n; i++) x = fmax(x, fabs(a[i]));
    return x;
}

/* max |a - b| <= BOUND * max(|a|, |b|) + FLOOR (and print the ratio). */
static void expect_close_floor(const char *what, const double *a, const double *b, int n, double floor) {
    double d = 0, s = fmax(max_abs(a, n), max_abs(b, n));
    for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    fprintf(stderr, "#   %-44s max|d| %.3g  (%.3g of max %.3g)\n", what, d, s > 0 ? d / s : 0.0, s);
    if (!(d <= BOUND * s + floor)) fail_msg("%s: max |d| %g exceeds %g x %g + %g", what, d, BOUND, s, floor);
}
static void expect_close(const char *what, const double *a, const double *b, int n) { expect_close_floor(what, a, b, n, 0.0); }

/* ---- the gradient pass ---------------------------------------------------- */

typedef struct { int target; int V; } logit_ctx;
static void logit_target(void *user, int b, const float *logits, float *dlogits, double *value) {
    const logit_ctx *c = user;
    (void)b;
    memset(dlogits, 0, sizeof(float) * (size_t)c->V);
    dlogits[c->target] = 1.0f;
    *value = logits[c->target];
}

static void grad_case(attrib_model *m, const char *name) {
    const attrib_model_info *in = attrib_model_get_info(m);
    enum { N = 14, P = 6, T = N - P };
    const int C = in->n_embd;
    const size_t kvd = (size_t)in->n_head_kv * in->head_dim;
    int32_t ids[N];
    make_ids(m, ids, N, 7);
    /* two sequences sharing the prefix: the input, and its suffix halved */
    float *full = malloc(sizeof(float) * 2 * N * C), *gfull = malloc(sizeof(float) * 2 * N * C);
    float *suf = malloc(sizeof(float) * 2 * T * C), *gsuf = malloc(sizeof(float) * 2 * T * C);
    assert_int_equal(attrib_model_embed(m, ids, N, full), ATTRIB_OK);
    memcpy(full + N * C, full, sizeof(float) * N * C);
    for (int i = P * C; i < N * C; i++) full[N * C + i] *= 0.5f;
    for (int b = 0; b < 2; b++) memcpy(suf + (size_t)b * T * C, full + ((size_t)b * N + P) * C, sizeof(float) * T * C);
    logit_ctx lc = {5 % in->n_vocab, in->n_vocab};
    const grad_readout ro = {.target = logit_target, .user = &lc};
    double vfull[2], vsuf[2];
    for (int b = 0; b < 2; b++)
        assert_int_equal(attrib_grad_pass(m, full + (size_t)b * N * C, 1, N, &ro, gfull + (size_t)b * N * C, &vfull[b]), ATTRIB_OK);

    attrib_prefix *pre = NULL;
    assert_int_equal(attrib_prefix_new(m, ids, P, &pre), ATTRIB_OK);
    assert_int_equal(attrib_prefix_len(pre), P);
    attrib_cache *kv = prefix_cache(pre, m, ATTRIB_COMPUTE_EXACT);
    assert_non_null(kv);
    assert_int_equal(attrib_cache_len(kv, 0), P);
    /* a snapshot of the prefix's keys and values: the backward must not write them */
    const size_t per_layer = (size_t)P * kvd;
    float *snap = malloc(sizeof(float) * 2 * per_layer * in->n_layer);
    for (int l = 0; l < in->n_layer; l++) {
        const float *k, *v;
        cache_layer_kv(kv, l, 0, &k, &v);
        memcpy(snap + 2 * l * per_layer, k, sizeof(float) * per_layer);
        memcpy(snap + (2 * l + 1) * per_layer, v, sizeof(float) * per_layer);
    }
    assert_int_equal(attrib_grad_pass_prefix(m, kv, suf, 2, T, &ro, gsuf, vsuf), ATTRIB_OK);
    for (int l = 0; l < in->n_layer; l++) {
        const float *k, *v;
        cache_layer_kv(kv, l, 0, &k, &v);
        assert_memory_equal(snap + 2 * l * per_layer, k, sizeof(float) * per_layer);
        assert_memory_equal(snap + (2 * l + 1) * per_layer, v, sizeof(float) * per_layer);
    }
    char what[128];
    snprintf(what, sizeof what, "%s: target values", name);
    expect_close(what, vfull, vsuf, 2);
    double *a = malloc(sizeof(double) * 2 * T * C), *b = malloc(sizeof(double) * 2 * T * C);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < T * C; i++) {
            a[(size_t)s * T * C + i] = gfull[((size_t)s * N + P) * C + i];
            b[(size_t)s * T * C + i] = gsuf[(size_t)s * T * C + i];
        }
    snprintf(what, sizeof what, "%s: gradients of positions %d..%d", name, P, N - 1);
    expect_close(what, a, b, 2 * T * C);
    /* the prefix is not the first positions of the input: a pass that
     * ignored it (or read it at the wrong positions) would differ */
    double dz = 0;
    for (int i = 0; i < T * C; i++) dz = fmax(dz, fabs(a[i]));
    assert_true(dz > 0);
    free(a), free(b), free(snap), free(full), free(gfull), free(suf), free(gsuf);
    attrib_prefix_free(pre);
}

static void test_grad_pass_shared(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++) {
        attrib_model *m = load_shared(i);
        if (!m) skip();
        grad_case(m, strrchr(SHARED[i], '/') + 1);
        attrib_model_free(m);
    }
}

static const struct {
    const char *name, *args;
} WINDOWED[] = {
    {"gemma2", "--arch gemma2 --n-embd 64 --n-layer 3 --n-head 4 --n-head-kv 2 --n-ff 128 --n-vocab 300 --sliding-window 4 "
               "--seed 11"},
    {"gemma3", "--arch gemma3 --n-embd 64 --n-layer 3 --n-head 4 --n-head-kv 2 --n-ff 128 --n-vocab 300 --sliding-window 4 "
               "--seed 12"},
};

static void test_grad_pass_sliding_window(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof WINDOWED / sizeof *WINDOWED; i++) {
        char path[1024];
        if (!make_model(path, sizeof path, WINDOWED[i].name, WINDOWED[i].args)) skip();
        attrib_model *m = load(path);
        const attrib_model_info *in = attrib_model_get_info(m);
        assert_int_equal(in->sliding_window, 4);
        assert_true(in->n_windowed_layers > 0);
        grad_case(m, WINDOWED[i].name);
        attrib_model_free(m);
    }
}

/* ---- whole requests --------------------------------------------------------- */

static const attrib_method METHODS[] = {
    ATTRIB_METHOD_SALIENCY,   ATTRIB_METHOD_GRAD_X_INPUT,    ATTRIB_METHOD_INTEGRATED_GRADIENTS, ATTRIB_METHOD_SMOOTHGRAD,
    ATTRIB_METHOD_OCCLUSION,  ATTRIB_METHOD_SHAPLEY_SAMPLED, ATTRIB_METHOD_KERNELSHAP,          ATTRIB_METHOD_LIME,
    ATTRIB_METHOD_SHAPLEY_EXACT,
};

static attrib_explain_options request(attrib_method method, int span_begin, attrib_mask_kind mask) {
    attrib_explain_options o = attrib_explain_default_options(method);
    o.span_begin = span_begin;
    o.mask = mask;
    o.ig_tol = 0;
    o.ig_steps = 8;
    o.smooth_samples = 4;
    o.seed = 3;
    return o;
}

/* The first N_METHODS of METHODS with and without PRE on IDS (n): equal
 * scores; the result says the prefix was used (EXPECT_USED) or not. Scores
 * of perturbation methods are differences of target values, so their
 * rounding follows |f| rather than the scores': the bound adds FLOOR_F
 * times max(|f(x)|, |f(baseline)|) (1e-5: float32 resolves f to 6e-8 of
 * itself, and the values here differ by at most about 5e-7 of it). */
#define FLOOR_F 1e-5
static void methods_from(attrib_model *m, const int32_t *ids, int n, const attrib_prefix *pre, attrib_explain_options base,
                         int expect_used, const char *name, const attrib_method *methods, int n_methods) {
    for (int k = 0; k < n_methods; k++) {
        attrib_explain_options o = base;
        o.method = methods[k];
        o.samples = methods[k] == ATTRIB_METHOD_SHAPLEY_SAMPLED ? 4 : 24; /* permutations; coalitions */
        if (o.mask != ATTRIB_MASK_TOKEN && o.mask != ATTRIB_MASK_ZERO &&
            (methods[k] == ATTRIB_METHOD_INTEGRATED_GRADIENTS || methods[k] == ATTRIB_METHOD_SMOOTHGRAD))
            o.mask = ATTRIB_MASK_TOKEN;
        attrib_result *r0 = NULL, *r1 = NULL;
        assert_int_equal(attrib_explain(m, ids, n, &o, &r0), ATTRIB_OK);
        o.prefix = pre;
        if (attrib_explain(m, ids, n, &o, &r1) != ATTRIB_OK) fail_msg("%s: %s", attrib_method_name(methods[k]), attrib_last_error());
        assert_int_equal(r0->prefix_len, 0);
        assert_int_equal(r1->prefix_len, expect_used ? attrib_prefix_len(pre) : 0);
        assert_int_equal(r0->n_features, r1->n_features);
        char what[128];
        snprintf(what, sizeof what, "%s %s", name, attrib_method_name(methods[k]));
        const double fscale = fmax(fabs(r0->f_input), isnan(r0->f_baseline) ? 0.0 : fabs(r0->f_baseline));
        expect_close_floor(what, r0->scores, r1->scores, r0->n_features, FLOOR_F * fscale);
        double f0[2] = {r0->f_input, isnan(r0->f_baseline) ? 0 : r0->f_baseline};
        double f1[2] = {r1->f_input, isnan(r1->f_baseline) ? 0 : r1->f_baseline};
        assert_true(isnan(r0->f_baseline) == isnan(r1->f_baseline));
        snprintf(what, sizeof what, "%s %s f(x), f(baseline)", name, attrib_method_name(methods[k]));
        expect_close(what, f0, f1, 2);
        assert_int_equal(r0->n_forward, r1->n_forward);
        assert_int_equal(r0->n_backward, r1->n_backward);
        if (r0->gradients) { /* the span's rows equal; the prefix's rows are 0 */
            const int C = attrib_model_get_info(m)->n_embd, P = r1->prefix_len;
            for (int i = 0; i < P * C; i++) assert_true(r1->gradients[i] == 0.0f);
            double *a = malloc(sizeof(double) * (n - P) * C), *b = malloc(sizeof(double) * (n - P) * C);
            for (int i = 0; i < (n - P) * C; i++) a[i] = r0->gradients[P * C + i], b[i] = r1->gradients[P * C + i];
            snprintf(what, sizeof what, "%s %s gradients", name, attrib_method_name(methods[k]));
            expect_close(what, a, b, (n - P) * C);
            free(a), free(b);
        }
        attrib_result_free(r0);
        attrib_result_free(r1);
    }
}

static void methods_case(attrib_model *m, const int32_t *ids, int n, const attrib_prefix *pre, attrib_explain_options base,
                         int expect_used, const char *name, int n_methods) {
    methods_from(m, ids, n, pre, base, expect_used, name, METHODS, n_methods);
}

static void test_methods_equal(void **state) {
    (void)state;
    attrib_model *m = load_shared(0);
    if (!m) skip();
    enum { N = 16, P = 7 };
    int32_t ids[N];
    make_ids(m, ids, N, 21);
    attrib_prefix *pre = NULL;
    assert_int_equal(attrib_prefix_new(m, ids, P, &pre), ATTRIB_OK);
    const attrib_mask_kind masks[] = {ATTRIB_MASK_TOKEN, ATTRIB_MASK_ZERO, ATTRIB_MASK_DELETE, ATTRIB_MASK_ATTENTION};
    for (int mk = 0; mk < 4; mk++) {
        char name[64];
        snprintf(name, sizeof name, "stories260K mask %d", mk);
        /* the span right after the prefix, and a span that ends before the input does */
        attrib_explain_options o = request(ATTRIB_METHOD_SALIENCY, P, masks[mk]);
        methods_case(m, ids, N, pre, o, 1, name, sizeof METHODS / sizeof *METHODS);
        o.span_begin = P + 2;
        o.span_end = N - 3;
        snprintf(name, sizeof name, "stories260K mask %d inner span", mk);
        methods_case(m, ids, N, pre, o, 1, name, 5);
    }
    /* delete every feature up to the end: the fully masked input is the prefix alone */
    {
        attrib_explain_options o = request(ATTRIB_METHOD_OCCLUSION, P, ATTRIB_MASK_DELETE);
        o.window = N - P;
        const attrib_method occ = ATTRIB_METHOD_OCCLUSION;
        methods_from(m, ids, N, pre, o, 1, "delete all after the prefix", &occ, 1);
    }
    /* attrib_evaluate_masked and attrib_faithfulness_eval */
    const int nf = N - P;
    uint8_t present[4 * (N - P)];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < nf; i++) present[k * nf + i] = (uint8_t)(((i + k) % 3) != 0);
    for (int mk = 0; mk < 4; mk++) {
        attrib_explain_options o = request(ATTRIB_METHOD_OCCLUSION, P, masks[mk]);
        double v0[4], v1[4];
        assert_int_equal(attrib_evaluate_masked(m, ids, N, &o, present, nf, 4, v0), ATTRIB_OK);
        o.prefix = pre;
        assert_int_equal(attrib_evaluate_masked(m, ids, N, &o, present, nf, 4, v1), ATTRIB_OK);
        expect_close("evaluate_masked", v0, v1, 4);
        double scores[N - P];
        for (int i = 0; i < nf; i++) scores[i] = (double)((i * 7) % nf);
        attrib_faithfulness f0, f1;
        o.prefix = NULL;
        assert_int_equal(attrib_faithfulness_eval(m, ids, N, &o, scores, nf, NULL, &f0), ATTRIB_OK);
        o.prefix = pre;
        assert_int_equal(attrib_faithfulness_eval(m, ids, N, &o, scores, nf, NULL, &f1), ATTRIB_OK);
        expect_close("faithfulness deletion curve", f0.deletion, f1.deletion, f0.n_points);
        expect_close("faithfulness insertion curve", f0.insertion, f1.insertion, f0.n_points);
        double a[4] = {f0.comprehensiveness_aopc, f0.sufficiency_aopc, f0.random_deletion_auc, f0.random_insertion_auc};
        double b[4] = {f1.comprehensiveness_aopc, f1.sufficiency_aopc, f1.random_deletion_auc, f1.random_insertion_auc};
        expect_close("faithfulness summaries", a, b, 4);
        assert_int_equal(f0.n_evaluations, f1.n_evaluations);
    }
    attrib_prefix_free(pre);
    attrib_model_free(m);
}

/* The other shared models and the windowed ones: a few methods each. */
static void test_methods_other_models(void **state) {
    (void)state;
    for (int i = 1; i < 3 + 2; i++) {
        char path[1024];
        attrib_model *m;
        if (i < 3) {
            m = load_shared(i);
            if (!m) continue;
        } else {
            if (!make_model(path, sizeof path, WINDOWED[i - 3].name, WINDOWED[i - 3].args)) continue;
            m = load(path);
        }
        enum { N = 13, P = 5 };
        int32_t ids[N];
        make_ids(m, ids, N, 33 + i);
        attrib_prefix *pre = NULL;
        assert_int_equal(attrib_prefix_new(m, ids, P, &pre), ATTRIB_OK);
        attrib_explain_options o = request(ATTRIB_METHOD_SALIENCY, P, ATTRIB_MASK_TOKEN);
        if (o.mask_token < 0) o.mask_token = 2; /* random models carry a tokenizer without PAD/UNK */
        methods_case(m, ids, N, pre, o, 1, i < 3 ? strrchr(SHARED[i], '/') + 1 : WINDOWED[i - 3].name, 8);
        attrib_prefix_free(pre);
        attrib_model_free(m);
    }
}

/* The fast compute mode: the prefix keeps a fast copy, and fast perturbation
 * results with the prefix equal those without it. */
static void test_fast_mode(void **state) {
    (void)state;
    char path[1024];
    if (!make_model(path, sizeof path, "q8_0",
                    "--n-embd 128 --n-layer 3 --n-head 4 --n-head-kv 2 --n-ff 256 --n-vocab 500 --dtype q8_0 --seed 4"))
        skip();
    attrib_model *m = load(path);
    enum { N = 14, P = 6 };
    int32_t ids[N];
    make_ids(m, ids, N, 5);
    attrib_prefix *pre = NULL;
    assert_int_equal(attrib_prefix_new(m, ids, P, &pre), ATTRIB_OK);
    assert_int_equal(attrib_model_get_compute(m), ATTRIB_COMPUTE_EXACT); /* restored */
    attrib_cache *ex = prefix_cache(pre, m, ATTRIB_COMPUTE_EXACT), *fa = prefix_cache(pre, m, ATTRIB_COMPUTE_FAST);
    assert_true(ex != fa);
    const float *k1, *v1, *k2, *v2;
    cache_layer_kv(ex, 1, 0, &k1, &v1);
    cache_layer_kv(fa, 1, 0, &k2, &v2);
    const attrib_model_info *in = attrib_model_get_info(m);
    assert_true(memcmp(k1, k2, sizeof(float) * P * in->n_head_kv * in->head_dim) != 0); /* the modes do differ */
    attrib_model_set_compute(m, ATTRIB_COMPUTE_FAST);
    attrib_explain_options o = request(ATTRIB_METHOD_OCCLUSION, P, ATTRIB_MASK_TOKEN);
    o.mask_token = 2;
    methods_case(m, ids, N, pre, o, 1, "q8_0 fast", 8);
    assert_int_equal(attrib_model_get_compute(m), ATTRIB_COMPUTE_FAST);
    attrib_prefix_free(pre);
    /* an F32 model keeps one copy */
    attrib_model *m2 = load_shared(0);
    if (m2) {
        assert_int_equal(attrib_prefix_new(m2, ids, 3, &pre), ATTRIB_OK);
        assert_ptr_equal(prefix_cache(pre, m2, ATTRIB_COMPUTE_EXACT), prefix_cache(pre, m2, ATTRIB_COMPUTE_FAST));
        assert_null(prefix_cache(pre, m, ATTRIB_COMPUTE_EXACT)); /* another model */
        attrib_prefix_free(pre);
        attrib_model_free(m2);
    }
    attrib_model_free(m);
}

/* Probe targets: last-token pooling uses the prefix, mean pooling ignores it. */
static void test_probe_targets(void **state) {
    (void)state;
    attrib_model *m = load_shared(0);
    if (!m) skip();
    enum { NP = 12, L = 9, N = 15, P = 6 };
    int32_t seqs[NP][L];
    const int32_t *ptrs[NP];
    int lens[NP], y[NP];
    for (int i = 0; i < NP; i++) {
        make_ids(m, seqs[i], L, 100 + i);
        ptrs[i] = seqs[i], lens[i] = L, y[i] = i % 2;
    }
    const int C = attrib_model_get_info(m)->n_embd;
    float *x = malloc(sizeof(float) * NP * C);
    int32_t ids[N];
    make_ids(m, ids, N, 77);
    attrib_prefix *pre = NULL;
    assert_int_equal(attrib_prefix_new(m, ids, P, &pre), ATTRIB_OK);
    for (int pool = 0; pool < 2; pool++) {
        assert_int_equal(attrib_model_features(m, ptrs, lens, NP, 3, (attrib_pool)pool, x), ATTRIB_OK);
        attrib_probe_train_options to = attrib_probe_default_train_options();
        to.val_fraction = 0.25;
        attrib_probe *probe = NULL;
        assert_int_equal(attrib_probe_train(m, 3, (attrib_pool)pool, x, y, NP, &to, &probe, NULL), ATTRIB_OK);
        attrib_explain_options o = request(ATTRIB_METHOD_SALIENCY, P, ATTRIB_MASK_TOKEN);
        o.target.kind = ATTRIB_TARGET_PROBE;
        o.target.probe = probe;
        methods_case(m, ids, N, pre, o, pool == ATTRIB_POOL_LAST, pool ? "probe mean" : "probe last", 8);
        attrib_probe_free(probe);
    }
    free(x);
    attrib_prefix_free(pre);
    attrib_model_free(m);
}

static void test_errors(void **state) {
    (void)state;
    attrib_model *m = load_shared(0), *m2 = load_shared(1);
    if (!m || !m2) skip();
    enum { N = 12, P = 5 };
    int32_t ids[N];
    make_ids(m, ids, N, 9);
    attrib_prefix *pre = NULL;
    assert_int_equal(attrib_prefix_new(m, NULL, P, &pre), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_prefix_new(m, ids, 0, &pre), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_prefix_new(m, ids, attrib_model_get_info(m)->n_ctx_train, &pre), ATTRIB_E_INVALID_ARG);
    assert_null(pre);
    assert_int_equal(attrib_prefix_len(NULL), 0);
    attrib_prefix_free(NULL);
    assert_int_equal(attrib_prefix_new(m, ids, P, &pre), ATTRIB_OK);
    assert_int_equal(attrib_prefix_matches(pre, ids, N), 1);
    assert_int_equal(attrib_prefix_matches(pre, ids, P), 0); /* nothing after it */
    attrib_result *r = NULL;
    attrib_explain_options o = request(ATTRIB_METHOD_OCCLUSION, P, ATTRIB_MASK_TOKEN);
    o.prefix = pre;
    /* a span inside the prefix */
    o.span_begin = P - 1;
    assert_int_equal(attrib_explain(m, ids, N, &o, &r), ATTRIB_E_INVALID_ARG);
    assert_non_null(strstr(attrib_last_error(), "prefix"));
    o.span_begin = -1; /* the default span starts after BOS: inside the prefix too */
    assert_int_equal(attrib_explain(m, ids, N, &o, &r), ATTRIB_E_INVALID_ARG);
    o.span_begin = P;
    /* ids that differ inside the prefix */
    int32_t other[N];
    memcpy(other, ids, sizeof other);
    other[P - 2] = ids[P - 2] == 5 ? 6 : 5;
    assert_int_equal(attrib_prefix_matches(pre, other, N), 0);
    assert_int_equal(attrib_explain(m, other, N, &o, &r), ATTRIB_E_INVALID_ARG);
    assert_non_null(strstr(attrib_last_error(), "position 3"));
    /* an input no longer than the prefix */
    assert_int_equal(attrib_explain(m, ids, P, &o, &r), ATTRIB_E_INVALID_ARG);
    /* another model */
    assert_int_equal(attrib_explain(m2, ids, N, &o, &r), ATTRIB_E_INVALID_ARG);
    assert_non_null(strstr(attrib_last_error(), "another model"));
    double v;
    uint8_t present[N - P] = {0};
    assert_int_equal(attrib_evaluate_masked(m2, ids, N, &o, present, N - P, 1, &v), ATTRIB_E_INVALID_ARG);
    assert_null(r);
    /* the same request without mistakes */
    assert_int_equal(attrib_explain(m, ids, N, &o, &r), ATTRIB_OK);
    assert_int_equal(r->prefix_len, P);
    attrib_result_free(r);
    attrib_prefix_free(pre);
    attrib_model_free(m);
    attrib_model_free(m2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_pass_shared),     cmocka_unit_test(test_grad_pass_sliding_window),
        cmocka_unit_test(test_methods_equal),        cmocka_unit_test(test_methods_other_models),
        cmocka_unit_test(test_fast_mode),            cmocka_unit_test(test_probe_targets),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
