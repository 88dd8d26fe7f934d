/*
 * tokenizer_text.c — the text side of tokenisation: normalisation ops
 * (prepend/replace ▁, Unicode NFC/NFKC/NFD/NFKD via utf8proc, lowercase)
 * and pre-tokenizer splits (PCRE2 regexes with Unicode properties,
 * Metaspace word starts), plus the GPT-2 byte-to-unicode alphabet.
 *
 * Every op rewrites a span-carrying buffer (tok_buf): each output byte
 * inherits the original byte range of the input it was made from, so spans
 * survive normalisation. Inserted text (a prepended ▁) gets an empty range at
 * its insertion point. Invalid UTF-8 is never rejected here: an invalid byte
 * is carried through as a character of its own (utf8proc is never given it,
 * and PCRE2 runs with PCRE2_MATCH_INVALID_UTF, so such a byte never matches
 * and ends up as a pre-token of its own).
 */
#include "tokenizer/tokenizer_impl.h"

#include <string.h>
#include <utf8proc.h>

/* ----------------------------------------------------- byte-level alphabet */

/* GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for
 * themselves, the other 68 bytes are moved to U+0100 upwards in byte order. */
static uint16_t bl_cp[256];
static int16_t bl_inv[512];

void tok_byte_level_init(void) {
    if (bl_cp['!'] == '!')
        return; /* Idempotent and data-race free in practice: same values every time. */
    uint16_t n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        bl_cp[b] = keep ? (uint16_t)b : (uint16_t)(256 + n++);
    }
    for (int i = 0; i < 512; i++)
        bl_inv[i] = -1;
    for (int b = 0; b < 256; b++)
        bl_inv[bl_cp[b]] = (int16_t)b;
}

size_t tok_byte_level_char(unsigned b, char out[2]) {
    tok_byte_level_init();
    uint16_t cp = bl_cp[b & 0xFF];
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

int tok_byte_level_byte(uint32_t cp) {
    tok_byte_level_init();
    return cp < 512 ? bl_inv[cp] : -1;
}

/* ------------------------------------------------------------- tok_buf */

attrib_status tok_buf_reserve(tok_buf *b, size_t cap) {
    if (cap <= b->cap)
        return ATTRIB_OK;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < cap) {
        if (!attrib_mul_ok(nc, 2, &nc))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenize: working buffer too large");
    }
    size_t sbytes;
    if (!attrib_mul_ok(nc, sizeof(uint32_t), &sbytes))
        return attrib_fail(ATTRIB_E_LIMIT, "tokenize: working buffer too large");
    char *nbuf = attrib_realloc(b->buf, nc);
    if (!nbuf)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory");
    b->buf = nbuf;
    uint32_t *nsb = attrib_realloc(b->sb, sbytes);
    if (!nsb)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory");
    b->sb = nsb;
    uint32_t *nse = attrib_realloc(b->se, sbytes);
    if (!nse)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory");
    b->se = nse;
    b->cap = nc;
    return ATTRIB_OK;
}

void tok_buf_free(tok_buf *b) {
    attrib_free(b->buf);
    attrib_free(b->sb);
    attrib_free(b->se);
    memset(b, 0, sizeof(*b));
}

static attrib_status buf_append(tok_buf *b, const char *s, size_t n, uint32_t sb, uint32_t se) {
    size_t need;
    if (n == 0)
        return ATTRIB_OK; /* b->buf may still be NULL: no pointer arithmetic on it */
    if (!attrib_add_ok(b->len, n, &need))
        return attrib_fail(ATTRIB_E_LIMIT, "tokenize: working buffer too large");
    attrib_status st = tok_buf_reserve(b, need);
    if (st)
        return st;
    memcpy(b->buf + b->len, s, n);
    for (size_t i = 0; i < n; i++) {
        b->sb[b->len + i] = sb;
        b->se[b->len + i] = se;
    }
    b->len += n;
    return ATTRIB_OK;
}

