/*
 * model.c — loading a Llama-family model from GGUF, the checks shared with
 * the Hugging Face loader (hf.c), and the model's public getters.
 *
 * Supported architectures are the Llama family as GGUF names them: `llama`
 * (Llama 2/3.x, Mistral, SmolLM2, TinyLlama; RoPE on adjacent pairs because
 * the GGUF converter permutes Q/K for it) and `qwen2` (Q/K/V biases, NeoX
 * RoPE on halves). Anything else is refused by name rather than run wrongly.
 *
 * Every tensor's shape is checked against the hyper-parameters before use;
 * vectors are converted to F32 at load, matrices stay where they lie in the
 * memory map in their stored type (see model.h).
 */
#include "model/model.h"

#include "model/quant.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bounds on hyper-parameters: far above any real model, low enough that
 * products of them cannot overflow size_t arithmetic downstream. */
#define MAX_LAYERS 4096
#define MAX_EMBD (1 << 17)
#define MAX_HEADS 4096
#define MAX_FF (1 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_CTX (1 << 24)

const char *attrib_dtype_name(int t) {
    switch (t) {
    case ATTRIB_DTYPE_F32: return "F32";
    case ATTRIB_DTYPE_F16: return "F16";
    case ATTRIB_DTYPE_BF16: return "BF16";
    case ATTRIB_DTYPE_Q4_0: return "Q4_0";
    case ATTRIB_DTYPE_Q4_1: return "Q4_1";
    case ATTRIB_DTYPE_Q5_0: return "Q5_0";
    case ATTRIB_DTYPE_Q5_1: return "Q5_1";
    case ATTRIB_DTYPE_Q8_0: return "Q8_0";
    case ATTRIB_DTYPE_Q4_K: return "Q4_K";
    case ATTRIB_DTYPE_Q5_K: return "Q5_K";
    case ATTRIB_DTYPE_Q6_K: return "Q6_K";
    case ATTRIB_DTYPE_Q2_K: return "Q2_K";
    case ATTRIB_DTYPE_Q3_K: return "Q3_K";
    case ATTRIB_DTYPE_IQ4_NL: return "IQ4_NL";
    case ATTRIB_DTYPE_IQ4_XS: return "IQ4_XS";
    default: return "?";
    }
}

attrib_model_options attrib_model_default_options(void) {
    attrib_model_options o = {0, 0};
    return o;
}

bool attrib_model_own(attrib_model *m, void *buf) {
    if (!buf) return false;
    if (m->n_owned == m->cap_owned) {
        int ncap = m->cap_owned ? m->cap_owned * 2 : 64;
        void **n = attrib_realloc(m->owned, (size_t)ncap * sizeof *n);
        if (!n) {
            free(buf);
            return false;
        }
        m->owned = n;
        m->cap_owned = ncap;
    }
    m->owned[m->n_owned++] = buf;
    return true;
}

static void count_tensor(attrib_model *m, const attrib_tensor_ref *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= (uint64_t)t->ne[d];
    m->info.n_params += n;
    m->info.weight_bytes += t->n_bytes;
    if (t->type >= 0 && t->type < ATTRIB_DTYPE_COUNT_) m->info.dtype_counts[t->type]++;
}

static bool aligned_for(const void *p, int type) {
    size_t a = type == ATTRIB_DTYPE_F32 ? 4 : type == ATTRIB_DTYPE_F16 || type == ATTRIB_DTYPE_BF16 ? 2 : 1;
    return ((uintptr_t)p % a) == 0;
}

attrib_status attrib_model_vector(attrib_model *m, const attrib_tensor_ref *t, const char *name, int64_t n, float **out) {
    int64_t total = 1;
    for (int d = 0; d < t->n_dims; d++) total *= t->ne[d];
    if (t->n_dims != 1 || total != n)
        return attrib_fail(ATTRIB_E_SHAPE, "tensor '%s' should be a vector of %lld elements", name, (long long)n);
    int be, bb;
    if (!gguf_type_block(t->type, &be, &bb) || n % be != 0)
        return attrib_fail(ATTRIB_E_BAD_TYPE, "tensor '%s' has unsupported type %s", name, attrib_dtype_name(t->type));
    float *v = attrib_calloc_array((size_t)n, sizeof(float));
    if (!v || !attrib_model_own(m, v)) return attrib_fail(ATTRIB_E_NOMEM, "out of memory for '%s'", name);
    if (attrib_dequant_row(t->type, t->data, v, n) != 0)
        return attrib_fail(ATTRIB_E_BAD_TYPE, "tensor '%s' has unsupported type %s", name, attrib_dtype_name(t->type));
    count_tensor(m, t);
    *out = v;
    return ATTRIB_OK;
}

