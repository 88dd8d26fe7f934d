/*
 * backward.c — the input gradient of the model: d target / d input
 * embeddings, for a batch of sequences at once (the IG interpolation points,
 * the SmoothGrad samples). Only activation gradients are computed: no
 * weight gradients, no optimiser state.
 *
 * The blocks run forward through layer_forward with a tape (layer.c), the
 * same function the inference pass runs, keeping only what the backward
 * reads: the residual stream entering the attention and the FFN (RMSNorm
 * backward recomputes its statistics from them), Q and K as attention read
 * them, V, each query's log-sum-exp (probabilities are recomputed rather than
 * stored: O(T) instead of O(T^2) per head), the FFN's gate and up, and the
 * pre-norm inputs of any Q/K and post-norms. Then the readout's gradient
 * enters the residual stream and layer_backward walks the blocks in reverse:
 *
 *   x0 = emb * s;  x_{l+1} = block_l(x_l);  value = readout(x_L)
 *   dx_L = readout'(x_L);  dx_l = block_l'(x_l)^T dx_{l+1};  d emb = s * dx_0
 */
#include "model/backward.h"

#include "model/layer.h"
#include "model/prefix.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

size_t attrib_grad_pass_bytes(const attrib_model *m, int B, int T) {
    const attrib_model_info *in = &m->info;
    const size_t N = (size_t)B * T;
    return sizeof(float) * (N * in->n_layer * layer_tape_floats(m) + N * (size_t)(8 * in->n_embd + 4 * in->n_ff));
}

/* The model's own head on the last position of each sequence: VALUES from
 * TARGET, and its gradient into the residual stream DX (N, C), zero elsewhere. */
static void head_backward(attrib_model *m, const grad_readout *ro, const float *x, int B, int T, float *last, float *dlast,
                          float *logits, float *dlogits, layer_work *w, float *dx, double *values) {
    const attrib_model_info *in = &m->info;
    const int C = in->n_embd, V = in->n_vocab, nt = m->n_threads;
    for (int b = 0; b < B; b++) memcpy(last + (size_t)b * C, x + ((int64_t)b * T + T - 1) * C, sizeof(float) * C);
    model_head_forward(m, logits, last, w->xn, B, w);
    for (int b = 0; b < B; b++) ro->target(ro->user, b, logits + (size_t)b * V, dlogits + (size_t)b * V, &values[b]);
    if (m->final_softcap > 0.0f) softcap_backward(dlogits, dlogits, logits, B, V, m->final_softcap, nt);
    {
        const float *const douts[] = {dlogits};
        const attrib_weight *const ws[] = {&m->output};
        layer_input_grad(w->xn, 1, douts, ws, B, w, nt); /* xn: (B, C) d final norm out */
    }
    memset(dlast, 0, sizeof(float) * (size_t)B * C);
    rmsnorm_backward(dlast, w->xn, last, m->output_norm, B, C, in->rms_eps, nt);
    memset(dx, 0, sizeof(float) * (size_t)B * T * C);
    for (int b = 0; b < B; b++) memcpy(dx + ((int64_t)b * T + T - 1) * C, dlast + (size_t)b * C, sizeof(float) * C);
}

/* Points every sequence's view at block L's keys and values of PREFIX (if any). */
static void prefix_views(attn_kv_view *views, int B, const attrib_cache *prefix, int l) {
    if (!prefix) return;
    const float *k, *v;
    cache_layer_kv(prefix, l, 0, &k, &v);
    for (int b = 0; b < B; b++) views[b].prefix_k = k, views[b].prefix_v = v;
}

attrib_status attrib_grad_pass(attrib_model *m, const float *emb, int B, int T, const grad_readout *ro, float *grad,
                               double *values) {
    return attrib_grad_pass_prefix(m, NULL, emb, B, T, ro, grad, values);
}

/* With a prefix, every sequence is positions P..P+T-1 and its attention
 * reads the prefix's keys and values first (attn_kv_view): the forward
 * treats them as the cached prefix of an inference pass, and the backward
 * as constants (attention_backward_ex writes no gradient into them). */
