/*
 * render_explain.c — the views of one `attrib explain` document (render.h):
 * on the terminal per method a header, the painted text on a colour
 * terminal, one aligned table with a score column per method, and the most
 * positive and negative features; CSV; and the self-contained HTML report
 * (one page, or one section per row of `explain --data`), built of
 * render.c's HTML pieces. With --words (settings.words) the table and the
 * CSV have one row per word, with the word's own score: splitting a word's
 * score over its tokens would draw bars that rank the words wrongly.
 */
#include "render.h"
#include "render_doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Words of a document: word w covers tokens [first[w], last[w]] and bytes
 * [begin[w], end[w]) of the text; feature index = word index. */
typedef struct doc_words {
    size_t n;
    size_t *first, *last;
    uint32_t *begin, *end;
} doc_words;

static void doc_words_free(doc_words *w) {
    free(w->first), free(w->last), free(w->begin), free(w->end);
    memset(w, 0, sizeof *w);
}

/* Words from the tokens' "feature" indices (a word = one feature). */
static int doc_words_load(const json_t *doc, const doc_tokens *t, doc_words *w) {
    memset(w, 0, sizeof *w);
    const json_t *toks = json_object_get(doc, "tokens");
    size_t cap = t->n ? t->n : 1, nw = 0;
    w->first = malloc(cap * sizeof *w->first), w->last = malloc(cap * sizeof *w->last);
    w->begin = malloc(cap * sizeof *w->begin), w->end = malloc(cap * sizeof *w->end);
    if (!w->first || !w->last || !w->begin || !w->end) {
        doc_words_free(w);
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        double fe = doc_num(json_array_get(toks, i), "feature");
        if (!(fe >= 0) || fe >= (double)cap) continue;
        size_t g = (size_t)fe;
        if (g > nw) { /* features are dense and in order; anything else is not a word grouping */
            doc_words_free(w);
            return -1;
        }
        if (g == nw) {
            w->first[g] = i, w->begin[g] = t->begin[i], w->end[g] = t->end[i];
            nw++;
        }
        w->last[g] = i;
        if (t->begin[i] < w->begin[g]) w->begin[g] = t->begin[i];
        if (t->end[i] > w->end[g]) w->end[g] = t->end[i];
    }
    w->n = nw;
    return 0;
}

static bool doc_has_words(const json_t *doc) { return json_is_true(json_object_get(json_object_get(doc, "settings"), "words")); }

/* Feature scores of method M ("features"), N of them. */
static int feature_scores(const json_t *m, size_t n, double **out) { return doc_scores(json_object_get(m, "features"), n, out); }

/* CSV of one document; with PROMPT_ID (explain --data) every row starts with the prompt's index and id. */
static int explain_csv(FILE *f, const json_t *doc, double prompt_index, const char *prompt_id, bool header) {
    const json_t *methods = json_object_get(doc, "methods");
    if (!json_is_array(methods)) return -1;
    doc_tokens t;
    if (doc_tokens_load(json_object_get(doc, "tokens"), &t)) return -1;
    doc_words w = {0};
    const bool words = doc_has_words(doc);
    if (words && doc_words_load(doc, &t, &w)) {
        doc_tokens_free(&t);
        return -1;
    }
    size_t len = 0;
    const char *text = doc_str(doc, "text", &len);
    if (header && words)
        fputs(prompt_id ? "prompt_index,prompt_id,method,word,first_position,last_position,begin,end,text,score\r\n"
                        : "method,word,first_position,last_position,begin,end,text,score\r\n", f);
    else if (header) render_csv_header(f);
    size_t i;
    const json_t *m;
    int rc = 0;
    json_array_foreach(methods, i, m) {
        double *scores = NULL;
        if (words ? feature_scores(m, w.n, &scores) : doc_scores(json_object_get(m, "scores"), t.n, &scores)) {
            rc = -1;
            break;
        }
        const char *name = method_name(m);
        for (size_t k = 0; words && k < w.n; k++) {
            if (prompt_id) {
                render_csv_number(f, prompt_index);
                fputc(',', f);
                render_csv_text(f, prompt_id, strlen(prompt_id));
                fputc(',', f);
            }
            render_csv_text(f, name, strlen(name));
            fprintf(f, ",%zu,%zu,%zu,%u,%u,", k, w.first[k], w.last[k], w.begin[k], w.end[k]);
            bool ok = text && w.end[k] <= len && w.begin[k] <= w.end[k];
            render_csv_text(f, ok ? text + w.begin[k] : "", ok ? w.end[k] - w.begin[k] : 0);
            fputc(',', f);
            render_csv_number(f, scores[k]);
            fputs("\r\n", f);
        }
        for (size_t k = 0; !words && k < t.n; k++)
            csv_token_row(f, prompt_index, prompt_id, prompt_id ? strlen(prompt_id) : 0, name, k, &t, scores[k]);
        free(scores);
    }
    doc_words_free(&w);
    doc_tokens_free(&t);
    return rc || ferror(f) ? -1 : 0;
}

