/*
 * tokenizer_json.c — builds a tokenizer from a Hugging Face tokenizer.json
 * (and optionally tokenizer_config.json).
 *
 * Supported: model BPE (with byte_fallback, fuse_unk, ignore_merges);
 * normalizers Sequence, Prepend, Replace (string patterns), NFC, NFKC, NFD,
 * NFKD, Lowercase; pre-tokenizers Sequence, ByteLevel, Split (Isolated or
 * Removed), Digits, Metaspace; decoders ByteLevel, Metaspace and the
 * Replace/ByteFallback/Fuse/Strip sequence of Llama-style files;
 * post-processors TemplateProcessing and ByteLevel. Anything else is refused
 * with ATTRIB_E_UNSUPPORTED naming the component, because tokenising with a
 * silently ignored component would attribute a different input.
 */
#include "basics/json.h"
#include "tokenizer/tokenizer_impl.h"

#include <jansson.h>
#include <string.h>

#define META "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */
#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static int jbool(const json_t *o, const char *key, int dflt) {
    const json_t *v = json_object_get(o, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    return dflt;
}

static const char *jstr(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static attrib_status add_op(attrib_tokenizer *tok, tok_op_kind k, const char *s, size_t n, const char *s2, size_t n2,
                            int first_only) {
    if (tok->n_ops >= TOK_MAX_OPS)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: more than %d normalisation steps", TOK_MAX_OPS);
    tok_op *op = &tok->ops[tok->n_ops];
    memset(op, 0, sizeof(*op));
    op->kind = k;
    op->first_only = first_only;
    if (s) {
        op->str = attrib_strndup(s, n);
        op->len = n;
        if (!op->str)
            return attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
    }
    if (s2) {
        op->str2 = attrib_strndup(s2, n2);
        op->len2 = n2;
        if (!op->str2) {
            attrib_free(op->str);
            op->str = NULL;
            return attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
        }
    }
    tok->n_ops++;
    return ATTRIB_OK;
}

static attrib_status add_regex_split(attrib_tokenizer *tok, const char *re, size_t n, tok_split_kind k) {
    if (tok->n_splits >= TOK_MAX_SPLITS)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: more than %d pre-tokenizer splits", TOK_MAX_SPLITS);
    tok_split *sp = &tok->splits[tok->n_splits];
    memset(sp, 0, sizeof(*sp));
    sp->kind = k;
    attrib_status st = tok_compile_regex(re, n, &sp->re);
    if (st)
        return st;
    tok->n_splits++;
    return ATTRIB_OK;
}

static attrib_status parse_normalizer(attrib_tokenizer *tok, const json_t *n) {
    if (!n || json_is_null(n))
        return ATTRIB_OK;
    const char *type = jstr(n, "type");
    if (!type)
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: normalizer without a type");
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(n, "normalizers");
        if (!json_is_array(arr))
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: Sequence normalizer without a normalizers array");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            attrib_status st = parse_normalizer(tok, json_array_get(arr, i));
            if (st)
                return st;
        }
        return ATTRIB_OK;
    }
    if (!strcmp(type, "Prepend")) {
        const json_t *p = json_object_get(n, "prepend");
        if (!json_is_string(p))
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: Prepend normalizer without a prepend string");
        return add_op(tok, TOK_OP_PREPEND, json_string_value(p), json_string_length(p), NULL, 0, 0);
    }
    if (!strcmp(type, "Replace")) {
        const json_t *pat = json_object_get(n, "pattern");
        const json_t *s = json_object_get(pat, "String");
        const json_t *c = json_object_get(n, "content");
        if (!json_is_string(s))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: Replace normalizer with a regex pattern is not supported");
        if (!json_is_string(c))
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: Replace normalizer without content");
        return add_op(tok, TOK_OP_REPLACE, json_string_value(s), json_string_length(s), json_string_value(c),
                      json_string_length(c), 0);
    }
    static const struct { const char *name; tok_op_kind k; } forms[] = {
        {"NFC", TOK_OP_NFC}, {"NFKC", TOK_OP_NFKC}, {"NFD", TOK_OP_NFD}, {"NFKD", TOK_OP_NFKD}, {"Lowercase", TOK_OP_LOWERCASE}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        if (!strcmp(type, forms[i].name))
            return add_op(tok, forms[i].k, NULL, 0, NULL, 0, 0);
    return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: normalizer type \"%s\" is not supported", type);
}

