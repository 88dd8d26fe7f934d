/*
 * explain.c — attrib_explain(): validates the request, fills in defaults,
 * turns the attribution span and optional groups into features, evaluates
 * the unperturbed input once to resolve the target (the top-1 next token
 * unless one is given), runs the method's row of the method table
 * (methods.c), and finishes the result (per-token shares, sums, timing).
 *
 * Targets are functions of the last position's logits: a logit, a log-
 * probability, a probability, or the difference of two logits. The log-
 * softmax is computed with the max subtracted, in double.
 */
#include "attribution/explain.h"

#include "attribution/faith.h"
#include "attribution/methods.h"
#include "attribution/perturb.h"
#include "model/prefix.h"
#include "task/probe.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    o.ig_tol = 0.01; /* adaptive: see gradient.c */
    o.ig_max_steps = 512;
    o.smooth_samples = 16;
    o.smooth_noise = 0.1f;
    o.window = 1;
    o.stride = 1;
    const method_row *row = method_row_of(method);
    o.samples = row && (row->info.reads & ATTRIB_READS_SAMPLES) ? row->info.default_samples : 25;
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
    free(r->ig_nodes);
    free(r->ig_weights);
    free(r->layer_values);
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
    case ATTRIB_TARGET_PROBE: break; /* read from hidden states, never from logits */
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
    case ATTRIB_TARGET_PROBE: break;
    }
}

void explain_progress(const explain_ctx *c, int64_t done, int64_t total) {
    if (c->opt.progress) c->opt.progress(c->opt.progress_user, done, total);
}

static attrib_status check_options(attrib_model *m, const attrib_explain_options *o, int n) {
    const int V = m->info.n_vocab;
    const method_row *row = method_row_of(o->method);
    if (!row) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown method %d", (int)o->method);
    const unsigned reads = row->info.reads;
    if ((unsigned)o->target.kind > ATTRIB_TARGET_PROBE)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown target kind %d", (int)o->target.kind);
    if (o->target.kind == ATTRIB_TARGET_PROBE) {
        if (!o->target.probe) return attrib_fail(ATTRIB_E_INVALID_ARG, "a probe target needs a probe");
        attrib_status s = attrib_probe_check_model(o->target.probe, (attrib_model *)m);
        if (s) return s;
    }
    if (o->target.token < -1 || o->target.token >= V)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "target token %d is outside the vocabulary [0, %d)", o->target.token, V);
    if (o->target.kind == ATTRIB_TARGET_LOGIT_DIFF && (o->target.token2 < 0 || o->target.token2 >= V))
        return attrib_fail(ATTRIB_E_BAD_VALUE, "a logit-difference target needs a second token in [0, %d)", V);
    if ((unsigned)o->mask > ATTRIB_MASK_ATTENTION) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown masking %d", (int)o->mask);
    if (o->mask_token < -1 || o->mask_token >= V)
        return attrib_fail(ATTRIB_E_BAD_VALUE, "mask token %d is outside the vocabulary [0, %d)", o->mask_token, V);
    if (o->ig_steps < 1 || o->ig_steps > 4096) return attrib_fail(ATTRIB_E_INVALID_ARG, "IG steps must be in [1, 4096]");
    if ((unsigned)o->ig_rule > ATTRIB_IG_TRAPEZOID) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown IG rule %d", (int)o->ig_rule);
    if (!(o->ig_tol >= 0.0) || !isfinite(o->ig_tol)) return attrib_fail(ATTRIB_E_INVALID_ARG, "IG tolerance must be finite and >= 0");
    if (o->ig_tol > 0 && (o->ig_max_steps < 8 || o->ig_max_steps > 65536))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "IG max steps must be in [8, 65536], not %d", o->ig_max_steps);
    /* each limit is checked for the method that uses it, so the message names the right one */
    if ((reads & ATTRIB_READS_SMOOTH) && (o->smooth_samples < 1 || o->smooth_samples > 65536))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "SmoothGrad samples must be in [1, 65536], not %d", o->smooth_samples);
    if (!(o->smooth_noise >= 0.0f) || !isfinite(o->smooth_noise))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "SmoothGrad noise must be finite and >= 0");
    if (o->window < 1 || o->stride < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "occlusion window and stride must be >= 1");
    if ((reads & ATTRIB_READS_SAMPLES) && (o->samples < 1 || o->samples > (1 << 24)))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "%s samples must be in [1, 2^24], not %d", row->info.name, o->samples);
    if ((reads & ATTRIB_READS_LIME) && (!(o->lime_kernel_width > 0) || !isfinite(o->lime_kernel_width) || !(o->lime_ridge >= 0) ||
                                        !isfinite(o->lime_ridge)))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "LIME needs a kernel width > 0 and a ridge >= 0");
    if (o->batch < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "batch must be >= 0");
    if (o->layer_attribution) {
        if (o->layer < 0 || o->layer > m->info.n_layer)
            return attrib_fail(ATTRIB_E_INVALID_ARG, "layer %d is outside [0, %d] (the residual stream after that many blocks)",
                               o->layer, m->info.n_layer);
        if (!(reads & ATTRIB_READS_LAYER))
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "layer attribution is computed by saliency, gxi and ig, not %s",
                               row->info.name);
        if (o->groups) return attrib_fail(ATTRIB_E_INVALID_ARG, "layer attribution scores every position: groups must be NULL");
        if (o->target.kind == ATTRIB_TARGET_PROBE)
            return attrib_fail(ATTRIB_E_UNSUPPORTED, "layer attribution explains the model's logits, not a probe");
    }
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
    if (o->layer_attribution) { /* every position's hidden state is a feature */
        for (int i = 0; i < c->n; i++) f[i] = i;
        c->n_features = c->n;
        return ATTRIB_OK;
    }
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

