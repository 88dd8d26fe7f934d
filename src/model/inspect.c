/*
 * inspect.c — what happens inside one forward pass: the attention weights
 * of every block and head (attrib_attention), and the parts the target
 * logit is made of (attrib_logit_attribution, direct logit attribution).
 *
 * Both run the blocks once with the gradient pass's tape (layer_forward of
 * layer.c, the one block every pass runs) on one sequence from position 0,
 * and read what they need off the tape: attention probabilities are
 * recomputed from the tape's q, k and log-sum-exp (attention_probs, the
 * forward's own arithmetic), never stored by the inference pass.
 *
 * The logit's parts, at the last position t (u = w * g / r: the target's
 * output row(s) w, the final norm weight g, the frozen r = rms(x_L)):
 *
 *   logit = u . x_L,   x_L = x_0 + sum_l (attn_l + ffn_l)
 *   attn_l = s_l (Wo a) = sum_h s_l Wo_h a_h,   a_h = sum_j p_hj v_hj
 *   a_h = sum_j p_hj (v_hj - b_h) + b_h         (the p_hj sum to 1)
 *   ffn_l = s'_l Wd (act(gate) * up)
 *
 * where s_l, s'_l are the post-norms frozen at their values (diag(g_post) /
 * rms, gemma) or the identity. So head h gives u_l . Wo_h sum_j p_hj (v_hj -
 * b_h), split by key position j, and the value bias b gives u_l . Wo b. The
 * products are taken the cheap way round: w_l = Wo^T (s_l u) once per block,
 * then dot products with the heads' outputs. All of it in double.
 */
#include "model/layer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One sequence's pass with the tape kept for every block. */
typedef struct trace {
    int T;
    float *mem;       /* owns everything below */
    float *x0;        /* (T, C) residual stream entering block 0 (embeddings * embed_scale) */
    float *x;         /* (T, C) after the last block */
    float *tape;      /* n_layer * T * layer_tape_floats */
    int32_t *pos;     /* (T) */
    attn_kv_view view;
    layer_pass pass;
    layer_work w;
} trace;

static void trace_free(trace *tr) {
    free(tr->mem);
    free(tr->pos);
    memset(tr, 0, sizeof *tr);
}

static void trace_tape(const trace *tr, const attrib_model *m, int l, layer_tape *t) {
    layer_tape_at(t, m, tr->tape + (size_t)l * tr->T * layer_tape_floats(m), tr->T);
}

static attrib_status check_ids(const attrib_model *m, const int32_t *ids, int n, const char *fn) {
    if (!m || !ids) return attrib_fail(ATTRIB_E_INVALID_ARG, "%s: NULL argument", fn);
    if (n < 1 || n > m->info.n_ctx_train)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "%s: input of %d tokens is outside [1, %d] (the model's context)", fn, n,
                           m->info.n_ctx_train);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->info.n_vocab)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "%s: token id %d at position %d is outside the vocabulary [0, %d)", fn,
                               ids[i], i, m->info.n_vocab);
    return ATTRIB_OK;
}