static attrib_status parse_pretok(attrib_tokenizer *tok, const json_t *p) {
    if (!p || json_is_null(p))
        return ATTRIB_OK;
    const char *type = jstr(p, "type");
    if (!type)
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: pre_tokenizer without a type");
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(p, "pretokenizers");
        if (!json_is_array(arr))
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: Sequence pre_tokenizer without a pretokenizers array");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            attrib_status st = parse_pretok(tok, json_array_get(arr, i));
            if (st)
                return st;
        }
        return ATTRIB_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        tok->byte_level = 1;
        if (jbool(p, "add_prefix_space", 0)) {
            /* Applied to the whole fragment, which equals HF's per-piece rule
             * only when no split precedes it. */
            if (tok->n_splits)
                return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: ByteLevel add_prefix_space after another split");
            attrib_status st = add_op(tok, TOK_OP_PREPEND_IF_NOT, " ", 1, NULL, 0, 0);
            if (st)
                return st;
        }
        if (jbool(p, "use_regex", 1))
            return add_regex_split(tok, GPT2_REGEX, strlen(GPT2_REGEX), TOK_SPLIT_REGEX_ISOLATED);
        return ATTRIB_OK;
    }
    if (!strcmp(type, "Digits")) {
        const char *re = jbool(p, "individual_digits", 0) ? "\\p{N}" : "\\p{N}+";
        return add_regex_split(tok, re, strlen(re), TOK_SPLIT_REGEX_ISOLATED);
    }
    if (!strcmp(type, "Split")) {
        const json_t *pat = json_object_get(p, "pattern");
        const char *beh = jstr(p, "behavior");
        tok_split_kind k;
        if (beh && !strcmp(beh, "Isolated"))
            k = TOK_SPLIT_REGEX_ISOLATED;
        else if (beh && !strcmp(beh, "Removed"))
            k = TOK_SPLIT_REGEX_REMOVED;
        else
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: Split behavior \"%s\" is not supported", beh ? beh : "?");
        if (jbool(p, "invert", 0))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: inverted Split is not supported");
        const json_t *re = json_object_get(pat, "Regex");
        if (json_is_string(re))
            return add_regex_split(tok, json_string_value(re), json_string_length(re), k);
        const json_t *s = json_object_get(pat, "String");
        if (!json_is_string(s))
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: Split without a pattern");
        /* A literal string: quote it for PCRE2. */
        size_t n = json_string_length(s), q;
        if (!attrib_add_ok(n, 5, &q))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenizer.json: Split pattern too long");
        if (memmem(json_string_value(s), n, "\\E", 2))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: Split string containing \\E");
        char *quoted = attrib_malloc(q);
        if (!quoted)
            return attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
        memcpy(quoted, "\\Q", 2);
        memcpy(quoted + 2, json_string_value(s), n);
        memcpy(quoted + 2 + n, "\\E", 3);
        attrib_status st = add_regex_split(tok, quoted, n + 4, k);
        attrib_free(quoted);
        return st;
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep = jstr(p, "replacement");
        if (!rep)
            rep = META;
        if (tok->n_splits)
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: Metaspace after another split");
        attrib_status st = add_op(tok, TOK_OP_REPLACE, " ", 1, rep, strlen(rep), 0);
        if (st)
            return st;
        const char *scheme = jstr(p, "prepend_scheme");
        int prepend = scheme ? strcmp(scheme, "never") != 0 : jbool(p, "add_prefix_space", 1);
        if (prepend) {
            st = add_op(tok, TOK_OP_PREPEND_IF_NOT, rep, strlen(rep), NULL, 0, scheme && !strcmp(scheme, "first"));
            if (st)
                return st;
        }
        if (jbool(p, "split", 1)) {
            if (tok->n_splits >= TOK_MAX_SPLITS)
                return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: too many pre-tokenizer splits");
            tok_split *sp = &tok->splits[tok->n_splits];
            memset(sp, 0, sizeof(*sp));
            sp->kind = TOK_SPLIT_BEFORE_STR;
            sp->str = attrib_strdup(rep);
            if (!sp->str)
                return attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
            sp->len = strlen(rep);
            tok->n_splits++;
        }
        return ATTRIB_OK;
    }
    return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: pre_tokenizer type \"%s\" is not supported", type);
}

