/*
 * test-backward.c — every backward kernel (including GeGLU, soft-capping,
 * attention with soft-capped scores, a sliding window, a cached prefix and
 * key masks, and per-head RMSNorm) and the whole model's input gradient
 * against central finite differences of the forward.
 *
 * Each op is checked through a scalar loss L = sum_i w_i out_i with random
 * w (accumulated in double): the analytic gradient is the op's backward
 * applied to dout = w. The forward runs in float32, so finite differences
 * resolve a derivative to about eps_float * |L| / h; the test checks the
 * elements whose analytic gradient is at least CHECK_FLOOR of the largest
 * (smaller ones are below what float32 differences can measure) and
 * requires relative error <= 1e-3 on each of them, using a 4-point stencil
 * (error O(h^4)). The whole model is checked the same way on the three
 * shared models as a float32 sanity check (bound 1e-2: rounding through
 * every layer limits what float32 differences resolve); the strict
 * whole-model check (1e-3) differentiates the independent float64
 * reference numerically in tests/py/check_gradients.py.
 * Agreement with PyTorch autograd (float64) is tests/py/check_gradients.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/backward.h"
#include "model/kernels.h"
#include "test_util.h"

#define CHECK_FLOOR 0.05
#define REL_TOL 1e-3

static uint64_t rng = 0x243f6a8885a308d3ull;
static double frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}
static void fill(float *a, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) a[i] = (float)(frand() * scale);
}
static double dot(const float *a, const float *w, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * w[i];
    return s;
}

typedef struct fd_stats {
    int checked;
    double worst;
} fd_stats;

/* Compares ANALYTIC (n) with finite differences of LOSS(x) over x (n): the
 * 4-point central stencil (8(f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h,
 * whose O(h^4) error lets h be large enough for float32 rounding to fade. */
static fd_stats fd_compare(float *x, size_t n, const float *analytic, double (*loss)(void *, const float *), void *ctx, double h) {
    double maxg = 0;
    for (size_t i = 0; i < n; i++) maxg = fmax(maxg, fabs(analytic[i]));
    fd_stats st = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (fabs(analytic[i]) < CHECK_FLOOR * maxg) continue;
        const float orig = x[i];
        const double off[4] = {h, -h, 2 * h, -2 * h};
        double f[4], real[4];
        for (int s = 0; s < 4; s++) {
            x[i] = (float)(orig + off[s]);
            real[s] = (double)x[i] - orig; /* the step float32 actually took */
            f[s] = loss(ctx, x);
        }
        x[i] = orig;
        (void)real;
        double fd = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h);
        double rel = fabs(fd - analytic[i]) / fmax(fabs(fd), fabs(analytic[i]));
        st.checked++;
        if (rel > st.worst) st.worst = rel;
    }
    return st;
}

static void report_tol(const char *what, fd_stats st, double tol) {
    printf("[backward] %-34s %4d elements checked, worst relative error %.2e (limit %.0e)\n", what, st.checked, st.worst, tol);
    assert_true(st.checked > 0);
    assert_true(st.worst <= tol);
}
static void report(const char *what, fd_stats st) { report_tol(what, st, REL_TOL); }

/* ---- RMSNorm ---- */
enum { RN = 4, RC = 24 };
typedef struct { const float *w, *ww; } rms_ctx;
static double rms_loss(void *p, const float *x) {
    rms_ctx *c = p;
    float out[RN * RC];
    rmsnorm_forward(out, x, c->w, RN, RC, 1e-5f, 1);
    return dot(out, c->ww, RN * RC);
}
static void test_rmsnorm_backward(void **state) {
    (void)state;
    float x[RN * RC], w[RC], ww[RN * RC], g[RN * RC] = {0};
    fill(x, RN * RC, 1.0);
    fill(w, RC, 1.0);
    fill(ww, RN * RC, 1.0);
    rmsnorm_backward(g, ww, x, w, RN, RC, 1e-5f, 1);
    rms_ctx c = {w, ww};
    report("rmsnorm", fd_compare(x, RN * RC, g, rms_loss, &c, 1e-2));
}

