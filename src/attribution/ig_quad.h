/*
 * ig_quad.h — the adaptive quadrature under integrated gradients, apart from
 * any model: pieces of [0, 1] with an IG_QUAD_ORDER-node Gauss-Legendre
 * rule each, refined by the exact local completeness residual (see
 * ig_quad.c). gradient.c feeds it the model's gradients; tests feed it
 * analytic integrands.
 */
#ifndef ATTRIB_IG_QUAD_H
#define ATTRIB_IG_QUAD_H

#include "attrib.h"

enum { IG_QUAD_ORDER = 8 }; /* Gauss-Legendre nodes per piece */

typedef struct ig_quad_problem {
    int n_features;
    int max_batch; /* nodes per integrand call, >= 1 */
    /* The completeness integrand at the N nodes ALPHA (N <= max_batch), split
     * by feature: OUT (N, n_features); its sum over features integrates to
     * value(1) - value(0). */
    attrib_status (*integrand)(void *user, const double *alpha, int n, double *out);
    /* The function whose derivative along the path the integrand is: value(ALPHA). */
    attrib_status (*value)(void *user, double alpha, double *f);
    void (*progress)(void *user, int64_t evals); /* may be NULL */
    void *user;
} ig_quad_problem;

typedef struct ig_quad_result {
    double *scores;          /* (n_features) given by the caller, zeroed: the integrals */
    double *nodes, *weights; /* (n_nodes) allocated: the final rule, ascending; weights sum to 1 */
    int n_nodes, pieces;
    int cap_reached;         /* 1: stopped by max_evals (or pieces too narrow) short of the goal */
    double error_bound;      /* sum over pieces of |local residual| */
    int64_t evals;           /* integrand evaluations, including those of pieces later split */
    int64_t values;          /* value() calls */
} ig_quad_result;

/* Integrates P over [0, 1] starting from the pieces cut at the NBP ascending
 * interior breakpoints BP (each in (0, 1); extra ones beyond the cap are
 * dropped), given F0 = value(0) and F1 = value(1). Stops when the sum of
 * |local residual| <= GOAL or when another split would pass MAX_EVALS
 * (>= IG_QUAD_ORDER). */
attrib_status ig_quad_adaptive(const ig_quad_problem *p, const double *bp, int nbp, double f0, double f1, double goal,
                               int64_t max_evals, ig_quad_result *out);

/* Gauss-Legendre nodes X and weights W of M points on [0, 1], ascending; weights sum to 1. */
void ig_gauss_legendre(int m, double *x, double *w);

/* Nodes A and weights W of a fixed RULE with M points on [0, 1]; weights
 * sum to 1 (gradient.c). */
void ig_rule_points(attrib_ig_rule rule, int m, double *a, double *w);

#endif
