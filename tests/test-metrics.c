/*
 * test-metrics.c — the pure metrics (src/metrics.c) and the faithfulness
 * core (src/faith.c) against values derived by hand in the comments or
 * textbook closed forms, never against our own output:
 *   - Spearman / Kendall tau-b / top-k overlap / sign agreement / AUROC on
 *     small vectors with and without ties, counted pair by pair;
 *   - the percentile bootstrap: determinism, zero width on constant data,
 *     NaN skipping, the 1/sqrt(n) shrinkage against the normal-theory width;
 *   - faithfulness on an additive game v(S) = c + sum_{i in S} w_i (every
 *     metric is a sum of w's), an interaction game (v = 1 iff features 0
 *     and 1 are both present), optimality of the ranking by w over all 120
 *     rankings of 5 features, the random baseline against its expectation
 *     k/n * sum(w), curve counts, option validation, batching limits, and
 *     an allocation-failure sweep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basics/common.h"
#include "attribution/faith.h"

#define TOL 1e-12

static void assert_close(double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) {
        printf("got %.17g, want %.17g (tol %g)\n", got, want, tol);
        fail();
    }
}

/* ============================================================ Spearman */

static void test_spearman(void **state) {
    (void)state;
    /* No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)).
     * a = [1,2,3,4,5], b = [2,1,4,3,5]: d = [-1,1,-1,1,0], sum d^2 = 4,
     * rho = 1 - 24 / 120 = 0.8. */
    const double a[5] = {1, 2, 3, 4, 5}, b1[5] = {2, 1, 4, 3, 5};
    assert_close(attrib_spearman(a, b1, 5), 0.8, TOL);

    /* Ties in b: a = [1,2,3,4,5], b = [5,6,7,8,7].
     * ranks a = [1,2,3,4,5]; b sorted 5,6,7,7,8 -> the two 7s share ranks
     * 3 and 4 -> 3.5: ranks b = [1,2,3.5,5,3.5]. Both means are 3.
     * da = [-2,-1,0,1,2], db = [-2,-1,0.5,2,0.5]
     * sum da db = 4+1+0+2+1 = 8, sum da^2 = 10, sum db^2 = 4+1+0.25+4+0.25 = 9.5
     * rho = 8 / sqrt(10 * 9.5) = 8 / sqrt(95). */
    const double b2[5] = {5, 6, 7, 8, 7};
    assert_close(attrib_spearman(a, b2, 5), 8.0 / sqrt(95.0), TOL);

    /* Ties in both: a = [1,1,2,3] -> ranks [1.5,1.5,3,4];
     * b = [1,2,2,3] -> ranks [1,2.5,2.5,4]; means 2.5.
     * da = [-1,-1,0.5,1.5], db = [-1.5,0,0,1.5]
     * sum da db = 1.5+0+0+2.25 = 3.75; sum da^2 = 1+1+0.25+2.25 = 4.5 = sum db^2
     * rho = 3.75 / 4.5 = 5/6. */
    const double c1[4] = {1, 1, 2, 3}, c2[4] = {1, 2, 2, 3};
    assert_close(attrib_spearman(c1, c2, 4), 5.0 / 6.0, TOL);

    /* Rank-based: any increasing transform gives +1, a decreasing one -1. */
    const double x[6] = {0.3, -1, 2.5, 10, 4, -7};
    double ex[6], neg[6];
    for (int i = 0; i < 6; i++) {
        ex[i] = exp(x[i]);
        neg[i] = -x[i] * x[i] * x[i];
    }
    assert_close(attrib_spearman(x, ex, 6), 1.0, TOL);
    assert_close(attrib_spearman(x, neg, 6), -1.0, TOL);
    assert_close(attrib_spearman(x, x, 6), 1.0, TOL);

    /* Undefined cases. */
    const double k[4] = {2, 2, 2, 2};
    assert_true(isnan(attrib_spearman(c1, k, 4)));
    assert_true(isnan(attrib_spearman(k, c1, 4)));
    assert_true(isnan(attrib_spearman(a, b1, 1)));
    assert_true(isnan(attrib_spearman(a, b1, 0)));
    const double with_nan[4] = {1, NAN, 2, 3};
    assert_true(isnan(attrib_spearman(with_nan, c2, 4)));
}

/* ============================================================ Kendall */

static void test_kendall(void **state) {
    (void)state;
    /* No ties: a = [1,2,3,4,5], b = [2,1,4,3,5]. Of the 10 pairs, (0,1) and
     * (2,3) are discordant, the other 8 concordant: tau = (8-2)/10 = 0.6. */
    const double a[5] = {1, 2, 3, 4, 5}, b[5] = {2, 1, 4, 3, 5};
    assert_close(attrib_kendall_tau_b(a, b, 5), 0.6, TOL);

    /* Ties in one vector: a = [1,2,3,4], b = [1,1,2,3]. n0 = 6 pairs;
     * (0,1) tied in b (n2 = 1, n1 = 0); the other 5 concordant.
     * tau_b = 5 / sqrt((6-0)(6-1)) = 5 / sqrt(30). */
    const double a4[4] = {1, 2, 3, 4}, b4[4] = {1, 1, 2, 3};
    assert_close(attrib_kendall_tau_b(a4, b4, 4), 5.0 / sqrt(30.0), TOL);
    assert_close(attrib_kendall_tau_b(b4, a4, 4), 5.0 / sqrt(30.0), TOL);

    /* Ties in both: a = [1,1,2,3], b = [1,2,2,3]. (0,1) tied in a,
     * (1,2) tied in b, the other 4 concordant: tau_b = 4 / sqrt(5 * 5) = 0.8. */
    const double c1[4] = {1, 1, 2, 3}, c2[4] = {1, 2, 2, 3};
    assert_close(attrib_kendall_tau_b(c1, c2, 4), 0.8, TOL);

    /* Discordance with ties in both: a = [1,2,2,3,1], b = [3,1,2,1,3].
     *   (0,1) a+ b- D   (0,2) a+ b- D   (0,3) a+ b- D   (0,4) tied in a and b
     *   (1,2) tied a    (1,3) tied b    (1,4) a- b+ D   (2,3) a+ b- D
     *   (2,4) a- b+ D   (3,4) a- b+ D
     * nc = 0, nd = 7, n1 = 2, n2 = 2, n0 = 10: tau_b = -7 / sqrt(8 * 8) = -7/8. */
    const double d1[5] = {1, 2, 2, 3, 1}, d2[5] = {3, 1, 2, 1, 3};
    assert_close(attrib_kendall_tau_b(d1, d2, 5), -0.875, TOL);

    /* Perfect and reversed orders, with infinities (compared, not subtracted). */
    const double x[5] = {-INFINITY, -1, 0, 2, INFINITY}, y[5] = {-5, 1, 2, 3, 100}, r[5] = {5, 4, 3, 2, 1};
    assert_close(attrib_kendall_tau_b(x, y, 5), 1.0, TOL);
    assert_close(attrib_kendall_tau_b(x, r, 5), -1.0, TOL);

    const double k[4] = {7, 7, 7, 7};
    assert_true(isnan(attrib_kendall_tau_b(c1, k, 4)));
    assert_true(isnan(attrib_kendall_tau_b(k, c1, 4)));
    assert_true(isnan(attrib_kendall_tau_b(a, b, 1)));
    const double with_nan[4] = {1, 2, NAN, 3};
    assert_true(isnan(attrib_kendall_tau_b(c1, with_nan, 4)));
}

