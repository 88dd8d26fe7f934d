/*
 * common.c — error messages, allocation wrappers, file mapping and small
 * numeric conversions shared by every module.
 *
 * The last error is thread-local so that a failed constructor (which has no
 * handle to hang a message on) can still explain itself. Allocation goes
 * through one counter so tests can make the k-th allocation fail and check
 * that every path reports ATTRIB_E_NOMEM instead of crashing or leaking.
 */
#include "basics/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRMSG_MAX 1024

static _Thread_local char last_error[ERRMSG_MAX];

const char *attrib_version(void) { return ATTRIB_VERSION_STRING; }

#include "attrib_commit.h" /* generated at every build: ATTRIB_GIT_COMMIT */
const char *attrib_commit(void) { return ATTRIB_GIT_COMMIT; }

const char *attrib_last_error(void) { return last_error; }

attrib_status attrib_fail(attrib_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

attrib_status attrib_fail_context(attrib_status s, const char *fmt, ...) {
    char prefix[512];
    char old[ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    size_t pl = strlen(prefix);
    /* a context already given by an inner layer (the file's path, say) is not repeated */
    if (strncmp(old, prefix, pl) == 0 && old[pl] == ':') return s;
    snprintf(last_error, sizeof last_error, "%.500s: %.500s", prefix, old);
    return s;
}

const char *attrib_status_name(attrib_status s) {
    switch (s) {
    case ATTRIB_OK: return "ATTRIB_OK";
    case ATTRIB_E_INVALID_ARG: return "ATTRIB_E_INVALID_ARG";
    case ATTRIB_E_IO: return "ATTRIB_E_IO";
    case ATTRIB_E_NOMEM: return "ATTRIB_E_NOMEM";
    case ATTRIB_E_LIMIT: return "ATTRIB_E_LIMIT";
    case ATTRIB_E_BAD_MAGIC: return "ATTRIB_E_BAD_MAGIC";
    case ATTRIB_E_BAD_VERSION: return "ATTRIB_E_BAD_VERSION";
    case ATTRIB_E_TRUNCATED: return "ATTRIB_E_TRUNCATED";
    case ATTRIB_E_BAD_COUNT: return "ATTRIB_E_BAD_COUNT";
    case ATTRIB_E_BAD_STRING: return "ATTRIB_E_BAD_STRING";
    case ATTRIB_E_BAD_TYPE: return "ATTRIB_E_BAD_TYPE";
    case ATTRIB_E_BAD_DIMS: return "ATTRIB_E_BAD_DIMS";
    case ATTRIB_E_BAD_OFFSET: return "ATTRIB_E_BAD_OFFSET";
    case ATTRIB_E_BAD_ALIGNMENT: return "ATTRIB_E_BAD_ALIGNMENT";
    case ATTRIB_E_OVERLAP: return "ATTRIB_E_OVERLAP";
    case ATTRIB_E_DUPLICATE: return "ATTRIB_E_DUPLICATE";
    case ATTRIB_E_METADATA_TYPE: return "ATTRIB_E_METADATA_TYPE";
    case ATTRIB_E_MISSING: return "ATTRIB_E_MISSING";
    case ATTRIB_E_SHAPE: return "ATTRIB_E_SHAPE";
    case ATTRIB_E_UNSUPPORTED: return "ATTRIB_E_UNSUPPORTED";
    case ATTRIB_E_BAD_JSON: return "ATTRIB_E_BAD_JSON";
    case ATTRIB_E_BAD_VALUE: return "ATTRIB_E_BAD_VALUE";
    case ATTRIB_E_NUMERIC: return "ATTRIB_E_NUMERIC";
    case ATTRIB_E_BAD_TEXT: return "ATTRIB_E_BAD_TEXT";
    case ATTRIB_E_INTERNAL: return "ATTRIB_E_INTERNAL";
    }
    return "ATTRIB_E_UNKNOWN";
}

/* ---- allocation with fault injection ---------------------------------- */

static uint64_t alloc_count;   /* allocations since the last attrib_test_fail_alloc_at */
static uint64_t alloc_fail_at; /* 0 = never fail */

static bool alloc_should_fail(void) {
    uint64_t k = __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
    return alloc_fail_at != 0 && k == alloc_fail_at;
}

uint64_t attrib_test_fail_alloc_at(uint64_t k) {
    uint64_t n = __atomic_exchange_n(&alloc_count, 0, __ATOMIC_RELAXED);
    alloc_fail_at = k;
    return n;
}

void *attrib_malloc(size_t n) {
    if (alloc_should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *attrib_calloc_array(size_t n, size_t size) {
    size_t total;
    if (!attrib_mul_ok(n, size, &total)) return NULL;
    if (alloc_should_fail()) return NULL;
    return calloc(total ? total : 1, 1);
}

void *attrib_realloc(void *p, size_t n) {
    if (alloc_should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

char *attrib_strndup(const char *s, size_t n) {
    char *r = attrib_malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

char *attrib_strdup(const char *s) { return attrib_strndup(s, strlen(s)); }

void attrib_free(void *p) { free(p); }

/* ---- files --------------------------------------------------------------- */

attrib_status attrib_map_file(const char *path, attrib_mapped_file *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return attrib_fail(ATTRIB_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return attrib_fail(ATTRIB_E_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return attrib_fail(ATTRIB_E_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        out->data = (const uint8_t *)"";
        out->size = 0;
        return ATTRIB_OK;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return attrib_fail(ATTRIB_E_LIMIT, "'%s' is too large to map", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return attrib_fail(ATTRIB_E_IO, "cannot map '%s': %s", path, strerror(errno));
    out->data = p;
    out->size = (size_t)st.st_size;
    out->is_mmap = 1;
    return ATTRIB_OK;
}

void attrib_unmap_file(attrib_mapped_file *f) {
    if (!f) return;
    if (f->is_mmap && f->data) munmap((void *)f->data, f->size);
    memset(f, 0, sizeof *f);
}

attrib_status attrib_read_small_file(const char *path, size_t max_bytes, char **out, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return attrib_fail(ATTRIB_E_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = attrib_malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(buf);
                fclose(fp);
                return attrib_fail(ATTRIB_E_LIMIT, "'%s' is larger than the limit of %zu bytes", path, max_bytes);
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            char *nb = attrib_realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return attrib_fail(ATTRIB_E_NOMEM, "out of memory reading '%s'", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        free(buf);
        return attrib_fail(ATTRIB_E_IO, "error reading '%s'", path);
    }
    if (n > max_bytes) {
        free(buf);
        return attrib_fail(ATTRIB_E_LIMIT, "'%s' is larger than the limit of %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return ATTRIB_OK;
}

int attrib_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* ---- conversions ----------------------------------------------------------- */

float attrib_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    union { uint32_t u; float f; } v;
    if (exp == 0) {
        if (mant == 0) {
            v.u = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400u));
            mant &= 0x3ffu;
            v.u = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        v.u = sign | 0x7f800000u | (mant << 13);
    } else {
        v.u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    return v.f;
}