static void parse_decoder(attrib_tokenizer *tok, const json_t *d) {
    if (!d || json_is_null(d))
        return;
    const char *type = jstr(d, "type");
    if (!type)
        return;
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(d, "decoders");
        for (size_t i = 0; i < json_array_size(arr); i++)
            parse_decoder(tok, json_array_get(arr, i));
    } else if (!strcmp(type, "Metaspace")) {
        tok->dec_meta_to_space = 1;
        const char *scheme = jstr(d, "prepend_scheme");
        tok->dec_strip_space = scheme ? strcmp(scheme, "never") != 0 : jbool(d, "add_prefix_space", 1);
    } else if (!strcmp(type, "Replace")) {
        const char *s = jstr(json_object_get(d, "pattern"), "String");
        const char *c = jstr(d, "content");
        if (s && c && !strcmp(s, META) && !strcmp(c, " "))
            tok->dec_meta_to_space = 1;
    } else if (!strcmp(type, "Strip")) {
        const json_t *start = json_object_get(d, "start");
        const char *c = jstr(d, "content");
        if (json_is_integer(start) && json_integer_value(start) >= 1 && c && !strcmp(c, " "))
            tok->dec_strip_space = 1;
    }
}

/* Special tokens added around the text, from a TemplateProcessing "single"
 * template: [SpecialToken] Sequence [SpecialToken]. */
static attrib_status parse_post(attrib_tokenizer *tok, const json_t *p, int32_t *tpl_bos, int32_t *tpl_eos) {
    *tpl_bos = *tpl_eos = -1;
    if (!p || json_is_null(p))
        return ATTRIB_OK;
    const char *type = jstr(p, "type");
    if (!type)
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: post_processor without a type");
    if (!strcmp(type, "ByteLevel"))
        return ATTRIB_OK;
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(p, "processors");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            int32_t b, e;
            attrib_status st = parse_post(tok, json_array_get(arr, i), &b, &e);
            if (st)
                return st;
            if (b >= 0)
                *tpl_bos = b;
            if (e >= 0)
                *tpl_eos = e;
        }
        return ATTRIB_OK;
    }
    if (strcmp(type, "TemplateProcessing") != 0)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: post_processor type \"%s\" is not supported", type);
    const json_t *single = json_object_get(p, "single");
    const json_t *specials = json_object_get(p, "special_tokens");
    size_t n = json_array_size(single);
    int seen_seq = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(single, i);
        const json_t *sp = json_object_get(item, "SpecialToken");
        if (json_object_get(item, "Sequence")) {
            seen_seq = 1;
            continue;
        }
        if (!sp)
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: TemplateProcessing item %zu is neither Sequence nor SpecialToken", i);
        const char *name = jstr(sp, "id");
        const json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
        if (json_array_size(ids) != 1 || !json_is_integer(json_array_get(ids, 0)))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: template special token \"%s\" must map to exactly one id",
                               name ? name : "?");
        json_int_t id = json_integer_value(json_array_get(ids, 0));
        if (id < 0 || id >= tok->n_vocab)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "tokenizer.json: template special token id %lld out of range", (long long)id);
        if (!seen_seq && *tpl_bos < 0)
            *tpl_bos = (int32_t)id;
        else if (seen_seq && *tpl_eos < 0)
            *tpl_eos = (int32_t)id;
        else
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: template with more than one special token per side");
    }
    return ATTRIB_OK;
}

/* Name of a special token in tokenizer_config.json: a string or {content}. */
static const char *config_token(const json_t *cfg, const char *key) {
    const json_t *v = json_object_get(cfg, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_object(v))
        return jstr(v, "content");
    return NULL;
}

static int is_byte_piece(const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    return n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && strchr(hex, s[3]) && strchr(hex, s[4]) && s[3] && s[4];
}

