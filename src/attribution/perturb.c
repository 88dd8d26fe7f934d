/*
 * perturb.c — perturbation attribution on top of forward passes: the masked
 * inputs, the model-backed value function with prefix reuse and batching,
 * occlusion, and the run functions of the perturbation rows of the method
 * table (methods.c), which share perturb_run().
 * The estimators over coalitions live in perturb_shapley.c (exact Shapley,
 * permutation sampling, KernelSHAP) and perturb_lime.c (LIME).
 *
 * Masking a coalition (the features absent from it), per attrib_mask_kind:
 *   TOKEN      the ids of the absent features' tokens become opt.mask_token
 *   ZERO       their input embeddings become zero (the pass takes embeddings)
 *   DELETE     they are removed; later tokens move left (positions shift)
 *   ATTENTION  their keys are hidden from every query (key_mask 0); positions
 *              and the tokens themselves stay, so a hidden token's own query
 *              still runs. If the LAST token is hidden, the target is still
 *              read from its position: its embedding flows through the
 *              residual stream and only its role as a key/value is removed.
 * With DELETE the target is read after the last token that remains.
 *
 * Prefix reuse. A masked input is identical to the unmasked prompt up to its
 * first masked token, and identical to the fully masked prompt up to its
 * first present feature token. Both of those prompts are run once into a KV
 * cache (sequences 0 and 1; from position P on when the request has a
 * prefix cache, whose P positions are copied into both, since they precede
 * every feature); every coalition then continues from whichever
 * cached sequence it shares the longer prefix with and computes only its
 * suffix (at least its last token, which carries the target). Coalitions
 * are sorted by suffix length and split into passes of consecutive rows by
 * a small dynamic programme that trades padding against the fixed cost of
 * a pass (split_passes), at most opt.batch (or what fits
 * opt.memory_budget) rows each; rows are right-padded with key_mask 0 and read with
 * ATTRIB_LOGITS_LAST + lengths. Sequence positions equal the compacted
 * index, so DELETE's shifted positions are the forward pass's default
 * (cached length + t) and need no explicit positions.
 *
 * Permutation chains (permutation Shapley sampling). Coalition k + 1 of a
 * permutation is coalition k plus one feature, so its input equals
 * coalition k's up to that feature's first token. Each permutation gets a
 * KV cache sequence of its own (a "slot"); the coalitions are evaluated
 * level by level (coalition 1 of every permutation, then coalition 2, ...),
 * and each continues from its own slot, or from the unmasked or fully
 * masked sequence if one of those shares a longer prefix, and stores its
 * keys and values back into the slot for the next level. Rows of a level
 * are still sorted and split into passes (split_passes); a coalition that
 * several permutations reach at the same level is computed once and its
 * slot copied. A row padded to a pass of T tokens starts at its length - T
 * instead, recomputing real tokens rather than padding (same cost), so a
 * slot never holds more than the prompt. Slots cost n_layer * 2 * kv_dim
 * floats per token; permutations run in groups of as many slots as
 * opt.memory_budget (default CHAIN_BUDGET) holds, and without room for two
 * the model offers no chains (perturb_model_chain_fn).
 */
#include "attribution/perturb.h"

#include "model/prefix.h"
#include "task/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tokens per pass when opt.batch is 0: enough rows to keep the matrix
 * products efficient, small enough for frequent progress and low memory. */
#define PASS_TOKENS 2048
/* The cost of one pass beyond its tokens, in tokens: every pass streams all
 * weights once and synchronises the threads. Measured on the 135M shape
 * (bench_forward: 1x32 vs 16x16 tokens), about 14 tokens' worth. */
#define PASS_OVERHEAD_TOKENS 16
/* Rows per pass when opt.batch is 0: bounds the (rows, V) logits buffer. */
#define PASS_ROWS 256
/* Bytes of permutation-chain KV slots when opt.memory_budget is 0. */
#define CHAIN_BUDGET ((size_t)256 << 20)

/* ------------------------------------------------ model-backed values */

struct perturb_model {
    explain_ctx *c;
    int n, C, V;
    attrib_mask_kind mask;
    int32_t mask_token;
    attrib_cache *cache; /* seq 0: unmasked prompt, seq 1: every feature masked */
    /* the two cached sequences in compacted form (see build_seq) */
    int32_t *src[2];
    uint8_t *msk[2];
    int len[2];
    float *emb; /* (n, C) input embeddings of the prompt (ZERO only) */
    /* PROBE targets read hidden states: with mean pooling a variant's pooled
     * state adds the cached sequence's rows before its prefix length (equal,
     * by causality) to its own suffix rows; CUM[s] (n + 1, C) are the prefix
     * sums of cached sequence s's rows, in double */
    const attrib_probe *probe;
    double *cum[2];
    double f_none;
    int64_t n_seq, n_tok, n_tok_full, done, total;
    /* per-call scratch */
    int32_t *s_src;
    uint8_t *s_msk;
};

/* Per-coalition plan: which cached sequence, how much of it, how long. */
typedef struct row_plan {
    int seq, prefix, len;
} row_plan;

/* The masked input of coalition PRESENT in compacted form: for each token
 * of the input actually fed, its original position SRC[j] and whether it is
 * masked MSK[j] (replaced, zeroed or hidden; never set for DELETE, which
 * drops the token). Returns the length. A TOKEN-masked token whose id already
 * is the mask token counts as unmasked: the input is the same. */
