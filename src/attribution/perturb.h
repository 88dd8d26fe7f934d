/*
 * perturb.h — private interface of the perturbation methods (perturb.c,
 * perturb_shapley.c, perturb_lime.c).
 *
 * The estimators (exact Shapley values, permutation sampling, KernelSHAP,
 * LIME) know nothing about models: they ask a VALUE FUNCTION for the values
 * of batches of coalitions. That keeps the combinatorics testable on
 * synthetic games with closed-form answers (tests/test-perturb.c), and lets
 * the model-backed value function (perturb.c) see many coalitions at once,
 * so that it can share the KV cache of the unmasked prompt and batch the
 * suffixes of many masked inputs into one forward pass.
 */
#ifndef ATTRIB_PERTURB_H
#define ATTRIB_PERTURB_H

#include "attribution/explain.h"
#include "basics/numerics.h"

/* Values of N_COALITIONS coalitions: present[k][i] != 0 when feature i is
 * present (unmasked) in coalition k. Writes values[k]. */
typedef attrib_status (*coalition_fn)(void *ctx, const uint8_t *const *present, int n_coalitions, double *values);

/* Values along N_PERM permutations of the n features (PERMS: n_perm rows of
 * n feature indices): VALUES[q * (n - 1) + k - 1] = v(the first k features
 * of permutation q present), k = 1 .. n-1. A coalition that repeats within
 * the call may be evaluated once; adds the evaluations made to *N_EVALS.
 * Consecutive coalitions of a permutation differ by one feature, which a
 * value function can exploit (the model's continues each from the last). */
typedef attrib_status (*chain_fn)(void *ctx, const int *perms, int n_perm, double *values, int64_t *n_evals);

/* A cooperative game over N features. The estimators never ask FN for the
 * empty or the full coalition: their values are given (for the model, f of
 * the unmasked input and f with every feature masked). */
typedef struct perturb_game {
    int n;
    coalition_fn fn;
    void *ctx;
    double v_all;  /* v(all features present) */
    double v_none; /* v(no feature present) */
    /* optional: permutation sampling asks for whole permutations through it;
     * NULL = their coalitions go to FN, each distinct one once */
    chain_fn chains;
} perturb_game;

/* Coalitions handed to FN per call by the estimators (bounds their memory;
 * the model-backed function splits a call into forward passes itself). */
#define PERTURB_CHUNK 4096

/* Hard ceiling of exact Shapley values whatever max_exact_features says:
 * 2^24 coalition values are 128 MiB of doubles. */
#define PERTURB_EXACT_HARD_LIMIT 24

/* ---- estimators (perturb_shapley.c, perturb_lime.c) ----
 * PHI and SE have n entries. *N_EVALS receives the number of coalitions
 * passed to the value function (distinct ones where the estimator
 * de-duplicates). */

/* Exact Shapley values from all 2^n coalitions (n <= PERTURB_EXACT_HARD_LIMIT). */
attrib_status perturb_shapley_exact(const perturb_game *g, double *phi, int64_t *n_evals);

/* Permutation sampling: N_PERM permutations, drawn in antithetic pairs
 * (permutation 2k+1 is permutation 2k reversed) when ANTITHETIC is set.
 * SE: sample standard deviation of the per-unit mean marginals over the
 * units (antithetic pairs, or single permutations), divided by
 * sqrt(#units); NAN with fewer than two units. */
attrib_status perturb_shapley_permutation(const perturb_game *g, int n_perm, int antithetic, uint64_t seed, double *phi,
                                          double *se, int64_t *n_evals);

/* KernelSHAP: N_SAMPLES coalitions (rounded up to pairs z, complement of z)
 * drawn from the Shapley kernel, weighted least squares with the efficiency
 * constraint eliminated exactly. If every non-trivial coalition fits in
 * N_SAMPLES (2^n - 2 <= n_samples) they are enumerated with their exact
 * kernel weights instead, which gives the exact Shapley values (SE 0).
 * SE: bootstrap over the sampled pairs. */
attrib_status perturb_kernelshap(const perturb_game *g, int n_samples, uint64_t seed, double *phi, double *se,
                                 int64_t *n_evals);

/* LIME: N_SAMPLES random masks (k features removed, k uniform in [1, n-1])
 * plus the unmasked input, cosine-distance kernel sqrt(exp(-d^2/width^2)),
 * weighted ridge regression with an unpenalised intercept. SE: bootstrap
 * over the sampled masks. */
attrib_status perturb_lime(const perturb_game *g, int n_samples, double kernel_width, double ridge, uint64_t seed,
                           double *phi, double *se, int64_t *n_evals);

/* Evaluates M coalitions, passing each distinct one to the game once
 * (sampled coalitions repeat, especially with few features); the empty and
 * the full coalition take the game's given values. Adds the number of
 * distinct evaluations to *N_EVALS. */
attrib_status perturb_eval_unique(const perturb_game *g, const uint8_t *const *rows, int m, double *values, int64_t *n_evals);
/* perturb_eval_unique that also sets FIRST[k] (M entries) to 1 for the
 * lowest-index row of each distinct coalition passed to the game, and to 0
 * for every other row (repeats, the empty and the full coalition). */
attrib_status perturb_eval_unique_marked(const perturb_game *g, const uint8_t *const *rows, int m, double *values,
                                         int64_t *n_evals, uint8_t *first);

/* ---- the model-backed value function (perturb.c) ---- */
typedef struct perturb_model perturb_model;

/* Prepares the value function of an explain request: evaluates the
 * unmasked prompt and the prompt with every feature masked, keeping both in
 * a KV cache. C must have feature_of_token, n_features, the target and
 * opt.mask / opt.mask_token resolved. */
attrib_status perturb_model_new(explain_ctx *c, perturb_model **out);
void perturb_model_free(perturb_model *pm);
/* f with every feature masked. */
double perturb_model_f_none(const perturb_model *pm);
/* The coalition_fn of the model (ctx = the perturb_model). */
attrib_status perturb_model_values(void *pm, const uint8_t *const *present, int n_coalitions, double *values);
/* The chain_fn of the model, or NULL where chains do not apply: a probe
 * that mean-pools hidden states (it would need every chain's running sums),
 * or a memory budget without room for two chains. */
chain_fn perturb_model_chain_fn(const perturb_model *pm);
/* Counters: sequences evaluated, tokens computed (padding included), and the
 * tokens a full recomputation of the same sequences would have computed. */
void perturb_model_counts(const perturb_model *pm, int64_t *n_seq, int64_t *n_tokens, int64_t *n_tokens_full);
/* Sets the total used for progress reports (evaluations expected). */
void perturb_model_set_total(perturb_model *pm, int64_t total);

#endif
