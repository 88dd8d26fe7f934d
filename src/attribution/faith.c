/*
 * faith.c — faithfulness of an attribution: does removing the features it
 * ranks highest change the target, and do they alone reproduce it?
 *
 * ERASER (DeYoung et al. 2020): for the top k = max(1, round(q n))
 * features, comprehensiveness = v(all) - v(all but the top k) and
 * sufficiency = v(all) - v(only the top k), averaged over the fractions q
 * (AOPC). Deletion / insertion curves (RISE, Petsiuk et al. 2018): the
 * value as the top features are removed from the full input / added to the
 * empty one, and the trapezoid areas under them over the fraction of
 * features moved. The same summaries over uniform random rankings are the
 * baseline a ranking must beat. Definitions in full: docs/metrics.md.
 *
 * Everything is a coalition of one game (perturb_game), so the model never
 * appears here. One ranking needs R = 2 (n_fractions + n_points)
 * coalitions; the rankings (the scores' own, then the random ones) are
 * built R rows at a time into a buffer holding as many rankings as fit in
 * PERTURB_CHUNK rows and FAITH_GROUP_BYTES of masks, and each buffer goes
 * to the game in one perturb_eval_unique call: one value-function call
 * that sees each distinct coalition once (a fraction's k often equals a
 * curve count; random rankings of few features repeat coalitions) and
 * never the empty or full coalition, whose values the game gives.
 */
#include "attribution/faith.h"

#include "basics/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stream of the random rankings' generator (distinct from the estimators'). */
#define FAITH_RNG_STREAM 17
#define FAITH_MAX_RANDOM_ORDERS 1000
#define FAITH_MAX_FRACTIONS 8
#define FAITH_MAX_RANKINGS ATTRIB_FAITH_MAX_RANKINGS
/* Masks of the rankings evaluated per call, at most (at least one ranking). */
#define FAITH_GROUP_BYTES ((size_t)64 << 20)

/* What every ranking evaluates: top-k sizes per fraction and curve counts. */
typedef struct faith_plan {
    int n;
    int n_fractions;
    int k[FAITH_MAX_FRACTIONS];
    int n_points;
    int counts[ATTRIB_FAITH_MAX_POINTS];
    int rows; /* coalitions per ranking: 2 n_fractions + 2 n_points */
} faith_plan;

/* The four summaries a random ranking contributes to the baseline. */
typedef struct faith_summary {
    double comp_aopc, suff_aopc, deletion_auc, insertion_auc;
} faith_summary;

attrib_status faith_check_options(const attrib_faithfulness_options *o) {
    if (!o) return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: NULL options");
    if (o->n_fractions < 1 || o->n_fractions > FAITH_MAX_FRACTIONS)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: n_fractions must be 1..%d, not %d", FAITH_MAX_FRACTIONS,
                           o->n_fractions);
    for (int f = 0; f < o->n_fractions; f++)
        if (!(o->fractions[f] > 0 && o->fractions[f] <= 1)) /* also rejects NaN */
            return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: fraction %d is %g, not in (0, 1]", f, o->fractions[f]);
    if (o->curve_points < 1 || o->curve_points > ATTRIB_FAITH_MAX_POINTS - 1)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: curve_points must be 1..%d, not %d",
                           ATTRIB_FAITH_MAX_POINTS - 1, o->curve_points);
    if (o->random_orders < 0 || o->random_orders > FAITH_MAX_RANDOM_ORDERS)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: random_orders must be 0..%d, not %d",
                           FAITH_MAX_RANDOM_ORDERS, o->random_orders);
    return ATTRIB_OK;
}

static void plan_build(faith_plan *p, int n, const attrib_faithfulness_options *o) {
    p->n = n;
    p->n_fractions = o->n_fractions;
    for (int f = 0; f < o->n_fractions; f++) {
        int k = (int)round(o->fractions[f] * (double)n);
        p->k[f] = k < 1 ? 1 : k > n ? n : k;
    }
    /* P + 1 evenly spaced counts, rounded half up in exact integer
     * arithmetic; with P <= n the step is >= 1, so they are distinct */
    const int P = n < o->curve_points ? n : o->curve_points;
    p->n_points = P + 1;
    for (int j = 0; j <= P; j++) p->counts[j] = (int)((2 * (int64_t)j * n + P) / (2 * (int64_t)P));
    p->rows = 2 * p->n_fractions + 2 * p->n_points;
}

/* Row pairs of one ranking (ORDER[0] = most important), n bytes each:
 *   rows 2f, 2f+1          : all but / only the top k[f]
 *   rows 2F+2j, 2F+2j+1    : all but / only the top counts[j]   (F = n_fractions) */