attrib_status attrib_model_matrix(attrib_model *m, const attrib_tensor_ref *t, const char *name, int64_t rows, int64_t cols,
                                  attrib_weight *w) {
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return attrib_fail(ATTRIB_E_SHAPE, "tensor '%s' has shape [%lld, %lld]%s; expected [%lld, %lld] (GGUF order, row length first)",
                           name, (long long)t->ne[0], (long long)(t->n_dims > 1 ? t->ne[1] : 1),
                           t->n_dims > 2 ? " and extra dimensions" : "", (long long)cols, (long long)rows);
    uint64_t rb;
    if (!gguf_row_bytes(t->type, cols, &rb))
        return attrib_fail(ATTRIB_E_BAD_TYPE, "tensor '%s': type %s cannot hold rows of %lld", name,
                           attrib_dtype_name(t->type), (long long)cols);
    w->data = t->data;
    if (!aligned_for(t->data, t->type)) { /* safetensors data need not be aligned: copy once */
        void *copy = attrib_malloc((size_t)t->n_bytes);
        if (!copy || !attrib_model_own(m, copy)) return attrib_fail(ATTRIB_E_NOMEM, "out of memory for '%s'", name);
        memcpy(copy, t->data, (size_t)t->n_bytes);
        w->data = copy;
    }
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = rb;
    count_tensor(m, t);
    return ATTRIB_OK;
}

float *attrib_model_workspace(attrib_model *m, size_t n) {
    if (n <= m->work_cap && m->work) return m->work;
    if (n > SIZE_MAX / sizeof(float)) return NULL;
    float *p = attrib_malloc(n * sizeof(float));
    if (!p) return NULL;
    free(m->work);
    m->work = p;
    m->work_cap = n;
    return p;
}

void attrib_weight_row(const attrib_weight *w, int64_t r, float *out) {
    attrib_dequant_row(w->type, (const uint8_t *)w->data + (uint64_t)r * w->row_bytes, out, w->cols);
}

/* ---- layers, from the architecture table ------------------------------------ */

/* Where each slot lands in attrib_layer, and whether it is a vector. */
static const struct {
    size_t offset;
    bool vector;
} slot_field[SLOT_COUNT] = {
    [SLOT_ATTN_NORM] = {offsetof(attrib_layer, attn_norm), true},
    [SLOT_Q] = {offsetof(attrib_layer, wq), false},
    [SLOT_K] = {offsetof(attrib_layer, wk), false},
    [SLOT_V] = {offsetof(attrib_layer, wv), false},
    [SLOT_QKV] = {offsetof(attrib_layer, wq), false}, /* split into wq, wk, wv below */
    [SLOT_O] = {offsetof(attrib_layer, wo), false},
    [SLOT_BQ] = {offsetof(attrib_layer, bq), true},
    [SLOT_BK] = {offsetof(attrib_layer, bk), true},
    [SLOT_BV] = {offsetof(attrib_layer, bv), true},
    [SLOT_Q_NORM] = {offsetof(attrib_layer, q_norm), true},
    [SLOT_K_NORM] = {offsetof(attrib_layer, k_norm), true},
    [SLOT_POST_ATTN_NORM] = {offsetof(attrib_layer, post_attn_norm), true},
    [SLOT_FFN_NORM] = {offsetof(attrib_layer, ffn_norm), true},
    [SLOT_GATE] = {offsetof(attrib_layer, w_gate), false},
    [SLOT_UP] = {offsetof(attrib_layer, w_up), false},
    [SLOT_GATE_UP] = {offsetof(attrib_layer, w_gate), false}, /* split into w_gate, w_up below */
    [SLOT_DOWN] = {offsetof(attrib_layer, w_down), false},
    [SLOT_POST_FFN_NORM] = {offsetof(attrib_layer, post_ffn_norm), true},
};

static bool slot_is_norm(int s) {
    return s == SLOT_ATTN_NORM || s == SLOT_FFN_NORM || s == SLOT_Q_NORM || s == SLOT_K_NORM || s == SLOT_POST_ATTN_NORM ||
           s == SLOT_POST_FFN_NORM;
}

/* Expected shape of a slot: ROWS x COLS for a matrix, ROWS elements for a vector. */
static void slot_shape(const attrib_model_info *in, int s, int64_t *rows, int64_t *cols) {
    const int64_t C = in->n_embd, F = in->n_ff, D = in->head_dim, qd = (int64_t)in->n_head * D,
                  kvd = (int64_t)in->n_head_kv * D;
    *cols = C;
    switch (s) {
    case SLOT_Q: case SLOT_BQ: *rows = qd; break;
    case SLOT_K: case SLOT_V: case SLOT_BK: case SLOT_BV: *rows = kvd; break;
    case SLOT_QKV: *rows = qd + 2 * kvd; break;
    case SLOT_O: *rows = C, *cols = qd; break;
    case SLOT_Q_NORM: case SLOT_K_NORM: *rows = D; break;
    case SLOT_GATE: case SLOT_UP: *rows = F; break;
    case SLOT_GATE_UP: *rows = 2 * F; break;
    case SLOT_DOWN: *rows = C, *cols = F; break;
    default: *rows = C; break; /* the width-sized norms */
    }
}