/* ============================================================ top-k, sign */

static void test_topk_overlap(void **state) {
    (void)state;
    /* a = [0.5, 0.9, 0.9, 0.1, 0.3]: descending with ties by index -> 1,2,0,4,3
     * b = [0.9, 0.2, 0.8, 0.8, 0.1]: -> 0,2,3,1,4
     * k=1: {1} vs {0} -> 0
     * k=2: {1,2} vs {0,2} -> 1/2
     * k=3: {1,2,0} vs {0,2,3} -> 2/3
     * k=4: {1,2,0,4} vs {0,2,3,1} -> 3/4
     * k=10 -> clipped to 5 -> 1 */
    const double a[5] = {0.5, 0.9, 0.9, 0.1, 0.3}, b[5] = {0.9, 0.2, 0.8, 0.8, 0.1};
    assert_close(attrib_topk_overlap(a, b, 5, 1), 0.0, TOL);
    assert_close(attrib_topk_overlap(a, b, 5, 2), 0.5, TOL);
    assert_close(attrib_topk_overlap(a, b, 5, 3), 2.0 / 3.0, TOL);
    assert_close(attrib_topk_overlap(a, b, 5, 4), 0.75, TOL);
    assert_close(attrib_topk_overlap(a, b, 5, 5), 1.0, TOL);
    assert_close(attrib_topk_overlap(a, b, 5, 10), 1.0, TOL);

    /* All tied: the top-k is the first k indices. b's top-1 is {3}. */
    const double t[4] = {1, 1, 1, 1}, u[4] = {0, 0, 0, 1};
    assert_close(attrib_topk_overlap(t, u, 4, 1), 0.0, TOL); /* {0} vs {3} */
    assert_close(attrib_topk_overlap(t, u, 4, 2), 0.5, TOL); /* {0,1} vs {3,0} */
    assert_close(attrib_topk_overlap(t, t, 4, 3), 1.0, TOL);

    assert_true(isnan(attrib_topk_overlap(a, b, 5, 0)));
    assert_true(isnan(attrib_topk_overlap(a, b, 0, 1)));
    const double with_nan[5] = {0.5, NAN, 0.9, 0.1, 0.3};
    assert_true(isnan(attrib_topk_overlap(with_nan, b, 5, 2)));
}

static void test_sign_agreement(void **state) {
    (void)state;
    /* signs a: + - 0 + 0 -; signs b: + - 0 - + 0 -> agree at 0,1,2: 3/6. */
    const double a[6] = {1, -2, 0, 3, 0, -1}, b[6] = {2, -1, 0, -3, 5, 0};
    assert_close(attrib_sign_agreement(a, b, 6), 0.5, TOL);
    assert_close(attrib_sign_agreement(a, a, 6), 1.0, TOL);
    /* -0.0 has sign 0 like 0.0 */
    const double z1[2] = {-0.0, 1e-300}, z2[2] = {0.0, 5};
    assert_close(attrib_sign_agreement(z1, z2, 2), 1.0, TOL);
    assert_true(isnan(attrib_sign_agreement(a, b, 0)));
    const double with_nan[2] = {NAN, 1};
    assert_true(isnan(attrib_sign_agreement(with_nan, z2, 2)));
}

/* ============================================================ AUROC */

static void test_auroc(void **state) {
    (void)state;
    /* Pairs (positive, negative): positives 0.35, 0.8; negatives 0.1, 0.4.
     * 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4. */
    const double s1[4] = {0.1, 0.4, 0.35, 0.8};
    const int l1[4] = {0, 0, 1, 1};
    assert_close(attrib_auroc(s1, l1, 4), 0.75, TOL);

    /* A tie across classes counts 1/2: positives 0.5, 0.9; negatives 0.5, 0.2.
     * (0.5,0.5) 1/2, (0.5,0.2) 1, (0.9,0.5) 1, (0.9,0.2) 1 -> 3.5/4. */
    const double s2[4] = {0.5, 0.5, 0.2, 0.9};
    const int l2[4] = {1, 0, 0, 1};
    assert_close(attrib_auroc(s2, l2, 4), 0.875, TOL);

    /* Ties within a class do not matter: positives 0.7, 0.7, 0.2;
     * negatives 0.2, 0.1. Pairs: (0.7,0.2) 1 x2, (0.7,0.1) 1 x2,
     * (0.2,0.2) 1/2, (0.2,0.1) 1 -> 5.5/6. */
    const double s3[5] = {0.7, 0.2, 0.7, 0.2, 0.1};
    const int l3[5] = {1, 0, 1, 1, 0};
    assert_close(attrib_auroc(s3, l3, 5), 5.5 / 6.0, TOL);

    /* Constant scores: every pair a tie -> 1/2. Perfect -> 1, reversed -> 0. */
    const double k[4] = {3, 3, 3, 3};
    assert_close(attrib_auroc(k, l1, 4), 0.5, TOL);
    const double sep[4] = {1, 2, 3, 4};
    assert_close(attrib_auroc(sep, l1, 4), 1.0, TOL);
    const int rev[4] = {1, 1, 0, 0};
    assert_close(attrib_auroc(sep, rev, 4), 0.0, TOL);

    const int one_class[4] = {1, 1, 1, 1}, zero_class[4] = {0, 0, 0, 0}, bad[4] = {0, 1, 2, 1};
    assert_true(isnan(attrib_auroc(s1, one_class, 4)));
    assert_true(isnan(attrib_auroc(s1, zero_class, 4)));
    assert_true(isnan(attrib_auroc(s1, bad, 4)));
    assert_true(isnan(attrib_auroc(s1, l1, 0)));
    const double with_nan[4] = {0.1, NAN, 0.35, 0.8};
    assert_true(isnan(attrib_auroc(with_nan, l1, 4)));
}

/* ============================================================ bootstrap */

