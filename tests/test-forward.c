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

/* Attention by its definition, in double, with a prefix and a key mask.
 * D = 6 takes only the kernels' scalar tail; D = 44 takes their 32-lane,
 * 8-lane and scalar paths in turn. */
static void attention_vs_definition(int D) {
    enum { B = 2, T = 13, H = 4, Hkv = 2, P = 3 }; /* up to 16 keys: the softmax's vector and scalar parts */
    const int qd = H * D, kvd = Hkv * D;
    float *q = malloc(sizeof(float) * B * T * qd), *k = malloc(sizeof(float) * B * T * kvd);
    float *v = malloc(sizeof(float) * B * T * kvd), *pk = malloc(sizeof(float) * P * kvd);
    float *pv = malloc(sizeof(float) * P * kvd), *out = malloc(sizeof(float) * B * T * qd);
    double *o = malloc(sizeof(double) * D);
    assert_non_null(q && k && v && pk && pv && out && o);
    float scratch[2 * (P + T)];
    uint8_t mask[B * T];
    for (int i = 0; i < B * T; i++) mask[i] = i % 5 != 2 && i != 2 * T - 1;
    uint8_t pmask[P] = {1, 0, 1};
    fill(q, (size_t)B * T * qd, 1.0f);
    fill(k, (size_t)B * T * kvd, 1.0f);
    fill(v, (size_t)B * T * kvd, 1.0f);
    fill(pk, (size_t)P * kvd, 1.0f);
    fill(pv, (size_t)P * kvd, 1.0f);
    attn_kv_view views[B] = {{pk, pv, pmask, P, NULL}, {NULL, NULL, NULL, 0, NULL}};
    attention_forward(out, q, k, v, mask, views, B, T, H, Hkv, D, NULL, scratch, 2);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const int kvh = h / (H / Hkv), Pb = views[b].P;
                double s[P + T], mx = -INFINITY, sum = 0;
                int vis[P + T];
                memset(o, 0, sizeof(double) * D);
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
    free(q), free(k), free(v), free(pk), free(pv), free(out), free(o);
}

/* The attention kernels' exp against exp in double: within 2 ulp where
 * the result is a normal float, exact at 0, and 0 / NaN at the edges. */
static void test_attn_exp(void **state) {
    (void)state;
    double worst = 0;
    for (int i = 0; i <= 2000000; i++) {
        const float x = -87.0f * (float)i / 2000000.0f;
        const double want = exp((double)x), got = attn_exp(x);
        const double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel;
    }
    printf("[forward] attn_exp on [-87, 0]: worst relative error %.2e\n", worst);
    assert_true(worst < 2.4e-7); /* 2 ulp of float */
    assert_true(attn_exp(0.0f) == 1.0f);
    assert_true(attn_exp(-INFINITY) == 0.0f);
    assert_true(attn_exp(-88.0f) == 0.0f);
    assert_true(attn_exp(-1000.0f) == 0.0f);
    assert_true(isnan(attn_exp(NAN)));
    /* the vector path (8 at a time) gives attn_exp's bits, NaN and -inf included */
    enum { N = 37 };
    float row[N], x[N];
    double sum = 0;
    for (int j = 0; j < N; j++) x[j] = row[j] = j == 5 ? -INFINITY : j == 9 ? NAN : j == 20 ? -200.0f : 3.0f * frand();
    const float got_sum = attn_softmax_exp(row, N, 1.5f);
    for (int j = 0; j < N; j++) {
        const float want = attn_exp(x[j] - 1.5f);
        assert_true(memcmp(&row[j], &want, sizeof want) == 0);
        if (j != 9) sum += want;
    }
    assert_true(isnan(got_sum)); /* the NaN reaches the sum */
    row[9] = x[9] = 0.0f;
    for (int j = 0; j < N; j++) row[j] = x[j];
    const float finite_sum = attn_softmax_exp(row, N, 1.5f);
    sum += attn_exp(-1.5f);
    assert_true(fabs(finite_sum - sum) < 1e-5 * sum);
}

static void test_attention_vs_definition(void **state) {
    (void)state;
    attention_vs_definition(6);
    attention_vs_definition(44);
}

/* Per-head RMSNorm (Qwen3 / Gemma 3 q_norm and k_norm): q (N, H*D) viewed as
 * (N*H, D) rows with one weight of D, against the per-head definition. */