static int build_seq(const perturb_model *pm, const uint8_t *present, int32_t *src, uint8_t *msk) {
    const int32_t *fot = pm->c->feature_of_token, *ids = pm->c->ids;
    int len = 0;
    for (int i = 0; i < pm->n; i++) {
        int masked = fot[i] >= 0 && !present[fot[i]];
        if (masked && pm->mask == ATTRIB_MASK_DELETE) continue;
        if (masked && pm->mask == ATTRIB_MASK_TOKEN && ids[i] == pm->mask_token) masked = 0;
        src[len] = i;
        msk[len] = (uint8_t)masked;
        len++;
    }
    return len;
}

static int common_prefix(const int32_t *sa, const uint8_t *ma, int la, const int32_t *sb, const uint8_t *mb, int lb) {
    int l = la < lb ? la : lb, j = 0;
    while (j < l && sa[j] == sb[j] && ma[j] == mb[j]) j++;
    return j;
}

static row_plan plan_row(const perturb_model *pm, const uint8_t *present) {
    row_plan p;
    p.len = build_seq(pm, present, pm->s_src, pm->s_msk);
    int best = -1;
    p.seq = 0;
    for (int s = 0; s < 2; s++) {
        int l = common_prefix(pm->s_src, pm->s_msk, p.len, pm->src[s], pm->msk[s], pm->len[s]);
        if (l > best) {
            best = l;
            p.seq = s;
        }
    }
    /* the last token always runs: its logits are the target */
    p.prefix = best < p.len ? best : p.len - 1;
    return p;
}

/* Input of compacted token J of a sequence: the id fed, and (ZERO) whether
 * its embedding is zeroed. */
static int32_t fed_id(const perturb_model *pm, int32_t src, uint8_t msk) {
    return (msk && pm->mask == ATTRIB_MASK_TOKEN) ? pm->mask_token : pm->c->ids[src];
}

/* Per-pass arrays, sized once per values() call for its largest pass. */
typedef struct pass_buf {
    int32_t *tokens;
    float *emb;
    uint8_t *key_mask;
    int32_t *lengths, *cache_seq, *prefix_len;
    float *logits;   /* (rows, V) */
    float *hidden;   /* PROBE: (rows, T, C) for mean pooling, (rows, C) for last */
    int32_t *pool_start; /* PROBE: (rows) first pooled position of each row's sequence */
} pass_buf;

static void pass_buf_free(pass_buf *b) {
    free(b->tokens);
    free(b->emb);
    free(b->key_mask);
    free(b->lengths);
    free(b->cache_seq);
    free(b->prefix_len);
    free(b->logits);
    free(b->hidden);
    free(b->pool_start);
    memset(b, 0, sizeof *b);
}

static attrib_status pass_buf_alloc(pass_buf *b, const perturb_model *pm, int rows, size_t bt) {
    memset(b, 0, sizeof *b);
    if (pm->mask == ATTRIB_MASK_ZERO) {
        size_t nf;
        if (!attrib_mul_ok(bt, (size_t)pm->C, &nf)) return attrib_fail(ATTRIB_E_LIMIT, "perturbation pass too large");
        b->emb = attrib_calloc_array(nf, sizeof(float));
    } else {
        b->tokens = attrib_calloc_array(bt, sizeof(int32_t));
    }
    b->key_mask = attrib_calloc_array(bt, 1);
    b->lengths = attrib_calloc_array((size_t)rows, sizeof(int32_t));
    b->cache_seq = attrib_calloc_array((size_t)rows, sizeof(int32_t));
    b->prefix_len = attrib_calloc_array((size_t)rows, sizeof(int32_t));
    if (pm->probe) {
        size_t nh;
        const size_t hrows = pm->probe->pool == ATTRIB_POOL_MEAN ? bt : (size_t)rows;
        if (!attrib_mul_ok(hrows, (size_t)pm->C, &nh)) return attrib_fail(ATTRIB_E_LIMIT, "perturbation pass too large");
        b->hidden = attrib_calloc_array(nh, sizeof(float));
        b->pool_start = attrib_calloc_array((size_t)rows, sizeof(int32_t));
    } else {
        b->logits = attrib_calloc_array((size_t)rows, (size_t)pm->V * sizeof(float));
    }
    if ((!b->emb && !b->tokens) || !b->key_mask || !b->lengths || !b->cache_seq || !b->prefix_len ||
        (pm->probe ? (!b->hidden || !b->pool_start) : !b->logits)) {
        pass_buf_free(b);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory for a perturbation pass of %d rows, %zu tokens", rows, bt);
    }
    return ATTRIB_OK;
}

/* Writes row R of a pass: tokens [from, len) of a compacted sequence,
 * right-padded to T with hidden filler. */
static void fill_row(const perturb_model *pm, pass_buf *b, int r, int T, const int32_t *src, const uint8_t *msk, int from,
                     int len) {
    const int C = pm->C;
    for (int t = 0; t < T; t++) {
        const size_t at = (size_t)r * T + t;
        const int j = from + t;
        const int real = j < len;
        b->key_mask[at] = (uint8_t)(real && !(pm->mask == ATTRIB_MASK_ATTENTION && msk[j]));
        if (b->tokens) b->tokens[at] = real ? fed_id(pm, src[j], msk[j]) : pm->c->ids[0];
        if (b->emb) {
            float *row = b->emb + at * C;
            if (real && !msk[j]) memcpy(row, pm->emb + (size_t)src[j] * C, (size_t)C * sizeof(float));
            else memset(row, 0, (size_t)C * sizeof(float));
        }
    }
    b->lengths[r] = len - from;
}

/* First pooled position of a compacted sequence (see probe_pool_start):
 * whether the token fed first is BOS. */
