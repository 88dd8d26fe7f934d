/*
 * explain.c — attrib_explain(): validates the request, fills in defaults,
 * turns the attribution span and optional groups into features, evaluates
 * the unperturbed input once to resolve the target (the top-1 next token
 * unless one is given), dispatches to the gradient or perturbation family,
 * and finishes the result (per-token shares, sums, timing).
 *
 * Targets are functions of the last position's logits: a logit, a log-
 * probability, a probability, or the difference of two logits. The log-
 * softmax is computed with the max subtracted, in double.
 */
#include "explain.h"

#include "tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *METHOD_NAMES[ATTRIB_METHOD_COUNT_] = {"saliency", "gxi", "ig", "smoothgrad", "occlusion",
                                                         "shapley-exact", "shapley", "kernelshap", "lime"};

const char *attrib_method_name(attrib_method m) {
    return (unsigned)m < ATTRIB_METHOD_COUNT_ ? METHOD_NAMES[m] : "?";
}

int attrib_method_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < ATTRIB_METHOD_COUNT_; i++)
        if (strcmp(name, METHOD_NAMES[i]) == 0) return i;
    if (strcmp(name, "integrated-gradients") == 0) return ATTRIB_METHOD_INTEGRATED_GRADIENTS;
    if (strcmp(name, "grad-x-input") == 0) return ATTRIB_METHOD_GRAD_X_INPUT;
    return -1;
}

attrib_explain_options attrib_explain_default_options(attrib_method method) {
    attrib_explain_options o;
    memset(&o, 0, sizeof o);
    o.method = method;
    o.target.kind = ATTRIB_TARGET_LOGIT;
    o.target.token = -1;
    o.target.token2 = -1;
    o.span_begin = -1; /* resolved: skip a leading BOS */
    o.mask = ATTRIB_MASK_TOKEN;
    o.mask_token = -1;
    o.norm = ATTRIB_NORM_L2;
    o.ig_steps = 32;
    o.ig_rule = ATTRIB_IG_GAUSS_LEGENDRE;
    o.smooth_samples = 16;
    o.smooth_noise = 0.1f;
    o.window = 1;
    o.stride = 1;
    o.samples = (method == ATTRIB_METHOD_KERNELSHAP || method == ATTRIB_METHOD_LIME) ? 256 : 25;
    o.max_exact_features = 16;
    o.lime_kernel_width = 0.25f;
    o.lime_ridge = 1.0f;
    return o;
}

int32_t attrib_default_mask_token(const attrib_tokenizer *tok) {
    if (!tok) return -1;
    int id = attrib_tokenizer_pad(tok);
    if (id >= 0) return id;
    id = attrib_tokenizer_unk(tok);
    if (id >= 0) return id;
    attrib_token *t = NULL;
    size_t n = 0;
    if (attrib_tokenize(tok, " ", 1, 0, &t, &n) == ATTRIB_OK && n == 1) id = t[0].id;
    attrib_free(t);
    return id;
}

void attrib_result_free(attrib_result *r) {
    if (!r) return;
    free(r->feature_of_token);
    free(r->scores);
    free(r->token_scores);
    free(r->std_errors);
    free(r->gradients);
    free(r);
}

/* log-sum-exp of V logits, in double. */
static double log_sum_exp(const float *x, int V) {
    float mx = x[0];
    for (int i = 1; i < V; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int i = 0; i < V; i++) s += exp((double)x[i] - mx);
    return mx + log(s);
}

double explain_target_value(const explain_ctx *c, const float *logits) {
    const attrib_result *r = c->res;
    const int V = c->m->info.n_vocab;
    switch (r->target_kind) {
    case ATTRIB_TARGET_LOGIT: return logits[r->target_token];
    case ATTRIB_TARGET_LOGPROB: return logits[r->target_token] - log_sum_exp(logits, V);
    case ATTRIB_TARGET_PROB: return exp(logits[r->target_token] - log_sum_exp(logits, V));
    case ATTRIB_TARGET_LOGIT_DIFF: return (double)logits[r->target_token] - logits[r->target_token2];
    }
    return NAN;
}

