/*
 * probe.c — linear probes: the classifier of harmful-query detection for
 * models that cannot judge by prompting. A probe reads the residual stream
 * after a chosen number of blocks, pooled over the prompt (its last token,
 * or the mean over every token but a leading BOS), standardises it with the
 * training set's statistics and applies a logistic-regression logit.
 *
 * Training is L2-regularised logistic regression fitted by Newton's method
 * on the exact Hessian (the problem is small: C + 1 parameters, C <= a few
 * thousand) with a backtracking line search, in double. The L2 strength is
 * chosen by log-loss on a stratified validation split. The fitted
 * parameters are rounded to float once, and every prediction — including
 * the training report — uses those floats, so a probe saved and loaded
 * again predicts bit for bit what the freshly trained one did.
 *
 * Probes are saved as small GGUF files (architecture "attrib-probe") that
 * record the model's sha256; attrib_probe_check_model refuses a probe on a
 * different model. A probe file is untrusted input like any model file: it
 * goes through the strict GGUF reader, then every key and tensor is checked.
 */
#include "task/probe.h"

#include "basics/numerics.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_ARCH "attrib-probe"
#define PROBE_MAX_DIM (1 << 20)
#define PROBE_MAX_DESCRIPTION (1 << 16)

int attrib_pool_from_name(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "last")) return ATTRIB_POOL_LAST;
    if (!strcmp(name, "mean")) return ATTRIB_POOL_MEAN;
    return -1;
}

const char *attrib_pool_name(attrib_pool pool) { return pool == ATTRIB_POOL_MEAN ? "mean" : "last"; }

void attrib_probe_free(attrib_probe *p) {
    if (!p) return;
    free(p->w);
    free(p->mean);
    free(p->scale);
    free(p->model_arch);
    free(p->description);
    free(p);
}

static attrib_probe *probe_alloc(int dim) {
    attrib_probe *p = attrib_calloc_array(1, sizeof *p);
    if (!p) return NULL;
    p->dim = dim;
    p->w = attrib_calloc_array((size_t)dim, sizeof(float));
    p->mean = attrib_calloc_array((size_t)dim, sizeof(float));
    p->scale = attrib_calloc_array((size_t)dim, sizeof(float));
    if (!p->w || !p->mean || !p->scale) {
        attrib_probe_free(p);
        return NULL;
    }
    return p;
}

int attrib_probe_layer(const attrib_probe *p) { return p ? p->layer : -1; }
attrib_pool attrib_probe_pool(const attrib_probe *p) { return p ? p->pool : ATTRIB_POOL_LAST; }
int attrib_probe_dim(const attrib_probe *p) { return p ? p->dim : 0; }
const char *attrib_probe_model_sha256(const attrib_probe *p) { return p ? p->model_sha256 : NULL; }
const attrib_probe_report *attrib_probe_get_report(const attrib_probe *p) { return p ? &p->report : NULL; }

double attrib_probe_logit(const attrib_probe *p, const float *h) {
    double z = p->bias;
    for (int d = 0; d < p->dim; d++) z += (double)p->w[d] * (((double)h[d] - p->mean[d]) / p->scale[d]);
    return z;
}

void probe_feature_grad(const attrib_probe *p, float *dh) {
    for (int d = 0; d < p->dim; d++) dh[d] = (float)((double)p->w[d] / p->scale[d]);
}

/* ------------------------------------------------------------ features */

int probe_pool_start(const attrib_model *m, const int32_t *ids, int n) {
    const int bos = m->tok ? attrib_tokenizer_bos(m->tok) : -1;
    return (n > 1 && bos >= 0 && ids[0] == bos) ? 1 : 0;
}

void probe_pool_rows(const float *hidden, int n, int C, int start, attrib_pool pool, float *out) {
    if (pool == ATTRIB_POOL_LAST) {
        memcpy(out, hidden + (size_t)(n - 1) * C, sizeof(float) * (size_t)C);
        return;
    }
    for (int d = 0; d < C; d++) {
        double s = 0;
        for (int t = start; t < n; t++) s += hidden[(size_t)t * C + d];
        out[d] = (float)(s / (n - start));
    }
}

