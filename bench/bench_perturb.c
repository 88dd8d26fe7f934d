/*
 * bench_perturb — the convergence part of bench/bench_perturb.py: how many
 * model evaluations (and how much time) sampled Shapley values need to get
 * within a mean absolute error of 5% of the exact values, with antithetic
 * permutations (what attrib uses) and with plain independent permutations
 * (what Captum's ShapleyValueSampling does). Uses the private estimator
 * interface (src/perturb.h) so that both samplers run on the same model
 * value function (prefix reuse, batching).
 *
 *   bench_perturb MODEL --ids 1,2,3 --threads N --mask-token T --seeds R --samples 2,4,8,... [--stop 0.05]
 *
 * Prints JSON lines: {"exact": ...} then one line per (sampler, samples).
 * Feature = every token after the first; target = logit of the top-1 token.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "attribution/perturb.h"

static int32_t top1(attrib_model *m, const int32_t *ids, int n) {
    const int V = attrib_model_get_info(m)->n_vocab;
    float *logits = calloc((size_t)V, sizeof(float));
    attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .logits_mode = ATTRIB_LOGITS_LAST};
    if (!logits || attrib_forward(m, &b, NULL, logits)) exit(1);
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    free(logits);
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_perturb MODEL --ids A,B,... [--threads N] [--mask-token T] [--seeds R] [--samples S,...]\n");
        return 2;
    }
    int32_t ids[64];
    int n = 0, threads = 2, seeds = 5, mask_token = 0;
    double stop = 0; /* stop a sampler once its MAE is within this fraction */
    int samples[32], ns = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ids"))
            for (char *s = argv[i + 1]; *s && n < 64;) {
                ids[n++] = (int32_t)strtol(s, &s, 10);
                if (*s == ',') s++;
            }
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seeds")) seeds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mask-token")) mask_token = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stop")) stop = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples"))
            for (char *s = argv[i + 1]; *s && ns < 32;) {
                samples[ns++] = (int)strtol(s, &s, 10);
                if (*s == ',') s++;
            }
    }
    if (n < 3 || n - 1 > 16 || ns == 0) {
        fprintf(stderr, "bench_perturb: need 3..17 ids and --samples\n");
        return 2;
    }
    attrib_model_options mo = attrib_model_default_options();
    mo.n_threads = threads;
    attrib_model *m = NULL;
    if (attrib_model_load(argv[1], &mo, &m)) {
        fprintf(stderr, "bench_perturb: %s\n", attrib_last_error());
        return 1;
    }
    /* an explain_ctx as explain.c prepares it */
    explain_ctx c;
    attrib_result res;
    int32_t fot[64];
    memset(&c, 0, sizeof c);
    memset(&res, 0, sizeof res);
    c.m = m;
    c.ids = ids;
    c.n = n;
    c.opt = attrib_explain_default_options(ATTRIB_METHOD_SHAPLEY_SAMPLED);
    c.opt.mask_token = mask_token;
    c.span_begin = 1;
    c.span_end = n;
    fot[0] = -1;
    for (int i = 1; i < n; i++) fot[i] = i - 1;
    c.feature_of_token = fot;
    c.n_features = n - 1;
    res.target_kind = ATTRIB_TARGET_LOGIT;
    res.target_token = top1(m, ids, n);
    c.res = &res;
    const int V = attrib_model_get_info(m)->n_vocab;
    float *logits = calloc((size_t)V, sizeof(float));
    attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .logits_mode = ATTRIB_LOGITS_LAST};
    if (!logits || attrib_forward(m, &b, NULL, logits)) return 1;

    double t0 = bench_now();
    perturb_model *pm = NULL;
    if (perturb_model_new(&c, &pm)) {
        fprintf(stderr, "bench_perturb: %s\n", attrib_last_error());
        return 1;
    }
    perturb_game g = {.n = n - 1, .fn = perturb_model_values, .ctx = pm, .v_all = logits[res.target_token],
                      .v_none = perturb_model_f_none(pm)};
    const double setup = bench_now() - t0;
    double exact[16], phi[16], se[16];
    int64_t ev = 0;
    t0 = bench_now();
    if (perturb_shapley_exact(&g, exact, &ev)) return 1;
    const double t_exact = bench_now() - t0 + setup;
    int64_t nseq, ntok, nfull;
    perturb_model_counts(pm, &nseq, &ntok, &nfull);
    double scale = 0;
    for (int i = 0; i < n - 1; i++) scale += fabs(exact[i]) / (n - 1);
    printf("{\"exact\": true, \"features\": %d, \"evals\": %lld, \"seconds\": %.4f, \"mean_abs_phi\": %.6g, "
           "\"tokens_computed\": %lld, \"tokens_full\": %lld}\n",
           n - 1, (long long)ev + 2, t_exact, scale, (long long)ntok, (long long)nfull);
    fflush(stdout);
    for (int anti = 1; anti >= 0; anti--)
        for (int si = 0; si < ns; si++) {
            double mae = 0, secs = 0;
            int64_t evals = 0;
            for (int s = 0; s < seeds; s++) {
                t0 = bench_now();
                if (perturb_shapley_permutation(&g, samples[si], anti, (uint64_t)s + 1, phi, se, &ev)) return 1;
                secs += bench_now() - t0 + setup;
                evals += ev + 2;
                for (int i = 0; i < n - 1; i++) mae += fabs(phi[i] - exact[i]) / (n - 1);
            }
            printf("{\"sampler\": \"%s\", \"samples\": %d, \"evals\": %.1f, \"seconds\": %.4f, \"mae_rel\": %.5f}\n",
                   anti ? "antithetic" : "plain", samples[si], (double)evals / seeds, secs / seeds, mae / seeds / scale);
            fflush(stdout);
            if (stop > 0 && mae / seeds / scale <= stop) break;
        }
    perturb_model_free(pm);
    free(logits);
    attrib_model_free(m);
    return 0;
}