int render_explain_csv(FILE *f, const json_t *doc) { return explain_csv(f, doc, 0, NULL, true); }

int render_explain_csv_rows(FILE *f, const json_t *doc, double prompt_index, const char *prompt_id, bool header) {
    return explain_csv(f, doc, prompt_index, prompt_id ? prompt_id : "", header);
}

/* ---- terminal ---------------------------------------------------------- */

/* Bytes for a terminal: controls (C0, DEL, C1) and invalid UTF-8 escaped, so
 * data can never send the terminal an escape sequence. Returns the number of
 * characters written (for padding). */
static size_t term_visible(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        if (cp == '\n') w += (size_t)fprintf(f, "\\n");
        else if (cp == '\t') w += (size_t)fprintf(f, "\\t");
        else if (cp == 0xFFFD && !(l == 3 && u[i] == 0xEF)) w += (size_t)fprintf(f, "\\x%02X", u[i]), l = 1;
        else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) w += (size_t)fprintf(f, "\\x%02X", (unsigned)cp);
        else fwrite(u + i, 1, l, f), w++;
        i += l;
    }
    return w;
}

static const char *token_text(const char *text, size_t len, const doc_tokens *t, size_t i, size_t *n) {
    if (text && t->end[i] > t->begin[i] && t->end[i] <= len) {
        *n = t->end[i] - t->begin[i];
        return text + t->begin[i];
    }
    *n = t->plen[i];
    return t->piece[i];
}

/* "token 317 ' Lily'": the token's text as it reads in text (as the table's
 * rows show tokens), its vocabulary piece when the document has no text. */
static void term_token_ref(FILE *f, const json_t *o, const char *id_key, const char *text_key, const char *piece_key) {
    size_t pl;
    const char *p = doc_str(o, text_key, &pl);
    if (!p) p = doc_str(o, piece_key, &pl);
    fprintf(f, "token %.0f '", doc_num(o, id_key));
    term_visible(f, p ? p : "", p ? pl : 0);
    fputc('\'', f);
}

/* Up to K features with the largest positive (SIGN 1) or negative scores. */
static void top_line(FILE *f, const char *label, int sign, const double *s, size_t n, const char *text, size_t len,
                     const uint32_t *begin, const uint32_t *end, size_t k) {
    bool *used = calloc(n ? n : 1, sizeof *used);
    if (!used) return;
    size_t shown = 0;
    for (; shown < k; shown++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!used[i] && isfinite(s[i]) && sign * s[i] > 0 && (best == n || sign * s[i] > sign * s[best])) best = i;
        if (best == n) break;
        used[best] = true;
        fprintf(f, shown ? ", '" : "%s'", label);
        bool ok = text && end[best] <= len && begin[best] < end[best];
        term_visible(f, ok ? text + begin[best] : "?", ok ? end[best] - begin[best] : 1);
        fprintf(f, "' %.4g", s[best]);
    }
    if (shown) fputc('\n', f);
    free(used);
}

