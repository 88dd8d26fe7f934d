/*
 * test-tokenizer-json.c — the tokenizer loaders (tokenizer.json and GGUF
 * metadata) and the text pipeline (normalisers, pre-tokenizers, decoders,
 * post-processors) on SMALL SYNTHETIC tokenizers, against:
 *
 *   - goldens from an independent implementation, transformers.js, made by
 *     tests/golden/make_synthetic_goldens.mjs (synthetic-tokenizers.json
 *     holds each tokenizer.json / tokenizer_config.json / GGUF metadata and
 *     the reference's ids, ids without special tokens, decoded texts and
 *     special-token ids); every id list must match exactly, decoded texts
 *     too, and token spans must be monotone and inside the text;
 *   - hand-computed expectations from the Rust tokenizers' documented
 *     semantics where transformers.js deviates from them (Metaspace split,
 *     legacy add_prefix_space, decoder prepend_scheme "never");
 *   - the statuses include/attrib.h documents for every malformed or
 *     unsupported file (with a non-empty message), limits, and allocation
 *     failures (ATTRIB_E_NOMEM, never a wrong result).
 *
 * Goldens are read from the source tree (next to this file).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "attrib.h"
#include "basics/common.h"
#include "basics/gguf.h"
#include "tokenizer/tokenizer.h"
#include "test_jansson_faults.h"
#include "tokenizer/tokenizer_impl.h"

static char g_golden_dir[4096];

static void init_dirs(void) {
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    size_t n = slash ? (size_t)(slash - f) : 0;
    snprintf(g_golden_dir, sizeof g_golden_dir, "%.*s/golden", (int)n, n ? f : ".");
}

/* ------------------------------------------------- in-memory GGUF writer */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void wput(wbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 1024;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void wu32(wbuf *b, uint32_t v) { wput(b, &v, 4); }
static void wu64(wbuf *b, uint64_t v) { wput(b, &v, 8); }
static void wstr(wbuf *b, const char *s, size_t n) { wu64(b, n); wput(b, s, n); }

/* Key/value pairs of a GGUF file under construction. */
typedef struct kvs {
    wbuf body;
    uint64_t n;
} kvs;

static void kv_key(kvs *k, const char *key, uint32_t type) {
    wstr(&k->body, key, strlen(key));
    wu32(&k->body, type);
    k->n++;
}
static void kv_str(kvs *k, const char *key, const char *v) {
    kv_key(k, key, GGUF_TYPE_STRING);
    wstr(&k->body, v, strlen(v));
}
static void kv_u32(kvs *k, const char *key, uint32_t v) {
    kv_key(k, key, GGUF_TYPE_UINT32);
    wu32(&k->body, v);
}
static void kv_i32(kvs *k, const char *key, int32_t v) {
    kv_key(k, key, GGUF_TYPE_INT32);
    wput(&k->body, &v, 4);
}
static void kv_u64(kvs *k, const char *key, uint64_t v) {
    kv_key(k, key, GGUF_TYPE_UINT64);
    wu64(&k->body, v);
}
static void kv_u8(kvs *k, const char *key, uint8_t v) {
    kv_key(k, key, GGUF_TYPE_UINT8);
    wput(&k->body, &v, 1);
}
static void kv_bool(kvs *k, const char *key, int v) {
    kv_key(k, key, GGUF_TYPE_BOOL);
    uint8_t b = (uint8_t)(v != 0);
    wput(&k->body, &b, 1);
}
static void kv_strs(kvs *k, const char *key, const char *const *v, size_t n) {
    kv_key(k, key, GGUF_TYPE_ARRAY);
    wu32(&k->body, GGUF_TYPE_STRING);
    wu64(&k->body, n);
    for (size_t i = 0; i < n; i++)
        wstr(&k->body, v[i], strlen(v[i]));
}
static void kv_i32s(kvs *k, const char *key, const int32_t *v, size_t n) {
    kv_key(k, key, GGUF_TYPE_ARRAY);
    wu32(&k->body, GGUF_TYPE_INT32);
    wu64(&k->body, n);
    wput(&k->body, v, n * 4);
}
static void kv_f32s(kvs *k, const char *key, const float *v, size_t n) {
    kv_key(k, key, GGUF_TYPE_ARRAY);
    wu32(&k->body, GGUF_TYPE_FLOAT32);
    wu64(&k->body, n);
    wput(&k->body, v, n * 4);
}

/* Parses the GGUF image holding K (freed); *IMAGE must outlive the context. */
static gguf_ctx *gguf_parse(kvs *k, uint8_t **image) {
    wbuf b = {0};
    wput(&b, "GGUF", 4);
    wu32(&b, 3);
    wu64(&b, 0);
    wu64(&b, k->n);
    wput(&b, k->body.p, k->body.n);
    static const uint8_t zero[32] = {0};
    wput(&b, zero, (32 - b.n % 32) % 32);
    free(k->body.p);
    memset(k, 0, sizeof *k);
    gguf_ctx *g = NULL;
    if (gguf_init_from_memory(b.p, b.n, &g))
        fail_msg("gguf_init_from_memory: %s", attrib_last_error());
    *image = b.p;
    return g;
}

/* Builds the tokenizer of the GGUF image holding K (freed). */
static attrib_status gguf_tokenizer(kvs *k, attrib_tokenizer **out) {
    uint8_t *image = NULL;
    gguf_ctx *g = gguf_parse(k, &image);
    attrib_status st = attrib_tokenizer_from_gguf(g, out);
    gguf_free(g);
    free(image);
    return st;
}

/* ------------------------------------------------------------ helpers */

static int32_t *ids_of(const attrib_token *t, size_t n) {
    int32_t *ids = malloc((n + 1) * sizeof(int32_t));
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = t[i].id;
    return ids;
}

/* Spans inside the text, begin <= end, monotone. Returns violations. */
static int span_violations(const attrib_token *t, size_t n, size_t len) {
    int bad = 0;
    uint32_t pb = 0, pe = 0;
    for (size_t i = 0; i < n; i++) {
        bad += t[i].begin > t[i].end || t[i].end > len || t[i].begin < pb || t[i].end < pe;
        pb = t[i].begin;
        pe = t[i].end;
    }
    return bad;
}

static int same_ids_json(const attrib_token *t, size_t n, const json_t *want) {
    if (n != json_array_size(want))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].id != json_integer_value(json_array_get(want, i)))
            return 0;
    return 1;
}

static void print_ids(const char *what, const attrib_token *t, size_t n, const json_t *want) {
    print_message("    %s attrib:", what);
    for (size_t i = 0; i < n && i < 40; i++)
        print_message(" %d", (int)t[i].id);
    print_message("\n    %s golden:", what);
    for (size_t i = 0; i < json_array_size(want) && i < 40; i++)
        print_message(" %d", (int)json_integer_value(json_array_get(want, i)));
    print_message("\n");
}

/* Tokenizes TEXT and returns its ids as a -1-terminated static list. */
static const int32_t *encode_ids(const attrib_tokenizer *tok, const char *text, unsigned flags) {
    static int32_t ids[256];
    attrib_token *t = NULL;
    size_t n = 0;
    attrib_status st = attrib_tokenize(tok, text, strlen(text), flags, &t, &n);
    if (st)
        fail_msg("tokenize \"%s\": %s", text, attrib_last_error());
    assert_true(n < 256);
    for (size_t i = 0; i < n; i++)
        ids[i] = t[i].id;
    ids[n] = -1;
    attrib_free(t);
    return ids;
}

