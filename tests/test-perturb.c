/*
 * test-perturb.c — the perturbation methods against things that do not come
 * from our own code paths:
 *   - the estimators (src/perturb_shapley.c, src/perturb_lime.c) on games
 *     with closed-form Shapley values: games given by their Harsanyi
 *     dividends (phi_i = sum over sets T containing i of d_T / |T|), additive
 *     games, the majority game; the axioms (efficiency, symmetry, dummy);
 *   - the model-backed value function (prefix reuse + batching) against a
 *     full recomputation of every masked input built here from the
 *     definition and run through attrib_forward without a cache, for every
 *     masking strategy and several batch sizes;
 *   - the axioms on the real model (stories260K): efficiency against an
 *     independently computed f(all masked), a real dummy (a token equal to
 *     the mask token) and symmetry (a feature duplicated);
 *   - convergence of permutation sampling and KernelSHAP to exact values on
 *     10-feature prompts: errors within 3 standard errors for >= 95% of the
 *     features, and a log-log slope of the error against samples near -1/2.
 * Agreement with the PyTorch reference is tests/py/check_occlusion.py.
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

#include "attribution/perturb.h"
#include "task/probe.h"
#include "test_util.h"

/* ------------------------------------------------------- synthetic games */

/* A game given by Harsanyi dividends: v(S) = sum of d_T over T subset of S. */
typedef struct dividend_game {
    int n, n_terms;
    uint32_t sets[16];
    double d[16];
    double offset; /* v(empty) */
    int64_t calls;
} dividend_game;

static double dividend_value(const dividend_game *dg, const uint8_t *present) {
    uint32_t S = 0;
    for (int i = 0; i < dg->n; i++) S |= (uint32_t)(present[i] != 0) << i;
    double v = dg->offset;
    for (int t = 0; t < dg->n_terms; t++)
        if ((dg->sets[t] & S) == dg->sets[t]) v += dg->d[t];
    return v;
}

static attrib_status dividend_fn(void *ctx, const uint8_t *const *present, int m, double *values) {
    dividend_game *dg = ctx;
    for (int k = 0; k < m; k++) {
        int cnt = 0;
        for (int i = 0; i < dg->n; i++) cnt += present[k][i] != 0;
        /* the estimators must never ask for the given coalitions */
        assert_true(cnt > 0 && cnt < dg->n);
        values[k] = dividend_value(dg, present[k]);
    }
    dg->calls += m;
    return ATTRIB_OK;
}

static perturb_game game_of(dividend_game *dg) {
    uint8_t all[32], none[32];
    memset(all, 1, sizeof all);
    memset(none, 0, sizeof none);
    perturb_game g = {.n = dg->n, .fn = dividend_fn, .ctx = dg};
    g.v_all = dividend_value(dg, all);
    g.v_none = dividend_value(dg, none);
    return g;
}

/* Closed form: phi_i = sum over T containing i of d_T / |T|. */
static void dividend_shapley(const dividend_game *dg, double *phi) {
    for (int i = 0; i < dg->n; i++) phi[i] = 0;
    for (int t = 0; t < dg->n_terms; t++) {
        int sz = __builtin_popcount(dg->sets[t]);
        for (int i = 0; i < dg->n; i++)
            if (dg->sets[t] >> i & 1) phi[i] += dg->d[t] / sz;
    }
}

static uint64_t trng = 0x243f6a8885a308d3ull;
static double urand(void) {
    trng ^= trng << 13;
    trng ^= trng >> 7;
    trng ^= trng << 17;
    return (double)(trng >> 11) * (1.0 / 9007199254740992.0);
}

static void random_dividend_game(dividend_game *dg, int n, int terms) {
    memset(dg, 0, sizeof *dg);
    dg->n = n;
    dg->n_terms = terms;
    dg->offset = urand() * 2 - 1;
    for (int t = 0; t < terms; t++) {
        uint32_t S = 0;
        while (!S)
            for (int i = 0; i < n; i++) S |= (uint32_t)(urand() < 0.35) << i;
        dg->sets[t] = S;
        dg->d[t] = urand() * 4 - 2;
    }
}

static void test_exact_closed_forms(void **state) {
    (void)state;
    double phi[12], want[12];
    for (int rep = 0; rep < 20; rep++) {
        dividend_game dg;
        random_dividend_game(&dg, 2 + rep % 9, 1 + rep % 7);
        perturb_game g = game_of(&dg);
        int64_t ev = 0;
        assert_int_equal(perturb_shapley_exact(&g, phi, &ev), ATTRIB_OK);
        assert_int_equal(ev, (1 << dg.n) - 2);
        dividend_shapley(&dg, want);
        for (int i = 0; i < dg.n; i++) assert_true(fabs(phi[i] - want[i]) < 1e-12);
    }
}

/* Majority game on 7 players: v(S) = 1 if |S| >= 4. Symmetric: phi = 1/7. */
static attrib_status majority_fn(void *ctx, const uint8_t *const *present, int m, double *values) {
    const int n = *(const int *)ctx;
    for (int k = 0; k < m; k++) {
        int c = 0;
        for (int i = 0; i < n; i++) c += present[k][i] != 0;
        values[k] = 2 * c > n;
    }
    return ATTRIB_OK;
}