int render_explain_term(FILE *f, const json_t *doc, render_colour colour) {
    const json_t *methods = json_object_get(doc, "methods");
    if (!json_is_array(methods)) return -1;
    doc_tokens t;
    if (doc_tokens_load(json_object_get(doc, "tokens"), &t)) return -1;
    doc_words w = {0};
    const bool words = doc_has_words(doc);
    if (words && doc_words_load(doc, &t, &w)) {
        doc_tokens_free(&t);
        return -1;
    }
    size_t nm = json_array_size(methods), len;
    const char *text = doc_str(doc, "text", &len);
    double **scores = calloc(nm ? nm : 1, sizeof *scores), **feats = calloc(nm ? nm : 1, sizeof *feats);
    int rc = scores && feats ? 0 : -1;
    for (size_t k = 0; k < nm && !rc; k++) {
        const json_t *m = json_array_get(methods, k);
        rc = doc_scores(json_object_get(m, "scores"), t.n, &scores[k]);
        if (!rc && words) rc = feature_scores(m, w.n, &feats[k]);
    }
    if (rc) goto done;
    const json_t *pred = json_object_get(doc, "predicted");
    if (pred) {
        fputs("predicted ", f);
        term_token_ref(f, pred, "token", "text", "piece");
        fputc('\n', f);
    }
    for (size_t k = 0; k < nm; k++) {
        const json_t *m = json_array_get(methods, k), *tg = json_object_get(m, "target");
        const char *kind = doc_str(tg, "kind", NULL);
        fprintf(f, "%smethod   %s", k || pred ? "\n" : "", method_name(m));
        const json_t *set = json_object_get(m, "settings");
        if (json_object_size(set)) {
            fputs(" (", f);
            settings_line(f, set, false);
            fputc(')', f);
        }
        const bool is_probe = kind && !strcmp(kind, "probe");
        fprintf(f, is_probe ? "\ntarget   probe logit (harmful > 0)" : "\ntarget   %s of ", kind ? kind : "?");
        if (!is_probe) term_token_ref(f, tg, "token", "text", "piece");
        if (doc_str(tg, "piece2", NULL) && !is_probe) {
            fputs(" minus ", f);
            term_token_ref(f, tg, "token2", "text2", "piece2");
        }
        fprintf(f, " = %.6g\n", doc_num(m, "f_input"));
        double fb = doc_num(m, "f_baseline"), delta = doc_num(m, "completeness_delta"),
               rel = doc_num(m, "completeness_relative");
        if (!isnan(fb) && !isnan(delta)) { /* integrated gradients: completeness means something */
            fprintf(f, "baseline f = %.6g; sum of attributions %.6g; completeness delta %.3g", fb, doc_num(m, "sum_scores"),
                    delta);
            if (rel >= 0) fprintf(f, " (%.2f%%)", 100 * rel);
            const json_t *ig = json_object_get(m, "ig");
            if (rel > COMPLETENESS_LARGE && !json_is_true(json_object_get(ig, "adaptive"))) /* adaptive: the warning below */
                fputs(": large; raise --steps (or try --rule gl) for a closer integral", f);
            fputc('\n', f);
            const char *warn = doc_str(ig, "warning", NULL);
            if (json_is_true(json_object_get(ig, "adaptive")))
                fprintf(f, "adaptive IG: %.0f gradient evaluations, %.0f pieces, tolerance %.3g%%\n", doc_num(ig, "evaluations"),
                        doc_num(ig, "pieces"), 100 * doc_num(ig, "tol"));
            if (warn) fprintf(f, "%s%s%s\n", colour != RENDER_PLAIN ? "\033[1;31m" : "", warn, colour != RENDER_PLAIN ? "\033[0m" : "");
        }
        const json_t *cost = json_object_get(m, "cost");
        fprintf(f, "cost     %.0f forward, %.0f backward sequences, %.3f s\n", doc_num(cost, "n_forward"),
                doc_num(cost, "n_backward"), doc_num(cost, "seconds"));
        if (colour != RENDER_PLAIN) { /* the text painted: a heat map */
            double scale = row_scale(scores[k], t.fixed, t.n);
            fputc('\n', f);
            for (size_t i = 0; i < t.n; i++) {
                size_t n;
                const char *s = token_text(text, len, &t, i, &n);
                if (t.fixed[i]) {
                    fputs("\x1b[2m", f);
                } else {
                    char esc[64];
                    render_ansi_heat(esc, sizeof esc, render_heat_rgb(scores[k][i], scale), colour == RENDER_TRUECOLOR);
                    fputs(esc, f);
                }
                term_visible(f, s, n);
                fputs("\x1b[0m", f);
            }
            fprintf(f, "   (scale \xc2\xb1%.3g)\n", scale);
        }
    }
    /* the table: one score column per method (as wide as its name); one method also gets bars */
    int width[64];
    for (size_t k = 0; k < nm; k++) {
        size_t l = strlen(method_name(json_array_get(methods, k)));
        width[k % 64] = l > 12 ? (int)l : 12;
    }
    if (words) fprintf(f, "\n%4s  %-7s  %-10s  %-20s", "word", "tokens", "bytes", "text");
    else fprintf(f, "\n%4s  %7s  %-10s  %-20s", "pos", "id", "bytes", "token");
    for (size_t k = 0; k < nm; k++) fprintf(f, "  %*s", width[k % 64], method_name(json_array_get(methods, k)));
    const json_t *se = nm == 1 ? json_object_get(json_array_get(methods, 0), "std_errors") : NULL;
    if (json_is_array(se)) fprintf(f, "  %10s", "std.err");
    fputc('\n', f);
    const size_t rows = words ? w.n : t.n;
    double scale0 = 0; /* the bars' scale: the largest |score| of the rows */
    if (nm == 1) {
        for (size_t i = 0; i < rows; i++) {
            double v = words ? feats[0][i] : t.fixed[i] ? 0 : scores[0][i];
            if (isfinite(v) && fabs(v) > scale0) scale0 = fabs(v);
        }
    }
    for (size_t i = 0; i < rows; i++) {
        char span[32], ids[32];
        const char *s;
        size_t n;
        bool fixed = !words && t.fixed[i];
        size_t run = 0; /* a run of fixed tokens (a template's text) is folded into one row */
        while (fixed && i + run < t.n && t.fixed[i + run]) run++;
        if (run >= 3) {
            char pos[32], what[40];
            snprintf(pos, sizeof pos, "%zu-%zu", i, i + run - 1);
            snprintf(span, sizeof span, "%u-%u", t.begin[i], t.end[i + run - 1]);
            snprintf(what, sizeof what, "(%zu fixed tokens)", run);
            fprintf(f, "%-13s  %-10s  %-20s", pos, span, what);
            for (size_t k = 0; k < nm; k++) fprintf(f, "  %*s", width[k % 64], "(fixed)");
            fputc('\n', f);
            i += run - 1;
            continue;
        }
        if (words) {
            snprintf(span, sizeof span, "%u-%u", w.begin[i], w.end[i]);
            snprintf(ids, sizeof ids, w.first[i] == w.last[i] ? "%zu" : "%zu-%zu", w.first[i], w.last[i]);
            fprintf(f, "%4zu  %-7s  %-10s  '", i, ids, span);
            bool ok = text && w.end[i] <= len;
            s = ok ? text + w.begin[i] : "";
            n = ok ? w.end[i] - w.begin[i] : 0;
        } else {
            snprintf(span, sizeof span, "%u-%u", t.begin[i], t.end[i]);
            fprintf(f, "%4zu  %7d  %-10s  '", i, (int)t.id[i], span);
            s = token_text(text, len, &t, i, &n);
        }
        size_t vis = term_visible(f, s, n > 18 ? 18 : n);
        fputc('\'', f);
        for (; vis < 18; vis++) fputc(' ', f);
        for (size_t k = 0; k < nm; k++) {
            if (fixed) fprintf(f, "  %*s", width[k % 64], "(fixed)");
            else fprintf(f, "  %*.5g", width[k % 64], words ? feats[k][i] : scores[k][i]);
        }
        if (nm == 1 && !fixed) {
            double v = words ? feats[0][i] : scores[0][i];
            double fe = words ? (double)i : doc_num(json_array_get(json_object_get(doc, "tokens"), i), "feature");
            const json_t *e = json_is_array(se) && fe >= 0 ? json_array_get(se, (size_t)fe) : NULL;
            if (json_is_number(e)) fprintf(f, "  %10.3g", json_number_value(e));
            int bar = scale0 > 0 && isfinite(v) ? (int)lround(20 * fabs(v) / scale0) : 0;
            fprintf(f, "  %c", v < 0 ? '-' : '+');
            for (int b = 0; b < bar; b++) fputc('#', f);
        }
        fputc('\n', f);
    }
    /* the few features that matter most, per method */
    if (rows > 3) fputc('\n', f);
    for (size_t k = 0; k < nm && rows > 3; k++) {
        const double *v = words ? feats[k] : scores[k];
        double *masked = NULL;
        if (!words) { /* fixed tokens are not features */
            masked = malloc(t.n * sizeof *masked);
            if (!masked) break;
            for (size_t i = 0; i < t.n; i++) masked[i] = t.fixed[i] ? NAN : scores[k][i];
            v = masked;
        }
        char lab[96];
        snprintf(lab, sizeof lab, "%s top +   ", method_name(json_array_get(methods, k)));
        top_line(f, lab, 1, v, rows, text, len, words ? w.begin : t.begin, words ? w.end : t.end, 3);
        snprintf(lab, sizeof lab, "%*s top -   ", (int)strlen(method_name(json_array_get(methods, k))), "");
        top_line(f, lab, -1, v, rows, text, len, words ? w.begin : t.begin, words ? w.end : t.end, 3);
        free(masked);
    }
done:
    for (size_t k = 0; scores && k < nm; k++) free(scores[k]);
    for (size_t k = 0; feats && k < nm; k++) free(feats[k]);
    free(scores);
    free(feats);
    doc_words_free(&w);
    doc_tokens_free(&t);
    return rc || ferror(f) ? -1 : 0;
}