static int seq_pool_start(const perturb_model *pm, const int32_t *src, const uint8_t *msk, int len) {
    if (len < 2) return 0;
    if (msk[0] && pm->mask == ATTRIB_MASK_ZERO) return 0;
    const int32_t first = fed_id(pm, src[0], msk[0]);
    const attrib_tokenizer *tok = pm->c->m->tok;
    return tok && attrib_tokenizer_bos(tok) >= 0 && first == attrib_tokenizer_bos(tok);
}

/* The probe's logit for row R of a pass of suffix length T: the row
 * continues cached sequence SEQ after PREFIX positions and has LEN in all. */
static double probe_row_value(const perturb_model *pm, const pass_buf *b, int r, int T, int seq, int prefix, int len, float *h) {
    const int C = pm->C;
    if (pm->probe->pool == ATTRIB_POOL_LAST) return attrib_probe_logit(pm->probe, b->hidden + (size_t)r * C);
    const int start = b->pool_start[r], from = start < prefix ? start : prefix;
    const double *cum = pm->cum[seq];
    for (int d = 0; d < C; d++) {
        double sum = cum[(size_t)prefix * C + d] - cum[(size_t)from * C + d];
        for (int t = 0; t < len - prefix; t++)
            if (prefix + t >= start) sum += b->hidden[((size_t)r * T + t) * C + d];
        h[d] = (float)(sum / (len - start));
    }
    return attrib_probe_logit(pm->probe, h);
}

/* Rows per pass of suffix length T (at most WANT). */
static int pass_rows(const perturb_model *pm, int T, int want) {
    const explain_ctx *c = pm->c;
    int rows;
    if (c->opt.batch > 0) {
        rows = c->opt.batch;
    } else {
        const attrib_model_info *in = &c->m->info;
        const size_t qd = (size_t)in->n_head * in->head_dim, kvd = (size_t)in->n_head_kv * in->head_dim;
        const size_t big = (size_t)in->n_ff > qd ? (size_t)in->n_ff : qd;
        /* floats per token in attrib_forward plus our own input arrays */
        const size_t per_tok = 5 * (size_t)in->n_embd + qd + 2 * kvd + big + (size_t)in->n_ff + (size_t)in->head_dim + 2;
        const size_t per_row = ((size_t)T * per_tok + (size_t)in->n_vocab) * sizeof(float);
        const size_t budget = c->opt.memory_budget ? c->opt.memory_budget : ((size_t)1 << 30);
        size_t r = budget / per_row;
        size_t cap = PASS_TOKENS / (size_t)T;
        if (r > cap) r = cap;
        if (r > PASS_ROWS) r = PASS_ROWS;
        rows = r < 1 ? 1 : (r > (1 << 20) ? (1 << 20) : (int)r);
    }
    return rows < want ? rows : want;
}

/* Sort order of planned rows: longest suffix first, then coalition index
 * (deterministic). */
typedef struct plan_order_ctx {
    const row_plan *p;
} plan_order_ctx;