static void test_rmsnorm_per_head(void **state) {
    (void)state;
    enum { N = 3, H = 4, D = 8 };
    float q[N * H * D], w[D], out[N * H * D];
    fill(q, sizeof q / 4, 2.0f);
    fill(w, D, 1.5f);
    rmsnorm_forward(out, q, w, (int64_t)N * H, D, 1e-6f, 2);
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            const float *x = q + (size_t)n * H * D + (size_t)h * D; /* head h of token n */
            double ss = 0;
            for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
            const double r = 1.0 / sqrt(ss / D + 1e-6);
            for (int d = 0; d < D; d++)
                worst = fmax(worst, fabs(out[(size_t)n * H * D + (size_t)h * D + d] - x[d] * r * w[d]));
        }
    printf("[forward] rmsnorm per head: max |error| %.2e\n", worst);
    assert_true(worst < 1e-5);
}

/* GeGLU with the tanh GELU (gelu_pytorch_tanh), by its definition in double. */
static void test_geglu(void **state) {
    (void)state;
    enum { N = 3, F = 41 };
    float gate[N * F], up[N * F], out[N * F];
    fill(gate, N * F, 6.0f);
    fill(up, N * F, 2.0f);
    gate[0] = 0.0f;
    gate[1] = -20.0f; /* deep in the tail: gelu -> -0 */
    geglu_forward(out, gate, up, N, F, 2);
    double worst = 0;
    for (int i = 0; i < N * F; i++) {
        const double g = gate[i];
        const double ref = 0.5 * g * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (g + 0.044715 * g * g * g))) * up[i];
        worst = fmax(worst, fabs(out[i] - ref) / fmax(1.0, fabs(ref)));
    }
    printf("[forward] geglu: max error %.2e\n", worst);
    assert_true(worst < 1e-6);
    /* a value hand-computed from the definition: gelu_tanh(1) = 0.841191990... */
    float one = 1.0f, u1 = 1.0f, o1;
    geglu_forward(&o1, &one, &u1, 1, 1, 1);
    assert_true(fabs(o1 - 0.8411919906) < 1e-6);
}

/* Soft-capping cap * tanh(x / cap), out of place and in place. */
static void test_softcap(void **state) {
    (void)state;
    enum { N = 4, V = 50 };
    const float cap = 30.0f;
    float x[N * V], out[N * V], inplace[N * V];
    fill(x, N * V, 120.0f);
    softcap_forward(out, x, N, V, cap, 2);
    memcpy(inplace, x, sizeof x);
    softcap_forward(inplace, inplace, N, V, cap, 2);
    assert_memory_equal(out, inplace, sizeof out);
    double worst = 0;
    for (int i = 0; i < N * V; i++) {
        worst = fmax(worst, fabs(out[i] - cap * tanh((double)x[i] / cap)));
        assert_true(fabs(out[i]) <= cap);
    }
    printf("[forward] softcap: max |error| %.2e\n", worst);
    assert_true(worst < 1e-5);
}

/* Attention with options, by the definition in double: scores s = scale q.k,
 * then s = softcap tanh(s / softcap), keys limited by causality (index), the
 * key masks and the sliding window (query position - key position < window),
 * softmax over what is left, zeros when nothing is. */
static void attn_ref(double *out, const float *q, const float *k, const float *v, const uint8_t *key_mask,
                     const attn_kv_view *views, int B, int T, int H, int Hkv, int D, double scale, double softcap,
                     int window, const int32_t *pos) {
    const int qd = H * D, kvd = Hkv * D;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const attn_kv_view *vw = &views[b];
                const int kvh = h / (H / Hkv), P = vw->P, n = P + t + 1;
                const long pq = pos ? pos[b * T + t] : P + t;
                double *s = malloc(sizeof(double) * n), mx = -INFINITY, sum = 0, *o = out + (size_t)(b * T + t) * qd + h * D;
                int *vis = malloc(sizeof(int) * n);
                for (int j = 0; j < n; j++) {
                    const float *kk = j < P ? vw->prefix_k + j * kvd + kvh * D : k + (b * T + j - P) * kvd + kvh * D;
                    const long pk = j < P ? (vw->prefix_pos ? vw->prefix_pos[j] : j)
                                          : (pos ? pos[b * T + j - P] : j);
                    vis[j] = j < P ? (!vw->prefix_mask || vw->prefix_mask[j]) : (!key_mask || key_mask[b * T + j - P]);
                    if (window > 0 && pq - pk >= window) vis[j] = 0;
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += (double)q[(b * T + t) * qd + h * D + d] * kk[d];
                    s[j] = scale * dot;
                    if (softcap > 0) s[j] = softcap * tanh(s[j] / softcap);
                    if (vis[j] && s[j] > mx) mx = s[j];
                }
                for (int d = 0; d < D; d++) o[d] = 0;
                for (int j = 0; j < n; j++) sum += vis[j] ? exp(s[j] - mx) : 0;
                for (int j = 0; j < n; j++) {
                    if (!vis[j]) continue;
                    const float *vv = j < P ? vw->prefix_v + j * kvd + kvh * D : v + (b * T + j - P) * kvd + kvh * D;
                    for (int d = 0; d < D; d++) o[d] += exp(s[j] - mx) / sum * vv[d];
                }
                free(s);
                free(vis);
            }
}

