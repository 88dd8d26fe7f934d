/*
 * kernels.c — the layer kernels of the Llama-family models and their
 * activation-gradient twins: RMSNorm (also per head), matrix product
 * (OpenBLAS sgemm after per-matrix dequantisation), RoPE in both layouts,
 * SwiGLU and GeGLU, soft-capping, residual add and causal grouped-query
 * attention over a cached prefix plus the new tokens, with optional score
 * scale, score soft-capping and sliding window (Gemma 2, Mistral-style).
 *
 * Threading: every output row (or attention query) is computed whole by one
 * thread, so results do not depend on the number of threads. Reductions that
 * decide accuracy (RMSNorm's mean of squares) accumulate in double.
 */
#include "model/kernels.h"

#include "model/quant.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void rmsnorm_forward(float *out, const float *x, const float *w, int64_t N, int C, float eps, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static) if (N * C > 32768)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float *o = out + n * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)xr[c] * xr[c];
        float r = (float)(1.0 / sqrt(ss / C + eps));
        for (int c = 0; c < C; c++) o[c] = xr[c] * r * w[c];
    }
}

/* Work is split into column tiles of each weight matrix; the split depends
 * only on the matrices' shapes, never on the thread count, and each tile is
 * one single-threaded sgemm over all N rows, so results are bit-identical
 * whatever the number of threads (OpenBLAS's own threading is not). A tile of
 * a quantised matrix is dequantised into the thread's scratch right before
 * its sgemm, while it is hot in cache. Several matrices that read the same
 * input (Q, K, V; gate, up) share one tile list, which keeps two threads
 * evenly loaded even when one matrix alone has few tiles. */
size_t matmul_scratch_floats(const attrib_weight *const *W, int n_mats) {
    size_t need = 0;
    for (int j = 0; j < n_mats; j++)
        if (W[j]->type != ATTRIB_DTYPE_F32 && (size_t)W[j]->cols * MATMUL_TILE_COLS > need)
            need = (size_t)W[j]->cols * MATMUL_TILE_COLS;
    return need;
}

void matmul_forward_multi(int n_mats, float *const *out, const float *in, const attrib_weight *const *W,
                          const float *const *bias, int64_t N, float *scratch, size_t scratch_per_thread, int n_threads) {
    int64_t first_tile[MATMUL_MAX_MATS + 1];
    first_tile[0] = 0;
    for (int j = 0; j < n_mats; j++) first_tile[j + 1] = first_tile[j] + (W[j]->rows + MATMUL_TILE_COLS - 1) / MATMUL_TILE_COLS;
    const int64_t n_tiles = first_tile[n_mats];
#pragma omp parallel num_threads(n_threads) if (n_tiles > 1)
    {
        float *wbuf = scratch + (size_t)omp_get_thread_num() * scratch_per_thread;
#pragma omp for schedule(dynamic, 1)
        for (int64_t tile = 0; tile < n_tiles; tile++) {
            int j = 0;
            while (tile >= first_tile[j + 1]) j++;
            const attrib_weight *w = W[j];
            const int64_t O = w->rows, K = w->cols; /* not I: <complex.h> via cblas.h defines it */
            const int64_t c0 = (tile - first_tile[j]) * MATMUL_TILE_COLS;
            const int64_t nc = O - c0 < MATMUL_TILE_COLS ? O - c0 : MATMUL_TILE_COLS;
            const float *wt;
            if (w->type == ATTRIB_DTYPE_F32) {
                wt = (const float *)w->data + c0 * K;
            } else {
                for (int64_t r = 0; r < nc; r++) attrib_weight_row(w, c0 + r, wbuf + r * K);
                wt = wbuf;
            }
            float *o = out[j] + c0;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)nc, (int)K, 1.0f, in, (int)K, wt, (int)K,
                        0.0f, o, (int)O);
            if (bias && bias[j])
                for (int64_t n = 0; n < N; n++)
                    for (int64_t c = 0; c < nc; c++) o[n * O + c] += bias[j][c0 + c];
        }
    }
}

void matmul_forward(float *out, const float *in, const attrib_weight *W, const float *bias, int64_t N, float *scratch,
                    size_t scratch_per_thread, int n_threads) {
    matmul_forward_multi(1, &out, in, &W, &bias, N, scratch, scratch_per_thread, n_threads);
}

