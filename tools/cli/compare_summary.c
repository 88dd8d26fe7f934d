/*
 * compare_summary.c — the aggregate half of `attrib compare`: from the
 * per-prompt records of a comparison document it computes the classifier's
 * quality, the mean agreement of every pair of methods and the mean
 * faithfulness of every method (with percentile-bootstrap 95% intervals),
 * split into groups by true and by predicted label, the mean deletion and
 * insertion curves, and each method's cost. The summary is a pure function
 * of the prompt records (sorted by index), the bootstrap count and seed,
 * which is what makes merged shards equal the unsharded run. Also: merging
 * shard documents, writing a document, and the terminal table.
 */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *AGREEMENT_METRICS[] = {"spearman", "kendall", "top1", "top3", "top5", "sign"};
static const char *FAITH_METRICS[] = {"comprehensiveness_aopc", "sufficiency_aopc", "deletion_auc", "insertion_auc"};
#define N_AGREE 6
#define N_FAITH 4

static double get_num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* Group membership of a prompt record: 0 all, 1 label 0, 2 label 1, 3 predicted 0, 4 predicted 1. */
static const char *GROUPS[] = {"all", "label=0", "label=1", "predicted=0", "predicted=1"};
#define N_GROUPS 5

static bool in_group(const json_t *p, int g) {
    const json_int_t label = json_integer_value(json_object_get(p, "label"));
    const json_int_t pred = json_integer_value(json_object_get(p, "predicted"));
    switch (g) {
    case 0: return true;
    case 1: return json_is_integer(json_object_get(p, "label")) && label == 0;
    case 2: return label == 1;
    case 3: return pred == 0;
    default: return pred == 1;
    }
}

static json_t *interval(const double *x, int n, int bootstrap, uint64_t seed) {
    double mean, lo, hi;
    int finite = 0;
    for (int i = 0; i < n; i++) finite += isfinite(x[i]) != 0;
    attrib_bootstrap_mean_ci(x, n, bootstrap, seed, &mean, &lo, &hi);
    return json_pack("{s:o, s:o, s:o, s:i}", "mean", num(mean), "lo", num(lo), "hi", num(hi), "n", finite);
}

