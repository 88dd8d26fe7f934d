/*
 * test-tokenizer.c — the tokenizer against goldens made by an independent
 * implementation (transformers.js, see tests/golden/generate.mjs), plus
 * properties that can fail: byte spans that are monotone and cover the
 * text, prefixes of the token list that decode to prefixes of the text,
 * decode(encode(s)) == s wherever the reference is lossless, every
 * vocabulary token re-encoding to itself wherever the reference does, and
 * the documented behaviour on invalid UTF-8, NUL bytes, huge inputs and bad
 * files.
 *
 * Goldens are read from the source tree (next to this file); models from
 * $ATTRIB_SHARED (default ../shared beside the repository).
 */
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
#include "basics/gguf.h"
#include "tokenizer/tokenizer.h"

static char g_golden_dir[4096];
static char g_shared_dir[4096];

static void init_dirs(void) {
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    size_t n = slash ? (size_t)(slash - f) : 0;
    snprintf(g_golden_dir, sizeof g_golden_dir, "%.*s/golden", (int)n, n ? f : ".");
    const char *env = getenv("ATTRIB_SHARED");
    if (env && *env)
        snprintf(g_shared_dir, sizeof g_shared_dir, "%s", env);
    else
        snprintf(g_shared_dir, sizeof g_shared_dir, "%.*s/../../shared", (int)n, n ? f : ".");
}

static json_t *load_golden(const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s.json", g_golden_dir, name);
    json_error_t err;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("cannot read golden %s: %s (line %d)", path, err.text, err.line);
    return j;
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
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void wu32(wbuf *b, uint32_t v) { wput(b, &v, 4); }
static void wu64(wbuf *b, uint64_t v) { wput(b, &v, 8); }
static void wstr(wbuf *b, const char *s, size_t n) { wu64(b, n); wput(b, s, n); }
static void wkey(wbuf *b, const char *k, uint32_t type) { wstr(b, k, strlen(k)); wu32(b, type); }

/* GGUF v3 image with no tensors; kv pairs written by the caller. */
static void gguf_begin(wbuf *b, uint64_t n_kv) {
    wput(b, "GGUF", 4);
    wu32(b, 3);
    wu64(b, 0);
    wu64(b, n_kv);
}
static void gguf_end(wbuf *b) {
    static const uint8_t zero[32] = {0};
    wput(b, zero, (32 - b->n % 32) % 32);
}

/* A GGUF "gpt2" tokenizer from the SmolLM2 tokenizer.json, with PRE. */
static attrib_tokenizer *smollm_as_gguf(const char *pre) {
    char path[8192];
    snprintf(path, sizeof path, "%s/models/smollm2-135m-tokenizer/tokenizer.json", g_shared_dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    assert_non_null(root);
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab");
    json_t *merges = json_object_get(model, "merges");
    json_t *added = json_object_get(root, "added_tokens");
    size_t n = json_object_size(vocab);
    const char **pieces = calloc(n, sizeof(char *));
    int32_t *types = calloc(n, sizeof(int32_t));
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        json_int_t id = json_integer_value(val);
        assert_true(id >= 0 && (size_t)id < n);
        pieces[id] = key;
        types[id] = 1;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        assert_true(id >= 0 && (size_t)id < n);
        types[id] = json_is_true(json_object_get(a, "special")) ? 3 : 4;
    }
    wbuf b = {0};
    gguf_begin(&b, 6);
    wkey(&b, "tokenizer.ggml.model", 8);
    wstr(&b, "gpt2", 4);
    wkey(&b, "tokenizer.ggml.pre", 8);
    wstr(&b, pre, strlen(pre));
    wkey(&b, "tokenizer.ggml.tokens", 9);
    wu32(&b, 8);
    wu64(&b, n);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(pieces[i]);
        wstr(&b, pieces[i], strlen(pieces[i]));
    }
    wkey(&b, "tokenizer.ggml.token_type", 9);
    wu32(&b, 5);
    wu64(&b, n);
    wput(&b, types, n * 4);
    wkey(&b, "tokenizer.ggml.merges", 9);
    wu32(&b, 8);
    wu64(&b, json_array_size(merges));
    for (size_t i = 0; i < json_array_size(merges); i++) {
        const char *m = json_string_value(json_array_get(merges, i));
        assert_non_null(m);
        wstr(&b, m, strlen(m));
    }
    wkey(&b, "tokenizer.ggml.add_bos_token", 7);
    uint8_t f = 0;
    wput(&b, &f, 1);
    gguf_end(&b);
    gguf_ctx *g = NULL;
    attrib_status st = gguf_init_from_memory(b.p, b.n, &g);
    if (st)
        fail_msg("gguf_init_from_memory: %s", attrib_last_error());
    attrib_tokenizer *tok = NULL;
    st = attrib_tokenizer_from_gguf(g, &tok);
    if (st)
        fail_msg("attrib_tokenizer_from_gguf(pre=%s): %s", pre, attrib_last_error());
    gguf_free(g);
    free(b.p);
    free(pieces);
    free(types);
    json_decref(root);
    return tok;
}

