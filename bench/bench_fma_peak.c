/* bench_fma_peak: the machine's float32 multiply-add throughput, the
 * hardware ceiling that no kernel (OpenBLAS's sgemm included) can pass.
 *
 * Each thread runs independent chains of fused multiply-adds on registers,
 * enough of them to hide the instruction's latency, and nothing else: no
 * loads, no stores. bench_compare.py sets this beside the sgemm peak, so a
 * "best possible" speed-up is stated against the hardware as well as
 * against the best matrix product we have.
 *
 *   bench_fma_peak [--threads N] [--iters M]
 *
 * Prints one JSON line: {"fma_peak_gflops": ..., "width": 512|256|0, ...};
 * width 0 means the build has no FMA instructions (-march without FMA) and
 * the figure is 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

#define CHAINS 12 /* more than latency (4) x FMA ports (2) on the x86 cores we know */

typedef struct {
    long iters;
    float result;
} fma_job;

#if defined(__AVX512F__)
#define FMA_WIDTH 512
#define FMA_LANES 16
typedef __m512 fma_vec;
#define FMA_SET(x) _mm512_set1_ps(x)
#define FMA_OP(a, x, y) _mm512_fmadd_ps(a, x, y)
#define FMA_ADD(a, b) _mm512_add_ps(a, b)
#define FMA_SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__FMA__)
#define FMA_WIDTH 256
#define FMA_LANES 8
typedef __m256 fma_vec;
#define FMA_SET(x) _mm256_set1_ps(x)
#define FMA_OP(a, x, y) _mm256_fmadd_ps(a, x, y)
#define FMA_ADD(a, b) _mm256_add_ps(a, b)
static float FMA_SUM(__m256 v) {
    float f[8];
    _mm256_storeu_ps(f, v);
    return ((f[0] + f[1]) + (f[2] + f[3])) + ((f[4] + f[5]) + (f[6] + f[7]));
}
#else
#define FMA_WIDTH 0
#define FMA_LANES 0
#endif

static void *fma_chains(void *arg) {
    fma_job *job = arg;
#if FMA_WIDTH > 0
    /* named registers (an array would live in memory), distinct starting
     * values (equal chains would be merged by the compiler) */
#define FMA_CHAIN_INIT(c) fma_vec a##c = FMA_SET(1.0f + 0.1f * (float)(c))
    FMA_CHAIN_INIT(0); FMA_CHAIN_INIT(1); FMA_CHAIN_INIT(2); FMA_CHAIN_INIT(3);
    FMA_CHAIN_INIT(4); FMA_CHAIN_INIT(5); FMA_CHAIN_INIT(6); FMA_CHAIN_INIT(7);
    FMA_CHAIN_INIT(8); FMA_CHAIN_INIT(9); FMA_CHAIN_INIT(10); FMA_CHAIN_INIT(11);
    const fma_vec x = FMA_SET(0.999999f), y = FMA_SET(1e-7f);
    for (long i = 0; i < job->iters; i++) {
        /* the empty asm makes the chains opaque, so the loop cannot be folded */
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
        __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
        a0 = FMA_OP(a0, x, y); a1 = FMA_OP(a1, x, y); a2 = FMA_OP(a2, x, y); a3 = FMA_OP(a3, x, y);
        a4 = FMA_OP(a4, x, y); a5 = FMA_OP(a5, x, y); a6 = FMA_OP(a6, x, y); a7 = FMA_OP(a7, x, y);
        a8 = FMA_OP(a8, x, y); a9 = FMA_OP(a9, x, y); a10 = FMA_OP(a10, x, y); a11 = FMA_OP(a11, x, y);
    }
    fma_vec s = FMA_ADD(FMA_ADD(FMA_ADD(a0, a1), FMA_ADD(a2, a3)), FMA_ADD(FMA_ADD(a4, a5), FMA_ADD(a6, a7)));
    s = FMA_ADD(s, FMA_ADD(FMA_ADD(a8, a9), FMA_ADD(a10, a11)));
    job->result = FMA_SUM(s);
#else
    job->result = 0.0f;
#endif
    return NULL;
}

/* GFLOP/s of THREADS threads, best of REPS runs after one warm-up */
static double fma_peak(int threads, long iters, int reps, int *ok) {
    pthread_t tid[64];
    fma_job jobs[64];
    double best = 0.0;
    *ok = 1;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = bench_now();
        int started = 0;
        for (; started < threads; started++) {
            jobs[started].iters = iters;
            if (pthread_create(&tid[started], NULL, fma_chains, &jobs[started]) != 0) break;
        }
        for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
        double dt = bench_now() - t0;
        if (started != threads) {
            *ok = 0;
            return 0.0;
        }
        double gflops = (double)threads * iters * CHAINS * FMA_LANES * 2.0 / dt / 1e9;
        if (r > 0 && gflops > best) best = gflops;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = 2;
    long iters = 100000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_fma_peak [--threads N (1-64)] [--iters M]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || iters < 1) {
        fprintf(stderr, "bench_fma_peak: --threads must be 1-64 and --iters positive\n");
        return 2;
    }
    int ok;
    double peak = fma_peak(threads, iters, 3, &ok);
    if (!ok) {
        fprintf(stderr, "bench_fma_peak: could not start %d threads\n", threads);
        return 1;
    }
    double one = fma_peak(1, iters, 3, &ok);
    printf("{\"impl\":\"fma_peak\",\"threads\":%d,\"width\":%d,\"chains\":%d,\"iters\":%ld,"
           "\"fma_peak_gflops\":%.2f,\"fma_peak_one_thread_gflops\":%.2f}\n",
           threads, FMA_WIDTH, CHAINS, iters, peak, one);
    return 0;
}