/* Value at X of the piecewise-linear curve through (counts[j] / n, v[j] - base). */
static double curve_at(const json_t *counts, const json_t *v, double base, double x) {
    const size_t m = json_array_size(counts);
    if (m < 2 || json_array_size(v) != m) return NAN;
    const double n = json_number_value(json_array_get(counts, m - 1));
    if (!(n > 0)) return NAN;
    for (size_t j = 0; j + 1 < m; j++) {
        const double x0 = json_number_value(json_array_get(counts, j)) / n, x1 = json_number_value(json_array_get(counts, j + 1)) / n;
        if (x <= x1 || j + 2 == m) {
            const double y0 = json_number_value(json_array_get(v, j)) - base, y1 = json_number_value(json_array_get(v, j + 1)) - base;
            const double t = x1 > x0 ? (x - x0) / (x1 - x0) : 0.0;
            return y0 + (t < 0 ? 0 : t > 1 ? 1 : t) * (y1 - y0);
        }
    }
    return NAN;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int compare_summarize(json_t *doc, int bootstrap, uint64_t seed) {
    json_t *prompts = json_object_get(doc, "prompts"), *methods = json_object_get(doc, "methods"), *pairs = json_object_get(doc, "pairs");
    if (!json_is_array(prompts) || !json_is_array(methods) || !json_is_array(pairs)) {
        fprintf(stderr, "attrib: error: not a comparison document (prompts, methods, pairs)\n");
        return 1;
    }
    const int n = (int)json_array_size(prompts), nm = (int)json_array_size(methods), np = (int)json_array_size(pairs);
    double *x = malloc(sizeof(double) * (size_t)(n + 1));
    double *lab_score = malloc(sizeof(double) * (size_t)(n + 1));
    int *lab = malloc(sizeof(int) * (size_t)(n + 1));
    if (!x || !lab_score || !lab) {
        free(x);
        free(lab_score);
        free(lab);
        fprintf(stderr, "attrib: error: out of memory\n");
        return 1;
    }
    json_t *summary = json_object();

    /* classifier quality on the labelled prompts */
    int m = 0, correct = 0, cm[2][2] = {{0, 0}, {0, 0}};
    for (int i = 0; i < n; i++) {
        const json_t *p = json_array_get(prompts, i);
        const json_int_t l = json_integer_value(json_object_get(p, "label"));
        const double sc = get_num(p, "score");
        if ((l != 0 && l != 1) || !isfinite(sc)) continue;
        const int pred = sc > 0;
        lab[m] = (int)l;
        lab_score[m++] = sc;
        correct += pred == l;
        cm[l][pred]++;
    }
    json_object_set_new(summary, "classifier",
                        json_pack("{s:i, s:o, s:o, s:[[i,i],[i,i]]}", "n", m, "accuracy", num(m ? (double)correct / m : NAN), "auroc",
                                  num(attrib_auroc(lab_score, lab, m)), "confusion", cm[0][0], cm[0][1], cm[1][0], cm[1][1]));

    json_t *groups = json_object();
    for (int g = 0; g < N_GROUPS; g++) {
        int count = 0;
        for (int i = 0; i < n; i++) count += in_group(json_array_get(prompts, i), g);
        json_t *agree = json_object(), *faith = json_object(), *curves = json_object();
        for (int q = 0; q < np; q++) {
            const json_t *pr = json_array_get(pairs, q);
            char key[96];
            snprintf(key, sizeof key, "%s|%s", json_string_value(json_array_get(pr, 0)), json_string_value(json_array_get(pr, 1)));
            json_t *pa = json_object();
            for (int k = 0; k < N_AGREE; k++) {
                int c = 0;
                for (int i = 0; i < n; i++) {
                    const json_t *p = json_array_get(prompts, i);
                    if (in_group(p, g)) x[c++] = get_num(json_object_get(json_object_get(p, "agreement"), key), AGREEMENT_METRICS[k]);
                }
                json_object_set_new(pa, AGREEMENT_METRICS[k], interval(x, c, bootstrap, seed));
            }
            json_object_set_new(agree, key, pa);
        }
        json_t *grid = json_array();
        for (int j = 0; j < COMPARE_CURVE_GRID; j++) json_array_append_new(grid, json_real((double)j / (COMPARE_CURVE_GRID - 1)));
        json_object_set_new(curves, "x", grid);
        for (int k = 0; k <= nm; k++) { /* the methods, then "random" */
            const char *name = k < nm ? json_string_value(json_array_get(methods, k)) : "random";
            json_t *pf = json_object();
            for (int f = 0; f < N_FAITH; f++) {
                int c = 0;
                for (int i = 0; i < n; i++) {
                    const json_t *p = json_array_get(prompts, i);
                    if (!in_group(p, g)) continue;
                    const json_t *src = k < nm ? json_object_get(json_object_get(json_object_get(p, "methods"), name), "faithfulness")
                                               : json_object_get(p, "random");
                    x[c++] = get_num(src, FAITH_METRICS[f]);
                }
                json_object_set_new(pf, FAITH_METRICS[f], interval(x, c, bootstrap, seed));
            }
            json_object_set_new(faith, name, pf);
            if (k == nm) continue;
            /* mean curves of the change from the full input, on a common x grid */
            json_t *del = json_array(), *ins = json_array();
            for (int j = 0; j < COMPARE_CURVE_GRID; j++) {
                const double xg = (double)j / (COMPARE_CURVE_GRID - 1);
                double sd = 0, si = 0;
                int c = 0;
                for (int i = 0; i < n; i++) {
                    const json_t *p = json_array_get(prompts, i);
                    if (!in_group(p, g)) continue;
                    const json_t *f = json_object_get(json_object_get(json_object_get(p, "methods"), name), "faithfulness");
                    const double base = get_num(f, "f_full");
                    const double d = curve_at(json_object_get(f, "counts"), json_object_get(f, "deletion"), base, xg);
                    const double e = curve_at(json_object_get(f, "counts"), json_object_get(f, "insertion"), base, xg);
                    if (isfinite(d) && isfinite(e)) sd += d, si += e, c++;
                }
                json_array_append_new(del, num(c ? sd / c : NAN));
                json_array_append_new(ins, num(c ? si / c : NAN));
            }
            json_object_set_new(curves, name, json_pack("{s:o, s:o}", "deletion", del, "insertion", ins));
        }
        json_object_set_new(groups, GROUPS[g],
                            json_pack("{s:i, s:o, s:o, s:o}", "n", count, "agreement", agree, "faithfulness", faith, "curves", curves));
    }
    json_object_set_new(summary, "groups", groups);

    json_t *cost = json_object();
    for (int k = 0; k < nm; k++) {
        const char *name = json_string_value(json_array_get(methods, k));
        double total = 0;
        json_int_t fwd = 0, bwd = 0, feval = 0;
        int c = 0;
        for (int i = 0; i < n; i++) {
            const json_t *r = json_object_get(json_object_get(json_array_get(prompts, i), "methods"), name);
            const double s = get_num(r, "seconds");
            if (!isfinite(s)) continue;
            x[c++] = s;
            total += s;
            fwd += json_integer_value(json_object_get(r, "n_forward"));
            bwd += json_integer_value(json_object_get(r, "n_backward"));
            feval += json_integer_value(json_object_get(json_object_get(r, "faithfulness"), "n_evaluations"));
        }
        qsort(x, (size_t)c, sizeof(double), cmp_double);
        const double median = c ? (c % 2 ? x[c / 2] : 0.5 * (x[c / 2 - 1] + x[c / 2])) : NAN;
        json_object_set_new(cost, name,
                            json_pack("{s:o, s:f, s:I, s:I, s:I, s:I}", "median_seconds", num(median), "total_seconds", total, "n_forward",
                                      fwd, "n_backward", bwd, "model_evaluations", fwd + bwd, "faithfulness_evaluations", feval));
    }
    json_object_set_new(summary, "cost", cost);
    json_object_set_new(summary, "peak_rss_mb", num(get_num(json_object_get(doc, "provenance"), "peak_rss_mb")));
    json_object_set_new(summary, "bootstrap", json_pack("{s:i, s:I}", "resamples", bootstrap, "seed", (json_int_t)seed));
    json_object_set_new(doc, "summary", summary);
    free(x);
    free(lab_score);
    free(lab);
    return 0;
}

/* ------------------------------------------------------------ writing */

int compare_write(const json_t *doc, const char *path) {
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp) return 1;
    snprintf(tmp, n, "%s.tmp", path);
    /* 17 significant digits: every double reads back exactly (merging relies on it) */
    int rc = json_dump_file(doc, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) != 0 || rename(tmp, path) != 0;
    if (rc) {
        fprintf(stderr, "attrib: error: cannot write %s\n", path);
        remove(tmp);
    }
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------ merging */

static int cmp_index(const void *a, const void *b) {
    const json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
    const json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));
    return (x > y) - (x < y);
}