/* The rows [first, first + rows) of W as a matrix of their own. */
static attrib_weight weight_rows(const attrib_weight *w, int64_t first, int64_t rows) {
    attrib_weight v = *w;
    v.data = (const uint8_t *)w->data + (uint64_t)first * w->row_bytes;
    v.rows = rows;
    return v;
}

attrib_status attrib_model_load_layers(attrib_model *m, const arch_names *names, attrib_tensor_lookup find, void *ctx,
                                       float norm_offset) {
    attrib_model_info *in = &m->info;
    const arch_desc *a = m->desc;
    m->layers = attrib_calloc_array((size_t)in->n_layer, sizeof *m->layers);
    if (!m->layers) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    const int64_t qd = (int64_t)in->n_head * in->head_dim, kvd = (int64_t)in->n_head_kv * in->head_dim;
    for (int l = 0; l < in->n_layer; l++) {
        attrib_layer *L = &m->layers[l];
        bool fused_qkv = false;
        for (int sl = 0; sl < SLOT_COUNT; sl++) {
            if (a->slot_use[sl] == SLOT_ABSENT || !names->slot[sl]) continue;
            char name[128];
            int w = snprintf(name, sizeof name, names->layer_prefix, l);
            snprintf(name + w, sizeof name - (size_t)w, "%s", names->slot[sl]);
            attrib_tensor_ref t;
            attrib_status s = find(ctx, name, &t);
            if (s) return s;
            /* a config that declares biases (attention_bias) makes them required */
            const bool bias = sl == SLOT_BQ || sl == SLOT_BK || sl == SLOT_BV;
            if (!t.data) {
                if (a->slot_use[sl] == SLOT_REQUIRED || (bias && in->has_qkv_bias)) return attrib_fail(ATTRIB_E_MISSING, "required tensor '%s' is missing", name);
                continue;
            }
            int64_t rows, cols;
            slot_shape(in, sl, &rows, &cols);
            void *field = (char *)L + slot_field[sl].offset;
            if (slot_field[sl].vector) {
                float **v = field;
                if ((s = attrib_model_vector(m, &t, name, rows, v))) return s;
                if (slot_is_norm(sl) && norm_offset != 0.0f)
                    for (int64_t i = 0; i < rows; i++) (*v)[i] += norm_offset;
            } else if ((s = attrib_model_matrix(m, &t, name, rows, cols, field))) {
                return s;
            }
            if (sl == SLOT_QKV) fused_qkv = true;
        }
        if (a->slot_use[SLOT_QKV] && !fused_qkv) { /* then the separate matrices stand in for it */
            if (!L->wq.data || !L->wk.data || !L->wv.data) {
                char name[128];
                int w = snprintf(name, sizeof name, names->layer_prefix, l);
                snprintf(name + w, sizeof name - (size_t)w, "%s", names->slot[SLOT_QKV]);
                return attrib_fail(ATTRIB_E_MISSING, "required tensor '%s' (or separate Q, K and V) is missing", name);
            }
        } else if (a->slot_use[SLOT_QKV]) {
            const attrib_weight fused = L->wq;
            L->wq = weight_rows(&fused, 0, qd);
            L->wk = weight_rows(&fused, qd, kvd);
            L->wv = weight_rows(&fused, qd + kvd, kvd);
        }
        if (a->slot_use[SLOT_GATE_UP]) {
            const attrib_weight fused = L->w_gate;
            L->w_gate = weight_rows(&fused, 0, in->n_ff);
            L->w_up = weight_rows(&fused, in->n_ff, in->n_ff);
        }
        if (L->bq || L->bk || L->bv) in->has_qkv_bias = 1;
        if (L->q_norm) in->has_qk_norm = 1;
        if (L->post_attn_norm) in->has_post_norms = 1;
    }
    return ATTRIB_OK;
}

/* ---- GGUF -------------------------------------------------------------------- */

static attrib_status gguf_tensor_ref(const gguf_ctx *g, const char *name, bool required, attrib_tensor_ref *t) {
    int64_t i = gguf_find_tensor(g, name);
    memset(t, 0, sizeof *t);
    if (i < 0) {
        if (required) return attrib_fail(ATTRIB_E_MISSING, "required tensor '%s' is missing", name);
        return ATTRIB_OK;
    }
    const gguf_tensor *gt = gguf_get_tensor(g, i);
    t->data = gt->data;
    t->type = gt->type;
    t->n_dims = gt->n_dims;
    memcpy(t->ne, gt->ne, sizeof t->ne);
    t->n_bytes = gt->n_bytes;
    return ATTRIB_OK;
}

