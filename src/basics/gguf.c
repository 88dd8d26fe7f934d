/*
 * gguf.c — strict reader for GGUF v2/v3 files.
 *
 * GGUF files come from strangers, and readers of this format have a history
 * of heap overflows from crafted counts, lengths and offsets. This reader
 * therefore validates everything in one pass before it stores anything:
 * every read goes through a cursor that checks the remaining bytes, every
 * count is bounded by the bytes that could possibly hold it (so a hostile
 * count cannot make us allocate more than the file's size), every product
 * and sum is overflow-checked, and tensor data must lie inside the data
 * section, be aligned, and not overlap. Errors carry the most specific
 * attrib_status and a message naming the key, tensor and file offset.
 *
 * The parsed index points into the mapping; nothing is copied except key and
 * tensor names (NUL-terminated) and the offsets of string-array elements.
 */
#include "basics/gguf.h"

#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct gguf_kv {
    char *key;
    gguf_value_type type;
    /* scalars: value bytes; strings: first byte of the string */
    const uint8_t *data;
    uint64_t len;               /* string length */
    gguf_value_type arr_type;   /* arrays only */
    uint64_t arr_n;
    const uint8_t **str_ptr;    /* string arrays: element j's bytes */
    uint64_t *str_len;          /* string arrays: element j's length */
} gguf_kv;

struct gguf_ctx {
    attrib_mapped_file file; /* owned when from a file */
    const uint8_t *data;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t data_offset; /* start of the tensor data section in the file */
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    gguf_tensor *tensors;
    int64_t *kv_sorted;     /* indices of kv sorted by key, for lookup */
    int64_t *tensor_sorted; /* indices of tensors sorted by name */
};

typedef struct cursor {
    const uint8_t *p;
    size_t size;
    size_t pos;
} cursor;

static size_t remaining(const cursor *c) { return c->size - c->pos; }

static attrib_status need(const cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c))
        return attrib_fail(ATTRIB_E_TRUNCATED, "file ends at byte %zu while reading %s (%llu bytes needed at offset %zu)",
                           c->size, what, (unsigned long long)n, c->pos);
    return ATTRIB_OK;
}

static attrib_status read_u32(cursor *c, uint32_t *v, const char *what) {
    attrib_status s = need(c, 4, what);
    if (s) return s;
    memcpy(v, c->p + c->pos, 4);
    c->pos += 4;
    return ATTRIB_OK;
}

static attrib_status read_u64(cursor *c, uint64_t *v, const char *what) {
    attrib_status s = need(c, 8, what);
    if (s) return s;
    memcpy(v, c->p + c->pos, 8);
    c->pos += 8;
    return ATTRIB_OK;
}

/* Reads a GGUF string (u64 length + bytes) without copying. */
static attrib_status read_str(cursor *c, const uint8_t **s, uint64_t *len, uint64_t max_len, const char *what) {
    attrib_status st = read_u64(c, len, what);
    if (st) return st;
    if (*len > max_len)
        return attrib_fail(ATTRIB_E_BAD_STRING, "%s: string length %llu at offset %zu exceeds the limit of %llu",
                           what, (unsigned long long)*len, c->pos - 8, (unsigned long long)max_len);
    if (*len > remaining(c))
        return attrib_fail(ATTRIB_E_TRUNCATED, "%s: string of %llu bytes at offset %zu runs past the end of the file (%zu bytes)",
                           what, (unsigned long long)*len, c->pos - 8, c->size);
    *s = c->p + c->pos;
    c->pos += (size_t)*len;
    return ATTRIB_OK;
}

static size_t scalar_size(gguf_value_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *value_type_name(gguf_value_type t) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return (unsigned)t < GGUF_TYPE_COUNT_ ? names[t] : "unknown";
}

static bool has_nul(const uint8_t *s, uint64_t len) { return memchr(s, 0, (size_t)len) != NULL; }

