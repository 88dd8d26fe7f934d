/*
 * render_compare.c — the data-set report of `attrib compare` / `attrib
 * report` (an attrib.compare/1 document, docs/compare.md): summary charts as
 * inline SVG (agreement matrix, faithfulness bars with intervals and the
 * random baseline, deletion and insertion curves, cost), the classifier and
 * group tables, then every prompt with sort and filter controls; the same
 * summary as a stand-alone SVG figure; and the CSV of every prompt x method
 * x token. Built of render.c's HTML pieces.
 */
#include "render.h"
#include "render_doc.h"
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const PALETTE[] = {"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
                                      "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"};
#define RANDOM_COLOUR "#7f7f7f"
#define MAX_METHODS 32

typedef struct compare_view {
    const json_t *doc, *summary, *all; /* all = summary.groups.all */
    const char *methods[MAX_METHODS];
    size_t n_methods;
    char pair[160];          /* "occlusion|saliency": the pair whose disagreement orders the prompts */
    const char *pair_a, *pair_b;
    const char *label_name[2];
} compare_view;

static const char *method_colour(size_t i) { return PALETTE[i % (sizeof PALETTE / sizeof *PALETTE)]; }

/* %.*g, or an en dash for a missing value. */
static const char *fmt_num(char *buf, double v, int prec) {
    if (isnan(v)) return strcpy(buf, "\xe2\x80\x93");
    snprintf(buf, 32, "%.*g", prec, v);
    return buf;
}

/* DST = "A|B", the key of a pair; false when it does not fit. */
static bool join_pair(char *dst, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 2 > cap) return false;
    memcpy(dst, a, la);
    dst[la] = '|';
    memcpy(dst + la + 1, b, lb + 1);
    return true;
}

static void compare_view_init(compare_view *c, const json_t *doc) {
    memset(c, 0, sizeof *c);
    c->doc = doc;
    c->summary = json_object_get(doc, "summary");
    c->all = json_object_get(json_object_get(c->summary, "groups"), "all");
    const json_t *ms = json_object_get(doc, "methods"), *v;
    size_t i;
    json_array_foreach(ms, i, v) {
        if (json_is_string(v) && c->n_methods < MAX_METHODS) c->methods[c->n_methods++] = json_string_value(v);
    }
    if (!c->n_methods) { /* no list: the methods of the first prompt */
        const char *key;
        const json_t *first = json_object_get(json_array_get(json_object_get(doc, "prompts"), 0), "methods");
        json_object_foreach((json_t *)first, key, v) {
            if (c->n_methods < MAX_METHODS) c->methods[c->n_methods++] = key;
        }
    }
    const json_t *p0 = json_array_get(json_object_get(doc, "pairs"), 0);
    const char *a = json_string_value(json_array_get(p0, 0)), *b = json_string_value(json_array_get(p0, 1));
    if ((!a || !b) && c->n_methods >= 2) a = c->methods[0], b = c->methods[1];
    if (a && b && join_pair(c->pair, sizeof c->pair, a, b)) c->pair_a = a, c->pair_b = b;
    const char *pos = doc_str(json_object_get(json_object_get(doc, "provenance"), "data"), "positive", NULL);
    c->label_name[1] = pos ? pos : "unsafe";
    c->label_name[0] = !pos || !strcmp(pos, "unsafe") ? "safe" : !strcmp(pos, "harmful") ? "harmless" : "negative";
}

/* An agreement entry of a pair, found under "a|b" or "b|a". */
static const json_t *pair_entry(const json_t *agreement, const char *a, const char *b) {
    char key[160];
    if (!join_pair(key, sizeof key, a, b)) return NULL;
    const json_t *e = json_object_get(agreement, key);
    if (e) return e;
    join_pair(key, sizeof key, b, a);
    return json_object_get(agreement, key);
}

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *extra, const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor, extra ? extra : "");
    render_html(f, s, strlen(s), RENDER_VISIBLE);
    fputs("</text>", f);
}

/* Width of svg_agreement's chart: the cells, and room for the last column's
 * label, which is written at 40 degrees (about 6.2 px a character). */
static double agreement_width(const compare_view *c) {
    size_t longest = 0;
    for (size_t i = 0; i < c->n_methods; i++)
        if (strlen(c->methods[i]) > longest) longest = strlen(c->methods[i]);
    return 96 + 50 * (double)c->n_methods + fmax(8, 0.77 * 6.2 * (double)longest - 25 + 6);
}

