/*
 * kernels_int.c — integer matrix products for the fast compute mode: the
 * activations are quantised to int8 blocks, each quantised weight block is
 * multiplied with them in integers, and only the per-block sums are scaled
 * in float (see kernels_int.h for the error this costs and where it is used).
 *
 * Every kernel computes the dots of one weight row with up to four
 * activation rows, so that a weight block is loaded and unpacked once for
 * four rows. Both twins of a kernel keep 8 float accumulators per row: lane
 * k collects, block after block, d_w * d_a times the integer sum of elements
 * 4k..4k+3 of every 32-element chunk (the lane layout of AVX2's maddubs +
 * madd), by fused multiply-add; the lanes are then summed in one fixed
 * order (hsum8). Integer sums are exact (no int16 saturation: see each
 * kernel), so the AVX2 kernels and their scalar twins agree bit for bit.
 * Terms that do not fit the lane pattern (the -8 of Q4_0, the minimums of
 * Q4_K/Q5_K, the -32 of Q6_K) are integers per block too, collected in one
 * more float accumulator by fused multiply-add in both twins.
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
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * id);
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        qs[i] = (int8_t)v;
    }
    return d;
}

void quantize_act_q8(act_q8 *out, const float *x, int64_t K) {
    for (int64_t b = 0; b < K / QK; b++) {
        out[b].d = quantize_block(out[b].qs, x + b * QK, QK);
        int32_t s = 0;
        for (int i = 0; i < QK; i++) s += out[b].qs[i];
        out[b].sum = s;
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

/* Q8_0 (34 B: fp16 d, int8 qs[32]) x act_q8. */
static void dot_q8_0_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    for (int r = 0; r < nr; r++) {
        const act_q8 *a = arows[r];
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = w + b * 34;
            const int8_t *wq = (const int8_t *)(wb + 2);
            const float dd = fp16_at(wb) * a[b].d;
            for (int k = 0; k < 8; k++) {
                int s = 0;
                for (int i = 4 * k; i < 4 * k + 4; i++) s += wq[i] * a[b].qs[i];
                acc[k] = fmaf(dd, (float)s, acc[k]);
            }
        }
        out[r] = hsum8_ref(acc);
    }
}

/* Q4_0 (18 B: fp16 d, qs[16]; element i < 16 is the low nibble of qs[i],
 * i >= 16 the high nibble of qs[i-16]; value d*(q-8)) x act_q8. The sum runs
 * over the unsigned q; the -8 comes back as 8 * sum(a) per block. */
static void dot_q4_0_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    for (int r = 0; r < nr; r++) {
        const act_q8 *a = arows[r];
        float acc[8] = {0}, accm = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = w + b * 18, *qs = wb + 2;
            const float dd = fp16_at(wb) * a[b].d;
            for (int k = 0; k < 8; k++) {
                int s = 0;
                for (int i = 4 * k; i < 4 * k + 4; i++) s += (i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4) * a[b].qs[i];
                acc[k] = fmaf(dd, (float)s, acc[k]);
            }
            accm = fmaf(dd, (float)(8 * a[b].sum), accm);
        }
        out[r] = hsum8_ref(acc) - accm;
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
        float acc[8] = {0}, accm = 0.0f;
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
            int msum = 0;
            for (int sub = 0; sub < 8; sub++) msum += mn[sub] * (a[b].bsums[2 * sub] + a[b].bsums[2 * sub + 1]);
            const float dd = fp16_at(wb) * a[b].d, dm = fp16_at(wb + 2) * a[b].d;
            for (int k = 0; k < 8; k++) acc[k] = fmaf(dd, (float)lane[k], acc[k]);
            accm = fmaf(dm, (float)msum, accm);
        }
        out[r] = hsum8_ref(acc) - accm;
    }
}

/* Q6_K (210 B: ql[128], qh[64], int8 sc[16], fp16 d; element i: half h =
 * i/128, r = i%128, quarter k = r/32, l = r%32: low 4 bits from
 * ql[64h + 32(k&1) + l] (low nibble for k < 2), high 2 bits from bits 2k of
 * qh[32h + l], value d*sc[i/16]*(q-32)) x act_q8k. The sum runs over the
 * unsigned q; the -32 comes back as 32 * sum_s sc_s * bsums_s. */
static void dot_q6_k_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    for (int r = 0; r < nr; r++) {
        const act_q8k *a = arows[r];
        float acc[8] = {0}, accm = 0.0f;
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
            int corr = 0;
            for (int s = 0; s < 16; s++) corr += sc[s] * a[b].bsums[s];
            const float dd = fp16_at(wb + 208) * a[b].d;
            for (int k = 0; k < 8; k++) acc[k] = fmaf(dd, (float)lane[k], acc[k]);
            accm = fmaf(dd, (float)(32 * corr), accm);
        }
        out[r] = hsum8_ref(acc) - accm;
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

AVX2_INLINE void q8_0_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[ROWS];
    const act_q8 *a[ROWS];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps(), a[r] = arows[r];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 34;
        const float dw = h16(wb);
        const __m256i wq = _mm256_loadu_si256((const __m256i *)(const void *)(wb + 2));
        const __m256i ax = _mm256_sign_epi8(wq, wq);
        for (int r = 0; r < nr; r++) {
            const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)a[r][b].qs);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(y, wq)), ones);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dw * a[r][b].d), _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(acc[r]);
}

AVX2_FN static void dot_q8_0_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q8_0_body(out, w, arows, ROWS, nb);
    else q8_0_body(out, w, arows, nr, nb);
}