static void expect_ids(const attrib_tokenizer *tok, const char *text, unsigned flags, const int32_t *want, size_t n_want) {
    const int32_t *got = encode_ids(tok, text, flags);
    size_t n = 0;
    while (got[n] >= 0)
        n++;
    int same = n == n_want;
    for (size_t i = 0; same && i < n; i++)
        same = got[i] == want[i];
    if (!same) {
        print_message("  \"%s\": got", text);
        for (size_t i = 0; i < n; i++)
            print_message(" %d", (int)got[i]);
        print_message(", expected");
        for (size_t i = 0; i < n_want; i++)
            print_message(" %d", (int)want[i]);
        print_message("\n");
        fail_msg("ids differ for \"%s\"", text);
    }
}
#define EXPECT_IDS(tok, text, flags, ...)                                                                    \
    do {                                                                                                       \
        static const int32_t want_[] = {__VA_ARGS__};                                                          \
        expect_ids(tok, text, flags, want_, sizeof want_ / sizeof want_[0]);                                   \
    } while (0)

static void expect_decode(const attrib_tokenizer *tok, const int32_t *ids, size_t n, int keep, const char *want) {
    char *s = NULL;
    size_t l = 0;
    assert_int_equal(attrib_detokenize(tok, ids, n, keep, &s, &l), ATTRIB_OK);
    if (l != strlen(want) || memcmp(s, want, l) != 0)
        fail_msg("decoded \"%.*s\", expected \"%s\"", (int)l, s, want);
    attrib_free(s);
}

static attrib_status json_tok(const char *json, const char *config, attrib_tokenizer **out) {
    return tok_from_json_text(json, strlen(json), config, config ? strlen(config) : 0, out);
}

static attrib_tokenizer *json_tok_ok(const char *json) {
    attrib_tokenizer *tok = NULL;
    if (json_tok(json, NULL, &tok) != ATTRIB_OK)
        fail_msg("tokenizer.json refused: %s\n%s", attrib_last_error(), json);
    return tok;
}

/* ------------------------------------------------------------ goldens */

static json_t *g_golden;

static json_t *golden(void) {
    if (!g_golden) {
        char path[8192];
        snprintf(path, sizeof path, "%s/synthetic-tokenizers.json", g_golden_dir);
        json_error_t err;
        g_golden = json_load_file(path, 0, &err);
        if (!g_golden)
            fail_msg("cannot read %s: %s (line %d)", path, err.text, err.line);
    }
    return g_golden;
}

/* The GGUF image a golden entry describes: [key, type, value] triples. */
static void golden_gguf_kvs(const json_t *desc, kvs *out) {
    kvs k = {0};
    for (size_t i = 0; i < json_array_size(desc); i++) {
        const json_t *e = json_array_get(desc, i);
        const char *key = json_string_value(json_array_get(e, 0));
        const char *type = json_string_value(json_array_get(e, 1));
        const json_t *v = json_array_get(e, 2);
        size_t n = json_array_size(v);
        if (!strcmp(type, "str")) {
            kv_str(&k, key, json_string_value(v));
        } else if (!strcmp(type, "u32")) {
            kv_u32(&k, key, (uint32_t)json_integer_value(v));
        } else if (!strcmp(type, "bool")) {
            kv_bool(&k, key, json_is_true(v));
        } else if (!strcmp(type, "str[]")) {
            const char **s = calloc(n + 1, sizeof(char *));
            for (size_t j = 0; j < n; j++)
                s[j] = json_string_value(json_array_get(v, j));
            kv_strs(&k, key, s, n);
            free(s);
        } else if (!strcmp(type, "i32[]")) {
            int32_t *a = calloc(n + 1, sizeof(int32_t));
            for (size_t j = 0; j < n; j++)
                a[j] = (int32_t)json_integer_value(json_array_get(v, j));
            kv_i32s(&k, key, a, n);
            free(a);
        } else if (!strcmp(type, "f32[]")) {
            float *a = calloc(n + 1, sizeof(float));
            for (size_t j = 0; j < n; j++)
                a[j] = (float)json_number_value(json_array_get(v, j));
            kv_f32s(&k, key, a, n);
            free(a);
        } else {
            fail_msg("golden GGUF type %s", type);
        }
    }
    *out = k;
}

static attrib_status golden_gguf(const json_t *desc, attrib_tokenizer **out) {
    kvs k;
    golden_gguf_kvs(desc, &k);
    return gguf_tokenizer(&k, out);
}

/* Writes tokenizer.json + tokenizer_config.json to a temporary directory
 * and loads the directory, as a user would. */
static attrib_status golden_dir_load(const json_t *tj, const json_t *cfg, attrib_tokenizer **out) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096], f1[4200], f2[4200];
    snprintf(dir, sizeof dir, "%s/attrib-tok-json-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(f1, sizeof f1, "%s/tokenizer.json", dir);
    snprintf(f2, sizeof f2, "%s/tokenizer_config.json", dir);
    assert_int_equal(json_dump_file(tj, f1, JSON_COMPACT), 0);
    assert_int_equal(json_dump_file(cfg, f2, JSON_COMPACT), 0);
    attrib_status st = attrib_tokenizer_load(dir, out);
    unlink(f1);
    unlink(f2);
    rmdir(dir);
    return st;
}

static void expect_special_id(const char *name, const char *what, int got, const json_t *want) {
    int w = json_is_integer(want) ? (int)json_integer_value(want) : -1;
    if (got != w)
        fail_msg("%s: %s id %d, reference %d", name, what, got, w);
}

static int decoded_equal(const attrib_tokenizer *tok, const attrib_token *t, size_t n, int keep, const json_t *want) {
    int32_t *ids = ids_of(t, n);
    char *s = NULL;
    size_t l = 0;
    assert_int_equal(attrib_detokenize(tok, ids, n, keep, &s, &l), ATTRIB_OK);
    int same = l == json_string_length(want) && memcmp(s, json_string_value(want), l) == 0;
    if (!same)
        print_message("    decoded (keep_special=%d) \"%.*s\", reference \"%s\"\n", keep, (int)l, s, json_string_value(want));
    attrib_free(s);
    free(ids);
    return same;
}

static void test_goldens(void **state) {
    (void)state;
    const json_t *toks = json_object_get(golden(), "tokenizers");
    assert_true(json_array_size(toks) >= 10);
    size_t total = 0, bad_total = 0;
    for (size_t k = 0; k < json_array_size(toks); k++) {
        const json_t *e = json_array_get(toks, k);
        const char *name = json_string_value(json_object_get(e, "name"));
        const json_t *gg = json_object_get(e, "gguf");
        attrib_tokenizer *tok = NULL;
        attrib_status st = json_is_array(gg) ? golden_gguf(gg, &tok)
                                             : golden_dir_load(json_object_get(e, "tokenizer_json"),
                                                               json_object_get(e, "tokenizer_config"), &tok);
        if (st)
            fail_msg("%s: load failed: %s", name, attrib_last_error());
        assert_int_equal(attrib_tokenizer_n_vocab(tok), json_integer_value(json_object_get(e, "n_vocab")));
        if (!json_is_array(gg)) {
            /* The GGUF ones follow llama.cpp's defaults instead (tested below). */
            expect_special_id(name, "BOS", attrib_tokenizer_bos(tok), json_object_get(e, "bos_token_id"));
            expect_special_id(name, "EOS", attrib_tokenizer_eos(tok), json_object_get(e, "eos_token_id"));
            expect_special_id(name, "UNK", attrib_tokenizer_unk(tok), json_object_get(e, "unk_token_id"));
        }
        expect_special_id(name, "PAD", attrib_tokenizer_pad(tok), json_object_get(e, "pad_token_id"));
        const json_t *cases = json_object_get(e, "cases");
        size_t bad = 0;
        for (size_t c = 0; c < json_array_size(cases); c++) {
            const json_t *cs = json_array_get(cases, c);
            const json_t *jt = json_object_get(cs, "text");
            const char *text = json_string_value(jt);
            size_t len = json_string_length(jt);
            attrib_token *t = NULL, *u = NULL;
            size_t n = 0, un = 0;
            assert_int_equal(attrib_tokenize(tok, text, len, ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL, &t, &n), ATTRIB_OK);
            assert_int_equal(attrib_tokenize(tok, text, len, ATTRIB_TOK_PARSE_SPECIAL, &u, &un), ATTRIB_OK);
            int ok = 1;
            if (!same_ids_json(t, n, json_object_get(cs, "ids"))) {
                print_message("  %s case %zu \"%s\": ids differ\n", name, c, text);
                print_ids("ids", t, n, json_object_get(cs, "ids"));
                ok = 0;
            }
            if (!same_ids_json(u, un, json_object_get(cs, "ids_no_special"))) {
                print_message("  %s case %zu \"%s\": ids without special tokens differ\n", name, c, text);
                print_ids("no-special", u, un, json_object_get(cs, "ids_no_special"));
                ok = 0;
            }
            if (span_violations(t, n, len) || span_violations(u, un, len)) {
                print_message("  %s case %zu: span violation\n", name, c);
                ok = 0;
            }
            if (!decoded_equal(tok, t, n, 0, json_object_get(cs, "decoded")) ||
                !decoded_equal(tok, t, n, 1, json_object_get(cs, "decoded_keep_special"))) {
                print_message("  %s case %zu \"%s\": decoded text differs\n", name, c, text);
                ok = 0;
            }
            bad += !ok;
            total++;
            attrib_free(t);
            attrib_free(u);
        }
        print_message("[tokenizer-json] %-28s %zu/%zu strings as the reference\n", name, json_array_size(cases) - bad,
                      json_array_size(cases));
        bad_total += bad;
        attrib_tokenizer_free(tok);
    }
    assert_true(total >= 100);
    assert_int_equal(bad_total, 0);
}

