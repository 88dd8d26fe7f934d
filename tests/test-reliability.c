/*
 * test-reliability.c — never crash, never lie, across the whole pipeline:
 *   - fault injection: for every k, the k-th allocation fails during a small
 *     run of each stage (loading a GGUF and a Hugging Face model,
 *     tokenizing, a forward pass, every attribution method, faithfulness,
 *     a probe target, a template); each call must return ATTRIB_OK or
 *     ATTRIB_E_NOMEM with a message, and (under ASan/LSan in CI) leak
 *     nothing. The number of injection points tried is printed.
 *   - determinism: every method gives bit-identical attributions run twice,
 *     and with 1 and 2 threads; across batch sizes (sequences per pass) the
 *     differences stay within float rounding, 5e-5 relative to the largest
 *     score (OpenBLAS's sgemm rounds differently for different row counts,
 *     and differently on different CPUs; documented in docs/reliability.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "basics/common.h"
#include "test_util.h"

#define STORIES "models/stories260K/stories260K-f32.gguf"
#define HF_DIR "models/TinyStories-656K"

/* Every method of the library's method table is covered, a new one included. */
#define N_METHODS attrib_method_count()
#define METHODS(k) ((attrib_method)(k))

/* Options small enough for a sweep: sample counts a fraction DIV of the
 * method's default, and shapley-exact on 8 features. */
static attrib_explain_options small_options(attrib_method method, int n, int div) {
    const attrib_method_info *in = attrib_method_get_info(method);
    attrib_explain_options o = attrib_explain_default_options(method);
    o.ig_tol = 0; /* the fixed rule */
    if (in->reads & ATTRIB_READS_SAMPLES) o.samples = in->default_samples / div;
    if ((in->reads & ATTRIB_READS_MAX_EXACT) && n > 9) o.span_end = 9; /* 8 features: 256 coalitions */
    return o;
}

static attrib_model *load(const char *rel, int threads) {
    char p[1024];
    test_shared_path(p, sizeof p, rel);
    if (!test_have(p)) return NULL;
    attrib_model_options o = attrib_model_default_options();
    o.n_threads = threads;
    attrib_model *m = NULL;
    assert_int_equal(attrib_model_load(p, &o, &m), ATTRIB_OK);
    return m;
}

static int g_points; /* injection points tried, over the whole file */

/* Runs FN with the k-th allocation failing, for k = 1.. until a run
 * completes without reaching k. Every status must be OK or NOMEM. */
static void sweep(const char *what, attrib_status (*fn)(void *), void *ctx) {
    int failed = 0;
    uint64_t k;
    for (k = 1;; k++) {
        attrib_test_fail_alloc_at(k);
        attrib_status s = fn(ctx);
        uint64_t used = attrib_test_fail_alloc_at(0);
        if (s != ATTRIB_OK && s != ATTRIB_E_NOMEM) fail_msg("%s: allocation %llu failing gave %s: %s", what, (unsigned long long)k,
                                                           attrib_status_name(s), attrib_last_error());
        if (s == ATTRIB_E_NOMEM) {
            failed++;
            assert_true(strlen(attrib_last_error()) > 0);
        }
        if (k > used) break;
    }
    g_points += (int)k - 1;
    printf("  %-34s %4llu allocation points, %4d reported as ATTRIB_E_NOMEM\n", what, (unsigned long long)k - 1, failed);
    assert_true(failed > 0);
}

static attrib_status load_gguf(void *ctx) {
    (void)ctx;
    char p[1024];
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(test_shared_path(p, sizeof p, STORIES), NULL, &m);
    attrib_model_free(m);
    return s;
}

static attrib_status load_hf(void *ctx) {
    (void)ctx;
    char p[1024];
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(test_shared_path(p, sizeof p, HF_DIR), NULL, &m);
    attrib_model_free(m);
    return s;
}

typedef struct run_ctx {
    attrib_model *m;
    const int32_t *ids;
    int n;
    attrib_method method;
    const attrib_probe *probe;
} run_ctx;

