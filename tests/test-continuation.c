/*
 * test-continuation.c — attrib_generate_greedy and attrib_explain_continuation
 * on stories260K: argument checks (each bad request fails with its status
 * before any work), greedy decoding against a plain argmax loop over
 * attrib_forward without a cache, the answer-length and EOS rules, and that
 * row j is attrib_explain on the prefix ids[0..P+j) with the answer token as
 * target (the continuation adds no numbers of its own). The rows themselves
 * are checked against the float64 reference by tests/py/check_continuation.py.
 */
#include "attrib.h"
#include "test_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static attrib_model *M;
/* "Once upon a time there was a little girl named" (BOS first) and " Sue. She" */
static const int32_t IDS[] = {1, 403, 407, 261, 378, 383, 286, 261, 376, 298, 315, 421, 395, 301, 425, 411, 426, 338};
enum { N = sizeof IDS / sizeof *IDS, P = 13 };

static int setup(void **state) {
    (void)state;
    char path[512];
    test_shared_path(path, sizeof path, "models/stories260K/stories260K-f32.gguf");
    if (!test_have(path)) return 0;
    attrib_model_options o = attrib_model_default_options();
    o.n_threads = 1;
    return attrib_model_load(path, &o, &M) ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    attrib_model_free(M);
    return 0;
}

#define NEED_MODEL() do { if (!M) skip(); } while (0)

