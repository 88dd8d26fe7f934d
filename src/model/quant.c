/*
 * quant.c — dequantisation of GGUF tensor rows to F32, and the block-size
 * table the GGUF reader uses to validate tensor sizes.
 *
 * Weights stay quantised in the memory map and every matrix is expanded row
 * by row on each forward pass, so attrib_dequant_row is on the hot path. Its
 * kernels are plain fixed-length loops over one block (restrict-qualified so
 * the byte source cannot alias the float output) that GCC and clang
 * vectorise at -O3; the K-quants first unpack a super-block into a small
 * integer buffer, then run one multiply(-subtract) loop per sub-block. F16
 * rows use the F16C conversion instruction when the CPU has it.
 *
 * attrib_dequant_row_ref is a deliberately different, element-at-a-time
 * formulation written straight from the block layouts: element i of a block
 * finds its own nibble, high bit, scale and minimum. The tests require the
 * two to agree bit for bit, so both evaluate the same float expressions in
 * the same order (ggml's: d*q, d*q + m, (d*sc)*q - (dmin*mn), (d*sc)*q) and
 * the file forbids fused multiply-add contraction, which would round
 * differently in one twin than in the other.
 *
 * Block layouts (ggml), all little-endian, fp16 scales:
 *   Q4_0  32 el, 18 B: d, qs[16]          low nibbles = el 0..15, high = 16..31
 *   Q4_1  32 el, 20 B: d, m, qs[16]       value = d*q + m
 *   Q5_0  32 el, 22 B: d, qh[4], qs[16]   bit i of qh (u32) is bit 4 of el i
 *   Q5_1  32 el, 24 B: d, m, qh[4], qs[16]
 *   Q8_0  32 el, 34 B: d, int8 qs[32]
 *   Q4_K 256 el, 144 B: d, dmin, scales[12], qs[128]
 *   Q5_K 256 el, 176 B: d, dmin, scales[12], qh[32], qs[128]
 *   Q6_K 256 el, 210 B: ql[128], qh[64], int8 scales[16], d
 *   Q2_K 256 el,  84 B: scales[16], qs[64], d, dmin
 *        16 sub-blocks of 16; scale byte s = 4-bit scale | 4-bit min << 4;
 *        value = (d*sc)*q - (dmin*mn), q = 2 bits
 *   Q3_K 256 el, 110 B: hmask[32], qs[64], scales[12], d
 *        16 sub-blocks of 16 with 6-bit scales stored with a bias of 32;
 *        q = low 2 bits - (high bit clear ? 4 : 0), value = (d*(sc-32))*q
 *   IQ4_NL 32 el, 18 B: d, qs[16]          value = d * IQ4_TABLE[nibble]
 *   IQ4_XS 256 el, 136 B: d, scales_h (u16), scales_l[4], qs[128]
 *        8 sub-blocks of 32, 6-bit scales with a bias of 32,
 *        value = (d*(sc-32)) * IQ4_TABLE[nibble]
 * In Q2_K and Q3_K the 2-bit fields are spread the same way: element i of a
 * super-block lies in half h = i/128; within the half, i%128 = 32*j + l takes
 * bits 2j..2j+1 of qs[32*h + l]. The Q3_K high bit of that element is bit
 * 4*h + j of hmask[l]. In IQ4_NL and IQ4_XS, as in Q4_0, a 32-element group
 * keeps elements 0..15 in the low nibbles of 16 bytes and 16..31 in the high.
 */
#include "model/quant.h"

#include "basics/common.h"
#include "basics/gguf.h"

#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QUANT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define QK 32    /* elements per block of the legacy formats */
#define QK_K 256 /* elements per K-quant super-block */

/* The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl): a fixed,
 * non-uniform grid, denser near zero, that a 4-bit index selects. */
static const int8_t IQ4_TABLE[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* ---------------------------------------------------------------------------
 * Small helpers. Block fields are read with memcpy because blocks of 18, 22
 * or 210 bytes leave most fields unaligned.
 * ------------------------------------------------------------------------- */

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline uint32_t rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline float fp16_at(const uint8_t *p) {
    return attrib_fp16_to_f32(rd16(p));
}

/* Branch-free fp16 -> f32 written with selects so that an F16 row loop
 * vectorises on CPUs without F16C. Exact for every input, including
 * subnormals (m * 2^-24 is exactly representable) and NaN payloads. */
static inline uint32_t fp16_bits_to_f32_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    union { float f; uint32_t u; } sub;
    sub.f = (float)mant * 0x1p-24f;
    uint32_t normal = ((exp + 112u) << 23) | (mant << 13);
    uint32_t special = 0x7f800000u | (mant << 13);
    uint32_t mag = exp == 0 ? sub.u : (exp == 31 ? special : normal);
    return sign | mag;
}

