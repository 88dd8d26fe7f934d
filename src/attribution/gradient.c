/*
 * gradient.c — gradient attribution methods on top of the input gradient of
 * backward.c: saliency, gradient x input, integrated gradients and
 * SmoothGrad. All of them differentiate with respect to the input
 * EMBEDDINGS (never token ids), and only the span's tokens are perturbed:
 * fixed tokens (BOS, template text) are identical in input and baseline.
 *
 * Integrated gradients: attribution of token i is
 *   (x_i - x'_i) . sum_k w_k grad f(x' + a_k (x - x'))_i
 * with nodes a_k and weights w_k of the chosen rule on [0, 1]. The baseline
 * x' is the zero embedding, the embedding of a chosen token, or a given
 * token sequence. The interpolation points go through forward and backward
 * as one batch, chunked to the memory budget. Every IG result reports the
 * completeness delta, sum of attributions - (f(x) - f(x')).
 *
 * Feature scores sum their tokens' scores (for saliency: the per-token
 * gradient norms).
 */
#include "model/backward.h"
#include "attribution/explain.h"
#include "task/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct target_ctx {
    const explain_ctx *c;
} target_ctx;

static void target_cb(void *user, int b, const float *logits, float *dlogits, double *value) {
    const explain_ctx *c = ((target_ctx *)user)->c;
    (void)b;
    *value = explain_target_value(c, logits);
    explain_target_grad(c, logits, dlogits);
}

/* The probe's logit on the pooled residual stream after its layer; its
 * gradient goes straight into the pooled rows (spread evenly for the mean). */
static attrib_status probe_readout(void *user, const float *hidden, int B, int T, int C, float *dhidden, double *values) {
    const explain_ctx *c = ((target_ctx *)user)->c;
    const attrib_probe *probe = c->probe;
    if (probe->dim != C || c->pool_start < 0 || c->pool_start >= T)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the probe does not fit this model or input");
    float *pooled = attrib_calloc_array((size_t)C * 2, sizeof(float));
    if (!pooled) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    float *dfeat = pooled + C;
    probe_feature_grad(probe, dfeat); /* (C) the same for every sequence */
    for (int b = 0; b < B; b++) {
        probe_pool_rows(hidden + (int64_t)b * T * C, T, C, c->pool_start, probe->pool, pooled);
        values[b] = attrib_probe_logit(probe, pooled);
    }
    memset(dhidden, 0, sizeof(float) * (size_t)B * T * C);
    const int first = probe->pool == ATTRIB_POOL_MEAN ? c->pool_start : T - 1;
    const float share = 1.0f / (float)(T - first);
    for (int b = 0; b < B; b++)
        for (int t = first; t < T; t++)
            for (int d = 0; d < C; d++) dhidden[((int64_t)b * T + t) * C + d] = dfeat[d] * share;
    free(pooled);
    return ATTRIB_OK;
}

/* Sequences per gradient pass: opt.batch, else what fits the memory budget. */
static int pass_batch(const explain_ctx *c, int want) {
    if (c->opt.batch > 0) return c->opt.batch < want ? c->opt.batch : want;
    size_t budget = c->opt.memory_budget ? c->opt.memory_budget : ((size_t)256 << 20);
    size_t one = attrib_grad_pass_bytes(c->m, 1, c->n);
    int b = one ? (int)(budget / one) : want;
    if (b < 1) b = 1;
    return b < want ? b : want;
}

/* Runs the gradient passes for NPTS sequences of embeddings PTS (npts, n, C):
 * GRAD (npts, n, C) and VALUES (npts). */
static attrib_status grads(explain_ctx *c, const float *pts, int npts, float *grad, double *values) {
    const size_t per = (size_t)c->n * c->m->info.n_embd;
    const int chunk = pass_batch(c, npts);
    target_ctx tc = {c};
    for (int s = 0; s < npts; s += chunk) {
        int nb = npts - s < chunk ? npts - s : chunk;
        const grad_readout ro = {target_cb, c->probe ? probe_readout : NULL, c->probe ? c->probe->layer : 0, &tc};
        attrib_status st = attrib_grad_pass(c->m, pts + (size_t)s * per, nb, c->n, &ro, grad + (size_t)s * per, values + s);
        if (st) return st;
        c->res->n_forward += nb;
        c->res->n_backward += nb;
        explain_progress(c, s + nb, npts);
    }
    return ATTRIB_OK;
}

