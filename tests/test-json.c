/*
 * test-json.c — attrib_json_loadb (src/json.c): a failed allocation is
 * always reported as out of memory, never as a bad file and never as a
 * silently different value; everything else is exactly what jansson says.
 *
 * The test installs its own jansson allocator before attrib first loads
 * JSON, so attrib's allocation watch wraps it (as it would a host
 * program's) and the test can fail the k-th allocation of a load. The
 * expected values come from plain json_loadb with nothing failing, not
 * from attrib. For each k the test also records what plain json_loadb does
 * with the same failure, to show what the wrapper is for; those counts are
 * printed, not asserted, since they describe jansson, not attrib.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basics/json.h"

static long g_count, g_fail_at, g_host_calls;

static void *host_malloc(size_t n) {
    g_host_calls++;
    if (++g_count == g_fail_at) return NULL;
    return malloc(n);
}

/* A config.json-like text whose strings and numbers outgrow jansson's
 * 16-byte token buffer, so its growth is among the allocations failed. */
static const char TEXT[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_act\": \"silu\", \"hidden_size\": 128,\n"
    " \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"torch_dtype\": \"float32\",\n"
    " \"a_rather_long_key_name_for_growth\": \"and an even longer string value to make it grow twice\",\n"
    " \"big\": 12345678901234567, \"list\": [1, 2.5, -3, true, false, null, \"x\\u00e9\\n\"]}";

static void test_every_allocation_failure(void **state) {
    (void)state;
    json_error_t e;
    g_fail_at = 0;
    json_t *ref = json_loadb(TEXT, strlen(TEXT), JSON_REJECT_DUPLICATES, &e);
    assert_non_null(ref);
    g_count = 0;
    json_t *v = attrib_json_loadb(TEXT, strlen(TEXT), JSON_REJECT_DUPLICATES, &e);
    long n = g_count;
    assert_non_null(v);
    assert_true(json_equal(v, ref));
    json_decref(v);
    assert_true(n > 20);

    int raw_oom = 0, raw_misreported = 0, raw_damaged = 0, raw_intact = 0;
    for (long k = 1; k <= n; k++) {
        g_count = 0;
        g_fail_at = k;
        json_t *raw = json_loadb(TEXT, strlen(TEXT), JSON_REJECT_DUPLICATES, &e);
        g_fail_at = 0;
        if (!raw) {
            if (e.text[0] && json_error_code(&e) == json_error_out_of_memory) raw_oom++;
            else raw_misreported++;
        } else {
            if (json_equal(raw, ref)) raw_intact++;
            else raw_damaged++;
            json_decref(raw);
        }

        g_count = 0;
        g_fail_at = k;
        memset(&e, 0x5a, sizeof e);
        v = attrib_json_loadb(TEXT, strlen(TEXT), JSON_REJECT_DUPLICATES, &e);
        g_fail_at = 0;
        if (v) {
            json_decref(v);
            fail_msg("allocation %ld of %ld failed but a value was returned", k, n);
        }
        if (json_error_code(&e) != json_error_out_of_memory || strcmp(e.text, "out of memory") != 0)
            fail_msg("allocation %ld of %ld: code %d, '%s'", k, n, (int)json_error_code(&e), e.text);
    }
    printf("%ld allocations failed in turn: attrib_json_loadb reported out of memory for all; plain json_loadb: %d out of "
           "memory, %d other errors, %d values with a byte missing, %d intact\n",
           n, raw_oom, raw_misreported, raw_damaged, raw_intact);
    json_decref(ref);
}

/* Without allocation failures the wrapper is json_loadb: same values, same
 * errors, same positions, and the host's allocator still does the work. */
static void test_same_as_jansson(void **state) {
    (void)state;
    static const char *texts[] = {
        "{\"a\": 1, \"b\": [1, 2, {\"c\": null}]}", "[1, 2", "{\"a\": 1, \"a\": 2}", "", "{\"a\": tru}", "\"just a string\"",
        "{\"a\": \"\\ud800\"}", "   {}   trailing",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_error_t want, got;
        g_fail_at = 0;
        json_t *a = json_loadb(texts[i], strlen(texts[i]), JSON_REJECT_DUPLICATES, &want);
        long before = g_host_calls;
        json_t *b = attrib_json_loadb(texts[i], strlen(texts[i]), JSON_REJECT_DUPLICATES, &got);
        assert_int_equal(a == NULL, b == NULL);
        if (a) {
            assert_true(json_equal(a, b));
            assert_true(g_host_calls > before);
        } else {
            assert_string_equal(got.text, want.text);
            assert_int_equal(got.line, want.line);
            assert_int_equal(got.column, want.column);
            assert_int_equal(got.position, want.position);
            assert_int_equal(json_error_code(&got), json_error_code(&want));
            assert_int_not_equal(json_error_code(&got), json_error_out_of_memory);
        }
        json_decref(a);
        json_decref(b);
    }
}

int main(void) {
    json_set_alloc_funcs(host_malloc, free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_jansson),
        cmocka_unit_test(test_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
