/*
 * hf.c — loading a Hugging Face checkpoint directory: config.json,
 * model.safetensors or sharded model-0000X-of-0000N.safetensors with
 * model.safetensors.index.json, and tokenizer.json.
 *
 * A safetensors header is untrusted JSON: its size is bounded, each entry's
 * dtype, shape and offsets are checked, the byte size implied by the shape
 * must equal the offsets' span, and the spans must tile the data section
 * exactly: shared bytes are ATTRIB_E_OVERLAP, gaps, trailing bytes and spans
 * past the end ATTRIB_E_BAD_OFFSET. Shapes are turned into GGUF order (row
 * length first) so model.c's checks serve both formats. Weights are
 * memory-mapped; F16/BF16 stay as stored and are dequantised per matrix like
 * GGUF weights.
 *
 * As in the GGUF loader, every tensor must be one the graph uses (a tensor
 * we ignored, such as a q_norm or a layer beyond num_hidden_layers, would
 * silently change the model) and may be stored only once across all shards.
 * A repeated JSON key is ATTRIB_E_DUPLICATE, not malformed JSON; a file that
 * does not exist is ATTRIB_E_MISSING, one that exists but cannot be read
 * ATTRIB_E_IO; every config.json value hf.c reads is type-checked
 * (ATTRIB_E_METADATA_TYPE) rather than read as a default.
 */
#include "basics/json.h"
#include "model/model.h"

#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CONFIG_BYTES (4u << 20)
#define MAX_HEADER_BYTES (100u << 20)
#define MAX_SHARDS 4096

typedef struct st_entry {
    const char *name; /* borrowed from the JSON */
    attrib_tensor_ref ref;
    uint64_t begin, end;
    int file; /* index of its shard, to name both files of a duplicate */
} st_entry;

typedef struct st_file {
    json_t *header;
    st_entry *entries;
    size_t n;
} st_file;

typedef struct st_set {
    st_file *files;
    int n_files;
    const st_entry **by_name; /* every entry of every file, sorted by name */
    size_t n_all;
} st_set;

static int cmp_begin(const void *a, const void *b) {
    uint64_t x = ((const st_entry *)a)->begin, y = ((const st_entry *)b)->begin;
    return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static int cmp_key_name(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const st_entry *const *)elem)->name);
}

/* Status of a failed json_loadb. JSON_REJECT_DUPLICATES makes a repeated key
 * a parse error, but the contract gives it its own status: which of two
 * values is meant is ambiguous, not unparsable. */
static attrib_status json_failure(const json_error_t *jerr, const char *path, const char *what) {
    switch (json_error_code(jerr)) {
    case json_error_duplicate_key:
        return attrib_fail(ATTRIB_E_DUPLICATE, "%s: %s names a key twice: %s (line %d, column %d)", path, what, jerr->text,
                           jerr->line, jerr->column);
    case json_error_out_of_memory:
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory parsing %s", path);
    default:
        return attrib_fail(ATTRIB_E_BAD_JSON, "%s: %s is not valid JSON: %s (position %d)", path, what, jerr->text,
                           jerr->position);
    }
}

static bool dtype_of(const char *s, int *type, size_t *esize) {
    if (strcmp(s, "F32") == 0) { *type = ATTRIB_DTYPE_F32; *esize = 4; return true; }
    if (strcmp(s, "F16") == 0) { *type = ATTRIB_DTYPE_F16; *esize = 2; return true; }
    if (strcmp(s, "BF16") == 0) { *type = ATTRIB_DTYPE_BF16; *esize = 2; return true; }
    return false;
}

/* Parses one mapped safetensors file, shard FILE of its set, into F
 * (entries sorted by offset). */