/* Provenance entries that must agree between shards of one run. */
static bool same_run(const json_t *a, const json_t *b, const char **what) {
    const json_t *pa = json_object_get(a, "provenance"), *pb = json_object_get(b, "provenance");
    static const char *const model_keys[] = {"sha256"}, *const data_keys[] = {"sha256", "positive", "limit", "sample", "seed"};
    for (size_t i = 0; i < sizeof model_keys / sizeof *model_keys; i++)
        if (!json_equal(json_object_get(json_object_get(pa, "model"), model_keys[i]),
                        json_object_get(json_object_get(pb, "model"), model_keys[i]))) {
            *what = "model";
            return false;
        }
    for (size_t i = 0; i < sizeof data_keys / sizeof *data_keys; i++)
        if (!json_equal(json_object_get(json_object_get(pa, "data"), data_keys[i]),
                        json_object_get(json_object_get(pb, "data"), data_keys[i]))) {
            *what = "data";
            return false;
        }
    static const char *const keys[] = {"classifier", "methods", "faithfulness", "seed"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!json_equal(json_object_get(pa, keys[i]), json_object_get(pb, keys[i]))) {
            *what = keys[i];
            return false;
        }
    if (!json_equal(json_object_get(a, "methods"), json_object_get(b, "methods"))) {
        *what = "methods";
        return false;
    }
    return true;
}

