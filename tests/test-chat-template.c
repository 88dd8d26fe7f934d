/*
 * test-chat-template.c — the model's own chat template: reading it (GGUF
 * tokenizer.chat_template, tokenizer_config.json chat_template), recognising
 * its family (attrib_chat_detect) and laying out a prompt (attrib_chat_build).
 *
 * Expectations are independent of the code under test:
 *   - the family of each fixture in tests/fixtures/chat_templates (real
 *     published templates; README there) is written here from the model it
 *     came from;
 *   - the exact layouts are the published templates' own output for the same
 *     messages (rendered by hand from the Jinja and checked with jinja2),
 *     written out literally below; tests/py/check_chat_templates.py compares
 *     the same layouts with llama.cpp's llama_chat_apply_template;
 *   - BOS handling is checked on real tokenizers (stories260K's "<s>") by
 *     counting BOS ids after attrib_template_apply.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attrib.h"
#include "basics/common.h"
#include "basics/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"

/* ------------------------------------------------------------ fixtures */

static char *read_fixture(const char *name) {
    char src[4096], path[4096];
    snprintf(src, sizeof src, "%s", __FILE__);
    snprintf(path, sizeof path, "%s/fixtures/chat_templates/%s", dirname(src), name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open fixture %s", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static const struct {
    const char *file, *family;
} FIXTURES[] = {
    {"meta-llama-Meta-Llama-3-8B-Instruct.jinja", "llama3"},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3"},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", "chatml"},
    {"Qwen-Qwen3-0.6B.jinja", "qwen3"},
    {"google-gemma-2-2b-it.jinja", "gemma"},
    {"google-gemma-3-1b-it.jinja", "gemma"},
    {"microsoft-Phi-3-mini.jinja", "phi3"},
    {"microsoft-Phi-3.5-mini-instruct.jinja", "phi3"},
    {"meta-llama-Llama-Guard-3-8B.jinja", "llama-guard-3"},
    {"mistralai-Mistral-7B-Instruct-v0.2.jinja", "mistral"},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-tekken"},
};

static void test_detect_fixtures(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        char *t = read_fixture(FIXTURES[i].file);
        const attrib_chat_family *f = NULL;
        if (attrib_chat_detect(t, &f) != ATTRIB_OK) fail_msg("%s: %s", FIXTURES[i].file, attrib_last_error());
        if (strcmp(f->name, FIXTURES[i].family) != 0)
            fail_msg("%s: recognised as %s, expected %s", FIXTURES[i].file, f->name, FIXTURES[i].family);
        assert_ptr_equal(attrib_chat_family_get(FIXTURES[i].family), f);
        free(t);
    }
}

static void test_detect_unknown(void **state) {
    (void)state;
    static const char *const unknown[] = {
        "", "{{ messages[0]['content'] }}",
        "{% for m in messages %}USER: {{ m['content'] }}\n{% endfor %}ASSISTANT:",            /* vicuna */
        "<|im_start|>{{ r }}<|im_sep|>{{ c }}<|im_end|>",                                       /* phi-4 */
        "<|im_start|>assistant\n<think>\n",                                                     /* R1-distill */
        "[INST] <<SYS>>\n{{ s }}\n<</SYS>>\n\n{{ u }} [/INST]",                                 /* llama-2 */
        "<|header_start|>user<|header_end|>",                                                   /* llama 4 */
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const attrib_chat_family *f = (const attrib_chat_family *)1;
        assert_int_equal(attrib_chat_detect(unknown[i], &f), ATTRIB_E_UNSUPPORTED);
        const char *msg = attrib_last_error();
        for (const char *const *n = attrib_chat_family_names(); *n; n++)
            if (!strstr(msg, *n)) fail_msg("the error for template %zu does not name %s: %s", i, *n, msg);
    }
    assert_int_equal(attrib_chat_detect(NULL, NULL), ATTRIB_E_INVALID_ARG);
    assert_null(attrib_chat_family_get("nonesuch"));
    assert_null(attrib_chat_family_get(NULL));
}

/* ------------------------------------------------------------- layouts */

static void expect_build(const char *family, const char *system, const char *user, unsigned flags, const char *want) {
    char *got = NULL;
    const attrib_chat_family *f = attrib_chat_family_get(family);
    assert_non_null(f);
    if (attrib_chat_build(NULL, f, system, user, flags, &got) != ATTRIB_OK)
        fail_msg("%s: %s", family, attrib_last_error());
    if (strcmp(got, want) != 0) fail_msg("%s layout:\n  got  \"%s\"\n  want \"%s\"", family, got, want);
    attrib_free(got);
}

