/*
 * probe.h — private side of the linear probes (src/probe.c): the probe's
 * parameters, the pooled-feature pass shared by training, prediction and the
 * PROBE attribution target, and the probe's logit and gradient as used by
 * the gradient (backward.c) and perturbation (perturb.c) passes.
 */
#ifndef ATTRIB_PROBE_H
#define ATTRIB_PROBE_H

#include "model/model.h"

struct attrib_probe {
    int layer;          /* residual stream after this many blocks */
    attrib_pool pool;
    int dim;            /* C of the model it was trained on */
    float *w;           /* (dim) weights on standardised features */
    float *mean;        /* (dim) feature means of the training set */
    float *scale;       /* (dim) feature standard deviations (> 0) */
    float bias;
    char model_sha256[65];
    char *model_arch;
    char *description;  /* may be NULL */
    attrib_probe_report report;
};

/* First pooled position of a sequence: 1 when it starts with the model's
 * BOS and has more tokens, else 0 (mean pooling skips a leading BOS). */
int probe_pool_start(const attrib_model *m, const int32_t *ids, int n);

/* Pooled features (C floats) of one sequence, run alone: a sequence's
 * features never depend on the other sequences of a request. */
attrib_status probe_features_one(attrib_model *m, const int32_t *ids, int n, int layer, attrib_pool pool, float *out);

/* Pools rows [start, n) (mean) or row n-1 (last) of HIDDEN (n, C) into OUT (C),
 * summing in double. */
void probe_pool_rows(const float *hidden, int n, int C, int start, attrib_pool pool, float *out);

/* d logit / d pooled feature: DH (dim) = w / scale. */
void probe_feature_grad(const attrib_probe *p, float *dh);

/* attrib_probe_load from an in-memory image (the fuzz target's entry). */
attrib_status probe_load_memory(const uint8_t *data, size_t size, attrib_probe **out);

/* L2-regularised logistic regression by Newton's method (what
 * attrib_probe_train runs for each candidate L2): rows Z (n, d) already
 * standardised, labels Y (0/1); THETA (d + 1: weights, then the
 * unpenalised bias) is the warm start and the result. Minimises
 * mean_i [log(1 + e^s_i) - y_i s_i] + l2/2 |w|^2, s_i = z_i . w + bias. */
attrib_status probe_fit_logistic(const double *z, const int *y, int n, int d, double l2, int max_iter, double *theta, int *iters);

#endif
