/*
 * metrics.c — agreement and classification metrics: pure functions of
 * score vectors, no model. They compare two attributions of the same input
 * (Spearman's rho, Kendall's tau-b, top-k overlap, sign agreement), score a
 * classifier (AUROC) and put a percentile-bootstrap interval on a mean.
 * The definitions, tie conventions and references are in docs/metrics.md.
 *
 * These functions return a double, not an attrib_status: an input they
 * cannot score (too short, constant, a NaN, both classes absent) and an
 * allocation failure both give NAN, which no caller can mistake for a
 * value. Ties are never broken arbitrarily: ranks of tied values are
 * averaged (Spearman, AUROC), tied pairs are neither concordant nor
 * discordant (Kendall), and top-k ties go to the lower index.
 *
 * Also attrib_faithfulness_default_options(); the faithfulness metrics
 * themselves are in faith.c.
 */
#include "basics/common.h"
#include "basics/numerics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stream of the bootstrap's generator (distinct from the estimators' streams). */
#define BOOTSTRAP_RNG_STREAM 16

/* A value and its position, sorted by value then position: a total order
 * (the callers reject NaN), so the result never depends on qsort's
 * algorithm. */
typedef struct valued_index {
    double v;
    int i;
} valued_index;

static int cmp_ascending(const void *pa, const void *pb) {
    const valued_index *a = pa, *b = pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Top-k order: larger values first, ties by the lower index. */
static int cmp_descending(const void *pa, const void *pb) {
    const valued_index *a = pa, *b = pb;
    if (a->v > b->v) return -1;
    if (a->v < b->v) return 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int any_nan(const double *x, int n) {
    for (int i = 0; i < n; i++)
        if (isnan(x[i])) return 1;
    return 0;
}

/* RANK[i] = the 1-based rank of x[i] in ascending order; a run of t equal
 * values at positions p..p+t-1 of the sorted order all get the average
 * rank p + (t+1)/2. SCRATCH has n entries. x has no NaN. */
static void average_ranks(const double *x, int n, valued_index *scratch, double *rank) {
    for (int i = 0; i < n; i++) scratch[i] = (valued_index){x[i], i};
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_ascending);
    for (int p = 0; p < n;) {
        int q = p + 1;
        while (q < n && scratch[q].v == scratch[p].v) q++;
        /* sorted positions p..q-1 hold ranks p+1..q: mean (p+1+q)/2 */
        const double r = 0.5 * ((double)p + 1.0 + (double)q);
        for (int t = p; t < q; t++) rank[scratch[t].i] = r;
        p = q;
    }
}

double attrib_spearman(const double *a, const double *b, int n) {
    if (!a || !b || n < 2 || any_nan(a, n) || any_nan(b, n)) return NAN;
    valued_index *scratch = attrib_calloc_array((size_t)n, sizeof *scratch);
    double *ra = attrib_calloc_array((size_t)n, sizeof *ra);
    double *rb = attrib_calloc_array((size_t)n, sizeof *rb);
    double rho = NAN;
    if (scratch && ra && rb) {
        average_ranks(a, n, scratch, ra);
        average_ranks(b, n, scratch, rb);
        /* average ranks always sum to n(n+1)/2, so both means are (n+1)/2 */
        const double mean = 0.5 * ((double)n + 1.0);
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++) {
            const double da = ra[i] - mean, db = rb[i] - mean;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        /* a constant vector has every rank equal to the mean: saa == 0 exactly */
        if (saa > 0 && sbb > 0) {
            rho = sab / sqrt(saa * sbb);
            if (rho > 1) rho = 1;
            if (rho < -1) rho = -1;
        }
    }
    free(scratch);
    free(ra);
    free(rb);
    return rho;
}

double attrib_kendall_tau_b(const double *a, const double *b, int n) {
    if (!a || !b || n < 2 || any_nan(a, n) || any_nan(b, n)) return NAN;
    /* Every pair once: O(n^2), no allocation. Comparisons, not differences,
     * so that infinities compare correctly. */
    int64_t concordant = 0, discordant = 0, tied_a = 0, tied_b = 0;
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            const int sa = (a[i] > a[j]) - (a[i] < a[j]);
            const int sb = (b[i] > b[j]) - (b[i] < b[j]);
            tied_a += sa == 0;
            tied_b += sb == 0;
            if (sa != 0 && sb != 0) {
                if (sa == sb) concordant++;
                else discordant++;
            }
        }
    }
    const double pairs = 0.5 * (double)n * (double)(n - 1);
    const double untied_a = pairs - (double)tied_a, untied_b = pairs - (double)tied_b;
    if (!(untied_a > 0) || !(untied_b > 0)) return NAN; /* a constant vector */
    double tau = ((double)concordant - (double)discordant) / sqrt(untied_a * untied_b);
    if (tau > 1) tau = 1;
    if (tau < -1) tau = -1;
    return tau;
}

/* Marks the K largest entries of X (ties: lower index first) in IN_TOP. */
static void mark_top_k(const double *x, int n, int k, valued_index *scratch, uint8_t *in_top) {
    for (int i = 0; i < n; i++) scratch[i] = (valued_index){x[i], i};
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_descending);
    memset(in_top, 0, (size_t)n);
    for (int t = 0; t < k; t++) in_top[scratch[t].i] = 1;
}

