/*
 * test-quant.c — tests of the dequantisation kernels and block table
 * (src/quant.c).
 *
 * Independent checks only: hand-built blocks whose expected floats are
 * worked out by hand in the comments (scale bytes packed by hand from the
 * ggml layouts; Q2_K, Q3_K, IQ4_NL and IQ4_XS included), every fp16/bf16 bit pattern against the IEEE formula
 * evaluated with ldexp, the block table against ggml's published sizes, and
 * row sizes against 128-bit arithmetic. The fast kernels are then required
 * to agree bit for bit with the reference twin on random blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basics/common.h"
#include "basics/gguf.h"
#include "model/quant.h"

typedef int (*dequant_fn)(int, const void *, float *, int64_t);

static const struct {
    int type;
    const char *name;
} TYPES[] = {
    {ATTRIB_DTYPE_F32, "F32"},   {ATTRIB_DTYPE_F16, "F16"},   {ATTRIB_DTYPE_BF16, "BF16"},
    {ATTRIB_DTYPE_Q4_0, "Q4_0"}, {ATTRIB_DTYPE_Q4_1, "Q4_1"}, {ATTRIB_DTYPE_Q5_0, "Q5_0"},
    {ATTRIB_DTYPE_Q5_1, "Q5_1"}, {ATTRIB_DTYPE_Q8_0, "Q8_0"}, {ATTRIB_DTYPE_Q4_K, "Q4_K"},
    {ATTRIB_DTYPE_Q5_K, "Q5_K"}, {ATTRIB_DTYPE_Q6_K, "Q6_K"}, {ATTRIB_DTYPE_Q2_K, "Q2_K"},
    {ATTRIB_DTYPE_Q3_K, "Q3_K"}, {ATTRIB_DTYPE_IQ4_NL, "IQ4_NL"}, {ATTRIB_DTYPE_IQ4_XS, "IQ4_XS"},
};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

/* Runs both kernels on SRC (N elements) and requires each to equal EXPECT
 * exactly. The source is also copied to an odd address so that unaligned
 * blocks are exercised (the sanitizer build reports misaligned loads). */
static void check_both(int type, const uint8_t *src, size_t src_bytes, const float *expect, int64_t n) {
    dequant_fn fns[2] = {attrib_dequant_row, attrib_dequant_row_ref};
    uint8_t *odd = malloc(src_bytes + 1);
    float *out = malloc((size_t)n * sizeof(float));
    assert_non_null(odd);
    assert_non_null(out);
    memcpy(odd + 1, src, src_bytes);
    for (int f = 0; f < 2; f++)
        for (int a = 0; a < 2; a++) {
            memset(out, 0xAB, (size_t)n * sizeof(float));
            assert_int_equal(fns[f](type, a ? odd + 1 : src, out, n), 0);
            for (int64_t i = 0; i < n; i++) {
                if (f32_bits(out[i]) != f32_bits(expect[i]))
                    fail_msg("type %d %s el %lld: got %.9g want %.9g", type, f ? "ref" : "fast",
                             (long long)i, (double)out[i], (double)expect[i]);
            }
        }
    free(odd);
    free(out);
}

/* ------------------------------------------------------------------------ */

static void test_block_table(void **state) {
    (void)state;
    /* ggml's type_traits: (blck_size, type_size). */
    static const struct { int type, be, bb; } want[] = {
        {0, 1, 4}, {1, 1, 2}, {30, 1, 2}, {2, 32, 18}, {3, 32, 20}, {6, 32, 22},
        {7, 32, 24}, {8, 32, 34}, {12, 256, 144}, {13, 256, 176}, {14, 256, 210},
        {10, 256, 84}, {11, 256, 110}, {20, 32, 18}, {23, 256, 136},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int be = -1, bb = -1;
        assert_true(gguf_type_block(want[k].type, &be, &bb));
        assert_int_equal(be, want[k].be);
        assert_int_equal(bb, want[k].bb);
    }
    /* GGUF types we do not support, and values that are not types at all. */
    static const int unknown[] = {-1, 4, 5, 9, 15, 16, 17, 18, 19, 21, 22, 24, 28, 29, 31, 34, 35, 39, 1000, 0x7fffffff};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        int be = 77, bb = 77;
        assert_false(gguf_type_block(unknown[k], &be, &bb));
        assert_int_equal(be, 77); /* outputs untouched on failure */
        uint64_t bytes = 99;
        assert_false(gguf_row_bytes(unknown[k], 256, &bytes));
        assert_int_equal(bytes, 99);
        float out[256];
        uint8_t src[1024] = {0};
        assert_int_equal(attrib_dequant_row(unknown[k], src, out, 256), -1);
        assert_int_equal(attrib_dequant_row_ref(unknown[k], src, out, 256), -1);
    }
    printf("block table: %zu known types, %zu unknown rejected\n", sizeof want / sizeof want[0],
           sizeof unknown / sizeof unknown[0]);
}