/* ---- SVG figure ---------------------------------------------------------- */

/* Characters of S[0..n) as the SVG shows them (one per code point). */
static size_t svg_chars(const char *s, size_t n) {
    size_t i = 0, c = 0;
    while (i < n) {
        uint32_t cp;
        i += render_utf8_next((const unsigned char *)s + i, n - i, &cp);
        c++;
    }
    return c;
}

/* The heat map as a standalone SVG for papers and slides: per method a
 * title and the tokens as coloured boxes, wrapped at a fixed width, in a
 * monospace font (so widths are known without measuring text), then the
 * colour scale. Fixed tokens (BOS, template text) are grey. */
int render_explain_svg(FILE *f, const json_t *doc) {
    const json_t *methods = json_object_get(doc, "methods");
    if (!json_is_array(methods)) return -1;
    doc_tokens t;
    if (doc_tokens_load(json_object_get(doc, "tokens"), &t)) return -1;
    size_t len = 0, nm = json_array_size(methods);
    const char *text = doc_str(doc, "text", &len);
    const double W = 860, CW = 8.4, LH = 24, X0 = 20; /* width, char width (14px monospace), line height, margin */
    /* first pass: the height */
    double y = 10;
    for (size_t k = 0; k < nm; k++) {
        double x = X0;
        y += 30;
        for (size_t i = 0; i < t.n; i++) {
            size_t n;
            const char *s = token_text(text, len, &t, i, &n);
            double w = CW * (double)(svg_chars(s, n) ? svg_chars(s, n) : 1) + 2;
            if (x + w > W - X0 && x > X0) x = X0, y += LH;
            x += w;
        }
        y += LH + 10;
    }
    const double H = y + 40;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
               "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"14\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
               "<defs><linearGradient id=\"scale\"><stop offset=\"0\" stop-color=\"#0000ff\"/><stop offset=\"0.5\" "
               "stop-color=\"#ffffff\"/><stop offset=\"1\" stop-color=\"#ff0000\"/></linearGradient></defs>\n",
            W, H, W, H);
    int rc = 0;
    y = 10;
    for (size_t k = 0; k < nm && !rc; k++) {
        const json_t *m = json_array_get(methods, k), *tg = json_object_get(m, "target");
        double *scores = NULL;
        if (doc_scores(json_object_get(m, "scores"), t.n, &scores)) {
            rc = -1;
            break;
        }
        const double scale = row_scale(scores, t.fixed, t.n);
        size_t tl = 0;
        const char *tt = doc_str(tg, "text", &tl), *kind = doc_str(tg, "kind", NULL);
        y += 30;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"15\" font-weight=\"bold\">", X0,
                y - 8);
        const char *name = method_name(m);
        render_html(f, name, strlen(name), 0);
        fprintf(f, "<tspan dx=\"8\" font-weight=\"normal\" fill=\"#555\">%s", kind ? kind : ""); /* dx: renderers collapse leading spaces */
        if (tt && kind && strcmp(kind, "probe")) {
            fputs(" of \xe2\x80\x9c", f);
            render_html(f, tt, tl, RENDER_VISIBLE);
            fputs("\xe2\x80\x9d", f);
        }
        fprintf(f, " \xc2\xb7 scale \xc2\xb1%.3g</tspan></text>\n", scale);
        double x = X0;
        for (size_t i = 0; i < t.n; i++) {
            size_t n;
            const char *s = token_text(text, len, &t, i, &n);
            size_t c = svg_chars(s, n);
            double w = CW * (double)(c ? c : 1) + 2;
            if (x + w > W - X0 && x > X0) x = X0, y += LH;
            render_rgb col = t.fixed[i] ? (render_rgb){242, 242, 242} : render_heat_rgb(scores[i], scale);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"#%02x%02x%02x\"/>", x, y, w, LH - 4, col.r,
                    col.g, col.b);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" xml:space=\"preserve\" fill=\"%s\">", x + 1, y + LH - 10,
                    t.fixed[i] ? "#888" : render_rgb_dark(col) ? "#fff" : "#000");
            render_html(f, s, n, RENDER_VISIBLE);
            fputs("</text>\n", f);
            x += w;
        }
        y += LH + 10;
        free(scores);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\">lowered the target</text>"
               "<rect x=\"%.0f\" y=\"%.1f\" width=\"160\" height=\"10\" fill=\"url(#scale)\" stroke=\"#bbb\"/>"
               "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\">raised it (grey: not attributed)</text>\n</svg>\n",
            X0, y + 20, X0 + 150, y + 11, X0 + 320, y + 20);
    doc_tokens_free(&t);
    return rc || ferror(f) ? -1 : 0;
}