static int cmp_plan(const void *ctx, int a, int b) {
    const row_plan *p = ((const plan_order_ctx *)ctx)->p;
    int sa = p[a].len - p[a].prefix, sb = p[b].len - p[b].prefix;
    if (sa != sb) return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

/* Splits the sorted rows into passes of consecutive rows: a pass's length
 * is its first (longest) suffix, the others are padded to it. Minimises
 * sum over passes of (PASS_OVERHEAD_TOKENS + rows * length) by dynamic
 * programming, within pass_rows() rows per pass: one pass of very unequal
 * suffixes wastes padding, many small passes waste the per-pass cost of
 * streaming every weight once. CUT[i] = the first row after the pass that
 * starts at row i. */
static attrib_status split_passes(const perturb_model *pm, const row_plan *plan, const int *order, int m, int *cut) {
    int64_t *best = attrib_calloc_array((size_t)m + 1, sizeof *best);
    if (!best) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    best[m] = 0;
    for (int i = m - 1; i >= 0; i--) {
        const int T = plan[order[i]].len - plan[order[i]].prefix;
        const int maxr = pass_rows(pm, T, m - i);
        best[i] = INT64_MAX;
        for (int r = 1; r <= maxr; r++) {
            const int64_t cost = PASS_OVERHEAD_TOKENS + (int64_t)r * T + best[i + r];
            if (cost < best[i]) { /* ties: the fewest rows, deterministic */
                best[i] = cost;
                cut[i] = i + r;
            }
        }
    }
    free(best);
    return ATTRIB_OK;
}

attrib_status perturb_model_values(void *ctx, const uint8_t *const *present, int m, double *values) {
    perturb_model *pm = ctx;
    explain_ctx *c = pm->c;
    if (m <= 0) return ATTRIB_OK;
    row_plan *plan = attrib_calloc_array((size_t)m, sizeof *plan);
    int *order = attrib_calloc_array((size_t)m, sizeof *order);
    int *cut = attrib_calloc_array((size_t)m + 1, sizeof *cut);
    int32_t *rsrc = attrib_calloc_array((size_t)pm->n, sizeof(int32_t));
    uint8_t *rmsk = attrib_calloc_array((size_t)pm->n, 1);
    float *hvec = attrib_calloc_array((size_t)pm->C, sizeof(float));
    pass_buf b = {0};
    attrib_status s = ATTRIB_OK;
    if (!plan || !order || !cut || !rsrc || !rmsk || !hvec) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < m; k++) {
        plan[k] = plan_row(pm, present[k]);
        order[k] = k;
    }
    plan_order_ctx oc = {plan};
    if ((s = attrib_sort_indices(order, m, cmp_plan, &oc))) goto done;
    if ((s = split_passes(pm, plan, order, m, cut))) goto done;
    /* the buffers hold the largest pass (rows and tokens) of this call */
    int cap_rows = 1;
    size_t cap_tok = 1;
    for (int i = 0; i < m; i = cut[i]) {
        const int T = plan[order[i]].len - plan[order[i]].prefix;
        const int rows = cut[i] - i;
        if (rows > cap_rows) cap_rows = rows;
        if ((size_t)rows * (size_t)T > cap_tok) cap_tok = (size_t)rows * (size_t)T;
    }
    if ((s = pass_buf_alloc(&b, pm, cap_rows, cap_tok))) goto done;
    for (int i = 0; i < m;) {
        const int T = plan[order[i]].len - plan[order[i]].prefix;
        const int rows = cut[i] - i;
        for (int r = 0; r < rows; r++) {
            const int k = order[i + r];
            const int len = build_seq(pm, present[k], rsrc, rmsk);
            fill_row(pm, &b, r, T, rsrc, rmsk, plan[k].prefix, len);
            if (b.pool_start) b.pool_start[r] = seq_pool_start(pm, rsrc, rmsk, len);
            b.cache_seq[r] = plan[k].seq;
            b.prefix_len[r] = plan[k].prefix;
            pm->n_tok_full += len;
        }
        attrib_batch bt = {.n_seq = rows,
                           .n_tokens = T,
                           .tokens = b.tokens,
                           .embeddings = b.emb,
                           .key_mask = b.key_mask,
                           .lengths = b.lengths,
                           .cache_seq = b.cache_seq,
                           .prefix_len = b.prefix_len,
                           .store = 0,
                           .logits_mode = ATTRIB_LOGITS_LAST};
        if (pm->probe) {
            bt.logits_mode = pm->probe->pool == ATTRIB_POOL_MEAN ? ATTRIB_LOGITS_ALL : ATTRIB_LOGITS_LAST;
            bt.hidden_layer = pm->probe->layer;
            bt.hidden_out = b.hidden;
        }
        if ((s = attrib_forward(c->m, &bt, pm->cache, b.logits))) goto done;
        for (int r = 0; r < rows; r++) {
            const int k = order[i + r];
            double v = pm->probe ? probe_row_value(pm, &b, r, T, plan[k].seq, plan[k].prefix, plan[k].len, hvec)
                                 : explain_target_value(c, b.logits + (size_t)r * pm->V);
            if (!isfinite(v)) {
                s = attrib_fail(ATTRIB_E_NUMERIC, "the target of a masked input is not finite");
                goto done;
            }
            values[order[i + r]] = v;
        }
        pm->n_seq += rows;
        pm->n_tok += (int64_t)rows * T;
        pm->done += rows;
        i += rows;
        if (pm->total > 0) explain_progress(c, pm->done < pm->total ? pm->done : pm->total, pm->total);
    }
done:
    pass_buf_free(&b);
    free(plan);
    free(order);
    free(cut);
    free(rsrc);
    free(rmsk);
    free(hvec);
    return s;
}

/* ------------------------------------------------- permutation chains */

/* Slots that fit the chain budget (at least one, at most WANT). */
static int chain_slots(const perturb_model *pm, int want) {
    const attrib_model_info *in = &pm->c->m->info;
    const size_t budget = pm->c->opt.memory_budget ? pm->c->opt.memory_budget : CHAIN_BUDGET;
    size_t per = 2 * sizeof(float) * (size_t)in->n_layer;
    if (!attrib_mul_ok(per, (size_t)in->n_head_kv * in->head_dim, &per) || !attrib_mul_ok(per, (size_t)pm->n, &per)) return 1;
    const size_t fit = budget / (per ? per : 1);
    return fit < 1 ? 1 : (fit < (size_t)want ? (int)fit : want);
}

/* Scratch of one chains call: S slots of the prompt's length. */
typedef struct chain_state {
    attrib_cache *cache;   /* S sequences: slot q = permutation q of the group */
    uint8_t *present;      /* (S, nf) the current level's coalitions */
    int32_t *src, *slot_src; /* (S, n) compacted inputs: current level, held by each slot */
    uint8_t *msk, *slot_msk;
    int *len, *slot_len;   /* (S); slot_len -1 = slot empty */
    int *leader;           /* (S) first permutation of the group with the same coalition */
    double *val;           /* (S) */
    row_plan *plan;        /* (S) seq: -1 = the slot itself, 0/1 = pm->cache */
    int *order, *cut;      /* (S), (S + 1) */
} chain_state;

static void chain_state_free(chain_state *st) {
    attrib_cache_free(st->cache);
    free(st->present);
    free(st->src);
    free(st->slot_src);
    free(st->msk);
    free(st->slot_msk);
    free(st->len);
    free(st->slot_len);
    free(st->leader);
    free(st->val);
    free(st->plan);
    free(st->order);
    free(st->cut);
}

