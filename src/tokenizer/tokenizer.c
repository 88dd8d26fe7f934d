/*
 * tokenizer.c — public tokenizer API: loading dispatch, vocabulary index,
 * the tokenize driver (added-token partition, BOS/EOS, spans) and
 * detokenisation.
 *
 * The driver splits the user's text into runs of plain text and added
 * tokens (special ones only when the caller passes
 * ATTRIB_TOK_PARSE_SPECIAL, as llama.cpp's parse_special), then sends each
 * plain run through normalisation, pre-tokenisation and the model
 * (tokenizer_text.c, tokenizer_model.c). Every token leaves with the byte
 * range of the original text it covers.
 *
 * tok_encode_protected is the same driver with one byte range of the text
 * in which special-token text is not recognised: prompt templates use it so
 * that user input placed into a template cannot inject control tokens,
 * while the template's own control tokens still are.
 */
#include "tokenizer/tokenizer_impl.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

/* ---------------------------------------------------------------- vocab */

static uint64_t tok_hash(const char *s, size_t len) {
    /* FNV-1a: pieces are short, so a simple byte hash is enough. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

attrib_tokenizer *tok_alloc(void) {
    attrib_tokenizer *tok = attrib_calloc_array(1, sizeof(*tok));
    if (!tok)
        return NULL;
    tok->bos = tok->eos = tok->unk = tok->pad = -1;
    for (int i = 0; i < 256; i++)
        tok->byte_tok[i] = tok->bl_tok[i] = -1;
    return tok;
}

attrib_status tok_set_vocab_size(attrib_tokenizer *tok, int64_t n) {
    if (n <= 0 || n > TOK_MAX_VOCAB)
        return attrib_fail(ATTRIB_E_BAD_COUNT, "tokenizer: vocabulary size %lld out of range [1, %d]",
                           (long long)n, TOK_MAX_VOCAB);
    tok->n_vocab = (int32_t)n;
    tok->off = attrib_calloc_array((size_t)n, sizeof(*tok->off));
    tok->plen = attrib_calloc_array((size_t)n, sizeof(*tok->plen));
    tok->types = attrib_calloc_array((size_t)n, sizeof(*tok->types));
    tok->added_of_id = attrib_calloc_array((size_t)n, sizeof(*tok->added_of_id));
    if (!tok->off || !tok->plen || !tok->types || !tok->added_of_id)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory for %lld tokens", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        tok->types[i] = ATTRIB_TOKEN_NORMAL;
        tok->added_of_id[i] = -1;
    }
    return ATTRIB_OK;
}

/* TXT[i] may be NULL for an id the source never defined (a hole in a JSON
 * vocabulary); such an id gets the empty piece and type UNUSED. */
attrib_status tok_set_pieces(attrib_tokenizer *tok, const char *const *txt, const size_t *len) {
    size_t total = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        size_t l = txt[i] ? len[i] : 0;
        if (l > TOK_MAX_PIECE)
            return attrib_fail(ATTRIB_E_BAD_STRING, "tokenizer: token %d is %zu bytes long (limit %u)",
                               (int)i, l, TOK_MAX_PIECE);
        if (!attrib_add_ok(total, l + 1, &total))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenizer: vocabulary text too large");
    }
    tok->blob = attrib_malloc(total ? total : 1);
    if (!tok->blob)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory for vocabulary text");
    size_t o = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        size_t l = txt[i] ? len[i] : 0;
        tok->off[i] = o;
        tok->plen[i] = (uint32_t)l;
        if (l)
            memcpy(tok->blob + o, txt[i], l);
        tok->blob[o + l] = 0;
        o += l + 1;
        if (!txt[i])
            tok->types[i] = ATTRIB_TOKEN_UNUSED;
    }
    tok->blob_len = total;
    return ATTRIB_OK;
}

const char *tok_piece(const attrib_tokenizer *tok, int32_t id, size_t *len) {
    *len = tok->plen[id];
    return tok->blob + tok->off[id];
}