/* ------------------------------------------------------------ checks */

static int is_special_type(const attrib_tokenizer *tok, int32_t id) {
    attrib_token_type t = attrib_tokenizer_token_type(tok, id);
    return t == ATTRIB_TOKEN_CONTROL || t == ATTRIB_TOKEN_UNKNOWN;
}

/* Spans: inside the text, begin <= end, both monotone, and together they
 * cover every byte of the text. Returns the number of violations. */
static int check_spans(const attrib_token *t, size_t n, size_t len, const char *label) {
    int bad = 0;
    uint32_t prev_b = 0, prev_e = 0, covered = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].begin > t[i].end || t[i].end > len || t[i].begin < prev_b || t[i].end < prev_e) {
            if (bad++ < 3)
                print_message("  span violation in %s: token %zu [%u,%u) after [%u,%u), text length %zu\n", label, i,
                              t[i].begin, t[i].end, prev_b, prev_e, len);
        }
        if (t[i].begin > covered && t[i].end > t[i].begin) {
            if (bad++ < 3)
                print_message("  gap in %s: bytes [%u,%u) covered by no token\n", label, covered, t[i].begin);
        }
        if (t[i].end > covered)
            covered = t[i].end;
        prev_b = t[i].begin;
        prev_e = t[i].end;
    }
    if (covered != len) {
        if (bad++ < 3)
            print_message("  %s: spans end at %u, text has %zu bytes\n", label, covered, len);
    }
    return bad;
}

/* For a lossless text: the tokens up to each span boundary decode to the
 * text up to that boundary. */
static int check_prefix_decode(const attrib_tokenizer *tok, const attrib_token *t, size_t n, const char *text,
                               size_t len, const char *label) {
    int32_t *ids = malloc((n + 1) * sizeof(int32_t));
    size_t m = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].begin == t[i].end && is_special_type(tok, t[i].id))
            continue; /* BOS/EOS */
        ids[m++] = t[i].id;
        int boundary = i + 1 == n || t[i + 1].begin >= t[i].end;
        if (!boundary)
            continue;
        char *dec = NULL;
        size_t dl = 0;
        attrib_status st = attrib_detokenize(tok, ids, m, 0, &dec, &dl);
        assert_int_equal(st, ATTRIB_OK);
        if (dl != t[i].end || memcmp(dec, text, dl) != 0) {
            if (bad++ < 2)
                print_message("  %s: tokens 0..%zu decode to %zu bytes \"%.*s\", text prefix is [0,%u) of %zu\n", label, i,
                              dl, (int)(dl > 60 ? 60 : dl), dec, t[i].end, len);
        }
        attrib_free(dec);
    }
    free(ids);
    return bad;
}

typedef struct golden_stats {
    size_t cases, match, lossless, roundtrip, span_bad, prefix_bad, nospecial_bad;
    size_t vocab, vocab_checked, vocab_bad;
} golden_stats;

