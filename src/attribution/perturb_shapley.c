/*
 * perturb_shapley.c — Shapley-value estimators over an abstract game
 * (perturb_game: a value function of coalitions; see perturb.h): exact
 * enumeration, permutation sampling with antithetic permutations, and
 * KernelSHAP. Nothing here knows about models, so tests/test-perturb.c
 * checks them on games with closed-form Shapley values.
 *
 *   phi_i = sum_{S not containing i} |S|! (n-|S|-1)! / n! (v(S + i) - v(S))
 *
 * Exact: every v(S) once (2^n - 2 evaluations; the empty and the full
 * coalition are given), then the sum above.
 *
 * Permutation sampling: for a permutation pi, adding the features in that
 * order gives n marginal contributions whose expectation over uniform
 * permutations is phi. Each permutation needs n - 1 evaluations (its empty
 * and full coalitions are given; a coalition that several permutations
 * reach, frequent with few features, is evaluated once); permutations are
 * drawn in antithetic pairs (pi, reversed pi), which are negatively
 * correlated and reduce the variance. The estimate is the mean over permutations, so the efficiency
 * axiom holds exactly for every sample size.
 *
 * KernelSHAP: phi is the solution of the weighted least-squares problem
 *   min sum_z w(z) (v(z) - v(0) - z . phi)^2   s.t.  sum phi = v(1) - v(0)
 * with the Shapley kernel w(z) = (n-1) / (C(n,|z|) |z| (n-|z|)). The empty
 * and full coalitions (infinite weight) become the intercept v(0) and the
 * constraint, which is eliminated exactly (phi_{n-1} = total - the others).
 * Coalitions are drawn from the kernel (a size s with probability
 * proportional to (n-1)/(s(n-s)), then a uniform subset of that size) in
 * pairs z, 1-z, each with weight 1; when 2^n - 2 <= samples every coalition
 * is enumerated with its exact weight, which gives exactly phi.
 */
#include "attribution/perturb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Number of bootstrap resamples for KernelSHAP's and LIME's standard errors. */
#define BOOTSTRAP_REPS 64

/* ------------------------------------------------------------ utilities */

typedef struct rows_ctx {
    const uint8_t *const *rows;
    int n;
} rows_ctx;

static int cmp_rows(const void *ctx, int a, int b) {
    const rows_ctx *r = ctx;
    int c = memcmp(r->rows[a], r->rows[b], (size_t)r->n);
    return c ? c : (a > b) - (a < b);
}

attrib_status perturb_eval_unique(const perturb_game *g, const uint8_t *const *rows, int m, double *values, int64_t *n_evals) {
    return perturb_eval_unique_marked(g, rows, m, values, n_evals, NULL);
}

attrib_status perturb_eval_unique_marked(const perturb_game *g, const uint8_t *const *rows, int m, double *values,
                                         int64_t *n_evals, uint8_t *first) {
    const int n = g->n;
    int *idx = attrib_calloc_array((size_t)(m > 0 ? m : 1), sizeof(int));
    int *rep = attrib_calloc_array((size_t)(m > 0 ? m : 1), sizeof(int)); /* representative of each row */
    const uint8_t **uniq = attrib_calloc_array((size_t)(m > 0 ? m : 1), sizeof *uniq);
    double *uval = attrib_calloc_array((size_t)(m > 0 ? m : 1), sizeof(double));
    attrib_status s = ATTRIB_OK;
    if (!idx || !rep || !uniq || !uval) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < m; k++) idx[k] = k;
    rows_ctx rc = {rows, n};
    if ((s = attrib_sort_indices(idx, m, cmp_rows, &rc))) goto done;
    int nu = 0;
    for (int t = 0; t < m; t++) {
        const int k = idx[t];
        if (t > 0 && memcmp(rows[k], rows[idx[t - 1]], (size_t)n) == 0) {
            rep[k] = rep[idx[t - 1]];
            continue;
        }
        int cnt = 0;
        for (int i = 0; i < n; i++) cnt += rows[k][i] != 0;
        if (cnt == 0) rep[k] = -1;
        else if (cnt == n) rep[k] = -2;
        else {
            rep[k] = nu;
            uniq[nu++] = rows[k];
        }
    }
    for (int u0 = 0; u0 < nu; u0 += PERTURB_CHUNK) {
        const int cnt = nu - u0 < PERTURB_CHUNK ? nu - u0 : PERTURB_CHUNK;
        if ((s = g->fn(g->ctx, uniq + u0, cnt, uval + u0))) goto done;
    }
    for (int k = 0; k < m; k++) values[k] = rep[k] == -1 ? g->v_none : rep[k] == -2 ? g->v_all : uval[rep[k]];
    if (first) /* the sort is stable, so a run of equal rows starts at its lowest index */
        for (int t = 0; t < m; t++) {
            const int k = idx[t];
            first[k] = rep[k] >= 0 && (t == 0 || rep[idx[t - 1]] != rep[k]);
        }
    *n_evals += nu;