static attrib_status chain_state_alloc(chain_state *st, const perturb_model *pm, int S) {
    const size_t nf = (size_t)(pm->c->n_features > 0 ? pm->c->n_features : 1), n = (size_t)pm->n;
    memset(st, 0, sizeof *st);
    attrib_status s = attrib_cache_new(pm->c->m, S, pm->n, &st->cache);
    if (s) return s;
    st->present = attrib_calloc_array((size_t)S, nf);
    st->src = attrib_calloc_array((size_t)S * n, sizeof(int32_t));
    st->slot_src = attrib_calloc_array((size_t)S * n, sizeof(int32_t));
    st->msk = attrib_calloc_array((size_t)S, n);
    st->slot_msk = attrib_calloc_array((size_t)S, n);
    st->len = attrib_calloc_array((size_t)S, sizeof(int));
    st->slot_len = attrib_calloc_array((size_t)S, sizeof(int));
    st->leader = attrib_calloc_array((size_t)S, sizeof(int));
    st->val = attrib_calloc_array((size_t)S, sizeof(double));
    st->plan = attrib_calloc_array((size_t)S, sizeof(row_plan));
    st->order = attrib_calloc_array((size_t)S, sizeof(int));
    st->cut = attrib_calloc_array((size_t)S + 1, sizeof(int));
    if (!st->present || !st->src || !st->slot_src || !st->msk || !st->slot_msk || !st->len || !st->slot_len || !st->leader ||
        !st->val || !st->plan || !st->order || !st->cut) {
        chain_state_free(st);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory for %d permutation chains", S);
    }
    return ATTRIB_OK;
}

/* Where row Q of a level continues from: its own slot (seq -1) or cached
 * sequence 0/1, whichever shares the longer prefix. */
static row_plan chain_plan(const perturb_model *pm, const chain_state *st, int q) {
    const size_t n = (size_t)pm->n;
    const int32_t *src = st->src + q * n;
    const uint8_t *msk = st->msk + q * n;
    row_plan p = {.seq = -1, .prefix = -1, .len = st->len[q]};
    if (st->slot_len[q] >= 0)
        p.prefix = common_prefix(src, msk, p.len, st->slot_src + q * n, st->slot_msk + q * n, st->slot_len[q]);
    for (int s = 0; s < 2; s++) {
        const int l = common_prefix(src, msk, p.len, pm->src[s], pm->msk[s], pm->len[s]);
        if (l > p.prefix) {
            p.prefix = l;
            p.seq = s;
        }
    }
    if (p.prefix >= p.len) p.prefix = p.len - 1; /* the last token always runs: its logits are the target */
    return p;
}

/* Runs the rows ORDER[0..m) of one level (distinct coalitions, sorted by
 * suffix), storing each into its slot; writes st->val. */
static attrib_status chain_level(perturb_model *pm, chain_state *st, pass_buf *b, int m) {
    explain_ctx *c = pm->c;
    const size_t n = (size_t)pm->n;
    attrib_status s = split_passes(pm, st->plan, st->order, m, st->cut);
    if (s) return s;
    for (int i = 0; i < m;) {
        const int T = st->plan[st->order[i]].len - st->plan[st->order[i]].prefix;
        const int rows = st->cut[i] - i;
        for (int r = 0; r < rows; r++) {
            const int q = st->order[i + r], L = st->len[q];
            const int start = L > T ? L - T : 0; /* <= the prefix: T is the pass's longest suffix */
            if (st->plan[q].seq < 0) s = attrib_cache_truncate(st->cache, q, start);
            else s = cache_copy_seq(st->cache, q, pm->cache, st->plan[q].seq, start);
            if (s) return s;
            fill_row(pm, b, r, T, st->src + q * n, st->msk + q * n, start, L);
            b->cache_seq[r] = q;
            pm->n_tok_full += L;
        }
        attrib_batch bt = {.n_seq = rows,
                           .n_tokens = T,
                           .tokens = b->tokens,
                           .embeddings = b->emb,
                           .key_mask = b->key_mask,
                           .lengths = b->lengths,
                           .cache_seq = b->cache_seq,
                           .store = 1,
                           .logits_mode = ATTRIB_LOGITS_LAST};
        if (pm->probe) { /* last-token pooling only (perturb_model_chain_fn) */
            bt.hidden_layer = pm->probe->layer;
            bt.hidden_out = b->hidden;
        }
        if ((s = attrib_forward(c->m, &bt, st->cache, b->logits))) return s;
        for (int r = 0; r < rows; r++) {
            const int q = st->order[i + r];
            const double v = pm->probe ? attrib_probe_logit(pm->probe, b->hidden + (size_t)r * pm->C)
                                       : explain_target_value(c, b->logits + (size_t)r * pm->V);
            if (!isfinite(v)) return attrib_fail(ATTRIB_E_NUMERIC, "the target of a masked input is not finite");
            st->val[q] = v;
        }
        pm->n_seq += rows;
        pm->n_tok += (int64_t)rows * T;
        i += rows;
    }
    return ATTRIB_OK;
}