static void run_golden(const char *name, attrib_tokenizer *tok) {
    json_t *g = load_golden(name);
    json_t *cases = json_object_get(g, "cases");
    assert_true(json_array_size(cases) >= 300);
    golden_stats s = {0};
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        json_t *jt = json_object_get(cs, "text");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt);
        json_t *want = json_object_get(cs, "ids");
        int lossless = json_is_true(json_object_get(cs, "lossless"));
        attrib_token *t = NULL;
        size_t n = 0;
        attrib_status st = attrib_tokenize(tok, text, len, ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL, &t, &n);
        if (st)
            fail_msg("%s: tokenize case %zu failed: %s", name, c, attrib_last_error());
        s.cases++;
        int same = n == json_array_size(want);
        for (size_t i = 0; same && i < n; i++)
            same = t[i].id == json_integer_value(json_array_get(want, i));
        if (same) {
            s.match++;
        } else if (s.cases - s.match <= 5) {
            print_message("  MISMATCH %s case %zu \"%.*s\"\n    attrib:", name, c, (int)(len > 80 ? 80 : len), text);
            for (size_t i = 0; i < n && i < 40; i++)
                print_message(" %d", t[i].id);
            print_message("\n    golden:");
            for (size_t i = 0; i < json_array_size(want) && i < 40; i++)
                print_message(" %d", (int)json_integer_value(json_array_get(want, i)));
            print_message("\n");
        }
        char label[64];
        snprintf(label, sizeof label, "%s case %zu", name, c);
        s.span_bad += (size_t)check_spans(t, n, len, label);
        if (lossless) {
            s.lossless++;
            int32_t *ids = malloc((n + 1) * sizeof(int32_t));
            for (size_t i = 0; i < n; i++)
                ids[i] = t[i].id;
            char *dec = NULL;
            size_t dl = 0;
            assert_int_equal(attrib_detokenize(tok, ids, n, 0, &dec, &dl), ATTRIB_OK);
            if (dl == len && memcmp(dec, text, len) == 0)
                s.roundtrip++;
            else if (s.lossless - s.roundtrip <= 3)
                print_message("  ROUNDTRIP %s case %zu: \"%.*s\" -> \"%.*s\"\n", name, c, (int)(len > 60 ? 60 : len), text,
                              (int)(dl > 60 ? 60 : dl), dec);
            attrib_free(dec);
            free(ids);
            s.prefix_bad += (size_t)check_prefix_decode(tok, t, n, text, len, label);
        }
        /* Without PARSE_SPECIAL no control token comes from the text, and a
         * text holding no special-token text tokenizes the same either way. */
        int had_special = 0;
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = attrib_tokenizer_piece(tok, t[i].id, &pl);
            /* A special token matched in the text covers exactly its own text
             * (an UNK standing for unknown characters does not). */
            had_special |= is_special_type(tok, t[i].id) && t[i].end - t[i].begin == pl && pl > 0 &&
                           memcmp(text + t[i].begin, p, pl) == 0;
        }
        attrib_token *u = NULL;
        size_t un = 0;
        assert_int_equal(attrib_tokenize(tok, text, len, 0, &u, &un), ATTRIB_OK);
        size_t skip = (n > 0 && t[0].begin == t[0].end && is_special_type(tok, t[0].id)) ? 1 : 0;
        int bad = 0;
        for (size_t i = 0; i < un; i++)
            bad |= attrib_tokenizer_token_type(tok, u[i].id) == ATTRIB_TOKEN_CONTROL;
        if (!had_special) {
            bad |= un != n - skip;
            for (size_t i = 0; !bad && i < un; i++)
                bad |= u[i].id != t[i + skip].id || u[i].begin != t[i + skip].begin || u[i].end != t[i + skip].end;
        }
        s.span_bad += (size_t)check_spans(u, un, len, label);
        if (bad && s.nospecial_bad++ < 3)
            print_message("  NO-PARSE-SPECIAL %s case %zu differs\n", name, c);
        attrib_free(u);
        attrib_free(t);
    }

    /* Vocabulary: decode each token, re-encode; must give the token back
     * wherever the reference does, and what the reference gives elsewhere
     * whenever both decode to the same text. */
    json_t *voc = json_object_get(g, "vocab");
    json_t *non = json_object_get(voc, "non_roundtrip");
    size_t nv = (size_t)json_integer_value(json_object_get(voc, "n"));
    assert_int_equal(nv, (size_t)attrib_tokenizer_n_vocab(tok));
    char *expect_rt = malloc(nv);
    memset(expect_rt, 1, nv);
    json_t **ref = calloc(nv, sizeof(json_t *));
    for (size_t i = 0; i < json_array_size(non); i++) {
        json_t *e = json_array_get(non, i);
        size_t id = (size_t)json_integer_value(json_array_get(e, 0));
        assert_true(id < nv);
        expect_rt[id] = 0;
        ref[id] = e;
    }
    for (size_t id = 0; id < nv; id++) {
        int32_t one = (int32_t)id;
        char *dec = NULL;
        size_t dl = 0;
        assert_int_equal(attrib_detokenize(tok, &one, 1, 1, &dec, &dl), ATTRIB_OK);
        attrib_token *t = NULL;
        size_t n = 0;
        assert_int_equal(attrib_tokenize(tok, dec, dl, ATTRIB_TOK_PARSE_SPECIAL, &t, &n), ATTRIB_OK);
        s.vocab++;
        int bad = 0;
        if (expect_rt[id]) {
            s.vocab_checked++;
            bad = !(n == 1 && t[0].id == one);
        } else {
            json_t *rd = json_array_get(ref[id], 1), *re = json_array_get(ref[id], 2);
            if (json_string_length(rd) == dl && memcmp(json_string_value(rd), dec, dl) == 0) {
                s.vocab_checked++;
                bad = n != json_array_size(re);
                for (size_t i = 0; !bad && i < n; i++)
                    bad = t[i].id != json_integer_value(json_array_get(re, i));
            }
        }
        if (bad && s.vocab_bad++ < 5) {
            size_t pl;
            const char *p = attrib_tokenizer_piece(tok, one, &pl);
            print_message("  VOCAB %s id %zu piece \"%.*s\" decodes to \"%.*s\" and re-encodes to %zu tokens (first %d)\n", name,
                          id, (int)pl, p, (int)dl, dec, n, n ? t[0].id : -1);
        }
        attrib_free(t);
        attrib_free(dec);
    }
    free(expect_rt);
    free(ref);
    print_message("[tokenizer] %-28s exact match %zu/%zu strings; round trip %zu/%zu lossless; span/prefix/no-parse violations %zu/%zu/%zu; "
                  "vocab re-encode %zu/%zu checked ok (of %zu tokens)\n",
                  name, s.match, s.cases, s.roundtrip, s.lossless, s.span_bad, s.prefix_bad, s.nospecial_bad,
                  s.vocab_checked - s.vocab_bad, s.vocab_checked, s.vocab);
    json_decref(g);
    assert_int_equal(s.match, s.cases);
    assert_int_equal(s.roundtrip, s.lossless);
    assert_int_equal(s.span_bad, 0);
    assert_int_equal(s.prefix_bad, 0);
    assert_int_equal(s.nospecial_bad, 0);
    assert_int_equal(s.vocab_bad, 0);
}