/* ---- the HTML report ------------------------------------------------------ */

static int html_word_row(FILE *f, const char *text, size_t len, const doc_tokens *t, const double *scores, size_t key,
                 const char *method) {
    size_t m = t->n ? t->n : 1;
    int32_t *word = malloc(m * sizeof *word);
    uint32_t *wb = malloc(m * sizeof *wb), *we = malloc(m * sizeof *we);
    double *sum = calloc(m, sizeof *sum);
    int *count = calloc(m, sizeof *count), *live = calloc(m, sizeof *live);
    int rc = -1;
    if (!word || !wb || !we || !sum || !count || !live) goto done;
    int nw = render_words(text ? text : "", text ? len : 0, t->begin, t->end, t->n, word, wb, we);
    /* an attributed token with no word of its own (a space, a "▁" without
     * bytes) belongs to the next word, as "▁kill" does: the same grouping
     * as `explain --words` */
    for (size_t i = t->n; i-- > 0;)
        if (word[i] < 0 && !t->fixed[i] && i + 1 < t->n) word[i] = word[i + 1];
    for (size_t i = 0; i < t->n; i++) {
        if (word[i] < 0) continue;
        count[word[i]]++;
        if (!t->fixed[i] && isfinite(scores[i])) sum[word[i]] += scores[i], live[word[i]] = 1;
    }
    double scale = 0;
    for (int w = 0; w < nw; w++) scale = fmax(scale, fabs(sum[w]));
    fputs("<div class=\"row\"><span class=lab>words</span>", f);
    html_legend(f, scale);
    fprintf(f, "</div>\n<div class=\"tk w\" data-k=%zu data-m=\"", key);
    render_html(f, method, strlen(method), 0);
    fputs("\">", f);
    for (int w = 0; w < nw; w++) {
        char num[32];
        render_fmt_double(num, sum[w]);
        if (!live[w]) {
            fprintf(f, "<span tabindex=0 class=f data-w=%s", num);
        } else {
            render_rgb c = render_heat_rgb(sum[w], scale);
            fprintf(f, "<span tabindex=0 style=background:#%02x%02x%02x%s data-w=%s", c.r, c.g, c.b,
                    render_rgb_dark(c) ? " class=d" : "", num);
        }
        fprintf(f, " data-n=%d data-b=%u data-e=%u>", count[w], wb[w], we[w]);
        render_html(f, text + wb[w], we[w] - wb[w], RENDER_VISIBLE);
        fputs("</span>", f);
    }
    fputs("</div>\n", f);
    rc = 0;
done:
    free(word), free(wb), free(we), free(sum), free(count), free(live);
    return rc;
}