void matmul_forward_naive(float *out, const float *in, const attrib_weight *W, const float *bias, int64_t N) {
    const int64_t O = W->rows, K = W->cols; /* not K: <complex.h> via cblas.h defines it */
    float *row = malloc((size_t)K * sizeof *row);
    if (!row) return;
    for (int64_t o = 0; o < O; o++) {
        attrib_weight_row(W, o, row);
        for (int64_t n = 0; n < N; n++) {
            double acc = bias ? bias[o] : 0.0;
            for (int64_t i = 0; i < K; i++) acc += (double)in[n * K + i] * row[i];
            out[n * O + o] = (float)acc;
        }
    }
    free(row);
}

void rope_table(float *cs, const int32_t *pos, int64_t N, int head_dim, const float *inv_freq) {
    const int half = head_dim / 2;
    for (int64_t n = 0; n < N; n++)
        for (int i = 0; i < half; i++) {
            double a = (double)pos[n] * inv_freq[i]; /* double: positions reach the context length */
            cs[n * head_dim + i] = (float)cos(a);
            cs[n * head_dim + half + i] = (float)sin(a);
        }
}

void rope_forward(float *x, const float *cs, int64_t N, int n_heads, int head_dim, attrib_rope_layout layout,
                  int n_threads) {
    const int half = head_dim / 2;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (N * n_heads * head_dim > 32768)
    for (int64_t n = 0; n < N; n++) {
        const float *c = cs + n * head_dim, *sn = c + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + n * (int64_t)n_heads * head_dim + (int64_t)h * head_dim;
            for (int i = 0; i < half; i++) {
                int i0 = layout == ATTRIB_ROPE_INTERLEAVED ? 2 * i : i;
                int i1 = layout == ATTRIB_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
                float a = v[i0], b = v[i1];
                v[i0] = a * c[i] - b * sn[i];
                v[i1] = a * sn[i] + b * c[i];
            }
        }
    }
}

void swiglu_forward(float *out, const float *gate, const float *up, int64_t N, int F, int n_threads) {
    const int64_t total = N * F;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* sqrt(2/pi), the tanh-approximation GELU's inner scale */
#define GELU_TANH_K 0.7978845608028654f
#define GELU_TANH_C 0.044715f

void geglu_forward(float *out, const float *gate, const float *up, int64_t N, int F, int n_threads) {
    const int64_t total = N * F;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) {
        const float g = gate[i];
        const float th = tanhf(GELU_TANH_K * (g + GELU_TANH_C * g * g * g));
        out[i] = 0.5f * g * (1.0f + th) * up[i];
    }
}

void softcap_forward(float *out, const float *x, int64_t N, int V, float cap, int n_threads) {
    const int64_t total = N * V;
    const float inv = 1.0f / cap;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) out[i] = cap * tanhf(x[i] * inv);
}

int64_t first_nonfinite(const float *x, int64_t n) {
    /* a float is NaN or Inf exactly when its exponent bits are all ones */
    const uint32_t *u = (const uint32_t *)x;
    uint32_t any = 0;
    for (int64_t i = 0; i < n; i++) any |= (u[i] & 0x7f800000u) == 0x7f800000u;
    if (!any) return -1;
    for (int64_t i = 0; i < n; i++)
        if ((u[i] & 0x7f800000u) == 0x7f800000u) return i;
    return -1;
}

void residual_forward(float *x, const float *y, int64_t N, int C) {
    const int64_t total = N * C;
    for (int64_t i = 0; i < total; i++) x[i] += y[i];
}

/* Resolved attention options: what both passes read per key. */
typedef struct attn_cfg {
    float scale, softcap;
    int window;
    const int32_t *pos;
} attn_cfg;

static attn_cfg attn_resolve(const attn_opts *opts, int D) {
    attn_cfg c = {1.0f / sqrtf((float)D), 0.0f, 0, NULL};
    if (opts) {
        if (opts->scale != 0.0f) c.scale = opts->scale;
        if (opts->softcap > 0.0f) c.softcap = opts->softcap;
        if (opts->window > 0) {
            c.window = opts->window;
            c.pos = opts->pos;
        }
    }
    return c;
}

/* Position of new token t of sequence b (whose prefix holds P keys). */
static inline int64_t attn_new_pos(const attn_cfg *c, int b, int T, int P, int t) {
    return c->pos ? c->pos[(int64_t)b * T + t] : (int64_t)P + t;
}

/* Whether key j of sequence b (j < P: cached, else new token j - P) is
 * visible to its query at position PQ: its mask, then the sliding window
 * (pq - pk < window, llama.cpp's is_masked_swa). Causality is the caller's
 * loop bound. */
