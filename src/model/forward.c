/*
 * forward.c — the model's forward pass over a batch, and the KV cache.
 *
 * One pass takes B sequences of T new tokens (ids or input embeddings), each
 * optionally continuing a cached prefix: attribution evaluates many inputs
 * that share a prefix and differ after some position, so the prefix's keys
 * and values are computed once and every variant computes only its suffix.
 * All B*T rows go through each matrix product as one sgemm.
 *
 * x = embeddings * embed_scale; every block is layer_forward (layer.c)
 * without a tape, its keys and values stored into the cache when asked; then
 * logits = softcap(rmsnorm(x) Wout^T) for the rows asked for.
 */
#include "model/layer.h"

#include "model/kernels_int.h"
#include "model/prefix.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PASS_ROWS (1 << 22) /* B*T: bounds every per-pass allocation */

struct attrib_cache {
    int n_layer, n_seq, n_ctx, kv_dim;
    float *k, *v;  /* (L, S, n_ctx, kv_dim) */
    uint8_t *mask; /* (S, n_ctx): key visibility of each cached position */
    int *len;      /* (S) */
};

attrib_status attrib_cache_new(const attrib_model *m, int n_seq, int n_ctx, attrib_cache **out) {
    if (!m || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_cache_new: NULL argument");
    if (n_seq < 1 || n_ctx < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_cache_new: n_seq and n_ctx must be >= 1");
    const attrib_model_info *in = &m->info;
    const size_t kvd = (size_t)in->n_head_kv * in->head_dim;
    size_t per_layer, total;
    if (!attrib_mul_ok((size_t)n_seq, (size_t)n_ctx, &per_layer) || !attrib_mul_ok(per_layer, kvd, &total) ||
        !attrib_mul_ok(total, (size_t)in->n_layer, &total) || total > ((size_t)1 << 40) / sizeof(float))
        return attrib_fail(ATTRIB_E_LIMIT, "a KV cache of %d sequences x %d positions is too large", n_seq, n_ctx);
    attrib_cache *c = attrib_calloc_array(1, sizeof *c);
    if (!c) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    c->n_layer = in->n_layer;
    c->n_seq = n_seq;
    c->n_ctx = n_ctx;
    c->kv_dim = (int)kvd;
    c->k = attrib_calloc_array(total, sizeof(float));
    c->v = attrib_calloc_array(total, sizeof(float));
    c->mask = attrib_calloc_array(per_layer, 1);
    c->len = attrib_calloc_array((size_t)n_seq, sizeof(int));
    if (!c->k || !c->v || !c->mask || !c->len) {
        attrib_cache_free(c);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory for a KV cache of %zu floats", 2 * total);
    }
    *out = c;
    return ATTRIB_OK;
}

void attrib_cache_free(attrib_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->mask);
    free(c->len);
    free(c);
}

int attrib_cache_len(const attrib_cache *c, int seq) { return (c && seq >= 0 && seq < c->n_seq) ? c->len[seq] : 0; }

attrib_status attrib_cache_truncate(attrib_cache *c, int seq, int len) {
    if (!c || seq < 0 || seq >= c->n_seq || len < 0 || len > c->len[seq])
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_cache_truncate: sequence %d length %d is invalid", seq, len);
    c->len[seq] = len;
    return ATTRIB_OK;
}

static float *cache_k(const attrib_cache *c, int l, int s) {
    return c->k + (((size_t)l * c->n_seq + s) * c->n_ctx) * c->kv_dim;
}
static float *cache_v(const attrib_cache *c, int l, int s) {
    return c->v + (((size_t)l * c->n_seq + s) * c->n_ctx) * c->kv_dim;
}

void cache_layer_kv(const attrib_cache *c, int l, int s, const float **k, const float **v) {
    *k = cache_k(c, l, s);
    *v = cache_v(c, l, s);
}

const uint8_t *cache_seq_mask(const attrib_cache *c, int s) { return c->mask + (size_t)s * c->n_ctx; }

attrib_status cache_copy_seq(attrib_cache *dst, int ds, const attrib_cache *src, int ss, int len) {
    if (dst->n_layer != src->n_layer || dst->kv_dim != src->kv_dim || ds < 0 || ds >= dst->n_seq || ss < 0 ||
        ss >= src->n_seq || len < 0 || len > src->len[ss] || len > dst->n_ctx)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "cannot copy %d cached positions between these caches", len);
    const size_t bytes = (size_t)len * dst->kv_dim * sizeof(float);
    for (int l = 0; l < dst->n_layer; l++) {
        memcpy(cache_k(dst, l, ds), cache_k(src, l, ss), bytes);
        memcpy(cache_v(dst, l, ds), cache_v(src, l, ss), bytes);
    }
    memcpy(dst->mask + (size_t)ds * dst->n_ctx, src->mask + (size_t)ss * src->n_ctx, (size_t)len);
    dst->len[ds] = len;
    return ATTRIB_OK;
}