static void test_majority_and_symmetry(void **state) {
    (void)state;
    int n = 7;
    perturb_game g = {.n = n, .fn = majority_fn, .ctx = &n, .v_all = 1, .v_none = 0};
    double phi[7], se[7];
    int64_t ev;
    assert_int_equal(perturb_shapley_exact(&g, phi, &ev), ATTRIB_OK);
    for (int i = 0; i < n; i++) assert_true(fabs(phi[i] - 1.0 / 7) < 1e-14);
    /* KernelSHAP enumerating all 126 coalitions with exact kernel weights */
    assert_int_equal(perturb_kernelshap(&g, 200, 1, phi, se, &ev), ATTRIB_OK);
    assert_int_equal(ev, 126);
    for (int i = 0; i < n; i++) assert_true(fabs(phi[i] - 1.0 / 7) < 1e-10 && se[i] == 0);
    /* sampled: efficiency exact, values near 1/7 */
    assert_int_equal(perturb_shapley_permutation(&g, 400, 1, 5, phi, se, &ev), ATTRIB_OK);
    double s = 0;
    for (int i = 0; i < n; i++) {
        s += phi[i];
        assert_true(fabs(phi[i] - 1.0 / 7) < 4 * se[i] + 1e-12);
    }
    assert_true(fabs(s - 1) < 1e-12);
}

/* KernelSHAP with every coalition enumerated equals the exact values on
 * arbitrary (non-additive) games. */
static void test_kernelshap_enumeration_is_exact(void **state) {
    (void)state;
    double phi[10], se[10], want[10];
    for (int rep = 0; rep < 10; rep++) {
        dividend_game dg;
        random_dividend_game(&dg, 2 + rep % 8, 2 + rep % 5);
        perturb_game g = game_of(&dg);
        int64_t ev = 0;
        assert_int_equal(perturb_kernelshap(&g, (1 << dg.n), 3, phi, se, &ev), ATTRIB_OK);
        dividend_shapley(&dg, want);
        for (int i = 0; i < dg.n; i++) assert_true(fabs(phi[i] - want[i]) < 1e-9);
    }
}

/* Additive games: every estimator must return the coefficients exactly
 * (permutation marginals are constant; the regressions fit exactly). */
static void test_additive_exact_for_all_estimators(void **state) {
    (void)state;
    dividend_game dg;
    memset(&dg, 0, sizeof dg);
    dg.n = 12;
    dg.n_terms = 12;
    dg.offset = 0.7;
    for (int i = 0; i < 12; i++) {
        dg.sets[i] = 1u << i;
        dg.d[i] = (i % 3 == 0) ? 0.0 : urand() * 2 - 1; /* features 0, 3, 6, 9 are dummies */
    }
    perturb_game g = game_of(&dg);
    double phi[12], se[12];
    int64_t ev;
    assert_int_equal(perturb_shapley_permutation(&g, 6, 1, 9, phi, se, &ev), ATTRIB_OK);
    assert_int_equal(ev, 6 * 11);
    for (int i = 0; i < 12; i++) assert_true(fabs(phi[i] - dg.d[i]) < 1e-12 && se[i] < 1e-12);
    assert_int_equal(perturb_kernelshap(&g, 300, 9, phi, se, &ev), ATTRIB_OK);
    for (int i = 0; i < 12; i++) assert_true(fabs(phi[i] - dg.d[i]) < 1e-9);
    assert_int_equal(perturb_lime(&g, 300, 0.25, 0.0, 9, phi, se, &ev), ATTRIB_OK);
    for (int i = 0; i < 12; i++) assert_true(fabs(phi[i] - dg.d[i]) < 1e-8);
    /* a ridge shrinks the LIME coefficients towards zero */
    double phr[12];
    assert_int_equal(perturb_lime(&g, 300, 0.25, 5.0, 9, phr, se, &ev), ATTRIB_OK);
    double n0 = 0, n1 = 0;
    for (int i = 0; i < 12; i++) {
        n0 += dg.d[i] * dg.d[i];
        n1 += phr[i] * phr[i];
    }
    assert_true(n1 < 0.99 * n0);
}

/* Two features: a permutation and its reverse are all permutations, so an
 * antithetic pair gives the exact values. */
static void test_antithetic_pair_exact_for_two(void **state) {
    (void)state;
    dividend_game dg;
    memset(&dg, 0, sizeof dg);
    dg.n = 2;
    dg.n_terms = 3;
    dg.sets[0] = 1, dg.d[0] = 0.3;
    dg.sets[1] = 2, dg.d[1] = -1.1;
    dg.sets[2] = 3, dg.d[2] = 2.5;
    perturb_game g = game_of(&dg);
    double phi[2], se[2], want[2];
    int64_t ev;
    assert_int_equal(perturb_shapley_permutation(&g, 2, 1, 77, phi, se, &ev), ATTRIB_OK);
    dividend_shapley(&dg, want);
    assert_true(fabs(phi[0] - want[0]) < 1e-12 && fabs(phi[1] - want[1]) < 1e-12);
    assert_true(isnan(se[0])); /* one unit: no standard error */
}

/* Sampled estimates: 3-SE coverage and efficiency on random games, and
 * bit-identical repeats for a seed. */