static void test_bootstrap(void **state) {
    (void)state;
    double x[2000];
    for (int i = 0; i < 2000; i++) x[i] = (double)(i % 10); /* mean 4.5, population sd sqrt(8.25) */
    double m1, lo1, hi1, m2, lo2, hi2;

    /* deterministic for a seed; another seed draws other resamples */
    attrib_bootstrap_mean_ci(x, 20, 1000, 42, &m1, &lo1, &hi1);
    attrib_bootstrap_mean_ci(x, 20, 1000, 42, &m2, &lo2, &hi2);
    assert_true(m1 == m2 && lo1 == lo2 && hi1 == hi2);
    assert_close(m1, 4.5, TOL);
    assert_true(lo1 < m1 && m1 < hi1);
    attrib_bootstrap_mean_ci(x, 20, 1000, 43, &m2, &lo2, &hi2);
    assert_true(lo1 != lo2 || hi1 != hi2);

    /* The bootstrap distribution of the mean has sd sigma / sqrt(n) with
     * the plug-in sigma = sqrt(8.25); the 95% percentile interval is close
     * to mean +- 1.96 sigma / sqrt(n). n = 20: width ~ 2.52; n = 2000: ~ 0.252. */
    const double sigma = sqrt(8.25);
    double ms, los, his, mb, lob, hib;
    attrib_bootstrap_mean_ci(x, 20, 2000, 1, &ms, &los, &his);
    attrib_bootstrap_mean_ci(x, 2000, 2000, 1, &mb, &lob, &hib);
    const double want_small = 2 * 1.959964 * sigma / sqrt(20.0), want_big = 2 * 1.959964 * sigma / sqrt(2000.0);
    printf("bootstrap width n=20: %.4f (normal theory %.4f); n=2000: %.4f (%.4f)\n", his - los, want_small, hib - lob,
           want_big);
    assert_true(fabs((his - los) / want_small - 1) < 0.15);
    assert_true(fabs((hib - lob) / want_big - 1) < 0.15);
    assert_true(hib - lob < (his - los) / 5);
    assert_true(lob < mb && mb < hib);

    /* An exactly known bootstrap distribution: x = [0, 0, 1]. A resample
     * mean is (number of 1s drawn)/3 with the count ~ Binomial(3, 1/3):
     * P(0) = 8/27 = 0.296, P(1/3) = 12/27, P(2/3) = 6/27, P(1) = 1/27 = 0.037.
     * The 2.5% quantile is 0 (0.296 > 0.025) and the 97.5% quantile is 1
     * (P(mean <= 2/3) = 26/27 = 0.963 < 0.975); with 10000 resamples the
     * count of means equal to 1 is 370 +- 19, far above the 250 needed
     * (a 95% quantile, 500 needed, would give 2/3). */
    const double zzo[3] = {0, 0, 1};
    attrib_bootstrap_mean_ci(zzo, 3, 10000, 3, &m1, &lo1, &hi1);
    assert_close(m1, 1.0 / 3.0, TOL);
    assert_true(lo1 == 0.0);
    assert_true(hi1 == 1.0);
    /* mirrored, [1, 1, 0]: P(mean = 0) = 1/27 > 0.025 -> lo = 0; hi = 1 */
    const double ooz[3] = {1, 1, 0};
    attrib_bootstrap_mean_ci(ooz, 3, 10000, 3, &m1, &lo1, &hi1);
    assert_true(lo1 == 0.0);
    assert_true(hi1 == 1.0);

    /* constant data: every resample mean is the same -> zero width */
    const double c[7] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    attrib_bootstrap_mean_ci(c, 7, 500, 9, &m1, &lo1, &hi1);
    assert_true(lo1 == hi1);
    assert_close(m1, 0.1, 1e-15);
    assert_close(lo1, 0.1, 1e-15);

    /* NaN entries skipped: the same finite values give the same answer */
    const double with_nan[8] = {NAN, 1, 2, NAN, 7, 3, NAN, 5};
    const double finite[5] = {1, 2, 7, 3, 5};
    attrib_bootstrap_mean_ci(with_nan, 8, 300, 5, &m1, &lo1, &hi1);
    attrib_bootstrap_mean_ci(finite, 5, 300, 5, &m2, &lo2, &hi2);
    assert_close(m1, 18.0 / 5.0, TOL);
    assert_true(m1 == m2 && lo1 == lo2 && hi1 == hi2);
    assert_true(lo1 >= 1 && hi1 <= 7 && lo1 < hi1);

    /* nothing finite, or no data: NAN */
    const double all_nan[3] = {NAN, NAN, NAN};
    attrib_bootstrap_mean_ci(all_nan, 3, 100, 0, &m1, &lo1, &hi1);
    assert_true(isnan(m1) && isnan(lo1) && isnan(hi1));
    attrib_bootstrap_mean_ci(finite, 0, 100, 0, &m1, &lo1, &hi1);
    assert_true(isnan(m1) && isnan(lo1) && isnan(hi1));
    /* no resamples: the mean, no interval */
    attrib_bootstrap_mean_ci(finite, 5, 0, 0, &m1, &lo1, &hi1);
    assert_close(m1, 3.6, TOL);
    assert_true(isnan(lo1) && isnan(hi1));
    /* a single value: a zero-width interval at it */
    attrib_bootstrap_mean_ci(finite, 1, 50, 0, &m1, &lo1, &hi1);
    assert_true(m1 == 1 && lo1 == 1 && hi1 == 1);
}

/* ============================================================ games */

#define GAME_MAX_N 512
#define FAITH_TEST_MAX_K (8 + ATTRIB_FAITH_MAX_POINTS)

typedef struct test_game {
    int n;
    int pair_game; /* 0: additive c + sum w_i; 1: v = 1 iff features 0 and 1 present */
    double c, w[GAME_MAX_N];
    int64_t calls, rows;
    int max_rows;
    int check_distinct;         /* assert no coalition repeats within one call */
    attrib_status fail_with;    /* returned by the value function when set */
} test_game;

static double game_value(const test_game *tg, const uint8_t *present) {
    if (tg->pair_game) return present[0] && present[1] ? 1.0 : 0.0;
    double v = tg->c;
    for (int i = 0; i < tg->n; i++)
        if (present[i]) v += tg->w[i];
    return v;
}

static attrib_status game_fn(void *ctx, const uint8_t *const *present, int m, double *values) {
    test_game *tg = ctx;
    if (tg->fail_with) return attrib_fail(tg->fail_with, "value function failed on purpose");
    assert_true(m >= 1 && m <= PERTURB_CHUNK);
    for (int k = 0; k < m; k++) {
        int cnt = 0;
        for (int i = 0; i < tg->n; i++) cnt += present[k][i] != 0;
        /* the full and the empty coalitions are given, never asked for */
        assert_true(cnt > 0 && cnt < tg->n);
        if (tg->check_distinct)
            for (int l = 0; l < k; l++) assert_true(memcmp(present[k], present[l], (size_t)tg->n) != 0);
        values[k] = game_value(tg, present[k]);
    }
    tg->calls++;
    tg->rows += m;
    if (m > tg->max_rows) tg->max_rows = m;
    return ATTRIB_OK;
}

static perturb_game game_of(test_game *tg) {
    static uint8_t all[GAME_MAX_N], none[GAME_MAX_N];
    memset(all, 1, sizeof all);
    memset(none, 0, sizeof none);
    perturb_game g = {.n = tg->n, .fn = game_fn, .ctx = tg};
    g.v_all = game_value(tg, all);
    g.v_none = game_value(tg, none);
    return g;
}

static attrib_faithfulness_options opts(int n_fractions, const double *fractions, int curve_points, int random_orders) {
    attrib_faithfulness_options o = attrib_faithfulness_default_options();
    o.n_fractions = n_fractions;
    for (int f = 0; f < n_fractions; f++) o.fractions[f] = fractions[f];
    o.curve_points = curve_points;
    o.random_orders = random_orders;
    return o;
}

static void assert_array_close(const double *got, const double *want, int n, double tol) {
    for (int i = 0; i < n; i++) {
        if (!(fabs(got[i] - want[i]) <= tol)) printf("entry %d:\n", i);
        assert_close(got[i], want[i], tol);
    }
}

/* The additive game of the hand-worked cases: n = 6, c = 0.25,
 * w = [3, -1, 0.5, 2, 0, 1], sum w = W = 5.5, v_all = 5.75, v_none = 0.25.
 * Removing a set T gives v_all - w(T); keeping only T gives c + w(T). */
static void additive6(test_game *tg) {
    memset(tg, 0, sizeof *tg);
    static const double w[6] = {3, -1, 0.5, 2, 0, 1};
    tg->n = 6;
    tg->c = 0.25;
    memcpy(tg->w, w, sizeof w);
    tg->check_distinct = 1;
}

