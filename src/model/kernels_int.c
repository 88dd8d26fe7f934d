/*
 * kernels_int.c — integer matrix products for the fast compute mode: the
 * activations are quantised to int8 blocks, each quantised weight block is
 * multiplied with them in integers, and only the per-block sums are scaled
 * in float (see kernels_int.h for the error this costs and where it is used).
 *
 * Every kernel computes the dots of one weight row with up to four
 * activation rows, so that a weight block is loaded and unpacked once for
 * four rows. Both twins of a kernel keep float accumulators in lanes: lane
 * k collects, block after block, d_w * d_a times the integer sum of elements
 * 4k..4k+3 of a 32-element chunk (the lane layout of maddubs + madd and of
 * vpdpbusd), by fused multiply-add, and the lanes are summed in one fixed
 * order (hsum8). The 32-value types keep 16 lanes, even blocks in 0..7 and
 * odd ones in 8..15 (one 512-bit register holds two blocks), folded as
 * even + odd before hsum8; the K-quants sum a whole super-block in integers
 * and keep 8 lanes. Integer sums are exact (no int16 saturation: see the
 * kernels), so the SIMD kernels and their scalar twins agree bit for bit.
 * Integer offsets (the -8 of Q4_0, the +128 of unsigned Q8_0 bytes, the -32
 * of Q6_K) enter the integer lanes; the minimums of Q4_K/Q5_K, which have
 * their own float scale, get 8 more lanes.
 *
 * Threading is that of matmul_forward_multi: fixed column tiles of the
 * weight matrices, each computed whole by one thread.
 */
#include "model/kernels_int.h"

#include "model/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define INT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define QK 32
#define QK_K 256
#define ROWS 4 /* activation rows per kernel call */

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline float fp16_at(const uint8_t *p) { return attrib_fp16_to_f32(rd16(p)); }

/* The fixed horizontal sum of 8 lanes: ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)). */
static inline float hsum8_ref(const float *v) {
    const float s0 = v[0] + v[4], s1 = v[1] + v[5], s2 = v[2] + v[6], s3 = v[3] + v[7];
    return (s0 + s2) + (s1 + s3);
}

bool int_kernel_supported(int type) {
    switch (type) {
    case ATTRIB_DTYPE_Q8_0:
    case ATTRIB_DTYPE_Q4_0:
    case ATTRIB_DTYPE_Q4_K:
    case ATTRIB_DTYPE_Q5_K:
    case ATTRIB_DTYPE_Q6_K: return true;
    default: return false;
    }
}

static bool uses_q8k(int type) { return type == ATTRIB_DTYPE_Q4_K || type == ATTRIB_DTYPE_Q5_K || type == ATTRIB_DTYPE_Q6_K; }

/* ---- activation quantisation ----------------------------------------------- */

/* Blocks whose max|x| is below this are rounded to zero (d = 0): for them
 * 1 / d would overflow to Inf. The error this adds is under 1e-30 sum |w|. */
#define AMAX_MIN 1e-30f

/* Rounds N values to int8 with d = max|x| / 127; returns d (NaN and qs = 0
 * for a block holding NaN or Inf). */
static float quantize_block(int8_t *qs, const float *x, int n) {
    float amax = 0.0f;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        bad |= !(a <= 3.402823466e38f); /* NaN or Inf */
        amax = a > amax ? a : amax;
    }
    if (bad) {
        memset(qs, 0, (size_t)n);
        return NAN;
    }
    const float d = amax >= AMAX_MIN ? amax / 127.0f : 0.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * id);
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        qs[i] = (int8_t)v;
    }
    return d;
}

/* Block B of a row of act_q8 pairs: its 32 qs, 8 corr, and scale. */
#define AQ(a, b) ((a)[(b) >> 1].qs + 32 * ((b) & 1))
#define AC(a, b) ((a)[(b) >> 1].corr + 8 * ((b) & 1))
#define AD(a, b) (&(a)[(b) >> 1].d[8 * ((b) & 1)])

void quantize_act_q8(act_q8 *out, const float *x, int64_t K) {
    const int64_t nb = K / QK;
    if (nb % 2) memset(&out[nb / 2], 0, sizeof *out); /* the unused half of the last pair */
    for (int64_t b = 0; b < nb; b++) {
        int8_t *qs = AQ(out, b);
        const float d = quantize_block(qs, x + b * QK, QK);
        for (int k = 0; k < 8; k++) {
            AC(out, b)[k] = -128 * (qs[4 * k] + qs[4 * k + 1] + qs[4 * k + 2] + qs[4 * k + 3]);
            AD(out, b)[k] = d;
        }
    }
}

void quantize_act_q8k(act_q8k *out, const float *x, int64_t K) {
    for (int64_t b = 0; b < K / QK_K; b++) {
        out[b].d = quantize_block(out[b].qs, x + b * QK_K, QK_K);
        for (int s = 0; s < 16; s++) {
            int v = 0;
            for (int i = 0; i < 16; i++) v += out[b].qs[16 * s + i];
            out[b].bsums[s] = (int16_t)v; /* |v| <= 16 * 127 */
        }
    }
}