static void test_sampled_coverage_synthetic(void **state) {
    (void)state;
    int covered = 0, total = 0, kcovered = 0;
    double phi[10], se[10], want[10], phi2[10], se2[10];
    for (int rep = 0; rep < 40; rep++) {
        dividend_game dg;
        random_dividend_game(&dg, 10, 8);
        perturb_game g = game_of(&dg);
        dividend_shapley(&dg, want);
        int64_t ev;
        assert_int_equal(perturb_shapley_permutation(&g, 64, 1, (uint64_t)rep, phi, se, &ev), ATTRIB_OK);
        double s = 0;
        for (int i = 0; i < 10; i++) {
            s += phi[i];
            total++;
            covered += fabs(phi[i] - want[i]) <= 3 * se[i] + 1e-12;
        }
        assert_true(fabs(s - (g.v_all - g.v_none)) < 1e-10);
        assert_int_equal(perturb_shapley_permutation(&g, 64, 1, (uint64_t)rep, phi2, se2, &ev), ATTRIB_OK);
        assert_memory_equal(phi, phi2, sizeof phi);
        assert_int_equal(perturb_kernelshap(&g, 256, (uint64_t)rep, phi, se, &ev), ATTRIB_OK);
        s = 0;
        for (int i = 0; i < 10; i++) {
            s += phi[i];
            kcovered += fabs(phi[i] - want[i]) <= 3 * se[i] + 1e-12;
        }
        assert_true(fabs(s - (g.v_all - g.v_none)) < 1e-10);
    }
    fprintf(stderr, "synthetic 3-SE coverage: permutation %d/%d, kernelshap %d/%d\n", covered, total, kcovered, total);
    assert_true(covered >= 0.95 * total);
    assert_true(kcovered >= 0.95 * total);
}

/* ------------------------------------------------------ the real model */

static attrib_model *load_stories(int threads) {
    char p[1024];
    test_shared_path(p, sizeof p, "models/stories260K/stories260K-f32.gguf");
    attrib_model_options mo = attrib_model_default_options();
    mo.n_threads = threads;
    attrib_model *m = NULL;
    assert_int_equal(attrib_model_load(p, &mo, &m), ATTRIB_OK);
    return m;
}

/* The input built from the definition (no cache, one sequence) and its
 * logit of TARGET. */
static double full_value(attrib_model *m, const int32_t *ids, int n, const int32_t *fot, const uint8_t *present,
                         attrib_mask_kind mask, int32_t mask_token, int32_t target) {
    const int C = attrib_model_get_info(m)->n_embd, V = attrib_model_get_info(m)->n_vocab;
    int32_t tok[64];
    uint8_t km[64];
    float *emb = calloc((size_t)n * C, sizeof(float));
    float *logits = calloc((size_t)V, sizeof(float));
    assert_non_null(emb);
    assert_non_null(logits);
    int len = 0;
    for (int i = 0; i < n; i++) {
        const int masked = fot[i] >= 0 && !present[fot[i]];
        if (mask == ATTRIB_MASK_DELETE && masked) continue;
        tok[len] = (mask == ATTRIB_MASK_TOKEN && masked) ? mask_token : ids[i];
        km[len] = !(mask == ATTRIB_MASK_ATTENTION && masked);
        assert_int_equal(attrib_model_embed(m, &ids[i], 1, emb + (size_t)len * C), ATTRIB_OK);
        if (mask == ATTRIB_MASK_ZERO && masked) memset(emb + (size_t)len * C, 0, sizeof(float) * C);
        len++;
    }
    attrib_batch b = {.n_seq = 1, .n_tokens = len, .logits_mode = ATTRIB_LOGITS_LAST, .key_mask = km};
    if (mask == ATTRIB_MASK_ZERO) b.embeddings = emb;
    else b.tokens = tok;
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_OK);
    double v = logits[target];
    free(emb);
    free(logits);
    return v;
}

static int32_t top1(attrib_model *m, const int32_t *ids, int n) {
    const int V = attrib_model_get_info(m)->n_vocab;
    float *logits = calloc((size_t)V, sizeof(float));
    attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .logits_mode = ATTRIB_LOGITS_LAST};
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_OK);
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    free(logits);
    return best;
}

/* An explain_ctx as explain.c would prepare it: one feature per token after
 * the BOS, the logit of the top-1 token as the target. */
typedef struct test_ctx {
    explain_ctx c;
    attrib_result res;
    int32_t fot[64];
} test_ctx;

static void make_ctx(test_ctx *t, attrib_model *m, const int32_t *ids, int n, attrib_mask_kind mask, int32_t mask_token,
                     int batch) {
    memset(t, 0, sizeof *t);
    t->c.m = m;
    t->c.ids = ids;
    t->c.n = n;
    t->c.opt = attrib_explain_default_options(ATTRIB_METHOD_SHAPLEY_EXACT);
    t->c.opt.mask = mask;
    t->c.opt.mask_token = mask_token;
    t->c.opt.batch = batch;
    t->c.span_begin = 1;
    t->c.span_end = n;
    t->fot[0] = -1;
    for (int i = 1; i < n; i++) t->fot[i] = i - 1;
    t->c.feature_of_token = t->fot;
    t->c.n_features = n - 1;
    t->res.target_kind = ATTRIB_TARGET_LOGIT;
    t->res.target_token = top1(m, ids, n);
    t->c.res = &t->res;
}

