/*
 * tokenizer_gguf.c — builds a tokenizer from a GGUF file's tokenizer.ggml.*
 * metadata, with llama.cpp's semantics: "llama" is the SentencePiece-style
 * score-merging tokenizer with a ▁ space prefix and <0xXX> byte fallback,
 * "gpt2" is byte-level BPE whose pre-tokenizer regexes are chosen by
 * tokenizer.ggml.pre. Defaults for keys a file may omit (BOS/EOS ids,
 * add_bos_token, add_space_prefix) are llama.cpp's.
 */
#include "tokenizer/tokenizer_impl.h"

#include <string.h>

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* tokenizer.ggml.pre values and their regex sequences (llama.cpp's table). */
typedef struct pre_def {
    const char *names[8];
    const char *re[4];
    int ignore_merges;
    int add_bos;
} pre_def;

static const pre_def PRE_DEFS[] = {
    {{"default"}, {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0},
    {{"gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais"}, {GPT2_RE}, 0, 0},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe"}, {LLAMA3_RE}, 1, 1},
    {{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2"}, {QWEN2_RE}, 0, 0},
    {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"}, {"\\p{N}", GPT2_RE}, 0, 0},
};

static const pre_def *find_pre(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof(PRE_DEFS) / sizeof(PRE_DEFS[0]); i++)
        for (int k = 0; k < 8 && PRE_DEFS[i].names[k]; k++)
            if (strlen(PRE_DEFS[i].names[k]) == n && memcmp(PRE_DEFS[i].names[k], s, n) == 0)
                return &PRE_DEFS[i];
    return NULL;
}

static attrib_status get_opt_id(const gguf_ctx *g, const char *key, int32_t *dst) {
    int64_t k = gguf_find_key(g, key);
    if (k < 0)
        return ATTRIB_OK;
    int64_t v;
    if (!gguf_get_int(g, k, &v))
        return attrib_fail(ATTRIB_E_METADATA_TYPE, "%s: expected an integer", key);
    if (v < -1 || v > INT32_MAX)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "%s: %lld out of range", key, (long long)v);
    *dst = (int32_t)v;
    return ATTRIB_OK;
}

static attrib_status get_opt_bool(const gguf_ctx *g, const char *key, int *dst) {
    int64_t k = gguf_find_key(g, key);
    if (k < 0)
        return ATTRIB_OK;
    bool b;
    if (!gguf_get_bool(g, k, &b))
        return attrib_fail(ATTRIB_E_METADATA_TYPE, "%s: expected a bool", key);
    *dst = b;
    return ATTRIB_OK;
}

static attrib_status add_split(attrib_tokenizer *tok, const char *re) {
    tok_split *sp = &tok->splits[tok->n_splits];
    memset(sp, 0, sizeof(*sp));
    sp->kind = TOK_SPLIT_REGEX_ISOLATED;
    attrib_status st = tok_compile_regex(re, strlen(re), &sp->re);
    if (!st)
        tok->n_splits++;
    return st;
}

static attrib_status add_op(attrib_tokenizer *tok, tok_op_kind k, const char *s, const char *s2) {
    tok_op *op = &tok->ops[tok->n_ops];
    memset(op, 0, sizeof(*op));
    op->kind = k;
    op->str = attrib_strdup(s);
    op->len = strlen(s);
    if (s2) {
        op->str2 = attrib_strdup(s2);
        op->len2 = strlen(s2);
    }
    tok->n_ops++;
    if (!op->str || (s2 && !op->str2))
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    return ATTRIB_OK;
}

static attrib_status build(attrib_tokenizer *tok, const gguf_ctx *g) {
    int64_t km = gguf_find_key(g, "tokenizer.ggml.model");
    if (km < 0)
        return attrib_fail(ATTRIB_E_MISSING, "tokenizer.ggml.model: key missing (the file carries no tokenizer)");
    const char *model;
    size_t mlen;
    if (!gguf_get_str(g, km, &model, &mlen))
        return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.ggml.model: expected a string");
    int spm;
    if (mlen == 5 && !memcmp(model, "llama", 5))
        spm = 1;
    else if (mlen == 4 && !memcmp(model, "gpt2", 4))
        spm = 0;
    else
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.ggml.model: \"%.*s\" is not supported (llama, gpt2)",
                           (int)(mlen > 40 ? 40 : mlen), model);
    tok->kind = spm ? ATTRIB_TOKENIZER_SPM : ATTRIB_TOKENIZER_BPE;
    tok->algo = spm ? TOK_ALGO_SPM : TOK_ALGO_BPE;

    int64_t kt = gguf_find_key(g, "tokenizer.ggml.tokens");
    if (kt < 0)
        return attrib_fail(ATTRIB_E_MISSING, "tokenizer.ggml.tokens: key missing");
    if (gguf_arr_type(g, kt) != GGUF_TYPE_STRING)
        return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.ggml.tokens: expected an array of strings");
    uint64_t n = gguf_arr_n(g, kt);
    if (n == 0 || n > TOK_MAX_VOCAB)
        return attrib_fail(ATTRIB_E_BAD_COUNT, "tokenizer.ggml.tokens: %llu tokens (limit %d)", (unsigned long long)n, TOK_MAX_VOCAB);
    attrib_status st = tok_set_vocab_size(tok, (int64_t)n);
    if (st)
        return st;
    const char **txt = attrib_calloc_array((size_t)n, sizeof(char *));
    size_t *len = attrib_calloc_array((size_t)n, sizeof(size_t));
    if (!txt || !len) {
        attrib_free(txt);
        attrib_free(len);
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!gguf_arr_str(g, kt, i, &txt[i], &len[i])) {
            attrib_free(txt);
            attrib_free(len);
            return attrib_fail(ATTRIB_E_BAD_STRING, "tokenizer.ggml.tokens[%llu]: unreadable", (unsigned long long)i);
        }
    }
    st = tok_set_pieces(tok, txt, len);
    attrib_free(txt);
    attrib_free(len);
    if (st)
        return st;
    /* Empty strings are real pieces in GGUF; only JSON holes are unused. */
    for (uint64_t i = 0; i < n; i++)
        tok->types[i] = ATTRIB_TOKEN_NORMAL;

    int64_t kty = gguf_find_key(g, "tokenizer.ggml.token_type");
    if (kty >= 0) {
        if (gguf_arr_n(g, kty) != n)
            return attrib_fail(ATTRIB_E_BAD_COUNT, "tokenizer.ggml.token_type: %llu entries for %llu tokens",
                               (unsigned long long)gguf_arr_n(g, kty), (unsigned long long)n);
        int32_t *ty = attrib_calloc_array((size_t)n, sizeof(int32_t));
        if (!ty)
            return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
        if (!gguf_arr_to_i32(g, kty, ty, n)) {
            attrib_free(ty);
            return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.ggml.token_type: expected an integer array");
        }
        for (uint64_t i = 0; i < n; i++) {
            if (ty[i] < 0 || ty[i] > ATTRIB_TOKEN_BYTE) {
                int32_t bad = ty[i];
                attrib_free(ty);
                return attrib_fail(ATTRIB_E_BAD_VALUE, "tokenizer.ggml.token_type[%llu]: %d is not a token type",
                                   (unsigned long long)i, (int)bad);
            }
            tok->types[i] = (uint8_t)(ty[i] == 0 ? ATTRIB_TOKEN_NORMAL : ty[i]);
        }
        attrib_free(ty);
    }
    tok->scores = attrib_calloc_array((size_t)n, sizeof(float));
    if (!tok->scores)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    int64_t ks = gguf_find_key(g, "tokenizer.ggml.scores");
    if (ks >= 0) {
        if (gguf_arr_n(g, ks) != n)
            return attrib_fail(ATTRIB_E_BAD_COUNT, "tokenizer.ggml.scores: %llu entries for %llu tokens",
                               (unsigned long long)gguf_arr_n(g, ks), (unsigned long long)n);
        if (!gguf_arr_to_f32(g, ks, tok->scores, n))
            return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.ggml.scores: expected a float array");
        for (uint64_t i = 0; i < n; i++)
            if (tok->scores[i] != tok->scores[i])
                return attrib_fail(ATTRIB_E_NUMERIC, "tokenizer.ggml.scores[%llu] is NaN", (unsigned long long)i);
    }
    if ((st = tok_build_index(tok)))
        return st;

    /* llama.cpp defaults, then the file's own keys. */
    int add_space_prefix = spm;
    if (spm) {
        tok->bos = 1;
        tok->eos = 2;
        tok->unk = 0;
        tok->add_bos = 1;
    } else {
        tok->bos = 11;
        tok->eos = 11;
    }
    if (tok->bos >= tok->n_vocab)
        tok->bos = -1;
    if (tok->eos >= tok->n_vocab)
        tok->eos = -1;
    if (tok->unk >= tok->n_vocab)
        tok->unk = -1;

    if (!spm) {
        tok->byte_level = 1;
        int64_t kp = gguf_find_key(g, "tokenizer.ggml.pre");
        const char *pre = "default";
        size_t plen = 7;
        if (kp >= 0 && !gguf_get_str(g, kp, &pre, &plen))
            return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.ggml.pre: expected a string");
        const pre_def *d = find_pre(pre, plen);
        if (!d)
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.ggml.pre: pre-tokenizer \"%.*s\" is not supported",
                               (int)(plen > 40 ? 40 : plen), pre);
        for (int i = 0; i < 4 && d->re[i]; i++)
            if ((st = add_split(tok, d->re[i])))
                return st;
        tok->ignore_merges = d->ignore_merges;
        tok->add_bos = d->add_bos;

        int64_t kmg = gguf_find_key(g, "tokenizer.ggml.merges");
        if (kmg < 0)
            return attrib_fail(ATTRIB_E_MISSING, "tokenizer.ggml.merges: key missing (required for gpt2)");
        if (gguf_arr_type(g, kmg) != GGUF_TYPE_STRING)
            return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.ggml.merges: expected an array of strings");
        uint64_t nm = gguf_arr_n(g, kmg);
        if (nm > (uint64_t)INT32_MAX)
            return attrib_fail(ATTRIB_E_BAD_COUNT, "tokenizer.ggml.merges: too many merges");
        if ((st = tok_merges_reserve(tok, (size_t)nm + 1)))
            return st;
        for (uint64_t i = 0; i < nm; i++) {
            const char *m;
            size_t ml;
            if (!gguf_arr_str(g, kmg, i, &m, &ml))
                return attrib_fail(ATTRIB_E_BAD_STRING, "tokenizer.ggml.merges[%llu]: unreadable", (unsigned long long)i);
            /* The separator is the first space after the first byte: a piece is never empty. */
            const char *sp = ml > 1 ? memchr(m + 1, ' ', ml - 1) : NULL;
            if (!sp)
                return attrib_fail(ATTRIB_E_BAD_STRING, "tokenizer.ggml.merges[%llu]: no separating space", (unsigned long long)i);
            size_t la = (size_t)(sp - m);
            int32_t a = tok_find(tok, m, la), b = tok_find(tok, sp + 1, ml - la - 1);
            if (a < 0 || b < 0)
                return attrib_fail(ATTRIB_E_BAD_VALUE, "tokenizer.ggml.merges[%llu]: uses a piece missing from the vocabulary",
                                   (unsigned long long)i);
            if ((st = tok_add_merge(tok, a, b, (int32_t)i)))
                return st;
        }
    }

    if ((st = get_opt_id(g, "tokenizer.ggml.bos_token_id", &tok->bos)) ||
        (st = get_opt_id(g, "tokenizer.ggml.eos_token_id", &tok->eos)) ||
        (st = get_opt_id(g, "tokenizer.ggml.unknown_token_id", &tok->unk)) ||
        (st = get_opt_id(g, "tokenizer.ggml.padding_token_id", &tok->pad)) ||
        (st = get_opt_bool(g, "tokenizer.ggml.add_bos_token", &tok->add_bos)) ||
        (st = get_opt_bool(g, "tokenizer.ggml.add_eos_token", &tok->add_eos)) ||
        (st = get_opt_bool(g, "tokenizer.ggml.add_space_prefix", &add_space_prefix)))
        return st;

    /* The chat template is optional; when present it must be a string. */
    int64_t kc = gguf_find_key(g, "tokenizer.chat_template");
    if (kc >= 0) {
        const char *ct;
        size_t ctlen;
        if (!gguf_get_str(g, kc, &ct, &ctlen))
            return attrib_fail(ATTRIB_E_METADATA_TYPE, "tokenizer.chat_template: expected a string");
        if ((st = tok_set_chat_template(tok, ct, ctlen, "tokenizer.chat_template")))
            return st;
    }

    if (spm) {
        if (add_space_prefix && (st = add_op(tok, TOK_OP_PREPEND, " ", NULL)))
            return st;
        if ((st = add_op(tok, TOK_OP_REPLACE, " ", "\xE2\x96\x81")))
            return st;
        tok->byte_fallback = 1;
        tok->dec_meta_to_space = 1;
        tok->dec_strip_space = add_space_prefix;
    }

    /* Control, unknown and user-defined tokens are matched in the text
     * (control/unknown only with ATTRIB_TOK_PARSE_SPECIAL), as llama.cpp does. */
    size_t na = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        uint8_t t = tok->types[i];
        na += t == ATTRIB_TOKEN_CONTROL || t == ATTRIB_TOKEN_UNKNOWN || t == ATTRIB_TOKEN_USER_DEFINED;
    }
    tok->added = attrib_calloc_array(na ? na : 1, sizeof(tok_added));
    if (!tok->added)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        uint8_t t = tok->types[i];
        if (t == ATTRIB_TOKEN_CONTROL || t == ATTRIB_TOKEN_UNKNOWN || t == ATTRIB_TOKEN_USER_DEFINED) {
            tok_added *a = &tok->added[tok->n_added++];
            a->id = i;
            a->special = t != ATTRIB_TOKEN_USER_DEFINED;
        }
    }
    return tok_finish(tok);
}

attrib_status attrib_tokenizer_from_gguf(const gguf_ctx *g, attrib_tokenizer **out) {
    if (!g || !out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_tokenizer_from_gguf: NULL argument");
    tok_byte_level_init();
    attrib_tokenizer *tok = tok_alloc();
    if (!tok)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    attrib_status st = build(tok, g);
    if (st) {
        tok_free_internal(tok);
        return st;
    }
    *out = tok;
    return ATTRIB_OK;
}