static void build_rows(const faith_plan *p, const int *order, uint8_t *buf) {
    const size_t n = (size_t)p->n;
    for (int r = 0; r < p->rows; r++) {
        const int pair = r / 2;
        const int top = pair < p->n_fractions ? p->k[pair] : p->counts[pair - p->n_fractions];
        const int keep_top = r & 1;
        uint8_t *row = buf + (size_t)r * n;
        memset(row, keep_top ? 0 : 1, n);
        for (int t = 0; t < top; t++) row[order[t]] = (uint8_t)keep_top;
    }
}

/* Trapezoid area of Y over x = counts / n. */
static double curve_area(const faith_plan *p, const double *y) {
    double area = 0;
    for (int j = 0; j + 1 < p->n_points; j++)
        area += (double)(p->counts[j + 1] - p->counts[j]) * 0.5 * (y[j] + y[j + 1]);
    return area / (double)p->n;
}

/* Metrics of one ranking from the values VALS of its rows (build_rows'
 * layout). DETAIL (may be NULL) receives the per-fraction values and the
 * curves; S the summaries. */
static void summarise(const faith_plan *p, const double *vals, double v_all, attrib_faithfulness *detail, faith_summary *s) {
    double comp_sum = 0, suff_sum = 0;
    for (int f = 0; f < p->n_fractions; f++) {
        const double comp = v_all - vals[2 * f], suff = v_all - vals[2 * f + 1];
        comp_sum += comp;
        suff_sum += suff;
        if (detail) {
            detail->k[f] = p->k[f];
            detail->comprehensiveness[f] = comp;
            detail->sufficiency[f] = suff;
        }
    }
    double del[ATTRIB_FAITH_MAX_POINTS], ins[ATTRIB_FAITH_MAX_POINTS];
    const double *curves = vals + 2 * p->n_fractions;
    for (int j = 0; j < p->n_points; j++) {
        del[j] = curves[2 * j];
        ins[j] = curves[2 * j + 1];
    }
    s->comp_aopc = comp_sum / p->n_fractions;
    s->suff_aopc = suff_sum / p->n_fractions;
    s->deletion_auc = curve_area(p, del);
    s->insertion_auc = curve_area(p, ins);
    if (detail) {
        detail->n_points = p->n_points;
        memcpy(detail->counts, p->counts, (size_t)p->n_points * sizeof(int));
        memcpy(detail->deletion, del, (size_t)p->n_points * sizeof(double));
        memcpy(detail->insertion, ins, (size_t)p->n_points * sizeof(double));
    }
}

typedef struct score_ctx {
    const double *scores;
} score_ctx;

/* Descending by score; the stable sort keeps ties in index order. */
static int cmp_score_desc(const void *ctx, int a, int b) {
    const double *s = ((const score_ctx *)ctx)->scores;
    return (s[a] < s[b]) - (s[a] > s[b]);
}

