/*
 * methods.c — the method table: one row per attribution method holding
 * everything attrib knows about it: its name, title and one-line summary,
 * its family (gradient or perturbation), the options it reads (which also
 * says whether it is sampled, i.e. reads the seed, and whether it removes
 * features with the mask or integrates from a baseline), what one of its
 * samples is and how many it takes by default, and its run function in
 * gradient.c or perturb.c. explain.c dispatches and validates through the
 * rows; the CLI and the Python package list methods, print help and decide
 * what applies to which method through the public accessors
 * (attrib_method_get_info), and every report records a method's settings
 * as attrib_method_settings_json writes them from the row's options. A new
 * method is a new row here plus its run function.
 *
 * Also here: the names of the mask kinds and of the fixed IG rules, shared
 * by every front end.
 */
#include "attribution/methods.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row: the method, its name and title, family, the options it reads,
 * its samples' unit and default count, its run function, its summary. */
#define ROW(m, name, title, family, reads, unit, n, run, summary) \
    [m] = {{m, name, title, summary, ATTRIB_FAMILY_##family, reads, unit, n}, run}
#define R(x) ATTRIB_READS_##x

static const method_row METHODS[ATTRIB_METHOD_COUNT_] = {
    ROW(ATTRIB_METHOD_SALIENCY, "saliency", "saliency", GRADIENT, R(NORM) | R(LAYER), NULL, 0, gradient_saliency_run,
        "norm of d target / d embedding, over the feature's tokens"),
    ROW(ATTRIB_METHOD_GRAD_X_INPUT, "gxi", "gradient x input", GRADIENT, R(LAYER), NULL, 0, gradient_gxi_run,
        "d target / d embedding . embedding, over the feature's tokens"),
    ROW(ATTRIB_METHOD_INTEGRATED_GRADIENTS, "ig", "integrated gradients", GRADIENT, R(MASK) | R(BASELINE) | R(IG) | R(LAYER),
        NULL, 0, gradient_ig_run, "(x - x') . mean gradient on the path from baseline x'; sums to f(x) - f(x')"),
    ROW(ATTRIB_METHOD_SMOOTHGRAD, "smoothgrad", "SmoothGrad", GRADIENT, R(NORM) | R(SMOOTH) | R(NOISE) | R(SEED), "samples", 16,
        gradient_smoothgrad_run, "saliency (or gxi) averaged over noisy copies of the input"),
    ROW(ATTRIB_METHOD_OCCLUSION, "occlusion", "occlusion", PERTURBATION, R(MASK) | R(WINDOW), NULL, 0, perturb_occlusion_run,
        "f(x) - f(x with a window of features masked)"),
    ROW(ATTRIB_METHOD_SHAPLEY_EXACT, "shapley-exact", "exact Shapley values", PERTURBATION, R(MASK) | R(MAX_EXACT), NULL, 0,
        perturb_shapley_exact_run, "mean marginal effect over all 2^n coalitions; sums to f(x) - f(none)"),
    ROW(ATTRIB_METHOD_SHAPLEY_SAMPLED, "shapley", "Shapley values (sampled)", PERTURBATION, R(MASK) | R(SAMPLES) | R(SEED),
        "permutations", 25, perturb_shapley_run, "Shapley values from random permutations (antithetic pairs)"),
    ROW(ATTRIB_METHOD_KERNELSHAP, "kernelshap", "KernelSHAP", PERTURBATION, R(MASK) | R(SAMPLES) | R(SEED), "coalitions", 256,
        perturb_kernelshap_run, "Shapley values from a weighted regression on random coalitions"),
    ROW(ATTRIB_METHOD_LIME, "lime", "LIME", PERTURBATION, R(MASK) | R(SAMPLES) | R(LIME) | R(SEED), "coalitions", 256,
        perturb_lime_run, "weights of a local linear model fitted to random coalitions"),
    ROW(ATTRIB_METHOD_GRADIENTSHAP, "gradientshap", "GradientSHAP", GRADIENT, R(MASK) | R(BASELINE) | R(SAMPLES) | R(NOISE) | R(SEED),
        "samples", 32, gradient_gradientshap_run, "(x~ - x') . gradient at random points from x' to noisy inputs x~"),
};

#undef R
#undef ROW

const method_row *method_row_of(attrib_method m) {
    /* an enum value without its row (run NULL) is an unknown method, never a crash */
    return (unsigned)m < ATTRIB_METHOD_COUNT_ && METHODS[m].run ? &METHODS[m] : NULL;
}

int attrib_method_count(void) { return ATTRIB_METHOD_COUNT_; }

const attrib_method_info *attrib_method_get_info(attrib_method m) {
    const method_row *row = method_row_of(m);
    return row ? &row->info : NULL;
}

const char *attrib_method_name(attrib_method m) {
    const method_row *row = method_row_of(m);
    return row ? row->info.name : "?";
}

int attrib_method_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < ATTRIB_METHOD_COUNT_; i++)
        if (METHODS[i].run && strcmp(name, METHODS[i].info.name) == 0) return i;
    if (strcmp(name, "integrated-gradients") == 0) return ATTRIB_METHOD_INTEGRATED_GRADIENTS;
    if (strcmp(name, "grad-x-input") == 0) return ATTRIB_METHOD_GRAD_X_INPUT;
    return -1;
}

/* ---- names of the mask kinds and IG rules ------------------------------- */