/* 6-bit scales and minimums of a Q4_K/Q5_K super-block (ggml's packing; see quant.c). */
static inline void k_scales(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* ---- scalar reference twins -------------------------------------------------
 * Written element by element from the block layouts; lane k of a 32-element
 * chunk is elements 4k..4k+3. */

/* The 32-value types (Q8_0, Q4_0) keep 16 lanes: lane 8*(b%2) + k for
 * block b, i.e. even and odd blocks apart (what one 512-bit register holds),
 * and fold them as v[k] = even[k] + odd[k] before hsum8. */
static float fold16_ref(const float *acc) {
    float v[8];
    for (int k = 0; k < 8; k++) v[k] = acc[k] + acc[8 + k];
    return hsum8_ref(v);
}

/* Q8_0 (34 B: fp16 d, int8 qs[32]) x act_q8. */
static void dot_q8_0_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    for (int r = 0; r < nr; r++) {
        const act_q8 *a = arows[r];
        float acc[16] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = w + b * 34;
            const int8_t *wq = (const int8_t *)(wb + 2), *aq = AQ(a, b);
            const float dd = fp16_at(wb) * *AD(a, b);
            for (int k = 0; k < 8; k++) {
                int s = 0;
                for (int i = 4 * k; i < 4 * k + 4; i++) s += wq[i] * aq[i];
                acc[8 * (b & 1) + k] = fmaf(dd, (float)s, acc[8 * (b & 1) + k]);
            }
        }
        out[r] = fold16_ref(acc);
    }
}

/* Q4_0 (18 B: fp16 d, qs[16]; element i < 16 is the low nibble of qs[i],
 * i >= 16 the high nibble of qs[i-16]; value d*(q-8)) x act_q8. */
static void dot_q4_0_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    for (int r = 0; r < nr; r++) {
        const act_q8 *a = arows[r];
        float acc[16] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = w + b * 18, *qs = wb + 2;
            const int8_t *aq = AQ(a, b);
            const float dd = fp16_at(wb) * *AD(a, b);
            for (int k = 0; k < 8; k++) {
                int s = 0;
                for (int i = 4 * k; i < 4 * k + 4; i++) s += ((i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4) - 8) * aq[i];
                acc[8 * (b & 1) + k] = fmaf(dd, (float)s, acc[8 * (b & 1) + k]);
            }
        }
        out[r] = fold16_ref(acc);
    }
}

/* Q4_K and Q5_K (144 / 176 B: fp16 d, fp16 dmin, scales[12], [qh[32]],
 * qs[128]; element i: sub-block i/32, 64-element chunk j = i/64, byte
 * qs[32j + i%32] low nibble for the first 32, high for the next; Q5_K's
 * fifth bit is bit (i/32) of qh[i%32]; value d*sc*q - dmin*mn) x act_q8k. */
static void dot_qk45_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb, int five) {
    const int bb = five ? 176 : 144;
    for (int r = 0; r < nr; r++) {
        const act_q8k *a = arows[r];
        float acc[8] = {0}, accm[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = w + b * bb, *qh = wb + 16, *qs = wb + 16 + (five ? 32 : 0);
            uint8_t sc[8], mn[8];
            k_scales(wb + 4, sc, mn);
            int lane[8] = {0};
            for (int sub = 0; sub < 8; sub++)
                for (int k = 0; k < 8; k++) {
                    int s = 0;
                    for (int l = 4 * k; l < 4 * k + 4; l++) {
                        const uint8_t byte = qs[32 * (sub / 2) + l];
                        int q = sub % 2 ? byte >> 4 : byte & 0x0f;
                        if (five) q |= ((qh[l] >> sub) & 1) << 4;
                        s += q * a[b].qs[32 * sub + l];
                    }
                    lane[k] += sc[sub] * s;
                }
            const float dd = fp16_at(wb) * a[b].d, dm = fp16_at(wb + 2) * a[b].d;
            for (int k = 0; k < 8; k++) {
                acc[k] = fmaf(dd, (float)lane[k], acc[k]);
                accm[k] = fmaf(dm, (float)(mn[k] * (a[b].bsums[2 * k] + a[b].bsums[2 * k + 1])), accm[k]);
            }
        }
        out[r] = hsum8_ref(acc) - hsum8_ref(accm);
    }
}

/* Q6_K (210 B: ql[128], qh[64], int8 sc[16], fp16 d; element i: half h =
 * i/128, r = i%128, quarter k = r/32, l = r%32: low 4 bits from
 * ql[64h + 32(k&1) + l] (low nibble for k < 2), high 2 bits from bits 2k of
 * qh[32h + l], value d*sc[i/16]*(q-32)) x act_q8k. The sum runs over the
 * unsigned q; the -32 comes back into lane k as -32 * (sc[2k] bsums[2k] +
 * sc[2k+1] bsums[2k+1]), an integer like the rest of the lane. */
static void dot_q6_k_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    for (int r = 0; r < nr; r++) {
        const act_q8k *a = arows[r];
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = w + b * 210, *ql = wb, *qh = wb + 128;
            const int8_t *sc = (const int8_t *)(wb + 192);
            int lane[8] = {0};
            for (int c = 0; c < 8; c++) { /* 32-element chunks */
                const int h = c / 4, k4 = c % 4;
                for (int k = 0; k < 8; k++) {
                    int s = 0;
                    for (int l = 4 * k; l < 4 * k + 4; l++) {
                        const uint8_t lo = ql[64 * h + 32 * (k4 & 1) + l];
                        const int q = (k4 < 2 ? lo & 0x0f : lo >> 4) | (((qh[32 * h + l] >> (2 * k4)) & 3) << 4);
                        s += q * a[b].qs[32 * c + l];
                    }
                    lane[k] += sc[2 * c + k / 4] * s;
                }
            }
            for (int k = 0; k < 8; k++) lane[k] -= 32 * (sc[2 * k] * a[b].bsums[2 * k] + sc[2 * k + 1] * a[b].bsums[2 * k + 1]);
            const float dd = fp16_at(wb + 208) * a[b].d;
            for (int k = 0; k < 8; k++) acc[k] = fmaf(dd, (float)lane[k], acc[k]);
        }
        out[r] = hsum8_ref(acc);
    }
}