static attrib_status model_chains(void *ctx, const int *perms, int n_perm, double *values, int64_t *n_evals) {
    perturb_model *pm = ctx;
    const int nf = pm->c->n_features, per = nf - 1;
    const size_t n = (size_t)pm->n;
    if (per < 1 || n_perm < 1) return ATTRIB_OK;
    const int S = chain_slots(pm, n_perm);
    chain_state st;
    pass_buf b = {0};
    attrib_status s = chain_state_alloc(&st, pm, S);
    if (s) return s;
    size_t cap_tok = 1; /* the largest pass split_passes can form */
    for (int T = 1; T <= pm->n; T++)
        if ((size_t)pass_rows(pm, T, S) * T > cap_tok) cap_tok = (size_t)pass_rows(pm, T, S) * T;
    if ((s = pass_buf_alloc(&b, pm, pass_rows(pm, 1, S), cap_tok))) goto done;
    for (int g0 = 0; g0 < n_perm; g0 += S) {
        const int G = n_perm - g0 < S ? n_perm - g0 : S;
        memset(st.present, 0, (size_t)G * nf);
        for (int q = 0; q < G; q++) st.slot_len[q] = -1;
        for (int k = 1; k <= per; k++) {
            int m = 0;
            for (int q = 0; q < G; q++) {
                uint8_t *pr = st.present + (size_t)q * nf;
                pr[perms[(size_t)(g0 + q) * nf + k - 1]] = 1;
                st.len[q] = build_seq(pm, pr, st.src + q * n, st.msk + q * n);
                st.leader[q] = q;
                for (int q2 = 0; q2 < q; q2++)
                    if (st.leader[q2] == q2 && memcmp(st.present + (size_t)q2 * nf, pr, (size_t)nf) == 0) {
                        st.leader[q] = q2;
                        break;
                    }
                if (st.leader[q] != q) continue;
                st.plan[q] = chain_plan(pm, &st, q);
                st.order[m++] = q;
            }
            plan_order_ctx oc = {st.plan};
            if ((s = attrib_sort_indices(st.order, m, cmp_plan, &oc))) goto done;
            if ((s = chain_level(pm, &st, &b, m))) goto done;
            for (int q = 0; q < G; q++) {
                const int l = st.leader[q];
                if (l != q && (s = cache_copy_seq(st.cache, q, st.cache, l, st.len[l]))) goto done;
                memcpy(st.slot_src + q * n, st.src + l * n, (size_t)st.len[l] * sizeof(int32_t));
                memcpy(st.slot_msk + q * n, st.msk + l * n, (size_t)st.len[l]);
                st.slot_len[q] = st.len[l];
                values[(size_t)(g0 + q) * per + k - 1] = st.val[l];
            }
            *n_evals += m;
            pm->done += G;
            if (pm->total > 0) explain_progress(pm->c, pm->done < pm->total ? pm->done : pm->total, pm->total);
        }
    }
done:
    pass_buf_free(&b);
    chain_state_free(&st);
    return s;
}

chain_fn perturb_model_chain_fn(const perturb_model *pm) {
    /* without room for two slots a level would be one row per pass: the
     * estimator's row-wise path batches across permutations instead */
    if (chain_slots(pm, 2) < 2) return NULL;
    return pm->probe && pm->probe->pool == ATTRIB_POOL_MEAN ? NULL : model_chains;
}

void perturb_model_free(perturb_model *pm) {
    if (!pm) return;
    attrib_cache_free(pm->cache);
    for (int s = 0; s < 2; s++) {
        free(pm->src[s]);
        free(pm->msk[s]);
    }
    free(pm->emb);
    free(pm->cum[0]);
    free(pm->cum[1]);
    free(pm->s_src);
    free(pm->s_msk);
    free(pm);
}

double perturb_model_f_none(const perturb_model *pm) { return pm->f_none; }

void perturb_model_counts(const perturb_model *pm, int64_t *n_seq, int64_t *n_tokens, int64_t *n_tokens_full) {
    if (n_seq) *n_seq = pm->n_seq;
    if (n_tokens) *n_tokens = pm->n_tok;
    if (n_tokens_full) *n_tokens_full = pm->n_tok_full;
}

void perturb_model_set_total(perturb_model *pm, int64_t total) {
    pm->total = total;
    pm->done = 0;
}