/* Methods x methods heat map of the mean Spearman correlation. */
static void svg_agreement(FILE *f, const compare_view *c) {
    const json_t *agreement = json_object_get(c->all, "agreement");
    size_t k = c->n_methods;
    const double left = 96, top = 74, cell = 50;
    fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"mean Spearman correlation between methods\">",
            agreement_width(c), top + k * cell + 8);
    for (size_t i = 0; i < k; i++) {
        svg_text(f, left - 6, top + (i + 0.5) * cell + 4, "end", NULL, c->methods[i]);
        char tr[96];
        double x = left + (i + 0.5) * cell, y = top - 6;
        snprintf(tr, sizeof tr, " transform=\"rotate(-40 %.1f %.1f)\"", x, y);
        svg_text(f, x, y, "start", tr, c->methods[i]);
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            const json_t *e = i == j ? NULL : json_object_get(pair_entry(agreement, c->methods[i], c->methods[j]), "spearman");
            double v = i == j ? 1.0 : doc_num(e, "mean");
            if (fabs(v) < 0.005) v = 0; /* no "-0.00" */
            render_rgb col = i == j ? (render_rgb){238, 238, 238} : render_heat_rgb(v, 1.0); /* the diagonal is no finding */
            char a[32], lo[32], hi[32];
            fputs("<g><title>Spearman(", f); /* names come from the document: escaped */
            render_html(f, c->methods[i], strlen(c->methods[i]), 0);
            fputs(", ", f);
            render_html(f, c->methods[j], strlen(c->methods[j]), 0);
            fprintf(f, ") = %s", fmt_num(a, v, 3));
            if (e) fprintf(f, " [95%% CI %s, %s], n = %.0f", fmt_num(lo, doc_num(e, "lo"), 3), fmt_num(hi, doc_num(e, "hi"), 3),
                           doc_num(e, "n"));
            fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%02x%02x%02x\" stroke=\"#fff\"/>",
                    left + j * cell, top + i * cell, cell, cell, col.r, col.g, col.b);
            if (isnan(v)) fmt_num(a, v, 2);
            else snprintf(a, sizeof a, "%.2f", v);
            svg_text(f, left + (j + 0.5) * cell, top + (i + 0.5) * cell + 4, "middle",
                     render_rgb_dark(col) ? " fill=\"#fff\"" : NULL, a);
            fputs("</g>", f);
        }
    fputs("</svg>", f);
}

typedef struct bar_row {
    const char *label, *colour;
    double mean, lo, hi; /* lo/hi NaN: no whisker */
    char value[64];      /* printed right of the bar */
} bar_row;

/* Horizontal bars from 0 with 95% interval whiskers. Returns the width
 * drawn (the height is 28 + 24 n). */
static double svg_bars(FILE *f, const char *aria, const bar_row *rows, size_t n) {
    const double left = 96, width = 230, rh = 24, top = 6;
    double mn = 0, mx = 0, right = 40;
    for (size_t i = 0; i < n; i++) {
        right = fmax(right, 12 + 6.2 * (double)strlen(rows[i].value)); /* room for the value label */
        double v[3] = {rows[i].mean, rows[i].lo, rows[i].hi};
        for (int j = 0; j < 3; j++)
            if (isfinite(v[j])) mn = fmin(mn, v[j]), mx = fmax(mx, v[j]);
    }
    if (mx - mn <= 0) mx = mn + 1;
    fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"", left + width + right, top + n * rh + 22);
    render_html(f, aria, strlen(aria), 0);
    fputs("\">", f);
#define X(v) (left + width * ((v) - mn) / (mx - mn))
    for (size_t i = 0; i < n; i++) {
        const bar_row *r = &rows[i];
        double y = top + i * rh;
        svg_text(f, left - 6, y + rh / 2 + 4, "end", NULL, r->label);
        double xe = X(isfinite(r->mean) ? r->mean : 0), x0 = X(0), xr = xe;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", fmin(x0, xe), y + 5, fabs(xe - x0),
                rh - 10, r->colour);
        if (isfinite(r->lo) && isfinite(r->hi)) {
            double a = X(r->lo), b = X(r->hi), yc = y + rh / 2;
            fprintf(f, "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" stroke=\"#222\" fill=\"none\"/>", a, yc, b, a,
                    yc - 5, yc + 5, b, yc - 5, yc + 5);
            xr = fmax(xr, b);
        }
        svg_text(f, fmax(xr, x0) + 5, y + rh / 2 + 4, "start", NULL, r->value);
    }
    double yb = top + n * rh;
    fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1f\" stroke=\"#999\" fill=\"none\"/>", X(0), top, yb, left, yb, left + width);
    char a[32], b[32];
    svg_text(f, left, yb + 15, "start", NULL, fmt_num(a, mn, 3));
    svg_text(f, left + width, yb + 15, "end", NULL, fmt_num(b, mx, 3));
    if (mn < 0 && mx > 0 && X(0) - left > 34 && left + width - X(0) > 34) /* not over the end labels */
        svg_text(f, X(0), yb + 15, "middle", NULL, "0");
#undef X
    fputs("</svg>", f);
    return left + width + right;
}

/* A numeric JSON array into at most CAP doubles (NaN for non-numbers). */
static size_t load_series(const json_t *arr, double *out, size_t cap) {
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n > cap) n = cap;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        out[i] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    return n;
}

#define MAX_CURVE 512