done:
    free(idx);
    free(rep);
    free(uniq);
    free(uval);
    return s;
}

/* ----------------------------------------------------------------- exact */

attrib_status perturb_shapley_exact(const perturb_game *g, double *phi, int64_t *n_evals) {
    const int n = g->n;
    if (n < 1 || n > PERTURB_EXACT_HARD_LIMIT)
        return attrib_fail(ATTRIB_E_LIMIT, "exact Shapley values support 1..%d features, not %d", PERTURB_EXACT_HARD_LIMIT, n);
    const size_t N = (size_t)1 << n;
    double *v = attrib_calloc_array(N, sizeof(double));
    double *w = attrib_calloc_array((size_t)n, sizeof(double));
    const size_t chunk = PERTURB_CHUNK;
    uint8_t *buf = attrib_calloc_array(chunk, (size_t)n);
    const uint8_t **ptr = attrib_calloc_array(chunk, sizeof *ptr);
    attrib_status s = ATTRIB_OK;
    if (!v || !w || !buf || !ptr) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for %zu coalition values", N);
        goto done;
    }
    *n_evals = 0;
    v[0] = g->v_none;
    v[N - 1] = g->v_all;
    for (size_t k = 0; k < chunk; k++) ptr[k] = buf + k * n;
    for (size_t s0 = 1; s0 < N - 1; s0 += chunk) {
        const size_t cnt = N - 1 - s0 < chunk ? N - 1 - s0 : chunk;
        for (size_t k = 0; k < cnt; k++)
            for (int i = 0; i < n; i++) buf[k * n + i] = (uint8_t)(((s0 + k) >> i) & 1);
        if ((s = g->fn(g->ctx, ptr, (int)cnt, v + s0))) goto done;
        *n_evals += (int64_t)cnt;
    }
    /* w[s] = s! (n-s-1)! / n! = 1 / (n C(n-1, s)) */
    for (int k = 0; k < n; k++) {
        double binom = 1;
        for (int j = 1; j <= k; j++) binom = binom * (n - 1 - k + j) / j;
        w[k] = 1.0 / (n * binom);
    }
    for (int i = 0; i < n; i++) phi[i] = 0;
    for (size_t S = 0; S < N; S++) {
        const int sz = __builtin_popcountll((unsigned long long)S);
        for (int i = 0; i < n; i++)
            if (!((S >> i) & 1)) phi[i] += w[sz] * (v[S | ((size_t)1 << i)] - v[S]);
    }
done:
    free(v);
    free(w);
    free(buf);
    free(ptr);
    return s;
}

/* ----------------------------------------------------- permutation sampling */

