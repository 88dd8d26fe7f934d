/*
 * hf.c — loading a Hugging Face checkpoint directory: config.json,
 * model.safetensors or sharded model-0000X-of-0000N.safetensors with
 * model.safetensors.index.json, and tokenizer.json.
 *
 * A safetensors header is untrusted JSON: its size is bounded, each entry's
 * dtype, shape and offsets are checked, the byte size implied by the shape
 * must equal the offsets' span, and the spans must tile the data section
 * exactly (no gaps, no overlaps, nothing past the end). Shapes are turned
 * into GGUF order (row length first) so model.c's checks serve both formats.
 * Weights are memory-mapped; F16/BF16 stay as stored and are dequantised per
 * matrix like GGUF weights.
 */
#include "model.h"

#include "tokenizer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CONFIG_BYTES (4u << 20)
#define MAX_HEADER_BYTES (100u << 20)
#define MAX_SHARDS 4096

typedef struct st_entry {
    const char *name; /* borrowed from the JSON */
    attrib_tensor_ref ref;
    uint64_t begin, end;
} st_entry;

typedef struct st_file {
    json_t *header;
    st_entry *entries;
    size_t n;
} st_file;

typedef struct st_set {
    st_file *files;
    int n_files;
} st_set;

static int cmp_begin(const void *a, const void *b) {
    uint64_t x = ((const st_entry *)a)->begin, y = ((const st_entry *)b)->begin;
    return x < y ? -1 : x > y;
}

static bool dtype_of(const char *s, int *type, size_t *esize) {
    if (strcmp(s, "F32") == 0) { *type = ATTRIB_DTYPE_F32; *esize = 4; return true; }
    if (strcmp(s, "F16") == 0) { *type = ATTRIB_DTYPE_F16; *esize = 2; return true; }
    if (strcmp(s, "BF16") == 0) { *type = ATTRIB_DTYPE_BF16; *esize = 2; return true; }
    return false;
}