static void test_faith_defaults(void **state) {
    (void)state;
    attrib_faithfulness_options o = attrib_faithfulness_default_options();
    assert_int_equal(o.n_fractions, 3);
    assert_true(o.fractions[0] == 0.1 && o.fractions[1] == 0.2 && o.fractions[2] == 0.5);
    assert_int_equal(o.curve_points, 20);
    assert_int_equal(o.random_orders, 1);
    assert_true(o.seed == 0);
}

static void test_faith_additive_by_w(void **state) {
    (void)state;
    test_game tg;
    additive6(&tg);
    perturb_game g = game_of(&tg);
    /* Scores = w: ranking 0 (3), 3 (2), 5 (1), 2 (0.5), 4 (0), 1 (-1).
     * Top-k sums T_k: T1 = 3, T2 = 5, T3 = 6, T4 = 6.5, T5 = 6.5, T6 = 5.5.
     * Fractions 0.1, 0.2, 0.5 of 6: round(0.6) = 1, round(1.2) = 1, round(3) = 3.
     * comprehensiveness = T_k = [3, 3, 6]            -> AOPC 12/3 = 4
     * sufficiency = W - T_k = [2.5, 2.5, -0.5]       -> AOPC 4.5/3 = 1.5
     * curve_points 3 < n: counts = round(j * 6/3) = 0, 2, 4, 6
     * deletion = v_all - T_count = 5.75 - [0, 5, 6.5, 5.5] = [5.75, 0.75, -0.75, 0.25]
     * insertion = c + T_count = [0.25, 5.25, 6.75, 5.75]
     * AUC over x = 0, 1/3, 2/3, 1 (trapezoids):
     *   deletion  (1/3) [(5.75+0.75)/2 + (0.75-0.75)/2 + (-0.75+0.25)/2] = (1/3) 3 = 1
     *   insertion (1/3) [(0.25+5.25)/2 + (5.25+6.75)/2 + (6.75+5.75)/2] = (1/3) 15 = 5
     * Distinct non-trivial coalitions: all but {0}, all but {0,3,5}, {0},
     * {0,3,5}, all but {0,3}, all but {0,3,5,2}, {0,3}, {0,3,5,2} = 8
     * (k = 1 twice, and counts 0 and 6 are the given full/empty coalitions). */
    const double fr[3] = {0.1, 0.2, 0.5};
    attrib_faithfulness_options o = opts(3, fr, 3, 0);
    attrib_faithfulness r;
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    assert_int_equal(r.n_features, 6);
    assert_close(r.f_full, 5.75, TOL);
    assert_close(r.f_empty, 0.25, TOL);
    assert_int_equal(r.k[0], 1);
    assert_int_equal(r.k[1], 1);
    assert_int_equal(r.k[2], 3);
    const double comp[3] = {3, 3, 6}, suff[3] = {2.5, 2.5, -0.5};
    assert_array_close(r.comprehensiveness, comp, 3, TOL);
    assert_array_close(r.sufficiency, suff, 3, TOL);
    assert_close(r.comprehensiveness_aopc, 4.0, TOL);
    assert_close(r.sufficiency_aopc, 1.5, TOL);
    assert_int_equal(r.n_points, 4);
    const int counts[4] = {0, 2, 4, 6};
    for (int j = 0; j < 4; j++) assert_int_equal(r.counts[j], counts[j]);
    const double del[4] = {5.75, 0.75, -0.75, 0.25}, ins[4] = {0.25, 5.25, 6.75, 5.75};
    assert_array_close(r.deletion, del, 4, TOL);
    assert_array_close(r.insertion, ins, 4, TOL);
    assert_close(r.deletion_auc, 1.0, TOL);
    assert_close(r.insertion_auc, 5.0, TOL);
    assert_true(isnan(r.random_comprehensiveness_aopc) && isnan(r.random_sufficiency_aopc));
    assert_true(isnan(r.random_deletion_auc) && isnan(r.random_insertion_auc));
    assert_int_equal(r.n_evaluations, 8);
    assert_int_equal(tg.rows, 8);
    assert_int_equal(tg.calls, 1); /* one metric set, one call */
}

static void test_faith_additive_other_ranking(void **state) {
    (void)state;
    test_game tg;
    additive6(&tg);
    perturb_game g = game_of(&tg);
    /* Scores [0.1, 0.9, 0.5, 0.5, -2, 0.7]: ranking 1, 5, 2, 3 (the tie
     * 0.5/0.5 goes to the lower index 2), 0, 4. w along it: -1, 1, 0.5, 2, 3, 0.
     * T1..T6 = -1, 0, 0.5, 2.5, 5.5, 5.5.
     * k = 1, 1, 3: comprehensiveness = [-1, -1, 0.5], sufficiency = 5.5 - T_k = [6.5, 6.5, 5]
     * AOPC: -1.5/3 = -0.5 and 18/3 = 6.
     * curve_points 20 >= 6: counts 0..6;
     * deletion = 5.75 - [0, -1, 0, 0.5, 2.5, 5.5, 5.5] = [5.75, 6.75, 5.75, 5.25, 3.25, 0.25, 0.25]
     * insertion = 0.25 + T = [0.25, -0.75, 0.25, 0.75, 2.75, 5.75, 5.75]
     * deletion AUC = (1/6)[6.25 + 6.25 + 5.5 + 4.25 + 1.75 + 0.25] = 24.25/6
     * insertion AUC = (1/6)[-0.25 - 0.25 + 0.5 + 1.75 + 4.25 + 5.75] = 11.75/6 */
    const double scores[6] = {0.1, 0.9, 0.5, 0.5, -2, 0.7};
    const double fr[3] = {0.1, 0.2, 0.5};
    attrib_faithfulness_options o = opts(3, fr, 20, 0);
    attrib_faithfulness r;
    assert_int_equal(faith_run(&g, scores, &o, &r), ATTRIB_OK);
    const double comp[3] = {-1, -1, 0.5}, suff[3] = {6.5, 6.5, 5};
    assert_array_close(r.comprehensiveness, comp, 3, TOL);
    assert_array_close(r.sufficiency, suff, 3, TOL);
    assert_close(r.comprehensiveness_aopc, -0.5, TOL);
    assert_close(r.sufficiency_aopc, 6.0, TOL);
    assert_int_equal(r.n_points, 7);
    const double del[7] = {5.75, 6.75, 5.75, 5.25, 3.25, 0.25, 0.25};
    const double ins[7] = {0.25, -0.75, 0.25, 0.75, 2.75, 5.75, 5.75};
    for (int j = 0; j < 7; j++) assert_int_equal(r.counts[j], j);
    assert_array_close(r.deletion, del, 7, TOL);
    assert_array_close(r.insertion, ins, 7, TOL);
    assert_close(r.deletion_auc, 24.25 / 6, TOL);
    assert_close(r.insertion_auc, 11.75 / 6, TOL);

    /* All scores tied: the ranking is the index order 0..5, so the top-1
     * is feature 0 and comprehensiveness at k = 1 is w_0 = 3. */
    const double flat[6] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(faith_run(&g, flat, &o, &r), ATTRIB_OK);
    assert_close(r.comprehensiveness[0], 3.0, TOL);
    /* top 3 = {0,1,2}: 3 - 1 + 0.5 = 2.5 */
    assert_close(r.comprehensiveness[2], 2.5, TOL);
}

/* Lexicographic next permutation; 0 after the last. */
static int next_permutation(int *p, int n) {
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (p[j] <= p[i]) j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return 1;
}

