/*
 * ig_quad.c — adaptive quadrature for integrated gradients.
 *
 * IG integrates, per feature, the share of the completeness integrand
 * h(alpha) = (x - x') . grad f(x' + alpha (x - x')) over [0, 1]; summed over
 * features it integrates to f(x) - f(x'). The rule splits [0, 1] into pieces
 * with an 8-node Gauss-Legendre rule each. Its error indicator is exact
 * rather than estimated: the target is known at the ends of every piece
 * (one value() call, a forward pass, per breakpoint), so the rule's integral
 * of h over [a, b] must equal f(path(b)) - f(path(a)); the difference is
 * that piece's local residual, and the residuals sum to the completeness
 * delta. Gauss-Kronrod (G7-K15) would instead spend 7 more gradient
 * evaluations per piece on |K15 - G7|, an estimate of the weaker rule's
 * error, not of the one returned; here the indicator costs one forward pass
 * per breakpoint, about a third of a gradient evaluation, and every gradient
 * evaluation goes into the result.
 *
 * Rounds: the fresh pieces' nodes go through the integrand together (in
 * batches of max_batch: one batched gradient pass each), then, while the
 * sum of |residual| exceeds the goal, the pieces with the largest |residual|
 * are split until the others' sum would be within 0.9 goal (measured on
 * stories260K: splitting more per round cost more evaluations), as far as
 * the evaluation cap allows: in halves, or in quarters when one piece's
 * residual alone exceeds the goal (it would need two levels anyway, and the
 * skipped level's evaluations would be thrown away). Stopping on the sum of |residual| rather than
 * on |sum of residuals| keeps residuals of opposite signs from cancelling
 * into a falsely small delta.
 */
#include "attribution/ig_quad.h"

#include "basics/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ig_gauss_legendre(int m, double *x, double *w) {
    for (int i = 0; i < m; i++) {
        double z = cos(M_PI * (i + 0.75) / (m + 0.5)), pp = 0;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = 0;
            for (int j = 1; j <= m; j++) {
                double p2 = p1;
                p1 = p0;
                p0 = ((2.0 * j - 1) * z * p1 - (j - 1.0) * p2) / j;
            }
            pp = m * (z * p0 - p1) / (z * z - 1);
            double dz = p0 / pp;
            z -= dz;
            if (fabs(dz) < 1e-15) break;
        }
        x[i] = (1.0 - z) / 2.0; /* map [-1, 1] to [0, 1], ascending */
        w[i] = 1.0 / ((1 - z * z) * pp * pp);
    }
}

typedef struct piece {
    double a, b;   /* [a, b] within [0, 1] */
    double fa, fb; /* value(a), value(b) */
    double sum;    /* the rule's integral of h over [a, b] */
    int fresh;     /* nodes not yet evaluated */
} piece;

typedef struct piece_err {
    double e;
    int i;
} piece_err;

static int cmp_err_desc(const void *a, const void *b) {
    const piece_err *x = a, *y = b;
    if (x->e != y->e) return x->e < y->e ? 1 : -1;
    return x->i - y->i; /* ties in index order: deterministic */
}