static attrib_status parse_kv(cursor *c, gguf_kv *kv, int64_t index) {
    const uint8_t *key = NULL;
    uint64_t key_len = 0;
    size_t key_at = c->pos;
    attrib_status s = read_str(c, &key, &key_len, GGUF_MAX_KEY, "metadata key");
    if (s) return attrib_fail_context(s, "metadata pair %lld", (long long)index);
    if (key_len == 0 || has_nul(key, key_len))
        return attrib_fail(ATTRIB_E_BAD_STRING, "metadata pair %lld at offset %zu: key is empty or contains a NUL byte",
                           (long long)index, key_at);
    kv->key = attrib_strndup((const char *)key, (size_t)key_len);
    if (!kv->key) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");

    uint32_t type;
    if ((s = read_u32(c, &type, "metadata value type"))) return attrib_fail_context(s, "key '%s'", kv->key);
    if (type >= GGUF_TYPE_COUNT_)
        return attrib_fail(ATTRIB_E_BAD_TYPE, "key '%s': unknown value type %u at offset %zu", kv->key, type, c->pos - 4);
    kv->type = (gguf_value_type)type;

    if (kv->type == GGUF_TYPE_STRING) {
        if ((s = read_str(c, &kv->data, &kv->len, GGUF_MAX_STRING, "string value")))
            return attrib_fail_context(s, "key '%s'", kv->key);
        return ATTRIB_OK;
    }
    if (kv->type != GGUF_TYPE_ARRAY) {
        size_t sz = scalar_size(kv->type);
        if ((s = need(c, sz, "metadata value"))) return attrib_fail_context(s, "key '%s'", kv->key);
        kv->data = c->p + c->pos;
        c->pos += sz;
        return ATTRIB_OK;
    }

    uint32_t at;
    uint64_t n;
    if ((s = read_u32(c, &at, "array element type"))) return attrib_fail_context(s, "key '%s'", kv->key);
    if (at >= GGUF_TYPE_COUNT_)
        return attrib_fail(ATTRIB_E_BAD_TYPE, "key '%s': unknown array element type %u at offset %zu", kv->key, at, c->pos - 4);
    if (at == GGUF_TYPE_ARRAY)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "key '%s': nested arrays are not supported", kv->key);
    if ((s = read_u64(c, &n, "array length"))) return attrib_fail_context(s, "key '%s'", kv->key);
    kv->arr_type = (gguf_value_type)at;
    kv->arr_n = n;
    if (at == GGUF_TYPE_STRING) {
        /* each element needs at least its 8-byte length: bound n before allocating */
        if (n > remaining(c) / 8)
            return attrib_fail(ATTRIB_E_BAD_COUNT, "key '%s': string array claims %llu elements but only %zu bytes remain",
                               kv->key, (unsigned long long)n, remaining(c));
        kv->data = c->p + c->pos;
        kv->str_ptr = attrib_calloc_array((size_t)n, sizeof *kv->str_ptr);
        kv->str_len = attrib_calloc_array((size_t)n, sizeof *kv->str_len);
        if (!kv->str_ptr || !kv->str_len) return attrib_fail(ATTRIB_E_NOMEM, "out of memory for key '%s'", kv->key);
        for (uint64_t j = 0; j < n; j++) {
            if ((s = read_str(c, &kv->str_ptr[j], &kv->str_len[j], GGUF_MAX_STRING, "array string")))
                return attrib_fail_context(s, "key '%s' element %llu", kv->key, (unsigned long long)j);
        }
        return ATTRIB_OK;
    }
    size_t esz = scalar_size(kv->arr_type);
    uint64_t bytes;
    if (!attrib_mul_u64(n, esz, &bytes) || bytes > remaining(c))
        return attrib_fail(n > remaining(c) ? ATTRIB_E_BAD_COUNT : ATTRIB_E_TRUNCATED,
                           "key '%s': array of %llu %s elements at offset %zu does not fit in the %zu remaining bytes",
                           kv->key, (unsigned long long)n, value_type_name(kv->arr_type), c->pos, remaining(c));
    kv->data = c->p + c->pos;
    c->pos += (size_t)bytes;
    return ATTRIB_OK;
}

