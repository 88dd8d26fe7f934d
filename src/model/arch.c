/*
 * arch.c — the table of supported architectures (see arch.h), and the
 * look-ups the loaders make in it.
 *
 * GGUF names its layer tensors the same way for every architecture
 * (llama.cpp's converter maps each family's names onto one scheme), so one
 * GGUF naming serves every row. Hugging Face names differ by family: in
 * Llama-like checkpoints "post_attention_layernorm" is the norm before the
 * FFN, while in Gemma it normalises the attention output and the FFN's
 * norm is "pre_feedforward_layernorm". Each row points at its naming.
 */
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

const arch_names arch_gguf_names = {
    "blk.%d.",
    {
        [SLOT_ATTN_NORM] = "attn_norm.weight",
        [SLOT_Q] = "attn_q.weight",
        [SLOT_K] = "attn_k.weight",
        [SLOT_V] = "attn_v.weight",
        [SLOT_QKV] = "attn_qkv.weight",
        [SLOT_O] = "attn_output.weight",
        [SLOT_BQ] = "attn_q.bias",
        [SLOT_BK] = "attn_k.bias",
        [SLOT_BV] = "attn_v.bias",
        [SLOT_Q_NORM] = "attn_q_norm.weight",
        [SLOT_K_NORM] = "attn_k_norm.weight",
        [SLOT_POST_ATTN_NORM] = "post_attention_norm.weight",
        [SLOT_FFN_NORM] = "ffn_norm.weight",
        [SLOT_GATE] = "ffn_gate.weight",
        [SLOT_UP] = "ffn_up.weight",
        [SLOT_GATE_UP] = "ffn_up.weight", /* phi3: the fused gate|up matrix keeps the up name */
        [SLOT_DOWN] = "ffn_down.weight",
        [SLOT_POST_FFN_NORM] = "post_ffw_norm.weight",
    },
    "attn_rot_embd", /* old converters stored the RoPE table; it carries nothing the hyper-parameters do not */
};

static const arch_names hf_llama_names = {
    "model.layers.%d.",
    {
        [SLOT_ATTN_NORM] = "input_layernorm.weight",
        [SLOT_Q] = "self_attn.q_proj.weight",
        [SLOT_K] = "self_attn.k_proj.weight",
        [SLOT_V] = "self_attn.v_proj.weight",
        [SLOT_O] = "self_attn.o_proj.weight",
        [SLOT_BQ] = "self_attn.q_proj.bias",
        [SLOT_BK] = "self_attn.k_proj.bias",
        [SLOT_BV] = "self_attn.v_proj.bias",
        [SLOT_Q_NORM] = "self_attn.q_norm.weight",
        [SLOT_K_NORM] = "self_attn.k_norm.weight",
        [SLOT_FFN_NORM] = "post_attention_layernorm.weight",
        [SLOT_GATE] = "mlp.gate_proj.weight",
        [SLOT_UP] = "mlp.up_proj.weight",
        [SLOT_DOWN] = "mlp.down_proj.weight",
    },
    "self_attn.rotary_emb.inv_freq", /* old checkpoints store the frequencies the config implies */
};

static const arch_names hf_gemma_names = {
    "model.layers.%d.",
    {
        [SLOT_ATTN_NORM] = "input_layernorm.weight",
        [SLOT_Q] = "self_attn.q_proj.weight",
        [SLOT_K] = "self_attn.k_proj.weight",
        [SLOT_V] = "self_attn.v_proj.weight",
        [SLOT_O] = "self_attn.o_proj.weight",
        [SLOT_Q_NORM] = "self_attn.q_norm.weight",
        [SLOT_K_NORM] = "self_attn.k_norm.weight",
        [SLOT_POST_ATTN_NORM] = "post_attention_layernorm.weight",
        [SLOT_FFN_NORM] = "pre_feedforward_layernorm.weight",
        [SLOT_GATE] = "mlp.gate_proj.weight",
        [SLOT_UP] = "mlp.up_proj.weight",
        [SLOT_DOWN] = "mlp.down_proj.weight",
        [SLOT_POST_FFN_NORM] = "post_feedforward_layernorm.weight",
    },
    NULL,
};

static const arch_names hf_phi3_names = {
    "model.layers.%d.",
    {
        [SLOT_ATTN_NORM] = "input_layernorm.weight",
        [SLOT_QKV] = "self_attn.qkv_proj.weight",
        [SLOT_O] = "self_attn.o_proj.weight",
        [SLOT_FFN_NORM] = "post_attention_layernorm.weight",
        [SLOT_GATE_UP] = "mlp.gate_up_proj.weight",
        [SLOT_DOWN] = "mlp.down_proj.weight",
    },
    NULL,
};

#define R SLOT_REQUIRED
#define O SLOT_OPTIONAL
/* The slots of a Llama block with separate Q, K, V and gate, up matrices. */
#define LLAMA_SLOTS [SLOT_ATTN_NORM] = R, [SLOT_Q] = R, [SLOT_K] = R, [SLOT_V] = R, [SLOT_O] = R, \
                    [SLOT_FFN_NORM] = R, [SLOT_GATE] = R, [SLOT_UP] = R, [SLOT_DOWN] = R