/* In an additive game comprehensiveness at k is the sum of the ranked top
 * k w's, so the ranking by w maximises every term (the k largest w's have
 * the largest sum), hence the AOPC; sufficiency, the deletion curve and
 * 1 - the insertion curve are minimised likewise. With distinct w the
 * optimum of a metric over top-k sets for k = 1..K is reached only by
 * rankings whose first K positions are the w order. Checked over all
 * 5! = 120 rankings. Also deletion + insertion = v_all + v_none pointwise
 * (v_all - w(T) + c + w(T)). */
static void test_faith_additive_optimal(void **state) {
    (void)state;
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = 5;
    tg.c = -0.5;
    const double w[5] = {0.7, -0.2, 1.5, 0.3, 0.9};
    memcpy(tg.w, w, sizeof w);
    perturb_game g = game_of(&tg);
    /* fractions 0.2, 0.4, 0.6 of 5 -> k = 1, 2, 3 */
    const double fr[3] = {0.2, 0.4, 0.6};
    attrib_faithfulness_options o = opts(3, fr, 20, 0);
    attrib_faithfulness best;
    assert_int_equal(faith_run(&g, w, &o, &best), ATTRIB_OK);
    /* by w: 2 (1.5), 4 (0.9), 0 (0.7), 3 (0.3), 1 (-0.2): T1 = 1.5, T2 = 2.4,
     * T3 = 3.1 -> comprehensiveness AOPC = 7/3 */
    assert_close(best.comprehensiveness_aopc, 7.0 / 3.0, TOL);
    int perm[5] = {0, 1, 2, 3, 4};
    int n_perm = 0, ties_comp = 0, ties_suff = 0, ties_del = 0, ties_ins = 0;
    do {
        double scores[5];
        for (int t = 0; t < 5; t++) scores[perm[t]] = 5 - t; /* perm[0] ranked first */
        attrib_faithfulness r;
        assert_int_equal(faith_run(&g, scores, &o, &r), ATTRIB_OK);
        assert_true(r.comprehensiveness_aopc <= best.comprehensiveness_aopc + TOL);
        assert_true(r.sufficiency_aopc >= best.sufficiency_aopc - TOL);
        assert_true(r.deletion_auc >= best.deletion_auc - TOL);
        assert_true(r.insertion_auc <= best.insertion_auc + TOL);
        ties_comp += fabs(r.comprehensiveness_aopc - best.comprehensiveness_aopc) <= TOL;
        ties_suff += fabs(r.sufficiency_aopc - best.sufficiency_aopc) <= TOL;
        ties_del += fabs(r.deletion_auc - best.deletion_auc) <= TOL;
        ties_ins += fabs(r.insertion_auc - best.insertion_auc) <= TOL;
        for (int j = 0; j < r.n_points; j++) assert_close(r.deletion[j] + r.insertion[j], g.v_all + g.v_none, TOL);
        n_perm++;
    } while (next_permutation(perm, 5));
    assert_int_equal(n_perm, 120);
    /* k = 1..3 fix the first 3 positions: the last two may swap -> 2 rankings;
     * the curves use every k = 1..4, which fixes the whole ranking -> 1 */
    assert_int_equal(ties_comp, 2);
    assert_int_equal(ties_suff, 2);
    assert_int_equal(ties_del, 1);
    assert_int_equal(ties_ins, 1);
}

/* Random rankings: for a uniform ranking the top k is a uniform k-subset,
 * so E[w(top k)] = k/n W. Hence, for the additive6 game (W = 5.5, c = 0.25,
 * k = 1, 1, 3 of n = 6):
 *   E[comprehensiveness AOPC] = (1/6 + 1/6 + 3/6)/3 W = 5/18 * 5.5
 *   E[sufficiency AOPC]       = W - that
 *   E[deletion[j]] = v_all - counts_j/n W and E[insertion[j]] = c + counts_j/n W
 *   are linear in x = counts/n, so the trapezoid is exact:
 *   E[deletion AUC] = c + W/2 = 3 = E[insertion AUC].
 * Tolerance: w(top k) is a sum of k draws without replacement, variance
 * k sigma^2 (n-k)/(n-1) with sigma^2 the population variance of w
 * (15.25/6 - (5.5/6)^2); every summary is a weighted mean of such sums with
 * weights summing to 1, so its sd is at most the largest of their sds
 * (k = 3); 5 standard errors over 1000 rankings. */
static void test_faith_random_baseline(void **state) {
    (void)state;
    test_game tg;
    additive6(&tg);
    tg.check_distinct = 0;
    perturb_game g = game_of(&tg);
    const double fr[3] = {0.1, 0.2, 0.5};
    attrib_faithfulness_options o = opts(3, fr, 20, 1000);
    o.seed = 7;
    attrib_faithfulness r, r2;
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    const double W = 5.5, sigma2 = 15.25 / 6 - (5.5 / 6) * (5.5 / 6);
    const double sd_max = sqrt(3 * sigma2 * 3 / 5.0);
    const double tol = 5 * sd_max / sqrt(1000.0);
    const double e_comp = 5.0 / 18.0 * W;
    printf("random baseline: comp %.4f (E %.4f) suff %.4f (E %.4f) del %.4f ins %.4f (E 3), tol %.3f\n",
           r.random_comprehensiveness_aopc, e_comp, r.random_sufficiency_aopc, W - e_comp, r.random_deletion_auc,
           r.random_insertion_auc, tol);
    assert_close(r.random_comprehensiveness_aopc, e_comp, tol);
    assert_close(r.random_sufficiency_aopc, W - e_comp, tol);
    assert_close(r.random_deletion_auc, 3.0, tol);
    assert_close(r.random_insertion_auc, 3.0, tol);
    /* comprehensiveness + sufficiency = W for every ranking, so for the mean too */
    assert_close(r.random_comprehensiveness_aopc + r.random_sufficiency_aopc, W, 1e-9);
    /* the ranking's own metrics are unchanged by the baseline (see test_faith_additive_by_w
     * for k = 1, 1, 3: AOPC 4 and 1.5) and beat it */
    assert_close(r.comprehensiveness_aopc, 4.0, TOL);
    assert_close(r.sufficiency_aopc, 1.5, TOL);
    assert_true(r.comprehensiveness_aopc > r.random_comprehensiveness_aopc);
    /* n = 6 has only 62 non-trivial coalitions: de-duplication within a call
     * keeps the evaluations far below 1001 rankings x 26 rows */
    assert_true(r.n_evaluations == tg.rows);
    assert_true(r.n_evaluations <= 62 * tg.calls);
    /* deterministic for a seed, different for another */
    assert_int_equal(faith_run(&g, tg.w, &o, &r2), ATTRIB_OK);
    assert_true(r2.random_comprehensiveness_aopc == r.random_comprehensiveness_aopc);
    assert_true(r2.random_deletion_auc == r.random_deletion_auc);
    o.seed = 8;
    assert_int_equal(faith_run(&g, tg.w, &o, &r2), ATTRIB_OK);
    assert_true(r2.random_deletion_auc != r.random_deletion_auc);
    /* one random ranking: its metrics are those of some permutation; with
     * the additive game comprehensiveness + sufficiency = W still holds */
    o.random_orders = 1;
    assert_int_equal(faith_run(&g, tg.w, &o, &r2), ATTRIB_OK);
    assert_close(r2.random_comprehensiveness_aopc + r2.random_sufficiency_aopc, W, 1e-12);
}