attrib_status tok_build_index(attrib_tokenizer *tok) {
    size_t cap = 16;
    while (cap < (size_t)tok->n_vocab * 2)
        cap *= 2;
    tok->htab = attrib_calloc_array(cap, sizeof(*tok->htab));
    if (!tok->htab)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory for the vocabulary index");
    memset(tok->htab, 0xff, cap * sizeof(*tok->htab));
    tok->hmask = cap - 1;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        if (tok->types[i] == ATTRIB_TOKEN_UNUSED && tok->plen[i] == 0)
            continue;
        size_t len;
        const char *p = tok_piece(tok, i, &len);
        size_t h = (size_t)tok_hash(p, len) & tok->hmask;
        for (;;) {
            int32_t j = tok->htab[h];
            if (j < 0) {
                tok->htab[h] = i;
                break;
            }
            if (tok->plen[j] == len && memcmp(tok->blob + tok->off[j], p, len) == 0) {
                /* A repeated piece maps to the later id, as llama.cpp's
                 * token_to_id map does when it is filled in order. */
                tok->htab[h] = i;
                break;
            }
            h = (h + 1) & tok->hmask;
        }
    }
    return ATTRIB_OK;
}

int32_t tok_find(const attrib_tokenizer *tok, const char *s, size_t len) {
    size_t h = (size_t)tok_hash(s, len) & tok->hmask;
    for (;;) {
        int32_t j = tok->htab[h];
        if (j < 0)
            return -1;
        if (tok->plen[j] == len && memcmp(tok->blob + tok->off[j], s, len) == 0)
            return j;
        h = (h + 1) & tok->hmask;
    }
}

static size_t merge_hash(int32_t a, int32_t b) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

attrib_status tok_merges_reserve(attrib_tokenizer *tok, size_t n) {
    size_t cap = 16;
    while (cap < n * 2) {
        if (cap > ((size_t)1 << 40))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenizer: too many merges");
        cap *= 2;
    }
    tok->mtab = attrib_calloc_array(cap, sizeof(*tok->mtab));
    if (!tok->mtab)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory for %zu merges", n);
    for (size_t i = 0; i < cap; i++)
        tok->mtab[i].a = -1;
    tok->mmask = cap - 1;
    return ATTRIB_OK;
}

/* Adds merge (A, B) with RANK; the merged piece must be in the vocabulary.
 * A pair seen before keeps its first (better) rank, as in HF tokenizers. */
attrib_status tok_add_merge(attrib_tokenizer *tok, int32_t a, int32_t b, int32_t rank) {
    size_t la, lb;
    const char *pa = tok_piece(tok, a, &la);
    const char *pb = tok_piece(tok, b, &lb);
    char stackbuf[512];
    char *cat = stackbuf;
    if (la + lb > sizeof(stackbuf)) {
        cat = attrib_malloc(la + lb);
        if (!cat)
            return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    }
    memcpy(cat, pa, la);
    memcpy(cat + la, pb, lb);
    int32_t r = tok_find(tok, cat, la + lb);
    if (cat != stackbuf)
        attrib_free(cat);
    if (r < 0)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "tokenizer: merge %d (\"%.*s\" + \"%.*s\") makes a piece that is not in the vocabulary",
                           (int)rank, (int)(la > 64 ? 64 : la), pa, (int)(lb > 64 ? 64 : lb), pb);
    if (tok->n_merges * 2 >= tok->mmask)
        return attrib_fail(ATTRIB_E_INTERNAL, "tokenizer: merge table full");
    size_t h = merge_hash(a, b) & tok->mmask;
    for (;;) {
        tok_merge_slot *s = &tok->mtab[h];
        if (s->a < 0) {
            s->a = a;
            s->b = b;
            s->rank = rank;
            s->result = r;
            tok->n_merges++;
            return ATTRIB_OK;
        }
        if (s->a == a && s->b == b)
            return ATTRIB_OK;
        h = (h + 1) & tok->mmask;
    }
}

int32_t tok_merge_lookup(const attrib_tokenizer *tok, int32_t a, int32_t b, int32_t *result) {
    if (!tok->mtab)
        return -1;
    size_t h = merge_hash(a, b) & tok->mmask;
    for (;;) {
        const tok_merge_slot *s = &tok->mtab[h];
        if (s->a < 0)
            return -1;
        if (s->a == a && s->b == b) {
            *result = s->result;
            return s->rank;
        }
        h = (h + 1) & tok->mmask;
    }
}