attrib_status ig_quad_adaptive(const ig_quad_problem *pr, const double *bp, int nbp, double f0, double f1, double goal,
                               int64_t max_evals, ig_quad_result *out) {
    enum { M = IG_QUAD_ORDER };
    if (!pr || !out || !out->scores || pr->n_features < 1 || pr->max_batch < 1 || max_evals < M || nbp < 0)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "ig_quad_adaptive: bad argument");
    const int F = pr->n_features;
    const int max_pieces = (int)(max_evals / M < (1 << 20) ? max_evals / M : (1 << 20));
    if (nbp > max_pieces - 1) nbp = max_pieces - 1; /* the first round must fit the cap */
    double ga[M], gw[M];
    ig_gauss_legendre(M, ga, gw);
    attrib_status s = ATTRIB_OK;
    piece *P = attrib_calloc_array((size_t)max_pieces, sizeof(piece));
    double *feat = attrib_calloc_array((size_t)max_pieces * F, sizeof(double)); /* each piece's integral per feature */
    double *h = attrib_calloc_array((size_t)pr->max_batch * F, sizeof(double));
    double *alpha = attrib_calloc_array((size_t)pr->max_batch, sizeof(double));
    int *idx = attrib_calloc_array((size_t)max_pieces, sizeof(int));
    int *nparts = attrib_calloc_array((size_t)max_pieces, sizeof(int));
    piece_err *err = attrib_calloc_array((size_t)max_pieces, sizeof(piece_err));
    int np = 0;
    out->evals = out->values = 0;
    out->cap_reached = 0;
    out->error_bound = NAN;
    out->nodes = out->weights = NULL;
    if (!P || !feat || !h || !alpha || !idx || !nparts || !err) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory for adaptive IG");
        goto done;
    }
    for (int k = 0; k <= nbp; k++) {
        piece *q = &P[np++];
        q->a = k ? bp[k - 1] : 0.0;
        q->b = k < nbp ? bp[k] : 1.0;
        if (!(q->a < q->b)) {
            s = attrib_fail(ATTRIB_E_INVALID_ARG, "ig_quad_adaptive: breakpoints must ascend inside (0, 1)");
            goto done;
        }
        q->fa = k ? P[np - 2].fb : f0;
        q->fb = f1;
        if (k < nbp) {
            if ((s = pr->value(pr->user, q->b, &q->fb))) goto done;
            out->values++;
        }
        q->fresh = 1;
    }
    for (;;) {
        /* the fresh pieces' nodes, piece-major, in batches */
        int nfresh = 0;
        for (int i = 0; i < np; i++)
            if (P[i].fresh) idx[nfresh++] = i;
        const int total = nfresh * M;
        for (int s0 = 0; s0 < total; s0 += pr->max_batch) {
            const int nb = total - s0 < pr->max_batch ? total - s0 : pr->max_batch;
            for (int q = 0; q < nb; q++) {
                const piece *pc = &P[idx[(s0 + q) / M]];
                alpha[q] = pc->a + (pc->b - pc->a) * ga[(s0 + q) % M];
            }
            if ((s = pr->integrand(pr->user, alpha, nb, h))) goto done;
            for (int q = 0; q < nb; q++) {
                const int pi = idx[(s0 + q) / M];
                const double w = (P[pi].b - P[pi].a) * gw[(s0 + q) % M];
                for (int f = 0; f < F; f++) {
                    feat[(size_t)pi * F + f] += w * h[(size_t)q * F + f];
                    P[pi].sum += w * h[(size_t)q * F + f];
                }
            }
            out->evals += nb;
            if (pr->progress) pr->progress(pr->user, out->evals);
        }
        double bound = 0;
        for (int i = 0; i < np; i++) {
            P[i].fresh = 0;
            err[i].e = fabs(P[i].sum - (P[i].fb - P[i].fa));
            err[i].i = i;
            bound += err[i].e;
        }
        out->error_bound = bound;
        if (!isfinite(bound)) {
            s = attrib_fail(ATTRIB_E_NUMERIC, "adaptive IG: the completeness integrand or the target is not finite");
            goto done;
        }
        if (bound <= goal) break;
        qsort(err, (size_t)np, sizeof *err, cmp_err_desc);
        const int64_t budget = max_evals - out->evals;
        double rest = bound;
        int nsplit = 0, nchild = 0;
        for (int j = 0; j < np && rest > 0.9 * goal; j++) {
            int ns = err[j].e > goal ? 4 : 2; /* alone above the goal: quarters, skipping a level */
            if ((int64_t)(nchild + ns) * M > budget || np + (nchild - nsplit) + ns - 1 > max_pieces) ns = 2;
            if ((int64_t)(nchild + ns) * M > budget || np + (nchild - nsplit) + ns - 1 > max_pieces) break;
            if (P[err[j].i].b - P[err[j].i].a < 1e-9) continue; /* too narrow for distinct double nodes */
            nparts[nsplit] = ns;
            idx[nsplit++] = err[j].i;
            nchild += ns;
            rest -= err[j].e;
        }
        if (!nsplit) {
            out->cap_reached = 1;
            break;
        }
        for (int j = 0; j < nsplit; j++) {
            /* [a, b] into nparts equal pieces: the first keeps its slot */
            piece *pc = &P[idx[j]];
            const double a = pc->a, b = pc->b, fb = pc->fb;
            const int ns = nparts[j];
            double prev = a, fprev = pc->fa;
            for (int t = 1; t <= ns; t++) {
                const double cut = t < ns ? a + (b - a) * t / ns : b;
                double fc = fb;
                if (t < ns) {
                    if ((s = pr->value(pr->user, cut, &fc))) goto done;
                    out->values++;
                }
                const int slot = t == 1 ? idx[j] : np++;
                P[slot] = (piece){prev, cut, fprev, fc, 0.0, 1};
                memset(feat + (size_t)slot * F, 0, sizeof(double) * F);
                prev = cut, fprev = fc;
            }
        }
    }
    /* the result, pieces in ascending order (insertion sort: few pieces) */
    for (int i = 0; i < np; i++) idx[i] = i;
    for (int i = 1; i < np; i++)
        for (int j = i; j > 0 && P[idx[j]].a < P[idx[j - 1]].a; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    out->pieces = np;
    out->n_nodes = np * M;
    out->nodes = attrib_calloc_array((size_t)out->n_nodes, sizeof(double));
    out->weights = attrib_calloc_array((size_t)out->n_nodes, sizeof(double));
    if (!out->nodes || !out->weights) {
        s = attrib_fail(ATTRIB_E_NOMEM, "out of memory");
        goto done;
    }
    for (int j = 0; j < np; j++) {
        const piece *pc = &P[idx[j]];
        for (int k = 0; k < M; k++) {
            out->nodes[j * M + k] = pc->a + (pc->b - pc->a) * ga[k];
            out->weights[j * M + k] = (pc->b - pc->a) * gw[k];
        }
        for (int f = 0; f < F; f++) out->scores[f] += feat[(size_t)idx[j] * F + f];
    }
done:
    if (s) {
        free(out->nodes);
        free(out->weights);
        out->nodes = out->weights = NULL;
    }
    free(P);
    free(feat);
    free(h);
    free(alpha);
    free(idx);
    free(nparts);
    free(err);
    return s;
}
