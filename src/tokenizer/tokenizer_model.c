/*
 * tokenizer_model.c — the two subword models, applied to one pre-token.
 *
 * SPM (GGUF tokenizer.ggml.model = "llama") follows llama.cpp's
 * SentencePiece session: start from UTF-8 characters, repeatedly merge the
 * adjacent pair whose concatenation is a vocabulary piece with the highest
 * score (ties: leftmost), then emit each final piece, or its bytes as
 * <0xXX> tokens when it is not in the vocabulary.
 *
 * BPE (GGUF "gpt2" and tokenizer.json "BPE") follows the Hugging Face
 * tokenizers model: start from characters (byte-level characters for
 * byte-level vocabularies; <0xXX> tokens or UNK for characters missing from
 * the vocabulary), then repeatedly apply the merge of lowest rank (ties:
 * leftmost) until none applies.
 *
 * Both keep a doubly linked list of symbols over a range of the normalised
 * buffer and a binary heap of candidate pairs with lazy invalidation, so a
 * word of n characters costs O(n log n).
 */
#include "tokenizer/tokenizer_impl.h"

#include <string.h>

typedef struct tok_sym {
    int32_t id;     /* current id (BPE); unused for SPM */
    size_t a, b;    /* bytes [a, b) of the normalised buffer; a == b: merged away */
    int64_t prev, next;
} tok_sym;

typedef struct tok_cand {
    double key;     /* smaller pops first: BPE rank, or -score for SPM */
    size_t left, right;
    size_t size;    /* SPM: byte length the pair had when queued */
} tok_cand;

struct tok_scratch {
    tok_sym *sym;
    size_t nsym, capsym;
    tok_cand *heap;
    size_t nheap, capheap;
    char *text;
    size_t captext;
};

tok_scratch *tok_scratch_new(void) {
    return attrib_calloc_array(1, sizeof(tok_scratch));
}

void tok_scratch_free(tok_scratch *s) {
    if (!s)
        return;
    attrib_free(s->sym);
    attrib_free(s->heap);
    attrib_free(s->text);
    attrib_free(s);
}

static attrib_status grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return ATTRIB_OK;
    size_t nc = *cap ? *cap : 64, bytes;
    while (nc < need)
        if (!attrib_mul_ok(nc, 2, &nc))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenize: word too long");
    if (!attrib_mul_ok(nc, elem, &bytes))
        return attrib_fail(ATTRIB_E_LIMIT, "tokenize: word too long");
    void *np = attrib_realloc(*p, bytes);
    if (!np)
        return attrib_fail(ATTRIB_E_NOMEM, "tokenize: out of memory");
    *p = np;
    *cap = nc;
    return ATTRIB_OK;
}

static int cand_less(const tok_cand *x, const tok_cand *y) {
    return x->key < y->key || (x->key == y->key && x->left < y->left);
}

static attrib_status heap_push(tok_scratch *s, tok_cand c) {
    attrib_status st = grow((void **)&s->heap, &s->capheap, s->nheap + 1, sizeof(tok_cand));
    if (st)
        return st;
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = c;
    return ATTRIB_OK;
}

