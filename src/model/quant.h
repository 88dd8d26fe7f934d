/*
 * quant.h — private interface of the dequantisation kernels (src/model/quant.c).
 *
 * Weights stay in the file's own format in the memory map; matrices are
 * dequantised to F32 row by row just before they are used (see model.c for
 * why). Block layouts are those of ggml: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * IQ4_NL (32-element blocks) and Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS
 * (256-element super-blocks), plus F16, BF16 and F32. Each fast kernel has a plain reference twin (*_ref)
 * that the tests compare it with.
 */
#ifndef ATTRIB_QUANT_H
#define ATTRIB_QUANT_H

#include <stdint.h>

/* Dequantises N elements of TYPE starting at SRC into DST (N floats).
 * N must be a multiple of the type's block size (gguf_type_block); the
 * caller has validated that SRC holds gguf_row_bytes(TYPE, N) bytes.
 * Returns 0, or -1 for an unknown type. */
int attrib_dequant_row(int type, const void *src, float *dst, int64_t n);

/* Straightforward reference implementation of the same (for tests). */
int attrib_dequant_row_ref(int type, const void *src, float *dst, int64_t n);

#endif /* ATTRIB_QUANT_H */
