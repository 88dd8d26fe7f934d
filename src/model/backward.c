/*
 * backward.c — the input gradient of the model: d target / d input
 * embeddings, for a batch of sequences at once (the IG interpolation points,
 * the SmoothGrad samples). Only activation gradients are computed: no
 * weight gradients, no optimiser state.
 *
 * The forward half keeps, per layer, only what the backward reads: the
 * residual stream before attention and before the FFN (RMSNorm backward
 * recomputes its statistics from them), Q and K after RoPE, V, each query's
 * attention log-sum-exp (probabilities are recomputed rather than stored:
 * O(T) instead of O(T^2) per head), and the FFN's gate and up activations.
 * The backward mirrors the forward in reverse:
 *
 *   forward (per layer)                     backward (reverse order)
 *   xn = rmsnorm(x)                          dx  = dh + rmsnorm'(x)^T dxn
 *   q,k,v = xn W^T; rope(q), rope(k)         dxn = dq Wq + dk Wk + dv Wv; rope^T
 *   a = attention(q, k, v)                   dq, dk, dv = attention'(da)
 *   h = x + a Wo^T                           da  = dh Wo
 *   hn = rmsnorm(h)                          dh  = dy + rmsnorm'(h)^T dhn
 *   y = h + (silu(hn Wg^T) * hn Wu^T) Wd^T   dhn = dg Wg + du Wu; dg, du = swiglu'(dy Wd)
 */
#include "model/backward.h"

#include "model/kernels.h"
#include "task/probe.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* Floats kept per token per layer (see the layout in attrib_grad_pass). */
static size_t tape_floats_per_token(const attrib_model_info *in) {
    const size_t C = in->n_embd, qd = (size_t)in->n_head * in->head_dim, kvd = (size_t)in->n_head_kv * in->head_dim;
    return 2 * C + qd + 2 * kvd + in->n_head + 2 * (size_t)in->n_ff;
}

size_t attrib_grad_pass_bytes(const attrib_model *m, int B, int T) {
    const attrib_model_info *in = &m->info;
    const size_t N = (size_t)B * T;
    return sizeof(float) * (N * in->n_layer * tape_floats_per_token(in) + N * (size_t)(6 * in->n_embd + 4 * in->n_ff));
}

/* Input-gradient products: whole-matrix dequantisation + column tiles when
 * the group's quantised matrices fit WFULL_MAX floats, else fixed row chunks
 * with partial sums (e.g. a quantised output matrix of a large vocabulary). */
#define WFULL_MAX ((size_t)16 << 20)

static size_t dequant_floats(const attrib_weight *const *W, int n) {
    size_t need = 0;
    for (int j = 0; j < n; j++)
        if (W[j]->type != ATTRIB_DTYPE_F32) need += (size_t)W[j]->rows * W[j]->cols;
    return need;
}

typedef struct bwd_scratch {
    float *wfull, *partials, *wscratch;
    size_t wpt;
    int nt;
} bwd_scratch;

static void input_grad(float *din, int n, const float *const *dout, const attrib_weight *const *W, int64_t N,
                       const bwd_scratch *sc) {
    size_t need = dequant_floats(W, n);
    if (need <= WFULL_MAX) {
        matmul_dequant_whole(sc->wfull, W, n, sc->nt);
        matmul_backward_tiled(din, n, dout, W, N, sc->wfull, sc->nt);
    } else {
        matmul_backward_multi(din, n, dout, W, N, sc->partials, sc->wscratch, sc->wpt, sc->nt);
    }
}

/* Scratch floats one product group needs (for the sizing pass). */
static void group_need(const attrib_weight *const *W, int n, int64_t N, size_t *wfull, size_t *partials) {
    size_t need = dequant_floats(W, n);
    if (need <= WFULL_MAX) {
        if (need > *wfull) *wfull = need;
    } else {
        size_t p = matmul_backward_partials(W, n) * (size_t)N * (size_t)W[0]->cols;
        if (p > *partials) *partials = p;
    }
}