attrib_status perturb_model_new(explain_ctx *c, perturb_model **out) {
    const int n = c->n, C = c->m->info.n_embd, V = c->m->info.n_vocab;
    if (c->opt.mask == ATTRIB_MASK_TOKEN && (c->opt.mask_token < 0 || c->opt.mask_token >= V))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "token masking needs a mask token in [0, %d)", V);
    if (c->opt.mask == ATTRIB_MASK_DELETE) {
        int fixed = 0;
        for (int i = 0; i < n; i++) fixed += c->feature_of_token[i] < 0;
        if (!fixed)
            return attrib_fail(ATTRIB_E_INVALID_ARG,
                               "delete masking needs at least one fixed token (e.g. BOS) outside the attribution span: "
                               "deleting every feature would leave an empty input");
    }
    perturb_model *pm = attrib_calloc_array(1, sizeof *pm);
    if (!pm) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    pm->c = c;
    pm->n = n;
    pm->C = C;
    pm->V = V;
    pm->mask = c->opt.mask;
    pm->mask_token = c->opt.mask_token;
    pm->probe = c->probe;
    pm->f_none = NAN;
    attrib_status s = ATTRIB_OK;
    uint8_t *all = attrib_calloc_array((size_t)(c->n_features > 0 ? c->n_features : 1), 1);
    pass_buf b = {0};
    for (int k = 0; k < 2; k++) {
        pm->src[k] = attrib_calloc_array((size_t)n, sizeof(int32_t));
        pm->msk[k] = attrib_calloc_array((size_t)n, 1);
    }
    pm->s_src = attrib_calloc_array((size_t)n, sizeof(int32_t));
    pm->s_msk = attrib_calloc_array((size_t)n, 1);
    if (!all || !pm->src[0] || !pm->src[1] || !pm->msk[0] || !pm->msk[1] || !pm->s_src || !pm->s_msk) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }
    if (pm->mask == ATTRIB_MASK_ZERO) {
        pm->emb = attrib_calloc_array((size_t)n, (size_t)C * sizeof(float));
        if (!pm->emb) {
            s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
            goto fail;
        }
        if ((s = attrib_model_embed(c->m, c->ids, (size_t)n, pm->emb))) goto fail;
    }
    /* sequence 0: every feature present; sequence 1: none */
    memset(all, 1, (size_t)c->n_features);
    pm->len[0] = build_seq(pm, all, pm->src[0], pm->msk[0]);
    memset(all, 0, (size_t)c->n_features);
    pm->len[1] = build_seq(pm, all, pm->src[1], pm->msk[1]);
    if ((s = attrib_cache_new(c->m, 2, n, &pm->cache))) goto fail;
    /* with a prefix cache (explain.c) both sequences start from its
     * positions: all of them, but never a sequence's last token, whose
     * logits are read (a sequence that deletes everything after the prefix) */
    int start[2] = {0, 0}, T = 1;
    for (int k = 0; k < 2; k++) {
        if (c->kv) {
            start[k] = c->P < pm->len[k] - 1 ? c->P : pm->len[k] - 1;
            if ((s = cache_copy_seq(pm->cache, k, c->kv, 0, start[k]))) goto fail;
        }
        if (pm->len[k] - start[k] > T) T = pm->len[k] - start[k];
    }
    if ((s = pass_buf_alloc(&b, pm, 2, 2 * (size_t)T))) goto fail;
    for (int k = 0; k < 2; k++) {
        fill_row(pm, &b, k, T, pm->src[k], pm->msk[k], start[k], pm->len[k]);
        if (b.pool_start) b.pool_start[k] = seq_pool_start(pm, pm->src[k], pm->msk[k], pm->len[k]);
    }
    attrib_batch bt = {.n_seq = 2,
                       .n_tokens = T,
                       .tokens = b.tokens,
                       .embeddings = b.emb,
                       .key_mask = b.key_mask,
                       .lengths = b.lengths,
                       .store = 1,
                       .logits_mode = ATTRIB_LOGITS_LAST};
    if (pm->probe) {
        bt.logits_mode = pm->probe->pool == ATTRIB_POOL_MEAN ? ATTRIB_LOGITS_ALL : ATTRIB_LOGITS_LAST;
        bt.hidden_layer = pm->probe->layer;
        bt.hidden_out = b.hidden;
    }
    if ((s = attrib_forward(c->m, &bt, pm->cache, b.logits))) goto fail;
    pm->n_seq = 2;
    pm->n_tok = 2 * (int64_t)T;
    pm->n_tok_full = pm->len[0] + pm->len[1];
    if (pm->probe) {
        if (pm->probe->pool == ATTRIB_POOL_MEAN)
            for (int k = 0; k < 2; k++) {
                pm->cum[k] = attrib_calloc_array((size_t)n + 1, (size_t)C * sizeof(double));
                if (!pm->cum[k]) {
                    s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
                    goto fail;
                }
                for (int j = 0; j < pm->len[k]; j++) /* (no prefix cache for mean pooling: start[k] == 0) */
                    for (int d = 0; d < C; d++)
                        pm->cum[k][(size_t)(j + 1) * C + d] = pm->cum[k][(size_t)j * C + d] + b.hidden[((size_t)k * T + j) * C + d];
            }
        float *h = attrib_calloc_array((size_t)C, sizeof(float));
        if (!h) {
            s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
            goto fail;
        }
        /* sequence 1 as a row continuing itself after its start[1] copied positions */
        pm->f_none = probe_row_value(pm, &b, 1, T, 1, start[1], pm->len[1], h);
        free(h);
    } else {
        pm->f_none = explain_target_value(c, b.logits + V);
    }
    if (!isfinite(pm->f_none)) {
        s = attrib_fail(ATTRIB_E_NUMERIC, "the target with every feature masked is not finite");
        goto fail;
    }
    pass_buf_free(&b);
    free(all);
    *out = pm;
    return ATTRIB_OK;
fail:
    pass_buf_free(&b);
    free(all);
    perturb_model_free(pm);
    return s;
}

/* ------------------------------------------------------------- occlusion */

/* Occlusion over features: windows of WINDOW consecutive features starting
 * at 0, STRIDE, 2*STRIDE, ... plus one final window ending at the last
 * feature if the regular ones stop short of it. A window's effect
 * f(x) - f(x with the window masked) is shared equally by its features
 * (effect / width each); a feature's score is the mean of its shares over
 * the windows covering it. With window 1 this is leave-one-out. */
static attrib_status run_occlusion(explain_ctx *c, perturb_model *pm) {
    const int nf = c->n_features;
    const int w = c->opt.window < nf ? c->opt.window : nf, st = c->opt.stride;
    if (st > w && w < nf)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "occlusion stride %d is larger than the window %d: features would be skipped",
                           st, w);
    int nw = (nf - w) / st + 1;
    const int extra = (nw - 1) * st + w < nf;
    nw += extra;
    uint8_t *rows = attrib_calloc_array((size_t)nw, (size_t)nf);
    const uint8_t **ptr = attrib_calloc_array((size_t)nw, sizeof *ptr);
    double *vals = attrib_calloc_array((size_t)nw, sizeof(double));
    int *start = attrib_calloc_array((size_t)nw, sizeof(int));
    int *cover = attrib_calloc_array((size_t)nf, sizeof(int));
    attrib_status s = ATTRIB_OK;
    if (!rows || !ptr || !vals || !start || !cover) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < nw; k++) {
        start[k] = (extra && k == nw - 1) ? nf - w : k * st;
        uint8_t *r = rows + (size_t)k * nf;
        memset(r, 1, (size_t)nf);
        memset(r + start[k], 0, (size_t)w);
        ptr[k] = r;
    }
    perturb_model_set_total(pm, nw);
    if (w == nf) {
        for (int k = 0; k < nw; k++) vals[k] = perturb_model_f_none(pm); /* the one window masks everything */
    } else {
        for (int k0 = 0; k0 < nw && !s; k0 += PERTURB_CHUNK) {
            int cnt = nw - k0 < PERTURB_CHUNK ? nw - k0 : PERTURB_CHUNK;
            s = perturb_model_values(pm, ptr + k0, cnt, vals + k0);
        }
        if (s) goto done;
    }
    double *sc = c->res->scores;
    for (int f = 0; f < nf; f++) sc[f] = 0;
    for (int k = 0; k < nw; k++) {
        const double share = (c->res->f_input - vals[k]) / w;
        for (int f = start[k]; f < start[k] + w; f++) {
            sc[f] += share;
            cover[f]++;
        }
    }
    for (int f = 0; f < nf; f++) sc[f] = cover[f] ? sc[f] / cover[f] : 0.0;