static void test_row_bytes(void **state) {
    (void)state;
    uint64_t b = 0;
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_Q4_0, 32, &b));
    assert_int_equal(b, 18);
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_Q4_0, 4096, &b));
    assert_int_equal(b, 128 * 18);
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_Q6_K, 4096, &b));
    assert_int_equal(b, 16 * 210);
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_F16, 7, &b));
    assert_int_equal(b, 14);
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_F32, 0, &b));
    assert_int_equal(b, 0);

    /* Not a multiple of the block size. */
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_Q4_0, 33, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_Q8_0, 16, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_Q4_K, 128, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_Q6_K, 257, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_Q2_K, 32, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_IQ4_XS, 224, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_IQ4_NL, 48, &b));
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_IQ4_NL, 96, &b));
    assert_int_equal(b, 3 * 18);
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_Q3_K, 4096, &b));
    assert_int_equal(b, 16 * 110);
    /* Negative. */
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_F32, -1, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_Q4_0, -32, &b));
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_F32, INT64_MIN, &b));

    /* Overflow boundary of 64-bit byte counts, checked with 128-bit math. */
    for (size_t t = 0; t < N_TYPES; t++) {
        int be, bb;
        assert_true(gguf_type_block(TYPES[t].type, &be, &bb));
        int64_t cands[] = {INT64_MAX - INT64_MAX % be, ((int64_t)1 << 62) - ((int64_t)1 << 62) % be,
                           (((int64_t)1 << 62) / be - 1) * be, (int64_t)be * 1000003};
        for (size_t c = 0; c < sizeof cands / sizeof cands[0]; c++) {
            unsigned __int128 exact = (unsigned __int128)(uint64_t)(cands[c] / be) * (unsigned)bb;
            uint64_t got = 0;
            bool ok = gguf_row_bytes(TYPES[t].type, cands[c], &got);
            if (exact > UINT64_MAX) {
                assert_false(ok);
            } else {
                assert_true(ok);
                assert_true(got == (uint64_t)exact);
            }
        }
    }
    /* Specific overflowing cases: 2^62 F32 elements are 2^64 bytes. */
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_F32, (int64_t)1 << 62, &b));
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_F32, ((int64_t)1 << 62) - 1, &b));
    assert_true(b == UINT64_MAX - 3);
    assert_false(gguf_row_bytes(ATTRIB_DTYPE_F32, INT64_MAX, &b));
    /* Q8_0: INT64_MAX rounded down to 32 is 2^58-1 blocks * 34 < 2^64: fits. */
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_Q8_0, INT64_MAX - 31, &b));
    assert_true(b == (((uint64_t)1 << 58) - 1) * 34);
    /* F16: INT64_MAX elements are 2^64 - 2 bytes, just inside. */
    assert_true(gguf_row_bytes(ATTRIB_DTYPE_F16, INT64_MAX, &b));
    assert_true(b == UINT64_MAX - 1);
    printf("row bytes: exact values, block multiples, negatives and 64-bit overflow\n");
}

/* Dequantising a length that is not a whole number of blocks is refused. */
static void test_bad_length(void **state) {
    (void)state;
    uint8_t src[512] = {0};
    float out[512];
    assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_Q4_0, src, out, 31), -1);
    assert_int_equal(attrib_dequant_row_ref(ATTRIB_DTYPE_Q4_K, src, out, 255), -1);
    assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_F32, src, out, -4), -1);
    assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_F32, src, out, 0), 0);
}

/* ------------------------------------------------------------------------
 * Hand-built blocks.
 * ---------------------------------------------------------------------- */

static void test_q8_0_hand(void **state) {
    (void)state;
    /* Two blocks: d = 0.5 (fp16 0x3800) with qs = -16..15 gives -8.0 .. 7.5;
     * d = -2 (0xC000) with qs = 127, -128, 0, ... gives -254, 256, 0, ... */
    uint8_t b[68] = {0};
    float want[64] = {0};
    put16(b, 0x3800);
    for (int j = 0; j < 32; j++) {
        b[2 + j] = (uint8_t)(int8_t)(j - 16);
        want[j] = (float)(j - 16) / 2.0f;
    }
    put16(b + 34, 0xC000);
    b[36] = 127;
    b[37] = 0x80;
    want[32] = -254.0f;
    want[33] = 256.0f;
    for (int j = 34; j < 64; j++) want[j] = -0.0f; /* 0 * -2 is negative zero */
    check_both(ATTRIB_DTYPE_Q8_0, b, sizeof b, want, 64);
    printf("Q8_0: hand-built blocks ok\n");
}