/* Parses one mapped safetensors file into F (entries sorted by offset). */
static attrib_status parse_safetensors(const attrib_mapped_file *mf, const char *path, st_file *f) {
    memset(f, 0, sizeof *f);
    if (mf->size < 8) return attrib_fail(ATTRIB_E_TRUNCATED, "%s: %zu bytes is too short for a safetensors header", path, mf->size);
    uint64_t hlen;
    memcpy(&hlen, mf->data, 8);
    if (hlen > MAX_HEADER_BYTES) return attrib_fail(ATTRIB_E_LIMIT, "%s: header of %llu bytes exceeds the %u-byte limit", path,
                                                    (unsigned long long)hlen, MAX_HEADER_BYTES);
    if (hlen > mf->size - 8)
        return attrib_fail(ATTRIB_E_TRUNCATED, "%s: header of %llu bytes runs past the end of the %zu-byte file", path,
                           (unsigned long long)hlen, mf->size);
    json_error_t jerr;
    f->header = json_loadb((const char *)mf->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->header) return attrib_fail(ATTRIB_E_BAD_JSON, "%s: header is not valid JSON: %s (position %d)", path, jerr.text, jerr.position);
    if (!json_is_object(f->header)) return attrib_fail(ATTRIB_E_BAD_JSON, "%s: header is not a JSON object", path);
    const uint8_t *data = mf->data + 8 + hlen;
    uint64_t data_size = mf->size - 8 - hlen;
    size_t cap = json_object_size(f->header);
    f->entries = attrib_calloc_array(cap + 1, sizeof *f->entries);
    if (!f->entries) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(f->header, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st_entry *e = &f->entries[f->n];
        e->name = key;
        json_t *dt = json_object_get(val, "dtype"), *shape = json_object_get(val, "shape"),
               *offs = json_object_get(val, "data_offsets");
        if (!json_is_object(val) || !json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
            json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1)))
            return attrib_fail(ATTRIB_E_BAD_JSON, "%s: tensor '%s' needs dtype, shape and two data_offsets", path, key);
        size_t esize;
        if (!dtype_of(json_string_value(dt), &e->ref.type, &esize))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "%s: tensor '%s' has dtype %s (supported: F32, F16, BF16)", path, key,
                               json_string_value(dt));
        size_t nd = json_array_size(shape);
        if (nd < 1 || nd > 4)
            return attrib_fail(ATTRIB_E_BAD_DIMS, "%s: tensor '%s' has %zu dimensions (1..4 supported)", path, key, nd);
        uint64_t n_elem = 1;
        e->ref.n_dims = (int)nd;
        for (int d = 0; d < 4; d++) e->ref.ne[d] = 1;
        for (size_t d = 0; d < nd; d++) {
            json_t *x = json_array_get(shape, d);
            if (!json_is_integer(x) || json_integer_value(x) <= 0)
                return attrib_fail(ATTRIB_E_BAD_DIMS, "%s: tensor '%s' dimension %zu is not a positive integer", path, key, d);
            uint64_t v = (uint64_t)json_integer_value(x);
            if (!attrib_mul_u64(n_elem, v, &n_elem) || n_elem > (uint64_t)INT64_MAX / 8)
                return attrib_fail(ATTRIB_E_BAD_DIMS, "%s: tensor '%s' element count overflows", path, key);
            e->ref.ne[nd - 1 - d] = (int64_t)v; /* safetensors is row-major: last dimension is contiguous */
        }
        json_int_t b = json_integer_value(json_array_get(offs, 0)), en = json_integer_value(json_array_get(offs, 1));
        if (b < 0 || en < b || (uint64_t)en > data_size)
            return attrib_fail(ATTRIB_E_BAD_OFFSET, "%s: tensor '%s' data_offsets [%lld, %lld] outside the %llu-byte data section",
                               path, key, (long long)b, (long long)en, (unsigned long long)data_size);
        e->begin = (uint64_t)b;
        e->end = (uint64_t)en;
        if (e->end - e->begin != n_elem * esize)
            return attrib_fail(ATTRIB_E_SHAPE, "%s: tensor '%s' spans %llu bytes but its shape needs %llu", path, key,
                               (unsigned long long)(e->end - e->begin), (unsigned long long)(n_elem * esize));
        e->ref.data = data + e->begin;
        e->ref.n_bytes = e->end - e->begin;
        f->n++;
    }
    qsort(f->entries, f->n, sizeof *f->entries, cmp_begin);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->entries[i].begin != at)
            return attrib_fail(f->entries[i].begin < at ? ATTRIB_E_OVERLAP : ATTRIB_E_BAD_OFFSET,
                               "%s: tensor '%s' starts at %llu but the previous tensor ends at %llu (offsets must tile the data)",
                               path, f->entries[i].name, (unsigned long long)f->entries[i].begin, (unsigned long long)at);
        at = f->entries[i].end;
    }
    if (at != data_size)
        return attrib_fail(ATTRIB_E_BAD_OFFSET, "%s: tensors cover %llu bytes of a %llu-byte data section", path,
                           (unsigned long long)at, (unsigned long long)data_size);
    return ATTRIB_OK;
}

static void st_set_free(st_set *s) {
    for (int i = 0; i < s->n_files; i++) {
        json_decref(s->files[i].header);
        free(s->files[i].entries);
    }
    free(s->files);
}

static attrib_status find_tensor(const st_set *set, const char *name, bool required, attrib_tensor_ref *out) {
    for (int i = 0; i < set->n_files; i++)
        for (size_t j = 0; j < set->files[i].n; j++)
            if (strcmp(set->files[i].entries[j].name, name) == 0) {
                *out = set->files[i].entries[j].ref;
                return ATTRIB_OK;
            }
    memset(out, 0, sizeof *out);
    if (required) return attrib_fail(ATTRIB_E_MISSING, "required tensor '%s' is missing", name);
    return ATTRIB_OK;
}