static attrib_status gguf_lookup(void *ctx, const char *name, attrib_tensor_ref *t) {
    return gguf_tensor_ref(ctx, name, false, t);
}

/* Reads integer key "<arch>.<suffix>" into *v; a missing optional key leaves *v. */
static attrib_status arch_int(const gguf_ctx *g, const char *arch, const char *suffix, bool required, int64_t lo,
                              int64_t hi, int *v) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t i = gguf_find_key(g, key);
    if (i < 0) {
        if (required) return attrib_fail(ATTRIB_E_MISSING, "required key '%s' is missing", key);
        return ATTRIB_OK;
    }
    int64_t x;
    if (gguf_kv_type(g, i) == GGUF_TYPE_ARRAY)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "key '%s' is a per-layer array; only uniform layers are supported", key);
    if (!gguf_get_int(g, i, &x)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "key '%s' must be an integer", key);
    if (x < lo || x > hi)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "key '%s' is %lld, outside [%lld, %lld]", key, (long long)x, (long long)lo,
                           (long long)hi);
    *v = (int)x;
    return ATTRIB_OK;
}

static attrib_status arch_float(const gguf_ctx *g, const char *arch, const char *suffix, bool required, float *v) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t i = gguf_find_key(g, key);
    if (i < 0) {
        if (required) return attrib_fail(ATTRIB_E_MISSING, "required key '%s' is missing", key);
        return ATTRIB_OK;
    }
    double x;
    if (!gguf_get_float(g, i, &x)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "key '%s' must be a float", key);
    *v = (float)x;
    return ATTRIB_OK;
}