static const char *const MASK_NAMES[] = {"token", "zero", "delete", "attention"};
static const char *const RULE_NAMES[] = {"gauss-legendre", "left", "right", "middle", "trapezoid"};
#define N_OF(a) ((int)(sizeof(a) / sizeof(a)[0]))

static int index_of(const char *const *names, int n, const char *name) {
    for (int i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

const char *attrib_mask_name(attrib_mask_kind k) { return (unsigned)k < (unsigned)N_OF(MASK_NAMES) ? MASK_NAMES[k] : "?"; }
int attrib_mask_from_name(const char *name) { return index_of(MASK_NAMES, N_OF(MASK_NAMES), name); }
const char *attrib_ig_rule_name(attrib_ig_rule r) { return (unsigned)r < (unsigned)N_OF(RULE_NAMES) ? RULE_NAMES[r] : "?"; }

int attrib_ig_rule_from_name(const char *name) {
    if (name && strcmp(name, "gl") == 0) return ATTRIB_IG_GAUSS_LEGENDRE; /* the CLI's short spelling */
    return index_of(RULE_NAMES, N_OF(RULE_NAMES), name);
}

/* ---- settings as JSON ---------------------------------------------------- */

/* Adds KEY: V to S; a NULL V (jansson out of memory) or a failed insert
 * sets *bad. */
static void put(json_t *s, const char *key, json_t *v, int *bad) {
    if (!v || json_object_set_new(s, key, v)) *bad = 1;
}

/* The float as it was written (0.1), not its double expansion 0.10000000149011612. */
static json_t *float_json(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g", (double)f);
    return json_real(strtod(buf, NULL));
}

/* The row's options, each under its key; see attrib.h for the list. */
static void settings_of(json_t *s, const attrib_method_info *in, const attrib_explain_options *o, const attrib_result *r, int *bad) {
    const unsigned rd = in->reads;
    if ((rd & ATTRIB_READS_IG) && o->ig_tol > 0) { /* adaptive: the steps it took */
        if (r) put(s, "steps", json_integer((json_int_t)r->n_backward), bad);
        put(s, "rule", json_string("adaptive"), bad);
        put(s, "tol", json_real(o->ig_tol), bad);
        put(s, "max_steps", json_integer(o->ig_max_steps), bad);
    } else if (rd & ATTRIB_READS_IG) {
        put(s, "steps", json_integer(o->ig_steps), bad);
        put(s, "rule", json_string(attrib_ig_rule_name(o->ig_rule)), bad);
    }
    if ((rd & ATTRIB_READS_NORM) && !((rd & ATTRIB_READS_SMOOTH) && o->smooth_on_gxi))
        put(s, "norm", json_string(o->norm == ATTRIB_NORM_L1 ? "l1" : "l2"), bad);
    if (rd & ATTRIB_READS_SMOOTH) {
        put(s, "of", json_string(o->smooth_on_gxi ? "gxi" : "saliency"), bad);
        put(s, "samples", json_integer(o->smooth_samples), bad);
    }
    if (rd & ATTRIB_READS_NOISE) put(s, "noise", float_json(o->smooth_noise), bad);
    if (rd & ATTRIB_READS_WINDOW) {
        put(s, "window", json_integer(o->window), bad);
        put(s, "stride", json_integer(o->stride), bad);
    }
    if (rd & ATTRIB_READS_SAMPLES) put(s, in->samples_unit ? in->samples_unit : "samples", json_integer(o->samples), bad);
    if (rd & ATTRIB_READS_LIME) {
        put(s, "kernel_width", float_json(o->lime_kernel_width), bad);
        put(s, "ridge", float_json(o->lime_ridge), bad);
    }
    if ((rd & ATTRIB_READS_BASELINE) && o->baseline_ids) {
        put(s, "baseline", json_string("tokens"), bad);
    } else if (rd & ATTRIB_READS_MASK) {
        const attrib_mask_kind mask = r ? r->mask : o->mask;
        put(s, "mask", json_string(attrib_mask_name(mask)), bad);
        if (mask == ATTRIB_MASK_TOKEN) put(s, "mask_token", json_integer(r ? r->mask_token : o->mask_token), bad);
    }
    if (rd & ATTRIB_READS_SEED) put(s, "seed", json_integer((json_int_t)o->seed), bad);
    if ((rd & ATTRIB_READS_LAYER) && o->layer_attribution) put(s, "layer", json_integer(o->layer), bad);
}

attrib_status attrib_method_settings_json(const attrib_explain_options *opt, const attrib_result *result, char **json_out) {
    if (!opt || !json_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_method_settings_json: NULL argument");
    *json_out = NULL;
    const method_row *row = method_row_of(opt->method);
    if (!row) return attrib_fail(ATTRIB_E_INVALID_ARG, "unknown method %d", (int)opt->method);
    if (result && result->method != opt->method)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the result is of method %s, the options of %s", attrib_method_name(result->method),
                           row->info.name);
    json_t *s = json_object();
    int bad = !s;
    if (s) settings_of(s, &row->info, opt, result, &bad);
    char *text = bad ? NULL : json_dumps(s, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(s);
    /* jansson's allocator may be the host's: hand out a copy from ours */
    char *out = text ? strdup(text) : NULL;
    if (text) {
        json_malloc_t jm;
        json_free_t jf;
        json_get_alloc_funcs(&jm, &jf);
        (jf ? jf : free)(text);
    }
    if (!out) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    *json_out = out;
    return ATTRIB_OK;
}