/* Names of the tensor types ggml defines but attrib does not dequantise (the
 * readable ones are in gguf_type_block / attrib_dtype_name). A file using one
 * of these is well formed, just beyond what attrib reads, so it is refused as
 * ATTRIB_E_UNSUPPORTED with the type's name; any other number (including
 * ggml's retired 4, 5, 31..33 and 36..38, which no longer appear in GGUF
 * files) is not a tensor type at all: ATTRIB_E_BAD_TYPE. */
static const char *unsupported_ggml_type(uint32_t type) {
    switch (type) {
    case 9: return "Q8_1";
    case 15: return "Q8_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case 29: return "IQ1_M";
    case 34: return "TQ1_0";
    case 35: return "TQ2_0";
    case 39: return "MXFP4";
    case 40: return "NVFP4";
    case 41: return "Q1_0";
    case 42: return "Q2_0";
    default: return NULL;
    }
}

static attrib_status parse_tensor_info(cursor *c, gguf_tensor *t, int64_t index) {
    const uint8_t *name;
    uint64_t name_len;
    size_t at = c->pos;
    attrib_status s = read_str(c, &name, &name_len, GGUF_MAX_NAME, "tensor name");
    if (s) return attrib_fail_context(s, "tensor %lld", (long long)index);
    if (name_len == 0 || has_nul(name, name_len))
        return attrib_fail(ATTRIB_E_BAD_STRING, "tensor %lld at offset %zu: name is empty or contains a NUL byte",
                           (long long)index, at);
    t->name = attrib_strndup((const char *)name, (size_t)name_len);
    if (!t->name) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");

    uint32_t n_dims;
    if ((s = read_u32(c, &n_dims, "tensor n_dims"))) return attrib_fail_context(s, "tensor '%s'", t->name);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return attrib_fail(ATTRIB_E_BAD_DIMS, "tensor '%s': n_dims %u is outside 1..%d", t->name, n_dims, GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    uint64_t n_elem = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if ((s = read_u64(c, &ne, "tensor dimension"))) return attrib_fail_context(s, "tensor '%s'", t->name);
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return attrib_fail(ATTRIB_E_BAD_DIMS, "tensor '%s': dimension %u is %llu", t->name, d, (unsigned long long)ne);
        if (!attrib_mul_u64(n_elem, ne, &n_elem) || n_elem > (uint64_t)INT64_MAX)
            return attrib_fail(ATTRIB_E_BAD_DIMS, "tensor '%s': element count overflows", t->name);
        t->ne[d] = (int64_t)ne;
    }
    uint32_t type;
    if ((s = read_u32(c, &type, "tensor type"))) return attrib_fail_context(s, "tensor '%s'", t->name);
    int be, bb;
    if (!gguf_type_block((int)type, &be, &bb)) {
        const char *tn = unsupported_ggml_type(type);
        if (tn)
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tensor '%s': weight type %s (ggml type %u) is not supported", t->name,
                               tn, type);
        return attrib_fail(ATTRIB_E_BAD_TYPE, "tensor '%s': unknown tensor type %u", t->name, type);
    }
    t->type = (int)type;
    uint64_t row_bytes;
    if (!gguf_row_bytes(t->type, t->ne[0], &row_bytes))
        return attrib_fail(ATTRIB_E_BAD_DIMS, "tensor '%s': row length %lld is not a multiple of %s's block size %d",
                           t->name, (long long)t->ne[0], attrib_dtype_name(t->type), be);
    uint64_t rows = n_elem / (uint64_t)t->ne[0];
    if (!attrib_mul_u64(row_bytes, rows, &t->n_bytes))
        return attrib_fail(ATTRIB_E_BAD_DIMS, "tensor '%s': byte size overflows", t->name);
    if ((s = read_u64(c, &t->offset, "tensor offset"))) return attrib_fail_context(s, "tensor '%s'", t->name);
    return ATTRIB_OK;
}