AVX2_INLINE void q4_0_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[ROWS];
    float accm[ROWS];
    const act_q8 *a[ROWS];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps(), accm[r] = 0.0f, a[r] = arows[r];
    const __m256i ones = _mm256_set1_epi16(1);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 18;
        const float dw = h16(wb);
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(wb + 2));
        const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(x, m4)),
                                                  _mm_and_si128(_mm_srli_epi16(x, 4), m4), 1);
        for (int r = 0; r < nr; r++) {
            const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)a[r][b].qs);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones);
            const float dd = dw * a[r][b].d;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(p), acc[r]);
            accm[r] = fmaf(dd, (float)(8 * a[r][b].sum), accm[r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(acc[r]) - accm[r];
}

AVX2_FN static void dot_q4_0_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q4_0_body(out, w, arows, ROWS, nb);
    else q4_0_body(out, w, arows, nr, nb);
}

AVX2_INLINE void qk45_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb, int five) {
    const int bb = five ? 176 : 144;
    __m256 acc[ROWS];
    float accm[ROWS];
    const act_q8k *a[ROWS];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps(), accm[r] = 0.0f, a[r] = arows[r];
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * bb, *qs = wb + 16 + (five ? 32 : 0);
        uint8_t sc[8], mn[8];
        k_scales(wb + 4, sc, mn);
        const __m256i hb = five ? _mm256_loadu_si256((const __m256i *)(const void *)(wb + 16)) : _mm256_setzero_si256();
        __m256i sumi[ROWS];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
            }
            const __m256i slo = _mm256_set1_epi16(sc[2 * j]), shi = _mm256_set1_epi16(sc[2 * j + 1]);
            for (int r = 0; r < nr; r++) {
                const int8_t *y = a[r][b].qs + 64 * j;
                const __m256i plo = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(const void *)y)), slo);
                const __m256i phi = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(const void *)(y + 32))), shi);
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(plo, phi));
            }
        }
        const float d = h16(wb), dmin = h16(wb + 2);
        for (int r = 0; r < nr; r++) {
            const int16_t *bs = a[r][b].bsums;
            int msum = 0;
            for (int s = 0; s < 8; s++) msum += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[r][b].d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            accm[r] = fmaf(dmin * a[r][b].d, (float)msum, accm[r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(acc[r]) - accm[r];
}

AVX2_FN static void dot_q4_k_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) qk45_body(out, w, arows, ROWS, nb, 0);
    else qk45_body(out, w, arows, nr, nb, 0);
}

AVX2_FN static void dot_q5_k_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) qk45_body(out, w, arows, ROWS, nb, 1);
    else qk45_body(out, w, arows, nr, nb, 1);
}

AVX2_INLINE void q6_k_body(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    __m256 acc[ROWS];
    float accm[ROWS];
    const act_q8k *a[ROWS];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps(), accm[r] = 0.0f, a[r] = arows[r];
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = w + b * 210;
        const int8_t *sc = (const int8_t *)(wb + 192);
        __m256i sumi[ROWS];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(const void *)(wb + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(const void *)(wb + 64 * h + 32));
            const __m256i hh = _mm256_loadu_si256((const __m256i *)(const void *)(wb + 128 + 32 * h));
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
                for (int r = 0; r < nr; r++) {
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(a[r][b].qs + 32 * c));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], y), s));
                }
            }
        }
        const float d = h16(wb + 208);
        for (int r = 0; r < nr; r++) {
            const int16_t *bs = a[r][b].bsums;
            int corr = 0;
            for (int s = 0; s < 16; s++) corr += sc[s] * bs[s];
            const float dd = d * a[r][b].d;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            accm[r] = fmaf(dd, (float)(32 * corr), accm[r]);
        }
    }
    for (int r = 0; r < nr; r++) out[r] = hsum8_avx(acc[r]) - accm[r];
}

AVX2_FN static void dot_q6_k_avx2(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    if (nr == ROWS) q6_k_body(out, w, arows, ROWS, nb);
    else q6_k_body(out, w, arows, nr, nb);
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

typedef void (*dot_fn)(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb);

static void dot_q4_k_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    dot_qk45_ref(out, w, arows, nr, nb, 0);
}
static void dot_q5_k_ref(float *out, const uint8_t *w, const void *const *arows, int nr, int64_t nb) {
    dot_qk45_ref(out, w, arows, nr, nb, 1);
}

/* The kernel for TYPE and IMPL (AUTO resolved), NULL for a type without one. */
static dot_fn pick(int type, int_impl impl) {
    const bool avx2 = impl == INT_IMPL_AVX2 || (impl == INT_IMPL_AUTO && int_have_avx2());
#ifdef INT_X86
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
    /* activation rows: K/32 act_q8 and/or K/256 act_q8k blocks each */
    const size_t nb8 = (size_t)(K / QK), nb8k = (size_t)(K / QK_K);
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
#pragma omp parallel for num_threads(n_threads) schedule(static) if (N * K > 32768)
    for (int64_t n = 0; n < N; n++) {
        if (a8) quantize_act_q8(a8 + (size_t)n * nb8, in + n * K, K);
        if (a8k) quantize_act_q8k(a8k + (size_t)n * nb8k, in + n * K, K);
    }

    int64_t first_tile[MATMUL_MAX_MATS + 1];
    first_tile[0] = 0;
    for (int j = 0; j < n_mats; j++) first_tile[j + 1] = first_tile[j] + (W[j]->rows + MATMUL_TILE_COLS - 1) / MATMUL_TILE_COLS;
    const int64_t n_tiles = first_tile[n_mats];
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (n_tiles > 1)
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
            for (int64_t o = c0; o < c0 + nc; o++) {
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
