/*
 * layer_attr.c — layer attribution: the target attributed to the residual
 * stream h = x_L after L blocks instead of to the input embeddings (what
 * Captum calls LayerGradientXActivation and LayerIntegratedGradients).
 *
 * h is read off an inference pass stopped after L blocks (attrib_forward's
 * hidden_out); the gradient d target / d h comes from the gradient pass
 * started at block L from h itself (grad_readout.from_hidden), so blocks
 * 0..L-1 are not differentiated at all. Every position of h is a feature:
 *
 *   saliency  |g_i|                 (L2 or L1 over the C dimensions)
 *   gxi       sum_d g_id h_id       g = d target / d h at the input
 *   ig        sum_d (h_id - h'_id) sum_k w_k g_id(h' + a_k (h - h'))
 *
 * h' is the layer's hidden state on the baseline input (the span's tokens
 * replaced as for input IG: the mask token, zeros, or a baseline sequence),
 * and the rest of the network runs from each interpolated state. The
 * quadrature is the input IG's: the fixed rule, or the adaptive one with
 * the positions as its features, after which one more batch of gradient
 * passes at the final rule's nodes gives the per-dimension values (the
 * adaptive rule keeps only per-feature sums). At L = 0, gxi and ig equal
 * the input methods' (h = s x, g = dx / s for the embedding scale s).
 */
#include "attribution/explain.h"
#include "attribution/ig_quad.h"
#include "model/backward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void target_cb(void *user, int b, const float *logits, float *dlogits, double *value) {
    const explain_ctx *c = user;
    (void)b;
    *value = explain_target_value(c, logits);
    explain_target_grad(c, logits, dlogits);
}

/* The residual stream after opt.layer blocks of the embeddings EMB: H (n, C). */
static attrib_status hidden_at(const explain_ctx *c, const float *emb, float *h) {
    attrib_batch b = {.n_seq = 1, .n_tokens = c->n, .embeddings = emb, .logits_mode = ATTRIB_LOGITS_ALL,
                      .hidden_layer = c->opt.layer, .hidden_out = h};
    return attrib_forward(c->m, &b, NULL, NULL);
}

/* Sequences per gradient pass: opt.batch, else what fits the memory budget. */
static int pass_batch(const explain_ctx *c, int want) {
    if (c->opt.batch > 0) return c->opt.batch < want ? c->opt.batch : want;
    const size_t budget = c->opt.memory_budget ? c->opt.memory_budget : ((size_t)256 << 20);
    const size_t one = attrib_grad_pass_bytes(c->m, 1, c->n);
    int b = one ? (int)(budget / one) : want;
    if (b < 1) b = 1;
    return b < want ? b : want;
}

/* Gradient passes from NPTS hidden states PTS (npts, n, C): GRAD (npts, n,
 * C) = d target / d hidden state, VALUES (npts). */
static attrib_status layer_grads(explain_ctx *c, const float *pts, int npts, float *grad, double *values) {
    const size_t per = (size_t)c->n * c->m->info.n_embd;
    const int chunk = pass_batch(c, npts);
    const grad_readout ro = {.target = target_cb, .user = c, .from_hidden = 1, .first_block = c->opt.layer};
    for (int s = 0; s < npts; s += chunk) {
        const int nb = npts - s < chunk ? npts - s : chunk;
        attrib_status st = attrib_grad_pass(c->m, pts + (size_t)s * per, nb, c->n, &ro, grad + (size_t)s * per, values + s);
        if (st) return st;
        c->res->n_forward += nb;
        c->res->n_backward += nb;
    }
    return ATTRIB_OK;
}

typedef struct layer_ig {
    explain_ctx *c;
    const float *h, *hb; /* (n, C) the layer's hidden state on the input and on the baseline */
    float *pts, *g;      /* (chunk, n, C) */
    double *vals;        /* (chunk) */
    int chunk;
} layer_ig;

static void path_point(const layer_ig *A, double alpha, float *out) {
    const size_t per = (size_t)A->c->n * A->c->m->info.n_embd;
    for (size_t j = 0; j < per; j++) out[j] = (float)(A->hb[j] + alpha * ((double)A->h[j] - A->hb[j]));
}

