/*
 * test-forward.c — the forward kernels against plain double-precision
 * versions written here from the definitions, and the model pass against
 * itself under transformations that must not change its answer: a KV-cached
 * prefix versus one full pass, a right-padded batch versus single passes,
 * input embeddings versus token ids, 1 versus 2 threads (bit-identical).
 * Agreement with an independent implementation is tests/py/check_forward.py.
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

#include "model/kernels.h"
#include "test_util.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* xorshift64 in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static void fill(float *a, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) a[i] = frand() * scale;
}
static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_rmsnorm(void **state) {
    (void)state;
    enum { N = 5, C = 37 };
    float x[N * C], w[C], out[N * C];
    fill(x, N * C, 3.0f);
    fill(w, C, 1.0f);
    rmsnorm_forward(out, x, w, N, C, 1e-5f, 2);
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)x[n * C + c] * x[n * C + c];
        double r = 1.0 / sqrt(ss / C + 1e-5);
        for (int c = 0; c < C; c++) assert_true(fabs(out[n * C + c] - x[n * C + c] * r * w[c]) < 1e-5);
    }
}

static void test_matmul_vs_naive(void **state) {
    (void)state;
    enum { N = 7, O = 33, K = 65 };
    float in[N * K], w[O * K], bias[O], out[N * O], ref[N * O], scratch[1];
    fill(in, N * K, 1.0f);
    fill(w, O * K, 1.0f);
    fill(bias, O, 1.0f);
    attrib_weight W = {w, ATTRIB_DTYPE_F32, O, K, K * 4};
    matmul_forward(out, in, &W, bias, N, scratch, 0, 2);
    /* definition: out[n][o] = bias[o] + sum_k in[n][k] w[o][k] */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double acc = bias[o];
            for (int k = 0; k < K; k++) acc += (double)in[n * K + k] * w[o * K + k];
            ref[n * O + o] = (float)acc;
        }
    assert_true(max_abs_diff(out, ref, N * O) < 1e-4);
    matmul_forward_naive(out, in, &W, bias, N);
    assert_true(max_abs_diff(out, ref, N * O) < 1e-5);
}

/* RoPE by its definition: pair (a, b) rotated by angle pos * base^(-2i/D). */
static void test_rope_layouts(void **state) {
    (void)state;
    enum { N = 4, H = 3, D = 8 };
    float x[N * H * D], y[N * H * D], inv[D / 2], cs[N * D];
    int32_t pos[N] = {0, 1, 17, 500};
    for (int i = 0; i < D / 2; i++) inv[i] = (float)pow(10000.0, -2.0 * i / D);
    fill(x, N * H * D, 1.0f);
    rope_table(cs, pos, N, D, inv);
    for (int layout = 0; layout < 2; layout++) {
        memcpy(y, x, sizeof x);
        rope_forward(y, cs, N, H, D, (attrib_rope_layout)layout, 2);
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < D / 2; i++) {
                    int i0 = layout == ATTRIB_ROPE_INTERLEAVED ? 2 * i : i;
                    int i1 = layout == ATTRIB_ROPE_INTERLEAVED ? 2 * i + 1 : i + D / 2;
                    const float *v = x + (n * H + h) * D;
                    double a = (double)pos[n] * pow(10000.0, -2.0 * i / D);
                    double r0 = v[i0] * cos(a) - v[i1] * sin(a), r1 = v[i0] * sin(a) + v[i1] * cos(a);
                    assert_true(fabs(y[(n * H + h) * D + i0] - r0) < 1e-5);
                    assert_true(fabs(y[(n * H + h) * D + i1] - r1) < 1e-5);
                }
    }
}

/* Attention by its definition, in double, with a prefix and a key mask. */
static void test_attention_vs_definition(void **state) {
    (void)state;
    enum { B = 2, T = 5, H = 4, Hkv = 2, D = 6, P = 3 };
    const int qd = H * D, kvd = Hkv * D;
    float q[B * T * qd], k[B * T * kvd], v[B * T * kvd], pk[P * kvd], pv[P * kvd], out[B * T * qd];
    float scratch[2 * (P + T)];
    uint8_t mask[B * T] = {1, 1, 0, 1, 1, 1, 1, 1, 1, 0};
    uint8_t pmask[P] = {1, 0, 1};
    fill(q, sizeof q / 4, 1.0f);
    fill(k, sizeof k / 4, 1.0f);
    fill(v, sizeof v / 4, 1.0f);
    fill(pk, sizeof pk / 4, 1.0f);
    fill(pv, sizeof pv / 4, 1.0f);
    attn_kv_view views[B] = {{pk, pv, pmask, P}, {NULL, NULL, NULL, 0}};
    attention_forward(out, q, k, v, mask, views, B, T, H, Hkv, D, NULL, scratch, 2);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const int kvh = h / (H / Hkv), Pb = views[b].P;
                double s[P + T], mx = -INFINITY, sum = 0, o[D] = {0};
                int vis[P + T];
                for (int j = 0; j < Pb + t + 1; j++) {
                    const float *kk = j < Pb ? pk + j * kvd + kvh * D : k + (b * T + j - Pb) * kvd + kvh * D;
                    vis[j] = j < Pb ? pmask[j] : mask[b * T + j - Pb];
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += (double)q[(b * T + t) * qd + h * D + d] * kk[d];
                    s[j] = dot / sqrt((double)D);
                    if (vis[j] && s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < Pb + t + 1; j++) sum += vis[j] ? exp(s[j] - mx) : 0;
                for (int j = 0; j < Pb + t + 1; j++) {
                    if (!vis[j]) continue;
                    const float *vv = j < Pb ? pv + j * kvd + kvh * D : v + (b * T + j - Pb) * kvd + kvh * D;
                    for (int d = 0; d < D; d++) o[d] += exp(s[j] - mx) / sum * vv[d];
                }
                for (int d = 0; d < D; d++) assert_true(fabs(out[(b * T + t) * qd + h * D + d] - o[d]) < 1e-5);
            }
}