attrib_status attrib_grad_pass_prefix(attrib_model *m, const attrib_cache *prefix, const float *emb, int B, int T,
                                      const grad_readout *ro, float *grad, double *values) {
    const attrib_model_info *in = &m->info;
    const int C = in->n_embd, V = in->n_vocab, D = in->head_dim;
    const int n_blocks = ro->hidden ? ro->n_blocks : in->n_layer;
    const int first = ro->from_hidden ? ro->first_block : 0; /* blocks first..n_blocks-1 run */
    if (n_blocks < 0 || n_blocks > in->n_layer || (!ro->hidden && !ro->target) || first < 0 || first > n_blocks)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the gradient readout does not fit this model");
    const int64_t N = (int64_t)B * T;
    const int P = prefix ? attrib_cache_len(prefix, 0) : 0;
    if (B < 1 || T < 1 || T > in->n_ctx_train - P || N > (1 << 22))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "gradient pass of %d x %d tokens (after %d cached) is empty or too large", B,
                           T, P);
    openblas_set_num_threads(1);

    /* one allocation: tape, residual stream, RoPE tables, head buffers, block scratch */
    const bool local = m->rope_inv_freq_local != NULL;
    const size_t per_tok = layer_tape_floats(m), ncs = (size_t)N * D;
    const size_t nwork = layer_work_floats(m, N, T, P, n_blocks, true);
    const size_t sizes[] = {
        (size_t)N * per_tok * (size_t)(n_blocks - first), /* tape */
        (size_t)N * C,                          /* x: residual stream / its gradient */
        ncs * (local ? 2 : 1),                  /* RoPE tables */
        (size_t)B * V * 2,                      /* logits, dlogits */
        (size_t)B * C * 2,                      /* last rows, their gradient */
        nwork,
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (nwork == SIZE_MAX || !attrib_add_ok(total, sizes[i], &total))
            return attrib_fail(ATTRIB_E_LIMIT, "gradient pass too large");
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
    float *cs = p, *cs_local = local ? p + ncs : NULL; p += sizes[2];
    float *logits = p, *dlogits = p + (size_t)B * V; p += sizes[3];
    float *last = p, *dlast = p + (size_t)B * C; p += sizes[4];
    layer_work w;
    layer_work_carve(&w, m, p, N, T, P, n_blocks, true);

    for (int b = 0; b < B; b++) {
        views[b].P = P;
        views[b].prefix_mask = prefix ? cache_seq_mask(prefix, 0) : NULL;
        for (int t = 0; t < T; t++) pos[(int64_t)b * T + t] = P + t;
    }
    layer_rope_tables(m, pos, N, cs, cs_local);
    const layer_pass pass = {B, T, cs, cs_local, pos, views, NULL};
    memcpy(x, emb, sizeof(float) * (size_t)N * C);
    const float in_scale = ro->from_hidden ? 1.0f : m->embed_scale; /* a hidden state is taken as it is */
    if (in_scale != 1.0f)
        for (int64_t i = 0; i < N * C; i++) x[i] *= in_scale;

    attrib_status st = ATTRIB_OK;
    for (int l = first; l < n_blocks && !st; l++) {
        layer_tape tp;
        layer_tape_at(&tp, m, tape + (size_t)(l - first) * N * per_tok, N);
        prefix_views(views, B, prefix, l);
        layer_forward(x, m, l, &pass, &w, &tp, NULL, NULL);
        const int64_t bad = first_nonfinite(x, N * C);
        if (bad >= 0)
            st = attrib_fail(ATTRIB_E_NUMERIC, "the gradient pass's forward half produced a non-finite value in block %d "
                             "(sequence %lld, position %lld)", l, (long long)(bad / C / T), (long long)(P + bad / C % T));
    }
    if (!st) {
        if (ro->hidden) {
            /* the readout's gradient replaces the residual stream in place */
            memcpy(w.dres, x, sizeof(float) * (size_t)N * C);
            st = ro->hidden(ro->user, w.dres, B, T, C, x, values);
        } else {
            head_backward(m, ro, x, B, T, last, dlast, logits, dlogits, &w, x, values);
        }
    }
    for (int l = n_blocks - 1; l >= first && !st; l--) {
        layer_tape tp;
        layer_tape_at(&tp, m, tape + (size_t)(l - first) * N * per_tok, N);
        prefix_views(views, B, prefix, l);
        layer_backward(x, m, l, &pass, &w, &tp);
        const int64_t bad = first_nonfinite(x, N * C);
        if (bad >= 0)
            st = attrib_fail(ATTRIB_E_NUMERIC, "the backward pass produced a non-finite gradient in block %d "
                             "(sequence %lld, position %lld)", l, (long long)(bad / C / T), (long long)(P + bad / C % T));
    }
    if (!st) {
        for (int64_t i = 0; i < N * C; i++) grad[i] = x[i] * in_scale;
    }
    free(pos);
    free(views);
    return st;
}