/* qsort_r comparators; the context is the gguf_ctx being indexed. */
static int cmp_kv(const void *a, const void *b, void *ctx) {
    const gguf_ctx *g = ctx;
    return strcmp(g->kv[*(const int64_t *)a].key, g->kv[*(const int64_t *)b].key);
}
static int cmp_tensor(const void *a, const void *b, void *ctx) {
    const gguf_ctx *g = ctx;
    return strcmp(g->tensors[*(const int64_t *)a].name, g->tensors[*(const int64_t *)b].name);
}
static int cmp_offset(const void *a, const void *b, void *ctx) {
    const gguf_ctx *g = ctx;
    uint64_t x = g->tensors[*(const int64_t *)a].offset, y = g->tensors[*(const int64_t *)b].offset;
    return x < y ? -1 : x > y;
}

/* Builds sorted name indices (for binary-search lookup) and rejects duplicates. */
static attrib_status build_indices(gguf_ctx *g) {
    g->kv_sorted = attrib_calloc_array((size_t)g->n_kv + 1, sizeof(int64_t));
    g->tensor_sorted = attrib_calloc_array((size_t)g->n_tensors + 1, sizeof(int64_t));
    if (!g->kv_sorted || !g->tensor_sorted) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < g->n_kv; i++) g->kv_sorted[i] = i;
    for (int64_t i = 0; i < g->n_tensors; i++) g->tensor_sorted[i] = i;
    qsort_r(g->kv_sorted, (size_t)g->n_kv, sizeof(int64_t), cmp_kv, g);
    qsort_r(g->tensor_sorted, (size_t)g->n_tensors, sizeof(int64_t), cmp_tensor, g);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv[g->kv_sorted[i - 1]].key, g->kv[g->kv_sorted[i]].key) == 0)
            return attrib_fail(ATTRIB_E_DUPLICATE, "metadata key '%s' appears more than once", g->kv[g->kv_sorted[i]].key);
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (strcmp(g->tensors[g->tensor_sorted[i - 1]].name, g->tensors[g->tensor_sorted[i]].name) == 0)
            return attrib_fail(ATTRIB_E_DUPLICATE, "tensor '%s' appears more than once", g->tensors[g->tensor_sorted[i]].name);
    return ATTRIB_OK;
}

/* Tensor data: aligned, inside the data section, and no two tensors share bytes. */
static attrib_status check_tensor_data(gguf_ctx *g) {
    size_t data_size = g->size - g->data_offset;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return attrib_fail(ATTRIB_E_BAD_ALIGNMENT, "tensor '%s': data offset %llu is not a multiple of the alignment %zu",
                               t->name, (unsigned long long)t->offset, g->alignment);
        uint64_t end;
        if (!attrib_add_u64(t->offset, t->n_bytes, &end) || end > data_size)
            return attrib_fail(ATTRIB_E_BAD_OFFSET,
                               "tensor '%s': data [%llu, +%llu) lies outside the %zu-byte data section",
                               t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes, data_size);
        t->data = g->data + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return ATTRIB_OK;
    int64_t *order = attrib_calloc_array((size_t)g->n_tensors, sizeof(int64_t));
    if (!order) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < g->n_tensors; i++) order[i] = i;
    qsort_r(order, (size_t)g->n_tensors, sizeof(int64_t), cmp_offset, g);
    attrib_status s = ATTRIB_OK;
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const gguf_tensor *a = &g->tensors[order[i - 1]], *b = &g->tensors[order[i]];
        if (a->offset + a->n_bytes > b->offset) {
            s = attrib_fail(ATTRIB_E_OVERLAP, "tensors '%s' and '%s' overlap in the data section", a->name, b->name);
            break;
        }
    }
    free(order);
    return s;
}

