/*
 * kernels.h — the transformer's layer kernels as plain functions, outputs
 * first, shapes in comments. Each has a naive reference twin used by the
 * tests; backward passes will sit beside their forward twins.
 */
#ifndef ATTRIB_KERNELS_H
#define ATTRIB_KERNELS_H

#include "model/model.h"

/* out = x / sqrt(mean(x^2) + eps) * w, row by row.  out, x: (N, C); w: (C)
 * Per-head norms (Qwen3 and Gemma 3 q_norm / k_norm) are this same call on
 * q viewed as (N*H, D) with w: (D), since each head's D values are contiguous
 * in a row; rmsnorm_backward likewise. */
void rmsnorm_forward(float *out, const float *x, const float *w, int64_t N, int C, float eps, int n_threads);

/* Width of the column tiles matrix products are split into (see kernels.c). */
#define MATMUL_TILE_COLS 128
#define MATMUL_MAX_MATS 4

/* Floats of per-thread scratch matmul_forward_multi needs for these matrices
 * (0 when all are F32). */
size_t matmul_scratch_floats(const attrib_weight *const *W, int n_mats);

/* out[j] = in @ W[j]^T (+ bias[j]) for j < n_mats (at most MATMUL_MAX_MATS),
 * all reading the same input.  out[j]: (N, O_j); in: (N, K); W[j]: (O_j, K)
 * in any stored type; bias (may be NULL) and bias[j]: (O_j) or NULL.
 * SCRATCH holds n_threads * scratch_per_thread floats. */
void matmul_forward_multi(int n_mats, float *const *out, const float *in, const attrib_weight *const *W,
                          const float *const *bias, int64_t N, float *scratch, size_t scratch_per_thread, int n_threads);
void matmul_forward(float *out, const float *in, const attrib_weight *W, const float *bias, int64_t N, float *scratch,
                    size_t scratch_per_thread, int n_threads);
void matmul_forward_naive(float *out, const float *in, const attrib_weight *W, const float *bias, int64_t N);

/* cos and sin of every token's RoPE angles.  cs: (N, head_dim) = [cos (D/2) | sin (D/2)];
 * pos: (N); inv_freq: (head_dim/2). */
void rope_table(float *cs, const int32_t *pos, int64_t N, int head_dim, const float *inv_freq);

/* Rotates each head of x in place by its token's angles.
 * x: (N, n_heads * head_dim); cs: (N, head_dim) from rope_table. */
void rope_forward(float *x, const float *cs, int64_t N, int n_heads, int head_dim, attrib_rope_layout layout,
                  int n_threads);

/* out = silu(gate) * up.  out, gate, up: (N, F) */
void swiglu_forward(float *out, const float *gate, const float *up, int64_t N, int F, int n_threads);

/* out = gelu(gate) * up with the tanh approximation of GELU (Gemma's
 * gelu_pytorch_tanh): gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * out, gate, up: (N, F) */
void geglu_forward(float *out, const float *gate, const float *up, int64_t N, int F, int n_threads);

/* out = cap * tanh(x / cap) elementwise (Gemma 2's final-logit soft-capping).
 * out, x: (N, V); out may be x (in place). cap > 0. */
void softcap_forward(float *out, const float *x, int64_t N, int V, float cap, int n_threads);

/* x += y.  x, y: (N, C) */
void residual_forward(float *x, const float *y, int64_t N, int C);

/* Index of the first NaN or Inf among N floats, or -1. A pass checks its
 * residual stream after every block, so that a non-finite value is reported
 * naming the block (and never flows silently into an attribution). */
int64_t first_nonfinite(const float *x, int64_t n);

/* Keys and values visible to one sequence: a cached prefix (may be empty)
 * followed by this pass's tokens. */
typedef struct attn_kv_view {
    const float *prefix_k, *prefix_v; /* (P, kv_dim) or NULL */
    const uint8_t *prefix_mask;       /* (P) or NULL = all visible */
    int P;
    const int32_t *prefix_pos; /* (P) positions of the cached keys, or NULL = 0..P-1;
                                  read only by a sliding window (attn_opts.window) */
} attn_kv_view;

/* Options of attention_forward_ex / attention_backward_ex. All zero (or a
 * NULL pointer to them) is plain causal attention, exactly attention_forward.
 *
 * Sliding window: a query at position pq sees a key at position pk only if
 * pq - pk < window, so window = 1 is the token itself and window = W sees
 * the W most recent positions including its own. This is llama.cpp's rule
 * (llama_hparams::is_masked_swa, LLAMA_SWA_TYPE_STANDARD, masks the pair
 * (key p0, query p1) when p1 - p0 >= n_swa) and HF's (key > query - window).
 * The window only narrows what causality (by index, as in attention_forward)
 * and the key masks already allow; positions are used for nothing else. */
typedef struct attn_opts {
    float scale;        /* multiplies q.k; 0 = 1/sqrt(D) */
    float softcap;      /* 0 = none; else scores s = softcap * tanh(s / softcap) after
                           scaling, before masking and softmax (Gemma 2) */
    int window;         /* 0 = none; else the sliding window above */
    const int32_t *pos; /* (B*T) positions of the new tokens, or NULL = P_b + t for
                           token t of sequence b (what forward.c uses without explicit
                           positions); read only when window > 0 */
} attn_opts;

/* Causal grouped-query attention for B sequences of T new tokens.
 * out: (B*T, H*D); q: (B*T, H*D); k, v: (B*T, Hkv*D); key_mask: (B*T) or NULL;
 * views: (B). A query attends to every visible prefix position and to the new
 * positions up to its own. A query with no visible key gets zeros.
 * lse: (B*T, H) log-sum-exp of each query's scaled scores (for the backward),
 * or NULL. */