static char *join(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = attrib_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static bool file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Maps every shard named by model.safetensors.index.json (or the single file). */
static attrib_status open_shards(attrib_model *m, const char *dir, st_set *set) {
    char *single = join(dir, "model.safetensors");
    char *index = join(dir, "model.safetensors.index.json");
    attrib_status s = ATTRIB_OK;
    const char **names = NULL;
    json_t *idx = NULL;
    int n = 0;
    if (!single || !index) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
    if (file_exists(index)) {
        char *text;
        size_t len;
        if ((s = attrib_read_small_file(index, MAX_CONFIG_BYTES * 8, &text, &len))) goto done;
        json_error_t jerr;
        idx = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        free(text);
        json_t *wm = idx ? json_object_get(idx, "weight_map") : NULL;
        if (!json_is_object(wm)) { s = attrib_fail(ATTRIB_E_BAD_JSON, "%s: no weight_map object", index); goto done; }
        names = attrib_calloc_array(json_object_size(wm) + 1, sizeof *names);
        if (!names) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
        const char *k;
        json_t *v;
        json_object_foreach(wm, k, v) {
            const char *fn = json_string_value(v);
            if (!fn || strchr(fn, '/') || strcmp(fn, "..") == 0 || fn[0] == '\0') {
                s = attrib_fail(ATTRIB_E_BAD_JSON, "%s: tensor '%s' maps to an invalid shard name", index, k);
                goto done;
            }
            bool seen = false;
            for (int i = 0; i < n && !seen; i++) seen = strcmp(names[i], fn) == 0;
            if (!seen) {
                if (n >= MAX_SHARDS) { s = attrib_fail(ATTRIB_E_LIMIT, "%s: more than %d shards", index, MAX_SHARDS); goto done; }
                names[n++] = fn;
            }
        }
    } else if (file_exists(single)) {
        names = attrib_calloc_array(1, sizeof *names);
        if (!names) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
        names[n++] = "model.safetensors";
    } else {
        s = attrib_fail(ATTRIB_E_MISSING, "%s has neither model.safetensors nor model.safetensors.index.json", dir);
        goto done;
    }
    m->st_files = attrib_calloc_array((size_t)n, sizeof *m->st_files);
    set->files = attrib_calloc_array((size_t)n, sizeof *set->files);
    if (!m->st_files || !set->files) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        char *p = join(dir, names[i]);
        if (!p) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
        s = attrib_map_file(p, &m->st_files[i]);
        if (!s) {
            m->n_st_files = i + 1;
            s = parse_safetensors(&m->st_files[i], p, &set->files[i]);
            set->n_files = i + 1;
        }
        free(p);
        if (s) goto done;
    }
done:
    json_decref(idx);
    free(names);
    free(single);
    free(index);
    return s;
}

/* Integer field of config.json with a default (when DEF >= 0) and range check. */
static attrib_status cfg_int(json_t *cfg, const char *key, int64_t def, int64_t lo, int64_t hi, int *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (def < 0) return attrib_fail(ATTRIB_E_MISSING, "config.json lacks '%s'", key);
        *out = (int)def;
        return ATTRIB_OK;
    }
    if (!json_is_integer(v)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "config.json '%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "config.json '%s' is %lld, outside [%lld, %lld]", key, (long long)x, (long long)lo,
                           (long long)hi);
    *out = (int)x;
    return ATTRIB_OK;
}

static attrib_status cfg_float(json_t *cfg, const char *key, double def, float *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return ATTRIB_OK;
    }
    if (!json_is_number(v)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "config.json '%s' must be a number", key);
    *out = (float)json_number_value(v);
    return ATTRIB_OK;
}

/* Llama 3 "rope_scaling": {"rope_type": "llama3", factor, low_freq_factor,
 * high_freq_factor, original_max_position_embeddings} → per-frequency divisors
 * (the same quantity GGUF stores as rope_freqs.weight). */
static attrib_status llama3_factors(attrib_model *m, json_t *rs) {
    const attrib_model_info *in = &m->info;
    double factor = json_number_value(json_object_get(rs, "factor"));
    double lo = json_number_value(json_object_get(rs, "low_freq_factor"));
    double hi = json_number_value(json_object_get(rs, "high_freq_factor"));
    double orig = json_number_value(json_object_get(rs, "original_max_position_embeddings"));
    if (!(factor >= 1.0) || !(lo > 0) || !(hi > lo) || !(orig > 0))
        return attrib_fail(ATTRIB_E_BAD_VALUE, "config.json rope_scaling (llama3) has invalid factors");
    int half = in->rope_dim / 2;
    float *f = attrib_calloc_array((size_t)half, sizeof(float));
    if (!f || !attrib_model_own(m, f)) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    double lo_wavelen = orig / lo, hi_wavelen = orig / hi;
    for (int i = 0; i < half; i++) {
        double freq = pow((double)in->rope_theta, -2.0 * i / in->rope_dim);
        double wavelen = 2.0 * M_PI / freq;
        double div;
        if (wavelen < hi_wavelen) div = 1.0;
        else if (wavelen > lo_wavelen) div = factor;
        else {
            double smooth = (orig / wavelen - lo) / (hi - lo);
            div = 1.0 / ((1.0 - smooth) / factor + smooth);
        }
        f[i] = (float)div;
    }
    m->rope_factors = f;
    m->info.has_rope_freqs = 1;
    return ATTRIB_OK;
}