attrib_status attrib_grad_pass(attrib_model *m, const float *emb, int B, int T, const grad_readout *ro, float *grad,
                               double *values) {
    const attrib_model_info *in = &m->info;
    const attrib_probe *probe = ro->probe;
    /* a probe reads the residual stream after its layer: the blocks above it play no part */
    const int C = in->n_embd, H = in->n_head, Hkv = in->n_head_kv, D = in->head_dim, F = in->n_ff, V = in->n_vocab,
              Lyr = probe ? probe->layer : in->n_layer, nt = m->n_threads;
    if (probe && (probe->layer < 0 || probe->layer > in->n_layer || probe->dim != C || ro->pool_start < 0 || ro->pool_start >= T))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the probe does not fit this model or input");
    const int64_t N = (int64_t)B * T, qd = (int64_t)H * D, kvd = (int64_t)Hkv * D;
    if (B < 1 || T < 1 || T > in->n_ctx_train || N > (1 << 22))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "gradient pass of %d x %d tokens is empty or too large", B, T);
    openblas_set_num_threads(1);

    /* scratch sizes that depend on the weights */
    size_t wpt = 0, chunks = 0, wfull = 0;
    {
        const attrib_weight *top[] = {&m->output};
        wpt = matmul_scratch_floats(top, 1);
        size_t w2 = matmul_backward_scratch_floats(top, 1);
        wpt = w2 > wpt ? w2 : wpt;
        group_need(top, 1, B, &wfull, &chunks);
        for (int l = 0; l < Lyr; l++) {
            const attrib_layer *L = &m->layers[l];
            const attrib_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
            size_t a = matmul_scratch_floats(lw, 7), bb = matmul_backward_scratch_floats(lw, 7);
            wpt = a > wpt ? a : wpt;
            wpt = bb > wpt ? bb : wpt;
            const attrib_weight *qkv[] = {&L->wq, &L->wk, &L->wv}, *gu[] = {&L->w_gate, &L->w_up}, *o[] = {&L->wo},
                                *dn[] = {&L->w_down};
            group_need(qkv, 3, N, &wfull, &chunks);
            group_need(gu, 2, N, &wfull, &chunks);
            group_need(o, 1, N, &wfull, &chunks);
            group_need(dn, 1, N, &wfull, &chunks);
        }
    }
    /* one allocation split into named buffers */
    const size_t per_tok = tape_floats_per_token(in);
    const size_t sizes[] = {
        (size_t)N * per_tok * Lyr,  /* tape */
        (size_t)N * C,              /* x: residual stream / its gradient */
        (size_t)N * C,              /* xn: normalised input / its gradient */
        (size_t)N * C,              /* tmp: projection output / dh */
        (size_t)N * (F > qd ? F : qd), /* act: attention output, swiglu, their gradients */
        (size_t)N * F,              /* dup */
        (size_t)N * qd,             /* dq */
        (size_t)N * kvd * 2,        /* dk, dv */
        (size_t)N * D,              /* RoPE table */
        (size_t)B * V * 2,          /* logits, dlogits */
        (size_t)B * C * 2,          /* last rows, their gradient */
        chunks ? chunks : 1,        /* backward partials (fallback path) */
        wfull ? wfull : 1,          /* whole dequantised matrices (tiled path) */
        (size_t)nt * (wpt ? wpt : 1), /* per-thread dequantisation */
        (size_t)nt * 2 * (size_t)T, /* attention scratch */
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        if (!attrib_add_ok(total, sizes[i], &total)) return attrib_fail(ATTRIB_E_LIMIT, "gradient pass too large");
    }
    float *mem = attrib_model_workspace(m, total);
    int32_t *pos = attrib_calloc_array((size_t)N, sizeof(int32_t));
    attn_kv_view *views = attrib_calloc_array((size_t)B, sizeof *views);
    if (!mem || !pos || !views) {
        free(pos);
        free(views);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory for a gradient pass of %d x %d tokens (%zu MiB)", B, T,
                           total * sizeof(float) >> 20);
    }
    float *p = mem;
    float *tape = p; p += sizes[0];
    float *x = p; p += sizes[1];
    float *xn = p; p += sizes[2];
    float *tmp = p; p += sizes[3];
    float *act = p; p += sizes[4];
    float *dup = p; p += sizes[5];
    float *dq = p; p += sizes[6];
    float *dk = p, *dv = p + N * kvd; p += sizes[7];
    float *cs = p; p += sizes[8];
    float *logits = p, *dlogits = p + (size_t)B * V; p += sizes[9];
    float *last = p, *dlast = p + (size_t)B * C; p += sizes[10];
    float *partials = p; p += sizes[11];
    float *wfull_buf = p; p += sizes[12];
    float *wscratch = p; p += sizes[13];
    float *att_scratch = p;
    const bwd_scratch sc = {wfull_buf, partials, wscratch, wpt, nt};

    /* per-layer tape pointers */
