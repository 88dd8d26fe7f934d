/*
 * faith.h — private interface of the faithfulness core (faith.c): ERASER
 * comprehensiveness / sufficiency and deletion / insertion curves of a
 * ranking over an abstract cooperative game (perturb_game, perturb.h).
 *
 * Independent of models, like the Shapley estimators: tests/test-metrics.c
 * checks it on synthetic games with closed-form answers, and the public
 * attrib_faithfulness_eval (explain.c) runs it over the model-backed value
 * function of perturb.c. Definitions: docs/metrics.md.
 */
#ifndef ATTRIB_FAITH_H
#define ATTRIB_FAITH_H

#include "attribution/perturb.h"

/* Faithfulness of the ranking given by SCORES (g->n entries, higher = more
 * important; ties ranked by the lower index; NaN rejected) over the game G.
 *
 *   k_f = max(1, round(fraction_f n)) (C round(): halves away from zero)
 *   comprehensiveness_f = v_all - v(all but the top k_f)
 *   sufficiency_f       = v_all - v(only the top k_f)
 *   *_aopc              = mean over the fractions
 *   curves: P = min(n, curve_points); counts[j] = floor(j n / P + 1/2),
 *     j = 0..P (every count 0..n when n <= curve_points);
 *     deletion[j] = v(all but the top counts[j]),
 *     insertion[j] = v(only the top counts[j]);
 *     *_auc = trapezoid area over x = counts / n.
 *   random_*: the same four summaries averaged over opt->random_orders
 *     uniform random rankings (Fisher-Yates from splitmix64 seeded with
 *     opt->seed); NAN when random_orders == 0.
 *
 * g->fn is never asked for the empty or the full coalition (g->v_none and
 * g->v_all are used), sees each distinct coalition of one call once, and
 * gets at most PERTURB_CHUNK coalitions per call; the coalitions of the
 * ranking and of the random rankings are batched together into as few
 * calls as fit. out->n_evaluations = the coalitions passed to g->fn.
 *
 * OPT NULL means attrib_faithfulness_default_options(). Errors:
 * ATTRIB_E_INVALID_ARG (n < 1, NULL arguments, a NaN score, options out of
 * range: n_fractions 1..8, fractions in (0, 1], curve_points
 * 1..ATTRIB_FAITH_MAX_POINTS-1, random_orders 0..1000), ATTRIB_E_NOMEM,
 * or whatever g->fn returns. *OUT is written only on success. */
attrib_status faith_run(const perturb_game *g, const double *scores, const attrib_faithfulness_options *opt,
                        attrib_faithfulness *out);

/* faith_run for N_SCORED rankings of the same game at once (SCORES[r], g->n
 * entries each; 1..ATTRIB_FAITH_MAX_RANKINGS), into OUT[0..n_scored-1].
 * The rankings and the random ones share their value-function calls, so a
 * coalition that several rankings need (the top features of two methods
 * agree, a fraction's k equals a curve count) is evaluated once. Each
 * OUT[r] equals faith_run on SCORES[r] alone up to the rounding of the
 * passes it shares; the random baseline (opt->random_orders rankings) is
 * the same in every OUT[r]. OUT[r].n_evaluations counts the coalitions
 * ranking r was the first to need (OUT[0] also those of the random
 * rankings), so that they sum to the calls' total. */
attrib_status faith_run_many(const perturb_game *g, int n_scored, const double *const *scores,
                             const attrib_faithfulness_options *opt, attrib_faithfulness *out);

/* The option checks of faith_run alone (ATTRIB_OK or ATTRIB_E_INVALID_ARG
 * with a message), so that a caller can reject bad options before it
 * builds an expensive value function. */
attrib_status faith_check_options(const attrib_faithfulness_options *opt);

#endif