static attrib_status read_config(attrib_model *m, const char *dir, json_t **cfg_out) {
    char *path = join(dir, "config.json");
    if (!path) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    char *text;
    size_t len;
    attrib_status s = attrib_read_small_file(path, MAX_CONFIG_BYTES, &text, &len);
    if (s) {
        free(path);
        return s;
    }
    json_error_t jerr;
    json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        s = attrib_fail(ATTRIB_E_BAD_JSON, "%s: not a JSON object (%s)", path, cfg ? "" : jerr.text);
        free(path);
        return s;
    }
    free(path);
    *cfg_out = cfg;
    attrib_model_info *in = &m->info;
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    if (!mt) return attrib_fail(ATTRIB_E_MISSING, "config.json lacks 'model_type'");
    bool qwen2 = strcmp(mt, "qwen2") == 0;
    if (strcmp(mt, "llama") != 0 && strcmp(mt, "mistral") != 0 && !qwen2)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "model_type '%s' is not supported (supported: llama, mistral, qwen2)", mt);
    m->arch = attrib_strdup(qwen2 ? "qwen2" : "llama");
    if (!m->arch) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
    if (act && strcmp(act, "silu") != 0) return attrib_fail(ATTRIB_E_UNSUPPORTED, "hidden_act '%s' is not supported (silu is)", act);
    in->rope_layout = ATTRIB_ROPE_HALF; /* Hugging Face Llama/Qwen2 rotate halves */
    json_t *interleaved = json_object_get(cfg, "rope_interleaved");
    if (json_is_true(interleaved)) in->rope_layout = ATTRIB_ROPE_INTERLEAVED;
    if ((s = cfg_int(cfg, "num_hidden_layers", -1, 1, 4096, &in->n_layer))) return s;
    if ((s = cfg_int(cfg, "hidden_size", -1, 1, 1 << 17, &in->n_embd))) return s;
    if ((s = cfg_int(cfg, "intermediate_size", -1, 1, 1 << 20, &in->n_ff))) return s;
    if ((s = cfg_int(cfg, "num_attention_heads", -1, 1, 4096, &in->n_head))) return s;
    if ((s = cfg_int(cfg, "num_key_value_heads", in->n_head, 1, 4096, &in->n_head_kv))) return s;
    if ((s = cfg_int(cfg, "head_dim", in->n_embd / in->n_head, 1, 1 << 17, &in->head_dim))) return s;
    in->rope_dim = in->head_dim;
    if ((s = cfg_int(cfg, "max_position_embeddings", 2048, 1, 1 << 24, &in->n_ctx_train))) return s;
    int vocab;
    if ((s = cfg_int(cfg, "vocab_size", -1, 1, 1 << 24, &vocab))) return s;
    in->n_vocab = vocab;
    if ((s = cfg_float(cfg, "rms_norm_eps", 1e-6, &in->rms_eps))) return s;
    if ((s = cfg_float(cfg, "rope_theta", 10000.0, &in->rope_theta))) return s;
    json_t *tie = json_object_get(cfg, "tie_word_embeddings");
    in->tied_output = tie ? json_is_true(tie) : 0;
    json_t *bias = json_object_get(cfg, "attention_bias");
    in->has_qkv_bias = qwen2 || json_is_true(bias);
    if (json_is_true(json_object_get(cfg, "mlp_bias"))) return attrib_fail(ATTRIB_E_UNSUPPORTED, "mlp_bias is not supported");
    json_t *rs = json_object_get(cfg, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        const char *rt = json_string_value(json_object_get(rs, "rope_type"));
        if (!rt) rt = json_string_value(json_object_get(rs, "type"));
        if (!rt || strcmp(rt, "llama3") != 0)
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "rope_scaling type '%s' is not supported (llama3 is)", rt ? rt : "?");
        if ((s = attrib_model_finish(m, NULL))) return s; /* hyper-parameters must be sane first */
        if ((s = llama3_factors(m, rs))) return s;
    }
    json_t *nm = json_object_get(cfg, "_name_or_path");
    m->name = attrib_strdup(json_is_string(nm) ? json_string_value(nm) : "");
    if (!m->name) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    return attrib_model_finish(m, NULL);
}

