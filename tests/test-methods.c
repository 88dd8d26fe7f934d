/*
 * test-methods.c — the method table (src/attribution/methods.c) says what
 * each method is; this checks that every row tells the truth about what
 * its method does, by running it:
 *   - names round-trip, rows are in enum order, unknown methods are refused;
 *   - family: gradient methods run backward passes, perturbation methods
 *     none;
 *   - READS_SEED: a sampled method reports std_errors and gives other
 *     scores under another seed; any other method gives bit-identical
 *     scores and no std_errors;
 *   - READS_MASK: a method that reads the mask gives other scores with the
 *     zero mask than with the token mask; any other method the same;
 *   - attrib_method_settings_json writes exactly the keys of the row's
 *     options (seed only if sampled, mask only if it masks), the resolved
 *     mask token of the run, and "baseline" for IG with a baseline sequence.
 * The mask and IG rule names round-trip, "gl" included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "test_util.h"

#define STORIES "models/stories260K/stories260K-f32.gguf"

static void test_names(void **state) {
    (void)state;
    assert_int_equal(attrib_method_count(), ATTRIB_METHOD_COUNT_);
    for (int m = 0; m < attrib_method_count(); m++) {
        const attrib_method_info *in = attrib_method_get_info((attrib_method)m);
        assert_non_null(in);
        assert_int_equal(in->method, m);
        assert_string_equal(attrib_method_name((attrib_method)m), in->name);
        assert_int_equal(attrib_method_from_name(in->name), m);
        assert_true(in->title && in->title[0] && in->summary && in->summary[0]);
        assert_true(in->family == ATTRIB_FAMILY_GRADIENT || in->family == ATTRIB_FAMILY_PERTURBATION);
        /* a sampled count has a unit and a default, and only then */
        const bool counts = (in->reads & (ATTRIB_READS_SAMPLES | ATTRIB_READS_SMOOTH)) != 0;
        assert_int_equal(counts, in->samples_unit != NULL);
        assert_int_equal(counts, in->default_samples > 0);
        for (int k = 0; k < m; k++) assert_string_not_equal(attrib_method_get_info((attrib_method)k)->name, in->name);
        attrib_explain_options o = attrib_explain_default_options((attrib_method)m);
        if (in->reads & ATTRIB_READS_SAMPLES) assert_int_equal(o.samples, in->default_samples);
        if (in->reads & ATTRIB_READS_SMOOTH) assert_int_equal(o.smooth_samples, in->default_samples);
    }
    assert_null(attrib_method_get_info(ATTRIB_METHOD_COUNT_));
    assert_null(attrib_method_get_info((attrib_method)-1));
    assert_string_equal(attrib_method_name(ATTRIB_METHOD_COUNT_), "?");
    assert_int_equal(attrib_method_from_name("integrated-gradients"), ATTRIB_METHOD_INTEGRATED_GRADIENTS);
    assert_int_equal(attrib_method_from_name("no-such-method"), -1);
    assert_int_equal(attrib_method_from_name(NULL), -1);

    for (int k = ATTRIB_MASK_TOKEN; k <= ATTRIB_MASK_ATTENTION; k++)
        assert_int_equal(attrib_mask_from_name(attrib_mask_name((attrib_mask_kind)k)), k);
    assert_int_equal(attrib_mask_from_name("pad"), -1);
    assert_string_equal(attrib_mask_name((attrib_mask_kind)4), "?");
    for (int r = ATTRIB_IG_GAUSS_LEGENDRE; r <= ATTRIB_IG_TRAPEZOID; r++)
        assert_int_equal(attrib_ig_rule_from_name(attrib_ig_rule_name((attrib_ig_rule)r)), r);
    assert_string_equal(attrib_ig_rule_name(ATTRIB_IG_GAUSS_LEGENDRE), "gauss-legendre");
    assert_int_equal(attrib_ig_rule_from_name("gl"), ATTRIB_IG_GAUSS_LEGENDRE);
    assert_int_equal(attrib_ig_rule_from_name("simpson"), -1);
}

static attrib_model *load(void) {
    char p[1024];
    test_shared_path(p, sizeof p, STORIES);
    if (!test_have(p)) return NULL;
    attrib_model_options o = attrib_model_default_options();
    o.n_threads = 2;
    attrib_model *m = NULL;
    assert_int_equal(attrib_model_load(p, &o, &m), ATTRIB_OK);
    return m;
}

static attrib_explain_options small(attrib_method method, uint64_t seed, attrib_mask_kind mask) {
    const attrib_method_info *in = attrib_method_get_info(method);
    attrib_explain_options o = attrib_explain_default_options(method);
    o.ig_tol = 0;
    o.ig_steps = 8;
    o.smooth_samples = 6;
    if (in->reads & ATTRIB_READS_SAMPLES) o.samples = in->default_samples / 4;
    o.seed = seed;
    o.mask = mask;
    return o;
}

static attrib_result *run(attrib_model *m, const int32_t *ids, int n, const attrib_explain_options *o) {
    attrib_result *r = NULL;
    attrib_status s = attrib_explain(m, ids, n, o, &r);
    if (s) fail_msg("%s: %s", attrib_method_name(o->method), attrib_last_error());
    return r;
}

static bool same_scores(const attrib_result *a, const attrib_result *b) {
    return a->n_features == b->n_features && !memcmp(a->scores, b->scores, sizeof(double) * (size_t)a->n_features);
}