/* Copies bytes [a, b) of SRC with their own spans. */
static attrib_status buf_copy(tok_buf *dst, const tok_buf *src, size_t a, size_t b) {
    size_t n = b - a, need;
    if (n == 0)
        return ATTRIB_OK; /* dst->buf may still be NULL: no pointer arithmetic on it */
    if (!attrib_add_ok(dst->len, n, &need))
        return attrib_fail(ATTRIB_E_LIMIT, "tokenize: working buffer too large");
    attrib_status st = tok_buf_reserve(dst, need);
    if (st)
        return st;
    memcpy(dst->buf + dst->len, src->buf + a, n);
    memcpy(dst->sb + dst->len, src->sb + a, n * sizeof(uint32_t));
    memcpy(dst->se + dst->len, src->se + a, n * sizeof(uint32_t));
    dst->len += n;
    return ATTRIB_OK;
}

static void span_of(const tok_buf *b, size_t a, size_t e, uint32_t *sb, uint32_t *se) {
    uint32_t lo = b->sb[a], hi = b->se[a];
    for (size_t i = a + 1; i < e; i++) {
        if (b->sb[i] < lo)
            lo = b->sb[i];
        if (b->se[i] > hi)
            hi = b->se[i];
    }
    *sb = lo;
    *se = hi;
}

static void swap_buf(tok_buf *a, tok_buf *b) {
    tok_buf t = *a;
    *a = *b;
    *b = t;
}

/* ------------------------------------------------------ Unicode forms */

static utf8proc_option_t form_options(tok_op_kind k) {
    switch (k) {
    case TOK_OP_NFC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    case TOK_OP_NFKC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    case TOK_OP_NFD: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    default: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    }
}

/* Normalises the valid UTF-8 S[0..n) into *OUT (attrib_malloc'd, caller
 * frees), *OUT_LEN bytes. */
static attrib_status unicode_form(const char *s, size_t n, utf8proc_option_t opt, char **out, size_t *out_len) {
    if (n > (size_t)INT32_MAX / 8)
        return attrib_fail(ATTRIB_E_LIMIT, "tokenize: text too large to normalise");
    utf8proc_ssize_t need = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, NULL, 0, opt);
    if (need < 0)
        return attrib_fail(ATTRIB_E_BAD_TEXT, "tokenize: Unicode normalisation failed: %s", utf8proc_errmsg(need));
    /* reencode writes UTF-8 in place into the UTF-32 buffer: 4 bytes/cp is enough. */
    size_t cap = (size_t)need + 1;
    utf8proc_int32_t *buf = attrib_calloc_array(cap, sizeof(utf8proc_int32_t));
    if (!buf)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory");
    utf8proc_ssize_t got = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, buf, need, opt);
    if (got < 0 || got > need) {
        attrib_free(buf);
        return attrib_fail(ATTRIB_E_BAD_TEXT, "tokenize: Unicode normalisation failed");
    }
    utf8proc_ssize_t r = utf8proc_reencode(buf, got, opt);
    if (r < 0) {
        attrib_free(buf);
        return attrib_fail(ATTRIB_E_BAD_TEXT, "tokenize: Unicode normalisation failed: %s", utf8proc_errmsg(r));
    }
    *out = (char *)buf;
    *out_len = (size_t)r;
    return ATTRIB_OK;
}

/* Normalises a valid-UTF-8 run [a, e) of SRC into DST. Spans are kept per
 * "starter + following combining marks" chunk when normalising chunk by
 * chunk gives the same text as normalising the run at once; otherwise the
 * whole run shares one span (correct text, coarser span). */
static attrib_status form_run(const tok_buf *src, size_t a, size_t e, utf8proc_option_t opt, tok_buf *dst) {
    char *whole = NULL;
    size_t wl = 0;
    attrib_status st = unicode_form(src->buf + a, e - a, opt, &whole, &wl);
    if (st)
        return st;
    if (wl == e - a && memcmp(whole, src->buf + a, wl) == 0) {
        attrib_free(whole);
        return buf_copy(dst, src, a, e);
    }
    size_t mark = dst->len;
    size_t i = a;
    int ok = 1;
    while (i < e && ok) {
        size_t j = i + tok_utf8_len((const unsigned char *)src->buf + i, e - i);
        while (j < e) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)src->buf + j, (utf8proc_ssize_t)(e - j), &cp);
            if (l <= 0 || utf8proc_get_property(cp)->combining_class == 0)
                break;
            j += (size_t)l;
        }
        char *part = NULL;
        size_t pl = 0;
        st = unicode_form(src->buf + i, j - i, opt, &part, &pl);
        if (st) {
            attrib_free(whole);
            return st;
        }
        uint32_t sb, se;
        span_of(src, i, j, &sb, &se);
        st = buf_append(dst, part, pl, sb, se);
        attrib_free(part);
        if (st) {
            attrib_free(whole);
            return st;
        }
        i = j;
    }
    if (dst->len - mark != wl || memcmp(dst->buf + mark, whole, wl) != 0) {
        dst->len = mark;
        uint32_t sb, se;
        span_of(src, a, e, &sb, &se);
        st = buf_append(dst, whole, wl, sb, se);
    }
    attrib_free(whole);
    return st;
}