/* ---- AVX2 kernels -----------------------------------------------------------
 * maddubs multiplies unsigned by signed bytes and adds pairs into int16; it
 * saturates only above 32767, which no kernel reaches: Q8_0 pairs are at
 * most 2 * 128 * 127 (|w| after the sign trick, |a| <= 127), Q4 pairs 2 *
 * 15 * 127, Q5 2 * 31 * 127, Q6 2 * 63 * 127. */
#ifdef INT_X86
#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) static inline

AVX2_INLINE float hsum8_avx(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* l0+l4, l1+l5, l2+l6, l3+l7 */
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));                                           /* (l0+l4)+(l2+l6), (l1+l5)+(l3+l7) */
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

AVX2_INLINE float h16(const uint8_t *p) { return _cvtsh_ss(rd16(p)); }

AVX2_INLINE __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Q8_0, AVX2: the sign trick (|w| unsigned, a with w's sign); even and odd
 * blocks into separate accumulators (the 16-lane pattern above). */
AVX2_INLINE void q8_0_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[2][ROWS];
    const act_q8 *a[ROWS];
    for (int r = 0; r < nr; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps(), a[r] = arows[r];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 34;
        const __m256 dw = _mm256_set1_ps(h16(wb));
        const __m256i wq = load256(wb + 2);
        const __m256i ax = _mm256_sign_epi8(wq, wq);
        for (int r = 0; r < nr; r++) {
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(load256(AQ(a[r], b)), wq)), ones);
            acc[b & 1][r] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(AD(a[r], b))), _mm256_cvtepi32_ps(p),
                                            acc[b & 1][r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(_mm256_add_ps(acc[0][r], acc[1][r]));
}

AVX2_FN static void dot_q8_0_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q8_0_body(out, w, arows, ROWS, nb);
    else q8_0_body(out, w, arows, nr, nb);
}

/* The four-row kernels spell their rows out (R4 below): with arrays of
 * accumulators GCC kept a copy of each in memory and stored it every block. */
#define R4(X) X(0) X(1) X(2) X(3)

/* Q4_0, AVX2: unsigned nibbles times a, plus corr / 16 = -8 * (lane sum of a). */
AVX2_INLINE __m256i q4_0_unpack(const uint8_t *qs) {
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)qs), m4 = _mm_set1_epi8(0x0f);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(x, m4)), _mm_and_si128(_mm_srli_epi16(x, 4), m4), 1);
}

AVX2_INLINE void q4_0_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[2][ROWS];
    const act_q8 *a[ROWS];
    for (int r = 0; r < nr; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps(), a[r] = arows[r];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 18;
        const __m256 dw = _mm256_set1_ps(h16(wb));
        const __m256i q = q4_0_unpack(wb + 2);
        for (int r = 0; r < nr; r++) {
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, load256(AQ(a[r], b))), ones);
            p = _mm256_add_epi32(p, _mm256_srai_epi32(load256(AC(a[r], b)), 4));
            acc[b & 1][r] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(AD(a[r], b))), _mm256_cvtepi32_ps(p),
                                            acc[b & 1][r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(_mm256_add_ps(acc[0][r], acc[1][r]));
}

AVX2_FN static void dot_q4_0_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q4_0_body(out, w, arows, ROWS, nb);
    else q4_0_body(out, w, arows, nr, nb);
}

/* Q4_K / Q5_K: per 64-element chunk, the low and high nibbles times a
 * (maddubs), times the sub-block scales (madd); the minimums as 8 lanes of
 * mn[k] * (bsums[2k] + bsums[2k+1]) (madd with the minimums duplicated). */
AVX2_INLINE void qk45_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb, int five) {
    const int bb = five ? 176 : 144;
    __m256 acc[ROWS], accm[ROWS];
    const act_q8k *a[ROWS];
    for (int r = 0; r < nr; r++) acc[r] = accm[r] = _mm256_setzero_ps(), a[r] = arows[r];
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * bb, *qs = wb + 16 + (five ? 32 : 0);
        uint8_t sc[8], mn[8];
        k_scales(wb + 4, sc, mn);
        const __m128i mn8 = _mm_loadl_epi64((const __m128i *)(const void *)mn);
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8)); /* mn0 mn0 mn1 mn1 .. */
        const __m256i hb = five ? load256(wb + 16) : _mm256_setzero_si256();
        __m256i sumi[ROWS];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i q = load256(qs + 32 * j);
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
            }
            const __m256i slo = _mm256_set1_epi16(sc[2 * j]), shi = _mm256_set1_epi16(sc[2 * j + 1]);
            for (int r = 0; r < nr; r++) {
                const int8_t *y = a[r][b].qs + 64 * j;
                const __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(y)), slo);
                const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(y + 32)), shi);
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(plo, phi));
            }
        }
        const __m256 d = _mm256_set1_ps(h16(wb)), dmin = _mm256_set1_ps(h16(wb + 2));
        for (int r = 0; r < nr; r++) {
            const __m256 da = _mm256_broadcast_ss(&a[r][b].d);
            const __m256i ms = _mm256_madd_epi16(load256(a[r][b].bsums), mn16);
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, da), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            accm[r] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, da), _mm256_cvtepi32_ps(ms), accm[r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(acc[r]) - hsum8_avx(accm[r]);
}