static void test_attention_ex_vs_definition(void **state) {
    (void)state;
    enum { B = 2, T = 6, H = 4, Hkv = 2, D = 8, P = 4, qd = H * D, kvd = Hkv * D };
    static float q[B * T * qd], k[B * T * kvd], v[B * T * kvd], pk[P * kvd], pv[P * kvd], out[B * T * qd];
    static float base[B * T * qd], lse[B * T * H];
    static double ref[B * T * qd];
    float scratch[2 * (P + T)];
    uint8_t mask[B * T] = {1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    uint8_t pmask[P] = {1, 0, 1, 1};
    /* explicit positions with gaps (a left-padded or packed layout): the
     * window reads positions, not indices */
    const int32_t ppos[P] = {0, 1, 3, 4}, npos[B * T] = {5, 6, 8, 9, 10, 12, 0, 1, 2, 4, 5, 6};
    fill(q, sizeof q / 4, 2.0f);
    fill(k, sizeof k / 4, 2.0f);
    fill(v, sizeof v / 4, 1.0f);
    fill(pk, sizeof pk / 4, 2.0f);
    fill(pv, sizeof pv / 4, 1.0f);
    const int windows[] = {0, 1, 2, 3, T, P + T + 3};
    const float caps[] = {0.0f, 1.5f, 20.0f};
    const float scales[] = {0.0f, 0.9f};
    double worst = 0;
    int cases = 0;
    for (int with_prefix = 0; with_prefix < 2; with_prefix++)
        for (int explicit_pos = 0; explicit_pos < 2; explicit_pos++) {
            attn_kv_view views[B] = {{pk, pv, pmask, with_prefix ? P : 0, explicit_pos ? ppos : NULL},
                                     {NULL, NULL, NULL, 0, NULL}};
            for (size_t wi = 0; wi < sizeof windows / sizeof *windows; wi++)
                for (size_t ci = 0; ci < sizeof caps / sizeof *caps; ci++)
                    for (size_t si = 0; si < sizeof scales / sizeof *scales; si++) {
                        attn_opts o = {scales[si], caps[ci], windows[wi], explicit_pos ? npos : NULL};
                        attention_forward_ex(out, q, k, v, mask, views, B, T, H, Hkv, D, &o, lse, scratch, 2);
                        const double sc = scales[si] != 0.0f ? scales[si] : 1.0 / sqrt((double)D);
                        attn_ref(ref, q, k, v, mask, views, B, T, H, Hkv, D, sc, caps[ci], windows[wi],
                                 explicit_pos ? npos : NULL);
                        for (int i = 0; i < B * T * qd; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
                        cases++;
                    }
        }
    printf("[forward] attention_forward_ex: %d option sets, max |error| %.2e\n", cases, worst);
    assert_true(worst < 1e-5);

    /* window = 1: each query sees only itself, so its output is its own v,
     * or zeros when its own key is masked */
    attn_kv_view views[B] = {{pk, pv, pmask, P, NULL}, {NULL, NULL, NULL, 0, NULL}};
    attn_opts w1 = {0.0f, 1.5f, 1, NULL};
    attention_forward_ex(out, q, k, v, mask, views, B, T, H, Hkv, D, &w1, lse, scratch, 1);
    for (int r = 0; r < B * T; r++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                const float want = mask[r] ? v[r * kvd + (h / (H / Hkv)) * D + d] : 0.0f;
                assert_true(fabs(out[r * qd + h * D + d] - want) < 1e-6);
            }
    /* a window wider than everything, and the default scale given
     * explicitly, are bit-identical to plain attention_forward */
    attention_forward(base, q, k, v, mask, views, B, T, H, Hkv, D, NULL, scratch, 2);
    attn_opts wide = {1.0f / sqrtf((float)D), 0.0f, P + T, NULL};
    attention_forward_ex(out, q, k, v, mask, views, B, T, H, Hkv, D, &wide, NULL, scratch, 2);
    assert_memory_equal(out, base, sizeof out);
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
        cmocka_unit_test(test_attn_exp),
        cmocka_unit_test(test_attention_vs_definition),
        cmocka_unit_test(test_rmsnorm_per_head),
        cmocka_unit_test(test_geglu),
        cmocka_unit_test(test_softcap),
        cmocka_unit_test(test_attention_ex_vs_definition),
        cmocka_unit_test(test_cache_prefix_equals_full),
        cmocka_unit_test(test_padded_batch_equals_single),
        cmocka_unit_test(test_embeddings_equal_ids_and_threads_identical),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_nonfinite_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