static const int32_t PROMPT[] = {1, 403, 407, 261, 427, 280, 378, 2, 29, 265};
#define PROMPT_N 10

static void test_prefix_reuse_equals_recomputation(void **state) {
    (void)state;
    attrib_model *m = load_stories(1);
    const int n = 8; /* 7 features: all 126 non-trivial coalitions */
    const attrib_mask_kind kinds[] = {ATTRIB_MASK_TOKEN, ATTRIB_MASK_ZERO, ATTRIB_MASK_DELETE, ATTRIB_MASK_ATTENTION};
    const int batches[] = {0, 1, 5};
    uint8_t rows[128][7];
    const uint8_t *ptr[128];
    double vals[128];
    for (int k = 0; k < 126; k++) {
        for (int i = 0; i < 7; i++) rows[k][i] = (uint8_t)(((k + 1) >> i) & 1);
        ptr[k] = rows[k];
    }
    double worst = 0;
    for (int kk = 0; kk < 4; kk++)
        for (int bb = 0; bb < 3; bb++) {
            test_ctx t;
            make_ctx(&t, m, PROMPT, n, kinds[kk], 0, batches[bb]);
            perturb_model *pm = NULL;
            assert_int_equal(perturb_model_new(&t.c, &pm), ATTRIB_OK);
            uint8_t none[7] = {0};
            double ref_none = full_value(m, PROMPT, n, t.fot, none, kinds[kk], 0, t.res.target_token);
            assert_true(fabs(perturb_model_f_none(pm) - ref_none) <= 1e-5 * fmax(1.0, fabs(ref_none)));
            assert_int_equal(perturb_model_values(pm, ptr, 126, vals), ATTRIB_OK);
            /* relative to the target's scale over the case (max |f|) */
            double ref[126], scale = fabs(ref_none);
            for (int k = 0; k < 126; k++) {
                ref[k] = full_value(m, PROMPT, n, t.fot, rows[k], kinds[kk], 0, t.res.target_token);
                scale = fmax(scale, fabs(ref[k]));
            }
            for (int k = 0; k < 126; k++) {
                double err = fabs(vals[k] - ref[k]) / scale;
                worst = fmax(worst, err);
                if (err > 1e-5)
                    fprintf(stderr, "mask %d batch %d coalition %d: %.8f vs %.8f (scale %.3f)\n", kk, batches[bb], k, vals[k],
                            ref[k], scale);
                assert_true(err <= 1e-5);
            }
            int64_t nseq, ntok, nfull;
            perturb_model_counts(pm, &nseq, &ntok, &nfull);
            assert_int_equal(nseq, 128);
            if (batches[bb] == 1) assert_true(ntok < nfull); /* batch 1 has no padding: reuse must save */
            perturb_model_free(pm);
        }
    fprintf(stderr, "prefix reuse vs recomputation: worst relative error %.2e over 4 strategies x 3 batch sizes\n", worst);
    attrib_model_free(m);
}

/* Distinct coalitions along NP permutations of NF features (bitmasks). */
static int64_t distinct_coalitions(const int *perms, int np, int nf) {
    uint32_t seen[64 * 8];
    int64_t cnt = 0;
    for (int q = 0; q < np; q++) {
        uint32_t set = 0;
        for (int k = 1; k < nf; k++) {
            set |= 1u << perms[q * nf + k - 1];
            int dup = 0;
            for (int64_t j = 0; j < cnt; j++) dup |= seen[j] == set;
            if (!dup) seen[cnt++] = set;
        }
    }
    return cnt;
}

/* Permutation chains (each coalition continuing from the previous one's
 * stored keys and values) against the same coalitions built from the
 * definition and run without a cache: every masking strategy, with every
 * permutation in one group of slots, three slots, and one row per pass;
 * without room for two slots the model offers no chains. Repeated coalitions (a
 * duplicated permutation, shared first features) are evaluated once. */
