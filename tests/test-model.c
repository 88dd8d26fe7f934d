/*
 * test-model.c — loading real models: the hyper-parameters and parameter
 * counts that ../shared/README.md documents for each shared model (facts
 * from outside attrib, not our own output), tensor types, tokenizer
 * presence, and the error paths of the loaders for missing and malformed
 * inputs (each must give its specific status and a message); shared
 * handles (attrib_model_share) computing at once on several threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attrib.h"
#include "test_util.h"

static attrib_model *load(const char *rel) {
    char p[1024];
    test_shared_path(p, sizeof p, rel);
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(p, NULL, &m);
    if (s) fprintf(stderr, "load %s: %s\n", p, attrib_last_error());
    assert_int_equal(s, ATTRIB_OK);
    return m;
}

static void test_stories260k_matches_readme(void **state) {
    (void)state;
    attrib_model *m = load("models/stories260K/stories260K-f32.gguf");
    const attrib_model_info *in = attrib_model_get_info(m);
    /* ../shared/README.md: dim 64, 5 layers, 8 heads / 4 KV heads, FFN 172,
     * context 512, 292,800 parameters, 512 tokens, all F32, llama RoPE layout */
    assert_string_equal(in->arch, "llama");
    assert_int_equal(in->format, ATTRIB_FORMAT_GGUF);
    assert_int_equal(in->n_embd, 64);
    assert_int_equal(in->n_layer, 5);
    assert_int_equal(in->n_head, 8);
    assert_int_equal(in->n_head_kv, 4);
    assert_int_equal(in->n_ff, 172);
    assert_int_equal(in->n_ctx_train, 512);
    assert_int_equal(in->n_vocab, 512);
    assert_int_equal(in->n_params, 292800);
    assert_int_equal(in->rope_layout, ATTRIB_ROPE_INTERLEAVED);
    uint32_t n_tensors = 0;
    for (int t = 0; t < ATTRIB_DTYPE_COUNT_; t++) n_tensors += in->dtype_counts[t];
    assert_int_equal(in->dtype_counts[ATTRIB_DTYPE_F32], n_tensors);
    assert_non_null(attrib_model_tokenizer(m));
    attrib_model_free(m);
}

static void test_tinystories656k_hf(void **state) {
    (void)state;
    attrib_model *m = load("models/TinyStories-656K");
    const attrib_model_info *in = attrib_model_get_info(m);
    /* README: hidden 128, 2 layers, 8 heads / 4 KV, FFN 384, vocab 2048, tied,
     * rotate-half RoPE; parameters follow from those shapes. */
    const uint64_t C = 128, F = 384, V = 2048, kv = 64;
    const uint64_t expect = V * C + 2 * (C * C * 2 + kv * C * 2 + 3 * C * F + 2 * C) + C;
    assert_int_equal(in->format, ATTRIB_FORMAT_HF);
    assert_int_equal(in->n_embd, 128);
    assert_int_equal(in->n_layer, 2);
    assert_int_equal(in->n_head, 8);
    assert_int_equal(in->n_head_kv, 4);
    assert_int_equal(in->n_ff, 384);
    assert_int_equal(in->n_vocab, 2048);
    assert_true(in->tied_output);
    assert_int_equal(in->rope_layout, ATTRIB_ROPE_HALF);
    assert_int_equal(in->n_params, expect);
    assert_non_null(attrib_model_tokenizer(m));
    attrib_model_free(m);

    /* the directory's config.json names the same model */
    char p[1024];
    test_shared_path(p, sizeof p, "models/TinyStories-656K/config.json");
    assert_int_equal(attrib_model_load(p, NULL, &m), ATTRIB_OK);
    assert_int_equal(attrib_model_get_info(m)->n_params, expect);
    attrib_model_free(m);
}

static void test_llama2_tiny_f16(void **state) {
    (void)state;
    attrib_model *m = load("models/llama-2-tiny-random/llama-2-tiny-random.gguf");
    const attrib_model_info *in = attrib_model_get_info(m);
    /* README: dim 8, 1 layer, 2 heads, F16 matrices and F32 norms, 32,000 tokens */
    assert_int_equal(in->n_embd, 8);
    assert_int_equal(in->n_layer, 1);
    assert_int_equal(in->n_head, 2);
    assert_int_equal(in->n_vocab, 32000);
    assert_int_equal(in->dtype_counts[ATTRIB_DTYPE_F16], 9); /* embd, q, k, v, o, gate, up, down, output */
    assert_int_equal(in->dtype_counts[ATTRIB_DTYPE_F32], 3); /* two norms + output norm */
    assert_false(in->tied_output);
    attrib_model_free(m);
}