static attrib_status trace_run(attrib_model *m, const int32_t *ids, int T, trace *tr) {
    const attrib_model_info *in = &m->info;
    const int C = in->n_embd, D = in->head_dim;
    memset(tr, 0, sizeof *tr);
    openblas_set_num_threads(1);
    const bool local = m->rope_inv_freq_local != NULL;
    const size_t nwork = layer_work_floats(m, T, T, 0, in->n_layer, false);
    const size_t sizes[] = {(size_t)T * C, (size_t)T * C, (size_t)in->n_layer * T * layer_tape_floats(m),
                            (size_t)T * D * (local ? 2 : 1), nwork};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (nwork == SIZE_MAX || !attrib_add_ok(total, sizes[i], &total))
            return attrib_fail(ATTRIB_E_LIMIT, "a traced pass of %d tokens is too large", T);
    tr->mem = attrib_calloc_array(total, sizeof(float));
    tr->pos = attrib_calloc_array((size_t)T, sizeof(int32_t));
    if (!tr->mem || !tr->pos) {
        trace_free(tr);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory for a traced pass of %d tokens (%zu MiB)", T,
                           total * sizeof(float) >> 20);
    }
    tr->T = T;
    float *p = tr->mem;
    tr->x0 = p, p += sizes[0];
    tr->x = p, p += sizes[1];
    tr->tape = p, p += sizes[2];
    float *cs = p, *cs_local = local ? p + (size_t)T * D : NULL;
    p += sizes[3];
    layer_work_carve(&tr->w, m, p, T, T, 0, in->n_layer, false);

    for (int t = 0; t < T; t++) {
        attrib_weight_row(&m->tok_embd, ids[t], tr->x + (size_t)t * C);
        tr->pos[t] = t;
    }
    for (size_t i = 0; i < (size_t)T * C; i++) tr->x[i] *= m->embed_scale;
    memcpy(tr->x0, tr->x, sizeof(float) * (size_t)T * C);
    layer_rope_tables(m, tr->pos, T, cs, cs_local);
    const layer_pass pass = {1, T, cs, cs_local, tr->pos, &tr->view, NULL}; /* no prefix: the view is empty */
    tr->pass = pass;
    for (int l = 0; l < in->n_layer; l++) {
        layer_tape tp;
        trace_tape(tr, m, l, &tp);
        layer_forward(tr->x, m, l, &tr->pass, &tr->w, &tp, NULL, NULL);
        const int64_t bad = first_nonfinite(tr->x, (int64_t)T * C);
        if (bad >= 0) {
            trace_free(tr);
            return attrib_fail(ATTRIB_E_NUMERIC, "the forward pass produced a non-finite value in block %d (position %lld)", l,
                               (long long)(bad / C));
        }
    }
    return ATTRIB_OK;
}

attrib_status attrib_attention(attrib_model *m, const int32_t *ids, int n, float *probs) {
    attrib_status s = check_ids(m, ids, n, "attrib_attention");
    if (s) return s;
    if (!probs) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_attention: NULL output");
    const attrib_model_info *in = &m->info;
    trace tr;
    if ((s = trace_run(m, ids, n, &tr))) return s;
    const size_t per_layer = (size_t)in->n_head * n * n;
    for (int l = 0; l < in->n_layer; l++) {
        layer_tape tp;
        trace_tape(&tr, m, l, &tp);
        const attn_opts ao = layer_attn_opts(m, &m->layers[l], &tr.pass);
        attention_probs(probs + (size_t)l * per_layer, tp.q, tp.k, NULL, 1, n, in->n_head, in->n_head_kv, in->head_dim, &ao,
                        tp.lse, 0, m->n_threads);
    }
    trace_free(&tr);
    return ATTRIB_OK;
}

attrib_status attrib_attention_rollout(const float *probs, int L, int H, int T, double *R) {
    if (!probs || !R || L < 1 || H < 1 || T < 1)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_attention_rollout: NULL array or empty size");
    const size_t TT = (size_t)T * T;
    double *a = attrib_calloc_array(TT, sizeof(double));
    if (!a) return attrib_fail(ATTRIB_E_NOMEM, "out of memory for the rollout of %d tokens", T);
    for (int l = 0; l < L; l++) {
        memset(a, 0, sizeof(double) * TT);
        for (int h = 0; h < H; h++)
            for (size_t i = 0; i < TT; i++) a[i] += (double)probs[((size_t)l * H + h) * TT + i] / H;
        for (int i = 0; i < T; i++) { /* + I, rows renormalised */
            double s = 0;
            a[(size_t)i * T + i] += 1.0;
            for (int j = 0; j < T; j++) s += a[(size_t)i * T + j];
            for (int j = 0; j < T; j++) a[(size_t)i * T + j] /= s;
        }
        double *out = R + (size_t)l * TT;
        if (l == 0) {
            memcpy(out, a, sizeof(double) * TT);
            continue;
        }
        const double *prev = R + (size_t)(l - 1) * TT;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                double s = 0;
                for (int k = 0; k < T; k++) s += a[(size_t)i * T + k] * prev[(size_t)k * T + j];
                out[(size_t)i * T + j] = s;
            }
    }
    free(a);
    return ATTRIB_OK;
}