attrib_status perturb_shapley_permutation(const perturb_game *g, int n_perm, int antithetic, uint64_t seed, double *phi,
                                          double *se, int64_t *n_evals) {
    const int n = g->n;
    if (n < 1 || n_perm < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "permutation sampling needs n >= 1 and samples >= 1");
    *n_evals = 0;
    if (n == 1) { /* one feature: phi = v(1) - v(0), no uncertainty */
        phi[0] = g->v_all - g->v_none;
        if (se) se[0] = 0;
        return ATTRIB_OK;
    }
    const int per = n - 1; /* coalitions evaluated per permutation */
    int chunk = PERTURB_CHUNK / per;
    if (chunk < 2) chunk = 2;
    if (chunk > n_perm) chunk = n_perm;
    if (antithetic && chunk % 2 && chunk < n_perm) chunk++; /* keep pairs in one chunk */
    int *perm = attrib_calloc_array((size_t)chunk, (size_t)n * sizeof(int));
    uint8_t *buf = attrib_calloc_array((size_t)chunk * per, (size_t)n);
    const uint8_t **ptr = attrib_calloc_array((size_t)chunk * per, sizeof *ptr);
    double *vals = attrib_calloc_array((size_t)chunk * per, sizeof(double));
    double *unit = attrib_calloc_array((size_t)n, sizeof(double)); /* marginals of the current unit */
    double *mean = attrib_calloc_array((size_t)n, sizeof(double));
    double *m2 = attrib_calloc_array((size_t)n, sizeof(double));
    double *sum = attrib_calloc_array((size_t)n, sizeof(double));
    attrib_status s = ATTRIB_OK;
    if (!perm || !buf || !ptr || !vals || !unit || !mean || !m2 || !sum) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    attrib_rng rng;
    attrib_rng_seed(&rng, seed, 1);
    int64_t n_units = 0;
    int unit_size = 0;
    for (size_t k = 0; k < (size_t)chunk * per; k++) ptr[k] = buf + k * n;
    for (int p0 = 0; p0 < n_perm; p0 += chunk) {
        const int np = n_perm - p0 < chunk ? n_perm - p0 : chunk;
        for (int q = 0; q < np; q++) {
            int *pi = perm + (size_t)q * n;
            if (antithetic && (p0 + q) % 2 == 1) {
                const int *prev = pi - n; /* pairs never straddle chunks */
                for (int i = 0; i < n; i++) pi[i] = prev[n - 1 - i];
            } else {
                for (int i = 0; i < n; i++) pi[i] = i;
                for (int i = n - 1; i > 0; i--) {
                    int j = (int)attrib_rng_below(&rng, (uint64_t)i + 1);
                    int t = pi[i];
                    pi[i] = pi[j];
                    pi[j] = t;
                }
            }
        }
        if (g->chains) {
            s = g->chains(g->ctx, perm, np, vals, n_evals);
        } else {
            for (int q = 0; q < np; q++) {
                /* coalition k (1..n-1): the first k features of pi present */
                const int *pi = perm + (size_t)q * n;
                uint8_t *row = buf + (size_t)q * per * n;
                memset(row, 0, (size_t)per * n);
                for (int k = 1; k <= per; k++) {
                    uint8_t *r = row + (size_t)(k - 1) * n;
                    if (k > 1) memcpy(r, r - n, (size_t)n);
                    r[pi[k - 1]] = 1;
                }
            }
            s = perturb_eval_unique(g, ptr, np * per, vals, n_evals);
        }
        if (s) goto done;
        for (int q = 0; q < np; q++) {
            const int *pi = perm + (size_t)q * n;
            const double *v = vals + (size_t)q * per;
            double prev = g->v_none;
            for (int k = 1; k <= n; k++) {
                const double cur = k < n ? v[k - 1] : g->v_all;
                unit[pi[k - 1]] += cur - prev;
                sum[pi[k - 1]] += cur - prev;
                prev = cur;
            }
            unit_size++;
            const int last = p0 + q == n_perm - 1;
            if (!antithetic || unit_size == 2 || last) {
                /* Welford update with this unit's mean marginals */
                n_units++;
                for (int i = 0; i < n; i++) {
                    const double x = unit[i] / unit_size, d = x - mean[i];
                    mean[i] += d / (double)n_units;
                    m2[i] += d * (x - mean[i]);
                    unit[i] = 0;
                }
                unit_size = 0;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        phi[i] = sum[i] / n_perm;
        if (se) se[i] = n_units > 1 ? sqrt(m2[i] / (double)(n_units - 1) / (double)n_units) : NAN;
    }
done:
    free(perm);
    free(buf);
    free(ptr);
    free(vals);
    free(unit);
    free(mean);
    free(m2);
    free(sum);
    return s;
}

/* -------------------------------------------------------------- KernelSHAP */

/* Constrained weighted least squares (see the top of the file) over the M
 * coalitions ROWS with targets Y (= v(z) - v(0)) and weights W; A and B are
 * scratch of (n-1)^2 and n-1 doubles. */
static attrib_status kshap_fit(int n, int m, const uint8_t *const *rows, const double *y, const double *w, double total,
                               double *phi, double *A, double *b) {
    const int d = n - 1;
    memset(A, 0, (size_t)d * d * sizeof(double));
    memset(b, 0, (size_t)d * sizeof(double));
    int *nz = attrib_calloc_array((size_t)n, sizeof(int));
    int8_t *x = attrib_calloc_array((size_t)n, 1);
    if (!nz || !x) {
        free(nz);
        free(x);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    }
    for (int k = 0; k < m; k++) {
        if (w[k] == 0) continue;
        const uint8_t *z = rows[k];
        const int zl = z[d] != 0;
        const double yk = y[k] - zl * total;
        int cnt = 0;
        for (int i = 0; i < d; i++) {
            x[i] = (int8_t)((z[i] != 0) - zl);
            if (x[i]) nz[cnt++] = i;
        }
        for (int a = 0; a < cnt; a++) {
            const int i = nz[a];
            b[i] += w[k] * x[i] * yk;
            for (int c2 = 0; c2 < cnt; c2++) A[(size_t)i * d + nz[c2]] += w[k] * x[i] * x[nz[c2]];
        }
    }
    free(nz);
    free(x);
    attrib_status s = attrib_solve_spd(A, b, d);
    if (s) return s;
    double rest = total;
    for (int i = 0; i < d; i++) {
        phi[i] = b[i];
        rest -= b[i];
    }
    phi[d] = rest;
    return ATTRIB_OK;
}

attrib_status perturb_kernelshap(const perturb_game *g, int n_samples, uint64_t seed, double *phi, double *se,
                                 int64_t *n_evals) {
    const int n = g->n;
    const double total = g->v_all - g->v_none;
    *n_evals = 0;
    if (n < 1 || n_samples < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "KernelSHAP needs n >= 1 and samples >= 1");
    if (n == 1) {
        phi[0] = total;
        if (se) se[0] = 0;
        return ATTRIB_OK;
    }
    const int enumerate = n <= 30 && ((int64_t)1 << n) - 2 <= (int64_t)n_samples;
    const int n_pairs = (n_samples + 1) / 2;
    const int m = enumerate ? (int)(((int64_t)1 << n) - 2) : 2 * n_pairs;
    uint8_t *buf = attrib_calloc_array((size_t)m, (size_t)n);
    const uint8_t **rows = attrib_calloc_array((size_t)m, sizeof *rows);
    double *y = attrib_calloc_array((size_t)m, sizeof(double));
    double *w = attrib_calloc_array((size_t)m, sizeof(double));
    double *bw = attrib_calloc_array((size_t)m, sizeof(double));
    double *A = attrib_calloc_array((size_t)n * n, sizeof(double));
    double *b = attrib_calloc_array((size_t)n, sizeof(double));
    double *ph = attrib_calloc_array((size_t)n, sizeof(double));
    double *mean = attrib_calloc_array((size_t)n, sizeof(double));
    double *m2 = attrib_calloc_array((size_t)n, sizeof(double));
    double *cdf = attrib_calloc_array((size_t)n, sizeof(double));
    int *perm = attrib_calloc_array((size_t)n, sizeof(int));
    attrib_status s = ATTRIB_OK;
    if (!buf || !rows || !y || !w || !bw || !A || !b || !ph || !mean || !m2 || !cdf || !perm) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < m; k++) rows[k] = buf + (size_t)k * n;
    if (enumerate) {
        for (int k = 0; k < m; k++) {
            const uint64_t S = (uint64_t)k + 1;
            int sz = 0;
            for (int i = 0; i < n; i++) {
                buf[(size_t)k * n + i] = (uint8_t)((S >> i) & 1);
                sz += (S >> i) & 1;
            }
            double binom = 1;
            for (int j = 1; j <= sz; j++) binom = binom * (n - sz + j) / j;
            w[k] = (n - 1) / (binom * sz * (n - sz));
        }
    } else {
        /* size distribution proportional to (n-1)/(s(n-s)), s = 1..n-1 */
        double acc = 0;
        for (int sz = 1; sz < n; sz++) {
            acc += 1.0 / ((double)sz * (n - sz));
            cdf[sz] = acc;
        }
        attrib_rng rng;
        attrib_rng_seed(&rng, seed, 2);
        for (int p = 0; p < n_pairs; p++) {
            const double u = attrib_rng_unit(&rng) * acc;
            int sz = 1;
            while (sz < n - 1 && u >= cdf[sz]) sz++;
            for (int i = 0; i < n; i++) perm[i] = i;
            for (int i = 0; i < sz; i++) { /* partial Fisher-Yates: a uniform subset of size sz */
                int j = i + (int)attrib_rng_below(&rng, (uint64_t)(n - i));
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            uint8_t *z = buf + (size_t)(2 * p) * n, *zc = z + n;
            memset(z, 0, (size_t)n);
            for (int i = 0; i < sz; i++) z[perm[i]] = 1;
            for (int i = 0; i < n; i++) zc[i] = (uint8_t)!z[i];
            w[2 * p] = w[2 * p + 1] = 1.0;
        }
    }
    if ((s = perturb_eval_unique(g, rows, m, y, n_evals))) goto done;
    for (int k = 0; k < m; k++) y[k] -= g->v_none;
    if ((s = kshap_fit(n, m, rows, y, w, total, phi, A, b))) goto done;
    if (!se) goto done;
    if (enumerate) {
        for (int i = 0; i < n; i++) se[i] = 0;
        goto done;
    }
    /* bootstrap over the pairs: resample n_pairs pairs with replacement */
    attrib_rng brng;
    attrib_rng_seed(&brng, seed, 3);
    for (int rep = 0; rep < BOOTSTRAP_REPS; rep++) {
        memset(bw, 0, (size_t)m * sizeof(double));
        for (int p = 0; p < n_pairs; p++) {
            const int q = (int)attrib_rng_below(&brng, (uint64_t)n_pairs);
            bw[2 * q] += 1.0;
            bw[2 * q + 1] += 1.0;
        }
        if ((s = kshap_fit(n, m, rows, y, bw, total, ph, A, b))) goto done;
        for (int i = 0; i < n; i++) {
            const double d = ph[i] - mean[i];
            mean[i] += d / (rep + 1);
            m2[i] += d * (ph[i] - mean[i]);
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
    free(b);
    free(ph);
    free(mean);
    free(m2);
    free(cdf);
    free(perm);
    return s;
}
