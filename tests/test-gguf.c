/*
 * test-gguf.c — tests of the GGUF reader (src/gguf.c) on crafted files.
 *
 * tests/crafted/make_crafted.py writes a valid base file and about a hundred
 * variants that each break one rule of the format, with the status each must
 * produce listed in expected.tsv. The generator builds the bytes from the
 * specification with Python's struct module, independently of this reader
 * (its base file was also cross-checked with the @huggingface/gguf reader).
 *
 * Every manifest row must give exactly its status and a fresh, non-empty
 * error message; the base file's metadata getters and tensor data must
 * return what the generator wrote; and every proper prefix of the base file,
 * copied into an exactly-sized heap buffer so the sanitizers see any
 * over-read, must be rejected cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basics/common.h"
#include "basics/gguf.h"
#include "model/quant.h"

#define PYTHON "/usr/bin/python3"
#define SENTINEL "sentinel message from test-gguf"

static char g_dir[256];

/* tests/crafted/make_crafted.py, found next to this source file. */
static void script_path(char *out, size_t n) {
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    size_t dir_len = slash ? (size_t)(slash - f) : 0;
    if (slash) snprintf(out, n, "%.*s/crafted/make_crafted.py", (int)dir_len, f);
    else snprintf(out, n, "crafted/make_crafted.py");
}

