/*
 * test-inspect.c — the library side of layers and heads (issue 16) on the
 * shared stories260K model, for what the float64 reference check
 * (tests/py/check_layers_attn.py) does not cover:
 *   - identities: layer-0 gradient x activation equals input gradient x
 *     input on the span (h = s e, dh = de / s); layer IG with the input as
 *     its own baseline is exactly 0; layer IG's per-dimension values sum to
 *     its scores and its completeness delta is small; at the last layer only
 *     the last position has a gradient;
 *   - the logit's parts: the top-1 token and its logit agree with
 *     attrib_forward's logits, the heads sum to their block, the key
 *     positions to their head, the parts to the logit; a logit difference's
 *     parts are the difference of the two tokens' parts;
 *   - attention rows sum to 1 with nothing above the diagonal;
 *   - argument checks (NULL, empty, out-of-range ids, tokens, layers,
 *     methods, groups) with their status codes;
 *   - 1 and 2 threads bit-identical;
 *   - every allocation failed in turn: ATTRIB_OK or ATTRIB_E_NOMEM, nothing
 *     else (and no leak under LeakSanitizer in the ASan build).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "basics/common.h"
#include "test_util.h"

#define STORIES "models/stories260K/stories260K-f32.gguf"

static const int32_t IDS[] = {1, 403, 407, 261, 378, 383, 286, 261, 376, 379};
#define N ((int)(sizeof IDS / sizeof *IDS))

static attrib_model *load(int threads) {
    char p[1024];
    test_shared_path(p, sizeof p, STORIES);
    if (!test_have(p)) return NULL;
    attrib_model_options o = attrib_model_default_options();
    o.n_threads = threads;
    attrib_model *m = NULL;
    assert_int_equal(attrib_model_load(p, &o, &m), ATTRIB_OK);
    return m;
}

static attrib_explain_options layer_opts(attrib_method method, int layer) {
    attrib_explain_options o = attrib_explain_default_options(method);
    o.layer_attribution = 1;
    o.layer = layer;
    return o;
}

static void test_layer_identities(void **state) {
    (void)state;
    attrib_model *m = load(2);
    if (!m) skip();
    const int C = attrib_model_get_info(m)->n_embd, L = attrib_model_get_info(m)->n_layer;
    attrib_result *in = NULL, *lay = NULL;
    attrib_explain_options o = attrib_explain_default_options(ATTRIB_METHOD_GRAD_X_INPUT);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &in), ATTRIB_OK);
    o = layer_opts(ATTRIB_METHOD_GRAD_X_INPUT, 0);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &lay), ATTRIB_OK);
    assert_int_equal(lay->layer, 0);
    assert_int_equal(lay->n_features, N);
    assert_int_equal(in->layer, -1);
    assert_null(in->layer_values);
    double scale = 0, worst = 0;
    for (int i = 1; i < N; i++) scale = fmax(scale, fabs(in->token_scores[i]));
    for (int i = 1; i < N; i++) worst = fmax(worst, fabs(in->token_scores[i] - lay->token_scores[i]));
    assert_true(worst <= 1e-5 * scale);
    for (int i = 0; i < N; i++) { /* the values are the products, summing to the score */
        double s = 0;
        for (int d = 0; d < C; d++) s += lay->layer_values[(size_t)i * C + d];
        assert_true(fabs(s - lay->scores[i]) <= 1e-5 * scale);
    }
    attrib_result_free(in);
    attrib_result_free(lay);

    /* the last layer: only the last position reaches the head */
    o = layer_opts(ATTRIB_METHOD_SALIENCY, L);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &lay), ATTRIB_OK);
    for (int i = 0; i < N - 1; i++) assert_true(lay->scores[i] == 0.0);
    assert_true(lay->scores[N - 1] > 0.0);
    attrib_result_free(lay);

    /* IG with the input as baseline: h = h', every score exactly 0 */
    o = layer_opts(ATTRIB_METHOD_INTEGRATED_GRADIENTS, 2);
    o.ig_tol = 0, o.ig_steps = 4;
    o.baseline_ids = IDS;
    assert_int_equal(attrib_explain(m, IDS, N, &o, &lay), ATTRIB_OK);
    for (int i = 0; i < N; i++) assert_true(lay->scores[i] == 0.0);
    attrib_result_free(lay);

    /* adaptive layer IG: completeness within its tolerance, values sum to scores, BOS 0 */
    o = layer_opts(ATTRIB_METHOD_INTEGRATED_GRADIENTS, 3);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &lay), ATTRIB_OK);
    assert_true(lay->completeness_relative <= 0.01);
    assert_true(lay->scores[0] == 0.0);
    assert_non_null(lay->ig_nodes);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int d = 0; d < C; d++) s += lay->layer_values[(size_t)i * C + d];
        assert_true(fabs(s - lay->scores[i]) <= 1e-5 * fmax(1.0, fabs(lay->sum_scores)));
    }
    attrib_result_free(lay);
    attrib_model_free(m);
}

