/*
 * continuation.c — attrib_explain_continuation(): why did the model write
 * this answer, not just this next token? Each answer token y_j is one
 * attrib_explain request on ids[0..P+j) whose target is y_j (or y_j against
 * a contrast token) and whose features are the prompt's span plus the answer
 * tokens before y_j; the rows are gathered into a (G x sources) matrix.
 *
 * Why a loop over attrib_explain rather than a fused pass: every method
 * (gradients, IG with its adaptive rule, occlusion, Shapley values, LIME)
 * then keeps exactly the semantics, validation and checks it has for one
 * prompt, and row j is bit for bit what attrib_explain gives for that
 * prefix. The cost is one forward pass per step to resolve the target
 * beside the method's own passes.
 */
#include "attribution/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void attrib_continuation_free(attrib_continuation *c) {
    if (!c) return;
    free(c->ids);
    free(c->contrast);
    free(c->matrix);
    free(c->std_errors);
    free(c->f);
    free(c->f_baseline);
    free(c->sum);
    free(c->delta);
    free(c->relative);
    free(c->ig_row);
    free(c->ig_nodes);
    free(c->ig_weights);
    free(c);
}

/* The caller's progress callback sees all steps as one run of
 * n_steps * PROGRESS_UNIT units. */
#define PROGRESS_UNIT 1000
typedef struct progress_relay {
    void (*cb)(void *user, int64_t done, int64_t total);
    void *user;
    int step, n_steps;
} progress_relay;

static void relay_progress(void *user, int64_t done, int64_t total) {
    const progress_relay *p = user;
    const int64_t part = total > 0 ? done * PROGRESS_UNIT / total : 0;
    p->cb(p->user, (int64_t)p->step * PROGRESS_UNIT + part, (int64_t)p->n_steps * PROGRESS_UNIT);
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static attrib_status check_request(attrib_model *m, const int32_t *ids, int n_prompt, int n_tokens, const int32_t *contrast,
                                   const attrib_explain_options *opt) {
    const int V = m->info.n_vocab, ctx = m->info.n_ctx_train;
    if (n_prompt < 1 || n_tokens <= n_prompt || n_tokens > ctx)
        return attrib_fail(ATTRIB_E_INVALID_ARG,
                           "a continuation needs 1 <= prompt tokens (%d) < all tokens (%d) <= the model's context (%d)", n_prompt,
                           n_tokens, ctx);
    for (int i = 0; i < n_tokens; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "token id %d at position %d is outside the vocabulary [0, %d)", ids[i], i, V);
    const attrib_target_kind kind = opt->target.kind;
    if (kind == ATTRIB_TARGET_PROBE)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "a continuation's steps have token targets, not a probe");
    if ((unsigned)kind > ATTRIB_TARGET_PROBE) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown target kind %d", (int)kind);
    if (!contrast != (kind != ATTRIB_TARGET_LOGIT_DIFF))
        return attrib_fail(ATTRIB_E_INVALID_ARG, contrast ? "contrast tokens need the logit-difference target"
                                                          : "a logit-difference target needs contrast tokens");
    for (int j = 0; contrast && j < n_tokens - n_prompt; j++)
        if (contrast[j] < 0 || contrast[j] >= V)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "contrast token %d of step %d is outside the vocabulary [0, %d)", contrast[j], j, V);
    if (opt->groups) return attrib_fail(ATTRIB_E_INVALID_ARG, "a continuation takes no feature groups (its sources are tokens)");
    if (opt->layer_attribution)
        return attrib_fail(ATTRIB_E_UNSUPPORTED, "a continuation attributes to input tokens, not to a layer");
    return ATTRIB_OK;
}

/* Appends R's IG rule to C's per-step lists. */
static attrib_status append_ig_rule(attrib_continuation *c, int step, const attrib_result *r) {
    const int have = c->ig_row[step], add = r->ig_n_nodes;
    double *nodes = realloc(c->ig_nodes, (size_t)(have + add > 0 ? have + add : 1) * sizeof *nodes);
    if (nodes) c->ig_nodes = nodes;
    double *weights = nodes ? realloc(c->ig_weights, (size_t)(have + add > 0 ? have + add : 1) * sizeof *weights) : NULL;
    if (!weights) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    c->ig_weights = weights;
    for (int k = 0; k < add; k++) {
        c->ig_nodes[have + k] = r->ig_nodes[k];
        c->ig_weights[have + k] = r->ig_weights[k];
    }
    c->ig_row[step + 1] = have + add;
    return ATTRIB_OK;
}

