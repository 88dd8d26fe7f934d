/*
 * common.h — private helpers shared by every module of libattrib.
 *
 * Error reporting (a thread-local message plus the returned attrib_status),
 * overflow-checked size arithmetic for validating untrusted files, and the
 * allocation wrappers every module uses so that allocation failures can be
 * injected in tests. Nothing here is part of the public API.
 */
#ifndef ATTRIB_COMMON_H
#define ATTRIB_COMMON_H

#include "attrib.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define ATTRIB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ATTRIB_PRINTF(a, b)
#endif

/* Records a formatted message as this thread's last error and returns S, so
 * that a failure reads `return attrib_fail(ATTRIB_E_TRUNCATED, "...", ...);`. */
attrib_status attrib_fail(attrib_status s, const char *fmt, ...) ATTRIB_PRINTF(2, 3);

/* Prefixes the current last-error message with CONTEXT (e.g. a file name)
 * and returns S unchanged. */
attrib_status attrib_fail_context(attrib_status s, const char *fmt, ...) ATTRIB_PRINTF(2, 3);

/* Overflow-checked arithmetic: return false when the result would wrap. */
static inline bool attrib_add_ok(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool attrib_mul_ok(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool attrib_add_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool attrib_mul_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* Allocation wrappers. All library allocations go through these so tests can
 * fail the k-th allocation (attrib_test_fail_alloc_at). They return NULL on
 * failure and never abort. attrib_calloc_array checks n*size for overflow. */
void *attrib_malloc(size_t n);
void *attrib_calloc_array(size_t n, size_t size);
void *attrib_realloc(void *p, size_t n);
char *attrib_strdup(const char *s);
char *attrib_strndup(const char *s, size_t n);

/* Fault injection for tests: the k-th allocation from now fails (k >= 1),
 * 0 disables. Returns the number of allocations counted since the last call. */
uint64_t attrib_test_fail_alloc_at(uint64_t k);

/* A whole file mapped read-only (or read into memory when mmap is impossible). */
typedef struct attrib_mapped_file {
    const uint8_t *data;
    size_t size;
    int is_mmap;
} attrib_mapped_file;

attrib_status attrib_map_file(const char *path, attrib_mapped_file *out);
void attrib_unmap_file(attrib_mapped_file *f);

/* Reads a whole (small) file into a NUL-terminated buffer, refusing files over
 * MAX_BYTES with ATTRIB_E_LIMIT. Caller frees with attrib_free. */
attrib_status attrib_read_small_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* Number of online CPUs (at least 1). */
int attrib_cpu_count(void);

/* IEEE half and bfloat16 to float. */
float attrib_fp16_to_f32(uint16_t h);
static inline float attrib_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}

#endif /* ATTRIB_COMMON_H */