/* Derived tables: byte tokens, byte-level alphabet ids, added-token match
 * order. Called by both loaders once the vocabulary is complete. */
attrib_status tok_finish(attrib_tokenizer *tok) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof(name), "<0x%02X>", b);
        tok->byte_tok[b] = tok_find(tok, name, 6);
        char c[2];
        size_t n = tok_byte_level_char((unsigned)b, c);
        tok->bl_tok[b] = tok_find(tok, c, n);
    }
    size_t cnt[257] = {0};
    for (size_t i = 0; i < tok->n_added; i++) {
        int32_t id = tok->added[i].id;
        tok->added_of_id[id] = (int32_t)i;
        if (tok->plen[id] > 0)
            cnt[(unsigned char)tok->blob[tok->off[id]]]++;
    }
    tok->match_idx = attrib_calloc_array(tok->n_added ? tok->n_added : 1, sizeof(size_t));
    if (!tok->match_idx)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory");
    size_t acc = 0;
    for (int c = 0; c < 256; c++) {
        tok->match_start[c] = acc;
        acc += cnt[c];
    }
    tok->match_start[256] = acc;
    size_t fill[256];
    for (int c = 0; c < 256; c++)
        fill[c] = tok->match_start[c];
    for (size_t i = 0; i < tok->n_added; i++) {
        int32_t id = tok->added[i].id;
        if (tok->plen[id] > 0)
            tok->match_idx[fill[(unsigned char)tok->blob[tok->off[id]]]++] = i;
    }
    for (int i = 0; i < 4; i++) {
        int32_t v = i == 0 ? tok->bos : i == 1 ? tok->eos : i == 2 ? tok->unk : tok->pad;
        if (v >= tok->n_vocab)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "tokenizer: %s id %d outside the vocabulary (%d tokens)",
                               i == 0 ? "BOS" : i == 1 ? "EOS" : i == 2 ? "UNK" : "PAD", (int)v, (int)tok->n_vocab);
    }
    if (tok->add_bos && tok->bos < 0)
        tok->add_bos = 0;
    if (tok->add_eos && tok->eos < 0)
        tok->add_eos = 0;
    return ATTRIB_OK;
}

void tok_free_internal(attrib_tokenizer *tok) {
    attrib_free(tok->blob);
    attrib_free(tok->off);
    attrib_free(tok->plen);
    attrib_free(tok->scores);
    attrib_free(tok->types);
    attrib_free(tok->htab);
    attrib_free(tok->mtab);
    attrib_free(tok->added);
    attrib_free(tok->added_of_id);
    attrib_free(tok->match_idx);
    attrib_free(tok->chat_template);
    for (int i = 0; i < tok->n_ops; i++) {
        attrib_free(tok->ops[i].str);
        attrib_free(tok->ops[i].str2);
    }
    for (int i = 0; i < tok->n_splits; i++) {
        pcre2_code_free(tok->splits[i].re);
        attrib_free(tok->splits[i].str);
    }
    attrib_free(tok);
}

void attrib_tokenizer_free(attrib_tokenizer *tok) {
    if (tok)
        tok_free_internal(tok);
}

/* ------------------------------------------------------------- getters */

attrib_tokenizer_kind attrib_tokenizer_get_kind(const attrib_tokenizer *tok) { return tok ? tok->kind : ATTRIB_TOKENIZER_SPM; }
int attrib_tokenizer_n_vocab(const attrib_tokenizer *tok) { return tok ? tok->n_vocab : 0; }
int attrib_tokenizer_bos(const attrib_tokenizer *tok) { return tok ? tok->bos : -1; }
int attrib_tokenizer_eos(const attrib_tokenizer *tok) { return tok ? tok->eos : -1; }
int attrib_tokenizer_unk(const attrib_tokenizer *tok) { return tok ? tok->unk : -1; }
int attrib_tokenizer_pad(const attrib_tokenizer *tok) { return tok ? tok->pad : -1; }
const char *attrib_tokenizer_chat_template(const attrib_tokenizer *tok) { return tok ? tok->chat_template : NULL; }

/* Keeps a copy of a chat template read from WHAT (a key or file name for
 * messages). The text is untrusted: bounded, and a NUL byte inside it (which
 * C strings cannot carry) is refused rather than silently cut. */