static void test_bad_requests(void **state) {
    (void)state;
    NEED_MODEL();
    attrib_explain_options o = attrib_explain_default_options(ATTRIB_METHOD_GRAD_X_INPUT);
    o.target.kind = ATTRIB_TARGET_LOGPROB;
    attrib_continuation *c = (attrib_continuation *)0x1;
    int32_t bad[N], contrast[N - P];
    memcpy(bad, IDS, sizeof bad);
    for (int j = 0; j < N - P; j++) contrast[j] = 5;
    assert_int_equal(attrib_explain_continuation(NULL, IDS, P, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_explain_continuation(M, IDS, 0, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG);   /* no prompt */
    assert_int_equal(attrib_explain_continuation(M, IDS, N, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG);   /* no answer */
    assert_int_equal(attrib_explain_continuation(M, IDS, P, 513, NULL, &o, &c), ATTRIB_E_INVALID_ARG); /* past the context */
    bad[N - 1] = 512; /* the last answer token: outside the 512-token vocabulary */
    assert_int_equal(attrib_explain_continuation(M, bad, P, N, NULL, &o, &c), ATTRIB_E_BAD_VALUE);
    assert_int_equal(attrib_explain_continuation(M, IDS, P, N, contrast, &o, &c), ATTRIB_E_INVALID_ARG); /* kind not diff */
    o.target.kind = ATTRIB_TARGET_LOGIT_DIFF;
    assert_int_equal(attrib_explain_continuation(M, IDS, P, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG); /* diff, no contrast */
    contrast[2] = -1;
    assert_int_equal(attrib_explain_continuation(M, IDS, P, N, contrast, &o, &c), ATTRIB_E_BAD_VALUE);
    o.target.kind = ATTRIB_TARGET_PROBE;
    assert_int_equal(attrib_explain_continuation(M, IDS, P, N, NULL, &o, &c), ATTRIB_E_UNSUPPORTED);
    o.target.kind = ATTRIB_TARGET_LOGPROB;
    int32_t groups[N] = {0};
    o.groups = groups;
    assert_int_equal(attrib_explain_continuation(M, IDS, P, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG);
    o.groups = NULL;
    o.span_begin = 1, o.span_end = P + 1; /* the prompt's span must lie in the prompt */
    assert_int_equal(attrib_explain_continuation(M, IDS, P, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG);
    o.span_begin = -1, o.span_end = 0;
    assert_int_equal(attrib_explain_continuation(M, IDS, 1, N, NULL, &o, &c), ATTRIB_E_INVALID_ARG); /* BOS alone */
    assert_ptr_equal(c, (attrib_continuation *)0x1); /* outputs written only on success */
    int32_t out[8];
    int n_out = -1;
    assert_int_equal(attrib_generate_greedy(M, IDS, P, 0, 1, out, &n_out), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_generate_greedy(M, IDS, P, 512 - P + 1, 1, out, &n_out), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_generate_greedy(M, bad + P, N - P, 1, 1, out, &n_out), ATTRIB_E_BAD_VALUE);
    assert_int_equal(n_out, -1);
    attrib_continuation_free(NULL);
}

/* Greedy decoding with the cache equals argmax over full recomputations. */
static void test_greedy_matches_full_passes(void **state) {
    (void)state;
    NEED_MODEL();
    enum { G = 12 };
    int32_t out[G], seq[P + G];
    int n_out = 0;
    assert_int_equal(attrib_generate_greedy(M, IDS, P, G, 0, out, &n_out), ATTRIB_OK);
    assert_int_equal(n_out, G);
    memcpy(seq, IDS, P * sizeof *seq);
    const int V = attrib_model_get_info(M)->n_vocab;
    float *logits = malloc((size_t)V * sizeof *logits);
    for (int k = 0; k < G; k++) {
        attrib_batch b = {.n_seq = 1, .n_tokens = P + k, .tokens = seq, .logits_mode = ATTRIB_LOGITS_LAST};
        assert_int_equal(attrib_forward(M, &b, NULL, logits), ATTRIB_OK);
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        seq[P + k] = best;
        assert_int_equal(out[k], best);
    }
    free(logits);
}

/* Row j is attrib_explain of ids[0..P+j) with target ids[P+j]; NAN elsewhere. */
static void test_rows_are_explain_calls(void **state) {
    (void)state;
    NEED_MODEL();
    static const attrib_method methods[] = {ATTRIB_METHOD_INTEGRATED_GRADIENTS, ATTRIB_METHOD_OCCLUSION};
    for (size_t k = 0; k < 2; k++) {
        attrib_explain_options o = attrib_explain_default_options(methods[k]);
        o.target.kind = ATTRIB_TARGET_LOGPROB;
        attrib_continuation *c = NULL;
        assert_int_equal(attrib_explain_continuation(M, IDS, P, N, NULL, &o, &c), ATTRIB_OK);
        assert_int_equal(c->n_gen, N - P);
        assert_int_equal(c->n_src, N - 1);
        assert_int_equal(c->prompt_begin, 1);
        assert_int_equal(c->prompt_end, P);
        assert_true((c->ig_row != NULL) == (methods[k] == ATTRIB_METHOD_INTEGRATED_GRADIENTS));
        for (int j = 0; j < c->n_gen; j++) {
            attrib_explain_options oj = o;
            oj.target.token = IDS[P + j];
            oj.span_begin = 1;
            attrib_result *r = NULL;
            assert_int_equal(attrib_explain(M, IDS, P + j, &oj, &r), ATTRIB_OK);
            const double *row = c->matrix + (size_t)j * c->n_src;
            assert_true(isnan(row[0]));
            for (int i = 1; i < P + j; i++) assert_true(row[i] == r->token_scores[i]);
            for (int i = P + j; i < c->n_src; i++) assert_true(isnan(row[i]));
            assert_true(c->f[j] == r->f_input);
            assert_true(c->sum[j] == r->sum_scores);
            if (c->ig_row) {
                assert_int_equal(c->ig_row[j + 1] - c->ig_row[j], r->ig_n_nodes);
                assert_true(c->delta[j] == r->completeness_delta);
            } else {
                assert_true(isnan(c->delta[j]));
            }
            attrib_result_free(r);
        }
        attrib_continuation_free(c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_greedy_matches_full_passes),
        cmocka_unit_test(test_rows_are_explain_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
