/*
 * bench_common.h — timing, the sgemm peak of this machine measured in the
 * same run (the yardstick for achieved GFLOP/s), peak RSS, and the FLOP
 * count of a forward pass, shared by the C benchmark drivers.
 */
#ifndef ATTRIB_BENCH_COMMON_H
#define ATTRIB_BENCH_COMMON_H

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "attrib.h"

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* Best GFLOP/s of OpenBLAS sgemm on an n x n x n product with THREADS
 * threads: the machine's practical peak for our kind of work. */
static inline double bench_sgemm_peak(int threads, int n, int reps) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) return 0;
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)((i % 17) - 8) / 8.0f;
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = bench_now() - t0;
        if (r > 0 && dt < best) best = dt; /* first call warms up */
    }
    openblas_set_num_threads(1);
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

/* FLOPs of one pass over B sequences of T tokens with logits for
 * LOGIT_ROWS rows: matrix products plus attention (causal: t+1 keys for
 * the query at position t). Element-wise work is not counted. */
static inline double bench_forward_flops(const attrib_model_info *in, int B, int T, int logit_rows) {
    const double C = in->n_embd, F = in->n_ff, qd = (double)in->n_head * in->head_dim,
                 kvd = (double)in->n_head_kv * in->head_dim;
    const double per_token = 2.0 * (C * qd + 2.0 * C * kvd + qd * C + 3.0 * C * F);
    const double keys = (double)T * (T + 1) / 2.0; /* sum over queries of visible keys */
    const double attn = 2.0 * 2.0 * keys * qd;     /* q.k and p.v per head dimension */
    return in->n_layer * (B * T * per_token + B * attn) + 2.0 * logit_rows * C * in->n_vocab;
}

#endif
