/*
 * prefix.h — private side of the prefix cache (prefix.c) and the KV-cache
 * accessors it and its users need (forward.c owns attrib_cache).
 *
 * A judge template puts every prompt after the same leading tokens. Causal
 * attention makes their keys and values the same for every prompt, every
 * perturbation and every gradient step, and no gradient flows into them:
 * attrib_prefix keeps them once, and passes (attrib_forward with the cache,
 * attrib_grad_pass_prefix) start at position P with them as constants.
 */
#ifndef ATTRIB_PREFIX_H
#define ATTRIB_PREFIX_H

#include "model/model.h"

/* Layer L's keys and values of cache sequence S: (n_ctx, kv_dim) each. */
void cache_layer_kv(const attrib_cache *c, int l, int s, const float **k, const float **v);
/* Key visibility of cache sequence S's positions: (n_ctx). */
const uint8_t *cache_seq_mask(const attrib_cache *c, int s);

/* Sets sequence DST_SEQ of DST to the first LEN positions of sequence
 * SRC_SEQ of SRC (keys, values, visibility). Both caches must belong to the
 * same model; LEN <= the source's length and DST's n_ctx. */
attrib_status cache_copy_seq(attrib_cache *dst, int dst_seq, const attrib_cache *src, int src_seq, int len);

/* The prefix's keys and values for passes in COMPUTE mode (a one-sequence
 * cache of length attrib_prefix_len), or NULL when PREFIX was made for
 * another model than M. Gradient passes ask for ATTRIB_COMPUTE_EXACT. */
attrib_cache *prefix_cache(const attrib_prefix *prefix, const attrib_model *m, attrib_compute compute);

/* ATTRIB_OK if PREFIX can start IDS (n): made for M, n > its length and
 * ids[0..P) equal to its ids; else ATTRIB_E_INVALID_ARG naming the first
 * difference. */
attrib_status prefix_check(const attrib_prefix *prefix, const attrib_model *m, const int32_t *ids, int n);

#endif