/* Gauss-Legendre nodes and weights on [0, 1] (Newton on P_m, in double). */
static void gauss_legendre(int m, double *x, double *w) {
    for (int i = 0; i < m; i++) {
        double z = cos(M_PI * (i + 0.75) / (m + 0.5)), pp = 0;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = 0;
            for (int j = 1; j <= m; j++) {
                double p2 = p1;
                p1 = p0;
                p0 = ((2.0 * j - 1) * z * p1 - (j - 1.0) * p2) / j;
            }
            pp = m * (z * p0 - p1) / (z * z - 1);
            double dz = p0 / pp;
            z -= dz;
            if (fabs(dz) < 1e-15) break;
        }
        x[i] = (1.0 - z) / 2.0; /* map [-1, 1] to [0, 1], ascending */
        w[i] = 1.0 / ((1 - z * z) * pp * pp);
    }
}

/* Nodes and weights of RULE with M points on [0, 1]; weights sum to 1. */
static void ig_rule_points(attrib_ig_rule rule, int m, double *a, double *w) {
    switch (rule) {
    case ATTRIB_IG_GAUSS_LEGENDRE: gauss_legendre(m, a, w); return;
    case ATTRIB_IG_LEFT: for (int k = 0; k < m; k++) a[k] = (double)k / m, w[k] = 1.0 / m; return;
    case ATTRIB_IG_RIGHT: for (int k = 0; k < m; k++) a[k] = (k + 1.0) / m, w[k] = 1.0 / m; return;
    case ATTRIB_IG_MIDDLE: for (int k = 0; k < m; k++) a[k] = (k + 0.5) / m, w[k] = 1.0 / m; return;
    case ATTRIB_IG_TRAPEZOID:
        if (m == 1) {
            a[0] = 0.5, w[0] = 1.0;
            return;
        }
        for (int k = 0; k < m; k++) a[k] = (double)k / (m - 1), w[k] = (k == 0 || k == m - 1 ? 0.5 : 1.0) / (m - 1);
        return;
    }
}

/* The IG baseline embeddings (n, C): the input outside the span; inside it
 * zeros, the mask token's embedding, or the given baseline sequence's. */
static attrib_status baseline_embeddings(explain_ctx *c, const float *x, float *base) {
    const int C = c->m->info.n_embd;
    memcpy(base, x, sizeof(float) * (size_t)c->n * C);
    for (int i = 0; i < c->n; i++) {
        if (c->feature_of_token[i] < 0) continue;
        float *row = base + (size_t)i * C;
        if (c->opt.baseline_ids) {
            attrib_status s = attrib_model_embed(c->m, &c->opt.baseline_ids[i], 1, row);
            if (s) return s;
        } else if (c->opt.mask == ATTRIB_MASK_ZERO) {
            memset(row, 0, sizeof(float) * C);
        } else if (c->opt.mask == ATTRIB_MASK_TOKEN) {
            attrib_status s = attrib_model_embed(c->m, &c->opt.mask_token, 1, row);
            if (s) return s;
        } else {
            return attrib_fail(ATTRIB_E_UNSUPPORTED,
                               "integrated gradients needs an embedding baseline: use --mask token or --mask zero");
        }
    }
    return ATTRIB_OK;
}