static void test_q4_0_hand(void **state) {
    (void)state;
    /* d = 2 (0x4000); byte j holds j (low) and 15-j (high).
     * Element j (j<16) is low nibble j: (j-8)*2; element 16+j is 15-j: (7-j)*2. */
    uint8_t b[18];
    float want[32];
    put16(b, 0x4000);
    for (int j = 0; j < 16; j++) {
        b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
        want[j] = (float)((j - 8) * 2);
        want[16 + j] = (float)((7 - j) * 2);
    }
    check_both(ATTRIB_DTYPE_Q4_0, b, sizeof b, want, 32);
    printf("Q4_0: hand-built block ok (low nibbles = elements 0..15)\n");
}

static void test_q4_1_hand(void **state) {
    (void)state;
    /* d = 0.25 (0x3400), m = -1 (0xBC00); byte j = j | (j^5)<<4.
     * Element j: j/4 - 1; element 16+j: (j^5)/4 - 1. */
    uint8_t b[20];
    float want[32];
    put16(b, 0x3400);
    put16(b + 2, 0xBC00);
    for (int j = 0; j < 16; j++) {
        b[4 + j] = (uint8_t)(j | ((j ^ 5) << 4));
        want[j] = (float)j * 0.25f - 1.0f;
        want[16 + j] = (float)(j ^ 5) * 0.25f - 1.0f;
    }
    check_both(ATTRIB_DTYPE_Q4_1, b, sizeof b, want, 32);
    printf("Q4_1: hand-built block ok\n");
}

static void test_q5_0_hand(void **state) {
    (void)state;
    /* d = 1 (0x3C00); qh = 0x80000001 (bytes 01 00 00 80): elements 0 and 31
     * get bit 4. All qs bytes 0x33 except qs[0] = 0x53.
     *   el 0: 3|16 = 19 -> 3      el 16: 5 -> -11
     *   el 31: 3|16 = 19 -> 3     others: 3 -> -13 */
    uint8_t b[22];
    float want[32];
    put16(b, 0x3C00);
    b[2] = 0x01; b[3] = 0x00; b[4] = 0x00; b[5] = 0x80;
    memset(b + 6, 0x33, 16);
    b[6] = 0x53;
    for (int j = 0; j < 32; j++) want[j] = -13.0f;
    want[0] = 3.0f;
    want[16] = -11.0f;
    want[31] = 3.0f;
    check_both(ATTRIB_DTYPE_Q5_0, b, sizeof b, want, 32);
    printf("Q5_0: hand-built block ok (qh bit i is element i)\n");
}

static void test_q5_1_hand(void **state) {
    (void)state;
    /* d = 0.5 (0x3800), m = 10 (0x4900); qh = 0x00010000 -> only element 16
     * gets bit 4; every qs byte 0x21 (low 1, high 2).
     *   el 0..15: 1*0.5+10 = 10.5   el 16: 18*0.5+10 = 19   el 17..31: 11 */
    uint8_t b[24];
    float want[32];
    put16(b, 0x3800);
    put16(b + 2, 0x4900);
    b[4] = 0x00; b[5] = 0x00; b[6] = 0x01; b[7] = 0x00;
    memset(b + 8, 0x21, 16);
    for (int j = 0; j < 16; j++) want[j] = 10.5f;
    want[16] = 19.0f;
    for (int j = 17; j < 32; j++) want[j] = 11.0f;
    check_both(ATTRIB_DTYPE_Q5_1, b, sizeof b, want, 32);
    printf("Q5_1: hand-built block ok\n");
}

/* Scale bytes for Q4_K/Q5_K packed by hand for
 *   scales = {1, 2, 3, 4, 17, 33, 50, 63}, mins = {0, 5, 10, 63, 16, 31, 47, 20}:
 * bytes 0..3 = scale j | (scale j+4 >> 4) << 6, bytes 4..7 = min j | (min j+4 >> 4) << 6,
 * bytes 8..11 = (scale j+4 & 15) | (min j+4 & 15) << 4. */
static const uint8_t K_SCALES[12] = {0x41, 0x82, 0xC3, 0xC4, 0x40, 0x45, 0x8A, 0x7F,
                                     0x01, 0xF1, 0xF2, 0x4F};
/* With d = 1, dmin = 0.5 and every qs byte 0x21 (even sub-blocks read the low
 * nibble 1, odd sub-blocks the high nibble 2), sub-block s is sc*q - mn/2: */
static const float K_BASE[8] = {1.0f, 1.5f, -2.0f, -23.5f, 9.0f, 50.5f, 26.5f, 116.0f};