static void test_chains_equal_recomputation(void **state) {
    (void)state;
    attrib_model *m = load_stories(1);
    const attrib_model_info *in = attrib_model_get_info(m);
    const int n = 9, nf = 8, per = nf - 1, np = 8;
    const attrib_mask_kind kinds[] = {ATTRIB_MASK_TOKEN, ATTRIB_MASK_ZERO, ATTRIB_MASK_DELETE, ATTRIB_MASK_ATTENTION};
    const size_t slot = 2 * sizeof(float) * (size_t)in->n_layer * (size_t)in->n_head_kv * in->head_dim * (size_t)n;
    const struct {
        size_t budget;
        int batch;
    } cfg[] = {{0, 0}, {1, 0}, {3 * slot + 3, 0}, {0, 1}}; /* every permutation in one group of slots, no room for
                                                               two slots (no chains), three slots, one row per pass */
    /* permutations 0/1 and 4/5 are antithetic pairs, 2 repeats 0, 3 shares 0's first three features */
    int perms[8][8] = {{3, 0, 6, 1, 7, 2, 5, 4}, {4, 5, 2, 7, 1, 6, 0, 3}, {3, 0, 6, 1, 7, 2, 5, 4}, {3, 0, 6, 5, 4, 2, 1, 7},
                       {0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}, {5, 2, 7, 0, 4, 6, 3, 1}, {1, 7, 4, 2, 0, 3, 6, 5}};
    double vals[8 * 7], ref[8 * 7];
    uint8_t present[8];
    double worst = 0;
    for (int kk = 0; kk < 4; kk++) {
        test_ctx t0;
        make_ctx(&t0, m, PROMPT, n, kinds[kk], 0, 0);
        double scale = 0;
        for (int q = 0; q < np; q++) {
            memset(present, 0, sizeof present);
            for (int k = 1; k <= per; k++) {
                present[perms[q][k - 1]] = 1;
                ref[q * per + k - 1] = full_value(m, PROMPT, n, t0.fot, present, kinds[kk], 0, t0.res.target_token);
                scale = fmax(scale, fabs(ref[q * per + k - 1]));
            }
        }
        for (int cc = 0; cc < 4; cc++) {
            test_ctx t;
            make_ctx(&t, m, PROMPT, n, kinds[kk], 0, cfg[cc].batch);
            t.c.opt.memory_budget = cfg[cc].budget;
            perturb_model *pm = NULL;
            assert_int_equal(perturb_model_new(&t.c, &pm), ATTRIB_OK);
            chain_fn chains = perturb_model_chain_fn(pm);
            int64_t evals = 0, nseq0, ntok0, nfull0, nseq, ntok, nfull;
            perturb_model_counts(pm, &nseq0, &ntok0, &nfull0);
            if (cfg[cc].budget == 1) { /* no room for two slots: no chains, the estimator's row-wise path */
                assert_null(chains);
                perturb_model_free(pm);
                continue;
            }
            assert_non_null(chains);
            assert_int_equal(chains(pm, &perms[0][0], np, vals, &evals), ATTRIB_OK);
            perturb_model_counts(pm, &nseq, &ntok, &nfull);
            for (int k = 0; k < np * per; k++) {
                const double err = fabs(vals[k] - ref[k]) / scale;
                worst = fmax(worst, err);
                if (err > 1e-5) fprintf(stderr, "mask %d config %d value %d: %.8f vs %.8f\n", kk, cc, k, vals[k], ref[k]);
                assert_true(err <= 1e-5);
            }
            /* one group: each distinct coalition once (permutation 2 repeats 0, 3 shares 0's first three
             * features, and 3 and 4 both end in feature 7) */
            if (cfg[cc].budget == 0) assert_int_equal(evals, distinct_coalitions(&perms[0][0], np, nf));
            if (cfg[cc].budget > 1) /* three slots: groups of permutations 0-2, 3-5, 6-7 share nothing */
                assert_int_equal(evals, distinct_coalitions(&perms[0][0], 3, nf) + distinct_coalitions(&perms[3][0], 3, nf) +
                                            distinct_coalitions(&perms[6][0], 2, nf));
            assert_int_equal(nseq - nseq0, evals);
            if (cfg[cc].batch == 1) {
                /* no padding: every chained row starts at least where the cached sequences let it, and the
                 * same coalitions through the row-wise value function (sequences 0 and 1 only) compute more */
                assert_true(ntok - ntok0 < nfull - nfull0);
                uint8_t rows[56][8];
                const uint8_t *ptr[56];
                for (int q = 0; q < np; q++) {
                    memset(present, 0, sizeof present);
                    for (int k = 1; k <= per; k++) {
                        present[perms[q][k - 1]] = 1;
                        memcpy(rows[q * per + k - 1], present, sizeof present);
                        ptr[q * per + k - 1] = rows[q * per + k - 1];
                    }
                }
                double v2[56];
                int64_t s1, t1, f1, s2, t2, f2;
                perturb_model_counts(pm, &s1, &t1, &f1);
                assert_int_equal(perturb_model_values(pm, ptr, np * per, v2), ATTRIB_OK);
                perturb_model_counts(pm, &s2, &t2, &f2);
                fprintf(stderr, "mask %d, one row per pass: chains %lld tokens for %lld rows, row-wise %lld for %lld\n", kk,
                        (long long)(ntok - ntok0), (long long)evals, (long long)(t2 - t1), (long long)(np * per));
                assert_true(ntok - ntok0 < t2 - t1);
            }
            perturb_model_free(pm);
        }
    }
    fprintf(stderr, "chains vs recomputation: worst relative error %.2e\n", worst);
    attrib_model_free(m);
}

/* Chains with a probe target (last-token pooling after block 3 of 5: the
 * slots hold keys and values of the first three blocks only) against the
 * probe's logit of every masked input run alone; a mean-pooling probe has
 * no chains (it would need every chain's running sums). */