/* ---------------------------------------------------------------------------
 * Block-size table (also the GGUF reader's notion of a known tensor type).
 * ------------------------------------------------------------------------- */

bool gguf_type_block(int type, int *block_elems, int *block_bytes) {
    int e, b;
    switch (type) {
    case ATTRIB_DTYPE_F32: e = 1; b = 4; break;
    case ATTRIB_DTYPE_F16: e = 1; b = 2; break;
    case ATTRIB_DTYPE_BF16: e = 1; b = 2; break;
    case ATTRIB_DTYPE_Q4_0: e = QK; b = 2 + QK / 2; break;
    case ATTRIB_DTYPE_Q4_1: e = QK; b = 4 + QK / 2; break;
    case ATTRIB_DTYPE_Q5_0: e = QK; b = 2 + 4 + QK / 2; break;
    case ATTRIB_DTYPE_Q5_1: e = QK; b = 4 + 4 + QK / 2; break;
    case ATTRIB_DTYPE_Q8_0: e = QK; b = 2 + QK; break;
    case ATTRIB_DTYPE_Q4_K: e = QK_K; b = 4 + 12 + QK_K / 2; break;
    case ATTRIB_DTYPE_Q5_K: e = QK_K; b = 4 + 12 + QK_K / 8 + QK_K / 2; break;
    case ATTRIB_DTYPE_Q6_K: e = QK_K; b = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2; break;
    case ATTRIB_DTYPE_Q2_K: e = QK_K; b = QK_K / 16 + QK_K / 4 + 4; break;
    case ATTRIB_DTYPE_Q3_K: e = QK_K; b = QK_K / 8 + QK_K / 4 + 12 + 2; break;
    case ATTRIB_DTYPE_IQ4_NL: e = QK; b = 2 + QK / 2; break;
    case ATTRIB_DTYPE_IQ4_XS: e = QK_K; b = 2 + 2 + QK_K / 64 + QK_K / 2; break;
    default: return false;
    }
    if (block_elems) *block_elems = e;
    if (block_bytes) *block_bytes = b;
    return true;
}

bool gguf_row_bytes(int type, int64_t ne0, uint64_t *bytes) {
    int be, bb;
    if (!gguf_type_block(type, &be, &bb) || ne0 < 0 || ne0 % be != 0) return false;
    uint64_t r;
    if (!attrib_mul_u64((uint64_t)(ne0 / be), (uint64_t)bb, &r)) return false;
    if (bytes) *bytes = r;
    return true;
}

/* Validates (type, n) for both entry points; returns the block count. */
static int64_t n_blocks(int type, int64_t n) {
    int be;
    if (!gguf_type_block(type, &be, NULL) || n < 0 || n % be != 0) return -1;
    return n / be;
}

/* ---------------------------------------------------------------------------
 * Reference twin: element-at-a-time, straight from the layouts above.
 * ------------------------------------------------------------------------- */

/* 6-bit scale and minimum of sub-block J (0..7) of a Q4_K/Q5_K super-block.
 * Sub-blocks 0..3 keep both in the low 6 bits of bytes J and J+4; 4..7 put
 * the low 4 bits in byte J+4 and the top 2 bits in the spare top bits of
 * bytes J-4 (scale) and J (minimum). */