static void test_logit_parts(void **state) {
    (void)state;
    attrib_model *m = load(2);
    if (!m) skip();
    const attrib_model_info *info = attrib_model_get_info(m);
    const int V = info->n_vocab, L = info->n_layer, H = info->n_head;
    float *logits = malloc(sizeof(float) * V);
    attrib_batch b = {.n_seq = 1, .n_tokens = N, .tokens = IDS, .logits_mode = ATTRIB_LOGITS_LAST};
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_OK);
    int top = 0, second = -1;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[top]) top = i;
    for (int i = 0; i < V; i++)
        if (i != top && (second < 0 || logits[i] > logits[second])) second = i;
    attrib_logit_parts *p = NULL, *p2 = NULL, *pd = NULL;
    assert_int_equal(attrib_logit_attribution(m, IDS, N, -1, -1, &p), ATTRIB_OK);
    assert_int_equal(p->token, top);
    assert_true(fabs(p->logit - logits[top]) <= 1e-5 * fmax(1, fabs(logits[top])));
    assert_true(p->logit_capped == p->logit); /* no soft-cap on llama */
    double total = p->embedding;
    for (int l = 0; l < L; l++) {
        double heads = p->attn_bias[l];
        for (int h = 0; h < H; h++) {
            double src = 0;
            for (int j = 0; j < N; j++) src += p->head_sources[((size_t)l * H + h) * N + j];
            assert_true(fabs(src - p->heads[(size_t)l * H + h]) < 1e-12);
            heads += p->heads[(size_t)l * H + h];
        }
        assert_true(fabs(heads - p->attn[l]) < 1e-12);
        assert_true(p->attn_bias[l] == 0.0);
        total += p->attn[l] + p->ffn[l];
    }
    assert_true(fabs(total - p->sum) < 1e-12);
    assert_true(fabs(p->sum - p->logit) <= 1e-5 * fmax(1, fabs(p->logit)));
    /* linear in the output row: the parts of a difference are the differences of the parts */
    assert_int_equal(attrib_logit_attribution(m, IDS, N, second, -1, &p2), ATTRIB_OK);
    assert_int_equal(attrib_logit_attribution(m, IDS, N, top, second, &pd), ATTRIB_OK);
    assert_true(fabs(pd->logit - (p->logit - p2->logit)) < 1e-9);
    for (int l = 0; l < L; l++) {
        assert_true(fabs(pd->attn[l] - (p->attn[l] - p2->attn[l])) < 1e-9);
        assert_true(fabs(pd->ffn[l] - (p->ffn[l] - p2->ffn[l])) < 1e-9);
    }
    attrib_logit_parts_free(p);
    attrib_logit_parts_free(p2);
    attrib_logit_parts_free(pd);
    free(logits);
    attrib_model_free(m);
}