static void test_q4_k_hand(void **state) {
    (void)state;
    uint8_t b[144];
    float want[256];
    put16(b, 0x3C00);     /* d = 1 */
    put16(b + 2, 0x3800); /* dmin = 0.5 */
    memcpy(b + 4, K_SCALES, 12);
    memset(b + 16, 0x21, 128);
    /* qs[32] (group 1, first byte) = 0x73: el 64 (sub 2, low) = 3*3 - 5 = 4,
     * el 96 (sub 3, high) = 4*7 - 31.5 = -3.5. */
    b[16 + 32] = 0x73;
    for (int i = 0; i < 256; i++) want[i] = K_BASE[i / 32];
    want[64] = 4.0f;
    want[96] = -3.5f;
    check_both(ATTRIB_DTYPE_Q4_K, b, sizeof b, want, 256);
    printf("Q4_K: hand-built super-block ok (6-bit packed scales/mins)\n");
}

static void test_q5_k_hand(void **state) {
    (void)state;
    uint8_t b[176];
    float want[256];
    put16(b, 0x3C00);
    put16(b + 2, 0x3800);
    memcpy(b + 4, K_SCALES, 12);
    memset(b + 16, 0, 32);       /* qh */
    memset(b + 48, 0x21, 128);   /* qs */
    /* qh[0] = 0x05: bit 0 -> el 0 (sub 0): q = 17 -> 1*17 - 0 = 17;
     *               bit 2 -> el 64 (sub 2): q = 17 -> 3*17 - 5 = 46.
     * qh[31] = 0x80: bit 7 -> el 255 (sub 7): q = 18 -> 63*18 - 10 = 1124. */
    b[16] = 0x05;
    b[16 + 31] = 0x80;
    for (int i = 0; i < 256; i++) want[i] = K_BASE[i / 32];
    want[0] = 17.0f;
    want[64] = 46.0f;
    want[255] = 1124.0f;
    check_both(ATTRIB_DTYPE_Q5_K, b, sizeof b, want, 256);
    printf("Q5_K: hand-built super-block ok\n");
}

static void test_q6_k_hand(void **state) {
    (void)state;
    /* d = 0.5 (0x3800), scales[s] = s - 8 (int8), every ql byte 0x21, qh 0:
     * within each 128-element half, quarters 0,1 read low nibbles (1 -> -31)
     * and quarters 2,3 high nibbles (2 -> -30); element i uses scale i/16. */
    uint8_t b[210];
    float want[256];
    memset(b, 0x21, 128);
    memset(b + 128, 0, 64);
    for (int s = 0; s < 16; s++) b[192 + s] = (uint8_t)(int8_t)(s - 8);
    put16(b + 208, 0x3800);
    for (int i = 0; i < 256; i++) {
        int quarter = (i % 128) / 32;
        want[i] = 0.5f * (float)(i / 16 - 8) * (float)(quarter < 2 ? -31 : -30);
    }
    /* qh[0] = 0xE4 = 11 10 01 00: el 0 +0 (unchanged); el 32 bits 01 -> 1|16-32 = -15;
     * el 64 bits 10 -> 2|32-32 = 2; el 96 bits 11 -> 2|48-32 = 18.
     * qh[32] = 0x03 (second half): el 128 -> 1|48-32 = 17. */
    b[128] = 0xE4;
    b[128 + 32] = 0x03;
    want[32] = 0.5f * (float)(2 - 8) * -15.0f;  /* 45 */
    want[64] = 0.5f * (float)(4 - 8) * 2.0f;    /* -4 */
    want[96] = 0.5f * (float)(6 - 8) * 18.0f;   /* -18 */
    want[128] = 0.5f * (float)(8 - 8) * 17.0f;  /* 0 */
    /* A second ql pattern in the upper half: ql[64+40] = 0xF0 is byte 40 of
     * the second half: low 0 -> el 128+40 (quarter 1): 0-32 = -32, scale 10-8 = 2;
     * high 15 -> el 128+104 (quarter 3): 15-32 = -17, scale 14-8 = 6. */
    b[64 + 40] = 0xF0;
    want[128 + 40] = 0.5f * 2.0f * -32.0f;
    want[128 + 104] = 0.5f * 6.0f * -17.0f;
    check_both(ATTRIB_DTYPE_Q6_K, b, sizeof b, want, 256);
    printf("Q6_K: hand-built super-block ok (int8 scales, 2-bit high parts)\n");
}

/* Q2_K: 16 sub-blocks of 16 elements, byte s of scales = scale | min << 4.
 * Here scale s = s, min s = 15 - s (bytes 0xF0, 0xE1, ..., 0x0F), d = 0.5
 * (0x3800), dmin = 0.25 (0x3400), and every qs byte 0xE4 = 11 10 01 00b:
 * bit pair j of each byte gives 2-bit value j, and element i of a half
 * (i%128 = 32j + l) reads pair j of byte l, so every element has q = j and
 * value 0.5*s*j - 0.25*(15-s). */