static attrib_status op_unicode(const tok_buf *src, tok_op_kind k, tok_buf *dst) {
    utf8proc_option_t opt = form_options(k);
    size_t i = 0;
    while (i < src->len) {
        /* Maximal valid run, then pass invalid bytes through. */
        size_t j = i;
        while (j < src->len) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)src->buf + j,
                                                  (utf8proc_ssize_t)(src->len - j > 4 ? 4 : src->len - j), &cp);
            if (l <= 0)
                break;
            j += (size_t)l;
        }
        if (j > i) {
            attrib_status st = form_run(src, i, j, opt, dst);
            if (st)
                return st;
        }
        if (j < src->len) {
            attrib_status st = buf_copy(dst, src, j, j + 1);
            if (st)
                return st;
            j++;
        }
        i = j;
    }
    return ATTRIB_OK;
}

/* Unicode's full lowercase mapping (the one Hugging Face's tokenizers
 * apply) differs from utf8proc's simple one for two characters only:
 * U+0130 becomes "i" + U+0307, and a capital sigma ends a word as U+03C2
 * (Final_Sigma of SpecialCasing.txt: a cased letter before it and none
 * after it, case-ignorable characters skipped on both sides). Cased and
 * Case_Ignorable are approximated from the general category. */
static int is_cased(utf8proc_int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

static int is_case_ignorable(utf8proc_int32_t c) {
    static const utf8proc_int32_t mid[] = {'\'', '.', ':', 0xB7, 0x387, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027,
                                           0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    utf8proc_category_t k = utf8proc_category(c);
    if (k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
        k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK)
        return 1;
    for (size_t i = 0; i < sizeof(mid) / sizeof(mid[0]); i++)
        if (c == mid[i])
            return 1;
    return 0;
}

/* Lowercase of the capital sigma at [i, i + 2) of B. */
static utf8proc_int32_t lower_sigma(const tok_buf *b, size_t i) {
    size_t p = i;
    int cased_before = 0;
    while (p > 0) {
        size_t q = p - 1;
        while (q > 0 && p - q < 4 && ((unsigned char)b->buf[q] & 0xC0) == 0x80)
            q--;
        utf8proc_int32_t c;
        if (utf8proc_iterate((const utf8proc_uint8_t *)b->buf + q, (utf8proc_ssize_t)(p - q), &c) != (utf8proc_ssize_t)(p - q))
            break;
        if (!is_case_ignorable(c)) {
            cased_before = is_cased(c);
            break;
        }
        p = q;
    }
    if (!cased_before)
        return 0x3C3;
    for (size_t j = i + 2; j < b->len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)b->buf + j,
                                              (utf8proc_ssize_t)(b->len - j > 4 ? 4 : b->len - j), &c);
        if (l <= 0)
            break;
        if (!is_case_ignorable(c))
            return is_cased(c) ? 0x3C3 : 0x3C2;
        j += (size_t)l;
    }
    return 0x3C2;
}

static attrib_status op_lowercase(const tok_buf *src, tok_buf *dst) {
    size_t i = 0;
    while (i < src->len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)src->buf + i,
                                              (utf8proc_ssize_t)(src->len - i > 4 ? 4 : src->len - i), &cp);
        attrib_status st;
        if (l <= 0) {
            st = buf_copy(dst, src, i, i + 1);
            i++;
        } else if (cp == 0x130) {
            st = buf_append(dst, "i\xCC\x87", 3, src->sb[i], src->se[i]);
            i += (size_t)l;
        } else {
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t el = utf8proc_encode_char(cp == 0x3A3 ? lower_sigma(src, i) : utf8proc_tolower(cp), enc);
            st = buf_append(dst, (const char *)enc, (size_t)el, src->sb[i], src->se[i]);
            i += (size_t)l;
        }
        if (st)
            return st;
    }
    return ATTRIB_OK;
}