static inline int attn_key_visible(const attn_cfg *c, const attn_kv_view *vw, const uint8_t *key_mask, int b, int T,
                                   int j, int64_t pq) {
    const int P = vw ? vw->P : 0;
    int64_t pk;
    if (j < P) {
        if (vw->prefix_mask && !vw->prefix_mask[j]) return 0;
        pk = vw->prefix_pos ? vw->prefix_pos[j] : j;
    } else {
        if (key_mask && !key_mask[(int64_t)b * T + (j - P)]) return 0;
        pk = c->window ? attn_new_pos(c, b, T, P, j - P) : 0;
    }
    return !c->window || pq - pk < c->window;
}

typedef float attn_v8 __attribute__((vector_size(32)));

/* *S += a[0..8) * b[0..8) and *ACC += p * r[0..8), lane by lane. Vectors go
 * by pointer, never by value, so that no call depends on the AVX calling
 * convention (-Wpsabi) when the build does not target AVX; inlined, the
 * accumulators stay in registers. */
static inline void attn_mul_add8(attn_v8 *s, const float *a, const float *b) {
    attn_v8 x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    *s += x * y;
}

static inline void attn_scale_add8(attn_v8 *acc, float p, const float *r) {
    attn_v8 x;
    memcpy(&x, r, sizeof x);
    *acc += p * x;
}

/* The 8 lanes of *S added in one fixed order, so every sum that uses it
 * rounds the same way. */
static inline float attn_hsum8(const attn_v8 *s) {
    const attn_v8 v = *s;
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* a.b over D floats in 32 lanes (four vectors of 8) summed in a fixed order.
 * A single running sum is a chain of dependent adds that the compiler may not
 * reorder; four independent vector sums keep the adder busy. The result
 * depends only on the two vectors, so every pass that recomputes a score
 * (attention_probs, the backward) gets the forward's value bit for bit. */
static inline float attn_dot(const float *a, const float *b, int D) {
    attn_v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int d = 0;
    for (; d + 32 <= D; d += 32) {
        attn_mul_add8(&s0, a + d, b + d);
        attn_mul_add8(&s1, a + d + 8, b + d + 8);
        attn_mul_add8(&s2, a + d + 16, b + d + 16);
        attn_mul_add8(&s3, a + d + 24, b + d + 24);
    }
    for (; d + 8 <= D; d += 8) attn_mul_add8(&s0, a + d, b + d);
    const attn_v8 s = (s0 + s1) + (s2 + s3);
    float tail = 0.0f;
    for (; d < D; d++) tail += a[d] * b[d];
    return attn_hsum8(&s) + tail;
}

/* e^x for the softmax's x = score - max (<= 0, or -inf for a hidden key):
 * x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact),
 * e^r by Cephes' degree-6 polynomial, 2^n built from its exponent bits.
 * x below -87.34 (e^x under FLT_MIN) gives 0; NaN stays NaN. There is one
 * copy, 8 lanes wide; a single value goes through it too (attn_exp_one),
 * so the backward's recomputed probabilities use the forward's arithmetic. */
#define ATTN_EXP_MIN (-87.33654f)
static const float attn_exp_poly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                       4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

typedef int32_t attn_v8i __attribute__((vector_size(32)));

/* *Z keeps its lanes where KEEP is -1 and takes OTHER's where it is 0
 * (by pointer, like attn_mul_add8). */
static inline void attn_keep8(attn_v8 *z, const attn_v8i *keep, const attn_v8 *other) {
    *z = (attn_v8)(((attn_v8i)*z & *keep) | ((attn_v8i)*other & ~*keep));
}

/* Y[l] = e^X[l] for the 8 lanes. */
static inline void attn_exp8(float *y, const float *x) {
    attn_v8 xv, z, t, r, p, scale, res;
    memcpy(&xv, x, sizeof xv);
    z = xv * 1.44269504088896341f;
    z = z + 0.5f;
    const attn_v8 lo = {-126.0f, -126.0f, -126.0f, -126.0f, -126.0f, -126.0f, -126.0f, -126.0f};
    const attn_v8 hi = -lo, zero = {0};
    attn_v8i keep = z >= lo;
    attn_keep8(&z, &keep, &lo);
    keep = z <= hi;
    attn_keep8(&z, &keep, &hi);
    attn_v8i n = __builtin_convertvector(z, attn_v8i);
    n = n + (__builtin_convertvector(n, attn_v8) > z); /* floor: a true lane is -1 */
    const attn_v8 fn = __builtin_convertvector(n, attn_v8);
    t = fn * 0.693359375f;
    r = xv - t;
    t = fn * -2.12194440e-4f;
    r = r - t;
    p = zero + attn_exp_poly[0];
    for (int i = 1; i < 6; i++) {
        p = p * r;
        p = p + attn_exp_poly[i];
    }
    const attn_v8 r2 = r * r;
    p = p * r2;
    p = p + r;
    p = p + 1.0f;
    const attn_v8i bits = (n + 127) << 23;
    scale = (attn_v8)bits;
    res = p * scale;
    keep = ~(xv < ATTN_EXP_MIN); /* a NaN lane keeps its NaN */
    attn_keep8(&res, &keep, &zero);
    memcpy(y, &res, sizeof res);
}

/* One value through the same vector code: the scalar uses (the softmax's
 * tail, the backward, attention_probs) cannot differ from the vector ones. */
static inline float attn_exp_one(float x) {
    float in[8] = {x}, out[8];
    attn_exp8(out, in);
    return out[0];
}

float attn_exp(float x) {
    return attn_exp_one(x);
}

float attn_softmax_exp(float *score, int n, float mx) {
    attn_v8 acc = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        float x[8];
        for (int l = 0; l < 8; l++) x[l] = score[j + l] - mx;
        attn_exp8(score + j, x);
        attn_v8 e;
        memcpy(&e, score + j, sizeof e);
        acc += e;
    }
    float tail = 0.0f;
    for (; j < n; j++) {
        score[j] = attn_exp_one(score[j] - mx);
        tail += score[j];
    }
    return attn_hsum8(&acc) + tail;
}