done:
    free(rows);
    free(ptr);
    free(vals);
    free(start);
    free(cover);
    return s;
}

/* ---------------------------------------------------------- run functions */

/* One method's estimator on the game G of the value function PM. */
typedef attrib_status (*perturb_solve_fn)(explain_ctx *c, perturb_model *pm, const perturb_game *g);

/* What every perturbation method shares: the value function on masked
 * inputs, f(all masked) as f_baseline, SOLVE, and the passes counted. */
static attrib_status perturb_run(explain_ctx *c, perturb_solve_fn solve) {
    perturb_model *pm = NULL;
    attrib_status s = perturb_model_new(c, &pm);
    if (s) return s;
    attrib_result *r = c->res;
    r->f_baseline = perturb_model_f_none(pm);
    const perturb_game g = {.n = c->n_features,
                            .fn = perturb_model_values,
                            .ctx = pm,
                            .v_all = r->f_input,
                            .v_none = r->f_baseline,
                            .chains = perturb_model_chain_fn(pm)};
    if ((s = solve(c, pm, &g))) goto done;
    int64_t nseq = 0, ntok = 0, nfull = 0;
    perturb_model_counts(pm, &nseq, &ntok, &nfull);
    r->n_forward += nseq;
    explain_progress(c, 1, 1);
done:
    perturb_model_free(pm);
    return s;
}

/* Sampled estimates report a standard error per feature. */
static attrib_status alloc_std_errors(explain_ctx *c) {
    c->res->std_errors = attrib_calloc_array((size_t)c->n_features, sizeof(double));
    return c->res->std_errors ? ATTRIB_OK : attrib_fail(ATTRIB_E_NOMEM, "out of memory");
}

static attrib_status solve_occlusion(explain_ctx *c, perturb_model *pm, const perturb_game *g) {
    (void)g;
    return run_occlusion(c, pm);
}

static attrib_status solve_shapley_exact(explain_ctx *c, perturb_model *pm, const perturb_game *g) {
    int64_t evals = 0;
    perturb_model_set_total(pm, g->n < 62 ? ((int64_t)1 << g->n) - 2 : 0);
    return perturb_shapley_exact(g, c->res->scores, &evals);
}

static attrib_status solve_shapley(explain_ctx *c, perturb_model *pm, const perturb_game *g) {
    int64_t evals = 0;
    attrib_status s = alloc_std_errors(c);
    if (s) return s;
    perturb_model_set_total(pm, (int64_t)c->opt.samples * (g->n > 1 ? g->n - 1 : 0));
    return perturb_shapley_permutation(g, c->opt.samples, 1, c->opt.seed, c->res->scores, c->res->std_errors, &evals);
}

static attrib_status solve_kernelshap(explain_ctx *c, perturb_model *pm, const perturb_game *g) {
    int64_t evals = 0;
    attrib_status s = alloc_std_errors(c);
    if (s) return s;
    perturb_model_set_total(pm, c->opt.samples + (c->opt.samples & 1));
    return perturb_kernelshap(g, c->opt.samples, c->opt.seed, c->res->scores, c->res->std_errors, &evals);
}

static attrib_status solve_lime(explain_ctx *c, perturb_model *pm, const perturb_game *g) {
    int64_t evals = 0;
    attrib_status s = alloc_std_errors(c);
    if (s) return s;
    perturb_model_set_total(pm, c->opt.samples);
    return perturb_lime(g, c->opt.samples, c->opt.lime_kernel_width, c->opt.lime_ridge, c->opt.seed, c->res->scores,
                        c->res->std_errors, &evals);
}

attrib_status perturb_occlusion_run(explain_ctx *c) { return perturb_run(c, solve_occlusion); }

attrib_status perturb_shapley_exact_run(explain_ctx *c) {
    const int nf = c->n_features;
    int lim = c->opt.max_exact_features > 0 ? c->opt.max_exact_features : 16;
    if (lim > PERTURB_EXACT_HARD_LIMIT) lim = PERTURB_EXACT_HARD_LIMIT;
    if (nf > lim) /* before any pass */
        return attrib_fail(ATTRIB_E_LIMIT,
                           "exact Shapley values need 2^n model evaluations and %d features exceed the limit of %d: "
                           "group tokens into words (fewer features), or use sampling (--method shapley or kernelshap)",
                           nf, lim);
    return perturb_run(c, solve_shapley_exact);
}

attrib_status perturb_shapley_run(explain_ctx *c) { return perturb_run(c, solve_shapley); }
attrib_status perturb_kernelshap_run(explain_ctx *c) { return perturb_run(c, solve_kernelshap); }
attrib_status perturb_lime_run(explain_ctx *c) { return perturb_run(c, solve_lime); }