/* ----------------------------------------------------------- normalise */

attrib_status tok_normalize(const attrib_tokenizer *tok, const char *text, size_t off, size_t len,
                            int first_fragment, tok_buf *out, tok_buf *tmp) {
    out->len = 0;
    attrib_status st = tok_buf_reserve(out, len + 16);
    if (st)
        return st;
    size_t i = 0;
    while (i < len) {
        size_t l = tok_utf8_len((const unsigned char *)text + off + i, len - i);
        for (size_t k = 0; k < l; k++) {
            out->buf[i + k] = text[off + i + k];
            out->sb[i + k] = (uint32_t)(off + i);
            out->se[i + k] = (uint32_t)(off + i + l);
        }
        i += l;
    }
    out->len = len;
    for (int o = 0; o < tok->n_ops; o++) {
        const tok_op *op = &tok->ops[o];
        tmp->len = 0;
        switch (op->kind) {
        case TOK_OP_PREPEND:
        case TOK_OP_PREPEND_IF_NOT:
            if (out->len == 0 || (op->first_only && !first_fragment))
                continue;
            if (op->kind == TOK_OP_PREPEND_IF_NOT && out->len >= op->len && memcmp(out->buf, op->str, op->len) == 0)
                continue;
            st = buf_append(tmp, op->str, op->len, out->sb[0], out->sb[0]);
            if (!st)
                st = buf_copy(tmp, out, 0, out->len);
            break;
        case TOK_OP_REPLACE: {
            size_t p = 0, last = 0;
            st = ATTRIB_OK;
            if (op->len == 0)
                continue;
            while (!st && p + op->len <= out->len) {
                if (memcmp(out->buf + p, op->str, op->len) == 0) {
                    st = buf_copy(tmp, out, last, p);
                    if (!st && op->len2) {
                        uint32_t sb, se;
                        span_of(out, p, p + op->len, &sb, &se);
                        st = buf_append(tmp, op->str2, op->len2, sb, se);
                    }
                    p += op->len;
                    last = p;
                } else {
                    p++;
                }
            }
            if (!st)
                st = buf_copy(tmp, out, last, out->len);
            break;
        }
        case TOK_OP_LOWERCASE:
            st = op_lowercase(out, tmp);
            break;
        default:
            st = op_unicode(out, op->kind, tmp);
            break;
        }
        if (st)
            return st;
        swap_buf(out, tmp);
    }
    return ATTRIB_OK;
}

/* ---------------------------------------------------------------- regex */

static void *pcre_malloc(PCRE2_SIZE n, void *ud) {
    (void)ud;
    return attrib_malloc(n);
}

static void pcre_free(void *p, void *ud) {
    (void)ud;
    attrib_free(p);
}

attrib_status tok_compile_regex(const char *pattern, size_t len, pcre2_code **out) {
    pcre2_general_context *gc = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    if (!gc)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory for a regex");
    pcre2_compile_context *cc = pcre2_compile_context_create(gc);
    if (!cc) {
        pcre2_general_context_free(gc);
        return attrib_fail(ATTRIB_E_NOMEM, "tokenizer: out of memory for a regex");
    }
    int err = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                                   &err, &erroff, cc);
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(gc);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return attrib_fail(err == PCRE2_ERROR_HEAP_FAILED ? ATTRIB_E_NOMEM : ATTRIB_E_UNSUPPORTED,
                           "tokenizer: pre-tokenizer regex does not compile at offset %zu: %s", (size_t)erroff,
                           (const char *)msg);
    }
    /* JIT is an optimisation only; the interpreter is used if it fails. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return ATTRIB_OK;
}

/* --------------------------------------------------------- pre-tokenize */

typedef struct range_list {
    tok_range *r;
    size_t n, cap;
} range_list;