static attrib_tokenizer *load_shared(const char *rel) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", g_shared_dir, rel);
    attrib_tokenizer *tok = NULL;
    attrib_status st = attrib_tokenizer_load(path, &tok);
    if (st)
        fail_msg("attrib_tokenizer_load(%s): %s", path, attrib_last_error());
    return tok;
}

static void test_golden_stories260k(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/stories260K/stories260K-f32.gguf");
    assert_int_equal(attrib_tokenizer_get_kind(tok), ATTRIB_TOKENIZER_SPM);
    assert_int_equal(attrib_tokenizer_n_vocab(tok), 512);
    assert_int_equal(attrib_tokenizer_bos(tok), 1);
    assert_int_equal(attrib_tokenizer_eos(tok), 2);
    assert_int_equal(attrib_tokenizer_token_type(tok, 3), ATTRIB_TOKEN_BYTE);
    run_golden("stories260K", tok);
    attrib_tokenizer_free(tok);
}

static void test_golden_llama2(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/llama-2-tiny-random/llama-2-tiny-random.gguf");
    assert_int_equal(attrib_tokenizer_n_vocab(tok), 32000);
    assert_int_equal(attrib_tokenizer_unk(tok), 0);
    run_golden("llama-2-tiny-random", tok);
    attrib_tokenizer_free(tok);
}

static void test_golden_tinystories(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/TinyStories-656K");
    assert_int_equal(attrib_tokenizer_get_kind(tok), ATTRIB_TOKENIZER_BPE);
    assert_int_equal(attrib_tokenizer_n_vocab(tok), 2048);
    run_golden("TinyStories-656K", tok);
    attrib_tokenizer_free(tok);
}