void attention_forward(float *out, const float *q, const float *k, const float *v, const uint8_t *key_mask,
                       const attn_kv_view *views, int B, int T, int H, int Hkv, int D, float *lse, float *scratch,
                       int n_threads);
/* e^x as the attention kernels compute it (a polynomial after range
 * reduction, the same bits in their scalar and vector code), for x <= 0:
 * within 2 ulp of expf, 0 below -87.34 and for -inf, NaN for NaN. */
float attn_exp(float x);

/* score[j] = attn_exp(score[j] - mx) for j < n, bit for bit, 8 at a time
 * (a hidden key's -inf gives 0); returns their sum, in 8 lanes added in a
 * fixed order. */
float attn_softmax_exp(float *score, int n, float mx);

/* Largest prefix among VIEWS; attention_forward's SCRATCH holds
 * n_threads * (max_prefix + T) floats. */
int attention_max_prefix(const attn_kv_view *views, int B);

/* attention_forward with OPTS (NULL = defaults): scale, soft-capped scores,
 * sliding window. lse then holds the log-sum-exp of the final (capped)
 * scores, which is what attention_backward_ex expects. Same shapes and
 * scratch as attention_forward. */
void attention_forward_ex(float *out, const float *q, const float *k, const float *v, const uint8_t *key_mask,
                          const attn_kv_view *views, int B, int T, int H, int Hkv, int D, const attn_opts *opts,
                          float *lse, float *scratch, int n_threads);

/* The probabilities attention_forward_ex used, recomputed from its LSE
 * (no prefix) for the queries t_first..T-1: probs (B, H, T - t_first, T),
 * row (b, h, t - t_first) = exp(s_tj - lse_th) for the keys j <= t that
 * query t sees (its mask and window), 0 elsewhere; a row that sees no key
 * is all 0. q: (B*T, H*D); k: (B*T, Hkv*D); key_mask: (B*T) or NULL;
 * lse: (B*T, H). */
void attention_probs(float *probs, const float *q, const float *k, const uint8_t *key_mask, int B, int T, int H, int Hkv,
                     int D, const attn_opts *opts, const float *lse, int t_first, int n_threads);

/* ---- backward twins: activation gradients only ---------------------------- */

/* dx += d rmsnorm(x) / dx applied to dout.  dx, dout, x: (N, C) */
void rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w, int64_t N, int C, float eps,
                      int n_threads);

/* dx (N, n_heads*head_dim) in place: the gradient through rope_forward. */
void rope_backward(float *dx, const float *cs, int64_t N, int n_heads, int head_dim, attrib_rope_layout layout,
                   int n_threads);

/* dgate, dup = gradients of out = silu(gate) * up.  all (N, F) */
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t N, int F,
                     int n_threads);

/* dgate, dup = gradients of out = gelu_tanh(gate) * up (geglu_forward), overwritten.  all (N, F) */
void geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t N, int F,
                    int n_threads);

/* dx = dout * (1 - (y / cap)^2): the gradient through softcap_forward, from its
 * OUTPUT y (the forward may have overwritten x). dx may be dout (in place).
 * dx, dout, y: (N, V) */
void softcap_backward(float *dx, const float *dout, const float *y, int64_t N, int V, float cap, int n_threads);

/* Gradients of causal attention without a prefix or key mask (the gradient
 * passes run whole sequences). dq: (B*T, H*D); dk, dv: (B*T, Hkv*D), all
 * overwritten; lse from attention_forward; scratch: n_threads * 2T floats. */
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                        const float *lse, int B, int T, int H, int Hkv, int D, float *scratch, int n_threads);

/* Gradients of attention_forward_ex with the same OPTS (NULL = defaults),
 * key_mask ((B*T) or NULL) and VIEWS ((B) or NULL = no prefix). The cached
 * prefix is a constant: it shapes dq but gets no gradient. dq: (B*T, H*D);
 * dk, dv: (B*T, Hkv*D), all overwritten; lse from attention_forward_ex with
 * the same options; scratch: n_threads * 2 * (max_prefix + T) floats. */
void attention_backward_ex(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const uint8_t *key_mask, const attn_kv_view *views, int B, int T, int H,
                           int Hkv, int D, const attn_opts *opts, const float *lse, float *scratch, int n_threads);

/* din (N, K) = sum_j dout[j] (N, O_j) @ W[j] (O_j, K), overwriting din.
 * partials: matmul_backward_partials(W) * N * K floats; wscratch:
 * n_threads * matmul_backward_scratch_floats(W) floats. */
size_t matmul_backward_partials(const attrib_weight *const *W, int n_mats);
size_t matmul_backward_scratch_floats(const attrib_weight *const *W, int n_mats);
void matmul_backward_multi(float *din, int n_mats, const float *const *dout, const attrib_weight *const *W, int64_t N,
                           float *partials, float *wscratch, size_t wscratch_per_thread, int n_threads);

/* The same product tiled over din's columns, with no partial buffers: the
 * faster choice when the non-F32 matrices can be dequantised whole into
 * WFULL first (matmul_dequant_whole; returns the floats written). */
void matmul_backward_tiled(float *din, int n_mats, const float *const *dout, const attrib_weight *const *W, int64_t N,
                           const float *wfull, int n_threads);
size_t matmul_dequant_whole(float *wfull, const attrib_weight *const *W, int n_mats, int n_threads);

#endif /* ATTRIB_KERNELS_H */