/* Checks a batch against the model and the cache before anything is computed. */
static attrib_status check_batch(const attrib_model *m, const attrib_batch *b, const attrib_cache *c) {
    const attrib_model_info *in = &m->info;
    if (b->n_seq < 1 || b->n_tokens < 1 || (int64_t)b->n_seq * b->n_tokens > MAX_PASS_ROWS)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "batch of %d x %d tokens is empty or too large", b->n_seq, b->n_tokens);
    if (!b->tokens == !b->embeddings)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "exactly one of tokens and embeddings must be given");
    if (b->logits_mode != ATTRIB_LOGITS_ALL && b->logits_mode != ATTRIB_LOGITS_LAST && b->logits_mode != ATTRIB_LOGITS_NONE)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown logits mode %d", (int)b->logits_mode);
    const int64_t N = (int64_t)b->n_seq * b->n_tokens;
    if (b->tokens)
        for (int64_t i = 0; i < N; i++)
            if (b->tokens[i] < 0 || b->tokens[i] >= in->n_vocab)
                return attrib_fail(ATTRIB_E_BAD_VALUE, "token id %d (sequence %lld, position %lld) is outside the vocabulary [0, %d)",
                                   b->tokens[i], (long long)(i / b->n_tokens), (long long)(i % b->n_tokens), in->n_vocab);
    if (b->lengths)
        for (int s = 0; s < b->n_seq; s++)
            if (b->lengths[s] < 1 || b->lengths[s] > b->n_tokens)
                return attrib_fail(ATTRIB_E_INVALID_ARG, "length %d of sequence %d is outside [1, %d]", b->lengths[s], s, b->n_tokens);
    if (b->positions)
        for (int64_t i = 0; i < N; i++)
            if (b->positions[i] < 0 || b->positions[i] > (1 << 24))
                return attrib_fail(ATTRIB_E_INVALID_ARG, "position %d is outside [0, 2^24]", b->positions[i]);
    if (b->hidden_out && (b->hidden_layer < 0 || b->hidden_layer > in->n_layer))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "hidden layer %d is outside [0, %d]", b->hidden_layer, in->n_layer);
    if (b->hidden_out && b->logits_mode == ATTRIB_LOGITS_NONE)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "hidden states need ATTRIB_LOGITS_ALL or ATTRIB_LOGITS_LAST to say which rows");
    if (!c) return ATTRIB_OK;
    if (c->n_layer != in->n_layer || c->kv_dim != in->n_head_kv * in->head_dim)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the cache was made for a different model");
    for (int s = 0; s < b->n_seq; s++) {
        int cs = b->cache_seq ? b->cache_seq[s] : s;
        if (cs < 0 || cs >= c->n_seq)
            return attrib_fail(ATTRIB_E_INVALID_ARG, "cache sequence %d of batch row %d is outside [0, %d)", cs, s, c->n_seq);
        if (b->prefix_len && (b->prefix_len[s] < 0 || b->prefix_len[s] > c->len[cs]))
            return attrib_fail(ATTRIB_E_INVALID_ARG, "prefix length %d of batch row %d is outside [0, %d] (cached positions)",
                               b->prefix_len[s], s, c->len[cs]);
        if (b->store && b->prefix_len)
            return attrib_fail(ATTRIB_E_INVALID_ARG, "prefix_len cannot be combined with store");
        if (b->store) {
            if (c->len[cs] + b->n_tokens > c->n_ctx)
                return attrib_fail(ATTRIB_E_LIMIT, "cache sequence %d would exceed its %d positions", cs, c->n_ctx);
            for (int s2 = 0; s2 < s; s2++)
                if ((b->cache_seq ? b->cache_seq[s2] : s2) == cs)
                    return attrib_fail(ATTRIB_E_INVALID_ARG, "batch rows %d and %d would store into the same cache sequence %d",
                                       s2, s, cs);
        }
    }
    /* the cache keeps no positions: a windowed model reads cached keys as positions 0..P-1 */
    if (b->store && b->positions && in->n_windowed_layers > 0)
        for (int s = 0; s < b->n_seq; s++)
            for (int t = 0; t < b->n_tokens; t++)
                if (b->positions[(int64_t)s * b->n_tokens + t] != c->len[b->cache_seq ? b->cache_seq[s] : s] + t)
                    return attrib_fail(ATTRIB_E_UNSUPPORTED, "storing explicit positions in the KV cache of a model with "
                                       "sliding windows is not supported");
    return ATTRIB_OK;
}

