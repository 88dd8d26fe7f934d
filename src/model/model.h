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
    float *attn_norm;            /* (C) */
    attrib_weight wq, wk, wv, wo; /* (H*D, C), (Hkv*D, C), (Hkv*D, C), (C, H*D) */
    float *bq, *bk, *bv;         /* (H*D), (Hkv*D), (Hkv*D) or NULL */
    float *ffn_norm;             /* (C) */
    attrib_weight w_gate, w_up, w_down; /* (F, C), (F, C), (C, F) */
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

    attrib_weight tok_embd;         /* (V, C) */
    attrib_weight output;           /* (V, C): == tok_embd when tied */
    float *output_norm;             /* (C) */
    float *rope_factors;            /* (rope_dim/2) divisors of the frequencies, or NULL */
    float *rope_inv_freq;           /* (rope_dim/2) final inverse frequencies */
    attrib_layer *layers;           /* (n_layer) */

    attrib_tokenizer *tok;          /* owned, may be NULL */
    int n_threads;

    /* scratch reused across passes (grown on demand, never shrunk): fresh
     * buffers per pass would page-fault their way in every time */
    float *dequant_buf;             /* per-thread dequantisation tiles */
    size_t dequant_cap;             /* floats */
    float *work;                    /* activations of the current pass */
    size_t work_cap;                /* floats */
    char sha256[65];                /* hex digest of the weight files, "" until computed */
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
