/*
 * layer.c — one transformer block: layer_forward, with an optional tape, and
 * layer_backward beside it, mirroring it step by step in reverse.
 *
 * Every supported architecture is this block with parts switched on by its
 * tensors and its row of arch.c (N = B*T rows, C = width, H/Hkv heads of D,
 * F = FFN width):
 *
 *   forward                                   backward (reverse order)
 *   xn = rmsnorm(x; attn_norm)                dx  = dh + rmsnorm'(x)^T dxn
 *   q, k, v = xn W^T (+ b)                    dxn = dq Wq + dk Wk + dv Wv
 *   [q, k = rmsnorm per head (qwen3, gemma3)] [dq, dk = rmsnorm'^T]
 *   q, k = rope(q), rope(k)                   dq, dk = rope^T
 *   a = attention(q, k, v)                    dq, dk, dv = attention'(da)
 *       (scale, soft-cap, sliding window)
 *   o = a Wo^T [o = rmsnorm(o) (gemma)]       da = do Wo [do = rmsnorm'^T]
 *   h = x + o                                 dh  = dy + rmsnorm'(h)^T dhn
 *   hn = rmsnorm(h; ffn_norm)                 dhn = dg Wg + du Wu
 *   g, u = hn Wg^T, hn Wu^T                   dg, du = act'(df)
 *   f = act(g) * u Wd^T [f = rmsnorm(f)]      df = dy Wd [dy = rmsnorm'^T]
 *   y = h + f
 *
 * act is SiLU (SwiGLU) or tanh-GELU (GeGLU). Fused QKV and gate|up
 * matrices (phi3) arrive as row views of one matrix (model.c), so the block
 * does not see them.
 */
#include "model/layer.h"

#include "model/kernels_int.h"

#include <string.h>

/* ---- tape and scratch layout ------------------------------------------------ */

size_t layer_tape_floats(const attrib_model *m) {
    const attrib_model_info *in = &m->info;
    const size_t C = in->n_embd, qd = (size_t)in->n_head * in->head_dim, kvd = (size_t)in->n_head_kv * in->head_dim;
    size_t n = 2 * C + qd + 2 * kvd + in->n_head + 2 * (size_t)in->n_ff;
    if (in->has_qk_norm) n += qd + kvd;
    if (in->has_post_norms) n += 2 * C;
    return n;
}