static attrib_status do_tokenize(void *ctx) {
    run_ctx *c = ctx;
    const char *text = "How can I kill a Python process? Ünïcödé <s> text";
    attrib_token *t = NULL;
    size_t n;
    attrib_status s = attrib_tokenize(attrib_model_tokenizer(c->m), text, strlen(text), ATTRIB_TOK_ADD_SPECIAL, &t, &n);
    char *back = NULL;
    if (!s) {
        int32_t ids[128];
        for (size_t i = 0; i < n && i < 128; i++) ids[i] = t[i].id;
        s = attrib_detokenize(attrib_model_tokenizer(c->m), ids, n < 128 ? n : 128, 1, &back, &n);
    }
    attrib_free(t);
    attrib_free(back);
    return s;
}

static attrib_status do_forward(void *ctx) {
    run_ctx *c = ctx;
    attrib_cache *cache = NULL;
    float *logits = calloc((size_t)attrib_model_get_info(c->m)->n_vocab * 2, sizeof(float));
    attrib_status s = attrib_cache_new(c->m, 1, 64, &cache);
    attrib_batch b = {.n_seq = 1, .n_tokens = c->n, .tokens = c->ids, .store = 1, .logits_mode = ATTRIB_LOGITS_LAST};
    if (!s) s = attrib_forward(c->m, &b, cache, logits);
    attrib_cache_free(cache);
    free(logits);
    return s;
}

static attrib_status do_explain(void *ctx) {
    run_ctx *c = ctx;
    attrib_explain_options o = small_options(c->method, c->n, 10);
    o.ig_steps = 4;
    o.smooth_samples = 3;
    if (c->probe) {
        o.target.kind = ATTRIB_TARGET_PROBE;
        o.target.probe = c->probe;
    }
    attrib_result *r = NULL;
    attrib_status s = attrib_explain(c->m, c->ids, c->n, &o, &r);
    attrib_result_free(r);
    return s;
}

static attrib_status do_faithfulness(void *ctx) {
    run_ctx *c = ctx;
    attrib_explain_options o = attrib_explain_default_options(ATTRIB_METHOD_OCCLUSION);
    double scores[64];
    for (int i = 0; i < c->n - 1; i++) scores[i] = (double)((i * 5) % 7);
    attrib_faithfulness_options fo = attrib_faithfulness_default_options();
    attrib_faithfulness f;
    return attrib_faithfulness_eval(c->m, c->ids, c->n, &o, scores, c->n - 1, &fo, &f);
}

static attrib_status do_template(void *ctx) {
    run_ctx *c = ctx;
    attrib_prompt *p = NULL;
    const char *in = "How can I kill a Python process?";
    attrib_status s = attrib_template_apply(attrib_model_tokenizer(c->m), attrib_template_builtin("judge"), in, strlen(in), &p);
    attrib_prompt_free(p);
    return s;
}

static void prompt_ids(attrib_model *m, int32_t *ids, int *n) {
    const char *text = "How can I kill a Python process?";
    attrib_token *t = NULL;
    size_t k;
    assert_int_equal(attrib_tokenize(attrib_model_tokenizer(m), text, strlen(text), ATTRIB_TOK_ADD_SPECIAL, &t, &k), ATTRIB_OK);
    for (size_t i = 0; i < k; i++) ids[i] = t[i].id;
    *n = (int)k;
    attrib_free(t);
}