static void k_scale_min(const uint8_t *s, int j, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* 6-bit scale of sub-block S (0..15) of a Q3_K super-block, still biased by
 * 32: its low 4 bits are nibble S/8 of byte S%8, its top 2 bits are bit pair
 * S/4 of byte 8 + S%4. */
static int q3k_scale(const uint8_t *s, int sub) {
    int lo = (s[sub % 8] >> (4 * (sub / 8))) & 0x0f;
    int hi = (s[8 + sub % 4] >> (2 * (sub / 4))) & 3;
    return lo | (hi << 4);
}

/* 6-bit scale of sub-block S (0..7) of an IQ4_XS super-block, biased by 32:
 * low 4 bits in nibble S%2 of scales_l[S/2], top 2 bits in bits 2S, 2S+1 of
 * the little-endian scales_h. */
static int iq4xs_scale(const uint8_t *b, int sub) {
    unsigned sh = (unsigned)b[2] | ((unsigned)b[3] << 8);
    int lo = (b[4 + sub / 2] >> (4 * (sub % 2))) & 0x0f;
    int hi = (int)((sh >> (2 * sub)) & 3u);
    return lo | (hi << 4);
}

static float ref_element(int type, const uint8_t *b, int i) {
    switch (type) {
    case ATTRIB_DTYPE_Q4_0: {
        const uint8_t *qs = b + 2;
        int q = i < 16 ? (qs[i] & 0x0f) : (qs[i - 16] >> 4);
        return (float)(q - 8) * fp16_at(b);
    }
    case ATTRIB_DTYPE_Q4_1: {
        const uint8_t *qs = b + 4;
        int q = i < 16 ? (qs[i] & 0x0f) : (qs[i - 16] >> 4);
        return (float)q * fp16_at(b) + fp16_at(b + 2);
    }
    case ATTRIB_DTYPE_Q5_0: {
        uint32_t qh = rd32le(b + 2);
        const uint8_t *qs = b + 6;
        int lo = i < 16 ? (qs[i] & 0x0f) : (qs[i - 16] >> 4);
        int q = lo | (int)(((qh >> i) & 1u) << 4);
        return (float)(q - 16) * fp16_at(b);
    }
    case ATTRIB_DTYPE_Q5_1: {
        uint32_t qh = rd32le(b + 4);
        const uint8_t *qs = b + 8;
        int lo = i < 16 ? (qs[i] & 0x0f) : (qs[i - 16] >> 4);
        int q = lo | (int)(((qh >> i) & 1u) << 4);
        return (float)q * fp16_at(b) + fp16_at(b + 2);
    }
    case ATTRIB_DTYPE_Q8_0:
        return (float)(int8_t)b[2 + i] * fp16_at(b);
    case ATTRIB_DTYPE_Q4_K:
    case ATTRIB_DTYPE_Q5_K: {
        int five = type == ATTRIB_DTYPE_Q5_K;
        const uint8_t *scales = b + 4;
        const uint8_t *qh = b + 16;
        const uint8_t *qs = b + 16 + (five ? 32 : 0);
        int sub = i / 32;          /* sub-block with its own scale/min */
        int g = i / 64, l = i % 64; /* 32 bytes of qs serve 64 elements */
        int q = l < 32 ? (qs[g * 32 + l] & 0x0f) : (qs[g * 32 + l - 32] >> 4);
        if (five) q += ((qh[i % 32] >> sub) & 1) << 4;
        int sc, mn;
        k_scale_min(scales, sub, &sc, &mn);
        float d1 = fp16_at(b) * (float)sc;
        float m1 = fp16_at(b + 2) * (float)mn;
        return d1 * (float)q - m1;
    }
    case ATTRIB_DTYPE_Q6_K: {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        int h = i / 128, r = i % 128, k = r / 32, l = r % 32;
        int lo = ql[h * 64 + (k & 1) * 32 + l];
        lo = k < 2 ? (lo & 0x0f) : (lo >> 4);
        int hi = (qh[h * 32 + l] >> (2 * k)) & 3;
        int q = (lo | (hi << 4)) - 32;
        float ds = fp16_at(b + 208) * (float)sc[h * 8 + l / 16 + 2 * k];
        return ds * (float)q;
    }
    case ATTRIB_DTYPE_Q2_K: {
        const uint8_t *qs = b + 16;
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        int q = (qs[h * 32 + l] >> (2 * j)) & 3;
        int sm = b[i / 16]; /* sub-blocks of 16 elements */
        float d1 = fp16_at(b + 80) * (float)(sm & 0x0f);
        float m1 = fp16_at(b + 82) * (float)(sm >> 4);
        return d1 * (float)q - m1;
    }
    case ATTRIB_DTYPE_Q3_K: {
        const uint8_t *hm = b, *qs = b + 32;
        int h = i / 128, j = (i % 128) / 32, l = i % 32;
        int lo = (qs[h * 32 + l] >> (2 * j)) & 3;
        int high = (hm[l] >> (4 * h + j)) & 1;
        int q = high ? lo : lo - 4;
        float ds = fp16_at(b + 108) * (float)(q3k_scale(b + 96, i / 16) - 32);
        return ds * (float)q;
    }
    case ATTRIB_DTYPE_IQ4_NL: {
        const uint8_t *qs = b + 2;
        int q = i < 16 ? (qs[i] & 0x0f) : (qs[i - 16] >> 4);
        return fp16_at(b) * (float)IQ4_TABLE[q];
    }
    case ATTRIB_DTYPE_IQ4_XS: {
        int sub = i / 32, k = i % 32;
        uint8_t byte = b[8 + sub * 16 + k % 16];
        int q = k < 16 ? (byte & 0x0f) : (byte >> 4);
        float ds = fp16_at(b) * (float)(iq4xs_scale(b, sub) - 32);
        return ds * (float)IQ4_TABLE[q];
    }
    default:
        return 0.0f;
    }
}

int attrib_dequant_row_ref(int type, const void *src, float *dst, int64_t n) {
    int64_t nb = n_blocks(type, n);
    if (nb < 0) return -1;
    const uint8_t *p = (const uint8_t *)src;
    switch (type) {
    case ATTRIB_DTYPE_F32:
        for (int64_t i = 0; i < n; i++) memcpy(&dst[i], p + 4 * i, 4);
        return 0;
    case ATTRIB_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = attrib_fp16_to_f32(rd16(p + 2 * i));
        return 0;
    case ATTRIB_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = attrib_bf16_to_f32(rd16(p + 2 * i));
        return 0;
    default: break;
    }
    int be = 1, bb = 1;
    gguf_type_block(type, &be, &bb);
    for (int64_t blk = 0; blk < nb; blk++)
        for (int i = 0; i < be; i++) dst[blk * be + i] = ref_element(type, p + blk * bb, i);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Fast kernels: unpack to int8, then one float loop.
 * ------------------------------------------------------------------------- */

#ifdef QUANT_X86
__attribute__((target("avx,f16c"))) static void f16_row_f16c(const uint8_t *p, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) {
        union { uint32_t u; float f; } v;
        v.u = fp16_bits_to_f32_bits(rd16(p + 2 * i));
        dst[i] = v.f;
    }
}

static int have_f16c(void) {
    static int cached = -1; /* benign race: every thread computes the same value */
    if (cached < 0) {
        /* "avx" also tells that the OS saves YMM state; F16C is CPUID.1:ECX
         * bit 29 (clang's __builtin_cpu_supports does not know "f16c"). */
        unsigned a, b, c, d;
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) ? 1 : 0;
    }
    return cached;
}
#endif