/* Mean deletion or insertion curves, one line per method (random dashed). */
static void svg_curves(FILE *f, const compare_view *c, const char *which) {
    const json_t *curves = json_object_get(c->all, "curves");
    double *x = malloc(MAX_CURVE * sizeof *x), (*y)[MAX_CURVE] = malloc((MAX_METHODS + 1) * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return;
    }
    size_t nx = load_series(json_object_get(curves, "x"), x, MAX_CURVE), ny[MAX_METHODS + 1];
    const char *names[MAX_METHODS + 1];
    size_t ns = 0;
    for (size_t i = 0; i <= c->n_methods; i++) {
        names[ns] = i < c->n_methods ? c->methods[i] : "random";
        ny[ns] = load_series(json_object_get(json_object_get(curves, names[ns]), which), y[ns], MAX_CURVE);
        if (ny[ns] > nx) ny[ns] = nx;
        ns++;
    }
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < nx; i++)
        if (isfinite(x[i])) x0 = fmin(x0, x[i]), x1 = fmax(x1, x[i]);
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < ny[s]; i++)
            if (isfinite(y[s][i])) y0 = fmin(y0, y[s][i]), y1 = fmax(y1, y[s][i]);
    const double W = 380, H = 230, l = 52, r = 10, t = 10, b = 36;
    fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"mean %s curves\">", W, H, which);
    if (!(x1 > x0) || !(y1 >= y0)) {
        svg_text(f, W / 2, H / 2, "middle", NULL, "no curve data");
        fputs("</svg>", f);
        free(x), free(y);
        return;
    }
    if (y1 == y0) y0 -= 1, y1 += 1;
    double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
#define PX(v) (l + (W - l - r) * ((v) - x0) / (x1 - x0))
#define PY(v) (t + (H - t - b) * (y1 - (v)) / (y1 - y0))
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#ccc\"/>", l, t, W - l - r,
            H - t - b);
    char a[32];
    for (int k = 0; k <= 2; k++) {
        double yv = y0 + (y1 - y0) * k / 2, xv = x0 + (x1 - x0) * k / 2;
        svg_text(f, l - 4, PY(yv) + 4, "end", NULL, fmt_num(a, yv, 3));
        svg_text(f, PX(xv), H - b + 14, "middle", NULL, fmt_num(a, xv, 2));
    }
    svg_text(f, l + (W - l - r) / 2, H - 6, "middle", NULL,
             !strcmp(which, "deletion") ? "fraction of top features removed" : "fraction of top features inserted");
    for (size_t s = 0; s < ns; s++) {
        if (!ny[s]) continue;
        bool random = s == c->n_methods;
        fprintf(f, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\"%s points=\"", random ? RANDOM_COLOUR : method_colour(s),
                random ? " stroke-dasharray=\"5 4\"" : "");
        for (size_t i = 0; i < ny[s]; i++)
            if (isfinite(x[i]) && isfinite(y[s][i])) fprintf(f, "%.1f,%.1f ", PX(x[i]), PY(y[s][i]));
        fputs("\"><title>", f);
        render_html(f, names[s], strlen(names[s]), 0);
        fputs("</title></polyline>", f);
    }
#undef PX
#undef PY
    fputs("</svg>", f);
    free(x), free(y);
}

static void method_legend(FILE *f, const compare_view *c, bool with_random) {
    fputs("<p class=keys>", f);
    for (size_t i = 0; i < c->n_methods; i++) {
        fprintf(f, "<span><i style=\"background:%s\"></i>", method_colour(i));
        render_html(f, c->methods[i], strlen(c->methods[i]), 0);
        fputs("</span> ", f);
    }
    if (with_random) fputs("<span><i class=rnd></i>random ranking</span>", f);
    fputs("</p>", f);
}

/* Mean [lo, hi] of a {"mean","lo","hi","n"} object as text. */
static void interval_text(char *buf, size_t n, const json_t *o) {
    char a[32], b[32], d[32];
    if (!o) {
        snprintf(buf, n, "\xe2\x80\x93");
        return;
    }
    snprintf(buf, n, "%s [%s, %s]", fmt_num(a, doc_num(o, "mean"), 3), fmt_num(b, doc_num(o, "lo"), 3),
             fmt_num(d, doc_num(o, "hi"), 3));
}

static const char *const FAITH_TITLES[] = {"comprehensiveness AOPC (higher: removing the top tokens hurts more)",
                                           "sufficiency AOPC (lower: the top tokens alone suffice)"};

/* One bar per method, then the random baseline when present, of METRIC
 * ("comprehensiveness_aopc", ...) in FAITH. ROWS holds MAX_METHODS + 1. */
static size_t faith_rows(bar_row *rows, const compare_view *c, const json_t *faith, const char *metric) {
    size_t n = 0;
    for (size_t i = 0; i <= c->n_methods; i++) {
        const char *name = i < c->n_methods ? c->methods[i] : "random";
        const json_t *o = json_object_get(json_object_get(faith, name), metric);
        if (!o && i == c->n_methods) continue;
        bar_row *r = &rows[n++];
        r->label = name;
        r->colour = i < c->n_methods ? method_colour(i) : RANDOM_COLOUR;
        r->mean = doc_num(o, "mean"), r->lo = doc_num(o, "lo"), r->hi = doc_num(o, "hi");
        interval_text(r->value, sizeof r->value, o);
    }
    return n;
}