static attrib_status read_alignment(gguf_ctx *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gguf_find_key(g, "general.alignment");
    if (i < 0) return ATTRIB_OK;
    uint32_t a;
    if (!gguf_get_u32(g, i, &a))
        return attrib_fail(ATTRIB_E_METADATA_TYPE, "key 'general.alignment' must be uint32, not %s",
                           value_type_name(gguf_kv_type(g, i)));
    if (a == 0 || (a & (a - 1)) != 0)
        return attrib_fail(ATTRIB_E_BAD_ALIGNMENT, "general.alignment %u is not a power of two", a);
    g->alignment = a;
    return ATTRIB_OK;
}

static attrib_status parse(gguf_ctx *g) {
    cursor c = {g->data, g->size, 0};
    attrib_status s = need(&c, 4, "magic");
    if (s) return attrib_fail(ATTRIB_E_BAD_MAGIC, "not a GGUF file: only %zu bytes", g->size);
    if (memcmp(g->data, GGUF_MAGIC, 4) != 0) return attrib_fail(ATTRIB_E_BAD_MAGIC, "not a GGUF file: bad magic");
    c.pos = 4;
    if ((s = read_u32(&c, &g->version, "version"))) return s;
    if (g->version == 1)
        return attrib_fail(ATTRIB_E_BAD_VERSION, "GGUF version 1 is not supported (re-convert the model: v2 and v3 are)");
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xffff) == 0)
            return attrib_fail(ATTRIB_E_BAD_VERSION, "GGUF version %u: a big-endian file? only little-endian v2/v3 are supported",
                               g->version);
        return attrib_fail(ATTRIB_E_BAD_VERSION, "GGUF version %u is not supported (v2 and v3 are)", g->version);
    }
    uint64_t n_tensors, n_kv;
    if ((s = read_u64(&c, &n_tensors, "tensor count"))) return s;
    if ((s = read_u64(&c, &n_kv, "metadata count"))) return s;
    /* A tensor info takes at least 8+1+4+8+4+8 bytes and a pair at least 8+1+4+1:
     * counts beyond that cannot be real, and bounding them bounds allocations. */
    if (n_tensors > remaining(&c) / 33)
        return attrib_fail(ATTRIB_E_BAD_COUNT, "tensor count %llu is impossible for a file of %zu bytes",
                           (unsigned long long)n_tensors, g->size);
    if (n_kv > remaining(&c) / 14)
        return attrib_fail(ATTRIB_E_BAD_COUNT, "metadata count %llu is impossible for a file of %zu bytes",
                           (unsigned long long)n_kv, g->size);
    g->kv = attrib_calloc_array((size_t)n_kv + 1, sizeof *g->kv);
    g->tensors = attrib_calloc_array((size_t)n_tensors + 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n_kv; i++) {
        g->n_kv = (int64_t)i + 1; /* so that gguf_free releases what was parsed */
        if ((s = parse_kv(&c, &g->kv[i], (int64_t)i))) return s;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        g->n_tensors = (int64_t)i + 1;
        if ((s = parse_tensor_info(&c, &g->tensors[i], (int64_t)i))) return s;
    }
    if ((s = build_indices(g))) return s;
    if ((s = read_alignment(g))) return s;
    size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    if (n_tensors > 0) {
        if (pad > remaining(&c))
            return attrib_fail(ATTRIB_E_TRUNCATED, "file ends at byte %zu before the data section (aligned to %zu)",
                               g->size, g->alignment);
        g->data_offset = c.pos + pad;
    } else {
        g->data_offset = c.pos + (pad > remaining(&c) ? remaining(&c) : pad);
    }
    return check_tensor_data(g);
}

