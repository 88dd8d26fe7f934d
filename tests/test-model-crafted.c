/*
 * test-model-crafted.c — model-level validation of attrib_model_load on
 * crafted GGUF files.
 *
 * tests/crafted/make_crafted.py also writes model_*.gguf: files that parse as
 * GGUF but describe a tiny one-layer llama (C 8, 2 heads of 4, 1 KV head,
 * FFN 16, vocabulary 6) that is either valid or wrong in one way: a missing
 * or mistyped hyper-parameter, a value out of range, a missing tensor, a
 * shape that disagrees with the hyper-parameters, a tensor the model would
 * silently ignore, a tokenizer larger than the embedding matrix, or a
 * non-finite weight. expected-model.tsv gives the exact status for each, and
 * whether the load asks for the weight scan.
 *
 * The valid model's info and embedding rows are compared with the values
 * the generator wrote.
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

#include "attrib.h"
#include "basics/common.h"

#define PYTHON "/usr/bin/python3"
#define SENTINEL "sentinel message from test-model-crafted"

static char g_dir[256];

static int setup(void **state) {
    (void)state;
    char script[1024], cmd[2048];
    const char *f = __FILE__, *slash = strrchr(f, '/');
    if (slash) snprintf(script, sizeof script, "%.*s/crafted/make_crafted.py", (int)(slash - f), f);
    else snprintf(script, sizeof script, "crafted/make_crafted.py");
    snprintf(g_dir, sizeof g_dir, "/tmp/attrib-model-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
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

static void test_model_manifest(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/expected-model.tsv", g_dir);
    FILE *m = fopen(path, "r");
    assert_non_null(m);
    char line[1024];
    int rows = 0, ok_rows = 0, failures = 0;
    while (fgets(line, sizeof line, m)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = '\0';
        char *file = strtok(line, "\t");
        char *want = strtok(NULL, "\t");
        char *check = strtok(NULL, "\t");
        char *what = strtok(NULL, "\t");
        assert_non_null(check);
        snprintf(path, sizeof path, "%s/%s", g_dir, file);
        attrib_model_options opt = attrib_model_default_options();
        opt.n_threads = 1;
        opt.check_weights = atoi(check);
        attrib_model *model = (attrib_model *)(uintptr_t)0x1;
        attrib_fail(ATTRIB_E_INTERNAL, SENTINEL);
        attrib_status s = attrib_model_load(path, &opt, &model);
        const char *got = attrib_status_name(s);
        if (strcmp(got, want) != 0) {
            printf("FAIL %-34s want %-24s got %-24s (%s) msg: %s\n", file, want, got, what ? what : "",
                   attrib_last_error());
            failures++;
        } else if (s != ATTRIB_OK) {
            const char *msg = attrib_last_error();
            if (msg[0] == '\0' || strstr(msg, SENTINEL)) {
                printf("FAIL %-34s: no fresh error message\n", file);
                failures++;
            }
            if (model != (attrib_model *)(uintptr_t)0x1) {
                printf("FAIL %-34s: output written on failure\n", file);
                failures++;
            }
        } else {
            ok_rows++;
        }
        if (s == ATTRIB_OK) attrib_model_free(model);
        rows++;
    }
    fclose(m);
    printf("crafted model files: %d checked (%d valid, %d invalid), %d wrong\n", rows, ok_rows, rows - ok_rows,
           failures);
    assert_true(rows >= 40);
    assert_int_equal(failures, 0);
}

/* The generator's fvals(n, seed) for token_embd (seed 0), rounded to f32. */
static float embd_value(int i) { return (float)((double)((i * 7) % 11 - 5) * 0.01); }

static void test_model_base_values(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/model_base.gguf", g_dir);
    attrib_model_options opt = attrib_model_default_options();
    opt.n_threads = 1;
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(path, &opt, &m);
    if (s) fail_msg("%s: %s", attrib_status_name(s), attrib_last_error());
    const attrib_model_info *in = attrib_model_get_info(m);
    assert_non_null(in);
    assert_int_equal(in->format, ATTRIB_FORMAT_GGUF);
    assert_string_equal(in->arch, "llama");
    assert_string_equal(in->name, "crafted-model");
    assert_int_equal(in->n_layer, 1);
    assert_int_equal(in->n_embd, 8);
    assert_int_equal(in->n_head, 2);
    assert_int_equal(in->n_head_kv, 1);
    assert_int_equal(in->head_dim, 4);
    assert_int_equal(in->n_ff, 16);
    assert_int_equal(in->n_vocab, 6);
    assert_int_equal(in->n_ctx_train, 64);
    assert_true(in->rms_eps == 1e-5f);
    assert_true(in->rope_theta == 10000.0f);
    assert_int_equal(in->rope_layout, ATTRIB_ROPE_INTERLEAVED);
    assert_int_equal(in->tied_output, 1);
    assert_int_equal(in->has_qkv_bias, 0);
    /* 48 + 8 + 8 + 64 + 32 + 32 + 64 + 8 + 128 * 3 parameters, all F32. */
    assert_int_equal(in->n_params, 648);
    assert_int_equal(in->weight_bytes, 648 * 4);
    assert_int_equal(in->dtype_counts[ATTRIB_DTYPE_F32], 11);
    assert_null(attrib_model_tokenizer(m));

    int32_t ids[3] = {2, 0, 5};
    float out[24];
    assert_int_equal(attrib_model_embed(m, ids, 3, out), ATTRIB_OK);
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 8; c++) assert_true(out[k * 8 + c] == embd_value(ids[k] * 8 + c));
    int32_t bad[2] = {1, 6};
    assert_int_equal(attrib_model_embed(m, bad, 2, out), ATTRIB_E_BAD_VALUE);
    bad[1] = -1;
    assert_int_equal(attrib_model_embed(m, bad, 2, out), ATTRIB_E_BAD_VALUE);
    attrib_model_free(m);
    printf("model_base.gguf: hyper-parameters, counts and embedding rows as written\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_manifest),
        cmocka_unit_test(test_model_base_values),
    };
    return cmocka_run_group_tests_name("model-crafted", tests, setup, teardown);
}