static attrib_status range_push(range_list *l, size_t a, size_t b) {
    if (a >= b)
        return ATTRIB_OK;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64, bytes;
        if (!attrib_mul_ok(nc, sizeof(tok_range), &bytes))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenize: too many pre-tokens");
        tok_range *nr = attrib_realloc(l->r, bytes);
        if (!nr)
            return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory");
        l->r = nr;
        l->cap = nc;
    }
    l->r[l->n].a = a;
    l->r[l->n].b = b;
    l->n++;
    return ATTRIB_OK;
}

static attrib_status split_regex(const tok_split *sp, const tok_buf *nb, size_t a, size_t b,
                                 pcre2_match_data *md, pcre2_match_context *mc, range_list *dst) {
    PCRE2_SPTR subj = (PCRE2_SPTR)(nb->buf + a);
    size_t n = b - a, pos = 0, start = 0;
    attrib_status st = ATTRIB_OK;
    while (start <= n) {
        int rc = pcre2_match(sp->re, subj, n, start, 0, md, mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof(msg));
            return attrib_fail(ATTRIB_E_LIMIT, "tokenize: pre-tokenizer regex failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
            /* Empty match: it still ends the piece before it (as in Hugging
             * Face's tokenizers), then the scan steps over one character. */
            if (ms >= n)
                break;
            if ((st = range_push(dst, a + pos, a + ms)))
                return st;
            pos = ms;
            start = ms + tok_utf8_len((const unsigned char *)subj + ms, n - ms);
            continue;
        }
        if (sp->kind == TOK_SPLIT_REGEX_ISOLATED) {
            st = range_push(dst, a + pos, a + ms);
            if (!st)
                st = range_push(dst, a + ms, a + me);
        } else {
            st = range_push(dst, a + pos, a + ms);
        }
        if (st)
            return st;
        pos = start = me;
    }
    return range_push(dst, a + pos, b);
}

static attrib_status split_before(const tok_split *sp, const tok_buf *nb, size_t a, size_t b, range_list *dst) {
    size_t s = a;
    for (size_t i = a + 1; i + sp->len <= b; i++) {
        if (memcmp(nb->buf + i, sp->str, sp->len) == 0) {
            attrib_status st = range_push(dst, s, i);
            if (st)
                return st;
            s = i;
        }
    }
    return range_push(dst, s, b);
}

attrib_status tok_pretokenize(const attrib_tokenizer *tok, const tok_buf *nb, tok_range **ranges,
                              size_t *n, size_t *cap) {
    range_list cur = {*ranges, 0, *cap};
    attrib_status st = range_push(&cur, 0, nb->len);
    if (st || tok->n_splits == 0) {
        *ranges = cur.r;
        *cap = cur.cap;
        *n = cur.n;
        return st;
    }
    range_list next = {0};
    pcre2_general_context *gc = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    pcre2_match_context *mc = gc ? pcre2_match_context_create(gc) : NULL;
    pcre2_jit_stack *js = gc ? pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, gc) : NULL;
    pcre2_match_data *md = NULL;
    if (!gc || !mc || !js) {
        st = attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory for regex matching");
        goto done;
    }
    pcre2_jit_stack_assign(mc, NULL, js);
    for (int s = 0; s < tok->n_splits && !st; s++) {
        const tok_split *sp = &tok->splits[s];
        if (sp->re) {
            pcre2_match_data_free(md);
            md = pcre2_match_data_create_from_pattern(sp->re, gc);
            if (!md) {
                st = attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory for regex matching");
                break;
            }
        }
        next.n = 0;
        for (size_t i = 0; i < cur.n && !st; i++) {
            if (sp->kind == TOK_SPLIT_BEFORE_STR)
                st = split_before(sp, nb, cur.r[i].a, cur.r[i].b, &next);
            else
                st = split_regex(sp, nb, cur.r[i].a, cur.r[i].b, md, mc, &next);
        }
        range_list t = cur;
        cur = next;
        next = t;
    }
done:
    pcre2_match_data_free(md);
    pcre2_jit_stack_free(js);
    pcre2_match_context_free(mc);
    pcre2_general_context_free(gc);
    attrib_free(next.r);
    *ranges = cur.r;
    *cap = cur.cap;
    *n = cur.n;
    return st;
}