attrib_status explain_eval_one(const explain_ctx *c, const int32_t *ids, const float *emb, double *value) {
    attrib_model *m = c->m;
    const int n = c->n;
    attrib_status s;
    if (c->probe) {
        const int C = m->info.n_embd, rows = c->probe->pool == ATTRIB_POOL_MEAN ? n : 1;
        float *hidden = attrib_calloc_array((size_t)rows, (size_t)C * sizeof(float));
        float *h = attrib_calloc_array((size_t)C, sizeof(float));
        if (!hidden || !h) {
            free(hidden);
            free(h);
            return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        }
        /* (a mean-pooling probe never has c->P > 0: rows == n when rows > 1) */
        attrib_batch b = {.n_seq = 1, .n_tokens = n - c->P, .tokens = ids ? ids + c->P : NULL,
                          .embeddings = ids ? NULL : emb + (size_t)c->P * C,
                          .logits_mode = rows > 1 ? ATTRIB_LOGITS_ALL : ATTRIB_LOGITS_LAST,
                          .hidden_layer = c->probe->layer, .hidden_out = hidden};
        s = attrib_forward(m, &b, c->kv, NULL);
        if (!s) {
            probe_pool_rows(hidden, rows, C, c->pool_start, c->probe->pool, h);
            *value = attrib_probe_logit(c->probe, h);
        }
        free(hidden);
        free(h);
    } else {
        float *logits = attrib_calloc_array((size_t)m->info.n_vocab, sizeof(float));
        if (!logits) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        attrib_batch b = {.n_seq = 1, .n_tokens = n - c->P, .tokens = ids ? ids + c->P : NULL,
                          .embeddings = ids ? NULL : emb + (size_t)c->P * m->info.n_embd, .logits_mode = ATTRIB_LOGITS_LAST};
        s = attrib_forward(m, &b, c->kv, logits);
        if (!s) *value = explain_target_value(c, logits);
        free(logits);
    }
    if (!s && !isfinite(*value))
        s = attrib_fail(ATTRIB_E_NUMERIC, "the target is not finite (%s)", c->probe ? "probe logit" : "logits");
    return s;
}

/* The prefix cache of the request (opt.prefix), checked against the input
 * and the span. It is ignored (c->P stays 0) where a pass needs what it does
 * not keep: a mean-pooling probe's hidden states of the prefix, and layer
 * attribution, whose features are every position's hidden state. */
static attrib_status use_prefix(explain_ctx *c) {
    const attrib_prefix *p = c->opt.prefix;
    attrib_status s = prefix_check(p, c->m, c->ids, c->n);
    if (s) return s;
    const int P = attrib_prefix_len(p);
    if (c->span_begin < P)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the attribution span starts at position %d, inside the %d-token prefix "
                           "cache: features must come after the cached prefix", c->span_begin, P);
    if ((c->probe && c->probe->pool == ATTRIB_POOL_MEAN) || c->opt.layer_attribution) return ATTRIB_OK;
    c->P = P;
    c->kv = prefix_cache(p, c->m, attrib_model_get_compute(c->m));
    c->kv_exact = prefix_cache(p, c->m, ATTRIB_COMPUTE_EXACT);
    return ATTRIB_OK;
}

