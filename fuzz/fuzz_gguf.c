/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader and the GGUF model
 * loader.
 *
 * Each input is treated as a whole GGUF file and goes through two paths:
 *   1. gguf_init_from_memory, then every getter on every key, every array
 *      element and every tensor, so that a value the parser accepted but
 *      stored wrongly (an index past an array, a string pointer outside the
 *      image, a tensor whose bytes leave the data section) is read and
 *      caught by ASan. Tensor bytes are touched at both ends for the same
 *      reason.
 *   2. the same bytes written to an anonymous memory file and loaded with
 *      attrib_model_load through its /proc/self/fd path, so that model.c's
 *      hyper-parameter and shape checks, the dequantisation of vectors and
 *      the GGUF tokenizer see the fuzzed data exactly as a user's file
 *      would reach them (mmap included).
 * Everything is freed each time so LeakSanitizer can see leaks on error
 * paths. Statuses are not checked: any status is acceptable, a crash,
 * sanitizer report or leak is not.
 */
#include "attrib.h"
#include "basics/gguf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Accumulates bytes read so the compiler cannot drop the loads. */
static volatile uint64_t g_sink;

static void touch(const void *p, size_t n) {
    const uint8_t *b = p;
    if (n == 0) return;
    g_sink += b[0];
    g_sink += b[n - 1];
}

static void exercise_kv(const gguf_ctx *g, int64_t i) {
    const char *key = gguf_key(g, i);
    touch(key, strlen(key) + 1);
    /* Lookup by name must find this pair (keys are unique once parsed). */
    if (gguf_find_key(g, key) != i) __builtin_trap();
    gguf_value_type t = gguf_kv_type(g, i);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f32;
    bool b;
    int64_t iv;
    double dv;
    const char *s;
    size_t len;
    if (gguf_get_u32(g, i, &u32)) g_sink += u32;
    if (gguf_get_i32(g, i, &i32)) g_sink += (uint64_t)i32;
    if (gguf_get_u64(g, i, &u64)) g_sink += u64;
    if (gguf_get_f32(g, i, &f32)) g_sink += (uint64_t)(f32 == f32);
    if (gguf_get_bool(g, i, &b)) g_sink += b;
    if (gguf_get_int(g, i, &iv)) g_sink += (uint64_t)iv;
    if (gguf_get_float(g, i, &dv)) g_sink += (uint64_t)(dv == dv);
    if (gguf_get_str(g, i, &s, &len)) touch(s, len);
    if (t != GGUF_TYPE_ARRAY) return;

    gguf_value_type at = gguf_arr_type(g, i);
    uint64_t n = gguf_arr_n(g, i);
    if (at == GGUF_TYPE_STRING) {
        for (uint64_t j = 0; j < n; j++)
            if (gguf_arr_str(g, i, j, &s, &len)) touch(s, len);
        /* One past the end must be refused, not read. */
        if (gguf_arr_str(g, i, n, &s, &len)) __builtin_trap();
        return;
    }
    const uint8_t *raw = gguf_arr_data(g, i);
    int esize = 0;
    switch (at) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: esize = 1; break;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: esize = 2; break;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: esize = 4; break;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: esize = 8; break;
    default: break;
    }
    if (raw && esize && n) touch(raw, (size_t)n * (size_t)esize);
    /* The converting copies: bounded so a legitimately huge array (the parser
     * allows up to the file size) does not make each execution slow. */
    if (n > 0 && n <= (1u << 16)) {
        float *fo = malloc((size_t)n * sizeof *fo);
        int32_t *io = malloc((size_t)n * sizeof *io);
        if (fo && gguf_arr_to_f32(g, i, fo, n)) touch(fo, (size_t)n * sizeof *fo);
        if (io && gguf_arr_to_i32(g, i, io, n)) touch(io, (size_t)n * sizeof *io);
        free(fo);
        free(io);
    }
}

static void exercise_tensor(const gguf_ctx *g, int64_t i) {
    const gguf_tensor *t = gguf_get_tensor(g, i);
    if (!t) __builtin_trap();
    touch(t->name, strlen(t->name) + 1);
    if (gguf_find_tensor(g, t->name) != i) __builtin_trap();
    uint64_t rb;
    int be, bb;
    if (gguf_row_bytes(t->type, t->ne[0], &rb)) g_sink += rb;
    if (gguf_type_block(t->type, &be, &bb)) g_sink += (uint64_t)(be + bb);
    /* The parser promised these bytes lie inside the image. */
    if (t->n_bytes) touch(t->data, (size_t)t->n_bytes);
}

static void fuzz_parser(const uint8_t *data, size_t size) {
    gguf_ctx *g = NULL;
    if (gguf_init_from_memory(data, size, &g) != ATTRIB_OK) {
        if (g) __builtin_trap(); /* output written on failure */
        return;
    }
    g_sink += gguf_version(g) + gguf_alignment(g) + gguf_file_size(g);
    if (gguf_file_data(g) != data) __builtin_trap();
    for (int64_t i = 0; i < gguf_n_kv(g); i++) exercise_kv(g, i);
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) exercise_tensor(g, i);
    g_sink += (uint64_t)gguf_find_key(g, "general.architecture");
    g_sink += (uint64_t)gguf_find_tensor(g, "token_embd.weight");
    gguf_free(g);
}

/* One memory file for the whole run, rewritten for each input. */
static int g_memfd = -1;
static char g_memfd_path[64];

static void fuzz_model(const uint8_t *data, size_t size) {
    if (g_memfd < 0) {
        g_memfd = memfd_create("fuzz_gguf", MFD_CLOEXEC);
        if (g_memfd < 0) return;
        snprintf(g_memfd_path, sizeof g_memfd_path, "/proc/self/fd/%d", g_memfd);
    }
    if (ftruncate(g_memfd, 0) != 0) return;
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(g_memfd, data + off, size - off, (off_t)off);
        if (w <= 0) return;
        off += (size_t)w;
    }
    attrib_model_options opt = attrib_model_default_options();
    opt.n_threads = 1;
    opt.check_weights = size > 0 && (data[size - 1] & 1); /* reach the NaN/Inf scan too */
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(g_memfd_path, &opt, &m);
    if (s == ATTRIB_OK) {
        const attrib_model_info *in = attrib_model_get_info(m);
        g_sink += (uint64_t)in->n_vocab + in->n_params;
        /* Embed the first and last rows: the loader vouched for the matrix. */
        int32_t ids[2] = {0, in->n_vocab - 1};
        float *out = malloc(2 * (size_t)in->n_embd * sizeof *out);
        if (out && attrib_model_embed(m, ids, 2, out) != ATTRIB_OK) __builtin_trap();
        free(out);
        attrib_model_free(m);
    } else {
        if (m) __builtin_trap();
        if (attrib_last_error()[0] == '\0') __builtin_trap(); /* every failure explains itself */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_parser(data, size);
    fuzz_model(data, size);
    return 0;
}