/* Interaction game on 4 features: v(S) = 1 iff 0 and 1 are in S; v_all = 1,
 * v_none = 0. Fractions 0.25, 0.5, 1 -> k = 1, 2, 4; curve counts 0..4. */
static void test_faith_interaction(void **state) {
    (void)state;
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = 4;
    tg.pair_game = 1;
    tg.check_distinct = 1;
    perturb_game g = game_of(&tg);
    assert_close(g.v_all, 1, 0);
    assert_close(g.v_none, 0, 0);
    const double fr[3] = {0.25, 0.5, 1.0};
    attrib_faithfulness_options o = opts(3, fr, 20, 0);
    attrib_faithfulness r;

    /* Scores [0.9, 0.1, 0.5, 0.3]: ranking 0, 2, 3, 1 (feature 1 last).
     * comprehensiveness: removing {0}, {0,2}, everything -> v = 0 each -> [1, 1, 1]
     * sufficiency: keeping {0}, {0,2} -> 0; everything -> 1 -> [1, 1, 0]; AOPC 2/3
     * deletion: removing the top 0..4 -> [1, 0, 0, 0, 0]
     * insertion: keeping {}, {0}, {0,2}, {0,2,3}, all -> [0, 0, 0, 0, 1]
     * AUCs: one nonzero trapezoid each, 0.25 * (1 + 0)/2 = 0.125.
     * Distinct coalitions: {1,2,3}, {1,3}, {0}, {0,2}, {1}, {0,2,3} = 6. */
    const double s1[4] = {0.9, 0.1, 0.5, 0.3};
    assert_int_equal(faith_run(&g, s1, &o, &r), ATTRIB_OK);
    assert_int_equal(r.k[0], 1);
    assert_int_equal(r.k[1], 2);
    assert_int_equal(r.k[2], 4);
    const double comp1[3] = {1, 1, 1}, suff1[3] = {1, 1, 0};
    assert_array_close(r.comprehensiveness, comp1, 3, TOL);
    assert_array_close(r.sufficiency, suff1, 3, TOL);
    assert_close(r.comprehensiveness_aopc, 1.0, TOL);
    assert_close(r.sufficiency_aopc, 2.0 / 3.0, TOL);
    assert_int_equal(r.n_points, 5);
    const double del1[5] = {1, 0, 0, 0, 0}, ins1[5] = {0, 0, 0, 0, 1};
    assert_array_close(r.deletion, del1, 5, TOL);
    assert_array_close(r.insertion, ins1, 5, TOL);
    assert_close(r.deletion_auc, 0.125, TOL);
    assert_close(r.insertion_auc, 0.125, TOL);
    assert_int_equal(r.n_evaluations, 6);

    /* Scores [0.9, 0.8, 0, 0]: ranking 0, 1, 2, 3 (2 and 3 tied -> index order).
     * comprehensiveness: removing {0}, {0,1}, all -> 0 -> [1, 1, 1]
     * sufficiency: keeping {0} -> 0; {0,1} -> 1; all -> 1 -> [1, 0, 0]; AOPC 1/3
     * deletion [1, 0, 0, 0, 0] -> 0.125
     * insertion [0, 0, 1, 1, 1] -> 0.25 [0 + 1/2 + 1 + 1] = 0.625
     * Distinct: {1,2,3}, {2,3}, {0}, {0,1}, {3}, {0,1,2} = 6. */
    const double s2[4] = {0.9, 0.8, 0, 0};
    assert_int_equal(faith_run(&g, s2, &o, &r), ATTRIB_OK);
    const double comp2[3] = {1, 1, 1}, suff2[3] = {1, 0, 0};
    assert_array_close(r.comprehensiveness, comp2, 3, TOL);
    assert_array_close(r.sufficiency, suff2, 3, TOL);
    assert_close(r.sufficiency_aopc, 1.0 / 3.0, TOL);
    const double del2[5] = {1, 0, 0, 0, 0}, ins2[5] = {0, 0, 1, 1, 1};
    assert_array_close(r.deletion, del2, 5, TOL);
    assert_array_close(r.insertion, ins2, 5, TOL);
    assert_close(r.deletion_auc, 0.125, TOL);
    assert_close(r.insertion_auc, 0.625, TOL);
    assert_int_equal(r.n_evaluations, 6);
}

/* Curve counts: P = min(n, curve_points), counts[j] = round(j n / P), halves up. */
static void check_counts(int n, int curve_points, const int *want, int n_want) {
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = n;
    tg.c = 1;
    for (int i = 0; i < n; i++) tg.w[i] = (double)(i % 7) - 2.5;
    perturb_game g = game_of(&tg);
    const double fr[1] = {0.5};
    attrib_faithfulness_options o = opts(1, fr, curve_points, 0);
    attrib_faithfulness r;
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    assert_int_equal(r.n_points, n_want);
    for (int j = 0; j < n_want; j++) assert_int_equal(r.counts[j], want[j]);
    /* the ends are the given values, exactly */
    assert_true(r.deletion[0] == g.v_all && r.insertion[0] == g.v_none);
    assert_true(r.deletion[n_want - 1] == g.v_none && r.insertion[n_want - 1] == g.v_all);
}

static void test_faith_counts(void **state) {
    (void)state;
    const int c10_4[5] = {0, 3, 5, 8, 10}; /* 10/4 = 2.5: 2.5 -> 3, 5, 7.5 -> 8 */
    check_counts(10, 4, c10_4, 5);
    const int c7_3[4] = {0, 2, 5, 7}; /* 7/3: 2.33 -> 2, 4.67 -> 5 */
    check_counts(7, 3, c7_3, 4);
    const int c4_20[5] = {0, 1, 2, 3, 4}; /* n < curve_points: every count */
    check_counts(4, 20, c4_20, 5);
    const int c5_5[6] = {0, 1, 2, 3, 4, 5}; /* n == curve_points */
    check_counts(5, 5, c5_5, 6);
    const int c9_1[2] = {0, 9}; /* one step: the two ends */
    check_counts(9, 1, c9_1, 2);
    /* the largest curve: n = 300 > 256 points -> 257 counts, j * 300 / 256 */
    int c300[257];
    for (int j = 0; j <= 256; j++) c300[j] = (int)floor(j * 300.0 / 256.0 + 0.5);
    assert_int_equal(c300[1], 1);   /* 1.17 */
    assert_int_equal(c300[2], 2);   /* 2.34 */
    assert_int_equal(c300[128], 150);
    check_counts(300, 256, c300, 257);

    /* Halves of k round away from zero (C round()): 0.25 * 10 = 2.5 -> 3,
     * 0.05 * 10 = 0.5 -> 1, 0.15 * 10 = 1.5 -> 2. */
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = 10;
    for (int i = 0; i < 10; i++) tg.w[i] = 10 - i;
    perturb_game g = game_of(&tg);
    const double fr[3] = {0.25, 0.05, 0.15};
    attrib_faithfulness_options o = opts(3, fr, 20, 0);
    attrib_faithfulness r;
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    assert_int_equal(r.k[0], 3);
    assert_int_equal(r.k[1], 1);
    assert_int_equal(r.k[2], 2);
    /* ranking 0, 1, 2, ...: comprehensiveness at k = 3 is 10 + 9 + 8 */
    assert_close(r.comprehensiveness[0], 27, TOL);
}

/* Top-k masks of ORDER for the plan's fractions and curve counts as bit sets
 * (bit i = feature i present), computed here from the definitions. */