void attrib_logit_parts_free(attrib_logit_parts *p) {
    if (!p) return;
    free(p->attn);
    free(p->heads);
    free(p->head_sources);
    free(p->attn_bias);
    free(p->ffn);
    free(p);
}

/* 1 / sqrt(mean(x^2) + eps) of one row, in double. */
static double inv_rms(const float *x, int C, float eps) {
    double ss = 0;
    for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
    return 1.0 / sqrt(ss / C + eps);
}

/* OUT (W->cols) = W^T U: the rows of W weighted by U (W: (rows, cols), any type). */
static void weighted_rows(double *out, const attrib_weight *W, const double *u, float *row) {
    memset(out, 0, sizeof(double) * (size_t)W->cols);
    for (int64_t r = 0; r < W->rows; r++) {
        if (u[r] == 0.0) continue;
        attrib_weight_row(W, r, row);
        for (int64_t k = 0; k < W->cols; k++) out[k] += u[r] * row[k];
    }
}

/* U scaled through a post-norm frozen at its value on row Y: u * g / rms(y); or U as is. */
static void through_post_norm(double *out, const double *u, const float *g, const float *y, int C, float eps) {
    const double s = g ? inv_rms(y, C, eps) : 1.0;
    for (int c = 0; c < C; c++) out[c] = g ? u[c] * g[c] * s : u[c];
}