static void test_chains_probe_target(void **state) {
    (void)state;
    attrib_model *m = load_stories(1);
    const int C = attrib_model_get_info(m)->n_embd;
    const int n = 9, nf = 8, per = nf - 1, np = 4;
    float *w = calloc((size_t)C, sizeof(float)), *mean = calloc((size_t)C, sizeof(float));
    float *scale = calloc((size_t)C, sizeof(float)), *h = calloc((size_t)C, sizeof(float));
    assert_true(w && mean && scale && h);
    for (int d = 0; d < C; d++) {
        w[d] = (float)sin(0.7 * d + 0.3);
        mean[d] = 0.01f * (float)(d % 7);
        scale[d] = 1.0f + 0.1f * (float)(d % 3);
    }
    attrib_probe probe = {.layer = 3, .pool = ATTRIB_POOL_LAST, .dim = C, .w = w, .mean = mean, .scale = scale, .bias = 0.25f};
    int perms[4][8] = {{3, 0, 6, 1, 7, 2, 5, 4}, {4, 5, 2, 7, 1, 6, 0, 3}, {0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}};
    double vals[4 * 7], worst = 0, scale_v = 0, ref[4 * 7];
    int32_t ids[9];
    for (int q = 0; q < np; q++) {
        uint8_t present[8] = {0};
        for (int k = 1; k <= per; k++) {
            present[perms[q][k - 1]] = 1;
            for (int i = 0; i < n; i++) ids[i] = i == 0 || present[i - 1] ? PROMPT[i] : 0; /* token masking, mask id 0 */
            assert_int_equal(probe_features_one(m, ids, n, probe.layer, ATTRIB_POOL_LAST, h), ATTRIB_OK);
            ref[q * per + k - 1] = attrib_probe_logit(&probe, h);
            scale_v = fmax(scale_v, fabs(ref[q * per + k - 1]));
        }
    }
    test_ctx t;
    make_ctx(&t, m, PROMPT, n, ATTRIB_MASK_TOKEN, 0, 0);
    t.c.probe = &probe;
    perturb_model *pm = NULL;
    assert_int_equal(perturb_model_new(&t.c, &pm), ATTRIB_OK);
    chain_fn chains = perturb_model_chain_fn(pm);
    assert_non_null(chains);
    int64_t evals = 0;
    assert_int_equal(chains(pm, &perms[0][0], np, vals, &evals), ATTRIB_OK);
    for (int k = 0; k < np * per; k++) {
        const double err = fabs(vals[k] - ref[k]) / scale_v;
        worst = fmax(worst, err);
        assert_true(err <= 1e-5);
    }
    perturb_model_free(pm);
    probe.pool = ATTRIB_POOL_MEAN;
    make_ctx(&t, m, PROMPT, n, ATTRIB_MASK_TOKEN, 0, 0);
    t.c.probe = &probe;
    assert_int_equal(perturb_model_new(&t.c, &pm), ATTRIB_OK);
    assert_null(perturb_model_chain_fn(pm));
    perturb_model_free(pm);
    fprintf(stderr, "chains with a probe target vs each input alone: worst relative error %.2e\n", worst);
    free(w);
    free(mean);
    free(scale);
    free(h);
    attrib_model_free(m);
}

/* Explain-level axioms on the real model. */
static attrib_result *explain(attrib_model *m, const int32_t *ids, int n, attrib_method meth, attrib_mask_kind mask,
                              int samples, uint64_t seed) {
    attrib_explain_options o = attrib_explain_default_options(meth);
    o.mask = mask;
    if (samples) o.samples = samples;
    o.seed = seed;
    attrib_result *r = NULL;
    attrib_status s = attrib_explain(m, ids, n, &o, &r);
    if (s) fprintf(stderr, "%s\n", attrib_last_error());
    assert_int_equal(s, ATTRIB_OK);
    return r;
}

static void test_axioms_real_model(void **state) {
    (void)state;
    attrib_model *m = load_stories(1);
    /* a real dummy: a token equal to the mask token (0 for stories260K,
     * checked below) at position 4 — masking it changes nothing */
    int32_t ids[PROMPT_N];
    memcpy(ids, PROMPT, sizeof ids);
    ids[4] = 0;
    const attrib_method meths[] = {ATTRIB_METHOD_SHAPLEY_EXACT, ATTRIB_METHOD_SHAPLEY_SAMPLED, ATTRIB_METHOD_KERNELSHAP};
    const attrib_mask_kind kinds[] = {ATTRIB_MASK_TOKEN, ATTRIB_MASK_ZERO, ATTRIB_MASK_DELETE, ATTRIB_MASK_ATTENTION};
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 4; k++) {
            attrib_result *r = explain(m, ids, PROMPT_N, meths[a], kinds[k], 0, 3);
            /* f(all masked) computed here without the library's cache */
            uint8_t none[16] = {0};
            double ref_none = full_value(m, ids, PROMPT_N, r->feature_of_token, none, kinds[k], r->mask_token, r->target_token);
            assert_true(fabs(r->f_baseline - ref_none) <= 1e-5 * fmax(1.0, fabs(ref_none)));
            const double gap = r->f_input - ref_none;
            assert_true(fabs(r->sum_scores - gap) <= 1e-5 * fabs(gap));
            if (kinds[k] == ATTRIB_MASK_TOKEN) {
                assert_int_equal(r->mask_token, 0);
                double mx = 0;
                for (int f = 0; f < r->n_features; f++) mx = fmax(mx, fabs(r->scores[f]));
                /* the dummy (token 4 = feature 3): exactly 0 for exact and
                 * permutation Shapley (every marginal is 0); KernelSHAP's
                 * regression only estimates it, so 0 within 3 SE there */
                if (meths[a] == ATTRIB_METHOD_KERNELSHAP) {
                    assert_true(fabs(r->scores[3]) <= 3 * r->std_errors[3]);
                } else {
                    assert_true(fabs(r->scores[3]) <= 1e-5 * mx);
                    if (r->std_errors) assert_true(r->std_errors[3] <= 1e-5 * mx);
                }
            }
            attrib_result_free(r);
        }
    attrib_model_free(m);
}