void explain_target_grad(const explain_ctx *c, const float *logits, float *d) {
    const attrib_result *r = c->res;
    const int V = c->m->info.n_vocab;
    memset(d, 0, (size_t)V * sizeof *d);
    switch (r->target_kind) {
    case ATTRIB_TARGET_LOGIT: d[r->target_token] = 1.0f; break;
    case ATTRIB_TARGET_LOGIT_DIFF:
        d[r->target_token] += 1.0f;
        d[r->target_token2] -= 1.0f;
        break;
    case ATTRIB_TARGET_LOGPROB:
    case ATTRIB_TARGET_PROB: {
        /* d log p_t / d z_i = [i == t] - p_i;  d p_t / d z_i = p_t ([i == t] - p_i) */
        const double lse = log_sum_exp(logits, V);
        const double pt = exp(logits[r->target_token] - lse);
        const double scale = r->target_kind == ATTRIB_TARGET_PROB ? pt : 1.0;
        for (int i = 0; i < V; i++) d[i] = (float)(-scale * exp(logits[i] - lse));
        d[r->target_token] += (float)scale;
        break;
    }
    }
}

void explain_progress(const explain_ctx *c, int64_t done, int64_t total) {
    if (c->opt.progress) c->opt.progress(c->opt.progress_user, done, total);
}

static bool is_gradient_method(attrib_method m) { return m <= ATTRIB_METHOD_SMOOTHGRAD; }

static attrib_status check_options(const attrib_model *m, const attrib_explain_options *o, int n) {
    const int V = m->info.n_vocab;
    if ((unsigned)o->method >= ATTRIB_METHOD_COUNT_) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown method %d", (int)o->method);
    if ((unsigned)o->target.kind > ATTRIB_TARGET_LOGIT_DIFF)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown target kind %d", (int)o->target.kind);
    if (o->target.token < -1 || o->target.token >= V)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "target token %d is outside the vocabulary [0, %d)", o->target.token, V);
    if (o->target.kind == ATTRIB_TARGET_LOGIT_DIFF && (o->target.token2 < 0 || o->target.token2 >= V))
        return attrib_fail(ATTRIB_E_BAD_VALUE, "a logit-difference target needs a second token in [0, %d)", V);
    if ((unsigned)o->mask > ATTRIB_MASK_ATTENTION) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown masking %d", (int)o->mask);
    if (o->mask_token < -1 || o->mask_token >= V)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "mask token %d is outside the vocabulary [0, %d)", o->mask_token, V);
    if (o->ig_steps < 1 || o->ig_steps > 4096) return attrib_fail(ATTRIB_E_INVALID_ARG, "IG steps must be in [1, 4096]");
    if ((unsigned)o->ig_rule > ATTRIB_IG_TRAPEZOID) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown IG rule %d", (int)o->ig_rule);
    if (o->smooth_samples < 1 || o->smooth_samples > 65536)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "SmoothGrad samples must be in [1, 65536]");
    if (!(o->smooth_noise >= 0.0f) || !isfinite(o->smooth_noise))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "SmoothGrad noise must be finite and >= 0");
    if (o->window < 1 || o->stride < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "occlusion window and stride must be >= 1");
    if (o->samples < 1 || o->samples > (1 << 24)) return attrib_fail(ATTRIB_E_INVALID_ARG, "samples must be in [1, 2^24]");
    if (o->batch < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "batch must be >= 0");
    if (o->baseline_ids)
        for (int i = 0; i < n; i++)
            if (o->baseline_ids[i] < 0 || o->baseline_ids[i] >= V)
                return attrib_fail(ATTRIB_E_BAD_VALUE, "baseline token %d at position %d is outside the vocabulary", o->baseline_ids[i], i);
    return ATTRIB_OK;
}

/* Features: the span's tokens one by one, or the caller's groups. */
static attrib_status build_features(explain_ctx *c) {
    const attrib_explain_options *o = &c->opt;
    int32_t *f = c->feature_of_token;
    for (int i = 0; i < c->n; i++) f[i] = -1;
    if (!o->groups) {
        for (int i = c->span_begin; i < c->span_end; i++) f[i] = i - c->span_begin;
        c->n_features = c->span_end - c->span_begin;
        return ATTRIB_OK;
    }
    int maxg = -1;
    for (int i = c->span_begin; i < c->span_end; i++) {
        int g = o->groups[i - c->span_begin];
        if (g < -1 || g >= c->n) return attrib_fail(ATTRIB_E_INVALID_ARG, "group %d of token %d is invalid", g, i);
        f[i] = g;
        if (g > maxg) maxg = g;
    }
    if (maxg < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "the groups leave no feature to attribute");
    char *seen = attrib_calloc_array((size_t)maxg + 1, 1);
    if (!seen) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int i = c->span_begin; i < c->span_end; i++)
        if (f[i] >= 0) seen[f[i]] = 1;
    for (int g = 0; g <= maxg; g++)
        if (!seen[g]) {
            free(seen);
            return attrib_fail(ATTRIB_E_INVALID_ARG, "groups must be numbered densely from 0: group %d is empty", g);
        }
    free(seen);
    c->n_features = maxg + 1;
    return ATTRIB_OK;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