static attrib_status load_gguf(attrib_model *m, const char *path) {
    attrib_status s = gguf_init_from_file(path, &m->gguf);
    if (s) return s;
    const gguf_ctx *g = m->gguf;
    m->info.format = ATTRIB_FORMAT_GGUF;

    int64_t ki = gguf_find_key(g, "general.architecture");
    const char *str;
    size_t len;
    if (ki < 0) return attrib_fail(ATTRIB_E_MISSING, "required key 'general.architecture' is missing");
    if (!gguf_get_str(g, ki, &str, &len)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "key 'general.architecture' must be a string");
    m->arch = attrib_strndup(str, len > 64 ? 64 : len);
    if (!m->arch) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    ki = gguf_find_key(g, "general.name");
    m->name = (ki >= 0 && gguf_get_str(g, ki, &str, &len)) ? attrib_strndup(str, len > 256 ? 256 : len) : attrib_strdup("");
    if (!m->name) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");

    const char *arch = m->arch;
    attrib_model_info *in = &m->info;
    if (!(m->desc = arch_by_gguf_name(arch))) {
        char names[256];
        arch_list_names(names, sizeof names, 0);
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "architecture '%s' is not supported (supported: %s)", arch, names);
    }
    in->rope_layout = m->desc->gguf_rope;
    in->n_ctx_train = 2048;
    if ((s = arch_int(g, arch, "block_count", true, 1, MAX_LAYERS, &in->n_layer))) return s;
    if ((s = arch_int(g, arch, "embedding_length", true, 1, MAX_EMBD, &in->n_embd))) return s;
    if ((s = arch_int(g, arch, "feed_forward_length", true, 1, MAX_FF, &in->n_ff))) return s;
    if ((s = arch_int(g, arch, "attention.head_count", true, 1, MAX_HEADS, &in->n_head))) return s;
    in->n_head_kv = in->n_head;
    if ((s = arch_int(g, arch, "attention.head_count_kv", false, 1, MAX_HEADS, &in->n_head_kv))) return s;
    if ((s = arch_int(g, arch, "context_length", false, 1, MAX_CTX, &in->n_ctx_train))) return s;
    in->head_dim = in->n_embd / in->n_head;
    if ((s = arch_int(g, arch, "attention.key_length", false, 1, MAX_EMBD, &in->head_dim))) return s;
    int value_len = in->head_dim;
    if ((s = arch_int(g, arch, "attention.value_length", false, 1, MAX_EMBD, &value_len))) return s;
    if (value_len != in->head_dim)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "attention.value_length %d differs from key_length %d", value_len, in->head_dim);
    in->rope_dim = in->head_dim;
    if ((s = arch_int(g, arch, "rope.dimension_count", false, 1, MAX_EMBD, &in->rope_dim))) return s;
    in->rms_eps = 1e-5f;
    if ((s = arch_float(g, arch, "attention.layer_norm_rms_epsilon", true, &in->rms_eps))) return s;
    in->rope_theta = 10000.0f;
    if ((s = arch_float(g, arch, "rope.freq_base", false, &in->rope_theta))) return s;
    float rope_scale = 1.0f;
    if ((s = arch_float(g, arch, "rope.scale_linear", false, &rope_scale))) return s;
    char key[256];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    ki = gguf_find_key(g, key);
    if (ki >= 0 && gguf_get_str(g, ki, &str, &len) && !(len == 4 && memcmp(str, "none", 4) == 0)) {
        const bool linear = len == 6 && memcmp(str, "linear", 6) == 0;
        /* phi3's longrope is carried by the rope_factors_* tensors and an attention factor */
        const bool longrope = m->desc->slot_use[SLOT_QKV] && ((len == 8 && memcmp(str, "longrope", 8) == 0) || (len == 2 && memcmp(str, "su", 2) == 0));
        if (linear && m->desc->global_rope_linear) {
            if ((s = arch_float(g, arch, "rope.scaling.factor", false, &rope_scale))) return s;
        } else if (!longrope) {
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "RoPE scaling type '%.*s' is not supported for %s", (int)(len > 32 ? 32 : len),
                               str, arch);
        }
    }
    if (rope_scale != 1.0f && !m->desc->global_rope_linear)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "linear RoPE scaling (%s.rope.scale_linear) is not supported", arch);
    if (!(rope_scale >= 1.0f) || !isfinite(rope_scale) || rope_scale > 1024.0f)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "RoPE scaling factor %g is invalid", (double)rope_scale);
    m->rope_linear = rope_scale;
    m->rope_attn_factor = 1.0f;
    if ((s = arch_float(g, arch, "rope.scaling.attn_factor", false, &m->rope_attn_factor))) return s;
    if (!(m->rope_attn_factor > 0.0f) || !isfinite(m->rope_attn_factor) || m->rope_attn_factor > 16.0f)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "key '%s.rope.scaling.attn_factor' is %g", arch, (double)m->rope_attn_factor);
    if (m->desc->softcaps == 2) { /* llama.cpp's defaults when the keys are absent, as Gemma 2's config has them */
        m->attn_softcap = 50.0f;
        m->final_softcap = 30.0f;
        if ((s = arch_float(g, arch, "attn_logit_softcapping", false, &m->attn_softcap))) return s;
    }
    if (m->desc->softcaps && (s = arch_float(g, arch, "final_logit_softcapping", false, &m->final_softcap))) return s;
    if (m->desc->swa_period > 1) {
        if (m->desc->softcaps == 2) in->sliding_window = 4096;
        if ((s = arch_int(g, arch, "attention.sliding_window", false, 0, MAX_CTX, &in->sliding_window))) return s;
    }
    /* llama.cpp's fixed base for gemma3's local layers; without a window every layer is global */
    if (m->desc->local_rope_base && in->sliding_window > 0) m->rope_theta_local = 10000.0f;
    if (m->desc->attn_scale_key) {
        /* llama.cpp scales gemma queries by 1/sqrt(n_embd / n_head) for the 27B
         * models (46 layers for gemma2, 62 for gemma3) and by 1/sqrt(head_dim)
         * otherwise; GGUF has no key for it */
        const bool big = (in->n_layer == 46 && m->desc->softcaps) || (in->n_layer == 62 && m->desc->local_rope_base);
        if (big) m->attn_scale = 1.0f / sqrtf((float)(in->n_embd / in->n_head));
    }

    /* shapes are validated after the generic hyper-parameter checks */
    if ((s = attrib_model_finish(m, NULL))) return s; /* validates hyper-parameters only (no weights yet) */

    const int64_t C = in->n_embd;
    attrib_tensor_ref t;
    if ((s = gguf_tensor_ref(g, "token_embd.weight", true, &t))) return s;
    if (t.n_dims != 2 || t.ne[0] != C)
        return attrib_fail(ATTRIB_E_SHAPE, "tensor 'token_embd.weight' must be [%lld, n_vocab]", (long long)C);
    if (t.ne[1] > MAX_VOCAB) return attrib_fail(ATTRIB_E_BAD_VALUE, "vocabulary of %lld rows is too large", (long long)t.ne[1]);
    in->n_vocab = (int)t.ne[1];
    if ((s = attrib_model_matrix(m, &t, "token_embd.weight", in->n_vocab, C, &m->tok_embd))) return s;
    if ((s = gguf_tensor_ref(g, "output.weight", false, &t))) return s;
    if (t.data) {
        if ((s = attrib_model_matrix(m, &t, "output.weight", in->n_vocab, C, &m->output))) return s;
    } else {
        m->output = m->tok_embd;
        in->tied_output = 1;
    }
    if ((s = gguf_tensor_ref(g, "output_norm.weight", true, &t))) return s;
    if ((s = attrib_model_vector(m, &t, "output_norm.weight", C, &m->output_norm))) return s;
    if ((s = gguf_tensor_ref(g, "rope_freqs.weight", false, &t))) return s;
    /* longrope: attrib runs within the original context, where llama.cpp uses the short factors */
    if (!t.data && m->desc->slot_use[SLOT_QKV]) {
        if ((s = gguf_tensor_ref(g, "rope_factors_short.weight", false, &t))) return s;
        int orig = 0;
        if ((s = arch_int(g, arch, "rope.scaling.original_context_length", false, 1, MAX_CTX, &orig))) return s;
        if (t.data && orig > 0 && orig < in->n_ctx_train) in->n_ctx_train = orig; /* the short factors' range */
    }
    if (t.data) {
        if ((s = attrib_model_vector(m, &t, "rope_freqs.weight", in->rope_dim / 2, &m->rope_factors))) return s;
        in->has_rope_freqs = 1;
    }

    if ((s = attrib_model_load_layers(m, &arch_gguf_names, gguf_lookup, (void *)g, 0.0f))) return s;
    /* Tensors we do not use would silently change the model (e.g. a newer
     * architecture's extra norms): refuse them rather than compute a wrong answer. */
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const char *tn = gguf_get_tensor(g, i)->name;
        bool ok = strcmp(tn, "token_embd.weight") == 0 || strcmp(tn, "output.weight") == 0 ||
                  strcmp(tn, "output_norm.weight") == 0 || strcmp(tn, "rope_freqs.weight") == 0 ||
                  (m->desc->slot_use[SLOT_QKV] && (strcmp(tn, "rope_factors_short.weight") == 0 ||
                                                   strcmp(tn, "rope_factors_long.weight") == 0)) ||
                  arch_is_layer_tensor(m->desc, &arch_gguf_names, tn, in->n_layer);
        if (!ok) return attrib_fail(ATTRIB_E_UNSUPPORTED, "tensor '%s' is not part of a supported %s model", tn, arch);
    }

    s = attrib_tokenizer_from_gguf(g, &m->tok);
    if (s == ATTRIB_E_MISSING && gguf_find_key(g, "tokenizer.ggml.model") < 0) {
        m->tok = NULL; /* weights without a vocabulary are still usable from ids */
        s = ATTRIB_OK;
    }
    if (s) return attrib_fail_context(s, "tokenizer");
    return ATTRIB_OK;
}