/* The unperturbed input: gives f(x) and resolves a top-1 target token. */
static attrib_status resolve_target(explain_ctx *c) {
    attrib_result *r = c->res;
    r->target_kind = c->opt.target.kind;
    r->target_token = c->opt.target.token;
    r->target_token2 = c->opt.target.token2;
    if (c->probe) {
        r->target_token = r->target_token2 = -1;
        attrib_status s = explain_eval_one(c, c->ids, NULL, &r->f_input);
        if (!s) r->n_forward = 1;
        return s;
    }
    float *logits = attrib_calloc_array((size_t)c->m->info.n_vocab, sizeof(float));
    if (!logits) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    attrib_batch b = {.n_seq = 1, .n_tokens = c->n - c->P, .tokens = c->ids + c->P, .logits_mode = ATTRIB_LOGITS_LAST};
    attrib_status s = attrib_forward(c->m, &b, c->kv, logits);
    if (!s) {
        r->n_forward = 1;
        if (r->target_token < 0) {
            int best = 0;
            for (int i = 1; i < c->m->info.n_vocab; i++)
                if (logits[i] > logits[best]) best = i;
            r->target_token = best;
        }
        r->f_input = explain_target_value(c, logits);
        if (!isfinite(r->f_input)) s = attrib_fail(ATTRIB_E_NUMERIC, "the target on the input is not finite");
    }
    free(logits);
    return s;
}

attrib_status explain_setup(explain_ctx *c, attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt) {
    memset(c, 0, sizeof *c);
    if (!m || !ids || !opt) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_explain: NULL argument");
    if (n < 1 || n > m->info.n_ctx_train)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "input of %d tokens is outside [1, %d] (the model's context)", n,
                           m->info.n_ctx_train);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->info.n_vocab)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "token id %d at position %d is outside the vocabulary [0, %d)", ids[i], i,
                               m->info.n_vocab);
    attrib_status s = check_options(m, opt, n);
    if (s) return s;
    c->m = m;
    c->ids = ids;
    c->n = n;
    c->opt = *opt;
    if (opt->target.kind == ATTRIB_TARGET_PROBE) {
        c->probe = opt->target.probe;
        c->pool_start = probe_pool_start(m, ids, n);
    }
    int bos = m->tok ? attrib_tokenizer_bos(m->tok) : -1;
    /* BOS is never a feature: an input of BOS alone has none (an error below) */
    c->span_begin = opt->span_begin >= 0 ? opt->span_begin : (bos >= 0 && ids[0] == bos ? 1 : 0);
    c->span_end = opt->span_end > 0 ? opt->span_end : n;
    if (c->span_begin < 0 || c->span_begin >= c->span_end || c->span_end > n)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attribution span [%d, %d) is empty or outside the %d-token input", c->span_begin,
                           c->span_end, n);
    if (opt->prefix && (s = use_prefix(c))) return s;
    /* a given baseline sequence replaces the mask token as the baseline */
    const bool own_baseline = (method_row_of(c->opt.method)->info.reads & ATTRIB_READS_BASELINE) && opt->baseline_ids;
    if (c->opt.mask == ATTRIB_MASK_TOKEN && c->opt.mask_token < 0 && !own_baseline) {
        c->opt.mask_token = attrib_default_mask_token(m->tok);
        if (c->opt.mask_token < 0)
            return attrib_fail(ATTRIB_E_INVALID_ARG, "the model has no PAD, UNK or space token to mask with: choose a mask token");
    }
    attrib_result *r = attrib_calloc_array(1, sizeof *r);
    if (!r) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    c->res = r;
    r->method = c->opt.method;
    r->n_tokens = n;
    r->mask = c->opt.mask;
    r->mask_token = c->opt.mask_token;
    r->f_baseline = NAN;
    r->completeness_delta = NAN;
    r->completeness_relative = NAN;
    r->ig_error_bound = NAN;
    r->layer = opt->layer_attribution ? opt->layer : -1;
    r->prefix_len = c->P;
    r->feature_of_token = attrib_calloc_array((size_t)n, sizeof(int32_t));
    if (!r->feature_of_token) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }
    c->feature_of_token = r->feature_of_token;
    if ((s = build_features(c))) goto fail;
    r->n_features = c->n_features;
    r->scores = attrib_calloc_array((size_t)c->n_features, sizeof(double));
    r->token_scores = attrib_calloc_array((size_t)n, sizeof(double));
    if (!r->scores || !r->token_scores) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = resolve_target(c))) goto fail;
    return ATTRIB_OK;
fail:
    attrib_result_free(r);
    c->res = NULL;
    return s;
}

static attrib_status explain_impl(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                                  attrib_result **result_out);

attrib_status attrib_explain(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                             attrib_result **result_out) {
    const method_row *row = opt ? method_row_of(opt->method) : NULL;
    if (!m || !row || row->info.family != ATTRIB_FAMILY_GRADIENT || attrib_model_get_compute(m) == ATTRIB_COMPUTE_EXACT)
        return explain_impl(m, ids, n, opt, result_out);
    /* gradient passes are exact: so are the values they are checked against
     * (f(x) and f(baseline) in IG's completeness), never the fast forward */
    attrib_model_set_compute(m, ATTRIB_COMPUTE_EXACT);
    attrib_status s = explain_impl(m, ids, n, opt, result_out);
    attrib_model_set_compute(m, ATTRIB_COMPUTE_FAST);
    return s;
}