static void test_attention_rows(void **state) {
    (void)state;
    attrib_model *m = load(2);
    if (!m) skip();
    const int L = attrib_model_get_info(m)->n_layer, H = attrib_model_get_info(m)->n_head;
    float *p = malloc(sizeof(float) * L * H * N * N);
    assert_int_equal(attrib_attention(m, IDS, N, p), ATTRIB_OK);
    for (int r = 0; r < L * H * N; r++) {
        const int t = r % N;
        double s = 0;
        for (int j = 0; j < N; j++) {
            const float x = p[(size_t)r * N + j];
            assert_true(x >= 0.0f);
            if (j > t) assert_true(x == 0.0f);
            s += x;
        }
        assert_true(fabs(s - 1) < 1e-5);
    }
    free(p);
    attrib_model_free(m);
}

static void test_arguments(void **state) {
    (void)state;
    attrib_model *m = load(1);
    if (!m) skip();
    const int L = attrib_model_get_info(m)->n_layer, V = attrib_model_get_info(m)->n_vocab;
    float buf[4];
    attrib_logit_parts *p = NULL;
    const int32_t bad[] = {1, V};
    assert_int_equal(attrib_attention(NULL, IDS, N, buf), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_attention(m, IDS, N, NULL), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_attention(m, IDS, 0, buf), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_attention(m, bad, 2, buf), ATTRIB_E_BAD_VALUE);
    assert_int_equal(attrib_logit_attribution(m, IDS, N, V, -1, &p), ATTRIB_E_BAD_VALUE);
    assert_int_equal(attrib_logit_attribution(m, IDS, N, 3, -2, &p), ATTRIB_E_BAD_VALUE);
    assert_int_equal(attrib_logit_attribution(m, IDS, N, -1, -1, NULL), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_logit_attribution(m, bad, 2, -1, -1, &p), ATTRIB_E_BAD_VALUE);
    assert_null(p);
    attrib_logit_parts_free(NULL);
    double rr[4];
    assert_int_equal(attrib_attention_rollout(NULL, 1, 1, 1, rr), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_attention_rollout(buf, 1, 1, 0, rr), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_attention_rollout(buf, 1, 1, 1, NULL), ATTRIB_E_INVALID_ARG);
    attrib_result *r = NULL;
    attrib_explain_options o = layer_opts(ATTRIB_METHOD_GRAD_X_INPUT, L + 1);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &r), ATTRIB_E_INVALID_ARG);
    assert_non_null(strstr(attrib_last_error(), "layer"));
    o = layer_opts(ATTRIB_METHOD_GRAD_X_INPUT, -1);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &r), ATTRIB_E_INVALID_ARG);
    o = layer_opts(ATTRIB_METHOD_OCCLUSION, 1);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &r), ATTRIB_E_UNSUPPORTED);
    o = layer_opts(ATTRIB_METHOD_SMOOTHGRAD, 1);
    assert_int_equal(attrib_explain(m, IDS, N, &o, &r), ATTRIB_E_UNSUPPORTED);
    const int32_t groups[N - 1] = {0};
    o = layer_opts(ATTRIB_METHOD_GRAD_X_INPUT, 1);
    o.groups = groups;
    assert_int_equal(attrib_explain(m, IDS, N, &o, &r), ATTRIB_E_INVALID_ARG);
    assert_null(r);
    attrib_model_free(m);
}