static attrib_status parse_safetensors(const attrib_mapped_file *mf, const char *path, int file, st_file *f) {
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
    f->header = attrib_json_loadb((const char *)mf->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->header) return json_failure(&jerr, path, "header");
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
        e->file = file;
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
        /* Shared bytes would let one write or bit flip change two tensors;
         * unclaimed bytes (gaps, a tail) are data nothing accounts for. */
        if (f->entries[i].begin < at)
            return attrib_fail(ATTRIB_E_OVERLAP, "%s: tensor '%s' starts at %llu, inside '%s' which ends at %llu", path,
                               f->entries[i].name, (unsigned long long)f->entries[i].begin, f->entries[i - 1].name,
                               (unsigned long long)at);
        if (f->entries[i].begin > at)
            return attrib_fail(ATTRIB_E_BAD_OFFSET,
                               "%s: tensor '%s' starts at %llu but the previous tensor ends at %llu (offsets must tile the data)",
                               path, f->entries[i].name, (unsigned long long)f->entries[i].begin, (unsigned long long)at);
        at = f->entries[i].end;
    }
    if (at != data_size)
        return attrib_fail(ATTRIB_E_BAD_OFFSET, "%s: tensors cover %llu bytes of a %llu-byte data section (offsets must tile the data)",
                           path, (unsigned long long)at, (unsigned long long)data_size);
    return ATTRIB_OK;
}

static void st_set_free(st_set *s) {
    for (int i = 0; i < s->n_files; i++) {
        json_decref(s->files[i].header);
        free(s->files[i].entries);
    }
    free(s->files);
    free(s->by_name);
}