static void test_golden_smollm2(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/smollm2-135m-tokenizer/tokenizer.json");
    assert_int_equal(attrib_tokenizer_n_vocab(tok), 49152);
    run_golden("SmolLM2-135M", tok);
    attrib_tokenizer_free(tok);
}

static void test_golden_gguf_pre(void **state) {
    (void)state;
    static const char *pre[][2] = {{"smollm", "SmolLM2-135M"},
                                   {"gpt2", "SmolLM2-vocab-pre-gpt2"},
                                   {"llama-bpe", "SmolLM2-vocab-pre-llama-bpe"},
                                   {"qwen2", "SmolLM2-vocab-pre-qwen2"}};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        attrib_tokenizer *tok = smollm_as_gguf(pre[i][0]);
        print_message("[tokenizer] GGUF gpt2 with tokenizer.ggml.pre=%s:\n", pre[i][0]);
        run_golden(pre[i][1], tok);
        attrib_tokenizer_free(tok);
    }
}

/* ------------------------------------------------ defined behaviours */

static void roundtrip_bytes(const attrib_tokenizer *tok, const char *text, size_t len, const char *what) {
    attrib_token *t = NULL;
    size_t n = 0;
    attrib_status st = attrib_tokenize(tok, text, len, ATTRIB_TOK_ADD_SPECIAL, &t, &n);
    if (st)
        fail_msg("%s: tokenize failed: %s", what, attrib_last_error());
    assert_int_equal(check_spans(t, n, len, what), 0);
    int32_t *ids = malloc((n + 1) * sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
        ids[i] = t[i].id;
    char *dec = NULL;
    size_t dl = 0;
    assert_int_equal(attrib_detokenize(tok, ids, n, 0, &dec, &dl), ATTRIB_OK);
    if (dl != len || memcmp(dec, text, len) != 0)
        fail_msg("%s: decode(encode(s)) != s (%zu vs %zu bytes)", what, dl, len);
    attrib_free(dec);
    free(ids);
    attrib_free(t);
}

static void test_invalid_utf8_and_nul(void **state) {
    (void)state;
    static const struct { const char *s; size_t n; } cases[] = {
        {"\xff\xfe", 2}, {"ab\xe2\x82", 4}, {"a\xc3", 2}, {"\xed\xa0\x80 lone surrogate", 18},
        {"\xc0\xaf overlong", 11}, {"a\0b\0", 4}, {"\0", 1}, {"x \x80\x80 y", 6}, {"\xf4\x90\x80\x80", 4},
    };
    /* Byte-level and byte-fallback vocabularies are lossless on any bytes. */
    attrib_tokenizer *toks[3] = {load_shared("models/stories260K/stories260K-f32.gguf"),
                                 load_shared("models/llama-2-tiny-random/llama-2-tiny-random.gguf"),
                                 load_shared("models/smollm2-135m-tokenizer")};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* SmolLM2's byte-level alphabet has no piece for bytes that never
             * occur in UTF-8 (C0, C1, F5..FF) and no UNK: those bytes are
             * dropped (documented), so such cases are not lossless there. */
            int unrepresentable = 0;
            for (size_t j = 0; j < cases[i].n; j++) {
                unsigned char c = (unsigned char)cases[i].s[j];
                unrepresentable |= c == 0xC0 || c == 0xC1 || c >= 0xF5;
            }
            if (k == 2 && unrepresentable)
                continue;
            char what[64];
            snprintf(what, sizeof what, "tokenizer %d bytes case %zu", k, i);
            roundtrip_bytes(toks[k], cases[i].s, cases[i].n, what);
        }
    attrib_token *t = NULL;
    size_t n = 0;
    assert_int_equal(attrib_tokenize(toks[2], "a\xff" "b", 3, 0, &t, &n), ATTRIB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[0].end, 1);
    assert_int_equal(t[1].begin, 2);
    attrib_free(t);
    /* A truncated sequence is two invalid bytes, not a character: 'z' is not
     * swallowed into it and keeps its own span. */
    assert_int_equal(attrib_tokenize(toks[2], "\xe2\x82z", 3, 0, &t, &n), ATTRIB_OK);
    assert_true(n >= 2);
    assert_int_equal(t[0].begin, 0);
    assert_int_equal(t[n - 1].begin, 2);
    assert_int_equal(t[n - 1].end, 3);
    attrib_free(t);
    /* A byte-fallback multi-byte character: every byte token spans the whole character. */
    assert_int_equal(attrib_tokenize(toks[0], "\xe4\xbd\xa0", 3, 0, &t, &n), ATTRIB_OK);
    size_t nbyte = 0;
    for (size_t i = 0; i < n; i++)
        if (attrib_tokenizer_token_type(toks[0], t[i].id) == ATTRIB_TOKEN_BYTE) {
            nbyte++;
            assert_int_equal(t[i].begin, 0);
            assert_int_equal(t[i].end, 3);
        }
    assert_int_equal(nbyte, 3);
    attrib_free(t);
    for (int k = 0; k < 3; k++)
        attrib_tokenizer_free(toks[k]);
}