/* o = sum over j < n of w[j] * row j, where row j < P is pre + j * stride and
 * row j >= P is cur + (j - P) * stride; keys with w[j] == 0 are skipped. The
 * output dims are held in registers 32 at a time while j runs, instead of
 * reloading and storing o once per key; each dim still sums its keys in
 * order j = 0, 1, .... */
static void attn_weighted_rows(float *o, const float *w, int n, int P, const float *pre, const float *cur, int64_t stride,
                               int D) {
    int d0 = 0;
    for (; d0 + 32 <= D; d0 += 32) {
        attn_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int j = 0; j < n; j++) {
            if (w[j] == 0.0f) continue;
            const float *r = (j < P ? pre + (int64_t)j * stride : cur + (int64_t)(j - P) * stride) + d0;
            const float p = w[j];
            attn_scale_add8(&a0, p, r);
            attn_scale_add8(&a1, p, r + 8);
            attn_scale_add8(&a2, p, r + 16);
            attn_scale_add8(&a3, p, r + 24);
        }
        memcpy(o + d0, &a0, sizeof a0);
        memcpy(o + d0 + 8, &a1, sizeof a1);
        memcpy(o + d0 + 16, &a2, sizeof a2);
        memcpy(o + d0 + 24, &a3, sizeof a3);
    }
    for (; d0 + 8 <= D; d0 += 8) {
        attn_v8 a = {0};
        for (int j = 0; j < n; j++)
            if (w[j] != 0.0f)
                attn_scale_add8(&a, w[j], (j < P ? pre + (int64_t)j * stride : cur + (int64_t)(j - P) * stride) + d0);
        memcpy(o + d0, &a, sizeof a);
    }
    for (; d0 < D; d0++) {
        float a = 0.0f;
        for (int j = 0; j < n; j++)
            if (w[j] != 0.0f) a += w[j] * (j < P ? pre + (int64_t)j * stride : cur + (int64_t)(j - P) * stride)[d0];
        o[d0] = a;
    }
}

void attention_forward(float *out, const float *q, const float *k, const float *v, const uint8_t *key_mask,
                       const attn_kv_view *views, int B, int T, int H, int Hkv, int D, float *lse, float *scratch,
                       int n_threads) {
    attention_forward_ex(out, q, k, v, key_mask, views, B, T, H, Hkv, D, NULL, lse, scratch, n_threads);
}