static void faithfulness_section(FILE *f, const compare_view *c) {
    const json_t *faith = json_object_get(c->all, "faithfulness");
    static const char *metrics[] = {"comprehensiveness_aopc", "sufficiency_aopc", "deletion_auc", "insertion_auc"};
    const char *const *titles = FAITH_TITLES;
    bar_row rows[MAX_METHODS + 1];
    for (int m = 0; m < 2; m++) {
        size_t n = faith_rows(rows, c, faith, metrics[m]);
        fprintf(f, "<figure class=card><figcaption>%s</figcaption>", titles[m]);
        svg_bars(f, titles[m], rows, n);
        fputs("</figure>\n", f);
    }
    fputs("<figure class=card><figcaption>faithfulness, mean [95% interval] over prompts</figcaption><table class=num><tr><th>method",
          f);
    for (int m = 0; m < 4; m++) fprintf(f, "<th>%s", metrics[m]);
    for (size_t i = 0; i <= c->n_methods; i++) {
        const char *name = i < c->n_methods ? c->methods[i] : "random";
        const json_t *o = json_object_get(faith, name);
        if (!o && i == c->n_methods) continue;
        fputs("<tr><th>", f);
        render_html(f, name, strlen(name), 0);
        for (int m = 0; m < 4; m++) {
            char buf[96];
            interval_text(buf, sizeof buf, json_object_get(o, metrics[m]));
            fprintf(f, "<td>%s", buf);
        }
    }
    fputs("</table></figure>\n", f);
}

static void cost_section(FILE *f, const compare_view *c) {
    const json_t *cost = json_object_get(c->summary, "cost");
    bar_row rows[MAX_METHODS];
    size_t n = 0;
    for (size_t i = 0; i < c->n_methods; i++) {
        const json_t *o = json_object_get(cost, c->methods[i]);
        if (!o) continue;
        bar_row *r = &rows[n++];
        r->label = c->methods[i], r->colour = method_colour(i);
        r->mean = doc_num(o, "median_seconds"), r->lo = r->hi = NAN;
        char a[32], b[32], e[32];
        snprintf(r->value, sizeof r->value, "%s s \xc2\xb7 total %s s \xc2\xb7 %s evaluations", fmt_num(a, r->mean, 3),
                 fmt_num(b, doc_num(o, "total_seconds"), 3), fmt_num(e, doc_num(o, "model_evaluations"), 6));
    }
    if (!n) return;
    fputs("<figure class=card><figcaption>time per prompt (median seconds)</figcaption>", f);
    svg_bars(f, "median seconds per prompt by method", rows, n);
    fputs("</figure>\n", f);
}

static void classifier_section(FILE *f, const compare_view *c) {
    const json_t *cl = json_object_get(c->summary, "classifier");
    if (!cl) return;
    char a[32], b[32], d[32];
    fprintf(f, "<figure class=card><figcaption>classifier</figcaption><p>n = %s &middot; accuracy <b>%s</b> &middot; AUROC <b>%s</b></p>",
            fmt_num(a, doc_num(cl, "n"), 6), fmt_num(b, doc_num(cl, "accuracy"), 3), fmt_num(d, doc_num(cl, "auroc"), 3));
    const json_t *cm = json_object_get(cl, "confusion");
    if (json_array_size(cm) == 2) {
        fprintf(f, "<table class=cm><tr><td><th>predicted %s<th>predicted %s", c->label_name[0], c->label_name[1]);
        for (size_t i = 0; i < 2; i++) {
            fprintf(f, "<tr><th>true %s", c->label_name[i]);
            for (size_t j = 0; j < 2; j++) {
                const json_t *v = json_array_get(json_array_get(cm, i), j);
                fprintf(f, "<td class=%s>%s", i == j ? "ok" : "bad", fmt_num(a, json_is_number(v) ? json_number_value(v) : NAN, 9));
            }
        }
        fputs("</table>", f);
    }
    fputs("</figure>\n", f);
}

static void groups_section(FILE *f, const compare_view *c) {
    const json_t *groups = json_object_get(c->summary, "groups");
    if (!json_object_size(groups)) return;
    fputs("<figure class=card><figcaption>by group: agreement and comprehensiveness AOPC, mean [95% interval]</figcaption>"
          "<table class=num><tr><th>group<th>n",
          f);
    if (c->pair_a) {
        fputs("<th>Spearman ", f);
        render_html(f, c->pair_a, strlen(c->pair_a), 0);
        fputs(" vs ", f);
        render_html(f, c->pair_b, strlen(c->pair_b), 0);
    }
    for (size_t i = 0; i < c->n_methods; i++) {
        fputs("<th>", f);
        render_html(f, c->methods[i], strlen(c->methods[i]), 0);
    }
    const char *key;
    const json_t *g;
    json_object_foreach((json_t *)groups, key, g) {
        char buf[96], a[32];
        fputs("<tr><th>", f);
        render_html(f, key, strlen(key), 0);
        fprintf(f, "<td>%s", fmt_num(a, doc_num(g, "n"), 9));
        if (c->pair_a) {
            interval_text(buf, sizeof buf,
                          json_object_get(pair_entry(json_object_get(g, "agreement"), c->pair_a, c->pair_b), "spearman"));
            fprintf(f, "<td>%s", buf);
        }
        for (size_t i = 0; i < c->n_methods; i++) {
            interval_text(buf, sizeof buf,
                          json_object_get(json_object_get(json_object_get(g, "faithfulness"), c->methods[i]),
                                          "comprehensiveness_aopc"));
            fprintf(f, "<td>%s", buf);
        }
    }
    fputs("</table></figure>\n", f);
}