/* The "skipped" or "failed" rows (KEY) of every shard, sorted by index. */
static json_t *merge_rows(json_t **docs, int n, const char *key) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += json_array_size(json_object_get(docs[i], key));
    json_t **all = calloc(total + 1, sizeof *all), *out = json_array();
    if (!all || !out) {
        free(all);
        json_decref(out);
        return NULL;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        json_t *rs = json_object_get(docs[i], key);
        for (size_t j = 0; j < json_array_size(rs); j++) all[k++] = json_array_get(rs, j);
    }
    qsort(all, total, sizeof *all, cmp_index);
    for (size_t j = 0; j < total; j++) json_array_append(out, all[j]);
    free(all);
    return out;
}

static int cmp_i64(const void *a, const void *b) {
    const json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
    return (x > y) - (x < y);
}

int compare_merge(int n, char **paths, const char *out, const char *html, int json_stdout) {
    json_t **docs = calloc((size_t)n, sizeof *docs);
    json_t *merged = NULL;
    json_t **all = NULL;
    int rc = 1;
    if (!docs) return 1;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        json_error_t err;
        docs[i] = json_load_file(paths[i], 0, &err);
        if (!docs[i]) {
            fprintf(stderr, "attrib: error: %s line %d: %s\n", paths[i], err.line, err.text);
            goto done;
        }
        const char *schema = json_string_value(json_object_get(docs[i], "schema"));
        if (!schema || strcmp(schema, COMPARE_SCHEMA) != 0 || !json_is_array(json_object_get(docs[i], "prompts"))) {
            fprintf(stderr, "attrib: error: %s is not an attrib comparison (schema %s)\n", paths[i], COMPARE_SCHEMA);
            goto done;
        }
        const char *what = NULL;
        if (i > 0 && !same_run(docs[0], docs[i], &what)) {
            fprintf(stderr, "attrib: error: %s and %s are not shards of one run: their %s differ\n", paths[0], paths[i], what);
            goto done;
        }
        total += json_array_size(json_object_get(docs[i], "prompts"));
    }
    all = calloc(total + 1, sizeof *all);
    if (!all) goto done;
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        json_t *ps = json_object_get(docs[i], "prompts");
        for (size_t j = 0; j < json_array_size(ps); j++) all[k++] = json_array_get(ps, j);
    }
    qsort(all, total, sizeof *all, cmp_index);
    /* rows that were skipped or failed count as rows of their shard: an
     * index may appear once among the prompts, skipped and failed rows */
    json_t *skipped = merge_rows(docs, n, "skipped"), *failed = merge_rows(docs, n, "failed");
    const size_t n_rows = total + json_array_size(skipped) + json_array_size(failed);
    json_int_t *idx = skipped && failed ? calloc(n_rows + 1, sizeof *idx) : NULL;
    if (!idx) {
        json_decref(skipped);
        json_decref(failed);
        goto done;
    }
    for (size_t j = 0; j < total; j++) idx[j] = json_integer_value(json_object_get(all[j], "index"));
    for (size_t j = 0; j < json_array_size(skipped); j++) idx[total + j] = json_integer_value(json_object_get(json_array_get(skipped, j), "index"));
    for (size_t j = 0; j < json_array_size(failed); j++)
        idx[total + json_array_size(skipped) + j] = json_integer_value(json_object_get(json_array_get(failed, j), "index"));
    qsort(idx, n_rows, sizeof *idx, cmp_i64);
    for (size_t j = 1; j < n_rows; j++)
        if (idx[j - 1] == idx[j]) {
            fprintf(stderr, "attrib: error: prompt index %lld appears in two shards\n", (long long)idx[j]);
            free(idx);
            json_decref(skipped);
            json_decref(failed);
            goto done;
        }
    free(idx);
    merged = json_deep_copy(docs[0]);
    json_object_set_new(merged, "skipped", skipped);
    json_object_set_new(merged, "failed", failed);
    json_t *prompts = json_array();
    for (size_t j = 0; j < total; j++) json_array_append(prompts, all[j]);
    json_object_set_new(merged, "prompts", prompts);
    json_t *prov = json_object_get(merged, "provenance");
    json_t *from = json_array();
    double wall = 0, rss = 0;
    for (int i = 0; i < n; i++) {
        const json_t *p = json_object_get(docs[i], "provenance");
        wall += get_num(p, "wall_seconds");
        const double r = get_num(p, "peak_rss_mb");
        if (r > rss) rss = r;
        json_array_append_new(from, json_pack("{s:s, s:O, s:O, s:O}", "path", paths[i], "command", json_object_get(p, "command"),
                                              "shard", json_object_get(json_object_get(p, "data"), "shard"), "wall_seconds",
                                              json_object_get(p, "wall_seconds")));
    }
    json_object_set_new(prov, "merged_from", from);
    json_object_set_new(prov, "wall_seconds", num(wall));
    json_object_set_new(prov, "peak_rss_mb", num(rss));
    json_t *data = json_object_get(prov, "data");
    json_object_set_new(data, "shard", json_null());
    json_object_set_new(data, "rows_used", json_integer((json_int_t)n_rows));
    const json_t *fs = json_object_get(prov, "faithfulness");
    const int bootstrap = (int)json_integer_value(json_object_get(fs, "bootstrap"));
    const uint64_t seed = (uint64_t)json_integer_value(json_object_get(prov, "seed"));
    if (compare_summarize(merged, bootstrap > 0 ? bootstrap : 1000, seed)) goto done;
    if (out && compare_write(merged, out)) goto done;
    if (html) {
        FILE *f = fopen(html, "w");
        if (!f || render_compare_html(f, merged) || fclose(f)) {
            fprintf(stderr, "attrib: error: cannot write the HTML report %s\n", html);
            goto done;
        }
    }
    if (json_stdout) {
        json_dumpf(merged, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
        putchar('\n');
    } else {
        compare_print_table(stdout, merged);
    }
    rc = json_array_size(json_object_get(merged, "failed")) ? COMPARE_EXIT_ROWS_FAILED : 0;
done:
    for (int i = 0; i < n; i++) json_decref(docs[i]);
    free(docs);
    free(all);
    json_decref(merged);
    return rc;
}