double attrib_topk_overlap(const double *a, const double *b, int n, int k) {
    if (!a || !b || n < 1 || k < 1 || any_nan(a, n) || any_nan(b, n)) return NAN;
    if (k > n) k = n;
    valued_index *scratch = attrib_calloc_array((size_t)n, sizeof *scratch);
    uint8_t *top_a = attrib_calloc_array((size_t)n, 1);
    uint8_t *top_b = attrib_calloc_array((size_t)n, 1);
    double overlap = NAN;
    if (scratch && top_a && top_b) {
        mark_top_k(a, n, k, scratch, top_a);
        mark_top_k(b, n, k, scratch, top_b);
        int common = 0;
        for (int i = 0; i < n; i++) common += top_a[i] && top_b[i];
        overlap = (double)common / (double)k;
    }
    free(scratch);
    free(top_a);
    free(top_b);
    return overlap;
}

double attrib_sign_agreement(const double *a, const double *b, int n) {
    if (!a || !b || n < 1 || any_nan(a, n) || any_nan(b, n)) return NAN;
    int agree = 0;
    for (int i = 0; i < n; i++) {
        const int sa = (a[i] > 0) - (a[i] < 0), sb = (b[i] > 0) - (b[i] < 0);
        agree += sa == sb;
    }
    return (double)agree / (double)n;
}

double attrib_auroc(const double *scores, const int *labels, int n) {
    if (!scores || !labels || n < 2 || any_nan(scores, n)) return NAN;
    int64_t n_pos = 0, n_neg = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] == 1) n_pos++;
        else if (labels[i] == 0) n_neg++;
        else return NAN; /* not a binary label */
    }
    if (n_pos == 0 || n_neg == 0) return NAN;
    valued_index *scratch = attrib_calloc_array((size_t)n, sizeof *scratch);
    double *rank = attrib_calloc_array((size_t)n, sizeof *rank);
    double auc = NAN;
    if (scratch && rank) {
        /* Mann-Whitney: U = (sum of the positives' ranks) - n_pos (n_pos + 1) / 2
         * counts the (positive, negative) pairs ordered correctly, a tie as
         * one half (average ranks); AUC = U / (n_pos n_neg). */
        average_ranks(scores, n, scratch, rank);
        double rank_sum = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == 1) rank_sum += rank[i];
        const double u = rank_sum - 0.5 * (double)n_pos * ((double)n_pos + 1.0);
        auc = u / ((double)n_pos * (double)n_neg);
    }
    free(scratch);
    free(rank);
    return auc;
}

/* Ascending, NaN last (resample means are NaN only if X holds both
 * infinities); a total order so qsort is well defined. */
static int cmp_double(const void *pa, const void *pb) {
    const double a = *(const double *)pa, b = *(const double *)pb;
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

/* Quantile P of the sorted X[0..m) by linear interpolation between order
 * statistics at position p (m - 1) (Hyndman & Fan's type 7, the default of
 * R and numpy). */
static double sorted_quantile(const double *x, int m, double p) {
    const double h = p * (double)(m - 1);
    const int lo = (int)floor(h);
    if (lo >= m - 1) return x[m - 1];
    const double frac = h - (double)lo;
    if (frac == 0 || x[lo] == x[lo + 1]) return x[lo]; /* no inf - inf = NaN between equal infinities */
    return x[lo] + frac * (x[lo + 1] - x[lo]);
}

void attrib_bootstrap_mean_ci(const double *x, int n, int b, uint64_t seed, double *mean, double *lo, double *hi) {
    double m_out = NAN, lo_out = NAN, hi_out = NAN;
    int m = 0;
    double sum = 0;
    if (x)
        for (int i = 0; i < n; i++)
            if (!isnan(x[i])) {
                sum += x[i];
                m++;
            }
    if (m > 0) m_out = sum / (double)m;
    double *vals = NULL, *means = NULL;
    if (m > 0 && b >= 1) {
        vals = attrib_calloc_array((size_t)m, sizeof *vals);
        means = attrib_calloc_array((size_t)b, sizeof *means);
    }
    if (vals && means) {
        int t = 0;
        for (int i = 0; i < n; i++)
            if (!isnan(x[i])) vals[t++] = x[i];
        attrib_rng rng;
        attrib_rng_seed(&rng, seed, BOOTSTRAP_RNG_STREAM);
        for (int r = 0; r < b; r++) {
            double s = 0;
            for (int j = 0; j < m; j++) s += vals[attrib_rng_below(&rng, (uint64_t)m)];
            means[r] = s / (double)m;
        }
        qsort(means, (size_t)b, sizeof *means, cmp_double);
        lo_out = sorted_quantile(means, b, 0.025);
        hi_out = sorted_quantile(means, b, 0.975);
    }
    free(vals);
    free(means);
    if (mean) *mean = m_out;
    if (lo) *lo = lo_out;
    if (hi) *hi = hi_out;
}

attrib_faithfulness_options attrib_faithfulness_default_options(void) {
    attrib_faithfulness_options o;
    memset(&o, 0, sizeof o);
    o.n_fractions = 3;
    o.fractions[0] = 0.1;
    o.fractions[1] = 0.2;
    o.fractions[2] = 0.5;
    o.curve_points = 20;
    o.random_orders = 1;
    o.seed = 0;
    return o;
}