attrib_status probe_features_one(attrib_model *m, const int32_t *ids, int n, int layer, attrib_pool pool, float *out) {
    const int C = m->info.n_embd;
    float *hidden = attrib_calloc_array(pool == ATTRIB_POOL_MEAN ? (size_t)n : 1, (size_t)C * sizeof(float));
    if (!hidden) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    attrib_batch b = {.n_seq = 1,
                      .n_tokens = n,
                      .tokens = ids,
                      .logits_mode = pool == ATTRIB_POOL_MEAN ? ATTRIB_LOGITS_ALL : ATTRIB_LOGITS_LAST,
                      .hidden_layer = layer,
                      .hidden_out = hidden};
    attrib_status s = attrib_forward(m, &b, NULL, NULL);
    if (!s) {
        probe_pool_rows(hidden, pool == ATTRIB_POOL_MEAN ? n : 1, C, probe_pool_start(m, ids, n), pool, out);
        for (int d = 0; d < C; d++)
            if (!isfinite(out[d])) {
                s = attrib_fail(ATTRIB_E_NUMERIC, "the hidden state after block %d is not finite (dimension %d)", layer, d);
                break;
            }
    }
    free(hidden);
    return s;
}

attrib_status attrib_model_features(attrib_model *m, const int32_t *const *ids, const int *lens, int n_seq, int layer,
                                    attrib_pool pool, float *out) {
    if (!m || !ids || !lens || !out || n_seq < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_model_features: bad argument");
    if (layer < 0 || layer > m->info.n_layer)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "layer %d is outside [0, %d] (blocks of the model)", layer, m->info.n_layer);
    if (pool != ATTRIB_POOL_LAST && pool != ATTRIB_POOL_MEAN) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown pooling %d", (int)pool);
    for (int s = 0; s < n_seq; s++) {
        if (!ids[s] || lens[s] < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "sequence %d is empty", s);
        attrib_status st = probe_features_one(m, ids[s], lens[s], layer, pool, out + (size_t)s * m->info.n_embd);
        if (st) return st;
    }
    return ATTRIB_OK;
}

/* ------------------------------------------------------------ training */

attrib_probe_train_options attrib_probe_default_train_options(void) {
    attrib_probe_train_options o;
    memset(&o, 0, sizeof o);
    o.n_l2 = 9;
    for (int i = 0; i < 9; i++) o.l2[i] = pow(10.0, i - 4);
    o.val_fraction = 0.2;
    o.max_iter = 50;
    return o;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* log(1 + e^s) without overflow. */
static double softplus(double s) { return s > 0 ? s + log1p(exp(-s)) : log1p(exp(s)); }
static double sigmoid(double s) { return s >= 0 ? 1.0 / (1.0 + exp(-s)) : exp(s) / (1.0 + exp(s)); }

/* Logistic regression on standardised rows Z (n, d) with labels Y: theta
 * (d + 1: weights, then bias) minimises mean log-loss + l2/2 |w|^2. */
typedef struct fit_problem {
    const double *z;
    const int *y;
    int n, d;
} fit_problem;

static double fit_loss(const fit_problem *fp, const double *theta, double l2, double *s_out) {
    double loss = 0, reg = 0;
    for (int i = 0; i < fp->n; i++) {
        double s = theta[fp->d];
        const double *zi = fp->z + (size_t)i * fp->d;
        for (int j = 0; j < fp->d; j++) s += zi[j] * theta[j];
        if (s_out) s_out[i] = s;
        loss += softplus(s) - (fp->y[i] ? s : 0.0);
    }
    for (int j = 0; j < fp->d; j++) reg += theta[j] * theta[j];
    return loss / fp->n + 0.5 * l2 * reg;
}

/* Newton's method from THETA (warm start), in place. Returns iterations. */
static attrib_status fit_newton(const fit_problem *fp, double l2, int max_iter, double *theta, int *iters) {
    const int n = fp->n, d = fp->d, P = d + 1;
    double *s = attrib_calloc_array((size_t)n, sizeof(double));
    double *g = attrib_calloc_array((size_t)P, sizeof(double));
    double *H = attrib_calloc_array((size_t)P * P, sizeof(double));
    double *zq = attrib_calloc_array((size_t)n * P, sizeof(double));
    double *trial = attrib_calloc_array((size_t)P, sizeof(double));
    attrib_status st = ATTRIB_OK;
    if (!s || !g || !H || !zq || !trial) {
        st = attrib_fail(ATTRIB_E_NOMEM, "out of memory fitting a probe of %d features", d);
        goto done;
    }
    openblas_set_num_threads(1); /* bit-stable products, as everywhere in attrib */
    double loss = fit_loss(fp, theta, l2, s);
    int it = 0;
    for (; it < max_iter; it++) {
        /* gradient and Hessian: H = Z1^T diag(p(1-p)) Z1 / n + l2 I (not on the bias) */
        memset(g, 0, sizeof(double) * P);
        for (int i = 0; i < n; i++) {
            const double p = sigmoid(s[i]), r = p - (fp->y[i] ? 1.0 : 0.0), q = sqrt(p * (1 - p) / n);
            const double *zi = fp->z + (size_t)i * d;
            for (int j = 0; j < d; j++) {
                g[j] += r * zi[j] / n;
                zq[(size_t)i * P + j] = q * zi[j];
            }
            g[d] += r / n;
            zq[(size_t)i * P + d] = q;
        }
        double gnorm = 0;
        for (int j = 0; j < d; j++) g[j] += l2 * theta[j];
        for (int j = 0; j < P; j++) gnorm += g[j] * g[j];
        if (sqrt(gnorm) < 1e-9) break;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, P, n, 1.0, zq, P, 0.0, H, P);
        for (int a = 0; a < P; a++)
            for (int b = 0; b < a; b++) H[(size_t)a * P + b] = H[(size_t)b * P + a];
        for (int j = 0; j < d; j++) H[(size_t)j * P + j] += l2;
        /* Newton direction: H dir = g (attrib_solve_spd overwrites g with dir) */
        if ((st = attrib_solve_spd(H, g, P))) goto done;
        double step = 1.0, next = INFINITY;
        for (int ls = 0; ls < 40; ls++, step *= 0.5) {
            for (int j = 0; j < P; j++) trial[j] = theta[j] - step * g[j];
            next = fit_loss(fp, trial, l2, NULL);
            if (next <= loss) break;
        }
        if (!(next <= loss)) break; /* no descent left: converged to rounding */
        memcpy(theta, trial, sizeof(double) * P);
        const double drop = loss - next;
        loss = fit_loss(fp, theta, l2, s);
        if (drop < 1e-14 * (1 + fabs(loss))) {
            it++;
            break;
        }
    }
    *iters = it;
done:
    free(s);
    free(g);
    free(H);
    free(zq);
    free(trial);
    return st;
}