static void test_q2_k_hand(void **state) {
    (void)state;
    uint8_t b[84];
    float want[256];
    for (int s = 0; s < 16; s++) b[s] = (uint8_t)(s | ((15 - s) << 4));
    memset(b + 16, 0xE4, 64);
    put16(b + 80, 0x3800);
    put16(b + 82, 0x3400);
    for (int i = 0; i < 256; i++) {
        int s = i / 16, j = (i % 128) / 32;
        want[i] = 0.5f * (float)(s * j) - 0.25f * (float)(15 - s);
    }
    /* qs[32+5] = 0x1B = 00 01 10 11b (second half, l = 5): pairs 3, 2, 1, 0.
     *   el 128+5   (j 0, s 8):  0.5*8*3  - 0.25*7 = 10.25
     *   el 128+37  (j 1, s 10): 0.5*10*2 - 0.25*5 = 8.75
     *   el 128+69  (j 2, s 12): 0.5*12*1 - 0.25*3 = 5.25
     *   el 128+101 (j 3, s 14): 0.5*14*0 - 0.25*1 = -0.25 */
    b[16 + 32 + 5] = 0x1B;
    want[133] = 10.25f;
    want[165] = 8.75f;
    want[197] = 5.25f;
    want[229] = -0.25f;
    /* qs[20] = 0x03 (first half, l = 20 >= 16: the second sub-block of each
     * 32): el 20 (s 1): 0.5*1*3 - 0.25*14 = -2; el 52 (s 3): 0 - 3 = -3;
     * el 84 (s 5): -2.5; el 116 (s 7): -2. */
    b[16 + 20] = 0x03;
    want[20] = -2.0f;
    want[52] = -3.0f;
    want[84] = -2.5f;
    want[116] = -2.0f;
    check_both(ATTRIB_DTYPE_Q2_K, b, sizeof b, want, 256);
    printf("Q2_K: hand-built super-block ok (4-bit scales and mins, 2-bit quants)\n");
}

/* Q3_K: sixteen 6-bit scales (bias 32) packed by hand. Chosen scales
 *   s:   0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
 *   sc: 32 33 31 40  0 63 16 48 34 30 35 29 36 28 37 27
 *   -32: 0  1 -1  8 -32 31 -16 16 2 -2  3 -3  4 -4  5 -5
 * Bytes 0..7: low 4 bits of sc[k] | low 4 bits of sc[k+8] << 4;
 * bytes 8..11: top 2 bits of sc[k], sc[k+4], sc[k+8], sc[k+12] in bit
 * pairs 0, 1, 2, 3 of byte 8+k. E.g. byte 9 = 2 | 3<<2 | 1<<4 | 1<<6 = 0x5E. */
static const uint8_t Q3K_SCALES[12] = {0x20, 0xE1, 0x3F, 0xD8, 0x40, 0xCF, 0x50, 0xB0, 0xA2, 0x5E, 0xA5, 0x5E};
static const int Q3K_SC[16] = {0, 1, -1, 8, -32, 31, -16, 16, 2, -2, 3, -3, 4, -4, 5, -5};

static void test_q3_k_hand(void **state) {
    (void)state;
    /* d = 0.5; every hmask bit set (no -4), every qs byte 0xE4 as in Q2_K:
     * element i has q = (i%128)/32 and value (0.5*sc[i/16]) * q. */
    uint8_t b[110];
    float want[256];
    memset(b, 0xFF, 32);
    memset(b + 32, 0xE4, 64);
    memcpy(b + 96, Q3K_SCALES, 12);
    put16(b + 108, 0x3800);
    for (int i = 0; i < 256; i++) want[i] = (0.5f * (float)Q3K_SC[i / 16]) * (float)((i % 128) / 32);
    /* hmask[3] bit 5 cleared: bit 4h+j with h 1, j 1 -> el 128+32+3 = 163
     * (s 10): q = 1 - 4 = -3 -> 0.5*3*-3 = -4.5. */
    b[3] = 0xDF;
    want[163] = -4.5f;
    /* hmask[17] bit 7: h 1, j 3 -> el 128+96+17 = 241 (s 15): q = 3-4 = -1
     * -> 0.5*-5*-1 = 2.5. */
    b[17] = 0x7F;
    want[241] = 2.5f;
    /* hmask[0] bit 0: el 0 (s 0, scale 0): q = -4 -> 0 * -4 = -0. */
    b[0] = 0xFE;
    want[0] = -0.0f;
    /* qs[8] = 0x1B (first half, l 8): pairs 3, 2, 1, 0 for el 8, 40, 72, 104:
     * el 8 (s 0): 0; el 40 (s 2): 0.5*-1*2 = -1; el 72 (s 4): 0.5*-32*1 = -16;
     * el 104 (s 6): 0.5*-16*0 = -0 (instead of -24). */
    b[32 + 8] = 0x1B;
    want[8] = 0.0f;
    want[40] = -1.0f;
    want[72] = -16.0f;
    want[104] = -0.0f;
    /* Spot values of the default pattern: el 80 (s 5, q 2) = 0.5*31*2 = 31;
     * el 255 (s 15, q 3) = 0.5*-5*3 = -7.5. */
    assert_true(want[80] == 31.0f && want[255] == -7.5f);
    check_both(ATTRIB_DTYPE_Q3_K, b, sizeof b, want, 256);
    printf("Q3_K: hand-built super-block ok (6-bit biased scales, high-bit mask)\n");
}