/* The target at path(ALPHA): the network from the layer on (a gradient pass; its gradient is unused). */
static attrib_status ig_value(void *user, double alpha, double *value) {
    layer_ig *A = user;
    path_point(A, alpha, A->pts);
    attrib_status s = layer_grads(A->c, A->pts, 1, A->g, A->vals);
    if (!s) *value = A->vals[0];
    return s;
}

/* Position i's share of the integrand at the nodes ALPHA: OUT (nb, n). */
static attrib_status ig_integrand(void *user, const double *alpha, int nb, double *out) {
    layer_ig *A = user;
    explain_ctx *c = A->c;
    const int C = c->m->info.n_embd, n = c->n;
    const size_t per = (size_t)n * C;
    for (int q = 0; q < nb; q++) path_point(A, alpha[q], A->pts + (size_t)q * per);
    attrib_status s = layer_grads(c, A->pts, nb, A->g, A->vals);
    if (s) return s;
    for (int q = 0; q < nb; q++)
        for (int i = 0; i < n; i++) {
            double dot = 0;
            for (int d = 0; d < C; d++) {
                const size_t j = (size_t)i * C + d;
                dot += ((double)A->h[j] - A->hb[j]) * A->g[(size_t)q * per + j];
            }
            out[(size_t)q * n + i] = dot;
        }
    return ATTRIB_OK;
}

static void ig_progress(void *user, int64_t evals) {
    const layer_ig *A = user;
    explain_progress(A->c, evals, A->c->opt.ig_max_steps);
}

/* VALUES (n, C) = (h - h') x sum_k W_k grad(path(A_k)) over the M nodes;
 * the scores are their sums over dimensions. */
static attrib_status ig_values(layer_ig *A, const double *a, const double *w, int m) {
    explain_ctx *c = A->c;
    const size_t per = (size_t)c->n * c->m->info.n_embd;
    double *avg = attrib_calloc_array(per, sizeof(double));
    if (!avg) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    attrib_status s = ATTRIB_OK;
    for (int k0 = 0; k0 < m && !s; k0 += A->chunk) {
        const int nb = m - k0 < A->chunk ? m - k0 : A->chunk;
        for (int q = 0; q < nb; q++) path_point(A, a[k0 + q], A->pts + (size_t)q * per);
        if ((s = layer_grads(c, A->pts, nb, A->g, A->vals))) break;
        for (int q = 0; q < nb; q++)
            for (size_t j = 0; j < per; j++) avg[j] += w[k0 + q] * A->g[(size_t)q * per + j];
        explain_progress(c, k0 + nb, m);
    }
    if (!s) {
        float *v = c->res->layer_values;
        for (int i = 0; i < c->n; i++) c->res->scores[i] = 0;
        for (size_t j = 0; j < per; j++) {
            const double x = ((double)A->h[j] - A->hb[j]) * avg[j];
            v[j] = (float)x;
            c->res->scores[j / (size_t)c->m->info.n_embd] += x;
        }
    }
    free(avg);
    return s;
}