static const arch_desc arch_table[] = {
    {
        .name = "llama",
        .hf_types = {"llama", "mistral", NULL},
        .hf_architecture = "LlamaForCausalLM",
        .slot_use = {LLAMA_SLOTS, [SLOT_BQ] = O, [SLOT_BK] = O, [SLOT_BV] = O},
        .hf_names = &hf_llama_names,
        .gguf_rope = ATTRIB_ROPE_INTERLEAVED,
        .act = ARCH_ACT_SILU,
        .swa_period = 1, /* only where config.json sets sliding_window (Mistral v0.1) */
    },
    {
        .name = "qwen2",
        .hf_types = {"qwen2", NULL},
        .hf_architecture = "Qwen2ForCausalLM",
        .slot_use = {LLAMA_SLOTS, [SLOT_BQ] = R, [SLOT_BK] = R, [SLOT_BV] = R},
        .hf_names = &hf_llama_names,
        .gguf_rope = ATTRIB_ROPE_HALF,
        .act = ARCH_ACT_SILU,
    },
    {
        .name = "qwen3",
        .hf_types = {"qwen3", NULL},
        .hf_architecture = "Qwen3ForCausalLM",
        .slot_use = {LLAMA_SLOTS, [SLOT_Q_NORM] = R, [SLOT_K_NORM] = R},
        .hf_names = &hf_llama_names,
        .gguf_rope = ATTRIB_ROPE_HALF,
        .act = ARCH_ACT_SILU,
    },
    {
        .name = "gemma2",
        .hf_types = {"gemma2", NULL},
        .hf_architecture = "Gemma2ForCausalLM",
        .slot_use = {LLAMA_SLOTS, [SLOT_POST_ATTN_NORM] = R, [SLOT_POST_FFN_NORM] = R},
        .hf_names = &hf_gemma_names,
        .gguf_rope = ATTRIB_ROPE_HALF,
        .act = ARCH_ACT_GELU_TANH,
        .embed_scale_sqrt = 1,
        .hf_norm_offset = 1.0f,
        .swa_period = 2,
        .softcaps = 2,
        .attn_scale_key = 1,
    },
    {
        .name = "gemma3",
        .hf_types = {"gemma3_text", NULL},
        .hf_architecture = "Gemma3ForCausalLM",
        .slot_use = {LLAMA_SLOTS, [SLOT_Q_NORM] = R, [SLOT_K_NORM] = R, [SLOT_POST_ATTN_NORM] = R,
                     [SLOT_POST_FFN_NORM] = R},
        .hf_names = &hf_gemma_names,
        .gguf_rope = ATTRIB_ROPE_HALF,
        .act = ARCH_ACT_GELU_TANH,
        .embed_scale_sqrt = 1,
        .hf_norm_offset = 1.0f,
        .swa_period = 6,
        .local_rope_base = 1,
        .softcaps = 1,
        .global_rope_linear = 1,
        .attn_scale_key = 1,
    },
    {
        .name = "phi3",
        .hf_types = {"phi3", NULL},
        .hf_architecture = "Phi3ForCausalLM",
        /* llama.cpp accepts separate Q, K, V in place of the fused matrix */
        .slot_use = {[SLOT_ATTN_NORM] = R, [SLOT_QKV] = O, [SLOT_Q] = O, [SLOT_K] = O, [SLOT_V] = O, [SLOT_O] = R, [SLOT_FFN_NORM] = R, [SLOT_GATE_UP] = R,
                     [SLOT_DOWN] = R},
        .hf_names = &hf_phi3_names,
        .gguf_rope = ATTRIB_ROPE_HALF,
        .act = ARCH_ACT_SILU,
        .swa_period = 1, /* Hugging Face only, where config.json sets it (Phi-3-mini-4k: 2047); llama.cpp runs phi3 GGUFs without it */
    },
};
#undef R
#undef O
#undef LLAMA_SLOTS

#define N_ARCH (sizeof arch_table / sizeof *arch_table)

const arch_desc *arch_by_gguf_name(const char *name) {
    for (size_t i = 0; i < N_ARCH; i++)
        if (strcmp(arch_table[i].name, name) == 0) return &arch_table[i];
    return NULL;
}

const arch_desc *arch_by_hf_type(const char *type) {
    for (size_t i = 0; i < N_ARCH; i++)
        for (int k = 0; k < 4 && arch_table[i].hf_types[k]; k++)
            if (strcmp(arch_table[i].hf_types[k], type) == 0) return &arch_table[i];
    return NULL;
}

void arch_list_names(char *buf, size_t size, int hf) {
    size_t at = 0;
    if (size) buf[0] = '\0';
    for (size_t i = 0; i < N_ARCH; i++)
        for (int k = 0; k < (hf ? 4 : 1); k++) {
            const char *n = hf ? arch_table[i].hf_types[k] : arch_table[i].name;
            if (!n) break;
            int w = snprintf(buf + at, size > at ? size - at : 0, "%s%s", at ? ", " : "", n);
            if (w > 0) at += (size_t)w;
            if (at >= size) return;
        }
}

bool arch_is_layer_tensor(const arch_desc *a, const arch_names *n, const char *name, int n_layer) {
    /* the prefix is "<text>%d.<nothing>": match the text, then a plain decimal */
    const char *pct = strstr(n->layer_prefix, "%d");
    const size_t head = (size_t)(pct - n->layer_prefix);
    if (strncmp(name, n->layer_prefix, head) != 0) return false;
    const char *p = name + head;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) return false;
    int64_t layer = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        layer = layer * 10 + (*p - '0');
        if (layer >= n_layer) return false; /* also bounds LAYER, so it cannot overflow */
    }
    if (*p++ != '.') return false;
    for (int s = 0; s < SLOT_COUNT; s++)
        if (a->slot_use[s] != SLOT_ABSENT && n->slot[s] && strcmp(p, n->slot[s]) == 0) return true;
    return n->ignored && strcmp(p, n->ignored) == 0;
}