static attrib_status build(attrib_tokenizer *tok, const json_t *root, const json_t *cfg) {
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: no model object");
    const char *mtype = jstr(model, "type");
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges");
    if (mtype && strcmp(mtype, "BPE") != 0)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: model type \"%s\" is not supported (only BPE)", mtype);
    if (!json_is_object(vocab) || !json_is_array(merges))
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: BPE model needs a vocab object and a merges array");
    const json_t *cs = json_object_get(model, "continuing_subword_prefix");
    const json_t *ew = json_object_get(model, "end_of_word_suffix");
    if ((json_is_string(cs) && json_string_length(cs)) || (json_is_string(ew) && json_string_length(ew)))
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "tokenizer.json: continuing_subword_prefix/end_of_word_suffix are not supported");
    tok->kind = ATTRIB_TOKENIZER_BPE;
    tok->algo = TOK_ALGO_BPE;
    tok->byte_fallback = jbool(model, "byte_fallback", 0);
    tok->fuse_unk = jbool(model, "fuse_unk", 0);
    tok->ignore_merges = jbool(model, "ignore_merges", 0);

    /* Vocabulary size: one past the largest id of vocab and added_tokens. */
    const json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_array(added))
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: added_tokens is not an array");
    json_int_t maxid = -1;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= TOK_MAX_VOCAB)
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: vocab entry \"%.40s\" has an invalid id", key);
        if (json_integer_value(val) > maxid)
            maxid = json_integer_value(val);
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *id = json_object_get(a, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= TOK_MAX_VOCAB ||
            !json_is_string(json_object_get(a, "content")))
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: added_tokens[%zu] needs an id and a content", i);
        if (json_integer_value(id) > maxid)
            maxid = json_integer_value(id);
    }
    attrib_status st = tok_set_vocab_size(tok, (int64_t)maxid + 1);
    if (st)
        return st;
    const char **txt = attrib_calloc_array((size_t)tok->n_vocab, sizeof(char *));
    size_t *len = attrib_calloc_array((size_t)tok->n_vocab, sizeof(size_t));
    if (!txt || !len) {
        attrib_free(txt);
        attrib_free(len);
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
    }
    json_object_foreach((json_t *)vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!txt[id]) {
            txt[id] = key;
            len[id] = strlen(key);
        }
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        const json_t *c = json_object_get(a, "content");
        txt[id] = json_string_value(c);
        len[id] = json_string_length(c);
    }
    st = tok_set_pieces(tok, txt, len);
    attrib_free(txt);
    attrib_free(len);
    if (st)
        return st;
    if (tok->byte_fallback)
        for (int32_t i = 0; i < tok->n_vocab; i++)
            if (is_byte_piece(tok->blob + tok->off[i], tok->plen[i]))
                tok->types[i] = ATTRIB_TOKEN_BYTE;

    /* Added tokens: special ones are control tokens. */
    size_t na = json_array_size(added);
    tok->added = attrib_calloc_array(na ? na : 1, sizeof(tok_added));
    if (!tok->added)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
    for (size_t i = 0; i < na; i++) {
        const json_t *a = json_array_get(added, i);
        int32_t id = (int32_t)json_integer_value(json_object_get(a, "id"));
        if (tok->added_of_id[id] >= 0)
            continue;
        tok_added *t = &tok->added[tok->n_added];
        t->id = id;
        t->special = jbool(a, "special", 0);
        t->lstrip = jbool(a, "lstrip", 0);
        t->rstrip = jbool(a, "rstrip", 0);
        tok->added_of_id[id] = (int32_t)tok->n_added++;
        tok->types[id] = t->special ? ATTRIB_TOKEN_CONTROL : ATTRIB_TOKEN_USER_DEFINED;
    }
    st = tok_build_index(tok);
    if (st)
        return st;

    /* Merges, in rank order: "a b" strings or [a, b] pairs. */
    size_t nm = json_array_size(merges);
    if (nm > (size_t)INT32_MAX)
        return attrib_fail(ATTRIB_E_BAD_COUNT, "tokenizer.json: too many merges");
    st = tok_merges_reserve(tok, nm + 1);
    if (st)
        return st;
    for (size_t i = 0; i < nm; i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a, *b;
        size_t la, lb;
        if (json_is_string(m)) {
            a = json_string_value(m);
            const char *sp = strchr(a, ' ');
            if (!sp)
                return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: merge %zu has no space", i);
            la = (size_t)(sp - a);
            b = sp + 1;
            lb = json_string_length(m) - la - 1;
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            la = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            lb = json_string_length(json_array_get(m, 1));
        } else {
            return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer.json: merge %zu is neither \"a b\" nor [a, b]", i);
        }
        int32_t ia = tok_find(tok, a, la), ib = tok_find(tok, b, lb);
        if (ia < 0 || ib < 0)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "tokenizer.json: merge %zu uses a piece missing from the vocabulary", i);
        st = tok_add_merge(tok, ia, ib, (int32_t)i);
        if (st)
            return st;
    }

    const json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        tok->unk = tok_find(tok, json_string_value(unk), json_string_length(unk));
        if (tok->unk >= 0)
            tok->types[tok->unk] = ATTRIB_TOKEN_UNKNOWN;
    }

    if ((st = parse_normalizer(tok, json_object_get(root, "normalizer"))))
        return st;
    if ((st = parse_pretok(tok, json_object_get(root, "pre_tokenizer"))))
        return st;
    parse_decoder(tok, json_object_get(root, "decoder"));
    int32_t tb, te;
    if ((st = parse_post(tok, json_object_get(root, "post_processor"), &tb, &te)))
        return st;
    tok->add_bos = tb >= 0;
    tok->add_eos = te >= 0;
    tok->bos = tb;
    tok->eos = te;

    if (cfg) {
        static const char *keys[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
        int32_t *dst[4] = {&tok->bos, &tok->eos, &tok->unk, &tok->pad};
        for (int i = 0; i < 4; i++) {
            const char *name = config_token(cfg, keys[i]);
            if (!name)
                continue;
            int32_t id = tok_find(tok, name, strlen(name));
            if (id >= 0 && !(i == 0 && tb >= 0) && !(i == 1 && te >= 0))
                *dst[i] = id;
        }
    }
    return tok_finish(tok);
}