attrib_status probe_fit_logistic(const double *z, const int *y, int n, int d, double l2, int max_iter, double *theta, int *iters) {
    const fit_problem fp = {z, y, n, d};
    return fit_newton(&fp, l2, max_iter, theta, iters);
}

/* Accuracy, AUROC and confusion of the float probe P on rows X (raw features). */
static attrib_status probe_evaluate(const attrib_probe *p, const float *x, const int *y, const int *rows, int m, double *acc,
                                    double *auroc, int confusion[2][2]) {
    double *sc = attrib_calloc_array((size_t)(m > 0 ? m : 1), sizeof(double));
    int *lab = attrib_calloc_array((size_t)(m > 0 ? m : 1), sizeof(int));
    if (!sc || !lab) {
        free(sc);
        free(lab);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    }
    int correct = 0;
    if (confusion) memset(confusion, 0, sizeof(int) * 4);
    for (int k = 0; k < m; k++) {
        sc[k] = attrib_probe_logit(p, x + (size_t)rows[k] * p->dim);
        lab[k] = y[rows[k]] ? 1 : 0;
        const int pred = sc[k] > 0;
        correct += pred == lab[k];
        if (confusion) confusion[lab[k]][pred]++;
    }
    *acc = m ? (double)correct / m : NAN;
    *auroc = attrib_auroc(sc, lab, m);
    free(sc);
    free(lab);
    return ATTRIB_OK;
}