AVX2_INLINE void qk45_body4(float *out, const uint8_t *w, const void *const *arows, int64_t nb, int five) {
    const int bb = five ? 176 : 144;
#define DECL(r) const act_q8k *a##r = arows[r]; __m256 acc##r = _mm256_setzero_ps(), accm##r = _mm256_setzero_ps();
    R4(DECL)
#undef DECL
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * bb, *qs = wb + 16 + (five ? 32 : 0);
        uint8_t sc[8], mn[8];
        k_scales(wb + 4, sc, mn);
        const __m128i mn8 = _mm_loadl_epi64((const __m128i *)(const void *)mn);
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));
        const __m256i hb = five ? load256(wb + 16) : _mm256_setzero_si256();
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int j = 0; j < 4; j++) {
            const __m256i q = load256(qs + 32 * j);
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
            }
            const __m256i slo = _mm256_set1_epi16(sc[2 * j]), shi = _mm256_set1_epi16(sc[2 * j + 1]);
#define ROW(r)                                                                                                          \
    s##r = _mm256_add_epi32(                                                                                            \
        s##r, _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(a##r[b].qs + 64 * j)), slo),        \
                               _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(a##r[b].qs + 64 * j + 32)), shi)));
            R4(ROW)
#undef ROW
        }
        const __m256 d = _mm256_set1_ps(h16(wb)), dmin = _mm256_set1_ps(h16(wb + 2));
#define ROW(r)                                                                                                          \
    {                                                                                                                   \
        const __m256 da = _mm256_broadcast_ss(&a##r[b].d);                                                              \
        acc##r = _mm256_fmadd_ps(_mm256_mul_ps(d, da), _mm256_cvtepi32_ps(s##r), acc##r);                               \
        accm##r = _mm256_fmadd_ps(_mm256_mul_ps(dmin, da),                                                              \
                                  _mm256_cvtepi32_ps(_mm256_madd_epi16(load256(a##r[b].bsums), mn16)), accm##r);       \
    }
        R4(ROW)
#undef ROW
    }
#define OUT(r) out[r] = hsum8_avx(acc##r) - hsum8_avx(accm##r);
    R4(OUT)
#undef OUT
}

AVX2_FN static void dot_q4_k_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) qk45_body4(out, w, arows, nb, 0);
    else qk45_body(out, w, arows, nr, nb, 0);
}

AVX2_FN static void dot_q5_k_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) qk45_body4(out, w, arows, nb, 1);
    else qk45_body(out, w, arows, nr, nb, 1);
}

/* Q6_K: four 32-element chunks per half; the -32 enters the integer lanes
 * as -32 * madd(sc, bsums). */
AVX2_INLINE void q6_k_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[ROWS];
    const act_q8k *a[ROWS];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps(), a[r] = arows[r];
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 210;
        const int8_t *sc = (const int8_t *)(wb + 192);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc));
        __m256i sumi[ROWS];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(a[r][b].bsums)), 5);
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_sub_epi32(_mm256_setzero_si256(), sumi[r]);
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = load256(wb + 64 * h), l1 = load256(wb + 64 * h + 32), hh = load256(wb + 128 + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                const int c = 4 * h + k;
                const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * c + 1]), _mm_set1_epi16(sc[2 * c]));
                for (int r = 0; r < nr; r++)
                    sumi[r] = _mm256_add_epi32(sumi[r],
                                               _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load256(a[r][b].qs + 32 * c)), s));
            }
        }
        const __m256 d = _mm256_set1_ps(h16(wb + 208));
        for (int r = 0; r < nr; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_broadcast_ss(&a[r][b].d)), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(acc[r]);
}

AVX2_FN static void dot_q6_k_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q6_k_body(out, w, arows, ROWS, nb);
    else q6_k_body(out, w, arows, nr, nb);
}

/* ---- AVX-VNNI (vpdpbusd: unsigned x signed bytes, 4 products added into
 * each int32 lane, no int16 step): Q8_0 and Q4_0 with unsigned weight bytes
 * (w + 128 by flipping the sign bit; the Q4_0 nibbles as they are) and the
 * offset taken out by starting each lane from corr (resp. corr / 16). */
#define VNNI_FN __attribute__((target("avx2,fma,f16c,avxvnni")))
#define VNNI_INLINE __attribute__((target("avx2,fma,f16c,avxvnni"), always_inline)) static inline