const char *method_name(const json_t *m) {
    const char *s = doc_str(m, "method", NULL);
    return s ? s : "?";
}

/* "steps 32 · rule gl" from a settings object (values as JSON text). */
void settings_line(FILE *f, const json_t *settings, bool html) {
    const char *key;
    const json_t *v;
    bool first = true;
    json_object_foreach((json_t *)settings, key, v) {
        fputs(first ? "" : html ? " &middot; " : ", ", f);
        first = false;
        if (html) render_html(f, key, strlen(key), 0);
        else fputs(key, f);
        if (json_is_true(v)) continue; /* a flag: its name says it */
        fputc(' ', f);
        if (json_is_string(v)) {
            if (html) render_html(f, json_string_value(v), json_string_length(v), RENDER_VISIBLE);
            else fputs(json_string_value(v), f);
        } else if (json_is_real(v)) { /* 0.1, not the 0.10000000149011612 of a float widened to double */
            fprintf(f, "%g", json_real_value(v));
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            if (s) fputs(s, f);
            free(s);
        }
    }
}

static void html_num(FILE *f, const char *label, double v) {
    if (isnan(v)) return;
    fprintf(f, " &middot; %s = %.6g", label, v);
}

static void html_token_ref(FILE *f, const char *piece, size_t plen, double id) {
    fputs("<q>", f);
    render_html(f, piece ? piece : "", piece ? plen : 0, RENDER_VISIBLE);
    fprintf(f, "</q> (id %.0f)", id);
}

