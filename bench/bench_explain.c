/*
 * bench_explain.c — times one attrib_explain call (any method) on given
 * token ids and prints one JSON line: seconds, model evaluations, peak RSS,
 * achieved GFLOP/s (gradient methods: a backward pass costs about one
 * forward's matrix products plus twice its attention) and the ratio to the
 * sgemm peak measured in this process. Driven by bench/bench_gradient.py
 * and bench/bench_perturb.py beside their PyTorch peers.
 *
 * usage: bench_explain MODEL IDS_FILE N METHOD [--threads N] [--steps N] [--samples N]
 *        [--memory-mb N] [--scores-file F] [--reps R] [--mask-token ID] [--span-begin P]
 */
#include "bench_common.h"

#include <string.h>

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_explain MODEL IDS_FILE N METHOD [--threads N] [--steps N] [--samples N] "
                        "[--memory-mb N] [--scores-file F] [--reps R]\n");
        return 2;
    }
    const int n = atoi(argv[3]);
    const int method = attrib_method_from_name(argv[4]);
    if (n < 1 || method < 0) return 2;
    attrib_explain_options o = attrib_explain_default_options((attrib_method)method);
    int threads = 2, reps = 1;
    const char *scores_file = NULL;
    for (int i = 5; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) o.ig_steps = atoi(argv[i + 1]), o.ig_tol = 0; /* the fixed rule */
        else if (!strcmp(argv[i], "--samples")) o.samples = o.smooth_samples = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--memory-mb")) o.memory_budget = (size_t)atoi(argv[i + 1]) << 20;
        else if (!strcmp(argv[i], "--scores-file")) scores_file = argv[i + 1];
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mask-token")) o.mask_token = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--span-begin")) o.span_begin = atoi(argv[i + 1]);
        else return 2;
    }
    double peak = bench_sgemm_peak(threads, 2048, 3);
    int32_t *ids = malloc(sizeof(int32_t) * n);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(ids, sizeof(int32_t), n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %d ids\n", n);
        return 1;
    }
    fclose(f);
    attrib_model_options mo = attrib_model_default_options();
    mo.n_threads = threads;
    attrib_model *m;
    if (attrib_model_load(argv[1], &mo, &m)) {
        fprintf(stderr, "load: %s\n", attrib_last_error());
        return 1;
    }
    const attrib_model_info *in = attrib_model_get_info(m);
    double *times = malloc(sizeof(double) * (reps > 0 ? reps : 1));
    attrib_result *r = NULL;
    for (int k = 0; k < reps; k++) {
        attrib_result_free(r);
        double t0 = bench_now();
        if (attrib_explain(m, ids, n, &o, &r)) {
            fprintf(stderr, "explain: %s\n", attrib_last_error());
            return 1;
        }
        times[k] = bench_now() - t0;
    }
    for (int i = 1; i < reps; i++) /* median, as the peer reports */
        for (int j = i; j > 0 && times[j - 1] > times[j]; j--) {
            double t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    const double best = times[reps / 2];
    free(times);
    /* FLOPs: each forward sequence a full pass (last-position logits); each
     * backward the same matrix products again plus twice the attention */
    const double fwd = bench_forward_flops(in, 1, n, 1);
    const double attn = 2.0 * 2.0 * ((double)n * (n + 1) / 2.0) * in->n_head * in->head_dim * in->n_layer;
    const double flops = r->n_forward * fwd + r->n_backward * (fwd + attn);
    if (scores_file) {
        FILE *sf = fopen(scores_file, "wb");
        if (sf) {
            fwrite(r->scores, sizeof(double), (size_t)r->n_features, sf);
            fclose(sf);
        }
    }
    printf("{\"impl\":\"attrib\",\"method\":\"%s\",\"n\":%d,\"threads\":%d,\"seconds\":%.6f,\"n_forward\":%lld,"
           "\"n_backward\":%lld,\"gflop\":%.3f,\"gflops\":%.2f,\"sgemm_peak_gflops\":%.2f,\"peak_ratio\":%.3f,"
           "\"peak_rss_mib\":%.1f,\"completeness_relative\":%.3g}\n",
           attrib_method_name(r->method), n, threads, best, (long long)r->n_forward, (long long)r->n_backward, flops / 1e9,
           flops / best / 1e9, peak, flops / best / 1e9 / peak, bench_peak_rss_mib(),
           r->completeness_relative == r->completeness_relative ? r->completeness_relative : -1.0); /* -1: not defined */
    attrib_result_free(r);
    attrib_model_free(m);
    free(ids);
    return 0;
}