static void test_large_and_huge(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/smollm2-135m-tokenizer");
    attrib_tokenizer *spm = load_shared("models/llama-2-tiny-random/llama-2-tiny-random.gguf");
    /* 1 MiB of mixed text in one piece, and 200 KiB with no pre-tokenizer split. */
    size_t len = 1 << 20;
    char *big = malloc(len);
    static const char chunk[] = "Words, numbers 12345 and caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd!\n";
    for (size_t i = 0; i < len; i++)
        big[i] = chunk[i % (sizeof chunk - 1)];
    len -= len % (sizeof chunk - 1);
    roundtrip_bytes(tok, big, len, "1 MiB byte-level");
    roundtrip_bytes(spm, big, 200 * 1024 - (200 * 1024) % (sizeof chunk - 1), "200 KiB SPM");
    memset(big, 'a', 300000);
    roundtrip_bytes(tok, big, 300000, "300000 x 'a' byte-level");
    free(big);
    /* Over the documented limit: refused, not attempted. */
    size_t huge = (size_t)64 * 1024 * 1024 + 1;
    char *h = calloc(huge, 1);
    assert_non_null(h);
    attrib_token *t = NULL;
    size_t n = 0;
    assert_int_equal(attrib_tokenize(tok, h, huge, 0, &t, &n), ATTRIB_E_LIMIT);
    free(h);
    attrib_tokenizer_free(tok);
    attrib_tokenizer_free(spm);
}