/* ---- RoPE, both layouts ---- */
enum { PN = 3, PH = 2, PD = 8 };
typedef struct { const float *cs, *ww; attrib_rope_layout layout; } rope_ctx;
static double rope_loss(void *p, const float *x) {
    rope_ctx *c = p;
    float y[PN * PH * PD];
    memcpy(y, x, sizeof y);
    rope_forward(y, c->cs, PN, PH, PD, c->layout, 1);
    return dot(y, c->ww, PN * PH * PD);
}
static void test_rope_backward(void **state) {
    (void)state;
    float x[PN * PH * PD], ww[PN * PH * PD], g[PN * PH * PD], cs[PN * PD], inv[PD / 2];
    int32_t pos[PN] = {0, 5, 300};
    for (int i = 0; i < PD / 2; i++) inv[i] = (float)pow(10000.0, -2.0 * i / PD);
    rope_table(cs, pos, PN, PD, inv);
    for (int layout = 0; layout < 2; layout++) {
        fill(x, sizeof x / 4, 1.0);
        fill(ww, sizeof ww / 4, 1.0);
        memcpy(g, ww, sizeof g);
        rope_backward(g, cs, PN, PH, PD, (attrib_rope_layout)layout, 1);
        rope_ctx c = {cs, ww, (attrib_rope_layout)layout};
        report(layout ? "rope (halves)" : "rope (interleaved)", fd_compare(x, sizeof x / 4, g, rope_loss, &c, 1e-2));
    }
}

/* ---- SwiGLU ---- */
enum { SN = 40 };
typedef struct { const float *other, *ww; int wrt_gate; } swi_ctx;
static double swi_loss(void *p, const float *x) {
    swi_ctx *c = p;
    float out[SN];
    if (c->wrt_gate) swiglu_forward(out, x, c->other, 1, SN, 1);
    else swiglu_forward(out, c->other, x, 1, SN, 1);
    return dot(out, c->ww, SN);
}
static void test_swiglu_backward(void **state) {
    (void)state;
    float gate[SN], up[SN], ww[SN], dg[SN], du[SN];
    fill(gate, SN, 4.0);
    fill(up, SN, 2.0);
    fill(ww, SN, 1.0);
    swiglu_backward(dg, du, ww, gate, up, 1, SN, 1);
    swi_ctx c1 = {up, ww, 1}, c2 = {gate, ww, 0};
    report("swiglu d/dgate", fd_compare(gate, SN, dg, swi_loss, &c1, 1e-2));
    report("swiglu d/dup", fd_compare(up, SN, du, swi_loss, &c2, 1e-2));
}

/* ---- causal GQA attention ---- */
enum { AB = 2, AT = 5, AH = 4, AKV = 2, AD = 6, LD = 44 }; /* LD: the kernels' 32-lane, 8-lane and scalar paths */
typedef struct { float *q, *k, *v; const float *ww; } att_ctx;
static double att_loss(void *p, const float *unused) {
    (void)unused;
    att_ctx *c = p;
    float out[AB * AT * AH * LD], scratch[2 * AT];
    attn_kv_view views[AB];
    memset(views, 0, sizeof views);
    attention_forward(out, c->q, c->k, c->v, NULL, views, AB, AT, AH, AKV, LD, NULL, scratch, 1);
    return dot(out, c->ww, sizeof out / 4);
}
static void test_attention_backward(void **state) {
    (void)state;
    static float q[AB * AT * AH * LD], k[AB * AT * AKV * LD], v[AB * AT * AKV * LD], ww[AB * AT * AH * LD];
    static float out[AB * AT * AH * LD], lse[AB * AT * AH], dq[sizeof q / 4], dk[sizeof k / 4], dv[sizeof v / 4];
    float scratch[4 * AT];
    fill(q, sizeof q / 4, 1.5);
    fill(k, sizeof k / 4, 1.5);
    fill(v, sizeof v / 4, 1.0);
    fill(ww, sizeof ww / 4, 1.0);
    attn_kv_view views[AB];
    memset(views, 0, sizeof views);
    attention_forward(out, q, k, v, NULL, views, AB, AT, AH, AKV, LD, lse, scratch, 1);
    attention_backward(dq, dk, dv, ww, q, k, v, lse, AB, AT, AH, AKV, LD, scratch, 1);
    att_ctx c = {q, k, v, ww};
    report("attention d/dq", fd_compare(q, sizeof q / 4, dq, att_loss, &c, 2e-2));
    report("attention d/dk", fd_compare(k, sizeof k / 4, dk, att_loss, &c, 2e-2));
    report("attention d/dv", fd_compare(v, sizeof v / 4, dv, att_loss, &c, 2e-2));
}

