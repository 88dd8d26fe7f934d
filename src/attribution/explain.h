/*
 * explain.h — private interface between attrib_explain() (explain.c: options,
 * features, targets, results), the method table (methods.c) and the run
 * functions of the two families of methods: gradient.c (saliency, gradient
 * x input, integrated gradients, SmoothGrad) and perturb.c (occlusion,
 * Shapley values, KernelSHAP, LIME).
 */
#ifndef ATTRIB_EXPLAIN_H
#define ATTRIB_EXPLAIN_H

#include "model/model.h"

typedef struct explain_ctx {
    attrib_model *m;
    const int32_t *ids;           /* (n) the input, including any BOS */
    int n;
    attrib_explain_options opt;   /* defaults filled in, mask_token resolved */
    int span_begin, span_end;     /* resolved: 0 <= begin < end <= n */
    int n_features;
    int32_t *feature_of_token;    /* (n) feature index or -1 (fixed) = res->feature_of_token */
    attrib_result *res;           /* being filled; target fields resolved before dispatch */
    const attrib_probe *probe;    /* PROBE targets: the probe (else NULL) */
    int pool_start;               /* PROBE targets: first pooled position of the input */
    /* opt.prefix in use: positions [0, P) come from its caches (KV for the
     * forward passes in the model's compute mode, KV_EXACT for gradient
     * passes); P = 0 and NULL caches when there is none or it is ignored */
    int P;
    attrib_cache *kv, *kv_exact;
} explain_ctx;

/* Fills C for a request (validation, defaults, span, features; allocates
 * c->res with feature_of_token, scores and token_scores), evaluates the
 * unperturbed input and resolves the target. On failure nothing is left
 * allocated. explain_teardown frees c->res unless it was handed out. */
attrib_status explain_setup(explain_ctx *c, attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt);

/* The target of one whole sequence given by IDS or by embeddings EMB (n, C),
 * evaluated alone (positions [0, c->P) from the prefix cache, if any). */
attrib_status explain_eval_one(const explain_ctx *c, const int32_t *ids, const float *emb, double *value);

/* Value of the target given the V logits of the last position. */
double explain_target_value(const explain_ctx *c, const float *logits);

/* d target / d logits (V floats) given the V logits of the last position. */
void explain_target_grad(const explain_ctx *c, const float *logits, float *dlogits);

/* Reports progress through the caller's callback, if any. */
void explain_progress(const explain_ctx *c, int64_t done, int64_t total);

/* The IG baseline embeddings BASE (n, C) for the input embeddings X (n, C):
 * X outside the span (or its fixed tokens); inside it zeros, the mask
 * token's embedding, or the given baseline sequence's (gradient.c). */
attrib_status explain_baseline_embeddings(const explain_ctx *c, const float *x, float *base);

/* The run functions of the method table's rows (methods.c): gradient.c and
 * perturb.c. Each fills c->res->scores (n_features) and, where they apply,
 * std_errors, f_baseline, gradients, IG's quadrature fields, n_forward and
 * n_backward. */
attrib_status gradient_saliency_run(explain_ctx *c);
attrib_status gradient_gxi_run(explain_ctx *c);
attrib_status gradient_ig_run(explain_ctx *c);
attrib_status gradient_smoothgrad_run(explain_ctx *c);
attrib_status gradient_gradientshap_run(explain_ctx *c);
attrib_status perturb_occlusion_run(explain_ctx *c);
attrib_status perturb_shapley_exact_run(explain_ctx *c);
attrib_status perturb_shapley_run(explain_ctx *c);
attrib_status perturb_kernelshap_run(explain_ctx *c);
attrib_status perturb_lime_run(explain_ctx *c);
/* Layer attribution (opt.layer_attribution; layer_attr.c): saliency, gxi
 * and IG at the residual stream after opt.layer blocks; every position is a
 * feature. Also fills res->layer_values and res->gradients. */
attrib_status attrib_layer_run(explain_ctx *c);

#endif
