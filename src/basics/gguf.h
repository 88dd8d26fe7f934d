/*
 * gguf.h — private interface of the GGUF reader (src/gguf.c).
 *
 * A GGUF file is parsed once, strictly, into an index of its metadata
 * key/value pairs and tensor descriptors; tensor data stays in the memory
 * map. Every count, length, dimension, type, offset and the alignment is
 * validated against the file size with overflow-checked arithmetic before
 * anything is stored, so every getter below can trust the index.
 * Lookups return -1 when a key or tensor is missing (as ggml's gguf.h does).
 */
#ifndef ATTRIB_GGUF_H
#define ATTRIB_GGUF_H

#include "basics/common.h"

typedef enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT_ = 13
} gguf_value_type;

/* Limits that bound work and memory on hostile files. */
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 256            /* bytes in a tensor name */
#define GGUF_MAX_KEY 65535           /* bytes in a key */
#define GGUF_MAX_STRING (1u << 30)   /* bytes in one string value */

typedef struct gguf_ctx gguf_ctx;

typedef struct gguf_tensor {
    const char *name;       /* NUL-terminated copy */
    int n_dims;             /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    int type;               /* attrib_dtype */
    uint64_t offset;        /* from the start of the data section */
    uint64_t n_bytes;       /* bytes of data */
    const uint8_t *data;    /* into the mapping */
} gguf_tensor;

/* Parses PATH. On success *out is a new context (free with gguf_free). */
attrib_status gguf_init_from_file(const char *path, gguf_ctx **out);
/* Parses an in-memory image (not copied: must outlive the context). */
attrib_status gguf_init_from_memory(const uint8_t *data, size_t size, gguf_ctx **out);
void gguf_free(gguf_ctx *ctx);

uint32_t gguf_version(const gguf_ctx *ctx);
size_t gguf_alignment(const gguf_ctx *ctx);
size_t gguf_file_size(const gguf_ctx *ctx);
const uint8_t *gguf_file_data(const gguf_ctx *ctx);

/* Metadata. Index arguments must come from gguf_find_key / < gguf_n_kv. */
int64_t gguf_n_kv(const gguf_ctx *ctx);
int64_t gguf_find_key(const gguf_ctx *ctx, const char *key); /* -1 if missing */
const char *gguf_key(const gguf_ctx *ctx, int64_t i);
gguf_value_type gguf_kv_type(const gguf_ctx *ctx, int64_t i);

/* Scalar getters: return the value if the pair has exactly that type. */
bool gguf_get_u32(const gguf_ctx *ctx, int64_t i, uint32_t *v);
bool gguf_get_i32(const gguf_ctx *ctx, int64_t i, int32_t *v);
bool gguf_get_u64(const gguf_ctx *ctx, int64_t i, uint64_t *v);
bool gguf_get_f32(const gguf_ctx *ctx, int64_t i, float *v);
bool gguf_get_bool(const gguf_ctx *ctx, int64_t i, bool *v);
/* String value: pointer into the mapping (NOT NUL-terminated) and length. */
bool gguf_get_str(const gguf_ctx *ctx, int64_t i, const char **s, size_t *len);
/* Integer of any integer type converted to int64 (fails if it does not fit). */
bool gguf_get_int(const gguf_ctx *ctx, int64_t i, int64_t *v);
/* Float32 or float64 as double. */
bool gguf_get_float(const gguf_ctx *ctx, int64_t i, double *v);

/* Arrays. */
gguf_value_type gguf_arr_type(const gguf_ctx *ctx, int64_t i); /* GGUF_TYPE_COUNT_ if not an array */
uint64_t gguf_arr_n(const gguf_ctx *ctx, int64_t i);
/* Element j of a string array (pointer into the mapping, not NUL-terminated). */
bool gguf_arr_str(const gguf_ctx *ctx, int64_t i, uint64_t j, const char **s, size_t *len);
/* Raw little-endian element bytes of a numeric array (may be unaligned). */
const uint8_t *gguf_arr_data(const gguf_ctx *ctx, int64_t i);
/* Copies a numeric array converting each element: fails (false) on a
 * non-numeric array or, for the integer version, a value that does not fit. */
bool gguf_arr_to_f32(const gguf_ctx *ctx, int64_t i, float *out, uint64_t n);
bool gguf_arr_to_i32(const gguf_ctx *ctx, int64_t i, int32_t *out, uint64_t n);

/* Tensors. */
int64_t gguf_n_tensors(const gguf_ctx *ctx);
int64_t gguf_find_tensor(const gguf_ctx *ctx, const char *name); /* -1 if missing */
const gguf_tensor *gguf_get_tensor(const gguf_ctx *ctx, int64_t i);

/* Bytes one row of NE0 elements of TYPE takes; false if TYPE is unknown or
 * NE0 is not a multiple of the type's block size. */
bool gguf_row_bytes(int type, int64_t ne0, uint64_t *bytes);
/* Elements per block and bytes per block of TYPE (false if unknown). */
bool gguf_type_block(int type, int *block_elems, int *block_bytes);

#endif /* ATTRIB_GGUF_H */
