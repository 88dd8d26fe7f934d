/*
 * backward.h — gradient of a target with respect to the input embeddings:
 * a forward pass that keeps the activations the backward needs, then the
 * backward pass through every layer in reverse (src/backward.c).
 */
#ifndef ATTRIB_BACKWARD_H
#define ATTRIB_BACKWARD_H

#include "model/model.h"

/* The target of sequence B as a function of its last position's logits:
 * writes its value and d value / d logits (V floats). */
typedef void (*grad_target_fn)(void *user, int b, const float *logits, float *dlogits, double *value);

/* What the target reads: the last position's logits through TARGET, or
 * (PROBE set) the probe's logit on the hidden state after probe->layer
 * blocks, pooled from position POOL_START (mean) or at the last position. */
typedef struct grad_readout {
    grad_target_fn target;
    void *user;
    const attrib_probe *probe;
    int pool_start;
} grad_readout;

/* Bytes of activations a pass of B x T tokens keeps (to size batches). */
size_t attrib_grad_pass_bytes(const attrib_model *m, int B, int T);

/* For B sequences of T input embeddings EMB (B, T, C), each read from
 * position 0 with causal attention: VALUES (B) = target of each sequence,
 * GRAD (B, T, C) = d target_b / d emb_b. */
attrib_status attrib_grad_pass(attrib_model *m, const float *emb, int B, int T, const grad_readout *ro, float *grad,
                               double *values);

#endif