/* ---- GeGLU (tanh GELU) ---- */
typedef struct { const float *other, *ww; int wrt_gate; } geglu_ctx;
static double geglu_loss(void *p, const float *x) {
    geglu_ctx *c = p;
    float out[SN];
    if (c->wrt_gate) geglu_forward(out, x, c->other, 1, SN, 1);
    else geglu_forward(out, c->other, x, 1, SN, 1);
    return dot(out, c->ww, SN);
}
static void test_geglu_backward(void **state) {
    (void)state;
    float gate[SN], up[SN], ww[SN], dg[SN], du[SN];
    fill(gate, SN, 4.0);
    fill(up, SN, 2.0);
    fill(ww, SN, 1.0);
    geglu_backward(dg, du, ww, gate, up, 1, SN, 1);
    geglu_ctx c1 = {up, ww, 1}, c2 = {gate, ww, 0};
    report("geglu d/dgate", fd_compare(gate, SN, dg, geglu_loss, &c1, 1e-2));
    report("geglu d/dup", fd_compare(up, SN, du, geglu_loss, &c2, 1e-2));
}

/* ---- soft-capping, its backward fed the forward's output ---- */
enum { CN = 3, CV = 30 };
typedef struct { const float *ww; float cap; } cap_ctx;
static double cap_loss(void *p, const float *x) {
    cap_ctx *c = p;
    float y[CN * CV];
    softcap_forward(y, x, CN, CV, c->cap, 1);
    return dot(y, c->ww, CN * CV);
}
static void test_softcap_backward(void **state) {
    (void)state;
    float x[CN * CV], y[CN * CV], ww[CN * CV], dx[CN * CV];
    fill(x, CN * CV, 60.0); /* cap 30: from the linear part to deep saturation */
    fill(ww, CN * CV, 1.0);
    memcpy(y, x, sizeof y);
    softcap_forward(y, y, CN, CV, 30.0f, 1); /* in place, as for logits */
    memcpy(dx, ww, sizeof dx);
    softcap_backward(dx, dx, y, CN, CV, 30.0f, 1); /* in place too */
    cap_ctx c = {ww, 30.0f};
    report("softcap", fd_compare(x, CN * CV, dx, cap_loss, &c, 5e-2));
}

/* ---- attention with options: soft-capped scores, sliding window, explicit
 * scale, a cached prefix (a constant) and key masks ---- */