static int setup(void **state) {
    (void)state;
    char script[1024], cmd[2048];
    snprintf(g_dir, sizeof g_dir, "/tmp/attrib-gguf-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    script_path(script, sizeof script);
    snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s' > /dev/null", script, g_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "generator failed: %s\n", cmd);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path_in_dir(const char *name) {
    size_t n = strlen(g_dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", g_dir, name);
    return p;
}

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* ------------------------------------------------------------------------ */

static void test_manifest(void **state) {
    (void)state;
    char *manifest = path_in_dir("expected.tsv");
    FILE *m = fopen(manifest, "r");
    assert_non_null(m);
    char line[1024];
    int rows = 0, failures = 0, ok_rows = 0;
    while (fgets(line, sizeof line, m)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = '\0';
        char *file = strtok(line, "\t");
        char *want = strtok(NULL, "\t");
        char *what = strtok(NULL, "\t");
        assert_non_null(file);
        assert_non_null(want);
        char *path = path_in_dir(file);
        gguf_ctx *ctx = (gguf_ctx *)(uintptr_t)0x1; /* must stay untouched on failure */
        attrib_fail(ATTRIB_E_INTERNAL, SENTINEL);
        attrib_status s = gguf_init_from_file(path, &ctx);
        const char *got = attrib_status_name(s);
        if (strcmp(got, want) != 0) {
            printf("FAIL %-36s want %-24s got %-24s (%s) msg: %s\n", file, want, got, what ? what : "",
                   attrib_last_error());
            failures++;
        } else if (s != ATTRIB_OK) {
            const char *msg = attrib_last_error();
            if (msg[0] == '\0' || strstr(msg, SENTINEL)) {
                printf("FAIL %-36s: no fresh error message\n", file);
                failures++;
            }
            /* An unsupported ggml type must be named, with the tensor using it. */
            if (strcmp(file, "ttype_iq2_xxs.gguf") == 0 && (!strstr(msg, "IQ2_XXS") || !strstr(msg, "'c.bias'"))) {
                printf("FAIL %-36s: message does not name the type and tensor: %s\n", file, msg);
                failures++;
            }
            if (ctx != (gguf_ctx *)(uintptr_t)0x1) {
                printf("FAIL %-36s: output written on failure\n", file);
                failures++;
            }
        } else {
            ok_rows++;
        }
        if (s == ATTRIB_OK) gguf_free(ctx);
        free(path);
        rows++;
    }
    fclose(m);
    free(manifest);
    printf("crafted GGUF files: %d checked (%d valid, %d invalid), %d wrong\n", rows, ok_rows, rows - ok_rows,
           failures);
    assert_true(rows >= 90);
    assert_true(ok_rows >= 5);
    assert_int_equal(failures, 0);
}

/* What make_crafted.py's base() writes. */
static void check_base(gguf_ctx *g) {
    int64_t i;
    uint32_t u32v;
    int32_t i32v;
    uint64_t u64v;
    int64_t iv;
    float f;
    double dv;
    bool b;
    const char *s;
    size_t len;

    assert_int_equal(gguf_version(g), 3);
    assert_int_equal(gguf_alignment(g), 32);
    assert_int_equal(gguf_n_kv(g), 19);
    assert_int_equal(gguf_n_tensors(g), 4);
    assert_int_equal(gguf_file_size(g), 1248 + 384); /* as @huggingface/gguf reports */

    assert_int_equal(gguf_find_key(g, "no.such.key"), -1);
    assert_int_equal(gguf_find_key(g, ""), -1);
    assert_int_equal(gguf_find_key(g, "general.nam"), -1); /* prefix of a real key */

    i = gguf_find_key(g, "general.architecture");
    assert_int_equal(i, 1);
    assert_string_equal(gguf_key(g, i), "general.architecture");
    assert_int_equal(gguf_kv_type(g, i), GGUF_TYPE_STRING);
    assert_true(gguf_get_str(g, i, &s, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(s, "llama", 5);
    assert_false(gguf_get_u32(g, i, &u32v));
    assert_false(gguf_get_int(g, i, &iv));

    i = gguf_find_key(g, "general.alignment");
    assert_true(gguf_get_u32(g, i, &u32v));
    assert_int_equal(u32v, 32);
    assert_false(gguf_get_i32(g, i, &i32v)); /* exact type only */
    assert_false(gguf_get_u64(g, i, &u64v));
    assert_true(gguf_get_int(g, i, &iv));
    assert_int_equal(iv, 32);

    i = gguf_find_key(g, "test.u8");
    assert_int_equal(gguf_kv_type(g, i), GGUF_TYPE_UINT8);
    assert_true(gguf_get_int(g, i, &iv));
    assert_int_equal(iv, 200);
    assert_false(gguf_get_u32(g, i, &u32v));
    i = gguf_find_key(g, "test.i8");
    assert_true(gguf_get_int(g, i, &iv));
    assert_int_equal(iv, -5);
    i = gguf_find_key(g, "test.u16");
    assert_true(gguf_get_int(g, i, &iv));
    assert_int_equal(iv, 65000);
    i = gguf_find_key(g, "test.i16");
    assert_true(gguf_get_int(g, i, &iv));
    assert_int_equal(iv, -1234);
    i = gguf_find_key(g, "test.i32");
    assert_true(gguf_get_i32(g, i, &i32v));
    assert_int_equal(i32v, -7);
    assert_false(gguf_get_u32(g, i, &u32v));
    assert_false(gguf_get_f32(g, i, &f));
    i = gguf_find_key(g, "test.u64");
    assert_true(gguf_get_u64(g, i, &u64v));
    assert_true(u64v == (uint64_t)1 << 40);
    assert_true(gguf_get_int(g, i, &iv));
    assert_true(iv == (int64_t)1 << 40);
    i = gguf_find_key(g, "test.i64");
    assert_false(gguf_get_u64(g, i, &u64v));
    assert_true(gguf_get_int(g, i, &iv));
    assert_true(iv == -((int64_t)1 << 40));
    i = gguf_find_key(g, "test.f32");
    assert_true(gguf_get_f32(g, i, &f));
    assert_true(f == 0.5f);
    assert_true(gguf_get_float(g, i, &dv));
    assert_true(dv == 0.5);
    assert_false(gguf_get_int(g, i, &iv));
    i = gguf_find_key(g, "test.f64");
    assert_false(gguf_get_f32(g, i, &f));
    assert_true(gguf_get_float(g, i, &dv));
    assert_true(dv == 2.25);
    i = gguf_find_key(g, "test.bool");
    assert_true(gguf_get_bool(g, i, &b));
    assert_true(b);
    assert_false(gguf_get_int(g, i, &iv));
    assert_false(gguf_get_u32(g, i, &u32v));
    assert_false(gguf_get_bool(g, gguf_find_key(g, "test.u8"), &b));
    i = gguf_find_key(g, "test.str_empty");
    assert_true(gguf_get_str(g, i, &s, &len));
    assert_int_equal(len, 0);
    i = gguf_find_key(g, "general.description");
    assert_true(gguf_get_str(g, i, &s, &len));
    assert_int_equal(len, 320);
    assert_memory_equal(s, "A small GGUF file", 17);

    /* Arrays. */
    i = gguf_find_key(g, "test.arr_f32");
    assert_int_equal(gguf_kv_type(g, i), GGUF_TYPE_ARRAY);
    assert_int_equal(gguf_arr_type(g, i), GGUF_TYPE_FLOAT32);
    assert_int_equal(gguf_arr_n(g, i), 6);
    float fa[6];
    const float want_f[6] = {0.0f, -1.0f, -2.5f, 3.25f, 8.0f, 0.125f};
    assert_true(gguf_arr_to_f32(g, i, fa, 6));
    for (int k = 0; k < 6; k++) assert_true(fa[k] == want_f[k]);
    assert_false(gguf_arr_to_f32(g, i, fa, 7)); /* more than it holds */
    int32_t ia[6];
    assert_false(gguf_arr_to_i32(g, i, ia, 6)); /* floats are not integers */
    assert_non_null(gguf_arr_data(g, i));
    assert_false(gguf_get_str(g, i, &s, &len));
    assert_false(gguf_arr_str(g, i, 0, &s, &len));

    i = gguf_find_key(g, "test.arr_i32");
    assert_int_equal(gguf_arr_type(g, i), GGUF_TYPE_INT32);
    assert_true(gguf_arr_to_i32(g, i, ia, 4));
    assert_int_equal(ia[0], 1);
    assert_int_equal(ia[1], -2);
    assert_int_equal(ia[2], 3);
    assert_int_equal(ia[3], 2147483647);
    assert_true(gguf_arr_to_f32(g, i, fa, 4));
    assert_true(fa[1] == -2.0f);

    i = gguf_find_key(g, "tokenizer.ggml.tokens");
    assert_int_equal(gguf_arr_type(g, i), GGUF_TYPE_STRING);
    assert_int_equal(gguf_arr_n(g, i), 5);
    static const char *tokens[5] = {"<unk>", "<s>", "</s>", "hello", "w\xc3\xb6rld"};
    for (int k = 0; k < 5; k++) {
        assert_true(gguf_arr_str(g, i, (uint64_t)k, &s, &len));
        assert_int_equal(len, strlen(tokens[k]));
        assert_memory_equal(s, tokens[k], len);
    }
    assert_false(gguf_arr_str(g, i, 5, &s, &len));
    assert_null(gguf_arr_data(g, i));
    assert_false(gguf_arr_to_f32(g, i, fa, 1));

    i = gguf_find_key(g, "test.empty_arr");
    assert_int_equal(gguf_arr_type(g, i), GGUF_TYPE_UINT8);
    assert_int_equal(gguf_arr_n(g, i), 0);
    /* Not arrays. */
    assert_int_equal(gguf_arr_type(g, gguf_find_key(g, "test.u8")), GGUF_TYPE_COUNT_);
    assert_int_equal(gguf_arr_n(g, gguf_find_key(g, "test.u8")), 0);

    /* Tensors. */
    assert_int_equal(gguf_find_tensor(g, "missing.weight"), -1);
    assert_int_equal(gguf_find_tensor(g, "a.weigh"), -1);
    static const struct {
        const char *name;
        int n_dims;
        int64_t ne0, ne1;
        int type;
        uint64_t offset, n_bytes;
    } want_t[4] = {
        {"a.weight", 2, 8, 4, ATTRIB_DTYPE_F32, 0, 128},
        {"b.weight", 2, 64, 2, ATTRIB_DTYPE_Q8_0, 128, 136},
        {"c.bias", 1, 8, 1, ATTRIB_DTYPE_F32, 288, 32},
        {"d.weight", 2, 16, 2, ATTRIB_DTYPE_F16, 320, 64},
    };
    const uint8_t *data_start = gguf_file_data(g) + 1248;
    for (int k = 0; k < 4; k++) {
        int64_t ti = gguf_find_tensor(g, want_t[k].name);
        assert_int_equal(ti, k);
        const gguf_tensor *t = gguf_get_tensor(g, ti);
        assert_non_null(t);
        assert_string_equal(t->name, want_t[k].name);
        assert_int_equal(t->n_dims, want_t[k].n_dims);
        assert_int_equal(t->ne[0], want_t[k].ne0);
        assert_int_equal(t->ne[1], want_t[k].ne1);
        assert_int_equal(t->ne[2], 1);
        assert_int_equal(t->ne[3], 1);
        assert_int_equal(t->type, want_t[k].type);
        assert_int_equal(t->offset, want_t[k].offset);
        assert_int_equal(t->n_bytes, want_t[k].n_bytes);
        assert_ptr_equal(t->data, data_start + want_t[k].offset);
    }
    assert_null(gguf_get_tensor(g, 4));
    assert_null(gguf_get_tensor(g, -1));

    /* Tensor contents, through the dequantiser. */
    float row[64];
    const gguf_tensor *t = gguf_get_tensor(g, 0);
    for (int r = 0; r < 4; r++) {
        assert_int_equal(attrib_dequant_row(t->type, t->data + r * 32, row, 8), 0);
        for (int c = 0; c < 8; c++) assert_true(row[c] == (float)(r * 8 + c) * 0.5f - 3.0f);
    }
    t = gguf_get_tensor(g, 1);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(attrib_dequant_row(t->type, t->data + r * 68, row, 64), 0);
        for (int c = 0; c < 64; c++) {
            int k = r * 2 + c / 32, j = c % 32;
            assert_true(row[c] == (float)(j - 16 + k) * 0.25f * (float)(k + 1));
        }
    }
    t = gguf_get_tensor(g, 2);
    assert_int_equal(attrib_dequant_row(t->type, t->data, row, 8), 0);
    for (int c = 0; c < 8; c++) assert_true(row[c] == 100.0f + (float)c);
    t = gguf_get_tensor(g, 3);
    assert_int_equal(attrib_dequant_row(t->type, t->data, row, 32), 0);
    for (int c = 0; c < 32; c++) assert_true(row[c] == (float)(c - 16));
}

static void test_base_values(void **state) {
    (void)state;
    char *path = path_in_dir("base.gguf");
    gguf_ctx *g = NULL;
    attrib_status s = gguf_init_from_file(path, &g);
    if (s) fail_msg("base.gguf: %s: %s", attrib_status_name(s), attrib_last_error());
    check_base(g);
    gguf_free(g);

    /* The same bytes from memory. */
    size_t size;
    uint8_t *buf = read_all(path, &size);
    g = NULL;
    assert_int_equal(gguf_init_from_memory(buf, size, &g), ATTRIB_OK);
    assert_ptr_equal(gguf_file_data(g), buf);
    check_base(g);
    gguf_free(g);
    free(buf);
    free(path);
    printf("base.gguf: 19 pairs and 4 tensors read back as written\n");
}

static void test_other_valid_files(void **state) {
    (void)state;
    gguf_ctx *g = NULL;
    char *path = path_in_dir("ok_alignment_16.gguf");
    assert_int_equal(gguf_init_from_file(path, &g), ATTRIB_OK);
    assert_int_equal(gguf_alignment(g), 16);
    /* Data now starts at the next multiple of 16 after the descriptions. */
    const gguf_tensor *t = gguf_get_tensor(g, gguf_find_tensor(g, "c.bias"));
    float row[8];
    assert_int_equal(attrib_dequant_row(t->type, t->data, row, 8), 0);
    assert_true(row[7] == 107.0f);
    assert_int_equal((size_t)(t->data - gguf_file_data(g) - 288) % 16, 0);
    gguf_free(g);
    free(path);

    path = path_in_dir("ok_header_only.gguf");
    assert_int_equal(gguf_init_from_file(path, &g), ATTRIB_OK);
    assert_int_equal(gguf_n_kv(g), 0);
    assert_int_equal(gguf_n_tensors(g), 0);
    assert_int_equal(gguf_find_key(g, "general.name"), -1);
    assert_int_equal(gguf_find_tensor(g, "a.weight"), -1);
    gguf_free(g);
    free(path);

    path = path_in_dir("ok_version2.gguf");
    assert_int_equal(gguf_init_from_file(path, &g), ATTRIB_OK);
    assert_int_equal(gguf_version(g), 2);
    gguf_free(g);
    free(path);

    path = path_in_dir("ok_name_256.gguf");
    assert_int_equal(gguf_init_from_file(path, &g), ATTRIB_OK);
    char name[257];
    memset(name, 'n', 256);
    name[256] = '\0';
    assert_int_equal(gguf_find_tensor(g, name), 2);
    gguf_free(g);
    free(path);
}

/* Every proper prefix of the base file must fail, with a sensible status. */
static void test_every_prefix(void **state) {
    (void)state;
    char *path = path_in_dir("base.gguf");
    size_t size;
    uint8_t *full = read_all(path, &size);
    int counts[3] = {0, 0, 0};
    for (size_t n = 0; n < size; n++) {
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, full, n);
        gguf_ctx *g = NULL;
        attrib_fail(ATTRIB_E_INTERNAL, SENTINEL);
        attrib_status s = gguf_init_from_memory(p, n, &g);
        assert_null(g);
        if (n < 4) {
            assert_int_equal(s, ATTRIB_E_BAD_MAGIC);
        } else if (n < 24) {
            assert_int_equal(s, ATTRIB_E_TRUNCATED);
        } else if (s != ATTRIB_E_TRUNCATED && s != ATTRIB_E_BAD_COUNT && s != ATTRIB_E_BAD_OFFSET) {
            fail_msg("prefix of %zu bytes: %s (%s)", n, attrib_status_name(s), attrib_last_error());
        }
        /* Cut inside the data section: the header is whole, so only the
         * tensor data can be at fault. */
        if (n >= 1248) assert_int_equal(s, ATTRIB_E_BAD_OFFSET);
        counts[s == ATTRIB_E_TRUNCATED ? 0 : s == ATTRIB_E_BAD_COUNT ? 1 : 2]++;
        const char *msg = attrib_last_error();
        assert_true(msg[0] != '\0');
        assert_null(strstr(msg, SENTINEL));
        free(p);
    }
    printf("all %zu proper prefixes rejected (%d truncated, %d impossible count, %d other)\n", size, counts[0],
           counts[1], counts[2]);
    free(full);
    free(path);
}

/* Bad arguments. */
static void test_arguments(void **state) {
    (void)state;
    gguf_ctx *g = NULL;
    assert_int_equal(gguf_init_from_file(NULL, &g), ATTRIB_E_INVALID_ARG);
    assert_int_equal(gguf_init_from_memory(NULL, 10, &g), ATTRIB_E_INVALID_ARG);
    char *path = path_in_dir("base.gguf");
    assert_int_equal(gguf_init_from_file(path, NULL), ATTRIB_E_INVALID_ARG);
    free(path);
    path = path_in_dir("does-not-exist.gguf");
    assert_int_equal(gguf_init_from_file(path, &g), ATTRIB_E_IO);
    assert_true(strstr(attrib_last_error(), "does-not-exist") != NULL);
    free(path);
    assert_int_equal(gguf_init_from_file(g_dir, &g), ATTRIB_E_IO); /* a directory */
    assert_null(g);
    gguf_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_base_values),
        cmocka_unit_test(test_other_valid_files),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests_name("gguf", tests, setup, teardown);
}