/* ---- common checks ------------------------------------------------------------ */

/* The D/2 inverse frequencies of RoPE with base THETA, divided by FACTORS
 * (rope_freqs / longrope) when given; a new array owned by M. */
static attrib_status rope_frequencies(attrib_model *m, float theta, const float *factors, float **out) {
    const int half = m->info.rope_dim / 2;
    float *f = attrib_calloc_array((size_t)half, sizeof(float));
    if (!f || !attrib_model_own(m, f)) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int i = 0; i < half; i++) {
        double v = pow((double)theta, -2.0 * i / m->info.rope_dim);
        if (factors) {
            if (!(factors[i] > 0.0f) || !isfinite(factors[i]))
                return attrib_fail(ATTRIB_E_BAD_VALUE, "RoPE frequency factor %d is %g", i, (double)factors[i]);
            v /= factors[i];
        }
        f[i] = (float)v;
    }
    *out = f;
    return ATTRIB_OK;
}

attrib_status attrib_model_finish(attrib_model *m, const attrib_model_options *opt) {
    attrib_model_info *in = &m->info;
    if (in->n_layer < 1 || in->n_layer > MAX_LAYERS) return attrib_fail(ATTRIB_E_BAD_VALUE, "layer count %d is invalid", in->n_layer);
    if (in->n_embd < 1 || in->n_embd > MAX_EMBD) return attrib_fail(ATTRIB_E_BAD_VALUE, "embedding length %d is invalid", in->n_embd);
    if (in->n_head < 1 || in->n_head > MAX_HEADS) return attrib_fail(ATTRIB_E_BAD_VALUE, "head count %d is invalid", in->n_head);
    if (in->n_head_kv < 1 || in->n_head_kv > in->n_head || in->n_head % in->n_head_kv != 0)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "KV head count %d must divide the head count %d", in->n_head_kv, in->n_head);
    if (in->head_dim < 2 || in->head_dim % 2 != 0 || (int64_t)in->head_dim * in->n_head > MAX_EMBD * 4)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "head dimension %d is invalid (must be even)", in->head_dim);
    if (in->rope_dim != in->head_dim)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "partial rotary embeddings (rope dimension %d of head dimension %d) are not supported",
                           in->rope_dim, in->head_dim);
    if (in->n_ff < 1 || in->n_ff > MAX_FF) return attrib_fail(ATTRIB_E_BAD_VALUE, "feed-forward length %d is invalid", in->n_ff);
    if (!(in->rms_eps > 0.0f) || !isfinite(in->rms_eps) || in->rms_eps > 1.0f)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "RMSNorm epsilon %g is invalid", (double)in->rms_eps);
    if (!(in->rope_theta > 1.0f) || !isfinite(in->rope_theta))
        return attrib_fail(ATTRIB_E_BAD_VALUE, "RoPE base %g is invalid", (double)in->rope_theta);
    if (in->n_ctx_train < 1 || in->n_ctx_train > MAX_CTX)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "context length %d is invalid", in->n_ctx_train);
    if (!m->layers) return ATTRIB_OK; /* called early, before weights: hyper-parameters only */

    if (m->tok) {
        int tv = attrib_tokenizer_n_vocab(m->tok);
        if (tv > in->n_vocab)
            return attrib_fail(ATTRIB_E_SHAPE, "the tokenizer has %d tokens but the embedding matrix only %d rows", tv, in->n_vocab);
    }
    /* RoPE frequencies in double: they multiply positions up to the context length */
    attrib_status st = rope_frequencies(m, in->rope_theta, m->rope_factors, &m->rope_inv_freq);
    if (!st && m->rope_linear > 1.0f) /* the global layers' positions are divided by the factor */
        for (int i = 0; i < in->rope_dim / 2; i++) m->rope_inv_freq[i] /= m->rope_linear;
    if (!st && m->rope_theta_local > 0.0f) st = rope_frequencies(m, m->rope_theta_local, NULL, &m->rope_inv_freq_local);
    if (st) return st;
    if (m->embed_scale == 0.0f) m->embed_scale = m->desc && m->desc->embed_scale_sqrt ? sqrtf((float)in->n_embd) : 1.0f;
    if (m->attn_scale == 0.0f) m->attn_scale = 1.0f / sqrtf((float)in->head_dim);
    if (m->rope_attn_factor == 0.0f) m->rope_attn_factor = 1.0f;
    if (!(m->attn_softcap >= 0.0f) || !(m->final_softcap >= 0.0f) || !isfinite(m->attn_softcap) || !isfinite(m->final_softcap))
        return attrib_fail(ATTRIB_E_BAD_VALUE, "soft-cap %g / %g is invalid", (double)m->attn_softcap, (double)m->final_softcap);
    if (in->sliding_window < 0) return attrib_fail(ATTRIB_E_BAD_VALUE, "sliding window %d is invalid", in->sliding_window);
    in->n_windowed_layers = 0;
    for (int l = 0; l < in->n_layer; l++) {
        attrib_layer *L = &m->layers[l];
        const bool windowed = in->sliding_window > 0 && m->desc &&
                              (m->layer_windowed ? m->layer_windowed[l] != 0 : arch_layer_windowed(m->desc, l));
        L->window = windowed ? in->sliding_window : 0;
        L->rope_inv_freq = windowed && m->rope_inv_freq_local ? m->rope_inv_freq_local : m->rope_inv_freq;
        in->n_windowed_layers += windowed;
    }
    in->activation = m->desc && m->desc->act == ARCH_ACT_GELU_TANH ? "gelu_tanh" : "silu";
    in->embed_scale = m->embed_scale;
    in->attn_scale = m->attn_scale;
    in->attn_softcap = m->attn_softcap;
    in->final_softcap = m->final_softcap;
    in->rope_theta_local = m->rope_theta_local;
    in->path = m->path;
    in->arch = m->arch;
    in->name = m->name ? m->name : "";
    m->n_threads = opt && opt->n_threads > 0 ? opt->n_threads : attrib_cpu_count();

    if (opt && opt->check_weights) {
        size_t maxc = (size_t)in->n_embd > (size_t)in->n_ff ? (size_t)in->n_embd : (size_t)in->n_ff;
        if ((size_t)in->n_head * in->head_dim > maxc) maxc = (size_t)in->n_head * in->head_dim;
        float *row = attrib_calloc_array(maxc, sizeof(float));
        if (!row) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        st = ATTRIB_OK;
        for (int l = -1; l < in->n_layer && !st; l++) {
            const attrib_weight *ws[7];
            const char *names[7];
            int nw = 0;
            if (l < 0) {
                ws[nw] = &m->tok_embd, names[nw++] = "token_embd";
                if (!in->tied_output) ws[nw] = &m->output, names[nw++] = "output";
            } else {
                attrib_layer *L = &m->layers[l];
                ws[nw] = &L->wq, names[nw++] = "attn_q";
                ws[nw] = &L->wk, names[nw++] = "attn_k";
                ws[nw] = &L->wv, names[nw++] = "attn_v";
                ws[nw] = &L->wo, names[nw++] = "attn_output";
                ws[nw] = &L->w_gate, names[nw++] = "ffn_gate";
                ws[nw] = &L->w_up, names[nw++] = "ffn_up";
                ws[nw] = &L->w_down, names[nw++] = "ffn_down";
            }
            for (int w = 0; w < nw && !st; w++)
                for (int64_t r = 0; r < ws[w]->rows && !st; r++) {
                    attrib_weight_row(ws[w], r, row);
                    for (int64_t c = 0; c < ws[w]->cols; c++)
                        if (!isfinite(row[c])) {
                            char where[32] = "";
                            if (l >= 0) snprintf(where, sizeof where, "blk.%d.", l);
                            st = attrib_fail(ATTRIB_E_NUMERIC, "weight %s%s row %lld column %lld is %g", where, names[w],
                                             (long long)r, (long long)c, (double)row[c]);
                            break;
                        }
                }
        }
        free(row);
        if (st) return st;
    }
    return ATTRIB_OK;
}