static attrib_status find_tensor(const st_set *set, const char *name, bool required, attrib_tensor_ref *out) {
    const st_entry *const *hit = set->n_all ? bsearch(name, set->by_name, set->n_all, sizeof *set->by_name, cmp_key_name) : NULL;
    if (hit) {
        *out = (*hit)->ref;
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

/* Whether nothing at all is at P. Only then is a file ATTRIB_E_MISSING: one
 * that exists but cannot be read is left to its reader to report as
 * ATTRIB_E_IO, not mistaken for an absent optional file. */
static bool is_absent(const char *p) {
    struct stat st;
    return stat(p, &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

/* Names every tensor of SET in name order (for find_tensor) and refuses a
 * tensor stored twice: which copy a reader takes is not defined, so two
 * copies are ambiguous whether or not they agree. NAMES are the shard files. */
static attrib_status index_names(st_set *set, const char *const *names) {
    size_t total = 0;
    for (int i = 0; i < set->n_files; i++) {
        if (set->files[i].n > SIZE_MAX - total) return attrib_fail(ATTRIB_E_LIMIT, "too many tensors");
        total += set->files[i].n;
    }
    set->by_name = attrib_calloc_array(total + 1, sizeof *set->by_name);
    if (!set->by_name) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int i = 0; i < set->n_files; i++)
        for (size_t j = 0; j < set->files[i].n; j++) set->by_name[set->n_all++] = &set->files[i].entries[j];
    qsort(set->by_name, set->n_all, sizeof *set->by_name, cmp_name);
    for (size_t k = 1; k < set->n_all; k++)
        if (strcmp(set->by_name[k - 1]->name, set->by_name[k]->name) == 0)
            return attrib_fail(ATTRIB_E_DUPLICATE, "tensor '%s' is stored twice (in %s and %s)", set->by_name[k]->name,
                               names[set->by_name[k - 1]->file], names[set->by_name[k]->file]);
    return ATTRIB_OK;
}

/* Whether NAME is a tensor the architecture's graph of N_LAYER layers uses. */
static bool known_tensor(const arch_desc *a, const char *name, int n_layer) {
    static const char *const top[] = {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"};
    for (size_t k = 0; k < sizeof top / sizeof *top; k++)
        if (strcmp(name, top[k]) == 0) return true;
    return arch_is_layer_tensor(a, a->hf_names, name, n_layer);
}

static attrib_status st_lookup(void *ctx, const char *name, attrib_tensor_ref *t) {
    return find_tensor(ctx, name, false, t);
}

/* Maps every shard named by model.safetensors.index.json (or the single file). */
static attrib_status open_shards(attrib_model *m, const char *dir, st_set *set) {
    char *single = join(dir, "model.safetensors");
    char *index = join(dir, "model.safetensors.index.json");
    attrib_status s = ATTRIB_OK;
    const char **names = NULL;
    json_t *idx = NULL;
    int n = 0;
    if (!single || !index) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
    if (!is_absent(index)) {
        char *text;
        size_t len;
        if ((s = attrib_read_small_file(index, MAX_CONFIG_BYTES * 8, &text, &len))) goto done;
        json_error_t jerr;
        idx = attrib_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        free(text);
        if (!idx) { s = json_failure(&jerr, index, "the index"); goto done; }
        json_t *wm = json_object_get(idx, "weight_map");
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
    } else if (!is_absent(single)) {
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
        if (is_absent(p)) s = attrib_fail(ATTRIB_E_MISSING, "safetensors file '%s' does not exist", p);
        else s = attrib_map_file(p, &m->st_files[i]);
        if (!s) {
            m->n_st_files = i + 1;
            s = parse_safetensors(&m->st_files[i], p, i, &set->files[i]);
            set->n_files = i + 1;
        }
        free(p);
        if (s) goto done;
    }
    s = index_names(set, names);
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

/* String field of object OBJ (WHERE names it in messages); absent or null
 * gives NULL. A value of another type is an error, not an absent key: it
 * would otherwise silently select a default (e.g. hidden_act silu). */
static attrib_status cfg_str(json_t *obj, const char *where, const char *key, const char **out) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return ATTRIB_OK;
    if (!json_is_string(v)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "%s '%s' must be a string", where, key);
    *out = json_string_value(v);
    return ATTRIB_OK;
}

/* Boolean field of config.json with a default for absent or null. Only JSON
 * true/false count: "yes" or 1 would otherwise read as false. */
static attrib_status cfg_bool(json_t *cfg, const char *key, bool def, bool *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return ATTRIB_OK;
    }
    if (!json_is_boolean(v)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "config.json '%s' must be true or false", key);
    *out = json_is_true(v);
    return ATTRIB_OK;
}

/* Required number of the rope_scaling object. */
static attrib_status rs_number(json_t *rs, const char *key, double *out) {
    json_t *v = json_object_get(rs, key);
    if (!v || json_is_null(v)) return attrib_fail(ATTRIB_E_MISSING, "config.json rope_scaling lacks '%s'", key);
    if (!json_is_number(v)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "config.json rope_scaling '%s' must be a number", key);
    *out = json_number_value(v);
    return ATTRIB_OK;
}

/* Llama 3 "rope_scaling": {"rope_type": "llama3", factor, low_freq_factor,
 * high_freq_factor, original_max_position_embeddings} → per-frequency divisors
 * (the same quantity GGUF stores as rope_freqs.weight). */
static attrib_status llama3_factors(attrib_model *m, json_t *rs) {
    const attrib_model_info *in = &m->info;
    double factor = 0, lo = 0, hi = 0, orig = 0; /* set by rs_number, which may fail */
    attrib_status s;
    if ((s = rs_number(rs, "factor", &factor)) || (s = rs_number(rs, "low_freq_factor", &lo)) ||
        (s = rs_number(rs, "high_freq_factor", &hi)) || (s = rs_number(rs, "original_max_position_embeddings", &orig)))
        return s;
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

/* The config fields behind the architecture's features: soft-caps, query
 * scale, sliding window and its pattern, the local RoPE base. */
static attrib_status read_arch_features(attrib_model *m, json_t *cfg) {
    const arch_desc *a = m->desc;
    attrib_model_info *in = &m->info;
    attrib_status s;
    if (a->softcaps) {
        if ((s = cfg_float(cfg, "attn_logit_softcapping", 0.0, &m->attn_softcap))) return s;
        if ((s = cfg_float(cfg, "final_logit_softcapping", 0.0, &m->final_softcap))) return s;
        if (a->softcaps == 1 && m->attn_softcap != 0.0f)
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "attn_logit_softcapping is not supported for %s", a->name);
    } else {
        json_t *v = json_object_get(cfg, "final_logit_softcapping");
        if (v && !json_is_null(v)) return attrib_fail(ATTRIB_E_UNSUPPORTED, "final_logit_softcapping is not supported for %s", a->name);
    }
    if (a->attn_scale_key) {
        float qpas = 0.0f;
        if ((s = cfg_float(cfg, "query_pre_attn_scalar", 0.0, &qpas))) return s;
        if (qpas < 0.0f || !isfinite(qpas)) return attrib_fail(ATTRIB_E_BAD_VALUE, "config.json 'query_pre_attn_scalar' is invalid");
        if (qpas > 0.0f) m->attn_scale = 1.0f / sqrtf(qpas);
    }
    if (a->swa_period) {
        json_t *sw = json_object_get(cfg, "sliding_window");
        bool use = true;
        if ((s = cfg_bool(cfg, "use_sliding_window", true, &use))) return s;
        if (use && sw && !json_is_null(sw) && (s = cfg_int(cfg, "sliding_window", 0, 0, 1 << 24, &in->sliding_window))) return s;
        json_t *types = json_object_get(cfg, "layer_types");
        if (types && !json_is_null(types)) { /* newer configs name each layer's attention */
            if (!json_is_array(types) || json_array_size(types) != (size_t)in->n_layer)
                return attrib_fail(ATTRIB_E_BAD_JSON, "config.json 'layer_types' must be an array of %d strings", in->n_layer);
            m->layer_windowed = attrib_calloc_array((size_t)in->n_layer, 1);
            if (!m->layer_windowed || !attrib_model_own(m, m->layer_windowed)) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
            for (int l = 0; l < in->n_layer; l++) {
                const char *t = json_string_value(json_array_get(types, (size_t)l));
                if (t && strcmp(t, "sliding_attention") == 0) m->layer_windowed[l] = 1;
                else if (!t || strcmp(t, "full_attention") != 0)
                    return attrib_fail(ATTRIB_E_BAD_VALUE, "config.json layer_types[%d] is not 'sliding_attention' or 'full_attention'", l);
            }
        } else if (a->swa_period > 1) {
            int period = a->swa_period;
            if ((s = cfg_int(cfg, "sliding_window_pattern", period, 1, 4096, &period))) return s;
            if (period != a->swa_period)
                return attrib_fail(ATTRIB_E_UNSUPPORTED, "sliding_window_pattern %d is not supported for %s (%d is)", period,
                                   a->name, a->swa_period);
        }
    }
    if (a->local_rope_base && in->sliding_window > 0 &&
        (s = cfg_float(cfg, "rope_local_base_freq", 10000.0, &m->rope_theta_local)))
        return s;
    return ATTRIB_OK;
}

static attrib_status read_config(attrib_model *m, const char *dir, json_t **cfg_out) {
    char *path = join(dir, "config.json");
    if (!path) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    if (is_absent(path)) {
        attrib_status s = attrib_fail(ATTRIB_E_MISSING, "%s does not exist", path);
        free(path);
        return s;
    }
    char *text;
    size_t len;
    attrib_status s = attrib_read_small_file(path, MAX_CONFIG_BYTES, &text, &len);
    if (s) {
        free(path);
        return s;
    }
    json_error_t jerr;
    json_t *cfg = attrib_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!cfg) s = json_failure(&jerr, path, "config");
    else if (!json_is_object(cfg)) s = attrib_fail(ATTRIB_E_BAD_JSON, "%s: not a JSON object", path);
    free(path);
    if (s) {
        json_decref(cfg);
        return s;
    }
    *cfg_out = cfg;
    attrib_model_info *in = &m->info;
    const char *mt;
    if ((s = cfg_str(cfg, "config.json", "model_type", &mt))) return s;
    if (!mt) return attrib_fail(ATTRIB_E_MISSING, "config.json lacks 'model_type'");
    if (!(m->desc = arch_by_hf_type(mt))) {
        char names[256];
        arch_list_names(names, sizeof names, 1);
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "model_type '%s' is not supported (supported: %s)", mt, names);
    }
    const arch_desc *a = m->desc;
    m->arch = attrib_strdup(a->name);
    if (!m->arch) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    /* Gemma names its activation hidden_activation (hidden_act is a legacy alias) */
    const char *act, *act2;
    if ((s = cfg_str(cfg, "config.json", "hidden_act", &act)) || (s = cfg_str(cfg, "config.json", "hidden_activation", &act2)))
        return s;
    if (act2) act = act2;
    const char *want = a->act == ARCH_ACT_GELU_TANH ? "gelu_pytorch_tanh" : "silu";
    if (act && strcmp(act, want) != 0 && !(a->act == ARCH_ACT_GELU_TANH && strcmp(act, "gelu_new") == 0))
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "hidden_act '%s' is not supported for %s (%s is)", act, mt, want);
    bool interleaved = false, tied = false, attn_bias = false, mlp_bias = false; /* set by cfg_bool */
    if ((s = cfg_bool(cfg, "rope_interleaved", false, &interleaved))) return s;
    /* Hugging Face Llama/Qwen2 rotate halves unless told otherwise. */
    in->rope_layout = interleaved ? ATTRIB_ROPE_INTERLEAVED : ATTRIB_ROPE_HALF;
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
    /* Gemma checkpoints tie by default (their config often omits the key) */
    if ((s = cfg_bool(cfg, "tie_word_embeddings", a->embed_scale_sqrt != 0, &tied))) return s;
    in->tied_output = tied;
    if ((s = cfg_bool(cfg, "attention_bias", false, &attn_bias))) return s;
    in->has_qkv_bias = a->slot_use[SLOT_BQ] == SLOT_REQUIRED || attn_bias;
    if (attn_bias && a->slot_use[SLOT_BQ] == SLOT_ABSENT)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "attention_bias is not supported for %s", mt);
    if ((s = read_arch_features(m, cfg))) return s;
    if ((s = cfg_bool(cfg, "mlp_bias", false, &mlp_bias))) return s;
    if (mlp_bias) return attrib_fail(ATTRIB_E_UNSUPPORTED, "mlp_bias is not supported");
    json_t *rs = json_object_get(cfg, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        if (!json_is_object(rs)) return attrib_fail(ATTRIB_E_METADATA_TYPE, "config.json 'rope_scaling' must be an object or null");
        const char *rt;
        if ((s = cfg_str(rs, "config.json rope_scaling", "rope_type", &rt))) return s;
        if (!rt && (s = cfg_str(rs, "config.json rope_scaling", "type", &rt))) return s;
        const bool linear = rt && strcmp(rt, "linear") == 0 && m->desc->global_rope_linear;
        if (!rt || (strcmp(rt, "llama3") != 0 && !linear))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "rope_scaling type '%s' is not supported for %s (%s is)", rt ? rt : "?",
                               mt, m->desc->global_rope_linear ? "linear" : "llama3");
        if ((s = attrib_model_finish(m, NULL))) return s; /* hyper-parameters must be sane first */
        if (linear) {
            double factor = 0;
            if ((s = rs_number(rs, "factor", &factor))) return s;
            if (!(factor >= 1.0 && factor <= 1024.0))
                return attrib_fail(ATTRIB_E_BAD_VALUE, "config.json rope_scaling factor %g is invalid", factor);
            m->rope_linear = (float)factor;
        } else if ((s = llama3_factors(m, rs))) {
            return s;
        }
    }
    const char *nm;
    if ((s = cfg_str(cfg, "config.json", "_name_or_path", &nm))) return s;
    m->name = attrib_strdup(nm ? nm : "");
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
    /* Tensors we do not use would silently change the model (q/k norms of
     * newer architectures, layers past num_hidden_layers): refuse them rather
     * than compute a wrong answer, as model.c does for GGUF. */
    for (size_t k = 0; k < set.n_all; k++)
        if (!known_tensor(m->desc, set.by_name[k]->name, in->n_layer)) {
            s = attrib_fail(ATTRIB_E_UNSUPPORTED, "tensor '%s' is not part of a supported %s model", set.by_name[k]->name, m->arch);
            goto done;
        }

    const int64_t C = in->n_embd, V = in->n_vocab;
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

    if ((s = attrib_model_load_layers(m, m->desc->hf_names, st_lookup, &set, m->desc->hf_norm_offset))) goto done;
    for (int k = 0; m->desc->hf_norm_offset != 0.0f && k < in->n_embd; k++) m->output_norm[k] += m->desc->hf_norm_offset;

    char *tj = join(dir, "tokenizer.json"), *tc = join(dir, "tokenizer_config.json");
    if (!tj || !tc) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    } else if (!is_absent(tj)) {
        s = attrib_tokenizer_from_json_file(tj, is_absent(tc) ? NULL : tc, &m->tok);
        if (s) attrib_fail_context(s, "tokenizer");
    }
    free(tj);
    free(tc);
done:
    st_set_free(&set);
    json_decref(cfg);
    return s;
}