/* Symmetry on the real model: a game over 8 features where features 0 and 7
 * both control the first token after BOS (present if either is), so they
 * are interchangeable by construction. */
typedef struct dup_ctx {
    perturb_model *pm;
} dup_ctx;

static attrib_status dup_fn(void *ctx, const uint8_t *const *present, int m, double *values) {
    dup_ctx *d = ctx;
    uint8_t *rows = calloc((size_t)m, 7);
    const uint8_t **ptr = calloc((size_t)m, sizeof *ptr);
    for (int k = 0; k < m; k++) {
        memcpy(rows + (size_t)k * 7, present[k], 7);
        rows[(size_t)k * 7] = present[k][0] || present[k][7];
        ptr[k] = rows + (size_t)k * 7;
    }
    attrib_status s = perturb_model_values(d->pm, ptr, m, values);
    free(rows);
    free(ptr);
    return s;
}

static void test_symmetry_real_model(void **state) {
    (void)state;
    attrib_model *m = load_stories(1);
    test_ctx t;
    make_ctx(&t, m, PROMPT, 8, ATTRIB_MASK_TOKEN, 0, 0);
    perturb_model *pm = NULL;
    assert_int_equal(perturb_model_new(&t.c, &pm), ATTRIB_OK);
    dup_ctx d = {pm};
    attrib_batch b = {.n_seq = 1, .n_tokens = 8, .tokens = PROMPT, .logits_mode = ATTRIB_LOGITS_LAST};
    float *logits = calloc((size_t)attrib_model_get_info(m)->n_vocab, sizeof(float));
    assert_int_equal(attrib_forward(m, &b, NULL, logits), ATTRIB_OK);
    perturb_game g = {.n = 8, .fn = dup_fn, .ctx = &d, .v_all = logits[t.res.target_token], .v_none = perturb_model_f_none(pm)};
    double phi[8], se[8];
    int64_t ev;
    assert_int_equal(perturb_shapley_exact(&g, phi, &ev), ATTRIB_OK);
    double mx = 0;
    for (int i = 0; i < 8; i++) mx = fmax(mx, fabs(phi[i]));
    /* the same masked input may be evaluated in different passes (float32
     * rounding differs by ~1e-6 of the target's scale): 1e-5 of that scale */
    const double scale = fmax(fabs(g.v_all), fabs(g.v_none));
    fprintf(stderr, "symmetry: phi0 %.9f phi7 %.9f (scale %.3f)\n", phi[0], phi[7], scale);
    assert_true(fabs(phi[0]) > 0.05);
    assert_true(fabs(phi[0] - phi[7]) <= 1e-5 * scale);
    assert_int_equal(perturb_kernelshap(&g, 1000, 1, phi, se, &ev), ATTRIB_OK); /* enumerates 254 */
    assert_true(fabs(phi[0] - phi[7]) <= 1e-5 * scale);
    free(logits);
    perturb_model_free(pm);
    attrib_model_free(m);
}

/* Convergence on stories260K: 10 features (BOS + 10 tokens). */
static void fit_slope(const double *x, const double *y, int k, double *slope) {
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < k; i++) {
        mx += log(x[i]) / k;
        my += log(y[i]) / k;
    }
    for (int i = 0; i < k; i++) {
        sxy += (log(x[i]) - mx) * (log(y[i]) - my);
        sxx += (log(x[i]) - mx) * (log(x[i]) - mx);
    }
    *slope = sxy / sxx;
}

static void test_convergence_real_model(void **state) {
    (void)state;
    if (getenv("ATTRIB_TEST_SANITIZED")) { /* a statistical study: the release build runs it */
        printf("test_convergence_real_model: skipped in the sanitizer build (thousands of evaluations)\n");
        skip();
    }
    attrib_model *m = load_stories(1);
    const int32_t prompts[3][11] = {{1, 403, 407, 261, 427, 280, 378, 2, 29, 265, 300},
                                    {1, 261, 500, 301, 44, 410, 270, 300, 355, 290, 310},
                                    {1, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}};
    const int n = 11, nf = 10;
    double exact[3][10];
    for (int p = 0; p < 3; p++) {
        attrib_result *r = explain(m, prompts[p], n, ATTRIB_METHOD_SHAPLEY_EXACT, ATTRIB_MASK_TOKEN, 0, 0);
        assert_int_equal(r->n_features, nf);
        memcpy(exact[p], r->scores, sizeof exact[p]);
        attrib_result_free(r);
    }
    for (int meth = 0; meth < 2; meth++) {
        const attrib_method am = meth ? ATTRIB_METHOD_KERNELSHAP : ATTRIB_METHOD_SHAPLEY_SAMPLED;
        const int ps[] = {16, 32, 64, 128, 256};
        const int ks[] = {48, 96, 192, 384, 768};
        const int *samples = meth ? ks : ps;
        double rmse[5], xs[5];
        int covered = 0, total = 0;
        for (int si = 0; si < 5; si++) {
            double sq = 0;
            int cnt = 0;
            for (int p = 0; p < 3; p++)
                for (uint64_t seed = 1; seed <= 6; seed++) {
                    attrib_result *r = explain(m, prompts[p], n, am, ATTRIB_MASK_TOKEN, samples[si], seed);
                    for (int f = 0; f < nf; f++) {
                        const double e = r->scores[f] - exact[p][f];
                        sq += e * e;
                        cnt++;
                        if (si >= 2) {
                            total++;
                            covered += fabs(e) <= 3 * r->std_errors[f] + 1e-9;
                        }
                    }
                    attrib_result_free(r);
                }
            rmse[si] = sqrt(sq / cnt);
            xs[si] = samples[si];
        }
        double slope;
        fit_slope(xs, rmse, 5, &slope);
        fprintf(stderr, "%s: RMSE", meth ? "kernelshap" : "shapley");
        for (int si = 0; si < 5; si++) fprintf(stderr, " %d:%.4f", samples[si], rmse[si]);
        fprintf(stderr, "  slope %.3f  3-SE coverage %d/%d\n", slope, covered, total);
        assert_true(covered >= 0.95 * total);
        assert_true(slope > -0.7 && slope < -0.3);
    }
    attrib_model_free(m);
}