void attention_forward_ex(float *out, const float *q, const float *k, const float *v, const uint8_t *key_mask,
                          const attn_kv_view *views, int B, int T, int H, int Hkv, int D, const attn_opts *opts,
                          float *lse, float *scratch, int n_threads) {
    const int qd = H * D, kvd = Hkv * D, group = H / Hkv;
    const attn_cfg cfg = attn_resolve(opts, D);
    const float scale = cfg.scale, cap = cfg.softcap;
    const int maxP = attention_max_prefix(views, B);
    const int64_t work = (int64_t)B * H * T;
#pragma omp parallel num_threads(n_threads) if (work * (maxP + T) * D > 65536)
    {
        float *score = scratch + (int64_t)omp_get_thread_num() * (maxP + T);
#pragma omp for schedule(dynamic, 4)
        for (int64_t idx = 0; idx < work; idx++) {
            const int b = (int)(idx / ((int64_t)H * T)), h = (int)(idx / T % H), t = (int)(idx % T);
            const attn_kv_view *vw = &views[b];
            const int kvh = h / group, P = vw->P;
            const int64_t pq = cfg.window ? attn_new_pos(&cfg, b, T, P, t) : 0;
            const float *qv = q + ((int64_t)b * T + t) * qd + (int64_t)h * D;
            float *o = out + ((int64_t)b * T + t) * qd + (int64_t)h * D;
            float mx = -INFINITY;
            for (int j = 0; j < P + t + 1; j++) {
                if (!attn_key_visible(&cfg, vw, key_mask, b, T, j, pq)) {
                    score[j] = -INFINITY;
                    continue;
                }
                const float *kv = j < P ? vw->prefix_k + (int64_t)j * kvd + (int64_t)kvh * D
                                        : k + ((int64_t)b * T + (j - P)) * kvd + (int64_t)kvh * D;
                float s = attn_dot(qv, kv, D) * scale;
                if (cap > 0.0f) s = cap * tanhf(s / cap);
                score[j] = s;
                if (s > mx) mx = s;
            }
            memset(o, 0, (size_t)D * sizeof *o);
            float *lse_row = lse ? lse + ((int64_t)b * T + t) * H + h : NULL;
            if (mx == -INFINITY) { /* nothing visible: zeros rather than NaN */
                if (lse_row) *lse_row = -INFINITY;
                continue;
            }
            const float sum = attn_softmax_exp(score, P + t + 1, mx);
            if (lse_row) *lse_row = mx + logf(sum);
            const float inv = 1.0f / sum;
            for (int j = 0; j < P + t + 1; j++) score[j] *= inv;
            attn_weighted_rows(o, score, P + t + 1, P, P ? vw->prefix_v + (int64_t)kvh * D : NULL,
                               v + (int64_t)b * T * kvd + (int64_t)kvh * D, kvd, D);
        }
    }
}

void attention_probs(float *probs, const float *q, const float *k, const uint8_t *key_mask, int B, int T, int H, int Hkv,
                     int D, const attn_opts *opts, const float *lse, int t_first, int n_threads) {
    const int qd = H * D, kvd = Hkv * D, group = H / Hkv, R = T - t_first;
    const attn_cfg cfg = attn_resolve(opts, D);
    const int64_t work = (int64_t)B * H * R;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 4) if (work * T * D > 65536)
    for (int64_t idx = 0; idx < work; idx++) {
        const int b = (int)(idx / ((int64_t)H * R)), h = (int)(idx / R % H), t = t_first + (int)(idx % R);
        const float *qv = q + ((int64_t)b * T + t) * qd + (int64_t)h * D;
        float *row = probs + idx * T; /* (b, h, t - t_first) row of (B, H, R, T) */
        const float l = lse[((int64_t)b * T + t) * H + h];
        const int64_t pq = cfg.window ? attn_new_pos(&cfg, b, T, 0, t) : 0;
        memset(row, 0, (size_t)T * sizeof *row);
        if (l == -INFINITY) continue; /* nothing visible: the forward gave zeros */
        for (int j = 0; j <= t; j++) {
            if (!attn_key_visible(&cfg, NULL, key_mask, b, T, j, pq)) continue;
            const float *kv = k + ((int64_t)b * T + j) * kvd + (int64_t)(h / group) * D;
            float s = attn_dot(qv, kv, D) * cfg.scale; /* the forward's arithmetic, step for step */
            if (cfg.softcap > 0.0f) s = cfg.softcap * tanhf(s / cfg.softcap);
            row[j] = attn_exp_one(s - l);
        }
    }
}

int attention_max_prefix(const attn_kv_view *views, int B) {
    int maxP = 0;
    for (int b = 0; b < B; b++) maxP = views[b].P > maxP ? views[b].P : maxP;
    return maxP;
}

/* ---- backward kernels (activation gradients only, no weight gradients) ---- */

void rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w, int64_t N, int C, float eps,
                      int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static) if (N * C > 32768)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C, *dr = dout + n * C;
        float *g = dx + n * C;
        double ss = 0.0, dot = 0.0;
        for (int c = 0; c < C; c++) {
            ss += (double)xr[c] * xr[c];
            dot += (double)dr[c] * w[c] * xr[c];
        }
        const double r = 1.0 / sqrt(ss / C + eps);
        /* y_i = x_i r w_i, r = (mean x^2 + eps)^-1/2:  dx_i = r w_i dy_i - x_i r^3 (sum_j dy_j w_j x_j) / C */
        const float a = (float)r, bcoef = (float)(r * r * r * dot / C);
        for (int c = 0; c < C; c++) g[c] += a * w[c] * dr[c] - bcoef * xr[c];
    }
}

void rope_backward(float *dx, const float *cs, int64_t N, int n_heads, int head_dim, attrib_rope_layout layout,
                   int n_threads) {
    const int half = head_dim / 2;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (N * n_heads * head_dim > 32768)
    for (int64_t n = 0; n < N; n++) {
        const float *c = cs + n * head_dim, *sn = c + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = dx + n * (int64_t)n_heads * head_dim + (int64_t)h * head_dim;
            for (int i = 0; i < half; i++) {
                int i0 = layout == ATTRIB_ROPE_INTERLEAVED ? 2 * i : i;
                int i1 = layout == ATTRIB_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
                float a = v[i0], b = v[i1]; /* the transpose of the rotation: rotate back */
                v[i0] = a * c[i] + b * sn[i];
                v[i1] = -a * sn[i] + b * c[i];
            }
        }
    }
}

void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t N, int F,
                     int n_threads) {
    const int64_t total = N * F;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) {
        const float g = gate[i], sig = 1.0f / (1.0f + expf(-g)), silu = g * sig;
        const float d = dout[i];
        dup[i] = d * silu;
        dgate[i] = d * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

void geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t N, int F,
                    int n_threads) {
    const int64_t total = N * F;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) {
        const float g = gate[i], d = dout[i];
        const float th = tanhf(GELU_TANH_K * (g + GELU_TANH_C * g * g * g));
        /* gelu = g (1 + th) / 2:  gelu' = (1 + th) / 2 + g (1 - th^2) k (1 + 3 c g^2) / 2 */
        const float dgelu =
            0.5f * (1.0f + th) + 0.5f * g * (1.0f - th * th) * GELU_TANH_K * (1.0f + 3.0f * GELU_TANH_C * g * g);
        dup[i] = d * 0.5f * g * (1.0f + th);
        dgate[i] = d * up[i] * dgelu;
    }
}

void softcap_backward(float *dx, const float *dout, const float *y, int64_t N, int V, float cap, int n_threads) {
    const int64_t total = N * V;
    const float inv = 1.0f / cap;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) {
        const float th = y[i] * inv; /* tanh(x / cap), from the output */
        dx[i] = dout[i] * (1.0f - th * th);
    }
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                        const float *lse, int B, int T, int H, int Hkv, int D, float *scratch, int n_threads) {
    attention_backward_ex(dq, dk, dv, dout, q, k, v, NULL, NULL, B, T, H, Hkv, D, NULL, lse, scratch, n_threads);
}