/* The layer modes' numbers do not depend on the thread count. */
static void test_threads(void **state) {
    (void)state;
    attrib_model *m1 = load(1), *m2 = load(2);
    if (!m1) skip();
    const int L = attrib_model_get_info(m1)->n_layer, H = attrib_model_get_info(m1)->n_head;
    const size_t np = (size_t)L * H * N * N;
    float *a1 = malloc(sizeof(float) * np), *a2 = malloc(sizeof(float) * np);
    assert_int_equal(attrib_attention(m1, IDS, N, a1), ATTRIB_OK);
    assert_int_equal(attrib_attention(m2, IDS, N, a2), ATTRIB_OK);
    assert_memory_equal(a1, a2, sizeof(float) * np);
    attrib_logit_parts *p1 = NULL, *p2 = NULL;
    assert_int_equal(attrib_logit_attribution(m1, IDS, N, -1, -1, &p1), ATTRIB_OK);
    assert_int_equal(attrib_logit_attribution(m2, IDS, N, -1, -1, &p2), ATTRIB_OK);
    assert_memory_equal(p1->heads, p2->heads, sizeof(double) * L * H);
    assert_true(p1->sum == p2->sum);
    attrib_result *r1 = NULL, *r2 = NULL;
    attrib_explain_options o = layer_opts(ATTRIB_METHOD_INTEGRATED_GRADIENTS, 2);
    o.ig_tol = 0, o.ig_steps = 8;
    assert_int_equal(attrib_explain(m1, IDS, N, &o, &r1), ATTRIB_OK);
    assert_int_equal(attrib_explain(m2, IDS, N, &o, &r2), ATTRIB_OK);
    assert_memory_equal(r1->scores, r2->scores, sizeof(double) * N);
    attrib_result_free(r1);
    attrib_result_free(r2);
    attrib_logit_parts_free(p1);
    attrib_logit_parts_free(p2);
    free(a1);
    free(a2);
    attrib_model_free(m1);
    attrib_model_free(m2);
}

typedef struct sweep_ctx {
    attrib_model *m;
    float *probs;
    double *rollout;
    int which;
} sweep_ctx;

static attrib_status sweep_call(sweep_ctx *c) {
    attrib_status s;
    if (c->which == 0) return attrib_attention(c->m, IDS, N, c->probs);
    if (c->which == 5) return attrib_attention_rollout(c->probs, 2, 2, N, c->rollout);
    if (c->which == 1) {
        attrib_logit_parts *p = NULL;
        s = attrib_logit_attribution(c->m, IDS, N, -1, -1, &p);
        attrib_logit_parts_free(p);
        return s;
    }
    attrib_explain_options o = layer_opts(c->which == 2 ? ATTRIB_METHOD_GRAD_X_INPUT : ATTRIB_METHOD_INTEGRATED_GRADIENTS, 2);
    if (c->which == 3) o.ig_tol = 0, o.ig_steps = 3;
    if (c->which == 4) o.ig_max_steps = 16;
    attrib_result *r = NULL;
    s = attrib_explain(c->m, IDS, N, &o, &r);
    attrib_result_free(r);
    return s;
}

/* Every allocation failed in turn: a clean ATTRIB_E_NOMEM or success. */
static void test_allocation_failures(void **state) {
    (void)state;
    attrib_model *m = load(1);
    if (!m) skip();
    const int L = attrib_model_get_info(m)->n_layer, H = attrib_model_get_info(m)->n_head;
    sweep_ctx c = {m, calloc((size_t)L * H * N * N, sizeof(float)), calloc((size_t)2 * N * N, sizeof(double)), 0};
    static const char *names[] = {"attention", "logit parts", "layer gxi", "layer ig fixed", "layer ig adaptive", "rollout"};
    for (c.which = 0; c.which < 6; c.which++) {
        int failed = 0;
        uint64_t k;
        for (k = 1;; k++) {
            attrib_test_fail_alloc_at(k);
            attrib_status s = sweep_call(&c);
            uint64_t used = attrib_test_fail_alloc_at(0);
            if (s != ATTRIB_OK && s != ATTRIB_E_NOMEM)
                fail_msg("%s: allocation %llu failing gave %s: %s", names[c.which], (unsigned long long)k,
                         attrib_status_name(s), attrib_last_error());
            if (s == ATTRIB_E_NOMEM) failed++, assert_true(strlen(attrib_last_error()) > 0);
            if (k > used) break;
        }
        printf("  %-18s %4llu allocation points, %4d reported as ATTRIB_E_NOMEM\n", names[c.which], (unsigned long long)k - 1,
               failed);
        assert_true(failed > 0);
    }
    free(c.probs);
    free(c.rollout);
    attrib_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_identities), cmocka_unit_test(test_logit_parts), cmocka_unit_test(test_attention_rows),
        cmocka_unit_test(test_arguments),        cmocka_unit_test(test_threads),     cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