attrib_status attrib_model_load_hf(attrib_model *m, const char *dir) {
    json_t *cfg = NULL;
    st_set set = {0};
    m->info.format = ATTRIB_FORMAT_HF;
    attrib_status s = read_config(m, dir, &cfg);
    if (!s) s = open_shards(m, dir, &set);
    if (s) goto done;

    attrib_model_info *in = &m->info;
    const int64_t C = in->n_embd, F = in->n_ff, V = in->n_vocab, qd = (int64_t)in->n_head * in->head_dim,
                  kvd = (int64_t)in->n_head_kv * in->head_dim;
    attrib_tensor_ref emb, head, t;
    if ((s = find_tensor(&set, "model.embed_tokens.weight", false, &emb))) goto done;
    if ((s = find_tensor(&set, "lm_head.weight", false, &head))) goto done;
    /* Tied checkpoints may store either name only (TinyStories-656K stores lm_head). */
    if (!emb.data && !(in->tied_output && head.data)) { s = find_tensor(&set, "model.embed_tokens.weight", true, &emb); goto done; }
    if (!head.data && !in->tied_output) { s = find_tensor(&set, "lm_head.weight", true, &head); goto done; }
    if (emb.data) {
        if ((s = attrib_model_matrix(m, &emb, "model.embed_tokens.weight", V, C, &m->tok_embd))) goto done;
    }
    if (in->tied_output) {
        if (!emb.data && (s = attrib_model_matrix(m, &head, "lm_head.weight", V, C, &m->tok_embd))) goto done;
        m->output = m->tok_embd;
    } else if ((s = attrib_model_matrix(m, &head, "lm_head.weight", V, C, &m->output))) {
        goto done;
    }
    if ((s = find_tensor(&set, "model.norm.weight", true, &t))) goto done;
    if ((s = attrib_model_vector(m, &t, "model.norm.weight", C, &m->output_norm))) goto done;

    m->layers = attrib_calloc_array((size_t)in->n_layer, sizeof *m->layers);
    if (!m->layers) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
    for (int l = 0; l < in->n_layer; l++) {
        attrib_layer *L = &m->layers[l];
        char name[96];
#define VEC(field, suffix, n, req)                                                          \
    snprintf(name, sizeof name, "model.layers.%d." suffix, l);                              \
    if ((s = find_tensor(&set, name, req, &t))) goto done;                                 \
    if (t.data && (s = attrib_model_vector(m, &t, name, n, &L->field))) goto done;
#define MAT(field, suffix, rows, cols)                                                      \
    snprintf(name, sizeof name, "model.layers.%d." suffix, l);                              \
    if ((s = find_tensor(&set, name, true, &t))) goto done;                                \
    if ((s = attrib_model_matrix(m, &t, name, rows, cols, &L->field))) goto done;
        VEC(attn_norm, "input_layernorm.weight", C, true)
        MAT(wq, "self_attn.q_proj.weight", qd, C)
        MAT(wk, "self_attn.k_proj.weight", kvd, C)
        MAT(wv, "self_attn.v_proj.weight", kvd, C)
        MAT(wo, "self_attn.o_proj.weight", C, qd)
        VEC(bq, "self_attn.q_proj.bias", qd, in->has_qkv_bias)
        VEC(bk, "self_attn.k_proj.bias", kvd, in->has_qkv_bias)
        VEC(bv, "self_attn.v_proj.bias", kvd, in->has_qkv_bias)
        VEC(ffn_norm, "post_attention_layernorm.weight", C, true)
        MAT(w_gate, "mlp.gate_proj.weight", F, C)
        MAT(w_up, "mlp.up_proj.weight", F, C)
        MAT(w_down, "mlp.down_proj.weight", C, F)
#undef VEC
#undef MAT
    }

    char *tj = join(dir, "tokenizer.json"), *tc = join(dir, "tokenizer_config.json");
    if (!tj || !tc) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    } else if (file_exists(tj)) {
        s = attrib_tokenizer_from_json_file(tj, file_exists(tc) ? tc : NULL, &m->tok);
        if (s) attrib_fail_context(s, "tokenizer");
    }
    free(tj);
    free(tc);
done:
    st_set_free(&set);
    json_decref(cfg);
    return s;
}
