/*
 * fuzz_tokenizer.c — libFuzzer target for the tokenizer.
 *
 * The first input byte picks a mode:
 *   0       the rest is a tokenizer.json (untrusted file): load it and, if it
 *           loads, tokenize and detokenize a fixed text with it;
 *   1..255  the rest is user text: tokenize it with each available
 *           tokenizer (two built-in tokenizer.json strings, plus the shared
 *           real tokenizers when $ATTRIB_SHARED points at them) under every
 *           flag combination, then detokenize the ids.
 * Besides ASan/UBSan findings, it aborts when a result breaks a documented
 * invariant: spans inside the text, monotone, and covering every byte for
 * tokenizers that can represent every byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "tokenizer/tokenizer.h"

/* Byte-level BPE over a small alphabet: exercises the GPT-2 regex and merges. */
static const char BYTELEVEL_JSON[] =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"Ġ\":2,\"Ġa\":3,\"ab\":4,\"<|x|>\":5},"
    "\"merges\":[\"Ġ a\",\"a b\"]},"
    "\"added_tokens\":[{\"id\":5,\"content\":\"<|x|>\",\"special\":true}],"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}]},"
    "\"decoder\":{\"type\":\"ByteLevel\"}}";

/* SentencePiece-style BPE with byte fallback and NFKC. */
static const char METASPACE_JSON[] =
    "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"fuse_unk\":true,\"unk_token\":\"<unk>\","
    "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"▁\":2,\"a\":3,\"▁a\":4,\"<0x41>\":5,\"<0xE2>\":6},\"merges\":[\"▁ a\"]},"
    "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\",\"special\":true,\"lstrip\":true,\"rstrip\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Prepend\",\"prepend\":\"▁\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"▁\"}]},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},{\"Sequence\":{\"id\":\"A\"}}],"
    "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1]}}},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"▁\"},\"content\":\" \"},"
    "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}}";

#define MAX_TOKS 6
static attrib_tokenizer *toks[MAX_TOKS];
static int complete[MAX_TOKS]; /* every byte representable: spans must cover the text */
static int n_toks;

static attrib_tokenizer *from_json_string(const char *s, size_t n) {
    char path[] = "/tmp/fuzz-tok-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "wb");
    fwrite(s, 1, n, f);
    fclose(f);
    attrib_tokenizer *t = NULL;
    if (attrib_tokenizer_from_json_file(path, NULL, &t) != ATTRIB_OK)
        t = NULL;
    remove(path);
    return t;
}

static void add_shared(const char *rel, int is_complete) {
    const char *dir = getenv("ATTRIB_SHARED");
    if (!dir || n_toks >= MAX_TOKS)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    attrib_tokenizer *t = NULL;
    if (attrib_tokenizer_load(path, &t) == ATTRIB_OK) {
        complete[n_toks] = is_complete;
        toks[n_toks++] = t;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    toks[n_toks] = from_json_string(BYTELEVEL_JSON, sizeof BYTELEVEL_JSON - 1);
    if (!toks[n_toks]) {
        fprintf(stderr, "fuzz_tokenizer: built-in byte-level tokenizer does not load: %s\n", attrib_last_error());
        abort();
    }
    n_toks++;
    toks[n_toks] = from_json_string(METASPACE_JSON, sizeof METASPACE_JSON - 1);
    if (!toks[n_toks]) {
        fprintf(stderr, "fuzz_tokenizer: built-in metaspace tokenizer does not load: %s\n", attrib_last_error());
        abort();
    }
    n_toks++;
    add_shared("models/stories260K/stories260K-f32.gguf", 1);
    add_shared("models/smollm2-135m-tokenizer", 0);
    return 0;
}

static void check(const attrib_tokenizer *tok, const char *text, size_t len, unsigned flags, int must_cover) {
    attrib_token *t = NULL;
    size_t n = 0;
    if (attrib_tokenize(tok, text, len, flags, &t, &n) != ATTRIB_OK)
        return;
    uint32_t pb = 0, pe = 0, covered = 0;
    int32_t *ids = malloc((n + 1) * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        if (t[i].begin > t[i].end || t[i].end > len || t[i].begin < pb || t[i].end < pe) {
            fprintf(stderr, "span invariant broken at token %zu: [%u,%u) after [%u,%u), len %zu\n", i, t[i].begin,
                    t[i].end, pb, pe, len);
            abort();
        }
        if (must_cover && t[i].end > t[i].begin && t[i].begin > covered) {
            fprintf(stderr, "gap before token %zu: [%u,%u)\n", i, covered, t[i].begin);
            abort();
        }
        if (t[i].end > covered)
            covered = t[i].end;
        pb = t[i].begin;
        pe = t[i].end;
        if (t[i].id < 0 || t[i].id >= attrib_tokenizer_n_vocab(tok))
            abort();
        ids[i] = t[i].id;
    }
    if (must_cover && covered != len) {
        fprintf(stderr, "spans end at %u of %zu bytes\n", covered, len);
        abort();
    }
    char *dec = NULL;
    size_t dl = 0;
    if (attrib_detokenize(tok, ids, n, flags & 1, &dec, &dl) != ATTRIB_OK)
        abort();
    attrib_free(dec);
    free(ids);
    attrib_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] == 0) {
        attrib_tokenizer *t = from_json_string(rest, n);
        if (t) {
            check(t, "Hello world 123 <s> caf\xc3\xa9 \xff", 25, ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL, 0);
            attrib_tokenizer_free(t);
        }
        return 0;
    }
    for (int k = 0; k < n_toks; k++)
        for (unsigned flags = 0; flags < 4; flags++)
            check(toks[k], rest, n, flags, complete[k] && k >= 2);
    /* the same bytes as arbitrary ids (two bytes each, some outside the
     * vocabulary): detokenizing must succeed or say which id is bad */
    if (data[0] & 1) {
        size_t m = n / 2;
        int32_t *ids = malloc((m + 1) * sizeof(int32_t));
        for (int k = 0; k < n_toks && ids; k++) {
            const int V = attrib_tokenizer_n_vocab(toks[k]);
            for (size_t i = 0; i < m; i++) ids[i] = (int32_t)(((uint32_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % (uint32_t)(V + 8)) - 4;
            char *dec = NULL;
            size_t dl = 0;
            attrib_status s = attrib_detokenize(toks[k], ids, m, data[0] & 2, &dec, &dl);
            int bad = 0;
            for (size_t i = 0; i < m; i++) bad |= ids[i] < 0 || ids[i] >= V;
            if (s != ATTRIB_OK && (!bad || s != ATTRIB_E_BAD_VALUE)) abort();
            if (s == ATTRIB_OK && (bad || !dec || strlen(dec) > dl)) abort();
            attrib_free(dec);
        }
        free(ids);
    }
    return 0;
}