enum { XP = 3 };
typedef struct { float *q, *k, *v; const float *ww; const uint8_t *mask; const attn_kv_view *views; attn_opts o; } attx_ctx;
static double attx_loss(void *p, const float *unused) {
    (void)unused;
    attx_ctx *c = p;
    float out[AB * AT * AH * AD], scratch[XP + AT];
    attention_forward_ex(out, c->q, c->k, c->v, c->mask, c->views, AB, AT, AH, AKV, AD, &c->o, NULL, scratch, 1);
    return dot(out, c->ww, sizeof out / 4);
}
static void test_attention_ex_backward(void **state) {
    (void)state;
    static float q[AB * AT * AH * AD], k[AB * AT * AKV * AD], v[AB * AT * AKV * AD], ww[AB * AT * AH * AD];
    static float pk[XP * AKV * AD], pv[XP * AKV * AD];
    static float out[AB * AT * AH * AD], lse[AB * AT * AH], dq[sizeof q / 4], dk[sizeof k / 4], dv[sizeof v / 4];
    float scratch[2 * 2 * (XP + AT)];
    const uint8_t mask[AB * AT] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
    const uint8_t pmask[XP] = {1, 0, 1};
    fill(q, sizeof q / 4, 1.5);
    fill(k, sizeof k / 4, 1.5);
    fill(v, sizeof v / 4, 1.0);
    fill(pk, sizeof pk / 4, 1.5);
    fill(pv, sizeof pv / 4, 1.0);
    fill(ww, sizeof ww / 4, 1.0);
    static const int32_t prefix_gapped[XP] = {0, 1, 4}; /* prefix positions with a gap too */
    const attn_kv_view with_prefix[AB] = {{pk, pv, pmask, XP, NULL}, {NULL, NULL, NULL, 0, NULL}};
    const attn_kv_view with_prefix_pos[AB] = {{pk, pv, pmask, XP, prefix_gapped}, {NULL, NULL, NULL, 0, NULL}};
    const attn_kv_view no_prefix[AB] = {{NULL, NULL, NULL, 0, NULL}, {NULL, NULL, NULL, 0, NULL}};
    /* explicit positions with gaps (the prefix ends at position 4) */
    static const int32_t gapped[AB * AT] = {XP + 2, XP + 3, XP + 5, XP + 6, XP + 7, 0, 1, 2, 3, 4};
    const struct {
        const char *name;
        attn_opts o;
        int prefix, masked;
    } cases[] = {
        {"softcap 1", {0.0f, 1.0f, 0, NULL}, 0, 0},
        {"window 2", {0.0f, 0.0f, 2, NULL}, 0, 0},
        {"softcap+window 3+scale+prefix+mask", {0.7f, 1.2f, 3, NULL}, 1, 1},
        {"window 3+prefix+positions", {0.0f, 0.0f, 3, gapped}, 2, 0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const attn_kv_view *views = cases[ci].prefix == 2 ? with_prefix_pos : cases[ci].prefix ? with_prefix : no_prefix;
        const uint8_t *m = cases[ci].masked ? mask : NULL;
        attention_forward_ex(out, q, k, v, m, views, AB, AT, AH, AKV, AD, &cases[ci].o, lse, scratch, 2);
        attention_backward_ex(dq, dk, dv, ww, q, k, v, m, views, AB, AT, AH, AKV, AD, &cases[ci].o, lse, scratch, 2);
        attx_ctx c = {q, k, v, ww, m, views, cases[ci].o};
        char what[96];
        snprintf(what, sizeof what, "attn %s d/dq", cases[ci].name);
        report(what, fd_compare(q, sizeof q / 4, dq, attx_loss, &c, 2e-2));
        snprintf(what, sizeof what, "attn %s d/dk", cases[ci].name);
        report(what, fd_compare(k, sizeof k / 4, dk, attx_loss, &c, 2e-2));
        snprintf(what, sizeof what, "attn %s d/dv", cases[ci].name);
        report(what, fd_compare(v, sizeof v / 4, dv, attx_loss, &c, 2e-2));
        if (cases[ci].masked) /* a masked key gets no gradient */
            for (int d = 0; d < AKV * AD; d++) assert_true(dk[3 * AKV * AD + d] == 0.0f && dv[3 * AKV * AD + d] == 0.0f);
    }
}

/* ---- per-head RMSNorm (q viewed as (N*H, D), one weight of D) ---- */
enum { QN = 3, QH = 4, QD = 8 };
typedef struct { const float *w, *ww; } qn_ctx;
static double qn_loss(void *p, const float *x) {
    qn_ctx *c = p;
    float out[QN * QH * QD];
    rmsnorm_forward(out, x, c->w, QN * QH, QD, 1e-6f, 1);
    return dot(out, c->ww, QN * QH * QD);
}
static void test_rmsnorm_per_head_backward(void **state) {
    (void)state;
    float x[QN * QH * QD], w[QD], ww[QN * QH * QD], g[QN * QH * QD] = {0};
    fill(x, sizeof x / 4, 1.0);
    fill(w, QD, 1.0);
    fill(ww, sizeof ww / 4, 1.0);
    rmsnorm_backward(g, ww, x, w, QN * QH, QD, 1e-6f, 1);
    qn_ctx c = {w, ww};
    report("rmsnorm per head", fd_compare(x, sizeof x / 4, g, qn_loss, &c, 1e-2));
}

/* ---- matmul input gradient (several matrices sharing the input) ---- */
enum { MN = 3, MK = 40, MO1 = 300, MO2 = 7 }; /* MO1 > one backward chunk of 256 rows */
typedef struct { const attrib_weight *w1, *w2; const float *ww1, *ww2; } mm_ctx;
static double mm_loss(void *p, const float *x) {
    mm_ctx *c = p;
    static float o1[MN * MO1], o2[MN * MO2];
    matmul_forward_naive(o1, x, c->w1, NULL, MN);
    matmul_forward_naive(o2, x, c->w2, NULL, MN);
    return dot(o1, c->ww1, MN * MO1) + dot(o2, c->ww2, MN * MO2);
}
static void test_matmul_backward(void **state) {
    (void)state;
    static float w1[MO1 * MK], w2[MO2 * MK], x[MN * MK], ww1[MN * MO1], ww2[MN * MO2], din[MN * MK];
    static float partials[4 * MN * MK], wscratch[2];
    fill(w1, MO1 * MK, 0.2);
    fill(w2, MO2 * MK, 0.2);
    fill(x, MN * MK, 1.0);
    fill(ww1, MN * MO1, 1.0);
    fill(ww2, MN * MO2, 1.0);
    attrib_weight W1 = {w1, ATTRIB_DTYPE_F32, MO1, MK, MK * 4}, W2 = {w2, ATTRIB_DTYPE_F32, MO2, MK, MK * 4};
    const attrib_weight *const ws[] = {&W1, &W2};
    const float *const douts[] = {ww1, ww2};
    assert_int_equal(matmul_backward_partials(ws, 2), 3);
    matmul_backward_multi(din, 2, douts, ws, MN, partials, wscratch, 0, 2);
    mm_ctx c = {&W1, &W2, ww1, ww2};
    report("matmul (2 matrices, 3 chunks)", fd_compare(x, MN * MK, din, mm_loss, &c, 1e-2));
    /* the column-tiled path (no partial buffers) gives the same gradient */
    static float din2[MN * MK];
    matmul_backward_tiled(din2, 2, douts, ws, MN, NULL, 2);
    report("matmul (2 matrices, column tiles)", fd_compare(x, MN * MK, din2, mm_loss, &c, 1e-2));
    for (int i = 0; i < MN * MK; i++) assert_true(fabs(din2[i] - din[i]) <= 1e-5 * (1 + fabs(din[i])));
}

/* ---- the whole model ---- */
static const char *MODELS[] = {"models/stories260K/stories260K-f32.gguf", "models/TinyStories-656K",
                               "models/llama-2-tiny-random/llama-2-tiny-random.gguf"};
typedef struct { attrib_model *m; int T, target; float *logits; } model_ctx;
static double model_loss(void *p, const float *emb) {
    model_ctx *c = p;
    attrib_batch b = {.n_seq = 1, .n_tokens = c->T, .embeddings = emb, .logits_mode = ATTRIB_LOGITS_LAST};
    assert_int_equal(attrib_forward(c->m, &b, NULL, c->logits), ATTRIB_OK);
    return c->logits[c->target];
}
static void logit_target(void *user, int b, const float *logits, float *dlogits, double *value) {
    model_ctx *c = user;
    (void)b;
    memset(dlogits, 0, sizeof(float) * attrib_model_get_info(c->m)->n_vocab);
    dlogits[c->target] = 1.0f;
    *value = logits[c->target];
}
static void test_model_input_gradient(void **state) {
    (void)state;
    for (int mi = 0; mi < 3; mi++) {
        char p[1024];
        attrib_model *m;
        assert_int_equal(attrib_model_load(test_shared_path(p, sizeof p, MODELS[mi]), NULL, &m), ATTRIB_OK);
        const attrib_model_info *in = attrib_model_get_info(m);
        const int T = 6, C = in->n_embd, V = in->n_vocab;
        int32_t ids[6] = {1, 403 % V, 407 % V, 261 % V, 378 % V, 432 % V};
        float *emb = malloc(sizeof(float) * T * C), *g = malloc(sizeof(float) * T * C);
        model_ctx c = {m, T, 0, malloc(sizeof(float) * V)};
        assert_int_equal(attrib_model_embed(m, ids, T, emb), ATTRIB_OK);
        model_loss(&c, emb);
        for (int v = 1; v < V; v++) /* differentiate the top logit */
            if (c.logits[v] > c.logits[c.target]) c.target = v;
        double value;
        const grad_readout ro = {.target = logit_target, .user = &c};
        assert_int_equal(attrib_grad_pass(m, emb, 1, T, &ro, g, &value), ATTRIB_OK);
        assert_true(fabs(value - c.logits[c.target]) <= 1e-5 * fabs(value) + 1e-6);
        double ms = 0; /* the step scales with the embeddings (llama-2-tiny's are ~0.02) */
        for (int i = 0; i < T * C; i++) ms += (double)emb[i] * emb[i];
        fd_stats st = fd_compare(emb, (size_t)T * C, g, model_loss, &c, 0.1 * sqrt(ms / (T * C)));
        char what[96];
        snprintf(what, sizeof what, "model %s", strrchr(MODELS[mi], '/') + 1);
        /* float32 through every layer: differences resolve ~2e-3 here; the
         * strict (1e-3) whole-model check is check_gradients.py in float64 */
        report_tol(what, st, 1e-2);
        free(emb);
        free(g);
        free(c.logits);
        attrib_model_free(m);
    }
}

/* Gradients are bit-identical for 1 and 2 threads. */
static void test_gradient_threads(void **state) {
    (void)state;
    char p[1024];
    attrib_model *m;
    assert_int_equal(attrib_model_load(test_shared_path(p, sizeof p, MODELS[1]), NULL, &m), ATTRIB_OK);
    int32_t ids[9] = {1, 80, 147, 201, 282, 57, 313, 598, 303};
    attrib_explain_options o = attrib_explain_default_options(ATTRIB_METHOD_INTEGRATED_GRADIENTS);
    o.ig_steps = 8;
    o.ig_tol = 0; /* the fixed rule (adaptive: tests/test-gradient.c) */
    attrib_result *r1, *r2;
    attrib_model_set_threads(m, 1);
    assert_int_equal(attrib_explain(m, ids, 9, &o, &r1), ATTRIB_OK);
    attrib_model_set_threads(m, 2);
    assert_int_equal(attrib_explain(m, ids, 9, &o, &r2), ATTRIB_OK);
    assert_memory_equal(r1->scores, r2->scores, sizeof(double) * r1->n_features);
    attrib_result_free(r1);
    attrib_result_free(r2);
    attrib_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_backward),   cmocka_unit_test(test_rope_backward),
        cmocka_unit_test(test_swiglu_backward),    cmocka_unit_test(test_attention_backward),
        cmocka_unit_test(test_geglu_backward),     cmocka_unit_test(test_softcap_backward),
        cmocka_unit_test(test_attention_ex_backward), cmocka_unit_test(test_rmsnorm_per_head_backward),
        cmocka_unit_test(test_matmul_backward),    cmocka_unit_test(test_model_input_gradient),
        cmocka_unit_test(test_gradient_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