/* A minimal model (a, b, ab, <s>) and TemplateProcessing parts. */
#define BASE_MODEL "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"<s>\":3},\"merges\":[\"a b\"]}"
#define SPECIALS "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[3],\"tokens\":[\"<s>\"]}}"
#define SEQ "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}"
#define SPT "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}}"

/* ---------------------------------------- Rust-tokenizers semantics */

/* Where transformers.js deviates from the Rust tokenizers (which define the
 * format), the expectations are worked out by hand from their source:
 *   - Metaspace with split=true splits before every ▁ (MergedWithNext), so no
 *     merge crosses a ▁; transformers.js never splits;
 *   - a legacy Metaspace {"add_prefix_space": false} without prepend_scheme
 *     means prepend_scheme "never"; transformers.js ignores the field;
 *   - the Metaspace decoder strips the first space unless prepend_scheme is
 *     "never"; transformers.js always strips.
 * Vocabulary: ▁ 0, a 1, b 2, a▁ 3, ▁b 4, ▁a 5; merges "a ▁", "▁ b", "▁ a". */
#define META_VOCAB "\"vocab\":{\"\xE2\x96\x81\":0,\"a\":1,\"b\":2,\"a\xE2\x96\x81\":3,\"\xE2\x96\x81" "b\":4,\"\xE2\x96\x81" "a\":5}," \
                   "\"merges\":[\"a \xE2\x96\x81\",\"\xE2\x96\x81 b\",\"\xE2\x96\x81 a\"]"

static attrib_tokenizer *meta_tok(const char *pre, const char *dec) {
    char js[2048];
    snprintf(js, sizeof js, "{\"model\":{\"type\":\"BPE\"," META_VOCAB "},\"pre_tokenizer\":%s,\"decoder\":%s}", pre, dec);
    return json_tok_ok(js);
}

static void test_metaspace_semantics(void **state) {
    (void)state;
    /* split: "a b" -> "a▁b" -> pieces "a", "▁b" (not "a▁" + "b"). */
    attrib_tokenizer *tok = meta_tok("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"never\",\"split\":true}",
                                     "{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"never\"}");
    EXPECT_IDS(tok, "a b", 0, 1, 4);
    EXPECT_IDS(tok, "a", 0, 1);
    /* prepend_scheme never in the decoder: the leading space stays. */
    static const int32_t sp_a[] = {0, 1};
    expect_decode(tok, sp_a, 2, 0, " a");
    attrib_tokenizer_free(tok);
    /* Same without split: the merge across ▁ happens. */
    tok = meta_tok("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"never\",\"split\":false}", "null");
    EXPECT_IDS(tok, "a b", 0, 3, 2);
    attrib_tokenizer_free(tok);
    /* Legacy add_prefix_space false: no ▁ prepended; true (and the default,
     * with no field and no scheme): prepended, once, and the decoder strips it. */
    tok = meta_tok("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"add_prefix_space\":false}",
                   "{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"add_prefix_space\":false}");
    EXPECT_IDS(tok, "a", 0, 1);
    expect_decode(tok, sp_a, 2, 0, " a");
    attrib_tokenizer_free(tok);
    tok = meta_tok("{\"type\":\"Metaspace\",\"add_prefix_space\":true}", "{\"type\":\"Metaspace\"}");
    EXPECT_IDS(tok, "a", 0, 5);
    EXPECT_IDS(tok, " a", 0, 5);
    expect_decode(tok, sp_a, 2, 0, "a");
    attrib_tokenizer_free(tok);
    /* prepend_scheme "first": only the fragment at the start of the text
     * (offset 0, as the Rust tokenizers check) gets the ▁; an added token
     * at the start leaves the next fragment without one. */
    tok = json_tok_ok("{\"added_tokens\":[{\"id\":6,\"content\":\"<s>\",\"special\":true}],"
                      "\"model\":{\"type\":\"BPE\"," META_VOCAB "},"
                      "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"prepend_scheme\":\"first\"}}");
    EXPECT_IDS(tok, "a<s>a", ATTRIB_TOK_PARSE_SPECIAL, 5, 6, 1);
    EXPECT_IDS(tok, "<s>a", ATTRIB_TOK_PARSE_SPECIAL, 6, 1);
    attrib_tokenizer_free(tok);
}

/* Decoder pieces attrib recognises only in their Llama form; others are
 * ignored, so decoding leaves ▁ and leading spaces alone. */
static void test_decoder_variants(void **state) {
    (void)state;
    static const int32_t sp_a[] = {0, 1};
    attrib_tokenizer *tok = meta_tok("null", "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xE2\x96\x81\"},"
                                             "\"content\":\" \"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}");
    expect_decode(tok, sp_a, 2, 0, "a");
    attrib_tokenizer_free(tok);
    tok = meta_tok("null", "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xE2\x96\x81\"},"
                           "\"content\":\" \"},{\"type\":\"Strip\",\"content\":\" \",\"start\":0,\"stop\":0}]}");
    expect_decode(tok, sp_a, 2, 0, " a");
    attrib_tokenizer_free(tok);
    tok = meta_tok("null", "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"x\"},\"content\":\" \"},"
                           "{\"type\":\"Strip\",\"content\":\"x\",\"start\":1,\"stop\":0},{\"no\":\"type\"}]}");
    expect_decode(tok, sp_a, 2, 0, "\xE2\x96\x81" "a");
    attrib_tokenizer_free(tok);
}

/* Vocabulary details: ids with no piece are UNUSED, <0xXX> pieces are BYTE
 * tokens only with byte_fallback and only in upper-case hex, a repeated
 * added-token id counts once, and tokenizer_config.json names BOS/EOS/UNK/PAD (string or {content}) unless
 * the post-processor fixes them. */