static attrib_status init(const uint8_t *data, size_t size, attrib_mapped_file *file, gguf_ctx **out) {
    gguf_ctx *g = attrib_calloc_array(1, sizeof *g);
    if (!g) {
        if (file) attrib_unmap_file(file);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    }
    if (file) g->file = *file;
    g->data = data;
    g->size = size;
    attrib_status s = parse(g);
    if (s) {
        gguf_free(g);
        return s;
    }
    *out = g;
    return ATTRIB_OK;
}

attrib_status gguf_init_from_memory(const uint8_t *data, size_t size, gguf_ctx **out) {
    if (!out || (!data && size)) return attrib_fail(ATTRIB_E_INVALID_ARG, "gguf_init_from_memory: NULL argument");
    return init(data ? data : (const uint8_t *)"", size, NULL, out);
}

attrib_status gguf_init_from_file(const char *path, gguf_ctx **out) {
    if (!path || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "gguf_init_from_file: NULL argument");
    attrib_mapped_file f;
    attrib_status s = attrib_map_file(path, &f);
    if (s) return s;
    s = init(f.data, f.size, &f, out);
    if (s) return attrib_fail_context(s, "%s", path);
    return ATTRIB_OK;
}

void gguf_free(gguf_ctx *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_ptr);
        free(g->kv[i].str_len);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) free((void *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->kv_sorted);
    free(g->tensor_sorted);
    attrib_unmap_file(&g->file);
    free(g);
}

uint32_t gguf_version(const gguf_ctx *g) { return g->version; }
size_t gguf_alignment(const gguf_ctx *g) { return g->alignment; }
size_t gguf_file_size(const gguf_ctx *g) { return g->size; }
const uint8_t *gguf_file_data(const gguf_ctx *g) { return g->data; }
int64_t gguf_n_kv(const gguf_ctx *g) { return g->n_kv; }
int64_t gguf_n_tensors(const gguf_ctx *g) { return g->n_tensors; }

int64_t gguf_find_key(const gguf_ctx *g, const char *key) {
    if (!g || !key || !g->kv_sorted) return -1;
    int64_t lo = 0, hi = g->n_kv - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv[g->kv_sorted[mid]].key, key);
        if (c == 0) return g->kv_sorted[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

int64_t gguf_find_tensor(const gguf_ctx *g, const char *name) {
    if (!g || !name || !g->tensor_sorted) return -1;
    int64_t lo = 0, hi = g->n_tensors - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensors[g->tensor_sorted[mid]].name, name);
        if (c == 0) return g->tensor_sorted[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

const gguf_tensor *gguf_get_tensor(const gguf_ctx *g, int64_t i) {
    return (i >= 0 && i < g->n_tensors) ? &g->tensors[i] : NULL;
}

static const gguf_kv *kv_at(const gguf_ctx *g, int64_t i) { return (g && i >= 0 && i < g->n_kv) ? &g->kv[i] : NULL; }

const char *gguf_key(const gguf_ctx *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}

gguf_value_type gguf_kv_type(const gguf_ctx *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : GGUF_TYPE_COUNT_;
}

#define SCALAR_GETTER(fn, ctype, gtype)                                  \
    bool fn(const gguf_ctx *g, int64_t i, ctype *v) {                    \
        const gguf_kv *kv = kv_at(g, i);                                 \
        if (!kv || kv->type != gtype) return false;                      \
        memcpy(v, kv->data, sizeof *v);                                  \
        return true;                                                     \
    }
SCALAR_GETTER(gguf_get_u32, uint32_t, GGUF_TYPE_UINT32)
SCALAR_GETTER(gguf_get_i32, int32_t, GGUF_TYPE_INT32)
SCALAR_GETTER(gguf_get_u64, uint64_t, GGUF_TYPE_UINT64)
SCALAR_GETTER(gguf_get_f32, float, GGUF_TYPE_FLOAT32)

bool gguf_get_bool(const gguf_ctx *g, int64_t i, bool *v) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != GGUF_TYPE_BOOL) return false;
    *v = kv->data[0] != 0;
    return true;
}