static void random_order(attrib_rng *rng, int *order, int n) {
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        const int j = (int)attrib_rng_below(rng, (uint64_t)i + 1);
        const int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

attrib_status faith_run(const perturb_game *g, const double *scores, const attrib_faithfulness_options *opt,
                        attrib_faithfulness *out) {
    return faith_run_many(g, 1, &scores, opt, out);
}

/* Copies the ranking's own metrics from summary SM into OUT. */
static void set_summary(attrib_faithfulness *out, const faith_summary *sm) {
    out->comprehensiveness_aopc = sm->comp_aopc;
    out->sufficiency_aopc = sm->suff_aopc;
    out->deletion_auc = sm->deletion_auc;
    out->insertion_auc = sm->insertion_auc;
}

attrib_status faith_run_many(const perturb_game *g, int n_scored, const double *const *scores,
                             const attrib_faithfulness_options *opt, attrib_faithfulness *out) {
    if (!g || !scores || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: NULL argument");
    if (n_scored < 1 || n_scored > FAITH_MAX_RANKINGS)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: 1..%d rankings at once, not %d", FAITH_MAX_RANKINGS,
                           n_scored);
    const int n = g->n;
    if (n < 1) return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness needs at least one feature, not %d", n);
    if (n > 1 && !g->fn) return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: the game has no value function");
    const attrib_faithfulness_options defaults = attrib_faithfulness_default_options();
    if (!opt) opt = &defaults;
    attrib_status s = faith_check_options(opt);
    if (s) return s;
    for (int r = 0; r < n_scored; r++) {
        if (!scores[r]) return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: ranking %d has no scores", r);
        for (int i = 0; i < n; i++)
            if (isnan(scores[r][i]))
                return attrib_fail(ATTRIB_E_INVALID_ARG, "faithfulness: score %d of ranking %d is NaN", i, r);
    }

    faith_plan plan;
    plan_build(&plan, n, opt);
    const int R = plan.rows;
    const int n_rankings = n_scored + opt->random_orders;
    size_t ranking_bytes;
    if (!attrib_mul_ok((size_t)R, (size_t)n, &ranking_bytes))
        return attrib_fail(ATTRIB_E_LIMIT, "faithfulness: %d features are too many", n);
    int group = PERTURB_CHUNK / R; /* R <= 2 (8 + 257) < PERTURB_CHUNK */
    if ((size_t)group > FAITH_GROUP_BYTES / ranking_bytes) group = (int)(FAITH_GROUP_BYTES / ranking_bytes);
    if (group < 1) group = 1;
    if (group > n_rankings) group = n_rankings;

    const size_t group_rows = (size_t)group * (size_t)R;
    attrib_faithfulness *res = attrib_calloc_array((size_t)n_scored, sizeof *res);
    int *score_orders = attrib_calloc_array((size_t)n_scored * (size_t)n, sizeof(int));
    int *rand_order = attrib_calloc_array((size_t)n, sizeof(int));
    uint8_t *buf = attrib_calloc_array(group_rows, (size_t)n);
    uint8_t *first = attrib_calloc_array(group_rows, 1);
    const uint8_t **rows = attrib_calloc_array(group_rows, sizeof *rows);
    double *vals = attrib_calloc_array(group_rows, sizeof *vals);
    if (!res || !score_orders || !rand_order || !buf || !first || !rows || !vals) {
        s = attrib_fail(ATTRIB_E_NOMEM, "faithfulness: out of memory for %zu masks of %d features", group_rows, n);
        goto done;
    }
    for (size_t r = 0; r < group_rows; r++) rows[r] = buf + r * (size_t)n;
    for (int r = 0; r < n_scored; r++) {
        int *order = score_orders + (size_t)r * n;
        for (int i = 0; i < n; i++) order[i] = i;
        score_ctx sc = {scores[r]};
        if ((s = attrib_sort_indices(order, n, cmp_score_desc, &sc))) goto done;
    }

    attrib_rng rng;
    attrib_rng_seed(&rng, opt->seed, FAITH_RNG_STREAM);
    faith_summary random_sum = {0, 0, 0, 0};
    int64_t n_evals = 0;
    for (int first_ranking = 0; first_ranking < n_rankings; first_ranking += group) {
        const int cnt = n_rankings - first_ranking < group ? n_rankings - first_ranking : group;
        for (int r = 0; r < cnt; r++) {
            const int which = first_ranking + r;
            const int *order = score_orders + (size_t)(which < n_scored ? which : 0) * n;
            if (which >= n_scored) {
                random_order(&rng, rand_order, n);
                order = rand_order;
            }
            build_rows(&plan, order, buf + (size_t)r * ranking_bytes);
        }
        if ((s = perturb_eval_unique_marked(g, rows, cnt * R, vals, &n_evals, first))) goto done;
        for (int r = 0; r < cnt; r++) {
            const int which = first_ranking + r;
            const double *v = vals + (size_t)r * R;
            int64_t added = 0; /* the coalitions this ranking was the first to need */
            for (int k = 0; k < R; k++) added += first[(size_t)r * R + k];
            faith_summary sm;
            if (which < n_scored) {
                summarise(&plan, v, g->v_all, &res[which], &sm);
                set_summary(&res[which], &sm);
                res[which].n_evaluations += added;
            } else {
                summarise(&plan, v, g->v_all, NULL, &sm);
                random_sum.comp_aopc += sm.comp_aopc;
                random_sum.suff_aopc += sm.suff_aopc;
                random_sum.deletion_auc += sm.deletion_auc;
                random_sum.insertion_auc += sm.insertion_auc;
                res[0].n_evaluations += added;
            }
        }
    }
    for (int r = 0; r < n_scored; r++) {
        if (opt->random_orders > 0) {
            const double inv = 1.0 / opt->random_orders;
            res[r].random_comprehensiveness_aopc = random_sum.comp_aopc * inv;
            res[r].random_sufficiency_aopc = random_sum.suff_aopc * inv;
            res[r].random_deletion_auc = random_sum.deletion_auc * inv;
            res[r].random_insertion_auc = random_sum.insertion_auc * inv;
        } else {
            res[r].random_comprehensiveness_aopc = res[r].random_sufficiency_aopc = NAN;
            res[r].random_deletion_auc = res[r].random_insertion_auc = NAN;
        }
        res[r].f_full = g->v_all;
        res[r].f_empty = g->v_none;
        res[r].n_features = n;
    }
    memcpy(out, res, (size_t)n_scored * sizeof *out);
done:
    free(res);
    free(score_orders);
    free(rand_order);
    free(buf);
    free(first);
    free(rows);
    free(vals);
    return s;
}
