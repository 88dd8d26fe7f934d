/*
 * explain.h — private interface between attrib_explain() (explain.c: options,
 * features, targets, results) and the two families of methods: gradient.c
 * (saliency, gradient x input, integrated gradients, SmoothGrad) and
 * perturb.c (occlusion, Shapley values, KernelSHAP, LIME).
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
} explain_ctx;

/* Fills C for a request (validation, defaults, span, features; allocates
 * c->res with feature_of_token, scores and token_scores), evaluates the
 * unperturbed input and resolves the target. On failure nothing is left
 * allocated. explain_teardown frees c->res unless it was handed out. */
attrib_status explain_setup(explain_ctx *c, attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt);

/* The target of one whole sequence given by IDS or by embeddings EMB (n, C),
 * evaluated alone, from the position-0 start (no cache). */
attrib_status explain_eval_one(const explain_ctx *c, const int32_t *ids, const float *emb, double *value);

/* Value of the target given the V logits of the last position. */
double explain_target_value(const explain_ctx *c, const float *logits);

/* d target / d logits (V floats) given the V logits of the last position. */
void explain_target_grad(const explain_ctx *c, const float *logits, float *dlogits);

/* Reports progress through the caller's callback, if any. */
void explain_progress(const explain_ctx *c, int64_t done, int64_t total);

/* The method families. They fill c->res->scores (n_features) and, where they
 * apply, std_errors, f_baseline, completeness fields, gradients, n_forward
 * and n_backward. */
attrib_status attrib_gradient_run(explain_ctx *c);
attrib_status attrib_perturb_run(explain_ctx *c);

#endif