/* Copies step J's result R into row J of C. */
static attrib_status store_row(attrib_continuation *c, int j, int span_begin, const attrib_result *r) {
    const int S = c->n_src, n = c->n_prompt + j;
    double *row = c->matrix + (size_t)j * S;
    for (int i = span_begin; i < n; i++) {
        const int fe = r->feature_of_token[i];
        if (fe < 0) continue;
        row[i] = r->token_scores[i];
        if (r->std_errors) {
            if (!c->std_errors) {
                c->std_errors = attrib_calloc_array((size_t)c->n_gen * S, sizeof(double));
                if (!c->std_errors) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
                for (size_t k = 0; k < (size_t)c->n_gen * S; k++) c->std_errors[k] = NAN;
            }
            c->std_errors[(size_t)j * S + i] = r->std_errors[fe];
        }
    }
    c->f[j] = r->f_input;
    c->f_baseline[j] = r->f_baseline;
    c->sum[j] = r->sum_scores;
    if (r->method == ATTRIB_METHOD_INTEGRATED_GRADIENTS && !isnan(r->f_baseline)) {
        c->delta[j] = r->completeness_delta;
        c->relative[j] = r->completeness_relative;
    }
    c->n_forward += r->n_forward;
    c->n_backward += r->n_backward;
    c->ig_cap_reached |= r->ig_cap_reached;
    if (j == 0) {
        c->mask = r->mask;
        c->mask_token = r->mask_token;
    }
    return c->ig_row ? append_ig_rule(c, j, r) : ATTRIB_OK;
}

attrib_status attrib_explain_continuation(attrib_model *m, const int32_t *ids, int n_prompt, int n_tokens, const int32_t *contrast,
                                          const attrib_explain_options *opt, attrib_continuation **out) {
    if (!m || !ids || !opt || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_explain_continuation: NULL argument");
    attrib_status s = check_request(m, ids, n_prompt, n_tokens, contrast, opt);
    if (s) return s;
    const double t0 = seconds_now();
    const int P = n_prompt, G = n_tokens - n_prompt, S = n_tokens - 1;
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int bos = tok ? attrib_tokenizer_bos(tok) : -1;
    const int pb = opt->span_begin >= 0 ? opt->span_begin : (bos >= 0 && ids[0] == bos ? 1 : 0);
    const int pe = opt->span_end > 0 ? opt->span_end : P;
    if (pb >= pe || pe > P)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the prompt's span [%d, %d) is empty or outside the %d-token prompt%s", pb, pe, P,
                           P == 1 && pb == 1 ? " (BOS is never a source)" : "");

    attrib_continuation *c = attrib_calloc_array(1, sizeof *c);
    if (!c) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    c->method = opt->method;
    c->target_kind = opt->target.kind;
    c->n_tokens = n_tokens;
    c->n_prompt = P;
    c->n_gen = G;
    c->n_src = S;
    c->prompt_begin = pb;
    c->prompt_end = pe;
    c->ids = attrib_calloc_array((size_t)n_tokens, sizeof(int32_t));
    c->matrix = attrib_calloc_array((size_t)G * S, sizeof(double));
    c->f = attrib_calloc_array((size_t)G, sizeof(double));
    c->f_baseline = attrib_calloc_array((size_t)G, sizeof(double));
    c->sum = attrib_calloc_array((size_t)G, sizeof(double));
    c->delta = attrib_calloc_array((size_t)G, sizeof(double));
    c->relative = attrib_calloc_array((size_t)G, sizeof(double));
    /* groups: the template tokens between the prompt's span and the answer stay fixed */
    int32_t *groups = pe < P ? attrib_calloc_array((size_t)(n_tokens - pb), sizeof(int32_t)) : NULL;
    bool ok = c->ids && c->matrix && c->f && c->f_baseline && c->sum && c->delta && c->relative && (pe == P || groups);
    if (ok && contrast) ok = (c->contrast = attrib_calloc_array((size_t)G, sizeof(int32_t))) != NULL;
    if (ok && opt->method == ATTRIB_METHOD_INTEGRATED_GRADIENTS) ok = (c->ig_row = attrib_calloc_array((size_t)G + 1, sizeof(int))) != NULL;
    if (!ok) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(c->ids, ids, (size_t)n_tokens * sizeof *ids);
    if (contrast) memcpy(c->contrast, contrast, (size_t)G * sizeof *contrast);
    for (size_t k = 0; k < (size_t)G * S; k++) c->matrix[k] = NAN;
    for (int j = 0; j < G; j++) c->delta[j] = c->relative[j] = NAN;
    for (int i = pb, g = 0; groups && i < n_tokens; i++) groups[i - pb] = i >= pe && i < P ? -1 : g++;

    progress_relay relay = {opt->progress, opt->progress_user, 0, G};
    for (int j = 0; j < G; j++) {
        attrib_explain_options o = *opt;
        o.target.token = ids[P + j];
        o.target.token2 = contrast ? contrast[j] : -1;
        o.span_begin = pb;
        o.span_end = P + j;
        o.groups = groups;
        if (opt->progress) {
            relay.step = j;
            o.progress = relay_progress;
            o.progress_user = &relay;
        }
        attrib_result *r = NULL;
        if ((s = attrib_explain(m, ids, P + j, &o, &r))) {
            attrib_fail_context(s, "step %d (answer token %d at position %d)", j, ids[P + j], P + j);
            goto fail;
        }
        s = store_row(c, j, pb, r);
        attrib_result_free(r);
        if (s) goto fail;
        if (opt->progress) opt->progress(opt->progress_user, (int64_t)(j + 1) * PROGRESS_UNIT, (int64_t)G * PROGRESS_UNIT);
    }
    free(groups);
    c->seconds = seconds_now() - t0;
    *out = c;
    return ATTRIB_OK;
fail:
    free(groups);
    attrib_continuation_free(c);
    return s;
}