void attention_backward_ex(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const uint8_t *key_mask, const attn_kv_view *views, int B, int T, int H,
                           int Hkv, int D, const attn_opts *opts, const float *lse, float *scratch, int n_threads) {
    const int qd = H * D, kvd = Hkv * D, group = H / Hkv;
    const attn_cfg cfg = attn_resolve(opts, D);
    const float scale = cfg.scale, cap = cfg.softcap;
    const int maxP = views ? attention_max_prefix(views, B) : 0;
    /* one task per (sequence, KV head): it alone writes that head's dK and dV rows */
    const int64_t work = (int64_t)B * Hkv;
#pragma omp parallel num_threads(n_threads) if (work > 1 && (int64_t)B * H * T * (maxP + T) * D > 65536)
    {
        float *pbuf = scratch + (int64_t)omp_get_thread_num() * 2 * (maxP + T); /* P_tj, then P_tj s'_tj */
        float *gbuf = pbuf + maxP + T;                                          /* dP_tj = dO_t . V_j */
#pragma omp for schedule(dynamic, 1)
        for (int64_t idx = 0; idx < work; idx++) {
            const int b = (int)(idx / Hkv), kvh = (int)(idx % Hkv);
            const attn_kv_view *vw = views ? &views[b] : NULL;
            const int P = vw ? vw->P : 0;
            for (int j = 0; j < T; j++) {
                memset(dk + ((int64_t)b * T + j) * kvd + (int64_t)kvh * D, 0, (size_t)D * sizeof(float));
                memset(dv + ((int64_t)b * T + j) * kvd + (int64_t)kvh * D, 0, (size_t)D * sizeof(float));
            }
            for (int h = kvh * group; h < (kvh + 1) * group; h++)
                for (int t = 0; t < T; t++) {
                    const int64_t row = (int64_t)b * T + t;
                    const float *qv = q + row * qd + (int64_t)h * D, *go = dout + row * qd + (int64_t)h * D;
                    float *gq = dq + row * qd + (int64_t)h * D;
                    memset(gq, 0, (size_t)D * sizeof(float));
                    const float l = lse[row * H + h];
                    if (l == -INFINITY) continue;
                    const int64_t pq = cfg.window ? attn_new_pos(&cfg, b, T, P, t) : 0;
                    /* P_tj = exp(s_tj - lse_t) recomputed from q and k (cheaper than storing T^2 per head) */
                    float Dt = 0.0f; /* sum_j P_tj dP_tj */
                    for (int j = 0; j < P + t + 1; j++) {
                        if (!attn_key_visible(&cfg, vw, key_mask, b, T, j, pq)) {
                            pbuf[j] = 0.0f;
                            continue;
                        }
                        const float *kv = j < P ? vw->prefix_k + (int64_t)j * kvd + (int64_t)kvh * D
                                                : k + ((int64_t)b * T + (j - P)) * kvd + (int64_t)kvh * D;
                        const float *vv = j < P ? vw->prefix_v + (int64_t)j * kvd + (int64_t)kvh * D
                                                : v + ((int64_t)b * T + (j - P)) * kvd + (int64_t)kvh * D;
                        const float g = attn_dot(go, vv, D);
                        float s = attn_dot(qv, kv, D) * scale, dcap = 1.0f;
                        if (cap > 0.0f) { /* s = cap tanh(u / cap): ds/du = 1 - tanh^2 */
                            const float th = tanhf(s / cap);
                            s = cap * th;
                            dcap = 1.0f - th * th;
                        }
                        const float p = attn_exp_one(s - l);
                        gbuf[j] = g;
                        Dt += p * g;
                        if (j >= P) { /* dV_j += P_tj dO_t; the cached prefix is a constant */
                            float *gv = dv + ((int64_t)b * T + (j - P)) * kvd + (int64_t)kvh * D;
                            for (int d = 0; d < D; d++) gv[d] += p * go[d];
                        }
                        pbuf[j] = cap > 0.0f ? p * dcap : p; /* the softmax gradient, then the cap's */
                    }
                    for (int j = 0; j < P + t + 1; j++) {
                        if (pbuf[j] == 0.0f) continue; /* masked, or a probability that underflowed */
                        const float ds = pbuf[j] * (gbuf[j] - Dt) * scale; /* dS_tj through cap and scale */
                        pbuf[j] = ds;
                        if (j >= P) {
                            float *gk = dk + ((int64_t)b * T + (j - P)) * kvd + (int64_t)kvh * D;
                            for (int d = 0; d < D; d++) gk[d] += ds * qv[d];
                        }
                    }
                    attn_weighted_rows(gq, pbuf, P + t + 1, P, P ? vw->prefix_k + (int64_t)kvh * D : NULL,
                                       k + (int64_t)b * T * kvd + (int64_t)kvh * D, kvd, D);
                }
        }
    }
}

/* din = sum_j dout[j] @ W[j]: the input gradient of matmul_forward_multi.
 * The rows of all W[j] are cut into fixed chunks of MATMUL_BWD_CHUNK rows;
 * each chunk's product lands in its own partial buffer and the partials are
 * summed in chunk order, so the result does not depend on the thread count. */
#define MATMUL_BWD_CHUNK 256

size_t matmul_backward_partials(const attrib_weight *const *W, int n_mats) {
    size_t chunks = 0;
    for (int j = 0; j < n_mats; j++) chunks += (size_t)((W[j]->rows + MATMUL_BWD_CHUNK - 1) / MATMUL_BWD_CHUNK);
    return chunks;
}