static void test_vocab_details(void **state) {
    (void)state;
    const char *js = "{\"added_tokens\":[{\"id\":5,\"content\":\"<s>\",\"special\":true},{\"id\":5,\"content\":\"<s>\",\"special\":true},"
                     "{\"id\":6,\"content\":\"<u>\"}],"
                     "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"<0x41>\":0,\"<0x4a>\":1,"
                     "\"<0xG1>\":2,\"<unk>\":3,\"<0x0A>\":8},\"merges\":[]}}";
    const char *cfg = "{\"bos_token\":{\"content\":\"<s>\"},\"eos_token\":\"<u>\",\"pad_token\":\"<0x4a>\",\"unk_token\":\"nope\"}";
    attrib_tokenizer *tok = NULL;
    assert_int_equal(json_tok(js, cfg, &tok), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_n_vocab(tok), 9);
    assert_int_equal(attrib_tokenizer_token_type(tok, 0), ATTRIB_TOKEN_BYTE);
    assert_int_equal(attrib_tokenizer_token_type(tok, 1), ATTRIB_TOKEN_NORMAL);
    assert_int_equal(attrib_tokenizer_token_type(tok, 2), ATTRIB_TOKEN_NORMAL);
    assert_int_equal(attrib_tokenizer_token_type(tok, 3), ATTRIB_TOKEN_UNKNOWN);
    assert_int_equal(attrib_tokenizer_token_type(tok, 4), ATTRIB_TOKEN_UNUSED);
    assert_int_equal(attrib_tokenizer_token_type(tok, 5), ATTRIB_TOKEN_CONTROL);
    assert_int_equal(attrib_tokenizer_token_type(tok, 6), ATTRIB_TOKEN_USER_DEFINED);
    assert_int_equal(attrib_tokenizer_token_type(tok, 8), ATTRIB_TOKEN_BYTE);
    assert_int_equal(attrib_tokenizer_bos(tok), 5);
    assert_int_equal(attrib_tokenizer_eos(tok), 6);
    assert_int_equal(attrib_tokenizer_pad(tok), 1);
    assert_int_equal(attrib_tokenizer_unk(tok), 3); /* "nope" is no piece: the model's unk_token stays */
    /* No post-processor: nothing added. Byte fallback: "A" is <0x41>, "\n" <0x0A>, "B" has no byte token -> <unk>. */
    EXPECT_IDS(tok, "A\nB", ATTRIB_TOK_ADD_SPECIAL, 0, 8, 3);
    EXPECT_IDS(tok, "<s><u>", ATTRIB_TOK_PARSE_SPECIAL, 5, 6);
    EXPECT_IDS(tok, "<u>", 0, 6); /* user-defined tokens are matched without PARSE_SPECIAL */
    static const int32_t dec[] = {0, 8, 6, 5};
    expect_decode(tok, dec, 4, 0, "A\n<u>");
    expect_decode(tok, dec, 4, 1, "A\n<u><s>");
    attrib_tokenizer_free(tok);
    /* A merge whose result is not a piece is refused (as the Rust tokenizers
     * do); a model without "type" is BPE; empty prefix/suffix are no-ops. */
    assert_int_equal(json_tok("{\"model\":{\"vocab\":{\"a\":0,\"b\":1},\"merges\":[[\"a\",\"b\"]]}}", NULL, &tok), ATTRIB_E_BAD_VALUE);
    tok = json_tok_ok("{\"model\":{\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\",\"b\"]],\"continuing_subword_prefix\":\"\","
                      "\"end_of_word_suffix\":null}}");
    EXPECT_IDS(tok, "ab", 0, 2);
    attrib_tokenizer_free(tok);
    /* Empty strings in normalisers: Prepend "" adds nothing, Replace by ""
     * deletes (both fragments start empty: the sanitizer build checks that
     * no pointer arithmetic happens on a buffer not allocated yet). */
    tok = json_tok_ok("{\"model\":{\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\",\"b\"]]},"
                      "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\"},"
                      "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\"}]}}");
    EXPECT_IDS(tok, " a b", 0, 2);
    assert_int_equal(encode_ids(tok, "  ", 0)[0], -1); /* no token at all */
    attrib_tokenizer_free(tok);
    /* A BOS template inside a post-processor Sequence. */
    tok = json_tok_ok("{" BASE_MODEL ",\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},"
                      "{\"type\":\"TemplateProcessing\",\"single\":[" SPT "," SEQ "]," SPECIALS "}]}}");
    assert_int_equal(attrib_tokenizer_bos(tok), 3);
    assert_int_equal(attrib_tokenizer_eos(tok), -1);
    EXPECT_IDS(tok, "ab", ATTRIB_TOK_ADD_SPECIAL, 3, 2);
    attrib_tokenizer_free(tok);
}

/* Invalid UTF-8 goes through the Unicode normalisers and Lowercase as bytes
 * of their own (documented in tokenizer_text.c), so byte fallback keeps it:
 * "AB\xFF\xFEC" under NFKC + Lowercase is a b <0xFF> <0xFE> c, ids taken
 * from the tokenizer.json's own vocabulary. */
static void test_invalid_utf8_normalised(void **state) {
    (void)state;
    const json_t *toks = json_object_get(golden(), "tokenizers"), *e = NULL;
    for (size_t i = 0; i < json_array_size(toks); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(toks, i), "name")), "nfkc-lower-removed-digits"))
            e = json_array_get(toks, i);
    assert_non_null(e);
    const json_t *vocab = json_object_get(json_object_get(json_object_get(e, "tokenizer_json"), "model"), "vocab");
    attrib_tokenizer *tok = NULL;
    assert_int_equal(golden_dir_load(json_object_get(e, "tokenizer_json"), json_object_get(e, "tokenizer_config"), &tok), ATTRIB_OK);
    static const char *const pieces[5] = {"a", "b", "<0xFF>", "<0xFE>", "c"};
    int32_t want[5];
    for (int i = 0; i < 5; i++) {
        assert_true(json_is_integer(json_object_get(vocab, pieces[i])));
        want[i] = (int32_t)json_integer_value(json_object_get(vocab, pieces[i]));
    }
    expect_ids(tok, "AB\xFF\xFE" "C", 0, want, 5);
    expect_decode(tok, want, 5, 0, "ab\xFF\xFE" "c");
    attrib_tokenizer_free(tok);
}

/* ------------------------------------------------ malformed JSON files */


typedef struct json_case {
    const char *json, *config;
    attrib_status want;
    const char *what;
} json_case;

static char *repeat_json(const char *item, int n) {
    size_t l = strlen(item);
    char *s = malloc((l + 1) * (size_t)n + 1);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i)
            s[o++] = ',';
        memcpy(s + o, item, l);
        o += l;
    }
    s[o] = 0;
    return s;
}

static void expect_json_status(const char *json, const char *config, attrib_status want, const char *what) {
    attrib_tokenizer *tok = (attrib_tokenizer *)(uintptr_t)0x1;
    attrib_status st = json_tok(json, config, &tok);
    if (st != want)
        fail_msg("%s: %s (%s), expected %s", what, attrib_status_name(st), attrib_last_error(), attrib_status_name(want));
    if (st == ATTRIB_OK) {
        attrib_tokenizer_free(tok);
        return;
    }
    assert_true(tok == (attrib_tokenizer *)(uintptr_t)0x1); /* untouched on failure */
    if (!attrib_last_error()[0])
        fail_msg("%s: no error message", what);
}