/* One explain document: the whole page (ROW_ID NULL), or one row's section of
 * an `explain --data` page, its token table then going to TOKDATA (key KEY). */
static int explain_html(FILE *f, const json_t *doc, size_t key, const char *row_id, FILE *tokdata) {
    const json_t *methods = json_object_get(doc, "methods");
    if (!json_is_array(methods)) return -1;
    doc_tokens t;
    if (doc_tokens_load(json_object_get(doc, "tokens"), &t)) return -1;
    size_t len, mlen, plen;
    const char *text = doc_str(doc, "text", &len), *model = doc_str(doc, "model", &mlen);
    const json_t *pred = json_object_get(doc, "predicted");
    const char *ppiece = doc_str(pred, "piece", &plen);
    char title[96];
    int tl = snprintf(title, sizeof title, "attrib explain: %.60s%s", text ? text : "", text && len > 60 ? "..." : "");
    if (row_id) { /* a row of a data set: the page's head is written once, by render_explain_book_begin */
        fputs("<article><h2>row ", f);
        render_html(f, row_id, strlen(row_id), RENDER_VISIBLE);
        fprintf(f, "</h2>\n<p class=meta>%zu tokens", t.n);
    } else {
    html_head(f, title, tl > 0 ? strlen(title) : 0, NULL);
    fputs("<header><h1>Which tokens made the model answer?</h1>\n<p class=meta>model <code>", f);
    render_html(f, model ? model : "?", model ? mlen : 1, RENDER_VISIBLE);
    fprintf(f, "</code> &middot; %zu tokens", t.n);
    }
    if (ppiece) {
        fputs(" &middot; predicted next token ", f);
        html_token_ref(f, ppiece, plen, doc_num(pred, "token"));
    }
    fputs("</p>\n<p class=prompt>", f);
    if (text) render_html(f, text, len, 0);
    if (row_id) fputs("</p>\n", f);
    else
    fputs("</p>\n<p class=meta>Colour: red raised the target, blue lowered it; intensity is |score| / scale, the scale "
          "being the largest |score| of that row. Hover or focus (Tab) a token for its id, piece, bytes and exact score. "
          "Grey tokens are fixed (not attributed).</p></header>\n",
          f);
    int rc = 0;
    size_t i;
    const json_t *m;
    json_array_foreach(methods, i, m) {
        const char *name = method_name(m);
        double *scores = NULL;
        if (doc_scores(json_object_get(m, "scores"), t.n, &scores)) {
            rc = -1;
            break;
        }
        fputs("<section class=m><h2>", f);
        render_html(f, name, strlen(name), 0);
        fputs(" <small>", f);
        settings_line(f, json_object_get(m, "settings"), true);
        fputs("</small></h2>\n<p class=facts>", f);
        const json_t *tg = json_object_get(m, "target");
        size_t p1, p2;
        const char *kind = doc_str(tg, "kind", NULL), *piece = doc_str(tg, "piece", &p1), *piece2 = doc_str(tg, "piece2", &p2);
        fputs("target <b>", f);
        render_html(f, kind ? kind : "?", kind ? strlen(kind) : 1, 0);
        const bool is_probe = kind && !strcmp(kind, "probe");
        fputs(is_probe ? " logit</b> (harmful &gt; 0)" : "</b> of ", f);
        if (!is_probe) html_token_ref(f, piece, p1, doc_num(tg, "token"));
        if (piece2 && !is_probe) {
            fputs(" minus ", f);
            html_token_ref(f, piece2, p2, doc_num(tg, "token2"));
        }
        if (ppiece) {
            fputs(" &middot; predicted ", f);
            html_token_ref(f, ppiece, plen, doc_num(pred, "token"));
        }
        fputs("<br>", f);
        fprintf(f, "f(input) = %.6g", doc_num(m, "f_input"));
        html_num(f, "f(baseline)", doc_num(m, "f_baseline"));
        html_num(f, "sum of scores", doc_num(m, "sum_scores"));
        double delta = doc_num(m, "completeness_delta"), rel = doc_num(m, "completeness_relative");
        if (!isnan(delta)) {
            fprintf(f, " &middot; <b>completeness &Delta; = %.3g</b>", delta);
            if (rel >= 0) fprintf(f, " (%.2f%% of f(input) &minus; f(baseline))", 100 * rel);
            const json_t *ig = json_object_get(m, "ig");
            if (rel > COMPLETENESS_LARGE && !json_is_true(json_object_get(ig, "adaptive"))) fputs(" &middot; large: raise --steps", f);
            if (json_is_true(json_object_get(ig, "adaptive")))
                fprintf(f, " &middot; adaptive IG: %.0f gradient evaluations, %.0f pieces, tolerance %.3g%%", doc_num(ig, "evaluations"),
                        doc_num(ig, "pieces"), 100 * doc_num(ig, "tol"));
            if (doc_str(ig, "warning", NULL)) /* our own ASCII text: no markup in it */
                fprintf(f, "<br><b style=\"color:#b00\">%s</b>", doc_str(ig, "warning", NULL));
        }
        const json_t *cost = json_object_get(m, "cost");
        fprintf(f, "<br>cost: %.0f forward, %.0f backward sequences, %.3f s</p>\n", doc_num(cost, "n_forward"),
                doc_num(cost, "n_backward"), doc_num(cost, "seconds"));
        double scale = row_scale(scores, t.fixed, t.n);
        fputs("<div class=row><span class=lab>tokens</span>", f);
        html_legend(f, scale);
        fputs("</div>\n", f);
        html_token_row(f, text, len, &t, scores, scale, true, key, name);
        rc = html_word_row(f, text, len, &t, scores, key, name);
        free(scores);
        fputs("</section>\n", f);
        if (rc) break;
    }
    if (row_id) {
        fputs("</article>\n", f);
        if (key) fputc(',', tokdata);
        html_token_table(tokdata, &t);
    } else {
        fputs("<script type=application/json id=tokdata>[", f);
        html_token_table(f, &t);
        fputs("]</script>\n", f);
        html_tail(f, NULL);
    }
    doc_tokens_free(&t);
    return rc || ferror(f) ? -1 : 0;
}