static void test_api_errors(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/stories260K/stories260K-f32.gguf");
    attrib_token *t = NULL;
    size_t n = 0;
    assert_int_equal(attrib_tokenize(NULL, "a", 1, 0, &t, &n), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_tokenize(tok, NULL, 1, 0, &t, &n), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_tokenize(tok, "a", 1, 0x80, &t, &n), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_tokenize(tok, NULL, 0, ATTRIB_TOK_ADD_SPECIAL, &t, &n), ATTRIB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(t[0].id, 1);
    attrib_free(t);
    int32_t bad[2] = {5, 512};
    char *s = NULL;
    size_t sl = 0;
    assert_int_equal(attrib_detokenize(tok, bad, 2, 0, &s, &sl), ATTRIB_E_BAD_VALUE);
    bad[1] = -1;
    assert_int_equal(attrib_detokenize(tok, bad, 2, 0, &s, &sl), ATTRIB_E_BAD_VALUE);
    assert_null(attrib_tokenizer_piece(tok, 512, NULL));
    assert_int_equal(attrib_tokenizer_token_type(tok, -1), ATTRIB_TOKEN_UNUSED);
    /* Special tokens are skipped unless asked for. */
    int32_t ids[3] = {1, 2, 2};
    assert_int_equal(attrib_detokenize(tok, ids, 3, 0, &s, &sl), ATTRIB_OK);
    assert_int_equal(sl, 0);
    attrib_free(s);
    assert_int_equal(attrib_detokenize(tok, ids, 3, 1, &s, &sl), ATTRIB_OK);
    assert_string_equal(s, "<s></s></s>");
    attrib_free(s);
    attrib_tokenizer_free(tok);
    attrib_tokenizer_free(NULL);
    assert_int_equal(attrib_tokenizer_load("/nonexistent/tokenizer.json", &tok), ATTRIB_E_IO);
}

static attrib_status load_json_text(const char *json, attrib_tokenizer **out) {
    char path[] = "/tmp/attrib-tok-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(json);
    assert_int_equal(write(fd, json, n), (ssize_t)n);
    close(fd);
    attrib_status st = attrib_tokenizer_from_json_file(path, NULL, out);
    unlink(path);
    return st;
}

static void test_bad_files(void **state) {
    (void)state;
    attrib_tokenizer *tok = NULL;
    assert_int_equal(load_json_text("{", &tok), ATTRIB_E_BAD_JSON);
    assert_int_equal(load_json_text("{}", &tok), ATTRIB_E_BAD_JSON);
    assert_int_equal(load_json_text("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", &tok), ATTRIB_E_UNSUPPORTED);
    assert_int_equal(load_json_text("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-3},\"merges\":[]}}", &tok), ATTRIB_E_BAD_JSON);
    assert_int_equal(load_json_text("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}", &tok),
                     ATTRIB_E_BAD_VALUE);
    assert_int_equal(load_json_text("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                                    "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}}",
                                    &tok),
                     ATTRIB_E_UNSUPPORTED);
    /* A minimal valid one: a, b, ab with one merge. */
    assert_int_equal(load_json_text("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}", &tok),
                     ATTRIB_OK);
    attrib_token *t = NULL;
    size_t n = 0;
    assert_int_equal(attrib_tokenize(tok, "abab", 4, ATTRIB_TOK_ADD_SPECIAL, &t, &n), ATTRIB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[0].id, 2);
    assert_int_equal(t[1].begin, 2);
    assert_int_equal(t[1].end, 4);
    attrib_free(t);
    attrib_tokenizer_free(tok);

    /* GGUF without tokenizer.ggml.model: ATTRIB_E_MISSING. */
    wbuf b = {0};
    gguf_begin(&b, 1);
    wkey(&b, "general.architecture", 8);
    wstr(&b, "llama", 5);
    gguf_end(&b);
    gguf_ctx *g = NULL;
    assert_int_equal(gguf_init_from_memory(b.p, b.n, &g), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_from_gguf(g, &tok), ATTRIB_E_MISSING);
    gguf_free(g);
    free(b.p);
    /* GGUF gpt2 with an unknown pre-tokenizer: refused, not guessed. */
    memset(&b, 0, sizeof b);
    gguf_begin(&b, 4);
    wkey(&b, "tokenizer.ggml.model", 8);
    wstr(&b, "gpt2", 4);
    wkey(&b, "tokenizer.ggml.pre", 8);
    wstr(&b, "no-such-pre", 11);
    wkey(&b, "tokenizer.ggml.tokens", 9);
    wu32(&b, 8);
    wu64(&b, 1);
    wstr(&b, "a", 1);
    wkey(&b, "tokenizer.ggml.merges", 9);
    wu32(&b, 8);
    wu64(&b, 0);
    gguf_end(&b);
    assert_int_equal(gguf_init_from_memory(b.p, b.n, &g), ATTRIB_OK);
    assert_int_equal(attrib_tokenizer_from_gguf(g, &tok), ATTRIB_E_UNSUPPORTED);
    gguf_free(g);
    free(b.p);
}

/* Special-token text is text unless PARSE_SPECIAL is given. */
static void test_parse_special(void **state) {
    (void)state;
    attrib_tokenizer *tok = load_shared("models/smollm2-135m-tokenizer");
    const char *s = "<|im_start|>user";
    attrib_token *t = NULL;
    size_t n = 0;
    assert_int_equal(attrib_tokenize(tok, s, strlen(s), ATTRIB_TOK_PARSE_SPECIAL, &t, &n), ATTRIB_OK);
    assert_int_equal(t[0].id, 1);
    assert_int_equal(t[0].begin, 0);
    assert_int_equal(t[0].end, 12);
    attrib_free(t);
    assert_int_equal(attrib_tokenize(tok, s, strlen(s), 0, &t, &n), ATTRIB_OK);
    assert_true(n > 2);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(t[i].id, 1);
    attrib_free(t);
    attrib_tokenizer_free(tok);
}

int main(void) {
    init_dirs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_stories260k),
        cmocka_unit_test(test_golden_llama2),
        cmocka_unit_test(test_golden_tinystories),
        cmocka_unit_test(test_golden_smollm2),
        cmocka_unit_test(test_golden_gguf_pre),
        cmocka_unit_test(test_invalid_utf8_and_nul),
        cmocka_unit_test(test_large_and_huge),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_parse_special),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