static void test_json_errors(void **state) {
    (void)state;
    static const json_case cases[] = {
        {"[]", NULL, ATTRIB_E_BAD_JSON, "root is not an object"},
        {"{\"model\":{},\"model\":{}}", NULL, ATTRIB_E_BAD_JSON, "duplicate key"},
        {"{" BASE_MODEL "}", "{", ATTRIB_E_BAD_JSON, "config does not parse"},
        {"{" BASE_MODEL "}", "[1]", ATTRIB_E_BAD_JSON, "config is not an object"},
        {"{" BASE_MODEL "}", "{\"bos_token\":7,\"eos_token\":{\"x\":1},\"unk_token\":\"zz\"}", ATTRIB_OK, "config names nothing usable"},
        {"{\"model\":[]}", NULL, ATTRIB_E_BAD_JSON, "model is not an object"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":[],\"merges\":[]}}", NULL, ATTRIB_E_BAD_JSON, "vocab is an array"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", NULL, ATTRIB_E_BAD_JSON, "no merges"},
        {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{},\"merges\":[]}}", NULL, ATTRIB_E_UNSUPPORTED, "WordPiece"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"continuing_subword_prefix\":\"##\"}}", NULL,
         ATTRIB_E_UNSUPPORTED, "continuing_subword_prefix"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"end_of_word_suffix\":\"</w>\"}}", NULL,
         ATTRIB_E_UNSUPPORTED, "end_of_word_suffix"},
        {"{\"added_tokens\":{}," BASE_MODEL "}", NULL, ATTRIB_E_BAD_JSON, "added_tokens is an object"},
        {"{\"added_tokens\":[{\"id\":4}]," BASE_MODEL "}", NULL, ATTRIB_E_BAD_JSON, "added token without content"},
        {"{\"added_tokens\":[{\"id\":-1,\"content\":\"x\"}]," BASE_MODEL "}", NULL, ATTRIB_E_BAD_JSON, "added token id -1"},
        {"{\"added_tokens\":[{\"id\":16777216,\"content\":\"x\"}]," BASE_MODEL "}", NULL, ATTRIB_E_BAD_JSON, "added token id 2^24"},
        {"{\"added_tokens\":[{\"id\":\"4\",\"content\":\"x\"}]," BASE_MODEL "}", NULL, ATTRIB_E_BAD_JSON, "added token id a string"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":16777216},\"merges\":[]}}", NULL, ATTRIB_E_BAD_JSON, "vocab id 2^24"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}}", NULL, ATTRIB_E_BAD_JSON, "vocab id a string"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"ab\"]}}", NULL, ATTRIB_E_BAD_JSON, "merge without space"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[5]}}", NULL, ATTRIB_E_BAD_JSON, "merge is a number"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\"]]}}", NULL, ATTRIB_E_BAD_JSON, "merge pair of one"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\",1]]}}", NULL, ATTRIB_E_BAD_JSON, "merge pair with a number"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\",\"c\"]]}}", NULL, ATTRIB_E_BAD_VALUE, "merge of a missing piece"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"b a\"]}}", NULL, ATTRIB_E_BAD_VALUE, "merge result missing"},
        /* normalizers */
        {"{" BASE_MODEL ",\"normalizer\":{}}", NULL, ATTRIB_E_BAD_JSON, "normalizer without type"},
        {"{" BASE_MODEL ",\"normalizer\":{\"type\":\"Sequence\"}}", NULL, ATTRIB_E_BAD_JSON, "Sequence without normalizers"},
        {"{" BASE_MODEL ",\"normalizer\":{\"type\":\"Prepend\"}}", NULL, ATTRIB_E_BAD_JSON, "Prepend without string"},
        {"{" BASE_MODEL ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"}}", NULL,
         ATTRIB_E_UNSUPPORTED, "Replace with a regex"},
        {"{" BASE_MODEL ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"}}}", NULL, ATTRIB_E_BAD_JSON,
         "Replace without content"},
        {"{" BASE_MODEL ",\"normalizer\":{\"type\":\"StripAccents\"}}", NULL, ATTRIB_E_UNSUPPORTED, "StripAccents"},
        {"{" BASE_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"BertNormalizer\"}]}}",
         NULL, ATTRIB_E_UNSUPPORTED, "unsupported normaliser inside a Sequence"},
        /* pre-tokenizers */
        {"{" BASE_MODEL ",\"pre_tokenizer\":{}}", NULL, ATTRIB_E_BAD_JSON, "pre_tokenizer without type"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\"}}", NULL, ATTRIB_E_BAD_JSON, "Sequence without pretokenizers"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Whitespace\"}}", NULL, ATTRIB_E_UNSUPPORTED, "Whitespace"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"},{\"type\":\"Punctuation\"}]}}",
         NULL, ATTRIB_E_UNSUPPORTED, "unsupported pre-tokenizer inside a Sequence"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"MergedWithPrevious\"}}", NULL,
         ATTRIB_E_UNSUPPORTED, "Split MergedWithPrevious"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"}}}", NULL, ATTRIB_E_UNSUPPORTED,
         "Split without behavior"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Isolated\",\"invert\":true}}",
         NULL, ATTRIB_E_UNSUPPORTED, "inverted Split"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{},\"behavior\":\"Removed\"}}", NULL, ATTRIB_E_BAD_JSON,
         "Split without a pattern"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"a\\\\Eb\"},\"behavior\":\"Removed\"}}", NULL,
         ATTRIB_E_UNSUPPORTED, "Split string holding \\E"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"},"
         "{\"type\":\"ByteLevel\",\"add_prefix_space\":true}]}}", NULL, ATTRIB_E_UNSUPPORTED, "ByteLevel add_prefix_space after a split"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"},{\"type\":\"Metaspace\"}]}}",
         NULL, ATTRIB_E_UNSUPPORTED, "Metaspace after a split"},
        {"{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":true,"
         "\"use_regex\":false},{\"type\":\"Metaspace\",\"prepend_scheme\":\"always\",\"split\":false}]}}", NULL, ATTRIB_OK,
         "no split before Metaspace"},
        /* post-processors */
        {"{" BASE_MODEL ",\"post_processor\":{}}", NULL, ATTRIB_E_BAD_JSON, "post_processor without type"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"BertProcessing\",\"cls\":[\"<s>\",3],\"sep\":[\"<s>\",3]}}", NULL,
         ATTRIB_E_UNSUPPORTED, "BertProcessing"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Other\":{}}]," SPECIALS "}}", NULL,
         ATTRIB_E_BAD_JSON, "template item neither Sequence nor SpecialToken"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[" SPT "," SEQ "],"
         "\"special_tokens\":{\"<s>\":{\"ids\":[3,3]}}}}", NULL, ATTRIB_E_UNSUPPORTED, "special token of two ids"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"</s>\"}}," SEQ "],"
         SPECIALS "}}", NULL, ATTRIB_E_UNSUPPORTED, "special token not listed"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{}}," SEQ "]," SPECIALS "}}",
         NULL, ATTRIB_E_UNSUPPORTED, "special token without id"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[" SPT "," SEQ "],"
         "\"special_tokens\":{\"<s>\":{\"ids\":[4]}}}}", NULL, ATTRIB_E_BAD_VALUE, "special token id out of range"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[" SPT "," SPT "," SEQ "]," SPECIALS "}}", NULL,
         ATTRIB_E_UNSUPPORTED, "two special tokens before the sequence"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[" SEQ "," SPT "," SPT "]," SPECIALS "}}", NULL,
         ATTRIB_E_UNSUPPORTED, "two special tokens after the sequence"},
        {"{" BASE_MODEL ",\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},{\"type\":\"RobertaProcessing\"}]}}",
         NULL, ATTRIB_E_UNSUPPORTED, "unsupported processor inside a Sequence"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_json_status(cases[i].json, cases[i].config, cases[i].want, cases[i].what);

    /* Limits: 16 normalisation steps and 8 pre-tokenizer splits. */
    char js[8192];
    for (int n = 15; n <= 17; n++) {
        char *items = repeat_json("{\"type\":\"Lowercase\"}", n);
        snprintf(js, sizeof js, "{" BASE_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[%s]}}", items);
        expect_json_status(js, NULL, n <= 16 ? ATTRIB_OK : ATTRIB_E_UNSUPPORTED, "normaliser count");
        /* Metaspace and ByteLevel add ops of their own: past the limit too. */
        snprintf(js, sizeof js, "{" BASE_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[%s]},"
                                "\"pre_tokenizer\":{\"type\":\"Metaspace\"}}", items);
        expect_json_status(js, NULL, n <= 14 ? ATTRIB_OK : ATTRIB_E_UNSUPPORTED, "normalisers + Metaspace");
        snprintf(js, sizeof js, "{" BASE_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[%s]},"
                                "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true}}", items);
        expect_json_status(js, NULL, n <= 15 ? ATTRIB_OK : ATTRIB_E_UNSUPPORTED, "normalisers + ByteLevel prefix");
        free(items);
    }
    for (int n = 7; n <= 9; n++) {
        char *items = repeat_json("{\"type\":\"Digits\"}", n);
        snprintf(js, sizeof js, "{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[%s]}}", items);
        expect_json_status(js, NULL, n <= 8 ? ATTRIB_OK : ATTRIB_E_UNSUPPORTED, "split count");
        snprintf(js, sizeof js, "{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[%s,{\"type\":\"ByteLevel\"}]}}",
                 items);
        expect_json_status(js, NULL, n <= 7 ? ATTRIB_OK : ATTRIB_E_UNSUPPORTED, "splits + ByteLevel regex");
        snprintf(js, sizeof js, "{" BASE_MODEL ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[%s,{\"type\":\"Split\","
                                "\"pattern\":{\"String\":\"-\"},\"behavior\":\"Isolated\"}]}}", items);
        expect_json_status(js, NULL, n <= 7 ? ATTRIB_OK : ATTRIB_E_UNSUPPORTED, "splits + Split string");
        free(items);
    }
}

/* A file that is not valid JSON or not a tokenizer, through the public
 * loader: the status names the problem and the message names the file. */
static void test_json_files(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], f[4200], cfg[4200];
    snprintf(dir, sizeof dir, "%s/attrib-tok-json-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(f, sizeof f, "%s/tokenizer.json", dir);
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    attrib_tokenizer *tok = NULL;
    /* A directory without tokenizer.json. */
    assert_int_equal(attrib_tokenizer_load(dir, &tok), ATTRIB_E_MISSING);
    FILE *fp = fopen(f, "w");
    fputs("{" BASE_MODEL "}", fp);
    fclose(fp);
    fp = fopen(cfg, "w");
    fputs("{\"bos_token\":\"<s>\"", fp); /* broken config next to the file */
    fclose(fp);
    assert_int_equal(attrib_tokenizer_load(f, &tok), ATTRIB_E_BAD_JSON);
    assert_non_null(strstr(attrib_last_error(), "tokenizer_config.json"));
    fp = fopen(cfg, "w");
    fputs("{\"bos_token\":\"<s>\"}", fp);
    fclose(fp);
    assert_int_equal(attrib_tokenizer_load(f, &tok), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_bos(tok), 3);
    attrib_tokenizer_free(tok);
    assert_int_equal(attrib_tokenizer_from_json_file(f, "/nonexistent/tokenizer_config.json", &tok), ATTRIB_E_IO);
    assert_int_equal(attrib_tokenizer_from_json_file(NULL, NULL, &tok), ATTRIB_E_INVALID_ARG);
    fp = fopen(f, "w");
    fputs("{\"model\": {\"type\": \"BPE\",\n \"vocab\": {\"a\": 0,}}}", fp);
    fclose(fp);
    assert_int_equal(attrib_tokenizer_load(f, &tok), ATTRIB_E_BAD_JSON);
    assert_non_null(strstr(attrib_last_error(), "line 2"));
    unlink(f);
    unlink(cfg);
    rmdir(dir);
}

/* ---------------------------------------------------- GGUF metadata */

static const char *const SPM_TOKENS[7] = {"<unk>", "<s>", "</s>", "a", "b", "ab", "\xE2\x96\x81"};
static const float SPM_SCORES[7] = {0, 0, 0, -1, -2, -0.5f, -3};
static const int32_t SPM_TYPES[7] = {2, 3, 3, 1, 1, 1, 1};

/* A valid llama (SentencePiece) vocabulary, without the key OMIT. */
static void spm_base(kvs *k, const char *omit) {
    if (strcmp(omit, "model"))
        kv_str(k, "tokenizer.ggml.model", "llama");
    if (strcmp(omit, "tokens"))
        kv_strs(k, "tokenizer.ggml.tokens", SPM_TOKENS, 7);
    if (strcmp(omit, "scores"))
        kv_f32s(k, "tokenizer.ggml.scores", SPM_SCORES, 7);
    if (strcmp(omit, "types"))
        kv_i32s(k, "tokenizer.ggml.token_type", SPM_TYPES, 7);
}

static const char *const BPE_TOKENS[4] = {"a", "b", "ab", "<|e|>"};
static const int32_t BPE_TYPES[4] = {1, 1, 1, 3};

/* A valid gpt2 vocabulary with tokenizer.ggml.pre "gpt2", without OMIT. */
static void bpe_base(kvs *k, const char *omit) {
    kv_str(k, "tokenizer.ggml.model", "gpt2");
    if (strcmp(omit, "pre"))
        kv_str(k, "tokenizer.ggml.pre", "gpt2");
    kv_strs(k, "tokenizer.ggml.tokens", BPE_TOKENS, 4);
    kv_i32s(k, "tokenizer.ggml.token_type", BPE_TYPES, 4);
    static const char *const merges[1] = {"a b"};
    if (strcmp(omit, "merges"))
        kv_strs(k, "tokenizer.ggml.merges", merges, 1);
}

static void expect_gguf_status(kvs *k, attrib_status want, const char *what) {
    attrib_tokenizer *tok = (attrib_tokenizer *)(uintptr_t)0x1;
    attrib_status st = gguf_tokenizer(k, &tok);
    if (st != want)
        fail_msg("%s: %s (%s), expected %s", what, attrib_status_name(st), attrib_last_error(), attrib_status_name(want));
    if (st == ATTRIB_OK) {
        attrib_tokenizer_free(tok);
        return;
    }
    assert_true(tok == (attrib_tokenizer *)(uintptr_t)0x1);
    if (!attrib_last_error()[0])
        fail_msg("%s: no error message", what);
}

static void test_gguf_errors(void **state) {
    (void)state;
    kvs k = {0};
    static const char *const no_merge_space[1] = {"ab"}, *const lead_space[1] = {" a"}, *const one[1] = {"a"},
                             *const missing[1] = {"a c"}, *const no_result[1] = {"b a"};
    static const int32_t ints[4] = {1, 2, 3, 4};
    float nan_scores[7];
    memcpy(nan_scores, SPM_SCORES, sizeof nan_scores);
    nan_scores[4] = NAN;
    int32_t bad_types[7];

    spm_base(&k, "");
    expect_gguf_status(&k, ATTRIB_OK, "valid llama vocabulary");
    spm_base(&k, "model");
    kv_u32(&k, "tokenizer.ggml.model", 1);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "model is a number");
    spm_base(&k, "model");
    kv_str(&k, "tokenizer.ggml.model", "bert");
    expect_gguf_status(&k, ATTRIB_E_UNSUPPORTED, "model bert");
    spm_base(&k, "tokens");
    expect_gguf_status(&k, ATTRIB_E_MISSING, "no tokens");
    spm_base(&k, "tokens");
    kv_i32s(&k, "tokenizer.ggml.tokens", SPM_TYPES, 7);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "tokens are numbers");
    spm_base(&k, "tokens");
    kv_str(&k, "tokenizer.ggml.tokens", "a");
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "tokens is a string");
    kv_str(&k, "tokenizer.ggml.model", "llama");
    kv_strs(&k, "tokenizer.ggml.tokens", SPM_TOKENS, 0);
    expect_gguf_status(&k, ATTRIB_E_BAD_COUNT, "no token at all");
    spm_base(&k, "types");
    kv_i32s(&k, "tokenizer.ggml.token_type", SPM_TYPES, 6);
    expect_gguf_status(&k, ATTRIB_E_BAD_COUNT, "6 types for 7 tokens");
    spm_base(&k, "types");
    kv_strs(&k, "tokenizer.ggml.token_type", SPM_TOKENS, 7);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "types are strings");
    for (int bad = -1; bad <= 7; bad += 8) {
        memcpy(bad_types, SPM_TYPES, sizeof bad_types);
        bad_types[3] = bad;
        spm_base(&k, "types");
        kv_i32s(&k, "tokenizer.ggml.token_type", bad_types, 7);
        expect_gguf_status(&k, ATTRIB_E_BAD_VALUE, "token type outside 0..6");
    }
    spm_base(&k, "scores");
    kv_f32s(&k, "tokenizer.ggml.scores", SPM_SCORES, 6);
    expect_gguf_status(&k, ATTRIB_E_BAD_COUNT, "6 scores for 7 tokens");
    spm_base(&k, "scores");
    kv_strs(&k, "tokenizer.ggml.scores", SPM_TOKENS, 7);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "scores are strings");
    spm_base(&k, "scores");
    kv_f32s(&k, "tokenizer.ggml.scores", nan_scores, 7);
    expect_gguf_status(&k, ATTRIB_E_NUMERIC, "NaN score");
    spm_base(&k, "");
    kv_str(&k, "tokenizer.ggml.bos_token_id", "1");
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "BOS id is a string");
    spm_base(&k, "");
    kv_i32(&k, "tokenizer.ggml.eos_token_id", -2);
    expect_gguf_status(&k, ATTRIB_E_BAD_VALUE, "EOS id -2");
    spm_base(&k, "");
    kv_u64(&k, "tokenizer.ggml.unknown_token_id", (uint64_t)1 << 32);
    expect_gguf_status(&k, ATTRIB_E_BAD_VALUE, "UNK id 2^32");
    spm_base(&k, "");
    kv_u32(&k, "tokenizer.ggml.padding_token_id", 7);
    expect_gguf_status(&k, ATTRIB_E_BAD_VALUE, "PAD id = vocabulary size");
    spm_base(&k, "");
    kv_u8(&k, "tokenizer.ggml.add_bos_token", 1);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "add_bos_token is a u8");
    spm_base(&k, "");
    kv_str(&k, "tokenizer.ggml.add_space_prefix", "no");
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "add_space_prefix is a string");

    bpe_base(&k, "");
    expect_gguf_status(&k, ATTRIB_OK, "valid gpt2 vocabulary");
    bpe_base(&k, "pre");
    kv_u32(&k, "tokenizer.ggml.pre", 2);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "pre is a number");
    bpe_base(&k, "merges");
    expect_gguf_status(&k, ATTRIB_E_MISSING, "gpt2 without merges");
    bpe_base(&k, "merges");
    kv_i32s(&k, "tokenizer.ggml.merges", ints, 4);
    expect_gguf_status(&k, ATTRIB_E_METADATA_TYPE, "merges are numbers");
    bpe_base(&k, "merges");
    kv_strs(&k, "tokenizer.ggml.merges", no_merge_space, 1);
    expect_gguf_status(&k, ATTRIB_E_BAD_STRING, "merge without space");
    bpe_base(&k, "merges");
    kv_strs(&k, "tokenizer.ggml.merges", lead_space, 1);
    expect_gguf_status(&k, ATTRIB_E_BAD_STRING, "merge with only a leading space");
    bpe_base(&k, "merges");
    kv_strs(&k, "tokenizer.ggml.merges", one, 1);
    expect_gguf_status(&k, ATTRIB_E_BAD_STRING, "one-byte merge");
    bpe_base(&k, "merges");
    kv_strs(&k, "tokenizer.ggml.merges", missing, 1);
    expect_gguf_status(&k, ATTRIB_E_BAD_VALUE, "merge of a missing piece");
    bpe_base(&k, "merges");
    kv_strs(&k, "tokenizer.ggml.merges", no_result, 1);
    expect_gguf_status(&k, ATTRIB_E_BAD_VALUE, "merge result missing");
}