/* splitmix64 + Box-Muller: the same noise on every platform and thread count. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double gaussian(uint64_t *s) {
    double u1 = ((splitmix64(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double token_saliency(const float *g, int C, attrib_saliency_norm norm) {
    double s = 0;
    for (int d = 0; d < C; d++) s += norm == ATTRIB_NORM_L1 ? fabs(g[d]) : (double)g[d] * g[d];
    return norm == ATTRIB_NORM_L1 ? s : sqrt(s);
}

static double token_gxi(const float *g, const float *x, int C) {
    double s = 0;
    for (int d = 0; d < C; d++) s += (double)g[d] * x[d];
    return s;
}

attrib_status attrib_gradient_run(explain_ctx *c) {
    const int C = c->m->info.n_embd, n = c->n;
    const size_t per = (size_t)n * C;
    attrib_result *r = c->res;
    attrib_status s = ATTRIB_OK;
    float *x = attrib_calloc_array(per, sizeof(float));
    float *pts = NULL, *g = NULL, *base = NULL;
    double *vals = NULL, *a = NULL, *w = NULL, *sq = NULL;
    if (!x) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    if ((s = attrib_model_embed(c->m, c->ids, (size_t)n, x))) goto done;

    switch (c->opt.method) {
    case ATTRIB_METHOD_SALIENCY:
    case ATTRIB_METHOD_GRAD_X_INPUT: {
        g = attrib_calloc_array(per, sizeof(float));
        vals = attrib_calloc_array(1, sizeof(double));
        if (!g || !vals) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
        if ((s = grads(c, x, 1, g, vals))) goto done;
        for (int i = 0; i < n; i++) {
            int f = c->feature_of_token[i];
            if (f < 0) continue;
            r->scores[f] += c->opt.method == ATTRIB_METHOD_SALIENCY ? token_saliency(g + (size_t)i * C, C, c->opt.norm)
                                                                     : token_gxi(g + (size_t)i * C, x + (size_t)i * C, C);
        }
        r->gradients = g; /* the signed gradient, (n, C) */
        g = NULL;
        break;
    }
    case ATTRIB_METHOD_INTEGRATED_GRADIENTS: {
        const int m = c->opt.ig_steps;
        base = attrib_calloc_array(per, sizeof(float));
        a = attrib_calloc_array((size_t)m, sizeof(double));
        w = attrib_calloc_array((size_t)m, sizeof(double));
        pts = attrib_calloc_array((size_t)m * per, sizeof(float));
        g = attrib_calloc_array((size_t)m * per, sizeof(float));
        vals = attrib_calloc_array((size_t)m, sizeof(double));
        if (!base || !a || !w || !pts || !g || !vals) {
            s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for %d IG steps", m);
            goto done;
        }
        if ((s = baseline_embeddings(c, x, base))) goto done;
        ig_rule_points(c->opt.ig_rule, m, a, w);
        for (int k = 0; k < m; k++)
            for (size_t j = 0; j < per; j++) pts[(size_t)k * per + j] = (float)(base[j] + a[k] * ((double)x[j] - base[j]));
        if ((s = grads(c, pts, m, g, vals))) goto done;
        /* f(x') for completeness: only its value is needed, so a forward pass */
        if ((s = explain_eval_one(c, NULL, base, &r->f_baseline))) goto done;
        r->n_forward++;
        for (int i = 0; i < n; i++) {
            int f = c->feature_of_token[i];
            if (f < 0) continue;
            double acc = 0;
            for (int d = 0; d < C; d++) {
                double avg = 0;
                for (int k = 0; k < m; k++) avg += w[k] * g[(size_t)k * per + (size_t)i * C + d];
                acc += ((double)x[(size_t)i * C + d] - base[(size_t)i * C + d]) * avg;
            }
            r->scores[f] += acc;
        }
        break;
    }
    case ATTRIB_METHOD_SMOOTHGRAD: {
        const int m = c->opt.smooth_samples;
        /* noise scale: smooth_noise times the RMS of the span's embeddings */
        double ss = 0;
        int cnt = 0;
        for (int i = 0; i < n; i++)
            if (c->feature_of_token[i] >= 0) {
                for (int d = 0; d < C; d++) ss += (double)x[(size_t)i * C + d] * x[(size_t)i * C + d];
                cnt += C;
            }
        const double sigma = c->opt.smooth_noise * sqrt(ss / (cnt ? cnt : 1));
        pts = attrib_calloc_array((size_t)m * per, sizeof(float));
        g = attrib_calloc_array((size_t)m * per, sizeof(float));
        vals = attrib_calloc_array((size_t)m, sizeof(double));
        sq = attrib_calloc_array((size_t)c->n_features, sizeof(double));
        r->std_errors = attrib_calloc_array((size_t)c->n_features, sizeof(double));
        if (!pts || !g || !vals || !sq || !r->std_errors) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
        uint64_t rng = c->opt.seed ^ 0x5307a11ce5eedull;
        for (int k = 0; k < m; k++)
            for (int i = 0; i < n; i++)
                for (int d = 0; d < C; d++) {
                    size_t j = (size_t)k * per + (size_t)i * C + d;
                    pts[j] = x[(size_t)i * C + d] + (c->feature_of_token[i] >= 0 ? (float)(sigma * gaussian(&rng)) : 0.0f);
                }
        if ((s = grads(c, pts, m, g, vals))) goto done;
        double *sample = attrib_calloc_array((size_t)c->n_features, sizeof(double));
        if (!sample) { s = attrib_fail(ATTRIB_E_NOMEM, "out of memory"); goto done; }
        for (int k = 0; k < m; k++) {
            memset(sample, 0, sizeof(double) * c->n_features);
            for (int i = 0; i < n; i++) {
                int f = c->feature_of_token[i];
                if (f < 0) continue;
                const float *gi = g + (size_t)k * per + (size_t)i * C, *xi = pts + (size_t)k * per + (size_t)i * C;
                sample[f] += c->opt.smooth_on_gxi ? token_gxi(gi, xi, C) : token_saliency(gi, C, c->opt.norm);
            }
            for (int f = 0; f < c->n_features; f++) {
                r->scores[f] += sample[f] / m;
                sq[f] += sample[f] * sample[f];
            }
        }
        for (int f = 0; f < c->n_features; f++) {
            double var = m > 1 ? (sq[f] - m * r->scores[f] * r->scores[f]) / (m - 1) : 0.0;
            r->std_errors[f] = var > 0 ? sqrt(var / m) : 0.0;
        }
        free(sample);
        break;
    }
    default:
        s = attrib_fail(ATTRIB_E_INTERNAL, "method %d is not a gradient method", (int)c->opt.method);
    }
done:
    free(x);
    free(pts);
    free(g);
    free(base);
    free(vals);
    free(a);
    free(w);
    free(sq);
    return s;
}
