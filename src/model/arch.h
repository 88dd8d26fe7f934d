/*
 * arch.h — the architectures attrib runs, as data.
 *
 * An architecture is one row of a table (arch.c): its names in GGUF and in
 * Hugging Face config.json, which per-layer tensors it has and what each is
 * called in either format, and the features the layer computation switches
 * on (Q/K norms, post-norms, activation, embedding scale, soft-caps, sliding
 * windows, RoPE layout). Both loaders, both allow-lists of tensor names and
 * the layer function read this table; nothing else tells architectures
 * apart. Adding a family is a new row, plus kernels for any new operation.
 */
#ifndef ATTRIB_ARCH_H
#define ATTRIB_ARCH_H

#include "basics/common.h"

/* The per-layer tensors any supported architecture may have. */
typedef enum arch_slot {
    SLOT_ATTN_NORM,      /* (C) pre-attention RMSNorm */
    SLOT_Q, SLOT_K, SLOT_V, /* (H*D, C), (Hkv*D, C), (Hkv*D, C) */
    SLOT_QKV,            /* (H*D + 2*Hkv*D, C): Q, K, V rows stacked (phi3) */
    SLOT_O,              /* (C, H*D) */
    SLOT_BQ, SLOT_BK, SLOT_BV, /* (H*D), (Hkv*D), (Hkv*D) */
    SLOT_Q_NORM, SLOT_K_NORM,  /* (D) per-head RMSNorm of Q and K (qwen3, gemma3) */
    SLOT_POST_ATTN_NORM, /* (C) RMSNorm of the attention output before the residual add (gemma) */
    SLOT_FFN_NORM,       /* (C) pre-FFN RMSNorm */
    SLOT_GATE, SLOT_UP,  /* (F, C) */
    SLOT_GATE_UP,        /* (2F, C): gate rows then up rows (phi3) */
    SLOT_DOWN,           /* (C, F) */
    SLOT_POST_FFN_NORM,  /* (C) RMSNorm of the FFN output before the residual add (gemma) */
    SLOT_COUNT
} arch_slot;

/* Whether an architecture has a slot. */
enum { SLOT_ABSENT = 0, SLOT_OPTIONAL = 1, SLOT_REQUIRED = 2 };

typedef enum arch_activation { ARCH_ACT_SILU, ARCH_ACT_GELU_TANH } arch_activation;

/* Per-layer tensor names of one file format, by slot; NULL where the format
 * has no name for the slot. */
typedef struct arch_names {
    const char *layer_prefix; /* "blk.%d." or "model.layers.%d." */
    const char *slot[SLOT_COUNT];
    const char *ignored; /* a per-layer tensor accepted and not read (stored RoPE tables), or NULL */
} arch_names;

typedef struct arch_desc {
    const char *name;           /* GGUF general.architecture; attrib's name for it */
    const char *hf_types[4];    /* config.json model_type values, NULL-terminated */
    const char *hf_architecture;/* config.json "architectures" entry, for messages */
    uint8_t slot_use[SLOT_COUNT]; /* SLOT_ABSENT / OPTIONAL / REQUIRED */
    const arch_names *hf_names; /* the Hugging Face naming of the layer tensors */
    attrib_rope_layout gguf_rope; /* llama.cpp's converter permutes llama's Q/K rows to adjacent pairs */
    arch_activation act;
    int embed_scale_sqrt;       /* the embeddings are multiplied by sqrt(C) (gemma) */
    float hf_norm_offset;       /* HF stores w where the model computes (offset + w); GGUF stores the sum */
    int swa_period;             /* 0: no sliding window; 1: every layer (mistral); n: layer l is windowed when l % n < n - 1 */
    int local_rope_base;        /* windowed layers use their own RoPE base (gemma3: 10000) */
    int softcaps;               /* 2: attention and final logit soft-caps (gemma2); 1: final only (gemma3) */
    int global_rope_linear;     /* linear RoPE scaling applies to the global layers only (gemma3) */
    int attn_scale_key;         /* the query scale comes from query_pre_attn_scalar (gemma) */
} arch_desc;

/* The GGUF naming of the layer tensors (llama.cpp's, the same for every
 * architecture). */
extern const arch_names arch_gguf_names;

/* The row whose GGUF name is NAME, or NULL. */
const arch_desc *arch_by_gguf_name(const char *name);
/* The row whose config.json model_type is TYPE, or NULL. */
const arch_desc *arch_by_hf_type(const char *type);
/* Writes the supported names ("llama, qwen2, ...") for error messages. */
void arch_list_names(char *buf, size_t size, int hf);

/* Whether NAME is one of the arch's layer tensors in naming N, for a layer
 * below N_LAYER. The layer number must be plain decimal, so "01" or "+1"
 * cannot alias a real layer. */
bool arch_is_layer_tensor(const arch_desc *a, const arch_names *n, const char *name, int n_layer);

/* Whether layer L of an arch with a window uses it. */
static inline bool arch_layer_windowed(const arch_desc *a, int l) {
    return a->swa_period == 1 || (a->swa_period > 1 && l % a->swa_period < a->swa_period - 1);
}

#endif /* ATTRIB_ARCH_H */