/* tokenizer_config.json "chat_template": a string, or a list of {name,
 * template} objects (transformers' named templates), of which the one named
 * "default" is the chat template, else the first. Absent or null = none. */
static attrib_status config_chat_template(attrib_tokenizer *tok, const json_t *cfg) {
    const json_t *ct = json_object_get(cfg, "chat_template");
    if (!ct || json_is_null(ct))
        return ATTRIB_OK;
    if (json_is_array(ct)) {
        const json_t *pick = NULL, *first = NULL;
        for (size_t i = 0; i < json_array_size(ct); i++) {
            const json_t *e = json_array_get(ct, i);
            const json_t *nm = json_object_get(e, "name"), *tx = json_object_get(e, "template");
            if (!json_is_object(e) || !json_is_string(nm) || !json_is_string(tx))
                return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer_config.json: chat_template[%zu] is not a {name, template} object", i);
            if (!first)
                first = tx;
            if (!pick && strcmp(json_string_value(nm), "default") == 0)
                pick = tx;
        }
        ct = pick ? pick : first;
        if (!ct)
            return ATTRIB_OK;
    }
    if (!json_is_string(ct))
        return attrib_fail(ATTRIB_E_BAD_JSON, "tokenizer_config.json: chat_template is neither a string nor a list of {name, template}");
    return tok_set_chat_template(tok, json_string_value(ct), json_string_length(ct), "tokenizer_config.json chat_template");
}

/* Status of a JSON text that did not load as an object: out of memory,
 * unparsable, or valid JSON of another kind. */
static attrib_status json_root_failure(const char *what, const json_t *root, const json_error_t *err) {
    if (root) return attrib_fail(ATTRIB_E_BAD_JSON, "%s: the top level is not a JSON object", what);
    if (json_error_code(err) == json_error_out_of_memory) return attrib_fail(ATTRIB_E_NOMEM, "%s: out of memory parsing it", what);
    return attrib_fail(ATTRIB_E_BAD_JSON, "%s: line %d: %s", what, err->line, err->text);
}

attrib_status tok_from_json_text(const char *json, size_t len, const char *config, size_t config_len,
                                 attrib_tokenizer **out) {
    json_error_t err;
    json_t *root = attrib_json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        attrib_status st = json_root_failure("tokenizer.json", root, &err);
        json_decref(root);
        return st;
    }
    json_t *cfg = NULL;
    if (config) {
        cfg = attrib_json_loadb(config, config_len, JSON_DECODE_INT_AS_REAL, &err);
        if (!cfg || !json_is_object(cfg)) {
            attrib_status st = json_root_failure("tokenizer_config.json", cfg, &err);
            json_decref(cfg);
            json_decref(root);
            return st;
        }
    }
    tok_byte_level_init();
    attrib_tokenizer *tok = tok_alloc();
    attrib_status st = tok ? build(tok, root, cfg) : attrib_fail(ATTRIB_E_NOMEM, "tokenizer.json: out of memory");
    if (!st && cfg)
        st = config_chat_template(tok, cfg);
    json_decref(root);
    json_decref(cfg);
    if (st) {
        if (tok)
            tok_free_internal(tok);
        return st;
    }
    *out = tok;
    return ATTRIB_OK;
}
