/*
 * backward.h — gradient of a target with respect to the input embeddings:
 * the blocks' forward with a tape, then their backward in reverse
 * (backward.c, over layer.c).
 */
#ifndef ATTRIB_BACKWARD_H
#define ATTRIB_BACKWARD_H

#include "model/model.h"

/* The target of sequence B as a function of its last position's logits:
 * writes its value and d value / d logits (V floats). */
typedef void (*grad_target_fn)(void *user, int b, const float *logits, float *dlogits, double *value);

/* A target read off the residual stream after some blocks (a probe, say):
 * VALUES (B) and DHIDDEN (B, T, C) = d value_b / d hidden_b from HIDDEN
 * (B, T, C). */
typedef attrib_status (*grad_hidden_fn)(void *user, const float *hidden, int B, int T, int C, float *dhidden,
                                        double *values);

/* What the gradient flows from: the model's own head (TARGET on the last
 * position's logits; HIDDEN NULL), or HIDDEN on the residual stream after
 * N_BLOCKS blocks, whose later blocks then play no part. */
typedef struct grad_readout {
    grad_target_fn target;
    grad_hidden_fn hidden;
    int n_blocks;
    void *user;
    /* Layer attribution: with FROM_HIDDEN set, EMB is the residual stream
     * after FIRST_BLOCK blocks (no embedding scale), only blocks FIRST_BLOCK..
     * run, and GRAD is d target / d that hidden state. Zero: EMB are input
     * embeddings. */
    int from_hidden;
    int first_block;
} grad_readout;

/* Bytes of activations a pass of B x T tokens keeps (to size batches). */
size_t attrib_grad_pass_bytes(const attrib_model *m, int B, int T);

/* For B sequences of T input embeddings EMB (B, T, C), each read from
 * position 0 with causal attention: VALUES (B) = target of each sequence,
 * GRAD (B, T, C) = d target_b / d emb_b. */
attrib_status attrib_grad_pass(attrib_model *m, const float *emb, int B, int T, const grad_readout *ro, float *grad,
                               double *values);

/* The same for sequences that continue the one-sequence cache PREFIX (NULL
 * = none; attrib_prefix's, see prefix.h) of P positions: EMB (B, T, C) are
 * the embeddings of positions P..P+T-1, GRAD their gradients; the prefix's
 * keys and values are constants. P + T must fit the model's context. */
attrib_status attrib_grad_pass_prefix(attrib_model *m, const attrib_cache *prefix, const float *emb, int B, int T,
                                      const grad_readout *ro, float *grad, double *values);

#endif