static tok_cand heap_pop(tok_scratch *s) {
    tok_cand top = s->heap[0];
    tok_cand last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const tok_cand *best = &last;
        if (l < n && cand_less(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (r < n && cand_less(&s->heap[r], best))
            m = r;
        if (m == i)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

static attrib_status push_sym(tok_scratch *s, int32_t id, size_t a, size_t b) {
    attrib_status st = grow((void **)&s->sym, &s->capsym, s->nsym + 1, sizeof(tok_sym));
    if (st)
        return st;
    tok_sym *y = &s->sym[s->nsym];
    y->id = id;
    y->a = a;
    y->b = b;
    y->prev = (int64_t)s->nsym - 1;
    y->next = -1;
    if (s->nsym)
        s->sym[s->nsym - 1].next = (int64_t)s->nsym;
    s->nsym++;
    return ATTRIB_OK;
}

static attrib_status emit(const tok_buf *nb, tok_outbuf *out, int32_t id, size_t a, size_t b) {
    uint32_t lo = nb->sb[a], hi = nb->se[a];
    for (size_t i = a + 1; i < b; i++) {
        if (nb->sb[i] < lo)
            lo = nb->sb[i];
        if (nb->se[i] > hi)
            hi = nb->se[i];
    }
    return tok_out_push(out, id, lo, hi);
}

/* ------------------------------------------------------------------ SPM */

static attrib_status spm_try_pair(const attrib_tokenizer *tok, const tok_buf *nb, tok_scratch *s,
                                  int64_t left, int64_t right) {
    if (left < 0 || right < 0)
        return ATTRIB_OK;
    size_t a = s->sym[left].a, b = s->sym[right].b;
    int32_t id = tok_find(tok, nb->buf + a, b - a);
    if (id < 0)
        return ATTRIB_OK;
    tok_cand c = {-(double)tok->scores[id], (size_t)left, (size_t)right, b - a};
    return heap_push(s, c);
}

static attrib_status spm_encode(const attrib_tokenizer *tok, const tok_buf *nb, tok_range r, tok_scratch *s,
                                tok_outbuf *out) {
    attrib_status st;
    for (size_t i = r.a; i < r.b;) {
        size_t l = tok_utf8_len((const unsigned char *)nb->buf + i, r.b - i);
        if ((st = push_sym(s, -1, i, i + l)))
            return st;
        i += l;
    }
    for (size_t i = 1; i < s->nsym; i++)
        if ((st = spm_try_pair(tok, nb, s, (int64_t)i - 1, (int64_t)i)))
            return st;
    while (s->nheap) {
        tok_cand c = heap_pop(s);
        tok_sym *L = &s->sym[c.left], *R = &s->sym[c.right];
        /* Stale when either side was merged since the pair was queued. */
        if (L->a == L->b || R->a == R->b || (L->b - L->a) + (R->b - R->a) != c.size)
            continue;
        L->b = R->b;
        R->a = R->b;
        L->next = R->next;
        if (R->next >= 0)
            s->sym[R->next].prev = (int64_t)c.left;
        if ((st = spm_try_pair(tok, nb, s, L->prev, (int64_t)c.left)))
            return st;
        if ((st = spm_try_pair(tok, nb, s, (int64_t)c.left, L->next)))
            return st;
    }
    for (int64_t i = s->nsym ? 0 : -1; i >= 0; i = s->sym[i].next) {
        const tok_sym *y = &s->sym[i];
        int32_t id = tok_find(tok, nb->buf + y->a, y->b - y->a);
        if (id >= 0) {
            if ((st = emit(nb, out, id, y->a, y->b)))
                return st;
            continue;
        }
        /* Not a piece: a single character, sent as its bytes. */
        for (size_t k = y->a; k < y->b; k++) {
            int32_t bid = tok->byte_tok[(unsigned char)nb->buf[k]];
            if (bid < 0)
                bid = tok->unk;
            if (bid >= 0 && (st = emit(nb, out, bid, k, k + 1)))
                return st;
        }
    }
    return ATTRIB_OK;
}

/* ------------------------------------------------------------------ BPE */

static attrib_status bpe_try_pair(const attrib_tokenizer *tok, tok_scratch *s, int64_t left) {
    if (left < 0 || s->sym[left].next < 0)
        return ATTRIB_OK;
    int64_t right = s->sym[left].next;
    int32_t res;
    int32_t rank = tok_merge_lookup(tok, s->sym[left].id, s->sym[right].id, &res);
    if (rank < 0)
        return ATTRIB_OK;
    tok_cand c = {(double)rank, (size_t)left, (size_t)right, 0};
    return heap_push(s, c);
}

/* Initial symbols of a non-byte-level word: characters, with byte fallback
 * or UNK for characters the vocabulary lacks. */
static attrib_status bpe_init_chars(const attrib_tokenizer *tok, const tok_buf *nb, tok_range r, tok_scratch *s) {
    attrib_status st;
    int prev_unk = 0;
    for (size_t i = r.a; i < r.b;) {
        size_t l = tok_utf8_len((const unsigned char *)nb->buf + i, r.b - i);
        int32_t id = tok_find(tok, nb->buf + i, l);
        if (id >= 0) {
            if ((st = push_sym(s, id, i, i + l)))
                return st;
            prev_unk = 0;
        } else {
            int all = tok->byte_fallback;
            for (size_t k = 0; all && k < l; k++)
                all = tok->byte_tok[(unsigned char)nb->buf[i + k]] >= 0;
            if (all) {
                for (size_t k = 0; k < l; k++)
                    if ((st = push_sym(s, tok->byte_tok[(unsigned char)nb->buf[i + k]], i + k, i + k + 1)))
                        return st;
                prev_unk = 0;
            } else if (tok->unk >= 0) {
                if (tok->fuse_unk && prev_unk) {
                    s->sym[s->nsym - 1].b = i + l;
                } else if ((st = push_sym(s, tok->unk, i, i + l))) {
                    return st;
                }
                prev_unk = 1;
            }
        }
        i += l;
    }
    return ATTRIB_OK;
}

static attrib_status bpe_encode(const attrib_tokenizer *tok, const tok_buf *nb, tok_range r, tok_scratch *s,
                                tok_outbuf *out) {
    attrib_status st;
    if (tok->byte_level) {
        size_t need;
        if (!attrib_mul_ok(r.b - r.a, 2, &need))
            return attrib_fail(ATTRIB_E_LIMIT, "tokenize: word too long");
        if (tok->ignore_merges) {
            if ((st = grow((void **)&s->text, &s->captext, need + 1, 1)))
                return st;
            size_t t = 0;
            for (size_t i = r.a; i < r.b; i++)
                t += tok_byte_level_char((unsigned char)nb->buf[i], s->text + t);
            int32_t id = tok_find(tok, s->text, t);
            if (id >= 0)
                return emit(nb, out, id, r.a, r.b);
        }
        for (size_t i = r.a; i < r.b; i++) {
            int32_t id = tok->bl_tok[(unsigned char)nb->buf[i]];
            if (id < 0)
                id = tok->unk;
            if (id >= 0 && (st = push_sym(s, id, i, i + 1)))
                return st;
        }
    } else {
        if (tok->ignore_merges) {
            int32_t id = tok_find(tok, nb->buf + r.a, r.b - r.a);
            if (id >= 0)
                return emit(nb, out, id, r.a, r.b);
        }
        if ((st = bpe_init_chars(tok, nb, r, s)))
            return st;
    }
    for (size_t i = 0; i + 1 < s->nsym; i++)
        if ((st = bpe_try_pair(tok, s, (int64_t)i)))
            return st;
    while (s->nheap) {
        tok_cand c = heap_pop(s);
        tok_sym *L = &s->sym[c.left];
        if (L->a == L->b || L->next != (int64_t)c.right)
            continue;
        tok_sym *R = &s->sym[c.right];
        int32_t res;
        int32_t rank = tok_merge_lookup(tok, L->id, R->id, &res);
        if (rank < 0 || (double)rank != c.key)
            continue;
        L->id = res;
        L->b = R->b;
        R->a = R->b;
        L->next = R->next;
        if (R->next >= 0)
            s->sym[R->next].prev = (int64_t)c.left;
        if ((st = bpe_try_pair(tok, s, L->prev)))
            return st;
        if ((st = bpe_try_pair(tok, s, (int64_t)c.left)))
            return st;
    }
    for (int64_t i = s->nsym ? 0 : -1; i >= 0; i = s->sym[i].next)
        if ((st = emit(nb, out, s->sym[i].id, s->sym[i].a, s->sym[i].b)))
            return st;
    return ATTRIB_OK;
}

attrib_status tok_model_encode(const attrib_tokenizer *tok, const tok_buf *nb, tok_range r,
                               tok_scratch *s, tok_outbuf *out) {
    s->nsym = 0;
    s->nheap = 0;
    if (r.b <= r.a)
        return ATTRIB_OK;
    return tok->algo == TOK_ALGO_SPM ? spm_encode(tok, nb, r, s, out) : bpe_encode(tok, nb, r, s, out);
}