static void f16_row(const uint8_t *restrict p, float *restrict dst, int64_t n) {
#ifdef QUANT_X86
    if (have_f16c()) {
        f16_row_f16c(p, dst, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = fp16_bits_to_f32_bits(rd16(p + 2 * i));
        memcpy(&dst[i], &u, 4);
    }
}

static void bf16_row(const uint8_t *restrict p, float *restrict dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = attrib_bf16_to_f32(rd16(p + 2 * i));
}

/* The legacy formats are expanded in two 16-element halves (low nibbles, then
 * high nibbles) straight from the bytes: each half is one 16-lane loop, which
 * vectorises cleanly at every vector width, whereas a 32-byte int8 staging
 * buffer made GCC's AVX-512 code several times slower. */
static void q4_0_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 18, dst += QK) {
        const uint8_t *qs = p + 2;
        float d = fp16_at(p);
        for (int j = 0; j < 16; j++) dst[j] = (float)((qs[j] & 0x0f) - 8) * d;
        for (int j = 0; j < 16; j++) dst[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void q4_1_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 20, dst += QK) {
        const uint8_t *qs = p + 4;
        float d = fp16_at(p), m = fp16_at(p + 2);
        for (int j = 0; j < 16; j++) dst[j] = (float)(qs[j] & 0x0f) * d + m;
        for (int j = 0; j < 16; j++) dst[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
}

/* Bit j of QH is bit 4 of element j, bit j+16 that of element j+16. */
static void q5_0_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 22, dst += QK) {
        const uint8_t *qs = p + 6;
        uint32_t qh = rd32le(p + 2);
        float d = fp16_at(p);
        for (int j = 0; j < 16; j++)
            dst[j] = (float)((int)((qs[j] & 0x0fu) | (((qh >> j) << 4) & 0x10u)) - 16) * d;
        for (int j = 0; j < 16; j++)
            dst[j + 16] = (float)((int)((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10u)) - 16) * d;
    }
}

