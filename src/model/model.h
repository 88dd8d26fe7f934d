/*
 * model.h — private definition of attrib_model, shared by the loaders
 * (model.c for GGUF and the common checks, hf.c for Hugging Face
 * directories) and the forward pass (forward.c).
 *
 * Weights are referenced where they lie (the GGUF or safetensors memory map)
 * in their stored type; a matrix is dequantised to F32 just before its sgemm
 * (forward.c). Only small vectors (norms, biases, RoPE factors) are converted
 * to F32 at load.
 */
#ifndef ATTRIB_MODEL_H
#define ATTRIB_MODEL_H

#include "basics/common.h"
#include "basics/gguf.h"
#include "model/arch.h"

/* A stored matrix: ROWS rows of COLS elements (COLS contiguous), i.e. a
 * PyTorch Linear weight of shape (out=ROWS, in=COLS). */
typedef struct attrib_weight {
    const void *data; /* NULL if absent */
    int type;         /* attrib_dtype */
    int64_t rows;
    int64_t cols;
    uint64_t row_bytes;
} attrib_weight;

typedef struct attrib_layer {
    float *attn_norm;             /* (C) */
    attrib_weight wq, wk, wv, wo; /* (H*D, C), (Hkv*D, C), (Hkv*D, C), (C, H*D); views into a fused QKV matrix for phi3 */
    float *bq, *bk, *bv;          /* (H*D), (Hkv*D), (Hkv*D) or NULL */
    float *q_norm, *k_norm;       /* (D) per-head RMSNorm weights or NULL */
    float *post_attn_norm;        /* (C) or NULL */
    float *ffn_norm;              /* (C) */
    attrib_weight w_gate, w_up, w_down; /* (F, C), (F, C), (C, F); views into a fused gate|up matrix for phi3 */
    float *post_ffn_norm;         /* (C) or NULL */
    int window;                   /* sliding attention window in positions, 0 = the whole context */
    const float *rope_inv_freq;   /* (D/2) this layer's RoPE frequencies (local or global) */
} attrib_layer;

/* What a loader fills in before attrib_model_finish validates it. A tensor
 * source answers "give me tensor NAME" in GGUF order of dimensions (ne[0]
 * contiguous) whatever the file format. */
typedef struct attrib_tensor_ref {
    const void *data;
    int type;
    int n_dims;
    int64_t ne[4];
    uint64_t n_bytes;
} attrib_tensor_ref;

struct attrib_model {
    attrib_model_info info;
    char *path;
    char *arch;
    char *name;

    /* storage the weights point into */
    gguf_ctx *gguf;                 /* GGUF: the parsed file (owns the mapping) */
    attrib_mapped_file *st_files;   /* HF: one mapping per safetensors shard */
    int n_st_files;
    void **owned;                   /* buffers allocated for converted tensors */
    int n_owned, cap_owned;

    const arch_desc *desc;          /* the architecture's row of the table (arch.c) */
    float embed_scale;              /* the embeddings are multiplied by this (sqrt(C) for gemma, else 1) */
    float attn_scale;               /* multiplies q.k (1/sqrt(D) unless the architecture says otherwise) */
    float attn_softcap;             /* 0, or the attention logit soft-cap (gemma2) */
    float final_softcap;            /* 0, or the final logit soft-cap (gemma2) */
    float rope_attn_factor;         /* multiplies RoPE's cos and sin (phi3 longrope), else 1 */
    float rope_theta_local;         /* RoPE base of windowed layers (gemma3), or 0 */
    float rope_linear;              /* linear RoPE scaling of the global layers (gemma3 4B+), 0 or 1 = none */
    float *rope_inv_freq_local;     /* (rope_dim/2) frequencies of windowed layers, or NULL */
    uint8_t *layer_windowed;        /* (n_layer) which layers use the window, from config.json's layer_types; NULL = the arch's pattern */

    attrib_weight tok_embd;         /* (V, C) */
    attrib_weight output;           /* (V, C): == tok_embd when tied */
    float *output_norm;             /* (C) */
    float *rope_factors;            /* (rope_dim/2) divisors of the frequencies, or NULL */
    float *rope_inv_freq;           /* (rope_dim/2) final inverse frequencies */
    attrib_layer *layers;           /* (n_layer) */

    attrib_tokenizer *tok;          /* owned, may be NULL */
    int n_threads;
    int compute;                    /* attrib_compute of forward-only passes (kernels_int.h) */

    /* scratch reused across passes (grown on demand, never shrunk): fresh
     * buffers per pass would page-fault their way in every time */
    float *work;                    /* activations of the current pass */
    size_t work_cap;                /* floats */
    char sha256[65];                /* hex digest of the weight files, "" until computed */
    /* NULL, or the handle whose weights, tokenizer and files this one borrows
     * (attrib_model_share): it owns nothing but itself and its scratch */
    const attrib_model *owner;
};

/* Registers BUF as owned by the model (freed with it). Returns false on OOM,
 * in which case BUF has been freed. */
bool attrib_model_own(attrib_model *m, void *buf);

/* Converts a 1-D tensor of any supported type to a new F32 array owned by M.
 * Checks that it has exactly N elements. */
attrib_status attrib_model_vector(attrib_model *m, const attrib_tensor_ref *t, const char *name, int64_t n, float **out);

/* Fills W from T after checking that T is a ROWS x COLS matrix. */
attrib_status attrib_model_matrix(attrib_model *m, const attrib_tensor_ref *t, const char *name, int64_t rows, int64_t cols,
                                  attrib_weight *w);

/* A tensor source for attrib_model_load_layers: fills T for NAME in GGUF
 * order of dimensions, leaving T->data NULL when the file has no such
 * tensor. */
typedef attrib_status (*attrib_tensor_lookup)(void *ctx, const char *name, attrib_tensor_ref *t);

/* Loads every layer's tensors the architecture m->desc has, named by NAMES,
 * checking each shape against m->info; splits fused QKV and gate|up
 * matrices into views; adds NORM_OFFSET to every norm weight (Hugging Face
 * Gemma stores w for a norm that multiplies by 1 + w). */
attrib_status attrib_model_load_layers(attrib_model *m, const arch_names *names, attrib_tensor_lookup find, void *ctx,
                                       float norm_offset);

/* Validates hyper-parameters in m->info, computes derived values (RoPE
 * frequencies, parameter counts) and, if requested, scans weights for NaN/Inf. */
attrib_status attrib_model_finish(attrib_model *m, const attrib_model_options *opt);

/* Hugging Face directory loader (hf.c): fills M (info, weights, tokenizer). */
attrib_status attrib_model_load_hf(attrib_model *m, const char *dir);

/* Returns the model's pass workspace grown to at least N floats (contents
 * undefined), or NULL when out of memory. Valid until the next call. */
float *attrib_model_workspace(attrib_model *m, size_t n);

/* Dequantises row R of W into OUT (W->cols floats). */
void attrib_weight_row(const attrib_weight *w, int64_t r, float *out);

#endif /* ATTRIB_MODEL_H */