/* Documented llama.cpp behaviour of the GGUF keys. */
static void test_gguf_behaviour(void **state) {
    (void)state;
    kvs k = {0};
    attrib_tokenizer *tok = NULL;
    /* llama: BOS 1, EOS 2, UNK 0 and add BOS by default; types as given
     * (0, llama.cpp's "undefined", reads as normal). */
    int32_t types[7];
    memcpy(types, SPM_TYPES, sizeof types);
    types[5] = 0;
    spm_base(&k, "types");
    kv_i32s(&k, "tokenizer.ggml.token_type", types, 7);
    assert_int_equal(gguf_tokenizer(&k, &tok), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_get_kind(tok), ATTRIB_TOKENIZER_SPM);
    assert_int_equal(attrib_tokenizer_bos(tok), 1);
    assert_int_equal(attrib_tokenizer_eos(tok), 2);
    assert_int_equal(attrib_tokenizer_unk(tok), 0);
    assert_int_equal(attrib_tokenizer_pad(tok), -1);
    assert_int_equal(attrib_tokenizer_token_type(tok, 0), ATTRIB_TOKEN_UNKNOWN);
    assert_int_equal(attrib_tokenizer_token_type(tok, 1), ATTRIB_TOKEN_CONTROL);
    assert_int_equal(attrib_tokenizer_token_type(tok, 5), ATTRIB_TOKEN_NORMAL);
    /* "ab": BOS, the ▁ space prefix (no piece "▁a" to merge into), then
     * a+b merged into "ab". */
    EXPECT_IDS(tok, "ab", ATTRIB_TOK_ADD_SPECIAL, 1, 6, 5);
    attrib_tokenizer_free(tok);
    /* Without token_type and scores: every piece normal; add_space_prefix
     * false: no ▁; add_bos_token false: no BOS; explicit ids. */
    kv_str(&k, "tokenizer.ggml.model", "llama");
    kv_strs(&k, "tokenizer.ggml.tokens", SPM_TOKENS, 7);
    kv_bool(&k, "tokenizer.ggml.add_space_prefix", 0);
    kv_bool(&k, "tokenizer.ggml.add_bos_token", 0);
    kv_i32(&k, "tokenizer.ggml.unknown_token_id", -1);
    kv_u32(&k, "tokenizer.ggml.padding_token_id", 4);
    assert_int_equal(gguf_tokenizer(&k, &tok), ATTRIB_OK);
    for (int i = 0; i < 7; i++)
        assert_int_equal(attrib_tokenizer_token_type(tok, i), ATTRIB_TOKEN_NORMAL);
    assert_int_equal(attrib_tokenizer_unk(tok), -1);
    assert_int_equal(attrib_tokenizer_pad(tok), 4);
    EXPECT_IDS(tok, "ab", ATTRIB_TOK_ADD_SPECIAL, 5);
    attrib_tokenizer_free(tok);
    /* A two-piece llama vocabulary: the default EOS (2) does not exist. */
    kv_str(&k, "tokenizer.ggml.model", "llama");
    kv_strs(&k, "tokenizer.ggml.tokens", SPM_TOKENS, 2);
    assert_int_equal(gguf_tokenizer(&k, &tok), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_bos(tok), 1);
    assert_int_equal(attrib_tokenizer_eos(tok), -1);
    attrib_tokenizer_free(tok);
    /* gpt2: BOS = EOS = 11 by default (llama.cpp), no BOS added for "gpt2"
     * unless add_bos_token says so; a 4-piece vocabulary has no id 11. */
    bpe_base(&k, "");
    assert_int_equal(gguf_tokenizer(&k, &tok), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_get_kind(tok), ATTRIB_TOKENIZER_BPE);
    assert_int_equal(attrib_tokenizer_bos(tok), -1);
    assert_int_equal(attrib_tokenizer_eos(tok), -1);
    EXPECT_IDS(tok, "ab<|e|>", ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL, 2, 3);
    attrib_tokenizer_free(tok);
    const char *big[16];
    char names[16][8];
    for (int i = 0; i < 16; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        big[i] = names[i];
    }
    kv_str(&k, "tokenizer.ggml.model", "gpt2");
    kv_strs(&k, "tokenizer.ggml.tokens", big, 16);
    kv_strs(&k, "tokenizer.ggml.merges", big, 0);
    kv_str(&k, "tokenizer.ggml.pre", "default");
    kv_bool(&k, "tokenizer.ggml.add_bos_token", 1);
    assert_int_equal(gguf_tokenizer(&k, &tok), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_bos(tok), 11);
    assert_int_equal(attrib_tokenizer_eos(tok), 11);
    EXPECT_IDS(tok, "", ATTRIB_TOK_ADD_SPECIAL, 11);
    attrib_tokenizer_free(tok);
    /* llama-bpe (Llama 3): BOS added by default. */
    kv_str(&k, "tokenizer.ggml.model", "gpt2");
    kv_strs(&k, "tokenizer.ggml.tokens", big, 16);
    kv_strs(&k, "tokenizer.ggml.merges", big, 0);
    kv_str(&k, "tokenizer.ggml.pre", "llama-bpe");
    kv_u32(&k, "tokenizer.ggml.bos_token_id", 3);
    assert_int_equal(gguf_tokenizer(&k, &tok), ATTRIB_OK);
    EXPECT_IDS(tok, "", ATTRIB_TOK_ADD_SPECIAL, 3);
    attrib_tokenizer_free(tok);
    assert_int_equal(attrib_tokenizer_from_gguf(NULL, &tok), ATTRIB_E_INVALID_ARG);
}