/* cos|sin tables of the pass's positions: CS at the global frequencies,
 * CS_LOCAL (when the model has them) at the windowed layers'; both scaled by
 * the RoPE attention factor (phi3 longrope), which scales q and k alike. */
void layer_rope_tables(const attrib_model *m, const int32_t *pos, int64_t N, float *cs, float *cs_local) {
    const int D = m->info.head_dim;
    rope_table(cs, pos, N, D, m->rope_inv_freq);
    if (cs_local) rope_table(cs_local, pos, N, D, m->rope_inv_freq_local);
    if (m->rope_attn_factor != 1.0f)
        for (int64_t i = 0; i < N * D; i++) {
            cs[i] *= m->rope_attn_factor;
            if (cs_local) cs_local[i] *= m->rope_attn_factor;
        }
}

/* The output head on R rows: logits (R, V) = softcap(rmsnorm(X) Wout^T). XN: (R, C) scratch. */
void model_head_forward(const attrib_model *m, float *logits, const float *x, float *xn, int64_t R, layer_work *w) {
    const attrib_model_info *in = &m->info;
    rmsnorm_forward(xn, x, m->output_norm, R, in->n_embd, in->rms_eps, m->n_threads);
    matmul_forward_ex(w->fast, logits, xn, &m->output, NULL, R, w->wscratch, w->wpt, m->n_threads);
    if (m->final_softcap > 0.0f) softcap_forward(logits, logits, R, in->n_vocab, m->final_softcap, m->n_threads);
}

