/*
 * perturb_lime.c — LIME over an abstract game (perturb.h): a local linear
 * surrogate fitted to the model's values on random masks of the input.
 *
 * Samples follow LIME's text explainer: the unmasked input itself, then
 * N masks each removing k features, k uniform in [1, n-1] (k = 1 when
 * n = 1), the removed features a uniform subset. Each sample z (a binary
 * vector, 1 = present) is weighted by the kernel of its cosine distance to
 * the all-ones input,
 *     d(z) = 1 - |z| / (sqrt(|z|) sqrt(n)) = 1 - sqrt(|z| / n),
 *     w(z) = sqrt(exp(-d^2 / width^2))       (d = 1 for the empty mask),
 * LIME's kernel with its distance on a 0..1 scale (LIME's 0..100 scale with
 * width 25 is width 0.25 here). The fit is a weighted ridge regression with
 * an unpenalised intercept, as sklearn's Ridge(alpha=ridge) does it:
 * centre z and v by their weighted means, then
 *     (Zc^T W Zc + ridge I) beta = Zc^T W vc.
 * The scores are beta. LIME does not satisfy efficiency; explain.c still
 * reports the completeness gap against f(all masked). Standard errors: the
 * standard deviation of beta over bootstrap resamples of the random masks
 * (the unmasked input stays in every resample).
 */
#include "attribution/perturb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BOOTSTRAP_REPS 64

static attrib_status lime_fit(int n, int m, const uint8_t *const *rows, const double *y, const double *w, double ridge,
                              double *beta, double *A, double *xbar) {
    double sw = 0, ybar = 0;
    memset(xbar, 0, (size_t)n * sizeof(double));
    for (int k = 0; k < m; k++) {
        if (w[k] == 0) continue;
        sw += w[k];
        ybar += w[k] * y[k];
        for (int i = 0; i < n; i++) xbar[i] += w[k] * (rows[k][i] != 0);
    }
    if (!(sw > 0)) return attrib_fail(ATTRIB_E_NUMERIC, "LIME: every sample has zero kernel weight (kernel width too small?)");
    ybar /= sw;
    for (int i = 0; i < n; i++) xbar[i] /= sw;
    memset(A, 0, (size_t)n * n * sizeof(double));
    memset(beta, 0, (size_t)n * sizeof(double));
    for (int k = 0; k < m; k++) {
        if (w[k] == 0) continue;
        const double yc = y[k] - ybar;
        for (int i = 0; i < n; i++) {
            const double xi = (rows[k][i] != 0) - xbar[i];
            beta[i] += w[k] * xi * yc;
            double *Ai = A + (size_t)i * n;
            for (int j = 0; j <= i; j++) Ai[j] += w[k] * xi * ((rows[k][j] != 0) - xbar[j]);
        }
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) A[(size_t)j * n + i] = A[(size_t)i * n + j];
        A[(size_t)i * n + i] += ridge;
    }
    return attrib_solve_spd(A, beta, n);
}

attrib_status perturb_lime(const perturb_game *g, int n_samples, double kernel_width, double ridge, uint64_t seed,
                           double *phi, double *se, int64_t *n_evals) {
    const int n = g->n;
    *n_evals = 0;
    if (n < 1 || n_samples < 1 || !(kernel_width > 0) || !(ridge >= 0))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "LIME needs n >= 1, samples >= 1, kernel width > 0 and ridge >= 0");
    const int m = n_samples + 1;
    uint8_t *buf = attrib_calloc_array((size_t)m, (size_t)n);
    const uint8_t **rows = attrib_calloc_array((size_t)m, sizeof *rows);
    double *y = attrib_calloc_array((size_t)m, sizeof(double));
    double *w = attrib_calloc_array((size_t)m, sizeof(double));
    double *bw = attrib_calloc_array((size_t)m, sizeof(double));
    double *A = attrib_calloc_array((size_t)n * n, sizeof(double));
    double *xbar = attrib_calloc_array((size_t)n, sizeof(double));
    double *bb = attrib_calloc_array((size_t)n, sizeof(double));
    double *mean = attrib_calloc_array((size_t)n, sizeof(double));
    double *m2 = attrib_calloc_array((size_t)n, sizeof(double));
    int *perm = attrib_calloc_array((size_t)n, sizeof(int));
    attrib_status s = ATTRIB_OK;
    if (!buf || !rows || !y || !w || !bw || !A || !xbar || !bb || !mean || !m2 || !perm) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    attrib_rng rng;
    attrib_rng_seed(&rng, seed, 4);
    for (int k = 0; k < m; k++) {
        uint8_t *z = buf + (size_t)k * n;
        rows[k] = z;
        memset(z, 1, (size_t)n);
        if (k > 0) {
            const int rm = n > 1 ? 1 + (int)attrib_rng_below(&rng, (uint64_t)(n - 1)) : 1;
            for (int i = 0; i < n; i++) perm[i] = i;
            for (int i = 0; i < rm; i++) {
                int j = i + (int)attrib_rng_below(&rng, (uint64_t)(n - i));
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
                z[perm[i]] = 0;
            }
        }
        int cnt = 0;
        for (int i = 0; i < n; i++) cnt += z[i];
        const double d = cnt ? 1.0 - sqrt((double)cnt / n) : 1.0;
        w[k] = sqrt(exp(-(d * d) / (kernel_width * kernel_width)));
    }
    if ((s = perturb_eval_unique(g, rows, m, y, n_evals))) goto done;
    if ((s = lime_fit(n, m, rows, y, w, ridge, phi, A, xbar))) goto done;
    if (!se) goto done;
    attrib_rng brng;
    attrib_rng_seed(&brng, seed, 5);
    for (int rep = 0; rep < BOOTSTRAP_REPS; rep++) {
        memset(bw, 0, (size_t)m * sizeof(double));
        bw[0] = w[0];
        for (int k = 1; k < m; k++) {
            const int q = 1 + (int)attrib_rng_below(&brng, (uint64_t)(m - 1));
            bw[q] += w[q];
        }
        if ((s = lime_fit(n, m, rows, y, bw, ridge, bb, A, xbar))) goto done;
        for (int i = 0; i < n; i++) {
            const double dd = bb[i] - mean[i];
            mean[i] += dd / (rep + 1);
            m2[i] += dd * (bb[i] - mean[i]);
        }
    }
    for (int i = 0; i < n; i++) se[i] = sqrt(m2[i] / (BOOTSTRAP_REPS - 1));
done:
    free(buf);
    free(rows);
    free(y);
    free(w);
    free(bw);
    free(A);
    free(xbar);
    free(bb);
    free(mean);
    free(m2);
    free(perm);
    return s;
}