void matmul_backward_multi(float *din, int n_mats, const float *const *dout, const attrib_weight *const *W, int64_t N,
                           float *partials, float *wscratch, size_t wscratch_per_thread, int n_threads) {
    const int64_t K = W[0]->cols;
    int64_t first[MATMUL_MAX_MATS + 1];
    first[0] = 0;
    for (int j = 0; j < n_mats; j++) first[j + 1] = first[j] + (W[j]->rows + MATMUL_BWD_CHUNK - 1) / MATMUL_BWD_CHUNK;
    const int64_t n_chunks = first[n_mats];
#pragma omp parallel num_threads(n_threads) if (n_chunks > 1)
    {
        float *wbuf = wscratch + (size_t)omp_get_thread_num() * wscratch_per_thread;
#pragma omp for schedule(dynamic, 1)
        for (int64_t c = 0; c < n_chunks; c++) {
            int j = 0;
            while (c >= first[j + 1]) j++;
            const attrib_weight *w = W[j];
            const int64_t O = w->rows, r0 = (c - first[j]) * MATMUL_BWD_CHUNK;
            const int64_t nr = O - r0 < MATMUL_BWD_CHUNK ? O - r0 : MATMUL_BWD_CHUNK;
            const float *wt;
            if (w->type == ATTRIB_DTYPE_F32) {
                wt = (const float *)w->data + r0 * K;
            } else {
                for (int64_t r = 0; r < nr; r++) attrib_weight_row(w, r0 + r, wbuf + r * K);
                wt = wbuf;
            }
            /* partial_c (N, K) = dout[j][:, r0:r0+nr] (N, nr) @ W[r0:r0+nr, :] (nr, K) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)K, (int)nr, 1.0f, dout[j] + r0, (int)O, wt,
                        (int)K, 0.0f, partials + c * N * K, (int)K);
        }
    }
    const int64_t total = N * K;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; i++) {
        float acc = 0.0f;
        for (int64_t c = 0; c < n_chunks; c++) acc += partials[c * total + i];
        din[i] = acc;
    }
}

/* din = sum_j dout[j] @ W[j] without partial buffers: din is cut into fixed
 * column tiles; each tile is one thread's, and sums the matrices in order
 * with beta = 1 after the first, so results do not depend on the thread count.
 * Non-F32 matrices must already be dequantised whole into WFULL (in order,
 * O_j x K floats each). */
void matmul_backward_tiled(float *din, int n_mats, const float *const *dout, const attrib_weight *const *W, int64_t N,
                           const float *wfull, int n_threads) {
    const int64_t K = W[0]->cols;
    const float *wp[MATMUL_MAX_MATS];
    size_t at = 0;
    for (int j = 0; j < n_mats; j++) {
        if (W[j]->type == ATTRIB_DTYPE_F32) {
            wp[j] = W[j]->data;
        } else {
            wp[j] = wfull + at;
            at += (size_t)W[j]->rows * K;
        }
    }
    const int64_t n_tiles = (K + MATMUL_TILE_COLS - 1) / MATMUL_TILE_COLS;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (n_tiles > 1)
    for (int64_t t = 0; t < n_tiles; t++) {
        const int64_t k0 = t * MATMUL_TILE_COLS, kc = K - k0 < MATMUL_TILE_COLS ? K - k0 : MATMUL_TILE_COLS;
        for (int j = 0; j < n_mats; j++) {
            const int64_t O = W[j]->rows;
            /* din[:, k0:k0+kc] (+)= dout[j] (N, O) @ W[j][:, k0:k0+kc] (O, kc) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)kc, (int)O, 1.0f, dout[j], (int)O, wp[j] + k0,
                        (int)K, j == 0 ? 0.0f : 1.0f, din + k0, (int)K);
        }
    }
}

size_t matmul_dequant_whole(float *wfull, const attrib_weight *const *W, int n_mats, int n_threads) {
    size_t at = 0;
    for (int j = 0; j < n_mats; j++) {
        if (W[j]->type == ATTRIB_DTYPE_F32) continue;
        const attrib_weight *w = W[j];
        float *dst = wfull + at;
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t r = 0; r < w->rows; r++) attrib_weight_row(w, r, dst + r * w->cols);
        at += (size_t)w->rows * w->cols;
    }
    return at;
}

size_t matmul_backward_scratch_floats(const attrib_weight *const *W, int n_mats) {
    size_t need = 0;
    for (int j = 0; j < n_mats; j++)
        if (W[j]->type != ATTRIB_DTYPE_F32 && (size_t)W[j]->cols * MATMUL_BWD_CHUNK > need)
            need = (size_t)W[j]->cols * MATMUL_BWD_CHUNK;
    return need;
}