attrib_status attrib_explain(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                             attrib_result **result_out) {
    if (!m || !ids || !opt || !result_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_explain: NULL argument");
    if (n < 1 || n > m->info.n_ctx_train)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "input of %d tokens is outside [1, %d] (the model's context)", n,
                           m->info.n_ctx_train);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->info.n_vocab)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "token id %d at position %d is outside the vocabulary [0, %d)", ids[i], i,
                               m->info.n_vocab);
    attrib_status s = check_options(m, opt, n);
    if (s) return s;
    const double t0 = now_seconds();
    explain_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.ids = ids;
    c.n = n;
    c.opt = *opt;
    int bos = m->tok ? attrib_tokenizer_bos(m->tok) : -1;
    c.span_begin = opt->span_begin >= 0 ? opt->span_begin : (n > 1 && ids[0] == bos ? 1 : 0);
    c.span_end = opt->span_end > 0 ? opt->span_end : n;
    if (c.span_begin < 0 || c.span_begin >= c.span_end || c.span_end > n)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attribution span [%d, %d) is empty or outside the %d-token input", c.span_begin,
                           c.span_end, n);
    if (c.opt.mask == ATTRIB_MASK_TOKEN && c.opt.mask_token < 0 && (!is_gradient_method(c.opt.method) || !opt->baseline_ids)) {
        c.opt.mask_token = attrib_default_mask_token(m->tok);
        if (c.opt.mask_token < 0)
            return attrib_fail(ATTRIB_E_INVALID_ARG, "the model has no PAD, UNK or space token to mask with: choose a mask token");
    }
    attrib_result *r = attrib_calloc_array(1, sizeof *r);
    if (!r) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    c.res = r;
    r->method = c.opt.method;
    r->n_tokens = n;
    r->mask = c.opt.mask;
    r->mask_token = c.opt.mask_token;
    r->f_baseline = NAN;
    r->completeness_delta = NAN;
    r->completeness_relative = NAN;
    r->feature_of_token = attrib_calloc_array((size_t)n, sizeof(int32_t));
    float *logits = attrib_calloc_array((size_t)m->info.n_vocab, sizeof(float));
    if (!r->feature_of_token || !logits) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }
    c.feature_of_token = r->feature_of_token;
    if ((s = build_features(&c))) goto fail;
    r->n_features = c.n_features;
    r->scores = attrib_calloc_array((size_t)c.n_features, sizeof(double));
    r->token_scores = attrib_calloc_array((size_t)n, sizeof(double));
    if (!r->scores || !r->token_scores) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }

    /* the unperturbed input: resolves a top-1 target and gives f(x) */
    attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .logits_mode = ATTRIB_LOGITS_LAST};
    if ((s = attrib_forward(m, &b, NULL, logits))) goto fail;
    r->n_forward = 1;
    r->target_kind = c.opt.target.kind;
    r->target_token = c.opt.target.token;
    r->target_token2 = c.opt.target.token2;
    if (r->target_token < 0) {
        int best = 0;
        for (int i = 1; i < m->info.n_vocab; i++)
            if (logits[i] > logits[best]) best = i;
        r->target_token = best;
    }
    r->f_input = explain_target_value(&c, logits);

    s = is_gradient_method(c.opt.method) ? attrib_gradient_run(&c) : attrib_perturb_run(&c);
    if (s) goto fail;

    r->sum_scores = 0;
    for (int f = 0; f < c.n_features; f++) r->sum_scores += r->scores[f];
    int *count = attrib_calloc_array((size_t)c.n_features, sizeof(int));
    if (!count) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (c.feature_of_token[i] >= 0) count[c.feature_of_token[i]]++;
    for (int i = 0; i < n; i++)
        r->token_scores[i] = c.feature_of_token[i] >= 0 ? r->scores[c.feature_of_token[i]] / count[c.feature_of_token[i]] : 0.0;
    free(count);
    if (!isnan(r->f_baseline)) {
        double gap = r->f_input - r->f_baseline;
        r->completeness_delta = r->sum_scores - gap;
        r->completeness_relative = fabs(gap) > 0 ? fabs(r->completeness_delta) / fabs(gap) : fabs(r->completeness_delta);
    }
    r->seconds = now_seconds() - t0;
    free(logits);
    *result_out = r;
    return ATTRIB_OK;
fail:
    free(logits);
    attrib_result_free(r);
    return s;
}