static int coalition_masks(const int *order, int n, const attrib_faithfulness_options *o, uint32_t *masks) {
    int ks[FAITH_TEST_MAX_K], nk = 0;
    for (int f = 0; f < o->n_fractions; f++) {
        int k = (int)round(o->fractions[f] * n);
        ks[nk++] = k < 1 ? 1 : k;
    }
    const int P = n < o->curve_points ? n : o->curve_points;
    for (int j = 0; j <= P; j++) ks[nk++] = (int)floor((double)j * n / P + 0.5);
    int m = 0;
    const uint32_t all = (1u << n) - 1;
    for (int i = 0; i < nk; i++) {
        uint32_t top = 0;
        for (int t = 0; t < ks[i]; t++) top |= 1u << order[t];
        masks[m++] = all & ~top; /* all but the top k */
        masks[m++] = top;        /* only the top k */
    }
    return m;
}

/* Several rankings at once: each result equals its ranking run alone, the
 * game sees every distinct coalition once across rankings (check_distinct),
 * and the per-ranking counts are the coalitions each was first to need. */
static void test_faith_many(void **state) {
    (void)state;
    enum { N = 10, NR = 3 };
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = N;
    tg.c = 0.5;
    const double w[N] = {4, -2, 3, 0.5, -1, 2.5, 1, -0.25, 1.5, 0.75};
    memcpy(tg.w, w, sizeof w);
    tg.check_distinct = 1;
    /* w's own ranking; one that agrees on the top 3 (0, 2, 5) only; the reverse */
    const double agree3[N] = {9, 1, 8, 2, 3, 7, 4, 5, 6, 0};
    double reverse[N];
    for (int i = 0; i < N; i++) reverse[i] = -w[i];
    const double *scores[NR] = {w, agree3, reverse};
    const double fr[3] = {0.1, 0.2, 0.5};
    for (int random_orders = 0; random_orders <= 2; random_orders += 2) {
        attrib_faithfulness_options o = opts(3, fr, 20, random_orders);
        o.seed = 7;
        attrib_faithfulness many[NR], alone;
        perturb_game g = game_of(&tg);
        tg.rows = tg.calls = 0;
        assert_int_equal(faith_run_many(&g, NR, scores, &o, many), ATTRIB_OK);
        assert_int_equal(tg.calls, 1); /* one call, so check_distinct covers every ranking */
        int64_t sum = 0, counts[NR];
        for (int r = 0; r < NR; r++) {
            sum += counts[r] = many[r].n_evaluations;
            test_game t1 = tg;
            perturb_game g1 = game_of(&t1);
            assert_int_equal(faith_run(&g1, scores[r], &o, &alone), ATTRIB_OK);
            /* everything but the evaluation count is the ranking's own result */
            many[r].n_evaluations = alone.n_evaluations = 0;
            assert_memory_equal(&many[r], &alone, sizeof alone);
        }
        assert_int_equal(sum, tg.rows);
        if (random_orders) continue;
        /* the counts, from the definitions: distinct non-trivial coalitions in ranking order */
        uint32_t seen[NR * 2 * (3 + 21)];
        int n_seen = 0;
        for (int r = 0; r < NR; r++) {
            int order[N];
            for (int i = 0; i < N; i++) order[i] = i;
            for (int i = 1; i < N; i++) /* insertion sort: descending, ties by index */
                for (int j = i; j > 0 && scores[r][order[j]] > scores[r][order[j - 1]]; j--) {
                    const int t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
            uint32_t masks[2 * (3 + 21)];
            const int m = coalition_masks(order, N, &o, masks);
            int added = 0;
            for (int k = 0; k < m; k++) {
                if (masks[k] == 0 || masks[k] == (1u << N) - 1) continue;
                int dup = 0;
                for (int l = 0; l < n_seen && !dup; l++) dup = seen[l] == masks[k];
                if (!dup) seen[n_seen++] = masks[k], added++;
            }
            assert_int_equal(counts[r], added);
        }
        assert_true(counts[1] < counts[0]); /* the shared top 3 were not rerun */
    }
    attrib_faithfulness r[1];
    attrib_faithfulness_options o = opts(3, fr, 20, 0);
    perturb_game g = game_of(&tg);
    assert_int_equal(faith_run_many(&g, 0, scores, &o, r), ATTRIB_E_INVALID_ARG);
    assert_int_equal(faith_run_many(&g, ATTRIB_FAITH_MAX_RANKINGS + 1, scores, &o, r), ATTRIB_E_INVALID_ARG);
    const double *with_null[2] = {w, NULL};
    attrib_faithfulness r2[2];
    assert_int_equal(faith_run_many(&g, 2, with_null, &o, r2), ATTRIB_E_INVALID_ARG);
}

/* One feature: every coalition is empty or full, the game is never asked. */
static void test_faith_one_feature(void **state) {
    (void)state;
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = 1;
    tg.c = 2;
    tg.w[0] = 3;
    perturb_game g = game_of(&tg);
    g.fn = NULL;
    const double s[1] = {-4};
    attrib_faithfulness r;
    assert_int_equal(faith_run(&g, s, NULL, &r), ATTRIB_OK); /* defaults */
    /* k = max(1, round(0.1)) = 1 for every default fraction: comprehensiveness
     * = 5 - 2 = 3, sufficiency = 0; curves [5, 2] and [2, 5]; AUCs 3.5 */
    for (int f = 0; f < 3; f++) {
        assert_int_equal(r.k[f], 1);
        assert_close(r.comprehensiveness[f], 3, TOL);
        assert_close(r.sufficiency[f], 0, TOL);
    }
    assert_int_equal(r.n_points, 2);
    assert_close(r.deletion_auc, 3.5, TOL);
    assert_close(r.insertion_auc, 3.5, TOL);
    assert_close(r.random_comprehensiveness_aopc, 3, TOL); /* the only ranking */
    assert_int_equal(r.n_evaluations, 0);
}

static void test_faith_validation(void **state) {
    (void)state;
    test_game tg;
    additive6(&tg);
    perturb_game g = game_of(&tg);
    const double fr[3] = {0.1, 0.2, 0.5};
    attrib_faithfulness r, sentinel;
    memset(&sentinel, 0xAB, sizeof sentinel);
#define EXPECT_INVALID(call)                                                                                           \
    do {                                                                                                               \
        memcpy(&r, &sentinel, sizeof r);                                                                             \
        assert_int_equal((call), ATTRIB_E_INVALID_ARG);                                                                \
        assert_true(strlen(attrib_last_error()) > 0);                                                                  \
        assert_memory_equal(&r, &sentinel, sizeof r);                                                                  \
    } while (0)
    attrib_faithfulness_options o;
    o = opts(0, fr, 20, 0);
    EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    o = opts(3, fr, 20, 0);
    o.n_fractions = 9;
    EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    const double bad_fractions[4] = {0.0, -0.1, 1.0000001, NAN};
    for (int b = 0; b < 4; b++) {
        o = opts(3, fr, 20, 0);
        o.fractions[1] = bad_fractions[b];
        EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    }
    o = opts(3, fr, 0, 0);
    EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    o = opts(3, fr, ATTRIB_FAITH_MAX_POINTS, 0);
    EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    o = opts(3, fr, 20, -1);
    EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    o = opts(3, fr, 20, 1001);
    EXPECT_INVALID(faith_run(&g, tg.w, &o, &r));
    o = opts(3, fr, 20, 0);
    const double nan_scores[6] = {1, 2, NAN, 0, 0, 0};
    EXPECT_INVALID(faith_run(&g, nan_scores, &o, &r));
    EXPECT_INVALID(faith_run(&g, NULL, &o, &r));
    assert_int_equal(faith_run(&g, tg.w, &o, NULL), ATTRIB_E_INVALID_ARG);
    EXPECT_INVALID(faith_run(NULL, tg.w, &o, &r));
    perturb_game g0 = g;
    g0.n = 0;
    EXPECT_INVALID(faith_run(&g0, tg.w, &o, &r));
    perturb_game gnofn = g;
    gnofn.fn = NULL;
    EXPECT_INVALID(faith_run(&gnofn, tg.w, &o, &r));
#undef EXPECT_INVALID

    /* the checks alone, before any game exists */
    attrib_faithfulness_options d = attrib_faithfulness_default_options();
    assert_int_equal(faith_check_options(&d), ATTRIB_OK);
    d.curve_points = ATTRIB_FAITH_MAX_POINTS;
    assert_int_equal(faith_check_options(&d), ATTRIB_E_INVALID_ARG);
    assert_int_equal(faith_check_options(NULL), ATTRIB_E_INVALID_ARG);

    /* the limits themselves are accepted */
    const double eight[8] = {1e-9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 1.0};
    o = opts(8, eight, ATTRIB_FAITH_MAX_POINTS - 1, 1000);
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    /* k = max(1, round(q * 6)): 6e-9 -> 1, 0.6 -> 1, 1.2 -> 1, 1.8 -> 2,
     * 2.4 -> 2, 3 -> 3, 5.4 -> 5, 6 -> 6 */
    const int k_want[8] = {1, 1, 1, 2, 2, 3, 5, 6};
    for (int f = 0; f < 8; f++) assert_int_equal(r.k[f], k_want[f]);
    assert_close(r.comprehensiveness[7], g.v_all - g.v_none, TOL);
    assert_close(r.sufficiency[7], 0, TOL);

    /* an error of the value function is returned as is */
    tg.fail_with = ATTRIB_E_IO;
    o = opts(3, fr, 20, 0);
    memcpy(&r, &sentinel, sizeof r);
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_E_IO);
    assert_memory_equal(&r, &sentinel, sizeof r);
}