VNNI_INLINE void q4_0_vnni_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[2][ROWS];
    const act_q8 *a[ROWS];
    for (int r = 0; r < nr; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps(), a[r] = arows[r];
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 18;
        const __m256 dw = _mm256_set1_ps(_cvtsh_ss(rd16(wb)));
        const __m256i q = q4_0_unpack(wb + 2);
        for (int r = 0; r < nr; r++) {
            const __m256i c = _mm256_srai_epi32(_mm256_loadu_si256((const __m256i *)(const void *)AC(a[r], b)), 4);
            const __m256i p = _mm256_dpbusd_avx_epi32(c, q, _mm256_loadu_si256((const __m256i *)(const void *)AQ(a[r], b)));
            acc[b & 1][r] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(AD(a[r], b))), _mm256_cvtepi32_ps(p),
                                            acc[b & 1][r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(_mm256_add_ps(acc[0][r], acc[1][r]));
}

VNNI_FN static void dot_q4_0_vnni(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q4_0_vnni_body(out, w, arows, ROWS, nb);
    else q4_0_vnni_body(out, w, arows, nr, nb);
}

/* ---- AVX-512 VNNI: Q8_0 two blocks at a time. One 512-bit register holds
 * blocks 2p and 2p+1 (the 16-lane pattern of the scalar twin: even blocks
 * in lanes 0..7, odd in 8..15); the weights' bytes made unsigned (w + 128)
 * and each lane started from corr, as in the 256-bit VNNI kernels. A last
 * odd block goes through 256-bit vpdpbusd into the even half. */
#define V512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

V512_FN static inline __m512 two_scales(const uint8_t *wb) {
    const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(rd16(wb))), d1 = _mm256_set1_ps(_cvtsh_ss(rd16(wb + 34)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(d0)), _mm256_castps_pd(d1), 1));
}

V512_FN static inline float fold512(__m512 acc, __m256 tail_even, int has_tail) {
    const __m256 lo = has_tail ? tail_even : _mm512_castps512_ps256(acc);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    return hsum8_avx(_mm256_add_ps(lo, hi));
}

/* Two weight rows W0, W1 times four activation rows: OUT[r] for W0 and
 * OUT[4 + r] for W1, each exactly as dot_q8_0_avx512 computes it (the
 * activations are loaded once for both rows). */
V512_FN static void dot2_q8_0_avx512(float *out, const uint8_t *w0, const uint8_t *w1, const void *const *arows, int64_t nb) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int64_t np = nb / 2;
#define DECL(r) const act_q8 *a##r = arows[r]; __m512 acc##r = _mm512_setzero_ps(), bcc##r = _mm512_setzero_ps();
    R4(DECL)
#undef DECL
    for (int64_t p = 0; p < np; p++) {
        const uint8_t *wb = w0 + p * 68, *vb = w1 + p * 68;
        const __m512i wu = _mm512_xor_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2))),
                               _mm256_loadu_si256((const __m256i *)(const void *)(wb + 36)), 1),
            flip);
        const __m512i vu = _mm512_xor_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(vb + 2))),
                               _mm256_loadu_si256((const __m256i *)(const void *)(vb + 36)), 1),
            flip);
        const __m512 dw = two_scales(wb), dv = two_scales(vb);
#define ROW(r)                                                                                                          \
    {                                                                                                                   \
        const __m512i c = _mm512_loadu_si512(a##r[p].corr), q = _mm512_loadu_si512(a##r[p].qs);                        \
        const __m512 da = _mm512_loadu_ps(a##r[p].d);                                                                   \
        acc##r = _mm512_fmadd_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c, wu, q)), acc##r);     \
        bcc##r = _mm512_fmadd_ps(_mm512_mul_ps(dv, da), _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c, vu, q)), bcc##r);     \
    }
        R4(ROW)
#undef ROW
    }
    const act_q8 *a[ROWS] = {a0, a1, a2, a3};
    const __m512 acc[2 * ROWS] = {acc0, acc1, acc2, acc3, bcc0, bcc1, bcc2, bcc3};
    for (int i = 0; i < 2 * ROWS; i++) {
        const act_q8 *ar = a[i % ROWS];
        __m256 te = _mm512_castps512_ps256(acc[i]);
        if (nb % 2) {
            const uint8_t *wb = (i < ROWS ? w0 : w1) + (nb - 1) * 34;
            const __m256i wu =
                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)), _mm512_castsi512_si256(flip));
            const __m256i pi = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(const void *)ar[np].corr), wu,
                                                   _mm256_loadu_si256((const __m256i *)(const void *)ar[np].qs));
            te = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(rd16(wb))), _mm256_loadu_ps(ar[np].d)),
                                 _mm256_cvtepi32_ps(pi), te);
        }
        out[i] = fold512(acc[i], te, 1);
    }
}

V512_FN static void dot_q8_0_avx512(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int64_t np = nb / 2;
    if (nr == ROWS) {
#define DECL(r) const act_q8 *a##r = arows[r]; __m512 acc##r = _mm512_setzero_ps();
        R4(DECL)
#undef DECL
        for (int64_t p = 0; p < np; p++) {
            const uint8_t *wb = w + p * 68;
            const __m512i wu = _mm512_xor_si512(
                _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2))),
                                   _mm256_loadu_si256((const __m256i *)(const void *)(wb + 36)), 1),
                flip);
            const __m512 dw = two_scales(wb);