int render_explain_html(FILE *f, const json_t *doc) { return explain_html(f, doc, 0, NULL, NULL); }

struct render_explain_book {
    FILE *f, *tok; /* the page; the token tables of its rows (in memory) */
    char *tok_buf;
    size_t tok_len, n;
};

render_explain_book *render_explain_book_begin(FILE *f, const char *model, size_t n_rows) {
    render_explain_book *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->f = f;
    b->tok = open_memstream(&b->tok_buf, &b->tok_len);
    if (!b->tok) {
        free(b);
        return NULL;
    }
    html_head(f, "attrib explain --data", strlen("attrib explain --data"), NULL);
    fputs("<header><h1>Which tokens made the model answer?</h1>\n<p class=meta>model <code>", f);
    render_html(f, model ? model : "?", model ? strlen(model) : 1, RENDER_VISIBLE);
    fprintf(f, "</code> &middot; %zu rows</p>\n<p class=meta>Colour: red raised the target, blue lowered it; intensity is "
               "|score| / scale, the scale being the largest |score| of that row. Hover or focus (Tab) a token for its id, "
               "piece, bytes and exact score. Grey tokens are fixed (not attributed).</p></header>\n", n_rows);
    return b;
}

int render_explain_book_row(render_explain_book *b, const json_t *doc, const char *row_id) {
    return explain_html(b->f, doc, b->n++, row_id ? row_id : "?", b->tok);
}

int render_explain_book_end(render_explain_book *b) {
    if (!b) return -1;
    int bad = fclose(b->tok) != 0;
    fputs("<script type=application/json id=tokdata>[", b->f);
    if (b->tok_buf) fwrite(b->tok_buf, 1, b->tok_len, b->f);
    fputs("]</script>\n", b->f);
    html_tail(b->f, NULL);
    bad |= ferror(b->f) != 0;
    free(b->tok_buf);
    free(b);
    return bad ? -1 : 0;
}