/* ---- public API ---------------------------------------------------------------- */

static bool is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

attrib_status attrib_model_load(const char *path, const attrib_model_options *opt, attrib_model **model_out) {
    if (!path || !model_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_model_load: NULL argument");
    attrib_model *m = attrib_calloc_array(1, sizeof *m);
    if (!m) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    m->path = attrib_strdup(path);
    if (!m->path) {
        free(m);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    }
    attrib_status s;
    if (is_directory(path)) {
        s = attrib_model_load_hf(m, path);
    } else if (ends_with(path, "config.json")) {
        char *dir = attrib_strdup(path);
        if (!dir) {
            s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        } else {
            char *slash = strrchr(dir, '/');
            if (slash) *slash = '\0'; else strcpy(dir, ".");
            s = attrib_model_load_hf(m, dir);
            free(dir);
        }
    } else {
        s = load_gguf(m, path);
    }
    if (!s) s = attrib_model_finish(m, opt);
    if (s) {
        attrib_fail_context(s, "%s", path);
        attrib_model_free(m);
        return s;
    }
    *model_out = m;
    return ATTRIB_OK;
}

attrib_status attrib_model_share(attrib_model *m, attrib_model **handle_out) {
    if (!m || !handle_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_model_share: NULL argument");
    attrib_model *h = attrib_calloc_array(1, sizeof *h);
    if (!h) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    *h = *m;
    h->work = NULL;
    h->work_cap = 0;
    h->owner = m->owner ? m->owner : m;
    *handle_out = h;
    return ATTRIB_OK;
}

void attrib_model_free(attrib_model *m) {
    if (!m) return;
    if (m->owner) { /* a shared handle: the weights, tokenizer and files are the owner's */
        free(m->work);
        free(m);
        return;
    }
    attrib_tokenizer_free(m->tok);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->work);
    gguf_free(m->gguf);
    for (int i = 0; i < m->n_st_files; i++) attrib_unmap_file(&m->st_files[i]);
    free(m->st_files);
    free(m->path);
    free(m->arch);
    free(m->name);
    free(m);
}

const attrib_model_info *attrib_model_get_info(const attrib_model *m) { return m ? &m->info : NULL; }

const attrib_tokenizer *attrib_model_tokenizer(const attrib_model *m) { return m ? m->tok : NULL; }

void attrib_model_set_threads(attrib_model *m, int n) {
    if (m) m->n_threads = n > 0 ? n : attrib_cpu_count();
}

void attrib_model_set_compute(attrib_model *m, attrib_compute compute) {
    if (m) m->compute = compute == ATTRIB_COMPUTE_FAST ? ATTRIB_COMPUTE_FAST : ATTRIB_COMPUTE_EXACT;
}

attrib_compute attrib_model_get_compute(const attrib_model *m) {
    return m && m->compute == ATTRIB_COMPUTE_FAST ? ATTRIB_COMPUTE_FAST : ATTRIB_COMPUTE_EXACT;
}

attrib_status attrib_model_embed(attrib_model *m, const int32_t *ids, size_t n, float *out) {
    if (!m || (!ids && n) || (!out && n)) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_model_embed: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->info.n_vocab)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "token id %d at index %zu is outside the vocabulary [0, %d)", ids[i], i,
                               m->info.n_vocab);
    for (size_t i = 0; i < n; i++) attrib_weight_row(&m->tok_embd, ids[i], out + i * (size_t)m->info.n_embd);
    return ATTRIB_OK;
}