static void test_determinism_threads_and_batches(void **state) {
    (void)state;
    attrib_model *m1 = load_stories(1), *m2 = load_stories(2);
    attrib_result *a = explain(m1, PROMPT, PROMPT_N, ATTRIB_METHOD_SHAPLEY_SAMPLED, ATTRIB_MASK_TOKEN, 10, 42);
    attrib_result *b = explain(m2, PROMPT, PROMPT_N, ATTRIB_METHOD_SHAPLEY_SAMPLED, ATTRIB_MASK_TOKEN, 10, 42);
    assert_memory_equal(a->scores, b->scores, sizeof(double) * a->n_features);
    assert_memory_equal(a->std_errors, b->std_errors, sizeof(double) * a->n_features);
    attrib_result *c = explain(m2, PROMPT, PROMPT_N, ATTRIB_METHOD_SHAPLEY_SAMPLED, ATTRIB_MASK_TOKEN, 10, 43);
    assert_true(memcmp(a->scores, c->scores, sizeof(double) * a->n_features) != 0);
    attrib_result_free(a);
    attrib_result_free(b);
    attrib_result_free(c);
    attrib_model_free(m1);
    attrib_model_free(m2);
}

static void test_errors(void **state) {
    (void)state;
    attrib_model *m = load_stories(1);
    int32_t ids[20];
    for (int i = 0; i < 20; i++) ids[i] = 300 + i;
    ids[0] = 1;
    attrib_explain_options o = attrib_explain_default_options(ATTRIB_METHOD_SHAPLEY_EXACT);
    attrib_result *r = NULL;
    assert_int_equal(attrib_explain(m, ids, 18, &o, &r), ATTRIB_E_LIMIT); /* 17 features > 16 */
    assert_non_null(strstr(attrib_last_error(), "group"));
    o.max_exact_features = 17;
    assert_int_equal(attrib_explain(m, ids, 18, &o, &r), ATTRIB_OK);
    attrib_result_free(r);
    o = attrib_explain_default_options(ATTRIB_METHOD_OCCLUSION);
    o.mask = ATTRIB_MASK_DELETE;
    o.span_begin = 0; /* every token a feature: deleting all leaves nothing */
    assert_int_equal(attrib_explain(m, ids, 6, &o, &r), ATTRIB_E_INVALID_ARG);
    o = attrib_explain_default_options(ATTRIB_METHOD_OCCLUSION);
    o.window = 2;
    o.stride = 3;
    assert_int_equal(attrib_explain(m, ids, 10, &o, &r), ATTRIB_E_INVALID_ARG);
    attrib_model_free(m);
}

int main(void) {
    char p[1024];
    const struct CMUnitTest synthetic[] = {
        cmocka_unit_test(test_exact_closed_forms),
        cmocka_unit_test(test_majority_and_symmetry),
        cmocka_unit_test(test_kernelshap_enumeration_is_exact),
        cmocka_unit_test(test_additive_exact_for_all_estimators),
        cmocka_unit_test(test_antithetic_pair_exact_for_two),
        cmocka_unit_test(test_sampled_coverage_synthetic),
    };
    int fails = cmocka_run_group_tests_name("synthetic", synthetic, NULL, NULL);
    if (!test_have(test_shared_path(p, sizeof p, "models/stories260K/stories260K-f32.gguf"))) {
        fprintf(stderr, "shared models not found under ATTRIB_SHARED (%s)\n", p);
        return 1;
    }
    const struct CMUnitTest model[] = {
        cmocka_unit_test(test_prefix_reuse_equals_recomputation),
        cmocka_unit_test(test_chains_equal_recomputation),
        cmocka_unit_test(test_chains_probe_target),
        cmocka_unit_test(test_axioms_real_model),
        cmocka_unit_test(test_symmetry_real_model),
        cmocka_unit_test(test_convergence_real_model),
        cmocka_unit_test(test_determinism_threads_and_batches),
        cmocka_unit_test(test_errors),
    };
    return fails + cmocka_run_group_tests_name("model", model, NULL, NULL);
}