static double activation(const attrib_model *m, double g) {
    if (m->desc->act == ARCH_ACT_GELU_TANH) return 0.5 * g * (1.0 + tanh(sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
    return g / (1.0 + exp(-g));
}

/* Block L's attention and FFN parts at the last position, along U (C). */
static void block_parts(const attrib_model *m, const trace *tr, int l, const double *u, float *prow, double *ueff, double *wv,
                        float *row, attrib_logit_parts *p) {
    const attrib_model_info *in = &m->info;
    const attrib_layer *L = &m->layers[l];
    const int C = in->n_embd, H = in->n_head, Hkv = in->n_head_kv, D = in->head_dim, F = in->n_ff, T = tr->T;
    const int kvd = Hkv * D, group = H / Hkv;
    const size_t last = (size_t)T - 1;
    layer_tape tp;
    trace_tape(tr, m, l, &tp);

    /* attention: w = Wo^T (s_l u), then each head's output along its slice */
    through_post_norm(ueff, u, L->post_attn_norm, tp.attn_out ? tp.attn_out + last * C : NULL, C, in->rms_eps);
    weighted_rows(wv, &L->wo, ueff, row);
    const attn_opts ao = layer_attn_opts(m, L, &tr->pass);
    attention_probs(prow, tp.q, tp.k, NULL, 1, T, H, Hkv, D, &ao, tp.lse, T - 1, m->n_threads); /* (H, 1, T) */
    double attn = 0, bias = 0;
    for (int h = 0; h < H; h++) {
        const int kvh = h / group;
        const double *wh = wv + (size_t)h * D;
        const float *b = L->bv ? L->bv + (size_t)kvh * D : NULL;
        double head = 0;
        for (int j = 0; j < T; j++) {
            const float *v = tp.v + (size_t)j * kvd + (size_t)kvh * D;
            double dot = 0;
            for (int d = 0; d < D; d++) dot += ((double)v[d] - (b ? b[d] : 0.0)) * wh[d];
            const double part = (double)prow[(size_t)h * T + j] * dot;
            p->head_sources[((size_t)l * H + h) * T + j] = part;
            head += part;
        }
        if (b)
            for (int d = 0; d < D; d++) bias += (double)b[d] * wh[d];
        p->heads[(size_t)l * H + h] = head;
        attn += head;
    }
    p->attn_bias[l] = bias;
    p->attn[l] = attn + bias;

    /* FFN: z = Wd^T (s'_l u), then the activation along it */
    through_post_norm(ueff, u, L->post_ffn_norm, tp.ffn_out ? tp.ffn_out + last * C : NULL, C, in->rms_eps);
    weighted_rows(wv, &L->w_down, ueff, row);
    double ffn = 0;
    for (int k = 0; k < F; k++)
        ffn += activation(m, tp.gate[last * F + k]) * (double)tp.up[last * F + k] * wv[k];
    p->ffn[l] = ffn;
}

attrib_status attrib_logit_attribution(attrib_model *m, const int32_t *ids, int n, int32_t token, int32_t token2,
                                       attrib_logit_parts **out) {
    attrib_status s = check_ids(m, ids, n, "attrib_logit_attribution");
    if (s) return s;
    if (!out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_logit_attribution: NULL argument");
    const attrib_model_info *in = &m->info;
    const int C = in->n_embd, V = in->n_vocab, H = in->n_head, Lc = in->n_layer;
    if (token < -1 || token >= V || token2 < -1 || token2 >= V)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "target token %d / %d is outside the vocabulary [0, %d)", token, token2, V);
    trace tr;
    if ((s = trace_run(m, ids, n, &tr))) return s;
    const size_t widest = (size_t)(in->n_ff > in->n_head * in->head_dim ? in->n_ff : in->n_head * in->head_dim);
    const size_t row_floats = widest > (size_t)C ? widest : (size_t)C;
    attrib_logit_parts *p = attrib_calloc_array(1, sizeof *p);
    float *logits = attrib_calloc_array((size_t)V, sizeof(float));
    float *row = attrib_calloc_array(row_floats, sizeof(float));
    float *prow = attrib_calloc_array((size_t)H * n, sizeof(float));
    double *u = attrib_calloc_array((size_t)C * 3, sizeof(double));
    double *wv = attrib_calloc_array(row_floats, sizeof(double));
    if (p) {
        p->attn = attrib_calloc_array((size_t)Lc, sizeof(double));
        p->heads = attrib_calloc_array((size_t)Lc * H, sizeof(double));
        p->head_sources = attrib_calloc_array((size_t)Lc * H * n, sizeof(double));
        p->attn_bias = attrib_calloc_array((size_t)Lc, sizeof(double));
        p->ffn = attrib_calloc_array((size_t)Lc, sizeof(double));
    }
    if (!p || !logits || !row || !prow || !u || !wv || !p->attn || !p->heads || !p->head_sources || !p->attn_bias || !p->ffn) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for the logit's parts");
        goto done;
    }
    const float *xl = tr.x + (size_t)(n - 1) * C, *x0 = tr.x0 + (size_t)(n - 1) * C;
    if (token < 0) { /* the top-1 next token (the lowest id on a tie) */
        model_head_forward(m, logits, xl, tr.w.xn, 1, &tr.w);
        token = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[token]) token = i;
    }
    p->n_layer = Lc, p->n_head = H, p->n_tokens = n;
    p->token = token, p->token2 = token2;

    /* u = (w_token - w_token2) * g / r; each logit on its own for the soft-cap */
    const double r = inv_rms(xl, C, in->rms_eps);
    double *w1 = u + C, *w2 = u + 2 * (size_t)C;
    attrib_weight_row(&m->output, token, row);
    for (int c = 0; c < C; c++) w1[c] = (double)row[c] * m->output_norm[c] * r;
    if (token2 >= 0) attrib_weight_row(&m->output, token2, row);
    for (int c = 0; c < C; c++) w2[c] = token2 >= 0 ? (double)row[c] * m->output_norm[c] * r : 0.0;
    double l1 = 0, l2 = 0, emb = 0;
    for (int c = 0; c < C; c++) {
        u[c] = w1[c] - w2[c];
        l1 += w1[c] * xl[c];
        l2 += w2[c] * xl[c];
        emb += u[c] * x0[c];
    }
    const float cap = m->final_softcap;
    p->logit = l1 - l2;
    p->logit_capped = cap > 0 ? cap * tanh(l1 / cap) - (token2 >= 0 ? cap * tanh(l2 / cap) : 0.0) : p->logit;
    p->final_rms = 1.0 / r;
    p->embedding = emb;
    p->sum = emb;
    for (int l = 0; l < Lc; l++) {
        block_parts(m, &tr, l, u, prow, w1, wv, row, p); /* w1 is free now: scratch for s_l u */
        p->sum += p->attn[l] + p->ffn[l];
    }
done:
    free(logits);
    free(row);
    free(prow);
    free(u);
    free(wv);
    trace_free(&tr);
    if (s) {
        attrib_logit_parts_free(p);
        return s;
    }
    *out = p;
    return ATTRIB_OK;
}