attrib_status attrib_probe_train(attrib_model *model, int layer, attrib_pool pool, const float *x, const int *y, int n,
                                 const attrib_probe_train_options *opt, attrib_probe **probe_out, attrib_probe_report *report_out) {
    if (!model || !x || !y || !probe_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_probe_train: NULL argument");
    attrib_probe_train_options o = opt ? *opt : attrib_probe_default_train_options();
    const int d = model->info.n_embd;
    if (layer < 0 || layer > model->info.n_layer)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "layer %d is outside [0, %d] (blocks of the model)", layer, model->info.n_layer);
    if (pool != ATTRIB_POOL_LAST && pool != ATTRIB_POOL_MEAN) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown pooling %d", (int)pool);
    if (o.n_l2 < 1 || o.n_l2 > 16) return attrib_fail(ATTRIB_E_INVALID_ARG, "between 1 and 16 L2 strengths must be given");
    for (int i = 0; i < o.n_l2; i++)
        if (!(o.l2[i] > 0) || !isfinite(o.l2[i])) return attrib_fail(ATTRIB_E_INVALID_ARG, "L2 strengths must be finite and > 0");
    if (!(o.val_fraction > 0 && o.val_fraction < 0.9))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the validation fraction must be in (0, 0.9)");
    if (o.max_iter < 1 || o.max_iter > 1000) return attrib_fail(ATTRIB_E_INVALID_ARG, "max_iter must be in [1, 1000]");
    int count[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "label %d of row %d is not 0 or 1", y[i], i);
        count[y[i]]++;
    }
    if (count[0] < 2 || count[1] < 2)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "a probe needs at least 2 examples of each class (got %d negative, %d positive)",
                           count[0], count[1]);
    for (size_t i = 0; i < (size_t)n * d; i++)
        if (!isfinite(x[i])) return attrib_fail(ATTRIB_E_NUMERIC, "feature %zu of row %zu is not finite", i % d, i / d);
    const char *sha = attrib_model_sha256(model);
    if (!sha) return ATTRIB_E_IO;

    /* stratified split: each class shuffled with the seed, the first part to validation */
    int *train = attrib_calloc_array((size_t)n, sizeof(int)), *val = attrib_calloc_array((size_t)n, sizeof(int));
    int *cls = attrib_calloc_array((size_t)n, sizeof(int));
    double *z = attrib_calloc_array((size_t)n * d, sizeof(double)), *mu = attrib_calloc_array((size_t)d, sizeof(double));
    double *theta = attrib_calloc_array((size_t)d + 1, sizeof(double)), *best = attrib_calloc_array((size_t)d + 1, sizeof(double));
    int *ytr = attrib_calloc_array((size_t)n, sizeof(int)), *yva = attrib_calloc_array((size_t)n, sizeof(int));
    double *zva = attrib_calloc_array((size_t)n * d, sizeof(double));
    attrib_probe *p = probe_alloc(d);
    attrib_status st = ATTRIB_OK;
    if (!train || !val || !cls || !z || !mu || !theta || !best || !ytr || !yva || !zva || !p) {
        st = attrib_fail(ATTRIB_E_NOMEM, "out of memory training a probe on %d rows", n);
        goto done;
    }
    int n_tr = 0, n_va = 0;
    uint64_t rng = o.seed ^ 0x9b0be5eedull;
    for (int c = 0; c < 2; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (y[i] == c) cls[m++] = i;
        for (int i = m - 1; i > 0; i--) {
            int j = (int)(splitmix(&rng) % (uint64_t)(i + 1));
            int t = cls[i];
            cls[i] = cls[j];
            cls[j] = t;
        }
        int nv = (int)lround(o.val_fraction * m);
        if (nv < 1) nv = 1;
        if (nv > m - 1) nv = m - 1;
        for (int k = 0; k < m; k++) {
            if (k < nv) val[n_va++] = cls[k];
            else train[n_tr++] = cls[k];
        }
    }
    /* rows in file order inside each part: the fit does not depend on the shuffle beyond the split */
    for (int pass = 0; pass < 2; pass++) {
        int *a = pass ? val : train, m = pass ? n_va : n_tr;
        for (int i = 1; i < m; i++)
            for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
                int t = a[j];
                a[j] = a[j - 1];
                a[j - 1] = t;
            }
    }
    /* standardisation from the training part, rounded to float first: the
     * fit sees exactly the features the stored probe will compute */
    for (int k = 0; k < n_tr; k++)
        for (int j = 0; j < d; j++) mu[j] += x[(size_t)train[k] * d + j];
    for (int j = 0; j < d; j++) p->mean[j] = (float)(mu[j] / n_tr);
    for (int j = 0; j < d; j++) {
        double v = 0;
        for (int k = 0; k < n_tr; k++) {
            double e = (double)x[(size_t)train[k] * d + j] - p->mean[j];
            v += e * e;
        }
        double sd = sqrt(v / n_tr);
        p->scale[j] = (float)(sd > 1e-6 ? sd : 1.0);
    }
    for (int k = 0; k < n_tr; k++) {
        ytr[k] = y[train[k]];
        for (int j = 0; j < d; j++) z[(size_t)k * d + j] = ((double)x[(size_t)train[k] * d + j] - p->mean[j]) / p->scale[j];
    }
    for (int k = 0; k < n_va; k++) {
        yva[k] = y[val[k]];
        for (int j = 0; j < d; j++) zva[(size_t)k * d + j] = ((double)x[(size_t)val[k] * d + j] - p->mean[j]) / p->scale[j];
    }
    const fit_problem tr = {z, ytr, n_tr, d}, va = {zva, yva, n_va, d};
    /* strongest regularisation first; each fit warm-starts the next */
    double best_loss = INFINITY, best_l2 = NAN;
    int best_iters = 0;
    int order[16];
    for (int i = 0; i < o.n_l2; i++) order[i] = i;
    for (int i = 1; i < o.n_l2; i++)
        for (int j = i; j > 0 && o.l2[order[j - 1]] < o.l2[order[j]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < o.n_l2; i++) {
        const double l2 = o.l2[order[i]];
        int iters = 0;
        if ((st = fit_newton(&tr, l2, o.max_iter, theta, &iters))) goto done;
        const double vloss = fit_loss(&va, theta, 0.0, NULL);
        if (vloss < best_loss) { /* ties keep the stronger regularisation */
            best_loss = vloss;
            best_l2 = l2;
            best_iters = iters;
            memcpy(best, theta, sizeof(double) * (d + 1));
        }
    }
    if (!isfinite(best_loss)) {
        st = attrib_fail(ATTRIB_E_NUMERIC, "the probe's validation loss is not finite for any L2 strength");
        goto done;
    }
    for (int j = 0; j < d; j++) p->w[j] = (float)best[j];
    p->bias = (float)best[d];
    p->layer = layer;
    p->pool = pool;
    memcpy(p->model_sha256, sha, 65);
    if (!(p->model_arch = attrib_strdup(model->info.arch ? model->info.arch : ""))) {
        st = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    attrib_probe_report *r = &p->report;
    r->l2 = best_l2;
    r->n_train = n_tr;
    r->n_val = n_va;
    r->iterations = best_iters;
    if ((st = probe_evaluate(p, x, y, train, n_tr, &r->train_accuracy, &r->train_auroc, NULL))) goto done;
    if ((st = probe_evaluate(p, x, y, val, n_va, &r->val_accuracy, &r->val_auroc, r->val_confusion))) goto done;
    if (report_out) *report_out = *r;
    *probe_out = p;
    p = NULL;
done:
    attrib_probe_free(p);
    free(train);
    free(val);
    free(cls);
    free(z);
    free(mu);
    free(theta);
    free(best);
    free(ytr);
    free(yva);
    free(zva);
    return st;
}

attrib_status attrib_probe_check_model(const attrib_probe *p, attrib_model *m) {
    if (!p || !m) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_probe_check_model: NULL argument");
    if (p->dim != m->info.n_embd)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the probe reads %d-wide hidden states but the model's width is %d: it was trained on another model",
                           p->dim, m->info.n_embd);
    if (p->layer > m->info.n_layer)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the probe reads block %d but the model has %d", p->layer, m->info.n_layer);
    const char *sha = attrib_model_sha256(m);
    if (!sha) return ATTRIB_E_IO;
    if (strcmp(sha, p->model_sha256) != 0)
        return attrib_fail(ATTRIB_E_INVALID_ARG,
                           "the probe was trained on a different model (model sha256 %.16s..., %s) than '%s' (sha256 %.16s...)",
                           p->model_sha256, p->model_arch ? p->model_arch : "?", m->info.path ? m->info.path : "?", sha);
    return ATTRIB_OK;
}