/* Batching: many rankings of 40 features. One ranking is 2 (3 + 21) = 48
 * coalitions; 1001 rankings are 48048, i.e. at least ceil(48048 / 4096) =
 * 12 calls of at most PERTURB_CHUNK; whole rankings per call (4096 / 48 =
 * 85) also give ceil(1001 / 85) = 12. */
static void test_faith_batching(void **state) {
    (void)state;
    test_game tg;
    memset(&tg, 0, sizeof tg);
    tg.n = 40;
    for (int i = 0; i < 40; i++) tg.w[i] = sin(i + 1.0);
    perturb_game g = game_of(&tg);
    const double fr[3] = {0.1, 0.2, 0.5};
    attrib_faithfulness_options o = opts(3, fr, 20, 1000);
    attrib_faithfulness r;
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    printf("40 features, 1001 rankings: %lld calls, %lld coalitions, largest call %d\n", (long long)tg.calls,
           (long long)tg.rows, tg.max_rows);
    assert_true(tg.calls <= 12);
    assert_true(tg.max_rows <= PERTURB_CHUNK);
    assert_int_equal(r.n_evaluations, tg.rows);
    assert_true(r.n_evaluations <= 1001 * 48);
    /* comprehensiveness + sufficiency = W for the random rankings too */
    double W = 0;
    for (int i = 0; i < 40; i++) W += tg.w[i];
    assert_close(r.random_comprehensiveness_aopc + r.random_sufficiency_aopc, W, 1e-9);
}

/* Every allocation of a successful run, failed in turn: ATTRIB_E_NOMEM,
 * the output untouched (ASan checks that nothing leaks). */
static void test_faith_alloc_failures(void **state) {
    (void)state;
    test_game tg;
    additive6(&tg);
    perturb_game g = game_of(&tg);
    const double fr[3] = {0.1, 0.2, 0.5};
    attrib_faithfulness_options o = opts(3, fr, 4, 3);
    attrib_faithfulness r, sentinel;
    memset(&sentinel, 0x5A, sizeof sentinel);
    attrib_test_fail_alloc_at(0);
    assert_int_equal(faith_run(&g, tg.w, &o, &r), ATTRIB_OK);
    const uint64_t n = attrib_test_fail_alloc_at(0);
    assert_true(n >= 5);
    int wrong = 0;
    for (uint64_t k = 1; k <= n; k++) {
        attrib_test_fail_alloc_at(k);
        memcpy(&r, &sentinel, sizeof r);
        attrib_status s = faith_run(&g, tg.w, &o, &r);
        attrib_test_fail_alloc_at(0);
        if (s != ATTRIB_E_NOMEM || memcmp(&r, &sentinel, sizeof r) != 0) {
            printf("FAIL allocation %llu of %llu: %s\n", (unsigned long long)k, (unsigned long long)n,
                   attrib_status_name(s));
            wrong++;
        }
    }
    printf("faithfulness: %llu allocations, each failed in turn, %d wrong\n", (unsigned long long)n, wrong);
    assert_int_equal(wrong, 0);
}

/* The metrics allocate scratch space; a failed allocation gives NAN (the
 * bootstrap keeps its mean), never a crash or a leak. */
static void test_metrics_alloc_failures(void **state) {
    (void)state;
    const double a[5] = {1, 2, 3, 4, 5}, b[5] = {2, 1, 4, 3, 5};
    const int l[5] = {0, 1, 0, 1, 1};
    for (uint64_t k = 1; k <= 3; k++) {
        attrib_test_fail_alloc_at(k);
        assert_true(isnan(attrib_spearman(a, b, 5)));
        attrib_test_fail_alloc_at(k);
        assert_true(isnan(attrib_topk_overlap(a, b, 5, 2)));
        attrib_test_fail_alloc_at(0);
    }
    for (uint64_t k = 1; k <= 2; k++) {
        attrib_test_fail_alloc_at(k);
        assert_true(isnan(attrib_auroc(a, l, 5)));
        attrib_test_fail_alloc_at(k);
        double m, lo, hi;
        attrib_bootstrap_mean_ci(a, 5, 100, 0, &m, &lo, &hi);
        attrib_test_fail_alloc_at(0);
        assert_close(m, 3.0, TOL);
        assert_true(isnan(lo) && isnan(hi));
    }
    /* and they still work afterwards */
    assert_close(attrib_spearman(a, b, 5), 0.8, TOL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spearman),
        cmocka_unit_test(test_kendall),
        cmocka_unit_test(test_topk_overlap),
        cmocka_unit_test(test_sign_agreement),
        cmocka_unit_test(test_auroc),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_faith_defaults),
        cmocka_unit_test(test_faith_additive_by_w),
        cmocka_unit_test(test_faith_additive_other_ranking),
        cmocka_unit_test(test_faith_additive_optimal),
        cmocka_unit_test(test_faith_random_baseline),
        cmocka_unit_test(test_faith_interaction),
        cmocka_unit_test(test_faith_counts),
        cmocka_unit_test(test_faith_one_feature),
        cmocka_unit_test(test_faith_many),
        cmocka_unit_test(test_faith_validation),
        cmocka_unit_test(test_faith_batching),
        cmocka_unit_test(test_faith_alloc_failures),
        cmocka_unit_test(test_metrics_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