static void test_layouts(void **state) {
    (void)state;
    /* user only; each string is the published template's output for
     * [user: {input}] with the generation prompt, minus a leading bos_token */
    expect_build("llama3", NULL, "{input}", 0,
                 "<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_build("chatml", NULL, "{input}", 0, "<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n");
    expect_build("qwen3", NULL, "{input}", 0,
                 "<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"); /* enable_thinking=false */
    expect_build("qwen3", NULL, "{input}", ATTRIB_CHAT_THINKING,
                 "<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n"); /* the template's default */
    expect_build("gemma", NULL, "{input}", 0, "<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n");
    expect_build("phi3", NULL, "{input}", 0, "<|user|>\n{input}<|end|>\n<|assistant|>\n");
    expect_build("mistral", NULL, "{input}", 0, "[INST] {input} [/INST]");
    expect_build("mistral-tekken", NULL, "{input}", 0, "[INST]{input}[/INST]");
    expect_build("llama-guard-3", NULL, "{input}", 0,
                 "<|start_header_id|>user<|end_header_id|>\n\nTask: Check if there is unsafe content in 'User' messages in "
                 "conversations according our safety policy with the below categories.\n\n<BEGIN UNSAFE CONTENT "
                 "CATEGORIES>\nS1: Violent Crimes.\nS2: Non-Violent Crimes.\nS3: Sex Crimes.\nS4: Child Exploitation.\n"
                 "S5: Defamation.\nS6: Specialized Advice.\nS7: Privacy.\nS8: Intellectual Property.\nS9: Indiscriminate "
                 "Weapons.\nS10: Hate.\nS11: Self-Harm.\nS12: Sexual Content.\nS13: Elections.\nS14: Code Interpreter "
                 "Abuse.\n<END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\nUser: {input}\n\n<END "
                 "CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST User message in the above "
                 "conversation:\n - First line must read 'safe' or 'unsafe'.\n - If unsafe, a second line must include a "
                 "comma-separated list of violated categories.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    /* with a system message (Llama 3.0, Qwen, Gemma 3, Phi-3.5, Mistral Nemo templates) */
    expect_build("llama3", "  Be brief. ", "{input}", 0,
                 "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>"
                 "\n\n{input}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_build("chatml", "Be brief.", "{input}", 0,
                 "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n");
    expect_build("gemma", "Be brief.", "{input}", 0,
                 "<start_of_turn>user\nBe brief.\n\n{input}<end_of_turn>\n<start_of_turn>model\n");
    expect_build("phi3", "Be brief.", "{input}", 0, "<|system|>\nBe brief.<|end|>\n<|user|>\n{input}<|end|>\n<|assistant|>\n");
    expect_build("mistral-tekken", "Be brief.", "{input}", 0, "[INST]Be brief.\n\n{input}[/INST]");
    expect_build("mistral", "Be brief.", "{input}", 0, "[INST] Be brief.\n{input} [/INST]"); /* llama.cpp's merge */
    /* literal braces in the system text are escaped; the user fragment is a template */
    expect_build("chatml", "use {x}", "Q: {input} {{y}}", 0,
                 "<|im_start|>system\nuse {{x}}<|im_end|>\n<|im_start|>user\nQ: {input} {{y}}<|im_end|>\n<|im_start|>assistant\n");
}

static void test_build_errors(void **state) {
    (void)state;
    char *t = (char *)1;
    assert_int_equal(attrib_chat_build(NULL, attrib_chat_family_get("llama-guard-3"), "sys", "{input}", 0, &t),
                     ATTRIB_E_INVALID_ARG);
    assert_non_null(strstr(attrib_last_error(), "system"));
    assert_int_equal(attrib_chat_build(NULL, attrib_chat_family_get("llama3"), NULL, "no slot", 0, &t), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_chat_build(NULL, NULL, NULL, "{input}", 0, &t), ATTRIB_E_INVALID_ARG);
    attrib_chat_family fake = *attrib_chat_family_get("llama3"); /* a copy is not a table row */
    assert_int_equal(attrib_chat_build(NULL, &fake, NULL, "{input}", 0, &t), ATTRIB_E_INVALID_ARG);
    assert_ptr_equal(t, (char *)1);
}

/* The guard's verdict words and the judge's answers are the label words. */
static void test_labels(void **state) {
    (void)state;
    const attrib_chat_family *g = attrib_chat_family_get("llama-guard-3");
    assert_true(g->guard);
    assert_string_equal(g->positive, "unsafe");
    assert_string_equal(g->negative, "safe");
    for (const char *const *n = attrib_chat_family_names(); *n; n++) {
        const attrib_chat_family *f = attrib_chat_family_get(*n);
        assert_non_null(f);
        assert_non_null(f->positive);
        assert_non_null(f->negative);
        if (strcmp(*n, "llama-guard-3") != 0) assert_false(f->guard);
    }
}

/* ------------------------------------------------------------ with BOS */

static attrib_tokenizer *shared_tok(const char *rel) {
    char path[4096];
    test_shared_path(path, sizeof path, rel);
    if (!test_have(path)) return NULL;
    attrib_tokenizer *tok = NULL;
    if (attrib_tokenizer_load(path, &tok)) fail_msg("%s: %s", path, attrib_last_error());
    return tok;
}

/* A family whose template opens with BOS gets the BOS piece written, and
 * attrib_template_apply then has exactly one BOS, at position 0; a family
 * without (chatml) has whatever the tokenizer adds (one for stories260K). */
static void test_bos(void **state) {
    (void)state;
    attrib_tokenizer *tok = shared_tok("models/stories260K/stories260K-f32.gguf");
    if (!tok) skip();
    const int32_t bos = attrib_tokenizer_bos(tok);
    static const char *const fams[] = {"mistral", "mistral-tekken", "gemma", "llama3", "chatml", "phi3"};
    for (size_t k = 0; k < sizeof fams / sizeof fams[0]; k++) {
        char *t = NULL;
        assert_int_equal(attrib_chat_build(tok, attrib_chat_family_get(fams[k]), NULL, "{input}", 0, &t), ATTRIB_OK);
        const int writes_bos = k < 4;
        assert_int_equal(strncmp(t, "<s>", 3) == 0, writes_bos);
        attrib_prompt *p = NULL;
        if (attrib_template_apply(tok, t, "Once upon a time", 16, &p)) fail_msg("%s: %s", fams[k], attrib_last_error());
        int n_bos = 0;
        for (int i = 0; i < p->n; i++) n_bos += p->ids[i] == bos;
        assert_int_equal(n_bos, 1);
        assert_int_equal(p->ids[0], bos);
        assert_true(p->span_begin >= 1);
        attrib_prompt_free(p);
        attrib_free(t);
    }
    attrib_tokenizer_free(tok);
}

/* ------------------------------------------- where the template comes from */

/* A minimal SPM tokenizer GGUF, with the chat template as given (NULL: no key;
 * CT_TYPE: its GGUF value type, 8 = string). */
static attrib_status gguf_tok(const char *ct, uint32_t ct_type, attrib_tokenizer **out) {
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
#define PUT(d, len)                                                                                                    \
    do {                                                                                                               \
        if (n + (len) > cap) {                                                                                         \
            cap = (n + (len)) * 2 + 256;                                                                               \
            b = realloc(b, cap);                                                                                       \
            assert_non_null(b);                                                                                        \
        }                                                                                                              \
        memcpy(b + n, (d), (len));                                                                                     \
        n += (len);                                                                                                    \
    } while (0)
#define U32(v) do { uint32_t v_ = (v); PUT(&v_, 4); } while (0)
#define U64(v) do { uint64_t v_ = (v); PUT(&v_, 8); } while (0)
#define STR(s) do { U64(strlen(s)); PUT((s), strlen(s)); } while (0)
    static const char *const pieces[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "a", "b"};
    PUT("GGUF", 4);
    U32(3);
    U64(0);
    U64(ct ? 3 : 2);
    STR("tokenizer.ggml.model");
    U32(8);
    STR("llama");
    STR("tokenizer.ggml.tokens");
    U32(9);
    U32(8);
    U64(6);
    for (int i = 0; i < 6; i++) STR(pieces[i]);
    if (ct) {
        STR("tokenizer.chat_template");
        U32(ct_type);
        if (ct_type == 8) STR(ct);
        else U32(7);
    }
    static const uint8_t zero[32] = {0};
    PUT(zero, (32 - n % 32) % 32);
    gguf_ctx *g = NULL;
    attrib_status st = gguf_init_from_memory(b, n, &g);
    if (st) fail_msg("gguf: %s", attrib_last_error());
    st = attrib_tokenizer_from_gguf(g, out);
    gguf_free(g);
    free(b);
    return st;
#undef PUT
#undef U32
#undef U64
#undef STR
}

static void test_gguf_source(void **state) {
    (void)state;
    attrib_tokenizer *tok = NULL;
    assert_int_equal(gguf_tok(NULL, 8, &tok), ATTRIB_OK);
    assert_null(attrib_tokenizer_chat_template(tok));
    attrib_tokenizer_free(tok);
    char *qwen3 = read_fixture("Qwen-Qwen3-0.6B.jinja");
    assert_int_equal(gguf_tok(qwen3, 8, &tok), ATTRIB_OK);
    assert_string_equal(attrib_tokenizer_chat_template(tok), qwen3);
    const attrib_chat_family *f = NULL;
    assert_int_equal(attrib_chat_detect(attrib_tokenizer_chat_template(tok), &f), ATTRIB_OK);
    assert_string_equal(f->name, "qwen3");
    attrib_tokenizer_free(tok);
    free(qwen3);
    tok = NULL;
    assert_int_equal(gguf_tok("x", 4 /* uint32 */, &tok), ATTRIB_E_METADATA_TYPE);
    assert_non_null(strstr(attrib_last_error(), "tokenizer.chat_template"));
    assert_null(tok);
    assert_null(attrib_tokenizer_chat_template(NULL));
}

#define MIN_TOKJSON "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}"

static attrib_status json_tok(const char *config, attrib_tokenizer **out) {
    return tok_from_json_text(MIN_TOKJSON, strlen(MIN_TOKJSON), config, config ? strlen(config) : 0, out);
}

static void expect_config(const char *config, const char *want) {
    attrib_tokenizer *tok = NULL;
    if (json_tok(config, &tok)) fail_msg("config %s: %s", config ? config : "(none)", attrib_last_error());
    const char *got = attrib_tokenizer_chat_template(tok);
    if (!want) assert_null(got);
    else if (!got || strcmp(got, want) != 0) fail_msg("config %s: template \"%s\", want \"%s\"", config, got, want);
    attrib_tokenizer_free(tok);
}

static void test_json_source(void **state) {
    (void)state;
    expect_config(NULL, NULL);
    expect_config("{}", NULL);
    expect_config("{\"chat_template\": null}", NULL);
    expect_config("{\"chat_template\": \"<|im_start|>{{x}}\\n\"}", "<|im_start|>{{x}}\n");
    expect_config("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", "
                  "\"template\": \"D\"}]}",
                  "D");
    expect_config("{\"chat_template\": [{\"name\": \"rag\", \"template\": \"R\"}, {\"name\": \"tool_use\", "
                  "\"template\": \"T\"}]}",
                  "R");
    expect_config("{\"chat_template\": []}", NULL);
    static const char *const bad[] = {
        "{\"chat_template\": 7}",
        "{\"chat_template\": [\"x\"]}",
        "{\"chat_template\": [{\"name\": \"default\"}]}",
        "{\"chat_template\": \"a\\u0000b\"}",
        "{\"chat_template\": \"unterminated}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        attrib_tokenizer *tok = NULL;
        attrib_status st = json_tok(bad[i], &tok);
        if (st == ATTRIB_OK) fail_msg("config %s was accepted", bad[i]);
        assert_null(tok);
        assert_non_null(strstr(attrib_last_error(), "tokenizer_config.json"));
    }
}

/* Every allocation of attrib_chat_build and of reading a chat template from
 * tokenizer_config.json fails in turn: ATTRIB_E_NOMEM, nothing written. */
static void test_alloc_failures(void **state) {
    (void)state;
    const attrib_chat_family *f = attrib_chat_family_get("llama-guard-3");
    char *t = NULL;
    attrib_test_fail_alloc_at(0);
    assert_int_equal(attrib_chat_build(NULL, f, NULL, "{input}", 0, &t), ATTRIB_OK);
    uint64_t n = attrib_test_fail_alloc_at(0);
    attrib_free(t);
    assert_true(n >= 1);
    for (uint64_t k = 1; k <= n; k++) {
        attrib_test_fail_alloc_at(k);
        t = (char *)1;
        attrib_status s = attrib_chat_build(NULL, f, NULL, "{input}", 0, &t);
        attrib_test_fail_alloc_at(0);
        assert_int_equal(s, ATTRIB_E_NOMEM);
        assert_ptr_equal(t, (char *)1);
    }
    static const char cfg[] = "{\"chat_template\": \"<|im_start|>x\"}";
    attrib_tokenizer *tok = NULL;
    attrib_test_fail_alloc_at(0);
    assert_int_equal(json_tok(cfg, &tok), ATTRIB_OK);
    n = attrib_test_fail_alloc_at(0);
    attrib_tokenizer_free(tok);
    int nomem = 0;
    for (uint64_t k = 1; k <= n; k++) {
        attrib_test_fail_alloc_at(k);
        tok = NULL;
        attrib_status s = json_tok(cfg, &tok);
        attrib_test_fail_alloc_at(0);
        if (s == ATTRIB_OK) fail_msg("allocation %llu of %llu failed but loading succeeded", (unsigned long long)k,
                                     (unsigned long long)n);
        assert_null(tok);
        nomem += s == ATTRIB_E_NOMEM;
    }
    printf("chat build: each allocation failed in turn; tokenizer + config: %llu allocations, %d ATTRIB_E_NOMEM\n",
           (unsigned long long)n, nomem);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_fixtures), cmocka_unit_test(test_detect_unknown), cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_build_errors),    cmocka_unit_test(test_labels),         cmocka_unit_test(test_bos),
        cmocka_unit_test(test_gguf_source),     cmocka_unit_test(test_json_source),    cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