attrib_status attrib_probe_predict(const attrib_probe *p, attrib_model *m, const int32_t *const *ids, const int *lens, int n_seq,
                                   double *logits) {
    if (!p || !m || !ids || !lens || !logits || n_seq < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_probe_predict: bad argument");
    attrib_status s = attrib_probe_check_model(p, m);
    if (s) return s;
    float *h = attrib_calloc_array((size_t)p->dim, sizeof(float));
    if (!h) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    for (int i = 0; i < n_seq && !s; i++) {
        if (!ids[i] || lens[i] < 1) s = attrib_fail(ATTRIB_E_INVALID_ARG, "sequence %d is empty", i);
        else if (!(s = probe_features_one(m, ids[i], lens[i], p->layer, p->pool, h))) logits[i] = attrib_probe_logit(p, h);
    }
    free(h);
    return s;
}

/* ------------------------------------------------------------ GGUF file */

typedef struct writer {
    FILE *f;
    bool ok;
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (w->ok && fwrite(p, 1, n, w->f) != n) w->ok = false;
}
static void put_u32(writer *w, uint32_t v) { put(w, &v, 4); } /* GGUF is little-endian, as are attrib's targets */
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(writer *w, const char *s) {
    size_t n = strlen(s);
    put_u64(w, n);
    put(w, s, n);
}
static void kv_str(writer *w, const char *k, const char *v) {
    put_str(w, k);
    put_u32(w, GGUF_TYPE_STRING);
    put_str(w, v);
}
static void kv_u32(writer *w, const char *k, uint32_t v) {
    put_str(w, k);
    put_u32(w, GGUF_TYPE_UINT32);
    put_u32(w, v);
}
static void kv_f32(writer *w, const char *k, float v) {
    put_str(w, k);
    put_u32(w, GGUF_TYPE_FLOAT32);
    put(w, &v, 4);
}
static void kv_f64(writer *w, const char *k, double v) {
    put_str(w, k);
    put_u32(w, GGUF_TYPE_FLOAT64);
    put(w, &v, 8);
}

static const char *const TENSOR_NAMES[3] = {"probe.weight", "probe.mean", "probe.scale"};

attrib_status attrib_probe_save(const attrib_probe *p, const char *path, const char *description) {
    if (!p || !path) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_probe_save: NULL argument");
    if (description && strlen(description) > PROBE_MAX_DESCRIPTION)
        return attrib_fail(ATTRIB_E_LIMIT, "probe description longer than %d bytes", PROBE_MAX_DESCRIPTION);
    /* written next to the destination and renamed: an existing probe is never left half-overwritten */
    size_t plen = strlen(path);
    char *tmp = attrib_malloc(plen + 16);
    if (!tmp) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid() % 100000);
    writer w = {fopen(tmp, "wb"), true};
    if (!w.f) {
        attrib_status s = attrib_fail(ATTRIB_E_IO, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    const attrib_probe_report *r = &p->report;
    const uint32_t n_kv = 19;
    put(&w, "GGUF", 4);
    put_u32(&w, 3);
    put_u64(&w, 3);
    put_u64(&w, n_kv);
    kv_str(&w, "general.architecture", PROBE_ARCH);
    kv_u32(&w, "general.alignment", 32);
    kv_str(&w, "attrib.version", ATTRIB_VERSION_STRING);
    kv_u32(&w, "attrib.probe.layer", (uint32_t)p->layer);
    kv_str(&w, "attrib.probe.pool", attrib_pool_name(p->pool));
    kv_u32(&w, "attrib.probe.dim", (uint32_t)p->dim);
    kv_f32(&w, "attrib.probe.bias", p->bias);
    kv_str(&w, "attrib.probe.model_sha256", p->model_sha256);
    kv_str(&w, "attrib.probe.model_arch", p->model_arch ? p->model_arch : "");
    kv_str(&w, "attrib.probe.description", description ? description : (p->description ? p->description : ""));
    kv_f64(&w, "attrib.probe.l2", r->l2);
    kv_u32(&w, "attrib.probe.n_train", (uint32_t)r->n_train);
    kv_u32(&w, "attrib.probe.n_val", (uint32_t)r->n_val);
    kv_f64(&w, "attrib.probe.train_accuracy", r->train_accuracy);
    kv_f64(&w, "attrib.probe.val_accuracy", r->val_accuracy);
    kv_f64(&w, "attrib.probe.train_auroc", r->train_auroc);
    kv_f64(&w, "attrib.probe.val_auroc", r->val_auroc);
    kv_u32(&w, "attrib.probe.iterations", (uint32_t)r->iterations);
    {
        /* [true][predicted] flattened: tn, fp, fn, tp */
        put_str(&w, "attrib.probe.val_confusion");
        put_u32(&w, GGUF_TYPE_ARRAY);
        put_u32(&w, GGUF_TYPE_UINT32);
        put_u64(&w, 4);
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) put_u32(&w, (uint32_t)r->val_confusion[a][b]);
    }
    const uint64_t tbytes = (uint64_t)p->dim * sizeof(float), stride = (tbytes + 31) / 32 * 32;
    for (int t = 0; t < 3; t++) {
        put_str(&w, TENSOR_NAMES[t]);
        put_u32(&w, 1);
        put_u64(&w, (uint64_t)p->dim);
        put_u32(&w, ATTRIB_DTYPE_F32);
        put_u64(&w, (uint64_t)t * stride);
    }
    long pos = w.ok ? ftell(w.f) : 0;
    static const uint8_t zeros[32] = {0};
    if (pos >= 0) put(&w, zeros, (size_t)((32 - pos % 32) % 32));
    const float *data[3] = {p->w, p->mean, p->scale};
    for (int t = 0; t < 3; t++) {
        put(&w, data[t], tbytes);
        put(&w, zeros, (size_t)(stride - tbytes));
    }
    if (fclose(w.f) != 0) w.ok = false;
    attrib_status s = ATTRIB_OK;
    if (!w.ok) s = attrib_fail(ATTRIB_E_IO, "cannot write '%s'", tmp);
    else if (rename(tmp, path) != 0) s = attrib_fail(ATTRIB_E_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (s) remove(tmp);
    free(tmp);
    return s;
}

/* Typed metadata lookups for the loader: a missing key or a wrong type is an error naming the key. */
static attrib_status need_key(const gguf_ctx *g, const char *key, gguf_value_type type, int64_t *idx) {
    *idx = gguf_find_key(g, key);
    if (*idx < 0) return attrib_fail(ATTRIB_E_MISSING, "probe file: key '%s' is missing", key);
    if (gguf_kv_type(g, *idx) != type) return attrib_fail(ATTRIB_E_METADATA_TYPE, "probe file: key '%s' has the wrong type", key);
    return ATTRIB_OK;
}

static attrib_status get_u32_key(const gguf_ctx *g, const char *key, uint32_t max, uint32_t *v) {
    int64_t i;
    attrib_status s = need_key(g, key, GGUF_TYPE_UINT32, &i);
    if (s) return s;
    gguf_get_u32(g, i, v);
    if (*v > max) return attrib_fail(ATTRIB_E_BAD_VALUE, "probe file: '%s' = %u exceeds %u", key, *v, max);
    return ATTRIB_OK;
}

static attrib_status get_f64_key(const gguf_ctx *g, const char *key, double *v) {
    int64_t i;
    attrib_status s = need_key(g, key, GGUF_TYPE_FLOAT64, &i);
    if (s) return s;
    gguf_get_float(g, i, v);
    return ATTRIB_OK;
}

/* A string value copied out (NUL-terminated). */
static attrib_status get_str_key(const gguf_ctx *g, const char *key, size_t max, char **out) {
    int64_t i;
    attrib_status s = need_key(g, key, GGUF_TYPE_STRING, &i);
    if (s) return s;
    const char *v;
    size_t n;
    gguf_get_str(g, i, &v, &n);
    if (n > max) return attrib_fail(ATTRIB_E_LIMIT, "probe file: '%s' is longer than %zu bytes", key, max);
    if (memchr(v, 0, n)) return attrib_fail(ATTRIB_E_BAD_STRING, "probe file: '%s' contains a NUL byte", key);
    if (!(*out = attrib_strndup(v, n))) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    return ATTRIB_OK;
}

static attrib_status load_probe(const gguf_ctx *g, attrib_probe **out) {
    attrib_status s;
    char *arch = NULL, *pool = NULL, *sha = NULL;
    attrib_probe *p = NULL;
    uint32_t layer, dim, iters, n_train, n_val;
    int64_t i;
    if ((s = get_str_key(g, "general.architecture", 64, &arch))) goto done;
    if (strcmp(arch, PROBE_ARCH) != 0) {
        s = attrib_fail(ATTRIB_E_UNSUPPORTED, "not a probe file (general.architecture is '%s', not '" PROBE_ARCH "')", arch);
        goto done;
    }
    if ((s = get_u32_key(g, "attrib.probe.layer", 1 << 16, &layer))) goto done;
    if ((s = get_u32_key(g, "attrib.probe.dim", PROBE_MAX_DIM, &dim))) goto done;
    if (dim < 1) {
        s = attrib_fail(ATTRIB_E_BAD_VALUE, "probe file: attrib.probe.dim is 0");
        goto done;
    }
    if ((s = get_str_key(g, "attrib.probe.pool", 16, &pool))) goto done;
    if (attrib_pool_from_name(pool) < 0) {
        s = attrib_fail(ATTRIB_E_BAD_VALUE, "probe file: unknown pooling '%s' (last or mean)", pool);
        goto done;
    }
    if ((s = get_str_key(g, "attrib.probe.model_sha256", 64, &sha))) goto done;
    if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
        s = attrib_fail(ATTRIB_E_BAD_VALUE, "probe file: attrib.probe.model_sha256 is not 64 lower-case hex digits");
        goto done;
    }
    if (!(p = probe_alloc((int)dim))) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for a probe of %u features", dim);
        goto done;
    }
    p->layer = (int)layer;
    p->pool = (attrib_pool)attrib_pool_from_name(pool);
    memcpy(p->model_sha256, sha, 65);
    if ((s = need_key(g, "attrib.probe.bias", GGUF_TYPE_FLOAT32, &i))) goto done;
    gguf_get_f32(g, i, &p->bias);
    if (!isfinite(p->bias)) {
        s = attrib_fail(ATTRIB_E_NUMERIC, "probe file: the bias is not finite");
        goto done;
    }
    if ((s = get_str_key(g, "attrib.probe.model_arch", 256, &p->model_arch))) goto done;
    if ((s = get_str_key(g, "attrib.probe.description", PROBE_MAX_DESCRIPTION, &p->description))) goto done;
    attrib_probe_report *r = &p->report;
    if ((s = get_f64_key(g, "attrib.probe.l2", &r->l2)) || (s = get_f64_key(g, "attrib.probe.train_accuracy", &r->train_accuracy)) ||
        (s = get_f64_key(g, "attrib.probe.val_accuracy", &r->val_accuracy)) ||
        (s = get_f64_key(g, "attrib.probe.train_auroc", &r->train_auroc)) ||
        (s = get_f64_key(g, "attrib.probe.val_auroc", &r->val_auroc)) ||
        (s = get_u32_key(g, "attrib.probe.n_train", INT32_MAX, &n_train)) ||
        (s = get_u32_key(g, "attrib.probe.n_val", INT32_MAX, &n_val)) ||
        (s = get_u32_key(g, "attrib.probe.iterations", 1 << 20, &iters)))
        goto done;
    r->n_train = (int)n_train;
    r->n_val = (int)n_val;
    r->iterations = (int)iters;
    i = gguf_find_key(g, "attrib.probe.val_confusion");
    if (i >= 0) {
        int32_t cm[4];
        if (gguf_arr_type(g, i) != GGUF_TYPE_UINT32 || gguf_arr_n(g, i) != 4 || !gguf_arr_to_i32(g, i, cm, 4)) {
            s = attrib_fail(ATTRIB_E_METADATA_TYPE, "probe file: attrib.probe.val_confusion must be 4 uint32 values");
            goto done;
        }
        for (int k = 0; k < 4; k++) r->val_confusion[k / 2][k % 2] = cm[k];
    }
    float *dst[3] = {p->w, p->mean, p->scale};
    for (int t = 0; t < 3; t++) {
        int64_t ti = gguf_find_tensor(g, TENSOR_NAMES[t]);
        if (ti < 0) {
            s = attrib_fail(ATTRIB_E_MISSING, "probe file: tensor '%s' is missing", TENSOR_NAMES[t]);
            goto done;
        }
        const gguf_tensor *gt = gguf_get_tensor(g, ti);
        if (gt->type != ATTRIB_DTYPE_F32 || gt->n_dims != 1 || gt->ne[0] != (int64_t)dim) {
            s = attrib_fail(ATTRIB_E_SHAPE, "probe file: tensor '%s' must be F32 of %u elements", TENSOR_NAMES[t], dim);
            goto done;
        }
        memcpy(dst[t], gt->data, sizeof(float) * dim);
        for (uint32_t k = 0; k < dim; k++) {
            if (!isfinite(dst[t][k])) {
                s = attrib_fail(ATTRIB_E_NUMERIC, "probe file: element %u of '%s' is not finite", k, TENSOR_NAMES[t]);
                goto done;
            }
            if (t == 2 && !(dst[t][k] > 0)) {
                s = attrib_fail(ATTRIB_E_BAD_VALUE, "probe file: scale %u is %g, not > 0", k, dst[t][k]);
                goto done;
            }
        }
    }
    *out = p;
    p = NULL;
done:
    free(arch);
    free(pool);
    free(sha);
    attrib_probe_free(p);
    return s;
}

attrib_status probe_load_memory(const uint8_t *data, size_t size, attrib_probe **out) {
    if (!data || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "probe_load_memory: NULL argument");
    gguf_ctx *g = NULL;
    attrib_status s = gguf_init_from_memory(data, size, &g);
    if (s) return s;
    s = load_probe(g, out);
    gguf_free(g);
    return s;
}

attrib_status attrib_probe_load(const char *path, attrib_probe **out) {
    if (!path || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_probe_load: NULL argument");
    gguf_ctx *g = NULL;
    attrib_status s = gguf_init_from_file(path, &g);
    if (s) return attrib_fail_context(s, "probe '%s'", path);
    s = load_probe(g, out);
    if (s) attrib_fail_context(s, "probe '%s'", path);
    gguf_free(g);
    return s;
}