static attrib_status explain_impl(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                                  attrib_result **result_out) {
    if (!result_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_explain: NULL argument");
    const double t0 = now_seconds();
    explain_ctx c;
    attrib_status s = explain_setup(&c, m, ids, n, opt);
    if (s) return s;
    attrib_result *r = c.res;
    /* the row's run function; layer attribution (of the rows that read it) has its own */
    s = c.opt.layer_attribution ? attrib_layer_run(&c) : method_row_of(c.opt.method)->run(&c);
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
    for (int f = 0; f < c.n_features; f++)
        if (!isfinite(r->scores[f])) {
            s = attrib_fail(ATTRIB_E_NUMERIC, "the attribution of feature %d is not finite", f);
            goto fail;
        }
    if (!isnan(r->f_baseline)) {
        double gap = r->f_input - r->f_baseline;
        r->completeness_delta = r->sum_scores - gap;
        r->completeness_relative = fabs(gap) > 0 ? fabs(r->completeness_delta) / fabs(gap) : fabs(r->completeness_delta);
    }
    r->seconds = now_seconds() - t0;
    *result_out = r;
    return ATTRIB_OK;
fail:
    attrib_result_free(r);
    return s;
}

attrib_status attrib_evaluate_masked(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                                     const uint8_t *present, int n_features, int count, double *values) {
    if (!present || !values || count < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_evaluate_masked: bad argument");
    explain_ctx c;
    attrib_status s = explain_setup(&c, m, ids, n, opt);
    if (s) return s;
    perturb_model *pm = NULL;
    const uint8_t **rows = NULL;
    if (n_features != c.n_features) {
        s = attrib_fail(ATTRIB_E_INVALID_ARG, "%d features given but the request has %d", n_features, c.n_features);
        goto done;
    }
    if ((s = perturb_model_new(&c, &pm))) goto done;
    rows = attrib_calloc_array((size_t)(count > 0 ? count : 1), sizeof *rows);
    if (!rows) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < count; k++) rows[k] = present + (size_t)k * n_features;
    for (int k = 0; k < count && !s; k += PERTURB_CHUNK) {
        int mk = count - k < PERTURB_CHUNK ? count - k : PERTURB_CHUNK;
        s = perturb_model_values(pm, rows + k, mk, values + k);
    }
done:
    free(rows);
    perturb_model_free(pm);
    attrib_result_free(c.res);
    return s;
}

attrib_status attrib_faithfulness_eval(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                                       const double *scores, int n_features, const attrib_faithfulness_options *fopt,
                                       attrib_faithfulness *out) {
    if (!scores || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_faithfulness_eval: NULL argument");
    return attrib_faithfulness_eval_many(m, ids, n, opt, 1, &scores, n_features, fopt, out);
}

attrib_status attrib_faithfulness_eval_many(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *opt,
                                            int n_rankings, const double *const *scores, int n_features,
                                            const attrib_faithfulness_options *fopt, attrib_faithfulness *out) {
    if (!scores || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_faithfulness_eval: NULL argument");
    if (n_rankings < 1 || n_rankings > ATTRIB_FAITH_MAX_RANKINGS)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_faithfulness_eval_many: 1..%d rankings, not %d",
                           ATTRIB_FAITH_MAX_RANKINGS, n_rankings);
    for (int r = 0; r < n_rankings; r++)
        if (!scores[r]) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_faithfulness_eval_many: ranking %d is NULL", r);
    explain_ctx c;
    attrib_status s = explain_setup(&c, m, ids, n, opt);
    if (s) return s;
    perturb_model *pm = NULL;
    const attrib_faithfulness_options fo = fopt ? *fopt : attrib_faithfulness_default_options();
    if (n_features != c.n_features) {
        s = attrib_fail(ATTRIB_E_INVALID_ARG, "%d scores given but the request has %d features", n_features, c.n_features);
        goto done;
    }
    if ((s = faith_check_options(&fo))) goto done; /* before the value function's passes */
    if ((s = perturb_model_new(&c, &pm))) goto done;
    const perturb_game g = {.n = c.n_features,
                            .fn = perturb_model_values,
                            .ctx = pm,
                            .v_all = c.res->f_input,
                            .v_none = perturb_model_f_none(pm)};
    s = faith_run_many(&g, n_rankings, scores, &fo, out);
done:
    perturb_model_free(pm);
    attrib_result_free(c.res);
    return s;
}
