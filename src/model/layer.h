/*
 * layer.h — one transformer block, forward with an optional tape and its
 * mirrored backward (layer.c).
 *
 * The inference pass (forward.c) and the gradient pass (backward.c) run the
 * same layer_forward: the gradient pass hands it a tape, and the values the
 * backward needs are then written straight into the tape instead of into
 * scratch. layer_backward walks one block in reverse from its tape. What a
 * block computes is decided by the model's architecture row (arch.c) and the
 * tensors present, never by the architecture's name.
 */
#ifndef ATTRIB_LAYER_H
#define ATTRIB_LAYER_H

#include "model/kernels.h"

/* What one block keeps for its backward. (N, ...) rows; NULL where the
 * architecture has no such step. */
typedef struct layer_tape {
    float *x;            /* (N, C) residual stream entering the block */
    float *q_raw, *k_raw;/* (N, H*D), (N, Hkv*D) before the per-head Q/K norms */
    float *q, *k, *v;    /* (N, H*D), (N, Hkv*D) x2: as attention read them (after norms and RoPE) */
    float *lse;          /* (N, H) log-sum-exp of each query's scores */
    float *attn_out;     /* (N, C) attention projection before its post-norm */
    float *h;            /* (N, C) residual stream entering the FFN */
    float *gate, *up;    /* (N, F) */
    float *ffn_out;      /* (N, C) FFN output before its post-norm */
} layer_tape;

/* Floats of tape per token per layer, and the tape of layer L inside a
 * block of n_layers * N * layer_tape_floats(m) floats. */
size_t layer_tape_floats(const attrib_model *m);
void layer_tape_at(layer_tape *t, const attrib_model *m, float *base, int64_t N);

/* Per-pass inputs shared by every block. */
typedef struct layer_pass {
    int B, T;                    /* sequences, new tokens per sequence; N = B*T rows */
    const float *rope_cs;        /* (N, D) cos|sin at the global frequencies (rope_table) */
    const float *rope_cs_local;  /* (N, D) at the windowed layers' frequencies, or NULL */
    const int32_t *pos;          /* (N) positions of the new tokens (sliding windows) */
    attn_kv_view *views;         /* (B) cached prefixes; the caller points them at layer l's cache */
    const uint8_t *key_mask;     /* (N) or NULL */
} layer_pass;

/* Scratch of a pass: activations and the matrix products' scratch. Sized by
 * layer_work_floats, carved by layer_work_carve. */
typedef struct layer_work {
    float *xn;            /* (N, C) normalised input of a sub-block / its gradient */
    float *q, *k, *v;     /* (N, H*D), (N, Hkv*D) x2, used when there is no tape */
    float *act;           /* (N, max(F, H*D)) attention output, FFN activation, their gradients */
    float *up;            /* (N, F) */
    float *proj;          /* (N, C) a projection's output before the residual add */
    float *dres;          /* (N, C) gradient of the residual stream inside the block (backward) */
    float *dq, *dk, *dv;  /* (N, H*D), (N, Hkv*D) x2 (backward) */
    float *dq_raw, *dk_raw; /* the same before the Q/K norms (backward, qk-norm models) */
    float *att_scratch;   /* n_threads * 2 * (max_prefix + T) */
    float *wscratch;      /* n_threads * wpt: per-thread dequantisation tiles */
    size_t wpt;
    bool fast;            /* integer products for quantised weights (kernels_int.h); carve sets false,
                             only the inference pass (forward.c) sets it */
    float *wfull;         /* whole dequantised matrices for the input-gradient products (backward) */
    float *partials;      /* partial sums of the fallback input-gradient product (backward) */
} layer_work;

/* Floats a layer_work needs for N rows, T tokens, the largest prefix MAXP,
 * with or without the backward's buffers, over the first N_LAYERS blocks
 * (their matrices size the dequantisation scratch). */
size_t layer_work_floats(const attrib_model *m, int64_t N, int T, int maxP, int n_layers, bool backward);
void layer_work_carve(layer_work *w, const attrib_model *m, float *mem, int64_t N, int T, int maxP, int n_layers,
                      bool backward);

/* Block L on the residual stream X (N, C), in place. With TAPE, what the
 * backward needs is kept there; either way w->k and w->v (or the tape's)
 * hold this pass's keys and values afterwards, for the KV cache. */
void layer_forward(float *x, const attrib_model *m, int l, const layer_pass *p, layer_work *w, const layer_tape *tape,
                   const float **k_out, const float **v_out);

/* The attention options of block L (scale, soft-cap, its window) in a pass:
 * what attention_forward_ex and attention_probs read. */
attn_opts layer_attn_opts(const attrib_model *m, const attrib_layer *L, const layer_pass *p);

/* The backward of block L: DX (N, C) enters as d target / d (block output)
 * and leaves as d target / d (block input). */
void layer_backward(float *dx, const attrib_model *m, int l, const layer_pass *p, layer_work *w, const layer_tape *tape);

/* cos|sin tables of the positions POS (N): CS (N, D) at the global RoPE
 * frequencies and, when the model has local ones, CS_LOCAL (N, D) (else
 * NULL); both scaled by the model's RoPE attention factor (forward.c). */
void layer_rope_tables(const attrib_model *m, const int32_t *pos, int64_t N, float *cs, float *cs_local);

/* The output head on R rows: logits (R, V) = softcap(rmsnorm(X) Wout^T);
 * XN (R, C) is scratch (forward.c). */
void model_head_forward(const attrib_model *m, float *logits, const float *x, float *xn, int64_t R, layer_work *w);

/* din (N, K) = sum_j dout[j] @ W[j] for the input gradients of products
 * (whole-matrix dequantisation when it fits, partial sums otherwise). */
void layer_input_grad(float *din, int n, const float *const *dout, const attrib_weight *const *W, int64_t N,
                      const layer_work *w, int n_threads);

#endif /* ATTRIB_LAYER_H */