/* ggml's IQ4_NL grid (kvalues_iq4nl), written out here for the tests. */
static const float IQ4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static void test_iq4_nl_hand(void **state) {
    (void)state;
    /* Block 0: d = -2 (0xC000), byte j = j | (15-j) << 4:
     *   el j = -2*IQ4[j] (el 0 = 254, el 15 = -226), el 16+j = -2*IQ4[15-j].
     * Block 1: d = 0.25 (0x3400), every byte 0x8F: low 15 -> 113/4 = 28.25,
     *   high 8 -> 1/4 = 0.25. */
    uint8_t b[36];
    float want[64];
    put16(b, 0xC000);
    for (int j = 0; j < 16; j++) {
        b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
        want[j] = -2.0f * IQ4[j];
        want[16 + j] = -2.0f * IQ4[15 - j];
    }
    put16(b + 18, 0x3400);
    memset(b + 20, 0x8F, 16);
    for (int j = 0; j < 16; j++) {
        want[32 + j] = 28.25f;
        want[48 + j] = 0.25f;
    }
    assert_true(want[0] == 254.0f && want[15] == -226.0f && want[16] == -226.0f);
    check_both(ATTRIB_DTYPE_IQ4_NL, b, sizeof b, want, 64);
    printf("IQ4_NL: hand-built blocks ok (non-linear grid)\n");
}

static void test_iq4_xs_hand(void **state) {
    (void)state;
    /* Eight 6-bit scales (bias 32) for the 32-element sub-blocks:
     *   s:  0  1  2  3  4  5  6  7
     *   ls: 32 33  0 63 31 40 16 47  -> ls-32: 0 1 -32 31 -1 8 -16 15
     * scales_l[k] = low 4 bits of ls[2k] | of ls[2k+1] << 4 = 10 F0 8F F0;
     * scales_h = sum of (ls[s] >> 4) << 2s = 2 + 2<<2 + 0 + 3<<6 + 1<<8 +
     * 2<<10 + 1<<12 + 2<<14 = 39370 = 0x99CA (bytes CA 99).
     * d = 0.5; qs byte j of every sub-block = j | (15-j) << 4, so element
     * 32s+j is 0.5*(ls-32)*IQ4[j] and 32s+16+j is 0.5*(ls-32)*IQ4[15-j]. */
    static const int LS[8] = {0, 1, -32, 31, -1, 8, -16, 15};
    uint8_t b[136];
    float want[256];
    put16(b, 0x3800);
    b[2] = 0xCA;
    b[3] = 0x99;
    b[4] = 0x10; b[5] = 0xF0; b[6] = 0x8F; b[7] = 0xF0;
    for (int s = 0; s < 8; s++)
        for (int j = 0; j < 16; j++) {
            b[8 + 16 * s + j] = (uint8_t)(j | ((15 - j) << 4));
            want[32 * s + j] = (0.5f * (float)LS[s]) * IQ4[j];
            want[32 * s + 16 + j] = (0.5f * (float)LS[s]) * IQ4[15 - j];
        }
    /* Spot values: el 64 (s 2, j 0) = -16*-127 = 2032; el 96+15 (s 3, j 15)
     * = 15.5*113 = 1751.5; el 0 = 0*-127 = -0. */
    assert_true(want[64] == 2032.0f && want[111] == 1751.5f);
    want[0] = -0.0f;
    check_both(ATTRIB_DTYPE_IQ4_XS, b, sizeof b, want, 256);
    printf("IQ4_XS: hand-built super-block ok (6-bit biased scales, non-linear grid)\n");
}

/* ------------------------------------------------------------------------
 * fp16 / bf16 against the IEEE formula, every bit pattern.
 * ---------------------------------------------------------------------- */

static double fp16_formula(uint16_t h, int *is_nan) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    *is_nan = 0;
    if (e == 0) v = ldexp((double)m, -24);
    else if (e == 31) {
        if (m) { *is_nan = 1; return 0; }
        v = INFINITY;
    } else v = ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