attrib_status tok_set_chat_template(attrib_tokenizer *tok, const char *text, size_t len, const char *what) {
    if (len > TOK_MAX_CHAT_TEMPLATE)
        return attrib_fail(ATTRIB_E_LIMIT, "%s: the chat template is %zu bytes (limit %u)", what, len, TOK_MAX_CHAT_TEMPLATE);
    if (memchr(text, 0, len))
        return attrib_fail(ATTRIB_E_BAD_STRING, "%s: the chat template contains a NUL byte", what);
    char *c = attrib_malloc(len + 1);
    if (!c)
        return attrib_fail(ATTRIB_E_NOMEM, "%s: out of memory for the chat template", what);
    memcpy(c, text, len);
    c[len] = 0;
    attrib_free(tok->chat_template);
    tok->chat_template = c;
    return ATTRIB_OK;
}

const char *attrib_tokenizer_piece(const attrib_tokenizer *tok, int32_t id, size_t *len) {
    if (!tok || id < 0 || id >= tok->n_vocab) {
        if (len)
            *len = 0;
        return NULL;
    }
    size_t l;
    const char *p = tok_piece(tok, id, &l);
    if (len)
        *len = l;
    return p;
}

attrib_token_type attrib_tokenizer_token_type(const attrib_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->n_vocab)
        return ATTRIB_TOKEN_UNUSED;
    return (attrib_token_type)tok->types[id];
}

/* -------------------------------------------------------------- loading */

attrib_status attrib_tokenizer_from_json_file(const char *tokenizer_json, const char *tokenizer_config,
                                              attrib_tokenizer **out) {
    if (!tokenizer_json || !out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_tokenizer_from_json_file: NULL argument");
    char *js = NULL, *cfg = NULL;
    size_t js_len = 0, cfg_len = 0;
    attrib_status st = attrib_read_small_file(tokenizer_json, (size_t)1 << 30, &js, &js_len);
    if (st)
        return attrib_fail_context(st, "%s", tokenizer_json);
    if (tokenizer_config) {
        st = attrib_read_small_file(tokenizer_config, (size_t)64 << 20, &cfg, &cfg_len);
        if (st) {
            attrib_free(js);
            return attrib_fail_context(st, "%s", tokenizer_config);
        }
    }
    st = tok_from_json_text(js, js_len, cfg, cfg_len, out);
    attrib_free(js);
    attrib_free(cfg);
    if (st)
        return attrib_fail_context(st, "%s", tokenizer_json);
    return ATTRIB_OK;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name), n;
    if (!attrib_add_ok(a, b + 2, &n))
        return NULL;
    char *p = attrib_malloc(n);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

attrib_status attrib_tokenizer_load(const char *path, attrib_tokenizer **tok_out) {
    if (!path || !tok_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_tokenizer_load: NULL argument");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return attrib_fail(ATTRIB_E_IO, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) {
        char *js = path_join(path, "tokenizer.json");
        char *cfg = path_join(path, "tokenizer_config.json");
        if (!js || !cfg) {
            attrib_free(js);
            attrib_free(cfg);
            return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        }
        attrib_status st;
        if (!file_exists(js))
            st = attrib_fail(ATTRIB_E_MISSING, "%s: directory holds no tokenizer.json", path);
        else
            st = attrib_tokenizer_from_json_file(js, file_exists(cfg) ? cfg : NULL, tok_out);
        attrib_free(js);
        attrib_free(cfg);
        return st;
    }
    /* A file: GGUF by magic, otherwise JSON. */
    FILE *f = fopen(path, "rb");
    if (!f)
        return attrib_fail(ATTRIB_E_IO, "%s: cannot open", path);
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        gguf_ctx *g = NULL;
        attrib_status st = gguf_init_from_file(path, &g);
        if (st)
            return st;
        st = attrib_tokenizer_from_gguf(g, tok_out);
        gguf_free(g);
        if (st)
            return attrib_fail_context(st, "%s", path);
        return ATTRIB_OK;
    }
    if (ends_with(path, ".gguf"))
        return attrib_fail(ATTRIB_E_BAD_MAGIC, "%s: not a GGUF file", path);
    /* tokenizer_config.json next to a tokenizer.json is used when present. */
    const char *slash = strrchr(path, '/');
    char *cfg = NULL;
    if (slash) {
        size_t dl = (size_t)(slash - path);
        char *dir = attrib_strndup(path, dl);
        if (dir) {
            cfg = path_join(dir, "tokenizer_config.json");
            attrib_free(dir);
        }
    } else {
        cfg = attrib_strdup("tokenizer_config.json");
    }
    attrib_status st = attrib_tokenizer_from_json_file(path, cfg && file_exists(cfg) ? cfg : NULL, tok_out);
    attrib_free(cfg);
    return st;
}