/* Any JSON value as nested key / value tables (provenance). */
static void kv_value(FILE *f, const json_t *v, int depth) {
    if (depth > 8) {
        fputs("&hellip;", f);
        return;
    }
    if (json_is_object(v)) {
        fputs("<table class=kv>", f);
        const char *key;
        const json_t *x;
        json_object_foreach((json_t *)v, key, x) {
            fputs("<tr><th>", f);
            render_html(f, key, strlen(key), RENDER_VISIBLE);
            fputs("<td>", f);
            kv_value(f, x, depth + 1);
        }
        fputs("</table>", f);
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) {
            if (i) fputs(json_is_object(x) ? "" : ", ", f);
            kv_value(f, x, depth + 1);
        }
    } else if (json_is_string(v)) {
        render_html(f, json_string_value(v), json_string_length(v), RENDER_VISIBLE);
    } else if (json_is_integer(v)) {
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        fprintf(f, "%.6g", json_real_value(v));
    } else {
        fputs(json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null", f);
    }
}

typedef struct prompt_order {
    size_t pos;      /* in doc.prompts */
    double rho, index;
} prompt_order;

/* Lowest agreement first (the prompts where the methods disagree most), missing last, then by index. */
static int by_disagreement(const void *pa, const void *pb) {
    const prompt_order *a = pa, *b = pb;
    bool na = isnan(a->rho), nb = isnan(b->rho);
    if (na != nb) return na ? 1 : -1;
    if (!na && a->rho != b->rho) return a->rho < b->rho ? -1 : 1;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static const char *const COMPARE_CSS =
    ".cards{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;margin:0}"
    "figcaption{font-weight:600;margin-bottom:.3em}svg text{font:11px system-ui,sans-serif;fill:#222}"
    ".keys span{margin-right:1em;white-space:nowrap}.keys i{display:inline-block;width:14px;height:4px;margin-right:4px;"
    "vertical-align:middle}.keys i.rnd{border-top:3px dashed #7f7f7f;height:0}"
    ".num td{font-variant-numeric:tabular-nums;white-space:nowrap}.kv{font-size:13px}.kv th{color:#555;font-weight:500}"
    ".kv .kv{margin:0}.cm td{text-align:right;font-size:1.1em}td.ok{background:#e8f5e9}td.bad{background:#fdecea}"
    ".ctl{position:sticky;top:0;background:#fffe;padding:.5em 0;z-index:5;border-bottom:1px solid #ddd;display:flex;"
    "flex-wrap:wrap;gap:.4em 1.2em;align-items:center}#count{color:#555}"
    ".p{border-bottom:1px solid #e5e5e5;padding:.5em 0;content-visibility:auto;contain-intrinsic-size:auto 170px}"
    "[hidden]{display:none!important}.ph{margin-bottom:.2em}.pm{width:100%}.pm th{width:9.5em;font-weight:600;"
    "white-space:nowrap}.pm td{padding:1px 4px}.ok{color:#1a7f37}.bad{color:#c62828}.lbl{padding:0 .3em;border-radius:3px;"
    "background:#eee}";

/* Sort and filter of the prompt list; the server-side order is the default (disagreement). */
static const char *const COMPARE_JS =
    "(function(){var L=document.getElementById('list');if(!L)return;var P=Array.prototype.slice.call(L.children);"
    "function $(i){return document.getElementById(i);}"
    "function v(e,k){var x=e.getAttribute(k);return x===null||x===''?NaN:+x;}"
    "function cmp(a,b,k,dir){var x=v(a,k),y=v(b,k),nx=isNaN(x),ny=isNaN(y);if(nx!==ny)return nx?1:-1;"
    "if(!nx&&x!==y)return dir*(x-y);return v(a,'data-i')-v(b,'data-i');}"
    "function apply(){var s=$('sort').value,fl=$('fl').value,fp=$('fp').value,fc=$('fc').value,n=0,"
    "F=document.createDocumentFragment();"
    "var A=P.slice().sort(function(a,b){return s==='d'?cmp(a,b,'data-d',1):s==='s'?cmp(a,b,'data-sc',-1):"
    "cmp(a,b,'data-i',1);});"
    "A.forEach(function(e){var d=e.dataset,ok=(fl==='all'||d.l===fl)&&(fp==='all'||d.p===fp)&&(fc==='all'||d.c===fc);"
    "e.hidden=!ok;if(ok)n++;F.appendChild(e);});"
    "L.appendChild(F);$('count').textContent=n+' of '+P.length+' prompts shown';}"
    "['sort','fl','fp','fc'].forEach(function(i){$(i).addEventListener('change',apply);});apply();})();";

static void prompt_header(FILE *f, const compare_view *c, const json_t *p, double rho) {
    char a[32];
    size_t idl;
    const char *id = doc_str(p, "id", &idl);
    double label = doc_num(p, "label"), pred = doc_num(p, "predicted");
    fprintf(f, "<div class=ph><b>#%s</b> <code>", fmt_num(a, doc_num(p, "index"), 12));
    render_html(f, id ? id : "", id ? idl : 0, RENDER_VISIBLE);
    fputs("</code> &middot; label ", f);
    if (label == 0 || label == 1) fprintf(f, "<b class=lbl>%s</b>", c->label_name[(int)label]);
    else fputs("<span class=lbl>none</span>", f);
    fprintf(f, " &middot; score %s", fmt_num(a, doc_num(p, "score"), 4));
    if (pred == 0 || pred == 1) {
        fprintf(f, " &rarr; predicted <b>%s</b>", c->label_name[(int)pred]);
        if (label == 0 || label == 1)
            fputs(label == pred ? " <span class=ok>&#10003; correct</span>" : " <span class=bad>&#10007; wrong</span>", f);
    }
    if (c->pair_a) {
        fputs(" &middot; Spearman(", f);
        render_html(f, c->pair_a, strlen(c->pair_a), 0);
        fputs(", ", f);
        render_html(f, c->pair_b, strlen(c->pair_b), 0);
        fprintf(f, ") = %s", fmt_num(a, rho, 3));
    }
    fputs("</div>\n", f);
}

/* The rows a comparison skipped or that failed, with their reasons. */
void compare_html_missing(FILE *f, const json_t *doc) {
    const json_t *lists[2] = {json_object_get(doc, "skipped"), json_object_get(doc, "failed")};
    if (!json_array_size(lists[0]) && !json_array_size(lists[1])) return;
    fputs("<section id=missing><h2>Rows not in the figures</h2><table><thead><tr><th>index<th>id<th>outcome<th>tokens<th>reason"
          "</thead><tbody>\n",
          f);
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < json_array_size(lists[l]); i++) {
            const json_t *r = json_array_get(lists[l], i);
            const char *id = json_string_value(json_object_get(r, "id")), *why = json_string_value(json_object_get(r, "reason")),
                       *stage = json_string_value(json_object_get(r, "stage"));
            const json_t *nt = json_object_get(r, "n_tokens");
            fprintf(f, "<tr><td>%lld<td>", (long long)json_integer_value(json_object_get(r, "index")));
            if (id) render_html(f, id, strlen(id), RENDER_VISIBLE);
            fprintf(f, "<td>%s<td>", l ? "failed" : "skipped");
            if (json_is_integer(nt)) fprintf(f, "%lld", (long long)json_integer_value(nt));
            fputs("<td>", f);
            if (stage) {
                render_html(f, stage, strlen(stage), 0);
                fputs(": ", f);
            }
            if (why) render_html(f, why, strlen(why), RENDER_VISIBLE);
            fputc('\n', f);
        }
    fputs("</tbody></table></section>\n", f);
}

