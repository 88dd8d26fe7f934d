/*
 * kernels_int.h — the "fast" compute mode of the inference forward pass:
 * matrix products of quantised weights with activations quantised to 8 bits,
 * by integer dot products (kernels_int.c).
 *
 * The exact mode (kernels.c) dequantises weights to F32 and multiplies by
 * F32 activations. The fast mode rounds each block of activations to int8
 * with one float scale (d = max|x| / 127), multiplies in integers and scales
 * the integer sums in float, as llama.cpp does on CPUs. It changes results by
 * the activations' rounding: |fast - exact| <= sum over blocks b of
 * (d_b / 2) * sum_{i in b} |w_i| for one output element, plus float rounding
 * (int_dot_error_bound gives this bound). Gradient passes never use it.
 *
 * Weight types with integer kernels: Q8_0, Q4_0 (with 32-value activation
 * blocks) and Q4_K, Q5_K, Q6_K (with 256-value activation blocks that also
 * carry the sums of every 16 values). Any other type takes the exact path.
 * Each kernel has an AVX2 version and a scalar reference twin that the tests
 * require to agree bit for bit: the integer sums are exact in both, and both
 * then run the same float operations in the same order (8 lanes of fused
 * multiply-adds, one fixed horizontal sum).
 */
#ifndef ATTRIB_KERNELS_INT_H
#define ATTRIB_KERNELS_INT_H

#include "model/model.h"

/* Which implementation of the integer kernels to run. AUTO is the fastest
 * this CPU has (AVX512 > VNNI > AVX2 with FMA and F16C > the scalar twin). */
typedef enum int_impl {
    INT_IMPL_AUTO = 0,
    INT_IMPL_SCALAR = 1,
    INT_IMPL_AVX2 = 2,
    INT_IMPL_VNNI = 3,  /* Q4_0 with 256-bit vpdpbusd (AVX-VNNI); other types as AVX2 */
    INT_IMPL_AVX512 = 4 /* Q8_0 with 512-bit vpdpbusd (AVX-512 VNNI); other types as VNNI / AVX2 */
} int_impl;

/* Whether this CPU can run INT_IMPL_AVX2, VNNI, AVX512. */
bool int_have_avx2(void);
bool int_have_vnni(void);
bool int_have_avx512(void);

/* Whether weights of TYPE have an integer kernel. */
bool int_kernel_supported(int type);

/* Two blocks of 32 activations (blocks 2p and 2p+1 of a row; a row of an
 * odd number of blocks ends with a half-filled pair): x ~= d * qs with
 * qs in [-127, 127] and d[0..7] the first block's scale, d[8..15] the
 * second's (repeated for 512-bit loads); corr[8h + k] = -128 * (sum of
 * qs[32h + 4k .. 32h + 4k + 3]), the offset that unsigned weight bytes
 * (w + 128, w + 8) bring into lane k of block h's dot product. */
typedef struct act_q8 {
    int8_t qs[64];
    int32_t corr[16];
    float d[16];
} act_q8;

/* One block of 256 activations: x ~= d * qs; bsums[s] = sum of qs[16s..16s+15]. */
typedef struct act_q8k {
    int8_t qs[256];
    int16_t bsums[16];
    float d;
} act_q8k;

/* Quantises K activations (K a multiple of 32, resp. 256) into
 * (K/32 + 1) / 2 pairs of blocks (K/256 blocks). A block holding NaN or Inf gets d = NaN and qs = 0, so that every
 * product it enters is NaN (the pass then reports it) rather than finite. */
void quantize_act_q8(act_q8 *out, const float *x, int64_t K);
void quantize_act_q8k(act_q8k *out, const float *x, int64_t K);
/* The same with AVX2 when the CPU has it (the same bytes: see the tests). */
void quantize_act_q8_simd(act_q8 *out, const float *x, int64_t K);
void quantize_act_q8k_simd(act_q8k *out, const float *x, int64_t K);

/* Dots of one weight row WROW (TYPE, K columns) with NR (1..4) quantised
 * activation rows AROWS[r] (act_q8 for Q8_0/Q4_0, act_q8k for the
 * K-quants): OUT[r] = sum_i w_i * (a_r)_i. IMPL must be one this CPU has
 * (int_have_avx2, int_have_vnni). */
void int_dot_rows(float *out, int type, const void *wrow, const void *const *arows, int nr, int64_t K, int_impl impl);

/* out[j] = in @ W[j]^T (+ bias[j]) for j < n_mats with integer kernels; the
 * same shapes as matmul_forward_multi. All W[j] must satisfy
 * int_kernel_supported. Returns false, having written nothing, when it
 * cannot allocate its activation buffers. Each output element is computed
 * by one thread in a fixed order: results do not depend on N_THREADS, nor
 * on the other rows of the batch. */
bool matmul_forward_int(int n_mats, float *const *out, const float *in, const attrib_weight *const *W,
                        const float *const *bias, int64_t N, int n_threads, int_impl impl);

/* matmul_forward_multi / matmul_forward with a compute mode: FAST sends the
 * matrices that have integer kernels to matmul_forward_int and the others
 * (and everything when FAST is false) to the exact path. */
void matmul_forward_multi_ex(bool fast, int n_mats, float *const *out, const float *in, const attrib_weight *const *W,
                             const float *const *bias, int64_t N, float *scratch, size_t scratch_per_thread,
                             int n_threads);
void matmul_forward_ex(bool fast, float *out, const float *in, const attrib_weight *W, const float *bias, int64_t N,
                       float *scratch, size_t scratch_per_thread, int n_threads);

/* The bound stated above for output (n, o) of in @ W^T: sum over the
 * activation blocks of row n of (d_b / 2) * sum |w_i| (the weights
 * dequantised exactly), in double. For tests and measurements. */
double int_dot_error_bound(const float *in_row, const attrib_weight *W, int64_t o);

#endif /* ATTRIB_KERNELS_INT_H */