/* ------------------------------------------------------------ tokenize */

attrib_status tok_out_push(tok_outbuf *o, int32_t id, uint32_t begin, uint32_t end) {
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        size_t bytes;
        if (!attrib_mul_ok(nc, sizeof(attrib_token), &bytes))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenize: too many tokens");
        attrib_token *t = attrib_realloc(o->t, bytes);
        if (!t)
            return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory for %zu tokens", nc);
        o->t = t;
        o->cap = nc;
    }
    o->t[o->n].id = id;
    o->t[o->n].begin = begin;
    o->t[o->n].end = end;
    o->n++;
    return ATTRIB_OK;
}

/* Length of the UTF-8 character at S (1 for a byte that does not start a
 * valid, complete sequence: invalid bytes are characters of their own). */
size_t tok_utf8_len(const unsigned char *s, size_t n) {
    if (n == 0)
        return 0;
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate(s, (utf8proc_ssize_t)(n > 4 ? 4 : n), &cp);
    return r > 0 ? (size_t)r : 1;
}

/* Whitespace for the lstrip/rstrip of added tokens. */
static size_t ws_len(const unsigned char *s, size_t n) {
    if (n == 0)
        return 0;
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return 1;
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate(s, (utf8proc_ssize_t)(n > 4 ? 4 : n), &cp);
    if (r <= 1)
        return 0;
    utf8proc_category_t c = utf8proc_category(cp);
    if (c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP || cp == 0x85)
        return (size_t)r;
    return 0;
}

/* Longest added token allowed by FLAGS starting at text[i]; -1 if none.
 * A special token whose text would overlap the protected range
 * [PROTECT_BEGIN, PROTECT_END) is not allowed (an empty range protects
 * nothing). */
static int64_t match_added(const attrib_tokenizer *tok, const char *text, size_t len, size_t i,
                           int parse_special, size_t protect_begin, size_t protect_end, size_t *mlen) {
    unsigned c = (unsigned char)text[i];
    int64_t best = -1;
    size_t bestlen = 0;
    for (size_t k = tok->match_start[c]; k < tok->match_start[c + 1]; k++) {
        const tok_added *a = &tok->added[tok->match_idx[k]];
        if (a->special && !parse_special)
            continue;
        size_t l = tok->plen[a->id];
        if (l <= bestlen || l > len - i)
            continue;
        if (a->special && protect_begin < protect_end && i < protect_end && i + l > protect_begin)
            continue;
        if (memcmp(text + i, tok->blob + tok->off[a->id], l) == 0) {
            best = (int64_t)tok->match_idx[k];
            bestlen = l;
        }
    }
    *mlen = bestlen;
    return best;
}

typedef struct tok_work {
    tok_buf nb, tmp;
    tok_range *ranges;
    size_t n_ranges, cap_ranges;
    tok_scratch *scratch;
} tok_work;

static attrib_status encode_fragment(const attrib_tokenizer *tok, const char *text, size_t off, size_t len,
                                     int first, tok_work *w, tok_outbuf *out) {
    if (len == 0)
        return ATTRIB_OK;
    attrib_status st = tok_normalize(tok, text, off, len, first, &w->nb, &w->tmp);
    if (st)
        return st;
    if (w->nb.len == 0)
        return ATTRIB_OK;
    st = tok_pretokenize(tok, &w->nb, &w->ranges, &w->n_ranges, &w->cap_ranges);
    if (st)
        return st;
    for (size_t i = 0; i < w->n_ranges; i++) {
        st = tok_model_encode(tok, &w->nb, w->ranges[i], w->scratch, out);
        if (st)
            return st;
    }
    return ATTRIB_OK;
}