/* ---- model-level invariants on the real models ----------------------------- */

static const char *MODELS[] = {"models/stories260K/stories260K-f32.gguf", "models/TinyStories-656K",
                               "models/llama-2-tiny-random/llama-2-tiny-random.gguf"};

static attrib_model *load_model(int i) {
    char p[1024];
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(test_shared_path(p, sizeof p, MODELS[i]), NULL, &m);
    if (s) fprintf(stderr, "%s\n", attrib_last_error());
    assert_int_equal(s, ATTRIB_OK);
    return m;
}

static void run(attrib_model *m, const attrib_batch *b, attrib_cache *c, float *out) {
    attrib_status s = attrib_forward(m, b, c, out);
    if (s) fprintf(stderr, "%s\n", attrib_last_error());
    assert_int_equal(s, ATTRIB_OK);
}

static void test_cache_prefix_equals_full(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++) {
        attrib_model *m = load_model(mi);
        const int V = attrib_model_get_info(m)->n_vocab, T = 12;
        int32_t ids[12];
        for (int t = 0; t < T; t++) ids[t] = 1 + (t * 37 + 5) % (V - 1);
        float *full = malloc(sizeof(float) * T * V), *part = malloc(sizeof(float) * T * V);
        attrib_batch b = {.n_seq = 1, .n_tokens = T, .tokens = ids, .logits_mode = ATTRIB_LOGITS_ALL};
        run(m, &b, NULL, full);
        for (int P = 1; P < T; P += 4) {
            attrib_cache *c;
            assert_int_equal(attrib_cache_new(m, 1, T, &c), ATTRIB_OK);
            attrib_batch pre = {.n_seq = 1, .n_tokens = P, .tokens = ids, .store = 1, .logits_mode = ATTRIB_LOGITS_NONE};
            run(m, &pre, c, NULL);
            assert_int_equal(attrib_cache_len(c, 0), P);
            attrib_batch suf = {.n_seq = 1, .n_tokens = T - P, .tokens = ids + P, .logits_mode = ATTRIB_LOGITS_ALL};
            run(m, &suf, c, part);
            double d = max_abs_diff(full + (size_t)P * V, part, (size_t)(T - P) * V);
            assert_true(d < 1e-4);
            attrib_cache_free(c);
        }
        free(full);
        free(part);
        attrib_model_free(m);
    }
}

static void test_padded_batch_equals_single(void **state) {
    (void)state;
    attrib_model *m = load_model(0);
    const int V = attrib_model_get_info(m)->n_vocab, T = 9;
    int32_t ids[3 * 9];
    uint8_t mask[3 * 9];
    int32_t lens[3] = {9, 4, 6};
    for (int i = 0; i < 3 * T; i++) ids[i] = 1 + (i * 53 + 11) % (V - 1);
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < T; t++) mask[s * T + t] = t < lens[s];
    float *batched = malloc(sizeof(float) * 3 * V), *single = malloc(sizeof(float) * V);
    attrib_batch b = {.n_seq = 3, .n_tokens = T, .tokens = ids, .key_mask = mask, .lengths = lens,
                      .logits_mode = ATTRIB_LOGITS_LAST};
    run(m, &b, NULL, batched);
    for (int s = 0; s < 3; s++) {
        attrib_batch one = {.n_seq = 1, .n_tokens = lens[s], .tokens = ids + s * T, .logits_mode = ATTRIB_LOGITS_LAST};
        run(m, &one, NULL, single);
        assert_true(max_abs_diff(batched + (size_t)s * V, single, V) < 1e-5);
    }
    free(batched);
    free(single);
    attrib_model_free(m);
}

