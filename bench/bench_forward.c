/*
 * bench_forward.c — times attrib_forward on a batch of B x T tokens and
 * prints one JSON line: seconds per pass (median), tokens/s, achieved
 * GFLOP/s and its ratio to the sgemm peak measured in this same process.
 * bench/bench_forward.py runs it beside the PyTorch peer and prints ratios.
 *
 * usage: bench_forward MODEL [-b B] [-t T] [--threads N] [--reps R] [--logits last|all] [--compute exact|fast]
 */
#include "bench_common.h"

#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_forward MODEL [-b B] [-t T] [--threads N] [--reps R] [--logits last|all] [--seed S] [--ids-file F] [--logits-file F] [--compute exact|fast]\n");
        return 2;
    }
    const char *path = argv[1], *ids_file = NULL, *logits_file = NULL;
    int B = 1, T = 32, threads = 2, reps = 5, all = 0;
    int fast = 0;
    unsigned seed = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-b")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--logits")) all = !strcmp(argv[i + 1], "all");
        else if (!strcmp(argv[i], "--seed")) seed = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ids-file")) ids_file = argv[i + 1];
        else if (!strcmp(argv[i], "--logits-file")) logits_file = argv[i + 1];
        else if (!strcmp(argv[i], "--compute") && (!strcmp(argv[i + 1], "exact") || !strcmp(argv[i + 1], "fast")))
            fast = !strcmp(argv[i + 1], "fast");
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (B < 1 || T < 1 || threads < 1 || reps < 1) return 2;
    double peak = bench_sgemm_peak(threads, 2048, 3);

    attrib_model_options opt = attrib_model_default_options();
    opt.n_threads = threads;
    attrib_model *m;
    attrib_status s = attrib_model_load(path, &opt, &m);
    if (s) {
        fprintf(stderr, "load: %s\n", attrib_last_error());
        return 1;
    }
    attrib_model_set_compute(m, fast ? ATTRIB_COMPUTE_FAST : ATTRIB_COMPUTE_EXACT);
    const attrib_model_info *in = attrib_model_get_info(m);
    int32_t *ids = malloc(sizeof(int32_t) * B * T);
    srand(seed);
    for (int i = 0; i < B * T; i++) ids[i] = 1 + rand() % (in->n_vocab - 1);
    if (ids_file) { /* the driver's tokens, so that the peer runs the very same job */
        FILE *f = fopen(ids_file, "rb");
        if (!f || fread(ids, sizeof(int32_t), (size_t)B * T, f) != (size_t)B * T) {
            fprintf(stderr, "cannot read %d ids from %s\n", B * T, ids_file);
            return 1;
        }
        fclose(f);
    }
    const int rows = all ? B * T : B;
    float *logits = malloc(sizeof(float) * (size_t)rows * in->n_vocab);
    attrib_batch b = {.n_seq = B, .n_tokens = T, .tokens = ids, .logits_mode = all ? ATTRIB_LOGITS_ALL : ATTRIB_LOGITS_LAST};
    double *times = malloc(sizeof(double) * reps), *cpu = malloc(sizeof(double) * reps);
    if (attrib_forward(m, &b, NULL, logits)) { /* warm-up: page in the weights */
        fprintf(stderr, "forward: %s\n", attrib_last_error());
        return 1;
    }
    for (int r = 0; r < reps; r++) {
        struct timespec c0, c1; /* CPU time of the process too: on a loaded machine wall time is noise */
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = bench_now();
        attrib_forward(m, &b, NULL, logits);
        times[r] = bench_now() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        cpu[r] = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    }
    qsort(times, reps, sizeof *times, cmp_double);
    qsort(cpu, reps, sizeof *cpu, cmp_double);
    if (logits_file) { /* first sequence's logits, for the driver's same-answer check */
        FILE *f = fopen(logits_file, "wb");
        if (f) {
            fwrite(logits, sizeof(float), (size_t)in->n_vocab, f);
            fclose(f);
        }
    }
    double med = times[reps / 2];
    double flops = bench_forward_flops(in, B, T, rows);
    double gflops = flops / med / 1e9;
    /* a checksum of the logits lets the driver see both sides ran the same job */
    double first = logits[0], checksum = 0;
    for (int i = 0; i < in->n_vocab; i++) checksum += logits[i];
    printf("{\"impl\":\"attrib\",\"compute\":\"%s\",\"B\":%d,\"T\":%d,\"threads\":%d,\"seconds\":%.6f,\"best_seconds\":%.6f,"
           "\"tokens_per_s\":%.1f,\"gflop\":%.4f,\"gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,\"peak_ratio\":%.3f,"
           "\"peak_rss_mib\":%.1f,\"logit0\":%.6f,\"logit_sum_row0\":%.6f,\"cpu_seconds\":%.6f}\n",
           fast ? "fast" : "exact", B, T, threads, med, times[0], B * T / med, flops / 1e9, gflops, peak, gflops / peak, bench_peak_rss_mib(), first,
           checksum, cpu[reps / 2]);
    free(times);
    free(cpu);
    free(logits);
    free(ids);
    attrib_model_free(m);
    return 0;
}
