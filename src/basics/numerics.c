/*
 * numerics.c — the seeded generator, the stable index sort and the SPD
 * solve declared in numerics.h. Kept apart from the methods that use them so
 * that metrics, probes and estimators share one implementation each.
 */
#include "basics/numerics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- seeded random numbers ---- */

void attrib_rng_seed(attrib_rng *r, uint64_t seed, uint64_t stream) {
    /* distinct streams for distinct purposes, all from the user's seed */
    r->s = seed ^ (stream * 0xd1b54a32d192ed03ull);
    (void)attrib_rng_next(r);
}

uint64_t attrib_rng_next(attrib_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t attrib_rng_below(attrib_rng *r, uint64_t bound) {
    /* rejection of the short last block keeps every value equally likely */
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do x = attrib_rng_next(r);
    while (x >= limit);
    return x % bound;
}

double attrib_rng_unit(attrib_rng *r) { return (double)(attrib_rng_next(r) >> 11) * 0x1.0p-53; }

/* Stable bottom-up merge sort of IDX[0..m) with a context comparator. */
attrib_status attrib_sort_indices(int *idx, int m, int (*cmp)(const void *, int, int), const void *ctx) {
    if (m < 2) return ATTRIB_OK;
    int *tmp = attrib_calloc_array((size_t)m, sizeof(int));
    if (!tmp) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int w = 1; w < m; w *= 2) {
        for (int lo = 0; lo < m; lo += 2 * w) {
            int mid = lo + w < m ? lo + w : m, hi = lo + 2 * w < m ? lo + 2 * w : m;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp(ctx, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)m * sizeof(int));
        if (w > m / 2) break; /* runs of 2w >= m: sorted (and w *= 2 cannot overflow) */
    }
    free(tmp);
    return ATTRIB_OK;
}

/* ---- linear algebra ---- */

attrib_status attrib_solve_spd(double *A, double *b, int n) {
    double *L = attrib_calloc_array((size_t)n * n, sizeof(double));
    if (!L) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    double maxd = 0;
    for (int i = 0; i < n; i++) maxd = fabs(A[(size_t)i * n + i]) > maxd ? fabs(A[(size_t)i * n + i]) : maxd;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* attempt 1: a tiny ridge for a singular system (e.g. a feature that
         * never varied in the sample); its coefficient then comes out ~0 */
        const double ridge = attempt ? 1e-10 * (maxd > 0 ? maxd : 1.0) : 0.0;
        int ok = 1;
        for (int j = 0; j < n && ok; j++) {
            double d = A[(size_t)j * n + j] + ridge;
            for (int k = 0; k < j; k++) d -= L[(size_t)j * n + k] * L[(size_t)j * n + k];
            if (!(d > 1e-13 * (maxd > 0 ? maxd : 1.0))) {
                ok = 0;
                break;
            }
            const double ljj = sqrt(d);
            L[(size_t)j * n + j] = ljj;
            for (int i = j + 1; i < n; i++) {
                double v = A[(size_t)i * n + j];
                for (int k = 0; k < j; k++) v -= L[(size_t)i * n + k] * L[(size_t)j * n + k];
                L[(size_t)i * n + j] = v / ljj;
            }
        }
        if (!ok) continue;
        for (int i = 0; i < n; i++) { /* L y = b */
            double v = b[i];
            for (int k = 0; k < i; k++) v -= L[(size_t)i * n + k] * b[k];
            b[i] = v / L[(size_t)i * n + i];
        }
        for (int i = n - 1; i >= 0; i--) { /* L^T x = y */
            double v = b[i];
            for (int k = i + 1; k < n; k++) v -= L[(size_t)k * n + i] * b[k];
            b[i] = v / L[(size_t)i * n + i];
        }
        free(L);
        return ATTRIB_OK;
    }
    free(L);
    return attrib_fail(ATTRIB_E_NUMERIC, "the regression of the sampled coalitions is singular (too few samples?)");
}