bool gguf_get_str(const gguf_ctx *g, int64_t i, const char **s, size_t *len) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != GGUF_TYPE_STRING) return false;
    *s = (const char *)kv->data;
    *len = (size_t)kv->len;
    return true;
}

/* Reads element bytes P of integer type T as int64; false if T is not an integer type. */
static bool int_value(gguf_value_type t, const uint8_t *p, int64_t *v) {
    switch (t) {
    case GGUF_TYPE_UINT8: *v = p[0]; return true;
    case GGUF_TYPE_INT8: *v = (int8_t)p[0]; return true;
    case GGUF_TYPE_BOOL: *v = p[0] != 0; return true;
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); *v = x; return true; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); *v = x; return true; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); *v = x; return true; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); *v = x; return true; }
    case GGUF_TYPE_UINT64: { uint64_t x; memcpy(&x, p, 8); if (x > (uint64_t)INT64_MAX) return false; *v = (int64_t)x; return true; }
    case GGUF_TYPE_INT64: { int64_t x; memcpy(&x, p, 8); *v = x; return true; }
    default: return false;
    }
}

static bool float_value(gguf_value_type t, const uint8_t *p, double *v) {
    if (t == GGUF_TYPE_FLOAT32) { float x; memcpy(&x, p, 4); *v = x; return true; }
    if (t == GGUF_TYPE_FLOAT64) { double x; memcpy(&x, p, 8); *v = x; return true; }
    int64_t iv;
    if (int_value(t, p, &iv)) { *v = (double)iv; return true; }
    return false;
}

bool gguf_get_int(const gguf_ctx *g, int64_t i, int64_t *v) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type == GGUF_TYPE_BOOL) return false;
    return kv && int_value(kv->type, kv->data, v);
}

bool gguf_get_float(const gguf_ctx *g, int64_t i, double *v) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64)) return false;
    return float_value(kv->type, kv->data, v);
}

gguf_value_type gguf_arr_type(const gguf_ctx *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return (kv && kv->type == GGUF_TYPE_ARRAY) ? kv->arr_type : GGUF_TYPE_COUNT_;
}

uint64_t gguf_arr_n(const gguf_ctx *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return (kv && kv->type == GGUF_TYPE_ARRAY) ? kv->arr_n : 0;
}

bool gguf_arr_str(const gguf_ctx *g, int64_t i, uint64_t j, const char **s, size_t *len) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_STRING || j >= kv->arr_n) return false;
    *s = (const char *)kv->str_ptr[j];
    *len = (size_t)kv->str_len[j];
    return true;
}

const uint8_t *gguf_arr_data(const gguf_ctx *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != GGUF_TYPE_ARRAY || kv->arr_type == GGUF_TYPE_STRING) return NULL;
    return kv->data;
}

bool gguf_arr_to_f32(const gguf_ctx *g, int64_t i, float *out, uint64_t n) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != GGUF_TYPE_ARRAY || n > kv->arr_n) return false;
    size_t esz = scalar_size(kv->arr_type);
    if (esz == 0) return false;
    for (uint64_t j = 0; j < n; j++) {
        double v;
        if (!float_value(kv->arr_type, kv->data + j * esz, &v)) return false;
        out[j] = (float)v;
    }
    return true;
}

bool gguf_arr_to_i32(const gguf_ctx *g, int64_t i, int32_t *out, uint64_t n) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != GGUF_TYPE_ARRAY || n > kv->arr_n) return false;
    size_t esz = scalar_size(kv->arr_type);
    if (esz == 0) return false;
    for (uint64_t j = 0; j < n; j++) {
        int64_t v;
        if (!int_value(kv->arr_type, kv->data + j * esz, &v) || v < INT32_MIN || v > INT32_MAX) return false;
        out[j] = (int32_t)v;
    }
    return true;
}