void layer_tape_at(layer_tape *t, const attrib_model *m, float *p, int64_t N) {
    const attrib_model_info *in = &m->info;
    const int64_t C = in->n_embd, qd = (int64_t)in->n_head * in->head_dim, kvd = (int64_t)in->n_head_kv * in->head_dim,
                  F = in->n_ff;
    memset(t, 0, sizeof *t);
    t->x = p, p += N * C;
    t->h = p, p += N * C;
    t->q = p, p += N * qd;
    t->k = p, p += N * kvd;
    t->v = p, p += N * kvd;
    t->lse = p, p += N * in->n_head;
    t->gate = p, p += N * F;
    t->up = p, p += N * F;
    if (in->has_qk_norm) {
        t->q_raw = p, p += N * qd;
        t->k_raw = p, p += N * kvd;
    }
    if (in->has_post_norms) {
        t->attn_out = p, p += N * C;
        t->ffn_out = p;
    }
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

/* Scratch floats one product group needs in the backward. */
static void group_need(const attrib_weight *const *W, int n, int64_t N, size_t *wfull, size_t *partials) {
    size_t need = dequant_floats(W, n);
    if (need <= WFULL_MAX) {
        if (need > *wfull) *wfull = need;
    } else {
        size_t p = matmul_backward_partials(W, n) * (size_t)N * (size_t)W[0]->cols;
        if (p > *partials) *partials = p;
    }
}

void layer_input_grad(float *din, int n, const float *const *dout, const attrib_weight *const *W, int64_t N,
                      const layer_work *w, int nt) {
    if (dequant_floats(W, n) <= WFULL_MAX) {
        matmul_dequant_whole(w->wfull, W, n, nt);
        matmul_backward_tiled(din, n, dout, W, N, w->wfull, nt);
    } else {
        matmul_backward_multi(din, n, dout, W, N, w->partials, w->wscratch, w->wpt, nt);
    }
}

/* Dequantisation scratch per thread (WPT) and the backward's whole-matrix
 * and partial-sum buffers, over the output matrix and the first N_LAYERS
 * blocks. */
static void weight_scratch(const attrib_model *m, int64_t N, int n_layers, bool backward, size_t *wpt, size_t *wfull,
                           size_t *partials) {
    const attrib_weight *top[] = {&m->tok_embd, &m->output};
    *wpt = matmul_scratch_floats(top, 2);
    *wfull = *partials = 0;
    if (backward) {
        const attrib_weight *out[] = {&m->output};
        size_t b = matmul_backward_scratch_floats(out, 1);
        if (b > *wpt) *wpt = b;
        group_need(out, 1, N, wfull, partials);
    }
    for (int l = 0; l < n_layers; l++) {
        const attrib_layer *L = &m->layers[l];
        const attrib_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        size_t a = matmul_scratch_floats(lw, 7);
        if (a > *wpt) *wpt = a;
        if (!backward) continue;
        size_t b = matmul_backward_scratch_floats(lw, 7);
        if (b > *wpt) *wpt = b;
        const attrib_weight *qkv[] = {&L->wq, &L->wk, &L->wv}, *gu[] = {&L->w_gate, &L->w_up}, *o[] = {&L->wo},
                            *dn[] = {&L->w_down};
        group_need(qkv, 3, N, wfull, partials);
        group_need(gu, 2, N, wfull, partials);
        group_need(o, 1, N, wfull, partials);
        group_need(dn, 1, N, wfull, partials);
    }
}

/* The sizes of layer_work's buffers, in carving order. */
enum { W_XN, W_Q, W_K, W_V, W_ACT, W_UP, W_PROJ, W_DRES, W_DQ, W_DK, W_DV, W_DQR, W_DKR, W_ATT, W_WS, W_WFULL, W_PART, W_COUNT };

static void work_sizes(const attrib_model *m, int64_t N, int T, int maxP, int n_layers, bool backward, size_t *sz) {
    const attrib_model_info *in = &m->info;
    const size_t C = in->n_embd, F = in->n_ff, qd = (size_t)in->n_head * in->head_dim,
                 kvd = (size_t)in->n_head_kv * in->head_dim, n = (size_t)N, nt = (size_t)m->n_threads;
    size_t wpt, wfull, partials;
    weight_scratch(m, N, n_layers, backward, &wpt, &wfull, &partials);
    memset(sz, 0, sizeof(size_t) * W_COUNT);
    sz[W_XN] = n * C;
    sz[W_Q] = n * qd;
    sz[W_K] = sz[W_V] = n * kvd;
    sz[W_ACT] = n * (F > qd ? F : qd);
    sz[W_UP] = n * F;
    sz[W_PROJ] = n * C;
    sz[W_ATT] = nt * 2 * ((size_t)maxP + (size_t)T);
    sz[W_WS] = nt * (wpt ? wpt : 1);
    if (backward) {
        sz[W_DRES] = n * C;
        sz[W_DQ] = n * qd;
        sz[W_DK] = sz[W_DV] = n * kvd;
        if (in->has_qk_norm) sz[W_DQR] = n * qd, sz[W_DKR] = n * kvd;
        sz[W_WFULL] = wfull ? wfull : 1;
        sz[W_PART] = partials ? partials : 1;
    }
}

size_t layer_work_floats(const attrib_model *m, int64_t N, int T, int maxP, int n_layers, bool backward) {
    size_t sz[W_COUNT], total = 0;
    work_sizes(m, N, T, maxP, n_layers, backward, sz);
    for (int i = 0; i < W_COUNT; i++)
        if (!attrib_add_ok(total, sz[i], &total)) return SIZE_MAX;
    return total;
}

void layer_work_carve(layer_work *w, const attrib_model *m, float *mem, int64_t N, int T, int maxP, int n_layers,
                      bool backward) {
    size_t sz[W_COUNT], wpt, wfull, partials;
    work_sizes(m, N, T, maxP, n_layers, backward, sz);
    weight_scratch(m, N, n_layers, backward, &wpt, &wfull, &partials);
    float **slot[W_COUNT] = {&w->xn, &w->q, &w->k, &w->v, &w->act, &w->up, &w->proj, &w->dres, &w->dq, &w->dk,
                             &w->dv, &w->dq_raw, &w->dk_raw, &w->att_scratch, &w->wscratch, &w->wfull, &w->partials};
    for (int i = 0; i < W_COUNT; i++) {
        *slot[i] = sz[i] ? mem : NULL;
        mem += sz[i];
    }
    w->wpt = wpt ? wpt : 1;
    w->fast = false;
}

/* ---- the block ---------------------------------------------------------------- */

attn_opts layer_attn_opts(const attrib_model *m, const attrib_layer *L, const layer_pass *p) {
    attn_opts o = {m->attn_scale, m->attn_softcap, L->window, L->window ? p->pos : NULL};
    return o;
}

static const float *layer_rope(const attrib_model *m, const attrib_layer *L, const layer_pass *p) {
    return L->rope_inv_freq == m->rope_inv_freq_local && p->rope_cs_local ? p->rope_cs_local : p->rope_cs;
}

void layer_forward(float *x, const attrib_model *m, int l, const layer_pass *p, layer_work *w, const layer_tape *tape,
                   const float **k_out, const float **v_out) {
    const attrib_model_info *in = &m->info;
    const attrib_layer *L = &m->layers[l];
    const int B = p->B, T = p->T, C = in->n_embd, H = in->n_head, Hkv = in->n_head_kv, D = in->head_dim, F = in->n_ff,
              nt = m->n_threads;
    const int64_t N = (int64_t)B * T;
    const float eps = in->rms_eps;
    float *q = tape ? tape->q : w->q, *k = tape ? tape->k : w->k, *v = tape ? tape->v : w->v;
    float *gate = tape ? tape->gate : w->act, *up = tape ? tape->up : w->up;

    /* attention */
    if (tape) memcpy(tape->x, x, sizeof(float) * (size_t)(N * C));
    rmsnorm_forward(w->xn, x, L->attn_norm, N, C, eps, nt);
    {
        float *const outs[] = {tape && tape->q_raw ? tape->q_raw : q, tape && tape->k_raw ? tape->k_raw : k, v};
        const attrib_weight *const ws[] = {&L->wq, &L->wk, &L->wv};
        const float *const bs[] = {L->bq, L->bk, L->bv};
        matmul_forward_multi_ex(w->fast, 3, outs, w->xn, ws, bs, N, w->wscratch, w->wpt, nt);
    }
    if (L->q_norm) { /* per head: the (N, H*D) rows are N*H rows of D */
        rmsnorm_forward(q, tape && tape->q_raw ? tape->q_raw : q, L->q_norm, N * H, D, eps, nt);
        rmsnorm_forward(k, tape && tape->k_raw ? tape->k_raw : k, L->k_norm, N * Hkv, D, eps, nt);
    }
    const float *cs = layer_rope(m, L, p);
    rope_forward(q, cs, N, H, D, in->rope_layout, nt);
    rope_forward(k, cs, N, Hkv, D, in->rope_layout, nt);
    const attn_opts ao = layer_attn_opts(m, L, p);
    attention_forward_ex(w->act, q, k, v, p->key_mask, p->views, B, T, H, Hkv, D, &ao, tape ? tape->lse : NULL,
                         w->att_scratch, nt);
    float *o = tape && tape->attn_out ? tape->attn_out : w->proj;
    matmul_forward_ex(w->fast, o, w->act, &L->wo, NULL, N, w->wscratch, w->wpt, nt);
    if (L->post_attn_norm) rmsnorm_forward(w->proj, o, L->post_attn_norm, N, C, eps, nt);
    residual_forward(x, w->proj, N, C);

    /* feed-forward */
    if (tape) memcpy(tape->h, x, sizeof(float) * (size_t)(N * C));
    rmsnorm_forward(w->xn, x, L->ffn_norm, N, C, eps, nt);
    {
        float *const outs[] = {gate, up};
        const attrib_weight *const ws[] = {&L->w_gate, &L->w_up};
        matmul_forward_multi_ex(w->fast, 2, outs, w->xn, ws, NULL, N, w->wscratch, w->wpt, nt);
    }
    if (m->desc->act == ARCH_ACT_GELU_TANH) geglu_forward(w->act, gate, up, N, F, nt);
    else swiglu_forward(w->act, gate, up, N, F, nt);
    float *f = tape && tape->ffn_out ? tape->ffn_out : w->proj;
    matmul_forward_ex(w->fast, f, w->act, &L->w_down, NULL, N, w->wscratch, w->wpt, nt);
    if (L->post_ffn_norm) rmsnorm_forward(w->proj, f, L->post_ffn_norm, N, C, eps, nt);
    residual_forward(x, w->proj, N, C);
    if (k_out) *k_out = k;
    if (v_out) *v_out = v;
}

void layer_backward(float *dx, const attrib_model *m, int l, const layer_pass *p, layer_work *w, const layer_tape *tape) {
    const attrib_model_info *in = &m->info;
    const attrib_layer *L = &m->layers[l];
    const int B = p->B, T = p->T, C = in->n_embd, H = in->n_head, Hkv = in->n_head_kv, D = in->head_dim, F = in->n_ff,
              nt = m->n_threads;
    const int64_t N = (int64_t)B * T;
    const float eps = in->rms_eps;
    const size_t NC = sizeof(float) * (size_t)(N * C);

    /* feed-forward: y = h + post_norm(act(g, u) Wd^T) */
    const float *df = dx;
    if (L->post_ffn_norm) {
        memset(w->proj, 0, NC);
        rmsnorm_backward(w->proj, dx, tape->ffn_out, L->post_ffn_norm, N, C, eps, nt);
        df = w->proj;
    }
    {
        const float *const douts[] = {df};
        const attrib_weight *const ws[] = {&L->w_down};
        layer_input_grad(w->act, 1, douts, ws, N, w, nt); /* act: d activation (N, F) */
    }
    /* in place is safe: elementwise */
    if (m->desc->act == ARCH_ACT_GELU_TANH) geglu_backward(w->act, w->up, w->act, tape->gate, tape->up, N, F, nt);
    else swiglu_backward(w->act, w->up, w->act, tape->gate, tape->up, N, F, nt);
    {
        const float *const douts[] = {w->act, w->up};
        const attrib_weight *const ws[] = {&L->w_gate, &L->w_up};
        layer_input_grad(w->xn, 2, douts, ws, N, w, nt);
    }
    memcpy(w->dres, dx, NC); /* dres: dh = dy + rmsnorm'(h)^T dhn */
    rmsnorm_backward(w->dres, w->xn, tape->h, L->ffn_norm, N, C, eps, nt);

    /* attention: h = x + post_norm(attention(rope(norm(q)), rope(norm(k)), v) Wo^T) */
    const float *dout = w->dres;
    if (L->post_attn_norm) {
        memset(w->proj, 0, NC);
        rmsnorm_backward(w->proj, w->dres, tape->attn_out, L->post_attn_norm, N, C, eps, nt);
        dout = w->proj;
    }
    {
        const float *const douts[] = {dout};
        const attrib_weight *const ws[] = {&L->wo};
        layer_input_grad(w->act, 1, douts, ws, N, w, nt); /* act: d attention output (N, H*D) */
    }
    const attn_opts ao = layer_attn_opts(m, L, p);
    attention_backward_ex(w->dq, w->dk, w->dv, w->act, tape->q, tape->k, tape->v, p->key_mask, p->views, B, T, H, Hkv,
                          D, &ao, tape->lse, w->att_scratch, nt);
    const float *cs = layer_rope(m, L, p);
    rope_backward(w->dq, cs, N, H, D, in->rope_layout, nt);
    rope_backward(w->dk, cs, N, Hkv, D, in->rope_layout, nt);
    const float *dq = w->dq, *dk = w->dk;
    if (L->q_norm) {
        memset(w->dq_raw, 0, sizeof(float) * (size_t)N * H * D);
        memset(w->dk_raw, 0, sizeof(float) * (size_t)N * Hkv * D);
        rmsnorm_backward(w->dq_raw, w->dq, tape->q_raw, L->q_norm, N * H, D, eps, nt);
        rmsnorm_backward(w->dk_raw, w->dk, tape->k_raw, L->k_norm, N * Hkv, D, eps, nt);
        dq = w->dq_raw, dk = w->dk_raw;
    }
    {
        const float *const douts[] = {dq, dk, w->dv};
        const attrib_weight *const ws[] = {&L->wq, &L->wk, &L->wv};
        layer_input_grad(w->xn, 3, douts, ws, N, w, nt);
    }
    memcpy(dx, w->dres, NC);
    rmsnorm_backward(dx, w->xn, tape->x, L->attn_norm, N, C, eps, nt);
}