/* Marks the tokens outside the prompt's attribution span [b, e) as fixed. */
static void apply_span(const json_t *p, doc_tokens *t) {
    const json_t *span = json_object_get(p, "span");
    double b = json_number_value(json_array_get(span, 0)), e = json_number_value(json_array_get(span, 1));
    if (!json_is_array(span) || !(e > b)) return;
    for (size_t i = 0; i < t->n; i++) t->fixed[i] = !((double)i >= b && (double)i < e);
}

static int prompt_block(FILE *f, const compare_view *c, const json_t *p, double rho, size_t key) {
    char a[32];
    double label = doc_num(p, "label"), pred = doc_num(p, "predicted");
    fprintf(f, "<div class=p data-i=%s", render_fmt_double(a, doc_num(p, "index")));
    fprintf(f, " data-l=%d", label == 0 || label == 1 ? (int)label : -1);
    fprintf(f, " data-p=\"%s\"", pred == 1 ? "1" : pred == 0 ? "0" : "");
    fprintf(f, " data-c=\"%s\"", (label == 0 || label == 1) && (pred == 0 || pred == 1) ? (label == pred ? "1" : "0") : "");
    fprintf(f, " data-sc=\"%s\"", isnan(doc_num(p, "score")) ? "" : render_fmt_double(a, doc_num(p, "score")));
    fprintf(f, " data-d=\"%s\">\n", isnan(rho) ? "" : render_fmt_double(a, rho));
    prompt_header(f, c, p, rho);
    doc_tokens t;
    if (doc_tokens_load(json_object_get(p, "tokens"), &t)) return -1;
    apply_span(p, &t);
    size_t len;
    const char *text = doc_str(p, "text", &len);
    const json_t *pm = json_object_get(p, "methods");
    int rc = 0;
    fputs("<table class=pm>", f);
    for (size_t i = 0; i < c->n_methods && !rc; i++) {
        const json_t *m = json_object_get(pm, c->methods[i]);
        if (!m) continue;
        double *scores;
        if (doc_scores(json_object_get(m, "scores"), t.n, &scores)) {
            rc = -1;
            break;
        }
        double scale = row_scale(scores, t.fixed, t.n);
        fputs("<tr><th>", f);
        render_html(f, c->methods[i], strlen(c->methods[i]), 0);
        fprintf(f, " <small>&plusmn;%s</small><td>", fmt_num(a, scale, 2));
        html_token_row(f, text, len, &t, scores, scale, false, key, c->methods[i]);
        free(scores);
    }
    fputs("</table></div>\n", f);
    doc_tokens_free(&t);
    return rc;
}