/* ------------------------------------------------------------ table */

static void print_interval(FILE *f, const json_t *iv) {
    const double m = get_num(iv, "mean"), lo = get_num(iv, "lo"), hi = get_num(iv, "hi");
    if (!isfinite(m)) fprintf(f, "  %-23s", "n/a");
    else fprintf(f, "  %6.3f [%6.3f, %6.3f]", m, lo, hi);
}

void compare_print_table(FILE *f, const json_t *doc) {
    const json_t *prov = json_object_get(doc, "provenance"), *sum = json_object_get(doc, "summary");
    const json_t *all = json_object_get(json_object_get(sum, "groups"), "all");
    const json_t *model = json_object_get(prov, "model"), *cls = json_object_get(prov, "classifier");
    const size_t n_skipped = json_array_size(json_object_get(doc, "skipped")), n_failed = json_array_size(json_object_get(doc, "failed"));
    fprintf(f, "attrib compare: %lld prompts", (long long)json_array_size(json_object_get(doc, "prompts")));
    if (n_skipped || n_failed) fprintf(f, " (+ %zu skipped, %zu failed: listed at the end)", n_skipped, n_failed);
    fprintf(f, "  model %s (sha256 %.12s..., %s)\n", json_string_value(json_object_get(model, "path")),
            json_string_value(json_object_get(model, "sha256")), json_string_value(json_object_get(model, "arch")));
    fprintf(f, "data: %s   classifier: %s", json_string_value(json_object_get(json_object_get(prov, "data"), "path")),
            json_string_value(json_object_get(cls, "kind")));
    if (json_object_get(cls, "layer"))
        fprintf(f, " (layer %lld, %s pooling)", (long long)json_integer_value(json_object_get(cls, "layer")),
                json_string_value(json_object_get(cls, "pool")));
    fputc('\n', f);
    const json_t *c = json_object_get(sum, "classifier"), *cm = json_object_get(c, "confusion");
    const long long tn = (long long)json_integer_value(json_array_get(json_array_get(cm, 0), 0)),
                    fp = (long long)json_integer_value(json_array_get(json_array_get(cm, 0), 1)),
                    fn = (long long)json_integer_value(json_array_get(json_array_get(cm, 1), 0)),
                    tp = (long long)json_integer_value(json_array_get(json_array_get(cm, 1), 1));
    const double acc = get_num(c, "accuracy"), auroc = get_num(c, "auroc");
    fprintf(f, "\nclassifier on %lld labelled prompts: accuracy ", (long long)json_integer_value(json_object_get(c, "n")));
    if (isfinite(acc)) fprintf(f, "%.3f", acc);
    else fputs("n/a", f);
    if (isfinite(auroc)) fprintf(f, "  AUROC %.3f", auroc);
    else fputs("  AUROC n/a", f);
    fprintf(f, "  confusion [[tn %lld, fp %lld], [fn %lld, tp %lld]]\n", tn, fp, fn, tp);
    /* say why a metric is undefined, instead of printing nan */
    if (!isfinite(acc))
        fprintf(f, "  (accuracy and AUROC need labelled prompts and none has a label: give the data a label column "
                   "(--label-col), or use --harmful / --harmless files)\n");
    else if (!isfinite(auroc))
        fprintf(f, "  (AUROC needs both classes and the labelled prompts hold only %s: %lld positive, %lld negative%s)\n",
                tp + fn ? "positives" : "negatives", tp + fn, tn + fp,
                get_num(json_object_get(prov, "data"), "limit") > 0 ? "; --limit may have cut the other class" : "");

    fprintf(f, "\nagreement between methods (mean over prompts [95%% bootstrap interval])\n");
    const json_t *pairs = json_object_get(doc, "pairs");
    int pw = 22; /* the pair column as wide as its longest label ("shapley-exact vs kernelshap") */
    for (size_t q = 0; q < json_array_size(pairs); q++) {
        const char *x = json_string_value(json_array_get(json_array_get(pairs, q), 0)),
                   *y = json_string_value(json_array_get(json_array_get(pairs, q), 1));
        int l = (int)(strlen(x ? x : "") + strlen(y ? y : "") + 4);
        if (l > pw) pw = l;
    }
    fprintf(f, "  %-*s  %-23s  %-23s  %-23s  %-23s\n", pw, "pair", "Spearman rho", "Kendall tau-b", "top-3 overlap",
            "sign agreement");
    for (size_t q = 0; q < json_array_size(pairs); q++) {
        char key[96];
        snprintf(key, sizeof key, "%s|%s", json_string_value(json_array_get(json_array_get(pairs, q), 0)),
                 json_string_value(json_array_get(json_array_get(pairs, q), 1)));
        const json_t *a = json_object_get(json_object_get(all, "agreement"), key);
        char label[64];
        snprintf(label, sizeof label, "%s vs %s", json_string_value(json_array_get(json_array_get(pairs, q), 0)),
                 json_string_value(json_array_get(json_array_get(pairs, q), 1)));
        fprintf(f, "  %-*s", pw, label);
        print_interval(f, json_object_get(a, "spearman"));
        print_interval(f, json_object_get(a, "kendall"));
        print_interval(f, json_object_get(a, "top3"));
        print_interval(f, json_object_get(a, "sign"));
        fputc('\n', f);
    }
    /* the headline pair split by true and predicted label */
    if (json_array_size(pairs) > 0) {
        char key[96];
        snprintf(key, sizeof key, "%s|%s", json_string_value(json_array_get(json_array_get(pairs, 0), 0)),
                 json_string_value(json_array_get(json_array_get(pairs, 0), 1)));
        fprintf(f, "  %s Spearman by group:", key);
        for (int g = 1; g < N_GROUPS; g++) {
            const json_t *grp = json_object_get(json_object_get(sum, "groups"), GROUPS[g]);
            const double m = get_num(json_object_get(json_object_get(json_object_get(grp, "agreement"), key), "spearman"), "mean");
            fprintf(f, "  %s (n %lld) %s", GROUPS[g], (long long)json_integer_value(json_object_get(grp, "n")), "");
            if (isfinite(m)) fprintf(f, "%.3f", m);
            else fputs("n/a", f);
        }
        fputc('\n', f);
    }
    fprintf(f, "\nfaithfulness (comprehensiveness: higher is better; sufficiency and deletion AUC: lower is better;\n"
               "insertion AUC: higher is better; AUCs of the target's value, in its units)\n");
    const json_t *methods = json_object_get(doc, "methods");
    int mw = 12;
    for (size_t k = 0; k < json_array_size(methods); k++) {
        const char *x = json_string_value(json_array_get(methods, k));
        if (x && (int)strlen(x) > mw) mw = (int)strlen(x);
    }
    fprintf(f, "  %-*s  %-23s  %-23s  %-23s  %-23s\n", mw, "method", "comprehensiveness", "sufficiency", "deletion AUC",
            "insertion AUC");
    for (size_t k = 0; k <= json_array_size(methods); k++) {
        const char *name = k < json_array_size(methods) ? json_string_value(json_array_get(methods, k)) : "random";
        const json_t *fm = json_object_get(json_object_get(all, "faithfulness"), name);
        fprintf(f, "  %-*s", mw, name);
        for (int m = 0; m < N_FAITH; m++) print_interval(f, json_object_get(fm, FAITH_METRICS[m]));
        fputc('\n', f);
    }
    fprintf(f, "\ncost per method\n  %-*s  %10s  %10s  %12s  %12s  %14s\n", mw, "method", "median s", "total s", "forward", "backward",
            "faithfulness");
    for (size_t k = 0; k < json_array_size(methods); k++) {
        const char *name = json_string_value(json_array_get(methods, k));
        const json_t *co = json_object_get(json_object_get(sum, "cost"), name);
        fprintf(f, "  %-*s  %10.4f  %10.2f  %12lld  %12lld  %14lld\n", mw, name, get_num(co, "median_seconds"), get_num(co, "total_seconds"),
                (long long)json_integer_value(json_object_get(co, "n_forward")),
                (long long)json_integer_value(json_object_get(co, "n_backward")),
                (long long)json_integer_value(json_object_get(co, "faithfulness_evaluations")));
    }
    fprintf(f, "\nwall time %.1f s, peak memory %.0f MiB, %s, %lld threads\n", get_num(prov, "wall_seconds"),
            get_num(prov, "peak_rss_mb"), json_string_value(json_object_get(json_object_get(prov, "machine"), "cpu")),
            (long long)json_integer_value(json_object_get(json_object_get(prov, "machine"), "threads")));
    compare_print_missing(f, doc);
}