static double bf16_formula(uint16_t h, int *is_nan) {
    int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v;
    *is_nan = 0;
    if (e == 0) v = ldexp((double)m, -133);
    else if (e == 255) {
        if (m) { *is_nan = 1; return 0; }
        v = INFINITY;
    } else v = ldexp(1.0 + m / 128.0, e - 127);
    return s ? -v : v;
}

static void check_conv(float got, double want, int want_nan, int sign, const char *what, unsigned h) {
    if (want_nan) {
        if (!isnan(got)) fail_msg("%s 0x%04x: got %g, want NaN", what, h, (double)got);
        return;
    }
    if ((double)got != want || (signbit(got) != 0) != (sign != 0))
        fail_msg("%s 0x%04x: got %.9g want %.9g", what, h, (double)got, want);
}

static void test_half_conversions(void **state) {
    (void)state;
    uint8_t *src = malloc(65536 * 2);
    float *fast = malloc(65536 * sizeof(float)), *ref = malloc(65536 * sizeof(float));
    assert_non_null(src);
    assert_non_null(fast);
    assert_non_null(ref);
    for (unsigned h = 0; h < 65536; h++) put16(src + 2 * h, (uint16_t)h);

    int n_sub = 0, n_nan = 0, n_inf = 0;
    assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_F16, src, fast, 65536), 0);
    assert_int_equal(attrib_dequant_row_ref(ATTRIB_DTYPE_F16, src, ref, 65536), 0);
    for (unsigned h = 0; h < 65536; h++) {
        int nan;
        double w = fp16_formula((uint16_t)h, &nan);
        float one;
        /* A 1-element row takes the scalar tail of the fast kernel, which is
         * also the whole kernel on CPUs without F16C. */
        assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_F16, src + 2 * h, &one, 1), 0);
        check_conv(one, w, nan, h >> 15, "fp16 fast scalar tail", h);
        check_conv(attrib_fp16_to_f32((uint16_t)h), w, nan, h >> 15, "fp16 scalar", h);
        check_conv(fast[h], w, nan, h >> 15, "fp16 fast row", h);
        check_conv(ref[h], w, nan, h >> 15, "fp16 ref row", h);
        n_nan += nan;
        n_sub += ((h >> 10) & 31) == 0 && (h & 1023);
        n_inf += !nan && isinf(w);
    }
    assert_int_equal(n_nan, 2 * 1023);
    assert_int_equal(n_sub, 2 * 1023);
    assert_int_equal(n_inf, 2);
    /* Spot values known by heart. */
    assert_true(attrib_fp16_to_f32(0x3C00) == 1.0f);
    assert_true(attrib_fp16_to_f32(0xC000) == -2.0f);
    assert_true(attrib_fp16_to_f32(0x7BFF) == 65504.0f);
    assert_true(attrib_fp16_to_f32(0x0001) == 0x1p-24f);
    assert_true(attrib_fp16_to_f32(0x0400) == 0x1p-14f);
    printf("F16: all 65536 patterns match the formula (incl. %d subnormals, %d NaN, inf)\n", n_sub, n_nan);

    assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_BF16, src, fast, 65536), 0);
    assert_int_equal(attrib_dequant_row_ref(ATTRIB_DTYPE_BF16, src, ref, 65536), 0);
    for (unsigned h = 0; h < 65536; h++) {
        int nan;
        double w = bf16_formula((uint16_t)h, &nan);
        check_conv(fast[h], w, nan, h >> 15, "bf16 fast row", h);
        check_conv(ref[h], w, nan, h >> 15, "bf16 ref row", h);
        check_conv(attrib_bf16_to_f32((uint16_t)h), w, nan, h >> 15, "bf16 scalar", h);
        /* bf16 is the top half of an f32: the payload must survive too. */
        assert_true(f32_bits(fast[h]) == (uint32_t)h << 16);
    }
    assert_true(attrib_bf16_to_f32(0x3F80) == 1.0f);
    assert_true(attrib_bf16_to_f32(0xC040) == -3.0f);
    printf("BF16: all 65536 patterns match the formula\n");

    /* F32 rows are copied bit for bit (NaN payloads included). */
    assert_int_equal(attrib_dequant_row(ATTRIB_DTYPE_F32, src, fast, 32768), 0);
    assert_int_equal(memcmp(fast, src, 32768 * 4), 0);
    assert_int_equal(attrib_dequant_row_ref(ATTRIB_DTYPE_F32, src, ref, 32768), 0);
    assert_int_equal(memcmp(ref, src, 32768 * 4), 0);
    printf("F32: rows copied bit for bit\n");
    free(src);
    free(fast);
    free(ref);
}