static void test_fault_injection(void **state) {
    (void)state;
    attrib_model *m = load(STORIES, 2);
    if (!m) skip();
    int32_t ids[64];
    int n;
    prompt_ids(m, ids, &n);
    run_ctx c = {m, ids, n, 0, NULL};
    printf("fault injection (fail the k-th allocation, every k):\n");
    sweep("load GGUF model", load_gguf, NULL);
    char hp[1024];
    if (test_have(test_shared_path(hp, sizeof hp, HF_DIR))) sweep("load Hugging Face model", load_hf, NULL);
    sweep("tokenize + detokenize", do_tokenize, &c);
    sweep("forward pass with KV cache", do_forward, &c);
    for (int k = 0; k < N_METHODS; k++) {
        char what[64];
        snprintf(what, sizeof what, "explain: %s", attrib_method_name(METHODS(k)));
        c.method = METHODS(k);
        sweep(what, do_explain, &c);
    }
    sweep("faithfulness (occlusion masking)", do_faithfulness, &c);
    sweep("judge template", do_template, &c);
    /* a probe target through the gradient and perturbation passes */
    const int C = attrib_model_get_info(m)->n_embd;
    const char *texts[] = {"kill a person", "bake a cake", "hurt someone badly", "play in the park", "steal a car", "read a book"};
    int32_t *pid[6];
    int plen[6], y[6] = {1, 0, 1, 0, 1, 0};
    for (int i = 0; i < 6; i++) {
        attrib_token *t = NULL;
        size_t k;
        attrib_tokenize(attrib_model_tokenizer(m), texts[i], strlen(texts[i]), ATTRIB_TOK_ADD_SPECIAL, &t, &k);
        pid[i] = malloc(sizeof(int32_t) * k);
        for (size_t j = 0; j < k; j++) pid[i][j] = t[j].id;
        plen[i] = (int)k;
        attrib_free(t);
    }
    float *x = malloc(sizeof(float) * 6 * C);
    assert_int_equal(attrib_model_features(m, (const int32_t *const *)pid, plen, 6, 3, ATTRIB_POOL_MEAN, x), ATTRIB_OK);
    attrib_probe_train_options to = attrib_probe_default_train_options();
    to.val_fraction = 0.34;
    attrib_probe *probe = NULL;
    assert_int_equal(attrib_probe_train(m, 3, ATTRIB_POOL_MEAN, x, y, 6, &to, &probe, NULL), ATTRIB_OK);
    c.probe = probe;
    c.method = ATTRIB_METHOD_INTEGRATED_GRADIENTS;
    sweep("explain: ig, probe target", do_explain, &c);
    c.method = ATTRIB_METHOD_SHAPLEY_SAMPLED;
    sweep("explain: shapley, probe target", do_explain, &c);
    printf("  %d injection points in all\n", g_points);
    attrib_probe_free(probe);
    for (int i = 0; i < 6; i++) free(pid[i]);
    free(x);
    attrib_model_free(m);
}

/* ------------------------------------------------------------ determinism */

static attrib_result *explain(attrib_model *m, const int32_t *ids, int n, attrib_method method, int batch) {
    attrib_explain_options o = small_options(method, n, 4);
    o.ig_steps = 16;
    o.smooth_samples = 8;
    o.seed = 7;
    o.batch = batch;
    attrib_result *r = NULL;
    assert_int_equal(attrib_explain(m, ids, n, &o, &r), ATTRIB_OK);
    return r;
}

static void test_determinism(void **state) {
    (void)state;
    attrib_model *m1 = load(STORIES, 1), *m2 = load(STORIES, 2);
    if (!m1) skip();
    int32_t ids[64];
    int n;
    prompt_ids(m1, ids, &n);
    double worst_batch = 0;
    for (int k = 0; k < N_METHODS; k++) {
        attrib_result *a = explain(m2, ids, n, METHODS(k), 0), *b = explain(m2, ids, n, METHODS(k), 0);
        attrib_result *c = explain(m1, ids, n, METHODS(k), 0), *d = explain(m2, ids, n, METHODS(k), 1);
        /* run twice, and 1 vs 2 threads: bit for bit */
        if (memcmp(a->scores, b->scores, sizeof(double) * a->n_features))
            fail_msg("%s: two runs differ", attrib_method_name(METHODS(k)));
        if (memcmp(a->scores, c->scores, sizeof(double) * a->n_features))
            fail_msg("%s: 1 and 2 threads differ", attrib_method_name(METHODS(k)));
        /* one sequence per pass vs automatic batching: float rounding only */
        double scale = 0, diff = 0;
        for (int f = 0; f < a->n_features; f++) {
            scale = fmax(scale, fabs(a->scores[f]));
            diff = fmax(diff, fabs(a->scores[f] - d->scores[f]));
        }
        const double rel = scale > 0 ? diff / scale : diff;
        if (rel > 5e-5) fail_msg("%s: batch 1 vs automatic differ by %.3g relative", attrib_method_name(METHODS(k)), rel);
        worst_batch = fmax(worst_batch, rel);
        attrib_result_free(a);
        attrib_result_free(b);
        attrib_result_free(c);
        attrib_result_free(d);
    }
    printf("determinism: %d methods bit-identical across runs and 1/2 threads; batch 1 vs automatic: worst %.2e relative\n",
           N_METHODS, worst_batch);
    attrib_model_free(m1);
    attrib_model_free(m2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_injection),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