static void controls(FILE *f, const compare_view *c) {
    fputs("<div class=ctl><label>sort <select id=sort><option value=d selected>disagreement: lowest Spearman first", f);
    if (c->pair_a) {
        fputs(" (", f);
        render_html(f, c->pair_a, strlen(c->pair_a), 0);
        fputs(" vs ", f);
        render_html(f, c->pair_b, strlen(c->pair_b), 0);
        fputc(')', f);
    }
    fputs("<option value=s>classifier score, highest first<option value=i>index</select></label>\n", f);
    static const char *ids[] = {"fl", "fp"}, *titles[] = {"label", "predicted"};
    for (int k = 0; k < 2; k++)
        fprintf(f, "<label>%s <select id=%s><option value=all selected>all<option value=1>%s<option value=0>%s</select></label>\n",
                titles[k], ids[k], c->label_name[1], c->label_name[0]);
    fputs("<label>outcome <select id=fc><option value=all selected>all<option value=1>correct<option value=0>incorrect"
          "</select></label><span id=count></span></div>\n",
          f);
}

int render_compare_html(FILE *f, const json_t *doc) {
    if (!json_is_object(doc)) return -1;
    compare_view c;
    compare_view_init(&c, doc);
    const json_t *prompts = json_object_get(doc, "prompts"), *prov = json_object_get(doc, "provenance");
    size_t np = json_is_array(prompts) ? json_array_size(prompts) : 0;
    prompt_order *order = malloc((np ? np : 1) * sizeof *order);
    if (!order) return -1;
    for (size_t i = 0; i < np; i++) {
        const json_t *p = json_array_get(prompts, i);
        const json_t *e = c.pair_a ? pair_entry(json_object_get(p, "agreement"), c.pair_a, c.pair_b) : NULL;
        double idx = doc_num(p, "index");
        order[i] = (prompt_order){i, doc_num(e, "spearman"), isnan(idx) ? (double)i : idx};
    }
    qsort(order, np, sizeof *order, by_disagreement);

    const json_t *model = json_object_get(prov, "model");
    size_t ml;
    const char *mpath = doc_str(model, "path", &ml);
    char title[160];
    snprintf(title, sizeof title, "attrib compare: %zu prompts x %zu methods", np, c.n_methods);
    html_head(f, title, strlen(title), COMPARE_CSS);
    fprintf(f, "<header><h1>Attribution methods compared on %zu prompts</h1><p class=meta>", np);
    for (size_t i = 0; i < c.n_methods; i++) {
        fputs(i ? ", " : "methods: ", f);
        render_html(f, c.methods[i], strlen(c.methods[i]), 0);
    }
    if (mpath) {
        fputs(" &middot; model <code>", f);
        render_html(f, mpath, ml, RENDER_VISIBLE);
        fputs("</code>", f);
    }
    size_t cl;
    const char *cmd = doc_str(prov, "command", &cl);
    if (cmd) {
        fputs("<br>command <code>", f);
        render_html(f, cmd, cl, RENDER_VISIBLE);
        fputs("</code>", f);
    }
    fputs("</p></header>\n<section id=summary><h2>Summary</h2>\n<div class=cards>\n", f);
    if (c.n_methods) {
        fputs("<figure class=card id=agreement><figcaption>agreement: mean Spearman correlation over prompts <small>(blue &minus;1, white 0, red +1)</small></figcaption>", f);
        svg_agreement(f, &c);
        fputs("</figure>\n", f);
    }
    classifier_section(f, &c);
    cost_section(f, &c);
    fputs("</div>\n<h3>Faithfulness</h3><div class=cards>\n", f);
    faithfulness_section(f, &c);
    fputs("</div>\n<h3>Deletion and insertion curves (mean target value; lower deletion and higher insertion are better)</h3>"
          "<div class=cards>\n",
          f);
    fputs("<figure class=card><figcaption>deletion</figcaption>", f);
    svg_curves(f, &c, "deletion");
    fputs("</figure>\n<figure class=card><figcaption>insertion</figcaption>", f);
    svg_curves(f, &c, "insertion");
    fputs("</figure>\n</div>\n", f);
    method_legend(f, &c, true);
    fputs("<div class=cards>\n", f);
    groups_section(f, &c);
    fputs("</div>\n", f);
    if (prov) {
        fputs("<details open><summary><h3 style=display:inline>Provenance</h3></summary>", f);
        kv_value(f, prov, 0);
        fputs("</details>\n", f);
    }
    fputs("</section>\n", f);
    compare_html_missing(f, doc); /* skipped and failed rows */
    fputs("<section id=prompts><h2>Prompts</h2><p class=meta>Each row is one method's attribution of the "
          "classifier's score to the prompt's tokens: red raised it, blue lowered it, intensity is |score| over the row's "
          "largest |score| (&plusmn; after the method's name). Hover or focus (Tab) a token for its id, piece, bytes and "
          "exact score.</p>\n",
          f);
    controls(f, &c);
    fputs("<div id=list>\n", f);
    int rc = 0;
    for (size_t k = 0; k < np && !rc; k++) rc = prompt_block(f, &c, json_array_get(prompts, order[k].pos), order[k].rho, k);
    fputs("</div></section>\n<script type=application/json id=tokdata>[", f);
    for (size_t k = 0; k < np && !rc; k++) {
        doc_tokens t;
        if ((rc = doc_tokens_load(json_object_get(json_array_get(prompts, order[k].pos), "tokens"), &t))) break;
        if (k) fputc(',', f);
        html_token_table(f, &t);
        doc_tokens_free(&t);
    }
    fputs("]</script>\n", f);
    html_tail(f, COMPARE_JS);
    free(order);
    return rc || ferror(f) ? -1 : 0;
}