static void test_embeddings_equal_ids_and_threads_identical(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++) {
        attrib_model *m = load_model(mi);
        const attrib_model_info *in = attrib_model_get_info(m);
        const int V = in->n_vocab, C = in->n_embd, T = 10;
        int32_t ids[2 * 10];
        for (int i = 0; i < 2 * T; i++) ids[i] = 1 + (i * 29 + 3) % (V - 1);
        float *emb = malloc(sizeof(float) * 2 * T * C);
        assert_int_equal(attrib_model_embed(m, ids, 2 * T, emb), ATTRIB_OK);
        float *a = malloc(sizeof(float) * 2 * T * V), *b2 = malloc(sizeof(float) * 2 * T * V);
        attrib_batch b = {.n_seq = 2, .n_tokens = T, .tokens = ids, .logits_mode = ATTRIB_LOGITS_ALL};
        attrib_model_set_threads(m, 1);
        run(m, &b, NULL, a);
        attrib_batch e = {.n_seq = 2, .n_tokens = T, .embeddings = emb, .logits_mode = ATTRIB_LOGITS_ALL};
        attrib_model_set_threads(m, 2);
        run(m, &e, NULL, b2);
        assert_memory_equal(a, b2, sizeof(float) * 2 * T * V);
        free(emb);
        free(a);
        free(b2);
        attrib_model_free(m);
    }
}

static void test_bad_batches(void **state) {
    (void)state;
    attrib_model *m = load_model(0);
    float logits[512];
    int32_t ids[2] = {1, 512};
    attrib_batch b = {.n_seq = 1, .n_tokens = 2, .tokens = ids, .logits_mode = ATTRIB_LOGITS_LAST};
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_E_BAD_VALUE);
    ids[1] = -1;
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_E_BAD_VALUE);
    ids[1] = 5;
    float emb[128];
    b.embeddings = emb;
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_E_INVALID_ARG);
    b.embeddings = NULL;
    b.n_tokens = 0;
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_E_INVALID_ARG);
    b.n_tokens = 2;
    assert_int_equal(attrib_forward(m, &b, NULL, NULL), ATTRIB_E_INVALID_ARG);
    attrib_cache *c;
    assert_int_equal(attrib_cache_new(m, 2, 3, &c), ATTRIB_OK);
    int32_t seqs[2] = {0, 0}, ids2[4] = {1, 2, 3, 4};
    attrib_batch s = {.n_seq = 2, .n_tokens = 2, .tokens = ids2, .cache_seq = seqs, .store = 1,
                      .logits_mode = ATTRIB_LOGITS_NONE};
    assert_int_equal(attrib_forward(m, &s, c, NULL), ATTRIB_E_INVALID_ARG); /* two rows into one sequence */
    seqs[1] = 1;
    assert_int_equal(attrib_forward(m, &s, c, NULL), ATTRIB_OK);
    assert_int_equal(attrib_forward(m, &s, c, NULL), ATTRIB_E_LIMIT); /* 2 + 2 > 3 positions */
    assert_int_equal(attrib_cache_truncate(c, 0, 0), ATTRIB_OK);
    assert_int_equal(attrib_cache_truncate(c, 1, 0), ATTRIB_OK);
    seqs[1] = 7;
    assert_int_equal(attrib_forward(m, &s, c, NULL), ATTRIB_E_INVALID_ARG); /* no such cache sequence */
    seqs[1] = 1;
    assert_int_equal(attrib_forward(m, &s, c, NULL), ATTRIB_OK);
    assert_int_equal(attrib_cache_truncate(c, 0, 1), ATTRIB_OK);
    assert_int_equal(attrib_cache_len(c, 0), 1);
    assert_int_equal(attrib_cache_truncate(c, 0, 2), ATTRIB_E_INVALID_ARG); /* cannot grow */
    attrib_cache_free(c);
    attrib_model_free(m);
}

/* A NaN in the input embeddings of one position is reported as an error
 * naming the block and the position, never returned as numbers; the
 * gradient methods report it too (issue: never lie). */
static void test_nonfinite_named(void **state) {
    (void)state;
    attrib_model *m = load_model(0);
    if (!m) skip();
    const int C = attrib_model_get_info(m)->n_embd, T = 6;
    float *emb = calloc((size_t)T * C, sizeof(float));
    float *logits = calloc((size_t)attrib_model_get_info(m)->n_vocab, sizeof(float));
    const int32_t ids[6] = {1, 403, 407, 261, 378, 432};
    assert_int_equal(attrib_model_embed(m, ids, T, emb), ATTRIB_OK);
    emb[3 * C + 5] = NAN;
    attrib_batch b = {.n_seq = 1, .n_tokens = T, .embeddings = emb, .logits_mode = ATTRIB_LOGITS_LAST};
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_E_NUMERIC);
    assert_non_null(strstr(attrib_last_error(), "block 0"));
    assert_non_null(strstr(attrib_last_error(), "position 3"));
    emb[3 * C + 5] = INFINITY;
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_E_NUMERIC);
    free(emb);
    free(logits);
    attrib_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_matmul_vs_naive),
        cmocka_unit_test(test_rope_layouts),
        cmocka_unit_test(test_attention_vs_definition),
        cmocka_unit_test(test_cache_prefix_equals_full),
        cmocka_unit_test(test_padded_batch_equals_single),
        cmocka_unit_test(test_embeddings_equal_ids_and_threads_identical),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_nonfinite_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