attrib_status attrib_tokenize(const attrib_tokenizer *tok, const char *text, size_t len,
                              unsigned flags, attrib_token **tokens_out, size_t *n_out) {
    return tok_encode_protected(tok, text, len, flags, 0, 0, tokens_out, n_out);
}

attrib_status tok_encode_protected(const attrib_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                   size_t protect_begin, size_t protect_end, attrib_token **tokens_out,
                                   size_t *n_out) {
    if (!tok || (!text && len) || !tokens_out || !n_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_tokenize: NULL argument");
    if (protect_begin > protect_end || protect_end > len)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_tokenize: protected range [%zu, %zu) outside the %zu-byte text",
                           protect_begin, protect_end, len);
    if (flags & ~(ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_tokenize: unknown flags 0x%x", flags);
    if (len > TOK_MAX_TEXT)
        return attrib_fail(ATTRIB_E_LIMIT, "attrib_tokenize: text of %zu bytes exceeds the limit of %u bytes",
                           len, TOK_MAX_TEXT);
    if (!text)
        text = "";
    const int parse_special = (flags & ATTRIB_TOK_PARSE_SPECIAL) != 0;
    tok_outbuf out = {0};
    tok_work w = {0};
    attrib_status st = ATTRIB_OK;
    w.scratch = tok_scratch_new();
    if (!w.scratch) {
        st = attrib_fail(ATTRIB_E_NOMEM, "attrib_tokenize: out of memory");
        goto done;
    }
    if ((flags & ATTRIB_TOK_ADD_SPECIAL) && tok->add_bos) {
        st = tok_out_push(&out, tok->bos, 0, 0);
        if (st)
            goto done;
    }
    size_t frag = 0, i = 0;
    while (i < len) {
        size_t mlen = 0;
        int64_t k = tok->n_added
                        ? match_added(tok, text, len, i, parse_special, protect_begin, protect_end, &mlen)
                        : -1;
        if (k < 0) {
            i++;
            continue;
        }
        const tok_added *a = &tok->added[k];
        size_t tb = i, te = i + mlen;
        size_t frag_end = i;
        /* Stripped whitespace never comes out of the protected range: it
         * stays text there (the match itself lies wholly before or after). */
        const int protecting = protect_begin < protect_end;
        const size_t strip_lo = (protecting && protect_end > frag && protect_end <= i) ? protect_end : frag;
        const size_t strip_hi = (protecting && protect_begin >= te) ? protect_begin : len;
        if (a->lstrip) {
            /* Trailing whitespace of the text before goes to the token. */
            while (frag_end > strip_lo) {
                size_t p = frag_end - 1;
                while (p > strip_lo && ((unsigned char)text[p] & 0xC0) == 0x80)
                    p--;
                if (ws_len((const unsigned char *)text + p, frag_end - p) != frag_end - p)
                    break;
                frag_end = p;
            }
            tb = frag_end;
        }
        st = encode_fragment(tok, text, frag, frag_end - frag, frag == 0, &w, &out);
        if (st)
            goto done;
        if (a->rstrip) {
            size_t l;
            while (te < strip_hi && (l = ws_len((const unsigned char *)text + te, strip_hi - te)) > 0)
                te += l;
        }
        st = tok_out_push(&out, a->id, (uint32_t)tb, (uint32_t)te);
        if (st)
            goto done;
        i = frag = te;
    }
    st = encode_fragment(tok, text, frag, len - frag, frag == 0, &w, &out);
    if (st)
        goto done;
    if ((flags & ATTRIB_TOK_ADD_SPECIAL) && tok->add_eos) {
        st = tok_out_push(&out, tok->eos, (uint32_t)len, (uint32_t)len);
        if (st)
            goto done;
    }
done:
    tok_buf_free(&w.nb);
    tok_buf_free(&w.tmp);
    attrib_free(w.ranges);
    tok_scratch_free(w.scratch);
    if (st) {
        attrib_free(out.t);
        return st;
    }
    if (!out.t) {
        out.t = attrib_malloc(sizeof(attrib_token));
        if (!out.t)
            return attrib_fail(ATTRIB_E_NOMEM, "attrib_tokenize: out of memory");
    }
    *tokens_out = out.t;
    *n_out = out.n;
    return ATTRIB_OK;
}

/* ---------------------------------------------------------- detokenize */

typedef struct dec_buf {
    char *p;
    size_t n, cap;
    int strip_pending;
} dec_buf;

static attrib_status dec_put(dec_buf *d, const char *s, size_t n) {
    if (n && d->strip_pending) {
        d->strip_pending = 0;
        if (s[0] == ' ') {
            s++;
            n--;
        }
    }
    size_t need;
    if (!attrib_add_ok(d->n, n + 1, &need))
        return attrib_fail(ATTRIB_E_LIMIT, "detokenize: output too large");
    if (need > d->cap) {
        size_t nc = d->cap ? d->cap : 256;
        while (nc < need) {
            if (!attrib_mul_ok(nc, 2, &nc))
                return attrib_fail(ATTRIB_E_LIMIT, "detokenize: output too large");
        }
        char *np = attrib_realloc(d->p, nc);
        if (!np)
            return attrib_fail(ATTRIB_E_NOMEM, "detokenize: out of memory");
        d->p = np;
        d->cap = nc;
    }
    memcpy(d->p + d->n, s, n);
    d->n += n;
    return ATTRIB_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Appends the text of a NORMAL piece: byte-level pieces map back to bytes,
 * SentencePiece pieces turn ▁ into spaces. */
static attrib_status dec_normal(const attrib_tokenizer *tok, dec_buf *d, const char *p, size_t n) {
    char tmp[256];
    size_t t = 0;
    size_t i = 0;
    while (i < n) {
        if (t + 4 > sizeof(tmp)) {
            attrib_status st = dec_put(d, tmp, t);
            if (st)
                return st;
            t = 0;
        }
        size_t l = tok_utf8_len((const unsigned char *)p + i, n - i);
        if (tok->byte_level && l <= 2) {
            utf8proc_int32_t cp = 0;
            int b = -1;
            if (utf8proc_iterate((const unsigned char *)p + i, (utf8proc_ssize_t)l, &cp) > 0)
                b = tok_byte_level_byte((uint32_t)cp);
            if (b >= 0) {
                tmp[t++] = (char)b;
                i += l;
                continue;
            }
        }
        if (tok->dec_meta_to_space && l == 3 && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
            tmp[t++] = ' ';
            i += 3;
            continue;
        }
        memcpy(tmp + t, p + i, l);
        t += l;
        i += l;
    }
    return dec_put(d, tmp, t);
}

attrib_status attrib_detokenize(const attrib_tokenizer *tok, const int32_t *ids, size_t n,
                                int keep_special, char **text_out, size_t *len_out) {
    if (!tok || (!ids && n) || !text_out || !len_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_detokenize: NULL argument");
    dec_buf d = {0};
    d.strip_pending = tok->dec_strip_space;
    attrib_status st = ATTRIB_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->n_vocab) {
            st = attrib_fail(ATTRIB_E_BAD_VALUE, "attrib_detokenize: id %d at position %zu is outside [0, %d)",
                             (int)id, i, (int)tok->n_vocab);
            break;
        }
        size_t l;
        const char *p = tok_piece(tok, id, &l);
        switch (tok->types[id]) {
        case ATTRIB_TOKEN_CONTROL:
        case ATTRIB_TOKEN_UNKNOWN:
            if (keep_special)
                st = dec_put(&d, p, l);
            break;
        case ATTRIB_TOKEN_USER_DEFINED:
            st = dec_put(&d, p, l);
            break;
        case ATTRIB_TOKEN_BYTE:
            if (l == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && hexval(p[3]) >= 0 && hexval(p[4]) >= 0) {
                char b = (char)(hexval(p[3]) * 16 + hexval(p[4]));
                st = dec_put(&d, &b, 1);
            } else {
                st = dec_normal(tok, &d, p, l);
            }
            break;
        default:
            st = dec_normal(tok, &d, p, l);
            break;
        }
    }
    if (!st && !d.p) {
        d.p = attrib_malloc(1);
        if (!d.p)
            st = attrib_fail(ATTRIB_E_NOMEM, "detokenize: out of memory");
    }
    if (st) {
        attrib_free(d.p);
        return st;
    }
    d.p[d.n] = 0;
    *text_out = d.p;
    *len_out = d.n;
    return ATTRIB_OK;
}