/* The keys a row's options allow in its settings. */
static bool key_allowed(const char *key, unsigned reads) {
    static const struct { const char *key; unsigned bit; } KEYS[] = {
        {"steps", ATTRIB_READS_IG}, {"rule", ATTRIB_READS_IG}, {"tol", ATTRIB_READS_IG}, {"max_steps", ATTRIB_READS_IG},
        {"norm", ATTRIB_READS_NORM}, {"of", ATTRIB_READS_SMOOTH}, {"samples", ATTRIB_READS_SMOOTH | ATTRIB_READS_SAMPLES},
        {"noise", ATTRIB_READS_NOISE}, {"window", ATTRIB_READS_WINDOW}, {"stride", ATTRIB_READS_WINDOW},
        {"permutations", ATTRIB_READS_SAMPLES}, {"coalitions", ATTRIB_READS_SAMPLES}, {"kernel_width", ATTRIB_READS_LIME},
        {"ridge", ATTRIB_READS_LIME}, {"mask", ATTRIB_READS_MASK}, {"mask_token", ATTRIB_READS_MASK},
        {"baseline", ATTRIB_READS_BASELINE}, {"seed", ATTRIB_READS_SEED}, {"layer", ATTRIB_READS_LAYER}};
    for (size_t i = 0; i < sizeof KEYS / sizeof *KEYS; i++)
        if (!strcmp(key, KEYS[i].key)) return (reads & KEYS[i].bit) != 0;
    return false;
}

static json_t *settings(const attrib_explain_options *o, const attrib_result *r) {
    char *text = NULL;
    assert_int_equal(attrib_method_settings_json(o, r, &text), ATTRIB_OK);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!json_is_object(j)) fail_msg("settings of %s are not a JSON object: %s", attrib_method_name(o->method), text);
    attrib_free(text);
    return j;
}

static void test_rows_tell_the_truth(void **state) {
    (void)state;
    attrib_model *m = load();
    if (!m) skip();
    const char *text = "Once upon a time there was a";
    attrib_token *t = NULL;
    size_t n = 0;
    assert_int_equal(attrib_tokenize(attrib_model_tokenizer(m), text, strlen(text), ATTRIB_TOK_ADD_SPECIAL, &t, &n), ATTRIB_OK);
    int32_t ids[64];
    for (size_t i = 0; i < n; i++) ids[i] = t[i].id;
    attrib_free(t);
    for (int k = 0; k < attrib_method_count(); k++) {
        const attrib_method meth = (attrib_method)k;
        const attrib_method_info *in = attrib_method_get_info(meth);
        attrib_explain_options o1 = small(meth, 1, ATTRIB_MASK_TOKEN), o2 = small(meth, 2, ATTRIB_MASK_TOKEN);
        attrib_explain_options oz = small(meth, 1, ATTRIB_MASK_ZERO);
        attrib_result *a = run(m, ids, (int)n, &o1), *b = run(m, ids, (int)n, &o2), *z = run(m, ids, (int)n, &oz);
        const bool sampled = (in->reads & ATTRIB_READS_SEED) != 0, masks = (in->reads & ATTRIB_READS_MASK) != 0;
        if ((in->family == ATTRIB_FAMILY_GRADIENT) != (a->n_backward > 0))
            fail_msg("%s: family %d but %lld backward passes", in->name, (int)in->family, (long long)a->n_backward);
        if (sampled != (a->std_errors != NULL)) fail_msg("%s: sampled %d but std_errors %p", in->name, sampled, (void *)a->std_errors);
        if (sampled == same_scores(a, b)) fail_msg("%s: reads the seed %d, but seeds 1 and 2 give %s scores", in->name, sampled,
                                                   sampled ? "the same" : "different");
        if (masks == same_scores(a, z)) fail_msg("%s: reads the mask %d, but the token and zero masks give %s scores", in->name, masks,
                                                 masks ? "the same" : "different");

        json_t *s = settings(&o1, a);
        const char *key;
        json_t *v;
        json_object_foreach(s, key, v) if (!key_allowed(key, in->reads)) fail_msg("%s: settings key '%s' is no option it reads", in->name, key);
        assert_int_equal(json_object_get(s, "seed") != NULL, sampled);
        assert_int_equal(json_object_get(s, "mask") != NULL, masks);
        if (masks) {
            assert_string_equal(json_string_value(json_object_get(s, "mask")), "token");
            assert_true(a->mask_token >= 0);
            assert_int_equal(json_integer_value(json_object_get(s, "mask_token")), a->mask_token);
        }
        json_decref(s);
        s = settings(&oz, NULL); /* before a run: the options alone */
        if (masks) {
            assert_string_equal(json_string_value(json_object_get(s, "mask")), "zero");
            assert_null(json_object_get(s, "mask_token"));
        }
        json_decref(s);
        if (in->reads & ATTRIB_READS_BASELINE) { /* a baseline sequence replaces the mask */
            attrib_explain_options ob = o1;
            ob.baseline_ids = ids;
            s = settings(&ob, NULL);
            assert_string_equal(json_string_value(json_object_get(s, "baseline")), "tokens");
            assert_null(json_object_get(s, "mask"));
            json_decref(s);
        }
        char *txt = NULL;
        if (k > 0) { /* a result of another method is refused */
            attrib_explain_options other = small((attrib_method)(k - 1), 1, ATTRIB_MASK_TOKEN);
            assert_int_equal(attrib_method_settings_json(&other, a, &txt), ATTRIB_E_INVALID_ARG);
            assert_null(txt);
        }
        attrib_result_free(a);
        attrib_result_free(b);
        attrib_result_free(z);
    }
    attrib_explain_options bad = attrib_explain_default_options(ATTRIB_METHOD_SALIENCY);
    bad.method = ATTRIB_METHOD_COUNT_;
    char *txt = NULL;
    assert_int_equal(attrib_method_settings_json(&bad, NULL, &txt), ATTRIB_E_INVALID_ARG);
    assert_int_equal(attrib_method_settings_json(NULL, NULL, &txt), ATTRIB_E_INVALID_ARG);
    attrib_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_rows_tell_the_truth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