/* ---------------------------------------------------- limits, allocation */

/* A pre-tokenizer regex that backtracks exponentially stops at PCRE2's
 * match limit: ATTRIB_E_LIMIT with a message, not a hang or a wrong split. */
static void test_regex_limit(void **state) {
    (void)state;
    attrib_tokenizer *tok = json_tok_ok("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]},"
                                        "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a+)+b\"},"
                                        "\"behavior\":\"Isolated\"}}");
    EXPECT_IDS(tok, "aab", 0, 0, 0, 1);
    /* 40 'a', then a character that is no 'a' or 'b', then the 'b' the
     * regex needs (so PCRE2's start-up checks do not rule a match out). */
    char text[64];
    memset(text, 'a', 40);
    memcpy(text + 40, "!b", 3);
    attrib_token *t = NULL;
    size_t n = 0;
    attrib_status st = attrib_tokenize(tok, text, 42, 0, &t, &n);
    if (st != ATTRIB_E_LIMIT)
        fail_msg("catastrophic regex: %s (%s)", attrib_status_name(st), attrib_last_error());
    assert_non_null(strstr(attrib_last_error(), "regex"));
    attrib_tokenizer_free(tok);
}

/* Every allocation of loading and tokenizing fails in turn: the result is
 * ATTRIB_E_NOMEM (or success, with exactly the right ids, where the failed
 * allocation was an optional one such as the regex JIT's). */