static void test_missing_paths(void **state) {
    (void)state;
    attrib_model *m = NULL;
    assert_int_equal(attrib_model_load("/nonexistent/model.gguf", NULL, &m), ATTRIB_E_IO);
    assert_null(m);
    assert_true(strstr(attrib_last_error(), "/nonexistent/model.gguf") != NULL);
    char dir[] = "/tmp/attrib-test-model-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(attrib_model_load(dir, NULL, &m), ATTRIB_E_MISSING); /* no config.json */
    assert_int_equal(attrib_model_load(NULL, NULL, &m), ATTRIB_E_INVALID_ARG);
    rmdir(dir);
    attrib_model_free(NULL);
    attrib_cache_free(NULL);
    attrib_free(NULL);
}

/* One forward pass of a prompt on a handle: the last position's logits. */
typedef struct share_job {
    attrib_model *m;
    int32_t ids[8];
    int n;
    float *logits;
    attrib_status status;
} share_job;

static void *share_run(void *arg) {
    share_job *j = arg;
    attrib_batch b = {.n_seq = 1, .n_tokens = j->n, .tokens = j->ids, .logits_mode = ATTRIB_LOGITS_LAST};
    for (int rep = 0; rep < 20 && !j->status; rep++) j->status = attrib_forward(j->m, &b, NULL, j->logits);
    return NULL;
}

/* Shared handles of a Hugging Face model (its F32 weights are converted
 * buffers the original owns) run passes at the same time as the original,
 * each with its own scratch, and give the original's logits bit for bit;
 * sharing a shared handle shares the original; the shares are freed
 * first (AddressSanitizer and valgrind check that nothing is freed twice
 * or leaked). */
static void test_shared_handles(void **state) {
    (void)state;
    attrib_model *m = load("models/TinyStories-656K");
    attrib_model_set_threads(m, 1);
    attrib_model *h1 = NULL, *h2 = NULL;
    assert_int_equal(attrib_model_share(m, &h1), ATTRIB_OK);
    assert_int_equal(attrib_model_share(h1, &h2), ATTRIB_OK);
    assert_int_equal(attrib_model_share(NULL, &h1), ATTRIB_E_INVALID_ARG);
    assert_ptr_equal(attrib_model_tokenizer(h2), attrib_model_tokenizer(m));
    const int V = attrib_model_get_info(m)->n_vocab;
    attrib_model *handles[3] = {m, h1, h2};
    share_job jobs[3], ref[3];
    for (int k = 0; k < 3; k++) {
        memset(&jobs[k], 0, sizeof jobs[k]);
        jobs[k].n = 4 + k;
        for (int t = 0; t < jobs[k].n; t++) jobs[k].ids[t] = 1 + 37 * t + 101 * k;
        jobs[k].logits = calloc((size_t)V, sizeof(float));
        ref[k] = jobs[k];
        ref[k].m = m;
        ref[k].logits = calloc((size_t)V, sizeof(float));
        assert_non_null(jobs[k].logits);
        assert_non_null(ref[k].logits);
        share_run(&ref[k]); /* one after the other, on the original */
        assert_int_equal(ref[k].status, ATTRIB_OK);
        jobs[k].m = handles[k];
    }
    pthread_t th[3];
    for (int k = 0; k < 3; k++) assert_int_equal(pthread_create(&th[k], NULL, share_run, &jobs[k]), 0);
    for (int k = 0; k < 3; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(jobs[k].status, ATTRIB_OK);
        assert_memory_equal(jobs[k].logits, ref[k].logits, (size_t)V * sizeof(float));
        free(jobs[k].logits);
        free(ref[k].logits);
    }
    attrib_model_free(h2);
    attrib_model_free(h1);
    attrib_model_free(m);
}

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(attrib_status_name(ATTRIB_OK), "ATTRIB_OK");
    assert_string_equal(attrib_status_name(ATTRIB_E_TRUNCATED), "ATTRIB_E_TRUNCATED");
    assert_string_equal(attrib_status_name((attrib_status)12345), "ATTRIB_E_UNKNOWN");
    assert_string_equal(attrib_dtype_name(ATTRIB_DTYPE_Q4_K), "Q4_K");
    assert_string_equal(attrib_dtype_name(999), "?");
    assert_string_equal(attrib_version(), ATTRIB_VERSION_STRING);
}

int main(void) {
    char p[1024];
    if (!test_have(test_shared_path(p, sizeof p, "models/stories260K/stories260K-f32.gguf"))) {
        fprintf(stderr, "shared models not found under ATTRIB_SHARED (%s)\n", p);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k_matches_readme),
        cmocka_unit_test(test_tinystories656k_hf),
        cmocka_unit_test(test_llama2_tiny_f16),
        cmocka_unit_test(test_missing_paths),
        cmocka_unit_test(test_shared_handles),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