/* The summary figure for papers and slides: the HTML report's bar charts
 * and agreement matrix (same code) placed in one standalone SVG. The body
 * is drawn first into memory because its size is known only afterwards. */
int render_compare_svg(FILE *f, const json_t *doc) {
    if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "summary"))) return -1;
    compare_view c;
    compare_view_init(&c, doc);
    if (!c.n_methods) return -1;
    char *body = NULL;
    size_t body_len = 0;
    FILE *b = open_memstream(&body, &body_len);
    if (!b) return -1;
    const json_t *faith = json_object_get(c.all, "faithfulness");
    bar_row rows[MAX_METHODS + 1];
    const double X0 = 12;
    double y = 44, wmax = 0;
    for (int m = 0; m < 2; m++) {
        size_t n = faith_rows(rows, &c, faith, m ? "sufficiency_aopc" : "comprehensiveness_aopc");
        fprintf(b, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%s</text>\n<g transform=\"translate(%.0f %.0f)\">", X0, y + 14,
                FAITH_TITLES[m], X0, y + 20);
        wmax = fmax(wmax, fmax(svg_bars(b, FAITH_TITLES[m], rows, n), 6.8 * (double)strlen(FAITH_TITLES[m])));
        fputs("</g>\n", b);
        y += 20 + 28 + 24.0 * (double)n + 10;
    }
    double W = fmax(X0 + wmax + 12, 560), H = y + 24; /* 560: the note below the bars */
    fprintf(b, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#555\">bars: mean over prompts; whiskers: 95%% bootstrap interval; "
               "random: a random token ranking</text>\n", X0, y + 6);
    if (c.n_methods >= 2) { /* the matrix right of the bars */
        const double ax = X0 + wmax + 32, k = (double)c.n_methods;
        fprintf(b, "<text x=\"%.0f\" y=\"58\" font-weight=\"bold\">mean Spearman correlation between methods</text>\n"
                   "<g transform=\"translate(%.0f 64)\">", ax, ax);
        svg_agreement(b, &c);
        fputs("</g>\n", b);
        W = fmax(W, ax + fmax(agreement_width(&c), 300) + 12), H = fmax(H, 64 + 74 + 50 * k + 16); /* 300: its title */
    }
    int bad = fclose(b);
    const json_t *prompts = json_object_get(doc, "prompts");
    size_t np = json_is_array(prompts) ? json_array_size(prompts) : 0;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
               "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\" fill=\"#222\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
               "<text x=\"%.0f\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Attribution methods compared on %zu prompts</text>\n",
            W, H, W, H, X0, np);
    if (!bad && body) fwrite(body, 1, body_len, f);
    fputs("</svg>\n", f);
    free(body);
    return bad || ferror(f) ? -1 : 0;
}

int render_compare_csv(FILE *f, const json_t *doc) {
    if (!json_is_object(doc)) return -1;
    compare_view c;
    compare_view_init(&c, doc);
    render_csv_header(f);
    const json_t *prompts = json_object_get(doc, "prompts"), *p;
    size_t i;
    int rc = 0;
    json_array_foreach(prompts, i, p) {
        doc_tokens t;
        if ((rc = doc_tokens_load(json_object_get(p, "tokens"), &t))) break;
        apply_span(p, &t);
        size_t idl;
        const char *id = doc_str(p, "id", &idl);
        double index = doc_num(p, "index");
        for (size_t k = 0; k < c.n_methods && !rc; k++) {
            const json_t *m = json_object_get(json_object_get(p, "methods"), c.methods[k]);
            double *scores;
            if (!m) continue;
            if ((rc = doc_scores(json_object_get(m, "scores"), t.n, &scores))) break;
            for (size_t j = 0; j < t.n; j++) csv_token_row(f, isnan(index) ? (double)i : index, id, idl, c.methods[k], j, &t, scores[j]);
            free(scores);
        }
        doc_tokens_free(&t);
        if (rc) break;
    }
    return rc || ferror(f) ? -1 : 0;
}