#define ROW(r)                                                                                                          \
    acc##r = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_loadu_ps(a##r[p].d)),                                            \
                             _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_loadu_si512(a##r[p].corr), wu,               \
                                                                    _mm512_loadu_si512(a##r[p].qs))),                   \
                             acc##r);
            R4(ROW)
#undef ROW
        }
        const act_q8 *a[ROWS] = {a0, a1, a2, a3};
        const __m512 acc[ROWS] = {acc0, acc1, acc2, acc3};
        for (int r = 0; r < ROWS; r++) {
            __m256 te = _mm512_castps512_ps256(acc[r]);
            if (nb % 2) {
                const uint8_t *wb = w + (nb - 1) * 34;
                const __m256i wu = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)),
                                                    _mm512_castsi512_si256(flip));
                const __m256i pi = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(const void *)a[r][np].corr), wu,
                                                       _mm256_loadu_si256((const __m256i *)(const void *)a[r][np].qs));
                te = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(rd16(wb))), _mm256_loadu_ps(a[r][np].d)),
                                     _mm256_cvtepi32_ps(pi), te);
            }
            out[r] = fold512(acc[r], te, 1);
        }
        return;
    }
    for (int r = 0; r < nr; r++) {
        const act_q8 *a = arows[r];
        __m512 acc = _mm512_setzero_ps();
        for (int64_t p = 0; p < np; p++) {
            const uint8_t *wb = w + p * 68;
            const __m512i wu = _mm512_xor_si512(
                _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2))),
                                   _mm256_loadu_si256((const __m256i *)(const void *)(wb + 36)), 1),
                flip);
            acc = _mm512_fmadd_ps(_mm512_mul_ps(two_scales(wb), _mm512_loadu_ps(a[p].d)),
                                  _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_loadu_si512(a[p].corr), wu,
                                                                         _mm512_loadu_si512(a[p].qs))),
                                  acc);
        }
        __m256 te = _mm512_castps512_ps256(acc);
        if (nb % 2) {
            const uint8_t *wb = w + (nb - 1) * 34;
            const __m256i wu =
                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)), _mm512_castsi512_si256(flip));
            const __m256i pi = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(const void *)a[np].corr), wu,
                                                   _mm256_loadu_si256((const __m256i *)(const void *)a[np].qs));
            te = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(rd16(wb))), _mm256_loadu_ps(a[np].d)),
                                 _mm256_cvtepi32_ps(pi), te);
        }
        out[r] = fold512(acc, te, 1);
    }
}
#endif /* INT_X86 */

bool int_have_avx2(void) {
#ifdef INT_X86
    static int cached = -1; /* benign race: every thread computes the same value */
    if (cached < 0) {
        unsigned a, b, c, d;
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __get_cpuid(1, &a, &b, &c, &d) &&
                         (c & (1u << 29)) /* F16C */
                     ? 1
                     : 0;
    }
    return cached;
#else
    return false;
#endif
}

#ifdef INT_X86
/* AVX2 twins of quantize_block / quantize_act_q8 / quantize_act_q8k: the
 * same float operations (|x|, max, amax / 127, 1 / d, x * id rounded to
 * nearest even by cvtps, clamp), so the same bytes; the tests compare them. */
AVX2_INLINE float q8_block_avx2(const float *x, int n32, __m256i *q /* n32 * 4 vectors of int32 */) {
    const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(3.402823466e38f);
    __m256 mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int i = 0; i < 4 * n32; i++) {
        const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i));
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, big, _CMP_NLE_UQ));
        mx = _mm256_max_ps(mx, a);
    }
    if (_mm256_movemask_ps(bad)) {
        for (int i = 0; i < 4 * n32; i++) q[i] = _mm256_setzero_si256();
        return NAN;
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m), d = amax >= AMAX_MIN ? amax / 127.0f : 0.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    const __m256 idv = _mm256_set1_ps(id);
    const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    for (int i = 0; i < 4 * n32; i++)
        q[i] = _mm256_max_epi32(lo, _mm256_min_epi32(hi, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), idv))));
    return d;
}

/* 32 int8 from four vectors of 8 int32 (elements in order). */
AVX2_INLINE __m256i pack32(const __m256i *q) {
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b); /* lanes interleaved by 128-bit halves */
    return _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AVX2_FN static void quantize_act_q8_avx2(act_q8 *out, const float *x, int64_t K) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const int64_t nb = K / QK;
    if (nb % 2) memset(&out[nb / 2], 0, sizeof *out);
    for (int64_t b = 0; b < nb; b++) {
        __m256i q[4];
        const float d = q8_block_avx2(x + b * QK, 1, q);
        const __m256i p = pack32(q);
        _mm256_storeu_si256((__m256i *)(void *)AQ(out, b), p);
        const __m256i ls = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, p), ones16); /* sums of 4 */
        _mm256_storeu_si256((__m256i *)(void *)AC(out, b), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(ls, 7)));
        _mm256_storeu_ps(AD(out, b), _mm256_set1_ps(d));
    }
}

AVX2_FN static void quantize_act_q8k_avx2(act_q8k *out, const float *x, int64_t K) {
    const __m256i ones8 = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < K / QK_K; b++) {
        __m256i q[32];
        out[b].d = q8_block_avx2(x + b * QK_K, 8, q);
        for (int c = 0; c < 8; c++) {
            const __m256i p = pack32(q + 4 * c);
            _mm256_storeu_si256((__m256i *)(void *)(out[b].qs + 32 * c), p);
            /* pairs summed to int16, then 8 pairs per 16 values */
            const __m256i s2 = _mm256_maddubs_epi16(ones8, p);
            int16_t t[16];
            _mm256_storeu_si256((__m256i *)(void *)t, s2);
            int v0 = 0, v1 = 0;
            for (int i = 0; i < 8; i++) v0 += t[i], v1 += t[8 + i];
            out[b].bsums[2 * c] = (int16_t)v0;
            out[b].bsums[2 * c + 1] = (int16_t)v1;
        }
    }
}
#endif