/* ------------------------------------------------------------------------
 * Fast vs reference on random blocks.
 * ---------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* A random finite fp16: exponent 31 (inf/NaN) is moved to 30. */
static uint16_t rnd_finite_half(void) {
    uint16_t h = (uint16_t)rnd();
    if (((h >> 10) & 31) == 31) h ^= 0x0400;
    return h;
}

static void test_fast_vs_ref(void **state) {
    (void)state;
    const int blocks = 64, rounds = 40;
    for (size_t t = 0; t < N_TYPES; t++) {
        int type = TYPES[t].type, be, bb;
        assert_true(gguf_type_block(type, &be, &bb));
        /* fp16 fields inside a block, which must stay finite. */
        int half_at[2] = {-1, -1};
        switch (type) {
        case ATTRIB_DTYPE_Q4_0: case ATTRIB_DTYPE_Q5_0: case ATTRIB_DTYPE_Q8_0: half_at[0] = 0; break;
        case ATTRIB_DTYPE_Q4_1: case ATTRIB_DTYPE_Q5_1: case ATTRIB_DTYPE_Q4_K: case ATTRIB_DTYPE_Q5_K:
            half_at[0] = 0; half_at[1] = 2; break;
        case ATTRIB_DTYPE_Q6_K: half_at[0] = 208; break;
        case ATTRIB_DTYPE_Q2_K: half_at[0] = 80; half_at[1] = 82; break;
        case ATTRIB_DTYPE_Q3_K: half_at[0] = 108; break;
        case ATTRIB_DTYPE_IQ4_NL: case ATTRIB_DTYPE_IQ4_XS: half_at[0] = 0; break;
        default: break;
        }
        int64_t n = (int64_t)blocks * (be == 1 ? 256 : be);
        size_t bytes = (size_t)(n / be) * (size_t)bb;
        uint8_t *src = malloc(bytes + 1);
        float *a = malloc((size_t)n * sizeof(float)), *r = malloc((size_t)n * sizeof(float));
        assert_non_null(src);
        assert_non_null(a);
        assert_non_null(r);
        long compared = 0, nonzero = 0;
        for (int round = 0; round < rounds; round++) {
            /* Odd rounds start at an odd address. */
            uint8_t *p = src + (round & 1);
            for (size_t k = 0; k < bytes; k++) p[k] = (uint8_t)rnd();
            if (half_at[0] >= 0)
                for (size_t blk = 0; blk < bytes / (size_t)bb; blk++)
                    for (int h = 0; h < 2; h++)
                        if (half_at[h] >= 0) put16(p + blk * (size_t)bb + (size_t)half_at[h], rnd_finite_half());
            assert_int_equal(attrib_dequant_row(type, p, a, n), 0);
            assert_int_equal(attrib_dequant_row_ref(type, p, r, n), 0);
            for (int64_t i = 0; i < n; i++) {
                /* Hardware fp16 conversion may quiet a signalling NaN; any NaN
                 * is equivalent for an F16 weight. Everything else: same bits. */
                if (type == ATTRIB_DTYPE_F16 && isnan(a[i]) && isnan(r[i])) continue;
                if (f32_bits(a[i]) != f32_bits(r[i]))
                    fail_msg("%s round %d el %lld: fast %.9g ref %.9g", TYPES[t].name, round,
                             (long long)i, (double)a[i], (double)r[i]);
                if (type != ATTRIB_DTYPE_F16 && type != ATTRIB_DTYPE_BF16 && type != ATTRIB_DTYPE_F32)
                    assert_true(isfinite(a[i])); /* finite scales give finite values */
                compared++;
                nonzero += a[i] != 0.0f;
            }
        }
        assert_true(nonzero > compared / 2); /* the data really varied */
        printf("%-5s fast == ref bit for bit on %d random rows (%ld values)\n", TYPES[t].name, rounds,
               compared);
        free(src);
        free(a);
        free(r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_table),   cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_bad_length),    cmocka_unit_test(test_q8_0_hand),
        cmocka_unit_test(test_q4_0_hand),     cmocka_unit_test(test_q4_1_hand),
        cmocka_unit_test(test_q5_0_hand),     cmocka_unit_test(test_q5_1_hand),
        cmocka_unit_test(test_q4_k_hand),     cmocka_unit_test(test_q5_k_hand),
        cmocka_unit_test(test_q6_k_hand),     cmocka_unit_test(test_q2_k_hand),
        cmocka_unit_test(test_q3_k_hand),     cmocka_unit_test(test_iq4_nl_hand),
        cmocka_unit_test(test_iq4_xs_hand),   cmocka_unit_test(test_half_conversions),
        cmocka_unit_test(test_fast_vs_ref),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
