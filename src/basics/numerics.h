/*
 * numerics.h — small numerical tools shared by the attribution methods, the
 * metrics and the probes: one seeded random-number generator (splitmix64, so
 * that every sampled quantity in attrib comes from the same reproducible
 * stream family), a stable index sort with a context comparator, and a
 * Cholesky solve for the small symmetric positive definite systems of
 * KernelSHAP, LIME and the probe fit. Nothing here knows about models.
 */
#ifndef ATTRIB_NUMERICS_H
#define ATTRIB_NUMERICS_H

#include "basics/common.h"

/* splitmix64 state: the same stream for the same (seed, stream) anywhere. */
typedef struct attrib_rng {
    uint64_t s;
} attrib_rng;

/* Seeds R from the user's SEED; distinct STREAMs give independent streams
 * for distinct purposes. */
void attrib_rng_seed(attrib_rng *r, uint64_t seed, uint64_t stream);
uint64_t attrib_rng_next(attrib_rng *r);
/* Uniform in [0, bound) without modulo bias; bound >= 1. */
uint64_t attrib_rng_below(attrib_rng *r, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
double attrib_rng_unit(attrib_rng *r);

/* Stable merge sort of the indices IDX[0..m) by CMP(ctx, a, b). */
attrib_status attrib_sort_indices(int *idx, int m, int (*cmp)(const void *, int, int), const void *ctx);

/* Solves A x = b for a symmetric positive (semi)definite N x N matrix A
 * (overwritten) by Cholesky; if A is numerically singular a tiny ridge
 * (1e-10 of the largest diagonal entry) is added and the solve retried.
 * B is overwritten by x. */
attrib_status attrib_solve_spd(double *A, double *b, int n);

#endif