void quantize_act_q8_simd(act_q8 *out, const float *x, int64_t K) {
#ifdef INT_X86
    if (int_have_avx2()) {
        quantize_act_q8_avx2(out, x, K);
        return;
    }
#endif
    quantize_act_q8(out, x, K);
}

void quantize_act_q8k_simd(act_q8k *out, const float *x, int64_t K) {
#ifdef INT_X86
    if (int_have_avx2()) {
        quantize_act_q8k_avx2(out, x, K);
        return;
    }
#endif
    quantize_act_q8k(out, x, K);
}

bool int_have_vnni(void) {
#ifdef INT_X86
    static int cached = -1;
    if (cached < 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        cached = int_have_avx2() && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4)) /* AVX-VNNI */ ? 1 : 0;
    }
    return cached;
#else
    return false;
#endif
}

bool int_have_avx512(void) {
#ifdef INT_X86
    static int cached = -1;
    if (cached < 0)
        cached = int_have_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
                     ? 1
                     : 0;
    return cached;
#else
    return false;
#endif
}

typedef void (*dot_fn)(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb);

static void dot_q4_k_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    dot_qk45_ref(out, w, arows, nr, nb, 0);
}
static void dot_q5_k_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    dot_qk45_ref(out, w, arows, nr, nb, 1);
}

/* The kernel for TYPE and IMPL (AUTO resolved), NULL for a type without one. */
static dot_fn pick(int type, int_impl impl) {
    if (impl == INT_IMPL_AUTO)
        impl = int_have_avx512() ? INT_IMPL_AVX512
               : int_have_vnni() ? INT_IMPL_VNNI
               : int_have_avx2() ? INT_IMPL_AVX2
                                 : INT_IMPL_SCALAR;
    const bool avx2 = impl != INT_IMPL_SCALAR;
#ifdef INT_X86
    if (impl == INT_IMPL_AVX512 && type == ATTRIB_DTYPE_Q8_0) return dot_q8_0_avx512;
    if ((impl == INT_IMPL_VNNI || (impl == INT_IMPL_AVX512 && int_have_vnni())) && type == ATTRIB_DTYPE_Q4_0)
        return dot_q4_0_vnni;
    if (avx2) switch (type) {
        case ATTRIB_DTYPE_Q8_0: return dot_q8_0_avx2;
        case ATTRIB_DTYPE_Q4_0: return dot_q4_0_avx2;
        case ATTRIB_DTYPE_Q4_K: return dot_q4_k_avx2;
        case ATTRIB_DTYPE_Q5_K: return dot_q5_k_avx2;
        case ATTRIB_DTYPE_Q6_K: return dot_q6_k_avx2;
        default: return NULL;
        }
#else
    (void)avx2;
#endif
    switch (type) {
    case ATTRIB_DTYPE_Q8_0: return dot_q8_0_ref;
    case ATTRIB_DTYPE_Q4_0: return dot_q4_0_ref;
    case ATTRIB_DTYPE_Q4_K: return dot_q4_k_ref;
    case ATTRIB_DTYPE_Q5_K: return dot_q5_k_ref;
    case ATTRIB_DTYPE_Q6_K: return dot_q6_k_ref;
    default: return NULL;
    }
}

void int_dot_rows(float *out, int type, const void *wrow, const void *const *arows, int nr, int64_t K, int_impl impl) {
    dot_fn f = pick(type, impl);
    if (f) f(out, wrow, arows, nr, K / (uses_q8k(type) ? QK_K : QK));
}

/* ---- the matrix product ------------------------------------------------------ */