static void q5_1_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 24, dst += QK) {
        const uint8_t *qs = p + 8;
        uint32_t qh = rd32le(p + 4);
        float d = fp16_at(p), m = fp16_at(p + 2);
        for (int j = 0; j < 16; j++)
            dst[j] = (float)((qs[j] & 0x0fu) | (((qh >> j) << 4) & 0x10u)) * d + m;
        for (int j = 0; j < 16; j++)
            dst[j + 16] = (float)((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10u)) * d + m;
    }
}

static void q8_0_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 34, dst += QK) {
        float d = fp16_at(p);
        const int8_t *qs = (const int8_t *)(p + 2);
        for (int j = 0; j < QK; j++) dst[j] = (float)qs[j] * d;
    }
}

/* All eight 6-bit scales and minimums of a Q4_K/Q5_K super-block at once. */
static inline void k_unpack_scales(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* Q4_K and Q5_K share everything but the fifth bit. */
static void qk45_row(const uint8_t *restrict p, float *restrict dst, int64_t nb, int five) {
    const int bb = five ? 176 : 144;
    for (int64_t b = 0; b < nb; b++, p += bb, dst += QK_K) {
        uint8_t sc[8], mn[8];
        uint8_t q[QK_K];
        float d = fp16_at(p), dmin = fp16_at(p + 2);
        const uint8_t *qh = p + 16;
        const uint8_t *qs = p + 16 + (five ? 32 : 0);
        k_unpack_scales(p + 4, sc, mn);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                q[g * 64 + l] = qs[g * 32 + l] & 0x0f;
                q[g * 64 + 32 + l] = qs[g * 32 + l] >> 4;
            }
        if (five)
            for (int s = 0; s < 8; s++)
                for (int l = 0; l < 32; l++) q[s * 32 + l] |= (uint8_t)(((qh[l] >> s) & 1) << 4);
        for (int s = 0; s < 8; s++) {
            float d1 = d * (float)sc[s], m1 = dmin * (float)mn[s];
            const uint8_t *qq = q + s * 32;
            float *y = dst + s * 32;
            for (int l = 0; l < 32; l++) y[l] = d1 * (float)qq[l] - m1;
        }
    }
}

static void q6_k_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 210, dst += QK_K) {
        int8_t q[QK_K];
        const int8_t *sc = (const int8_t *)(p + 192);
        float d = fp16_at(p + 208);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = p + h * 64, *qh = p + 128 + h * 32;
            int8_t *qq = q + h * 128;
            for (int l = 0; l < 32; l++) {
                qq[l] = (int8_t)(((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32);
                qq[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
                qq[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                qq[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        /* Scale s covers elements 16*s .. 16*s+15. */
        for (int s = 0; s < 16; s++) {
            float ds = d * (float)sc[s];
            for (int l = 0; l < 16; l++) dst[s * 16 + l] = ds * (float)q[s * 16 + l];
        }
    }
}

/* Q2_K: unpack the 2-bit quants, then one multiply-subtract loop per
 * 16-element sub-block. */
static void q2_k_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 84, dst += QK_K) {
        uint8_t q[QK_K];
        const uint8_t *qs = p + 16;
        float d = fp16_at(p + 80), dmin = fp16_at(p + 82);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) q[h * 128 + j * 32 + l] = (uint8_t)((qs[h * 32 + l] >> (2 * j)) & 3);
        for (int s = 0; s < 16; s++) {
            float d1 = d * (float)(p[s] & 0x0f), m1 = dmin * (float)(p[s] >> 4);
            const uint8_t *qq = q + s * 16;
            float *y = dst + s * 16;
            for (int l = 0; l < 16; l++) y[l] = d1 * (float)qq[l] - m1;
        }
    }
}

/* Q3_K: all sixteen scales from the 12 packed bytes at once (the 4-bit low
 * parts are the nibbles of bytes 0..7, the 2-bit high parts the bit pairs
 * of bytes 8..11), quants to int8 in -4..3, then one loop per sub-block. */
static void q3_k_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 110, dst += QK_K) {
        int8_t q[QK_K];
        int sc[16];
        const uint8_t *hm = p, *qs = p + 32, *s = p + 96;
        float d = fp16_at(p + 108);
        for (int k = 0; k < 4; k++) {
            sc[k] = ((s[k] & 0x0f) | (((s[8 + k] >> 0) & 3) << 4)) - 32;
            sc[k + 4] = ((s[k + 4] & 0x0f) | (((s[8 + k] >> 2) & 3) << 4)) - 32;
            sc[k + 8] = ((s[k] >> 4) | (((s[8 + k] >> 4) & 3) << 4)) - 32;
            sc[k + 12] = ((s[k + 4] >> 4) | (((s[8 + k] >> 6) & 3) << 4)) - 32;
        }
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++) {
                int sh = 4 * h + j;
                for (int l = 0; l < 32; l++)
                    q[h * 128 + j * 32 + l] =
                        (int8_t)(((qs[h * 32 + l] >> (2 * j)) & 3) - (((hm[l] >> sh) & 1) ? 0 : 4));
            }
        for (int k = 0; k < 16; k++) {
            float ds = d * (float)sc[k];
            const int8_t *qq = q + k * 16;
            float *y = dst + k * 16;
            for (int l = 0; l < 16; l++) y[l] = ds * (float)qq[l];
        }
    }
}