attrib_status attrib_forward(attrib_model *m, const attrib_batch *b, attrib_cache *cache, float *logits) {
    if (!m || !b) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_forward: NULL argument");
    attrib_status st = check_batch(m, b, cache);
    if (st) return st;
    if (b->logits_mode != ATTRIB_LOGITS_NONE && !logits && !b->hidden_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_forward: logits output is NULL");
    const attrib_model_info *in = &m->info;
    const int B = b->n_seq, T = b->n_tokens, C = in->n_embd, D = in->head_dim;
    const int64_t N = (int64_t)B * T, kvd = (int64_t)in->n_head_kv * D;
    openblas_set_num_threads(1); /* we thread over fixed tiles ourselves: see matmul_forward */

    /* per-pass prefix views */
    attn_kv_view *views = attrib_calloc_array((size_t)B, sizeof *views);
    int32_t *pos = attrib_calloc_array((size_t)N, sizeof *pos);
    if (!views || !pos) {
        free(views);
        free(pos);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    }
    for (int s = 0; s < B; s++) {
        int cs = cache ? (b->cache_seq ? b->cache_seq[s] : s) : 0;
        views[s].P = cache ? (b->prefix_len ? b->prefix_len[s] : cache->len[cs]) : 0;
        views[s].prefix_mask = cache ? cache->mask + (size_t)cs * cache->n_ctx : NULL;
        for (int t = 0; t < T; t++) pos[(int64_t)s * T + t] = b->positions ? b->positions[(int64_t)s * T + t] : views[s].P + t;
    }
    const int maxP = attention_max_prefix(views, B);

    /* one allocation: the residual stream, the RoPE tables, the block's scratch */
    const bool local = m->rope_inv_freq_local != NULL;
    const size_t nwork = layer_work_floats(m, N, T, maxP, in->n_layer, false);
    const size_t ncs = (size_t)(N * D);
    float *mem = nwork == SIZE_MAX ? NULL : attrib_model_workspace(m, (size_t)(N * C) + ncs * (local ? 2 : 1) + nwork);
    if (!mem) {
        free(views);
        free(pos);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory for a pass of %lld tokens", (long long)N);
    }
    float *x = mem;                       /* (N, C) residual stream */
    float *cs = x + N * C;                /* (N, D) RoPE cos|sin */
    float *cs_local = local ? cs + ncs : NULL;
    layer_work w;
    layer_work_carve(&w, m, cs + ncs * (local ? 2 : 1), N, T, maxP, in->n_layer, false);
    w.fast = m->compute == ATTRIB_COMPUTE_FAST; /* forward-only: the gradient pass carves its own, exact */

    /* input embeddings */
    if (b->tokens) {
        for (int64_t i = 0; i < N; i++) attrib_weight_row(&m->tok_embd, b->tokens[i], x + i * C);
    } else {
        memcpy(x, b->embeddings, (size_t)(N * C) * sizeof(float));
    }
    if (m->embed_scale != 1.0f)
        for (int64_t i = 0; i < N * C; i++) x[i] *= m->embed_scale;
    layer_rope_tables(m, pos, N, cs, cs_local);
    const layer_pass pass = {B, T, cs, cs_local, pos, views, b->key_mask};

    const int n_run = b->hidden_out ? b->hidden_layer : in->n_layer;
    for (int l = 0; l < n_run; l++) {
        for (int s = 0; s < B && cache; s++) {
            int csq = b->cache_seq ? b->cache_seq[s] : s;
            views[s].prefix_k = cache_k(cache, l, csq);
            views[s].prefix_v = cache_v(cache, l, csq);
        }
        const float *k, *v;
        layer_forward(x, m, l, &pass, &w, NULL, &k, &v);
        if (cache && b->store)
            for (int s = 0; s < B; s++) {
                int csq = b->cache_seq ? b->cache_seq[s] : s;
                size_t at = (size_t)cache->len[csq] * kvd;
                memcpy(cache_k(cache, l, csq) + at, k + (int64_t)s * T * kvd, (size_t)(T * kvd) * sizeof(float));
                memcpy(cache_v(cache, l, csq) + at, v + (int64_t)s * T * kvd, (size_t)(T * kvd) * sizeof(float));
            }
        const int64_t bad = first_nonfinite(x, N * C);
        if (bad >= 0) {
            free(views);
            free(pos);
            return attrib_fail(ATTRIB_E_NUMERIC,
                               "the forward pass produced a non-finite value in block %d of %d (sequence %lld, position %lld, "
                               "dimension %lld); the weights or the input embeddings hold NaN/Inf or overflow (see --check-weights)",
                               l, in->n_layer, (long long)(bad / C / T), (long long)(bad / C % T), (long long)(bad % C));
        }
    }
    if (cache && b->store)
        for (int s = 0; s < B; s++) {
            int csq = b->cache_seq ? b->cache_seq[s] : s;
            uint8_t *mk = cache->mask + (size_t)csq * cache->n_ctx + cache->len[csq];
            for (int t = 0; t < T; t++) mk[t] = b->key_mask ? b->key_mask[(int64_t)s * T + t] != 0 : 1;
            cache->len[csq] += T;
        }

    if (b->hidden_out) {
        if (b->logits_mode == ATTRIB_LOGITS_ALL) {
            memcpy(b->hidden_out, x, (size_t)(N * C) * sizeof(float));
        } else {
            for (int s = 0; s < B; s++) {
                int last = b->lengths ? b->lengths[s] - 1 : T - 1;
                memcpy(b->hidden_out + (int64_t)s * C, x + ((int64_t)s * T + last) * C, (size_t)C * sizeof(float));
            }
        }
    } else if (b->logits_mode == ATTRIB_LOGITS_ALL) {
        model_head_forward(m, logits, x, w.xn, N, &w);
    } else if (b->logits_mode == ATTRIB_LOGITS_LAST) {
        for (int s = 0; s < B; s++) {
            int last = b->lengths ? b->lengths[s] - 1 : T - 1;
            memcpy(w.proj + (int64_t)s * C, x + ((int64_t)s * T + last) * C, (size_t)C * sizeof(float));
        }
        model_head_forward(m, logits, w.proj, w.xn, B, &w);
    }
    free(views);
    free(pos);
    return ATTRIB_OK;
}