#define TAPE(l) (tape + (size_t)(l) * N * per_tok)
#define T_X(l) (TAPE(l))                       /* (N, C) residual before attention */
#define T_H(l) (TAPE(l) + N * C)               /* (N, C) residual before the FFN */
#define T_Q(l) (TAPE(l) + 2 * N * C)           /* (N, qd) after RoPE */
#define T_K(l) (T_Q(l) + N * qd)               /* (N, kvd) after RoPE */
#define T_V(l) (T_K(l) + N * kvd)              /* (N, kvd) */
#define T_LSE(l) (T_V(l) + N * kvd)            /* (N, H) */
#define T_G(l) (T_LSE(l) + N * H)              /* (N, F) gate pre-activation */
#define T_U(l) (T_G(l) + N * F)                /* (N, F) up */

    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) pos[(int64_t)b * T + t] = t;
    rope_table(cs, pos, N, D, m->rope_inv_freq);
    memcpy(x, emb, sizeof(float) * (size_t)N * C);

    /* ---- forward, keeping the tape ---- */
    for (int l = 0; l < Lyr; l++) {
        const attrib_layer *L = &m->layers[l];
        memcpy(T_X(l), x, sizeof(float) * (size_t)N * C);
        rmsnorm_forward(xn, x, L->attn_norm, N, C, in->rms_eps, nt);
        {
            float *const outs[] = {T_Q(l), T_K(l), T_V(l)};
            const attrib_weight *const ws[] = {&L->wq, &L->wk, &L->wv};
            const float *const bs[] = {L->bq, L->bk, L->bv};
            matmul_forward_multi(3, outs, xn, ws, bs, N, wscratch, wpt, nt);
        }
        rope_forward(T_Q(l), cs, N, H, D, in->rope_layout, nt);
        rope_forward(T_K(l), cs, N, Hkv, D, in->rope_layout, nt);
        attention_forward(act, T_Q(l), T_K(l), T_V(l), NULL, views, B, T, H, Hkv, D, T_LSE(l), att_scratch, nt);
        matmul_forward(tmp, act, &L->wo, NULL, N, wscratch, wpt, nt);
        residual_forward(x, tmp, N, C);
        memcpy(T_H(l), x, sizeof(float) * (size_t)N * C);
        rmsnorm_forward(xn, x, L->ffn_norm, N, C, in->rms_eps, nt);
        {
            float *const outs[] = {T_G(l), T_U(l)};
            const attrib_weight *const ws[] = {&L->w_gate, &L->w_up};
            matmul_forward_multi(2, outs, xn, ws, NULL, N, wscratch, wpt, nt);
        }
        swiglu_forward(act, T_G(l), T_U(l), N, F, nt);
        matmul_forward(tmp, act, &L->w_down, NULL, N, wscratch, wpt, nt);
        residual_forward(x, tmp, N, C);
        const int64_t bad = first_nonfinite(x, N * C);
        if (bad >= 0) {
            free(pos);
            free(views);
            return attrib_fail(ATTRIB_E_NUMERIC, "the gradient pass's forward half produced a non-finite value in block %d "
                               "(sequence %lld, position %lld)", l, (long long)(bad / C / T), (long long)(bad / C % T));
        }
    }
    if (probe) {
        /* the probe's logit on the pooled residual stream; its gradient goes
         * straight into the pooled rows (spread evenly for the mean) */
        probe_feature_grad(probe, dlast); /* (C) the same for every sequence */
        for (int b = 0; b < B; b++) {
            probe_pool_rows(x + (int64_t)b * T * C, T, C, ro->pool_start, probe->pool, last + (size_t)b * C);
            values[b] = attrib_probe_logit(probe, last + (size_t)b * C);
        }
        memset(x, 0, sizeof(float) * (size_t)N * C);
        const int first = probe->pool == ATTRIB_POOL_MEAN ? ro->pool_start : T - 1;
        const float share = 1.0f / (float)(T - first);
        for (int b = 0; b < B; b++)
            for (int t = first; t < T; t++)
                for (int d = 0; d < C; d++) x[((int64_t)b * T + t) * C + d] = dlast[d] * share;
    } else {
        /* logits of each sequence's last position, and the target's gradient */
        for (int b = 0; b < B; b++) memcpy(last + (size_t)b * C, x + ((int64_t)b * T + T - 1) * C, sizeof(float) * C);
        rmsnorm_forward(xn, last, m->output_norm, B, C, in->rms_eps, nt);
        matmul_forward(logits, xn, &m->output, NULL, B, wscratch, wpt, nt);
        for (int b = 0; b < B; b++) ro->target(ro->user, b, logits + (size_t)b * V, dlogits + (size_t)b * V, &values[b]);

        /* ---- backward ---- */
        {
            const float *const douts[] = {dlogits};
            const attrib_weight *const ws[] = {&m->output};
            input_grad(xn, 1, douts, ws, B, &sc); /* xn: (B, C) d final norm out */
        }
        memset(dlast, 0, sizeof(float) * (size_t)B * C);
        rmsnorm_backward(dlast, xn, last, m->output_norm, B, C, in->rms_eps, nt);
        memset(x, 0, sizeof(float) * (size_t)N * C); /* x now holds d loss / d residual */
        for (int b = 0; b < B; b++) memcpy(x + ((int64_t)b * T + T - 1) * C, dlast + (size_t)b * C, sizeof(float) * C);
    }

    for (int l = Lyr - 1; l >= 0; l--) {
        const attrib_layer *L = &m->layers[l];
        /* FFN: y = h + down(swiglu(gate(hn), up(hn))) */
        {
            const float *const douts[] = {x};
            const attrib_weight *const ws[] = {&L->w_down};
            input_grad(act, 1, douts, ws, N, &sc); /* act: d swiglu out (N, F) */
        }
        swiglu_backward(act, dup, act, T_G(l), T_U(l), N, F, nt); /* act: d gate (in place is safe: elementwise) */
        {
            const float *const douts[] = {act, dup};
            const attrib_weight *const ws[] = {&L->w_gate, &L->w_up};
            input_grad(xn, 2, douts, ws, N, &sc);
        }
        memcpy(tmp, x, sizeof(float) * (size_t)N * C); /* tmp: dh = dy + rmsnorm'(h) dhn */
        rmsnorm_backward(tmp, xn, T_H(l), L->ffn_norm, N, C, in->rms_eps, nt);
        /* attention: h = x + Wo attention(rope(q), rope(k), v) */
        {
            const float *const douts[] = {tmp};
            const attrib_weight *const ws[] = {&L->wo};
            input_grad(act, 1, douts, ws, N, &sc); /* act: d attention out (N, qd) */
        }
        attention_backward(dq, dk, dv, act, T_Q(l), T_K(l), T_V(l), T_LSE(l), B, T, H, Hkv, D, att_scratch, nt);
        rope_backward(dq, cs, N, H, D, in->rope_layout, nt);
        rope_backward(dk, cs, N, Hkv, D, in->rope_layout, nt);
        {
            const float *const douts[] = {dq, dk, dv};
            const attrib_weight *const ws[] = {&L->wq, &L->wk, &L->wv};
            input_grad(xn, 3, douts, ws, N, &sc);
        }
        memcpy(x, tmp, sizeof(float) * (size_t)N * C);
        rmsnorm_backward(x, xn, T_X(l), L->attn_norm, N, C, in->rms_eps, nt);
        const int64_t bad = first_nonfinite(x, N * C);
        if (bad >= 0) {
            free(pos);
            free(views);
            return attrib_fail(ATTRIB_E_NUMERIC, "the backward pass produced a non-finite gradient in block %d "
                               "(sequence %lld, position %lld)", l, (long long)(bad / C / T), (long long)(bad / C % T));
        }
    }
#undef TAPE
#undef T_X
#undef T_H
#undef T_Q
#undef T_K
#undef T_V
#undef T_LSE
#undef T_G
#undef T_U
    memcpy(grad, x, sizeof(float) * (size_t)N * C);
    free(pos);
    free(views);
    return ATTRIB_OK;
}