/* IQ4_NL/IQ4_XS levels as floats (exact: they are small integers). */
static const float IQ4_TABLE_F[16] = {-127.0f, -104.0f, -83.0f, -65.0f, -49.0f, -35.0f, -22.0f, -10.0f,
                                      1.0f,    13.0f,   25.0f,  38.0f,  53.0f,  69.0f,  89.0f,  113.0f};

/* One 32-element IQ4 group: 16 bytes of index pairs times scale DS. */
static inline void iq4_group(const uint8_t *restrict qs, float ds, float *restrict y) {
    for (int j = 0; j < 16; j++) y[j] = ds * IQ4_TABLE_F[qs[j] & 0x0f];
    for (int j = 0; j < 16; j++) y[j + 16] = ds * IQ4_TABLE_F[qs[j] >> 4];
}

static void iq4_nl_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 18, dst += QK) iq4_group(p + 2, fp16_at(p), dst);
}

static void iq4_xs_row(const uint8_t *restrict p, float *restrict dst, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, p += 136, dst += QK_K) {
        float d = fp16_at(p);
        unsigned sh = (unsigned)p[2] | ((unsigned)p[3] << 8);
        for (int s = 0; s < 8; s++) {
            int ls = ((p[4 + s / 2] >> (4 * (s & 1))) & 0x0f) | (int)(((sh >> (2 * s)) & 3u) << 4);
            iq4_group(p + 8 + 16 * s, d * (float)(ls - 32), dst + 32 * s);
        }
    }
}

int attrib_dequant_row(int type, const void *src, float *dst, int64_t n) {
    int64_t nb = n_blocks(type, n);
    if (nb < 0) return -1;
    const uint8_t *p = (const uint8_t *)src;
    switch (type) {
    case ATTRIB_DTYPE_F32: memcpy(dst, p, (size_t)n * sizeof(float)); break;
    case ATTRIB_DTYPE_F16: f16_row(p, dst, n); break;
    case ATTRIB_DTYPE_BF16: bf16_row(p, dst, n); break;
    case ATTRIB_DTYPE_Q4_0: q4_0_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q4_1: q4_1_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q5_0: q5_0_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q5_1: q5_1_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q8_0: q8_0_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q4_K: qk45_row(p, dst, nb, 0); break;
    case ATTRIB_DTYPE_Q5_K: qk45_row(p, dst, nb, 1); break;
    case ATTRIB_DTYPE_Q6_K: q6_k_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q2_K: q2_k_row(p, dst, nb); break;
    case ATTRIB_DTYPE_Q3_K: q3_k_row(p, dst, nb); break;
    case ATTRIB_DTYPE_IQ4_NL: iq4_nl_row(p, dst, nb); break;
    case ATTRIB_DTYPE_IQ4_XS: iq4_xs_row(p, dst, nb); break;
    default: return -1;
    }
    return 0;
}