static attrib_status layer_ig_run(explain_ctx *c, const float *x, const float *h) {
    attrib_result *r = c->res;
    const size_t per = (size_t)c->n * c->m->info.n_embd;
    const bool adaptive = c->opt.ig_tol > 0;
    const int want = adaptive ? c->opt.ig_max_steps : c->opt.ig_steps;
    layer_ig A = {c, h, NULL, NULL, NULL, NULL, pass_batch(c, want)};
    float *base = attrib_calloc_array(per, sizeof(float)), *hb = attrib_calloc_array(per, sizeof(float));
    A.pts = attrib_calloc_array((size_t)A.chunk * per, sizeof(float));
    A.g = attrib_calloc_array((size_t)A.chunk * per, sizeof(float));
    A.vals = attrib_calloc_array((size_t)A.chunk, sizeof(double));
    attrib_status s = ATTRIB_OK;
    if (!base || !hb || !A.pts || !A.g || !A.vals) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for layer IG");
        goto done;
    }
    A.hb = hb;
    if ((s = explain_baseline_embeddings(c, x, base)) || (s = hidden_at(c, base, hb))) goto done;
    if ((s = explain_eval_one(c, NULL, base, &r->f_baseline))) goto done;
    r->n_forward += 2;
    if (adaptive) {
        ig_quad_result q = {.scores = r->scores};
        const ig_quad_problem pr = {c->n, A.chunk, ig_integrand, ig_value, ig_progress, &A};
        const double goal =
            fmax(c->opt.ig_tol * fabs(r->f_input - r->f_baseline), 1e-5 * fmax(fabs(r->f_input), fabs(r->f_baseline)));
        if ((s = ig_quad_adaptive(&pr, NULL, 0, r->f_baseline, r->f_input, goal, c->opt.ig_max_steps, &q))) goto done;
        r->ig_nodes = q.nodes, r->ig_weights = q.weights, r->ig_n_nodes = q.n_nodes;
        r->ig_pieces = q.pieces, r->ig_cap_reached = q.cap_reached, r->ig_error_bound = q.error_bound;
    } else {
        r->ig_n_nodes = c->opt.ig_steps, r->ig_pieces = 1;
        r->ig_nodes = attrib_calloc_array((size_t)r->ig_n_nodes, sizeof(double));
        r->ig_weights = attrib_calloc_array((size_t)r->ig_n_nodes, sizeof(double));
        if (!r->ig_nodes || !r->ig_weights) {
            s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for %d IG steps", r->ig_n_nodes);
            goto done;
        }
        ig_rule_points(c->opt.ig_rule, r->ig_n_nodes, r->ig_nodes, r->ig_weights);
    }
    s = ig_values(&A, r->ig_nodes, r->ig_weights, r->ig_n_nodes);
done:
    free(base);
    free(hb);
    free(A.pts);
    free(A.g);
    free(A.vals);
    return s;
}

attrib_status attrib_layer_run(explain_ctx *c) {
    attrib_result *r = c->res;
    const int C = c->m->info.n_embd, n = c->n;
    const size_t per = (size_t)n * C;
    float *x = attrib_calloc_array(per, sizeof(float)), *h = attrib_calloc_array(per, sizeof(float));
    r->layer_values = attrib_calloc_array(per, sizeof(float));
    attrib_status s = ATTRIB_OK;
    if (!x || !h || !r->layer_values) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    if ((s = attrib_model_embed(c->m, c->ids, (size_t)n, x)) || (s = hidden_at(c, x, h))) goto done;
    r->n_forward++;
    if (c->opt.method == ATTRIB_METHOD_INTEGRATED_GRADIENTS) {
        s = layer_ig_run(c, x, h);
        goto done;
    }
    if (c->opt.method != ATTRIB_METHOD_SALIENCY && c->opt.method != ATTRIB_METHOD_GRAD_X_INPUT) {
        s = attrib_fail(ATTRIB_E_UNSUPPORTED, "layer attribution has no %s yet", attrib_method_name(c->opt.method));
        goto done;
    }
    /* saliency and gradient x activation: one gradient at the input */
    double value;
    r->gradients = attrib_calloc_array(per, sizeof(float));
    if (!r->gradients) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    if ((s = layer_grads(c, h, 1, r->gradients, &value))) goto done;
    for (int i = 0; i < n; i++) {
        double acc = 0;
        for (int d = 0; d < C; d++) {
            const size_t j = (size_t)i * C + d;
            const double g = r->gradients[j];
            if (c->opt.method == ATTRIB_METHOD_SALIENCY) {
                acc += c->opt.norm == ATTRIB_NORM_L1 ? fabs(g) : g * g;
                r->layer_values[j] = (float)fabs(g);
            } else {
                acc += g * h[j];
                r->layer_values[j] = (float)(g * h[j]);
            }
        }
        r->scores[i] = c->opt.method == ATTRIB_METHOD_SALIENCY && c->opt.norm == ATTRIB_NORM_L2 ? sqrt(acc) : acc;
    }
done:
    free(x);
    free(h);
    return s;
}