bool matmul_forward_int(int n_mats, float *const *out, const float *in, const attrib_weight *const *W,
                        const float *const *bias, int64_t N, int n_threads, int_impl impl) {
    const int64_t K = W[0]->cols;
    bool need8 = false, need8k = false;
    for (int j = 0; j < n_mats; j++) {
        if (!int_kernel_supported(W[j]->type) || W[j]->cols != K) return false;
        if (uses_q8k(W[j]->type)) need8k = true;
        else need8 = true;
    }
    /* activation rows: (K/32 + 1)/2 act_q8 pairs and/or K/256 act_q8k blocks each */
    const size_t nb8 = (size_t)(K / QK + 1) / 2, nb8k = (size_t)(K / QK_K); /* act_q8 holds two blocks */
    size_t n8 = 0, n8k = 0;
    if ((need8 && !attrib_mul_ok((size_t)N, nb8 * sizeof(act_q8), &n8)) ||
        (need8k && !attrib_mul_ok((size_t)N, nb8k * sizeof(act_q8k), &n8k)))
        return false;
    act_q8 *a8 = need8 ? malloc(n8 ? n8 : 1) : NULL;
    act_q8k *a8k = need8k ? malloc(n8k ? n8k : 1) : NULL;
    if ((need8 && !a8) || (need8k && !a8k)) {
        free(a8);
        free(a8k);
        return false;
    }
    const bool simd = impl != INT_IMPL_SCALAR;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (N * K > 32768)
    for (int64_t n = 0; n < N; n++) {
        if (a8) (simd ? quantize_act_q8_simd : quantize_act_q8)(a8 + (size_t)n * nb8, in + n * K, K);
        if (a8k) (simd ? quantize_act_q8k_simd : quantize_act_q8k)(a8k + (size_t)n * nb8k, in + n * K, K);
    }

    int64_t first_tile[MATMUL_MAX_MATS + 1];
    first_tile[0] = 0;
    for (int j = 0; j < n_mats; j++) first_tile[j + 1] = first_tile[j] + (W[j]->rows + MATMUL_TILE_COLS - 1) / MATMUL_TILE_COLS;
    const int64_t n_tiles = first_tile[n_mats];
    int64_t macs = 0; /* a product this small costs less than waking the other threads */
    for (int j = 0; j < n_mats; j++) macs += N * K * W[j]->rows;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (n_tiles > 1 && macs > (1 << 20))
    for (int64_t tile = 0; tile < n_tiles; tile++) {
        int j = 0;
        while (tile >= first_tile[j + 1]) j++;
        const attrib_weight *w = W[j];
        const int64_t O = w->rows, c0 = (tile - first_tile[j]) * MATMUL_TILE_COLS;
        const int64_t nc = O - c0 < MATMUL_TILE_COLS ? O - c0 : MATMUL_TILE_COLS;
        const bool k8 = uses_q8k(w->type);
        const int64_t nb = K / (k8 ? QK_K : QK);
        const dot_fn f = pick(w->type, impl);
        const float *bj = bias ? bias[j] : NULL;
        for (int64_t n0 = 0; n0 < N; n0 += ROWS) {
            const int nr = N - n0 < ROWS ? (int)(N - n0) : ROWS;
            const void *ar[ROWS];
            for (int r = 0; r < nr; r++)
                ar[r] = k8 ? (const void *)(a8k + (size_t)(n0 + r) * nb8k) : (const void *)(a8 + (size_t)(n0 + r) * nb8);
            int64_t o = c0;
#ifdef INT_X86
            if (f == dot_q8_0_avx512 && nr == ROWS) /* two weight rows per call */
                for (; o + 1 < c0 + nc; o += 2) {
                    float v[2 * ROWS];
                    const uint8_t *wr = (const uint8_t *)w->data + (size_t)o * w->row_bytes;
                    dot2_q8_0_avx512(v, wr, wr + w->row_bytes, ar, nb);
                    for (int r = 0; r < ROWS; r++) {
                        out[j][(n0 + r) * O + o] = bj ? v[r] + bj[o] : v[r];
                        out[j][(n0 + r) * O + o + 1] = bj ? v[ROWS + r] + bj[o + 1] : v[ROWS + r];
                    }
                }
#endif
            for (; o < c0 + nc; o++) {
                float v[ROWS];
                f(v, (const uint8_t *)w->data + (size_t)o * w->row_bytes, ar, nr, nb);
                for (int r = 0; r < nr; r++) out[j][(n0 + r) * O + o] = bj ? v[r] + bj[o] : v[r];
            }
        }
    }
    free(a8);
    free(a8k);
    return true;
}

void matmul_forward_multi_ex(bool fast, int n_mats, float *const *out, const float *in, const attrib_weight *const *W,
                             const float *const *bias, int64_t N, float *scratch, size_t scratch_per_thread,
                             int n_threads) {
    float *oi[MATMUL_MAX_MATS], *oe[MATMUL_MAX_MATS];
    const attrib_weight *wi[MATMUL_MAX_MATS], *we[MATMUL_MAX_MATS];
    const float *bi[MATMUL_MAX_MATS], *be[MATMUL_MAX_MATS];
    int ni = 0, ne = 0;
    for (int j = 0; j < n_mats; j++) {
        const float *b = bias ? bias[j] : NULL;
        if (fast && int_kernel_supported(W[j]->type)) oi[ni] = out[j], wi[ni] = W[j], bi[ni++] = b;
        else oe[ne] = out[j], we[ne] = W[j], be[ne++] = b;
    }
    if (ni && !matmul_forward_int(ni, oi, in, wi, bi, N, n_threads, INT_IMPL_AUTO))
        for (int j = 0; j < ni; j++) oe[ne] = oi[j], we[ne] = wi[j], be[ne++] = bi[j]; /* out of memory: exact */
    if (ne) matmul_forward_multi(ne, oe, in, we, be, N, scratch, scratch_per_thread, n_threads);
}

void matmul_forward_ex(bool fast, float *out, const float *in, const attrib_weight *W, const float *bias, int64_t N,
                       float *scratch, size_t scratch_per_thread, int n_threads) {
    matmul_forward_multi_ex(fast, 1, &out, in, &W, &bias, N, scratch, scratch_per_thread, n_threads);
}

double int_dot_error_bound(const float *in_row, const attrib_weight *W, int64_t o) {
    const int64_t K = W->cols, blk = uses_q8k(W->type) ? QK_K : QK;
    float *row = malloc((size_t)K * sizeof *row);
    if (!row) return INFINITY;
    attrib_weight_row(W, o, row);
    double bound = 0.0;
    for (int64_t b = 0; b < K / blk; b++) {
        double amax = 0.0, sw = 0.0;
        for (int64_t i = b * blk; i < (b + 1) * blk; i++) {
            amax = fabs(in_row[i]) > amax ? fabs(in_row[i]) : amax;
            sw += fabs(row[i]);
        }
        bound += amax / 127.0 / 2.0 * sw;
    }
    free(row);
    return bound;
}