static void test_alloc_failures(void **state) {
    (void)state;
    const json_t *toks = json_object_get(golden(), "tokenizers");
    static const char *const names[] = {"nfkc-lower-removed-digits", "metaspace-first-strip", "bytelevel-prefix-postseq",
                                        "llama-split-string-digits"};
    static const char *const texts[] = {"The ＴＨＩＮＧ 123 ΟΔΟΣ İx e\xCC\x81 \xE1\x84\x80\xE1\x85\xA1", "hello <mask> wor<sep>  ld <user>",
                                        "hello e\xCC\x81 <tag>x", "hello-12345 na\xC3\xAFve"};
    size_t loads = 0, encodes = 0;
    for (size_t s = 0; s < sizeof names / sizeof names[0]; s++) {
        const json_t *e = NULL;
        for (size_t i = 0; i < json_array_size(toks); i++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(toks, i), "name")), names[s]))
                e = json_array_get(toks, i);
        assert_non_null(e);
        char *js = json_dumps(json_object_get(e, "tokenizer_json"), JSON_COMPACT);
        char *cfg = json_dumps(json_object_get(e, "tokenizer_config"), JSON_COMPACT);
        attrib_tokenizer *ref = NULL;
        attrib_test_fail_alloc_at(0);
        assert_int_equal(json_tok(js, cfg, &ref), ATTRIB_OK);
        uint64_t n = attrib_test_fail_alloc_at(0);
        for (uint64_t k = 1; k <= n; k++) {
            attrib_tokenizer *tok = (attrib_tokenizer *)(uintptr_t)0x1;
            attrib_test_fail_alloc_at(k);
            attrib_status st = json_tok(js, cfg, &tok);
            attrib_test_fail_alloc_at(0);
            if (st == ATTRIB_OK)
                attrib_tokenizer_free(tok);
            else if (st != ATTRIB_E_NOMEM)
                fail_msg("%s: allocation %llu of %llu failed: %s (%s)", names[s], (unsigned long long)k, (unsigned long long)n,
                         attrib_status_name(st), attrib_last_error());
            else
                assert_true(tok == (attrib_tokenizer *)(uintptr_t)0x1);
        }
        loads += n;
        const char *text = texts[s];
        size_t len = strlen(text), rn = 0;
        attrib_token *rt = NULL;
        const unsigned flags = ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL;
        attrib_test_fail_alloc_at(0);
        assert_int_equal(attrib_tokenize(ref, text, len, flags, &rt, &rn), ATTRIB_OK);
        n = attrib_test_fail_alloc_at(0);
        assert_true(n >= 3);
        for (uint64_t k = 1; k <= n; k++) {
            attrib_token *t = NULL;
            size_t tn = 0;
            attrib_test_fail_alloc_at(k);
            attrib_status st = attrib_tokenize(ref, text, len, flags, &t, &tn);
            attrib_test_fail_alloc_at(0);
            if (st == ATTRIB_OK) {
                if (tn != rn || memcmp(t, rt, rn * sizeof *t) != 0)
                    fail_msg("%s: allocation %llu failed and the tokens changed", names[s], (unsigned long long)k);
                attrib_free(t);
            } else if (st != ATTRIB_E_NOMEM) {
                fail_msg("%s: tokenize allocation %llu of %llu failed: %s (%s)", names[s], (unsigned long long)k,
                         (unsigned long long)n, attrib_status_name(st), attrib_last_error());
            }
        }
        encodes += n;
        attrib_free(rt);
        attrib_tokenizer_free(ref);
        free(js);
        free(cfg);
    }
    /* The GGUF loaders. */
    for (size_t s = 0; s < json_array_size(toks); s++) {
        const json_t *e = json_array_get(toks, s);
        const json_t *gg = json_object_get(e, "gguf");
        if (!json_is_array(gg))
            continue;
        kvs kv;
        golden_gguf_kvs(gg, &kv);
        uint8_t *image = NULL;
        gguf_ctx *g = gguf_parse(&kv, &image);
        attrib_tokenizer *tok = NULL;
        attrib_test_fail_alloc_at(0);
        assert_int_equal(attrib_tokenizer_from_gguf(g, &tok), ATTRIB_OK);
        uint64_t n = attrib_test_fail_alloc_at(0);
        attrib_tokenizer_free(tok);
        for (uint64_t k = 1; k <= n; k++) {
            attrib_test_fail_alloc_at(k);
            tok = NULL;
            attrib_status st = attrib_tokenizer_from_gguf(g, &tok);
            attrib_test_fail_alloc_at(0);
            if (st == ATTRIB_OK)
                attrib_tokenizer_free(tok);
            else if (st != ATTRIB_E_NOMEM)
                fail_msg("GGUF %s: allocation %llu of %llu failed: %s (%s)", json_string_value(json_object_get(e, "name")),
                         (unsigned long long)k, (unsigned long long)n, attrib_status_name(st), attrib_last_error());
        }
        gguf_free(g);
        free(image);
        loads += n;
    }
    print_message("[tokenizer-json] allocation failures: %zu in loaders, %zu in tokenize, each failed in turn\n", loads, encodes);
}

int main(void) {
    test_count_jansson_allocations();
    init_dirs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_goldens),
        cmocka_unit_test(test_metaspace_semantics),
        cmocka_unit_test(test_decoder_variants),
        cmocka_unit_test(test_vocab_details),
        cmocka_unit_test(test_invalid_utf8_normalised),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_files),
        cmocka_unit_test(test_gguf_errors),
        cmocka_unit_test(test_gguf_behaviour),
        cmocka_unit_test(test_regex_limit),
        cmocka_unit_test(test_alloc_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(g_golden);
    return rc;
}
