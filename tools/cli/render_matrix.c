/*
 * render_matrix.c — the views of a continuation's attribution matrix
 * (explain_gen.h): rows are answer tokens (each one explanation), columns
 * the tokens (or words) they are attributed to.
 *
 * Colour follows render.h's diverging scale with one scale per row, the
 * row's largest |score|: each row is a separate explanation of a different
 * target, and a shared scale would leave the rows with small targets white.
 * Cells that are no source of their row (BOS, template text, the answer
 * token itself and those after it) hold no score and are drawn as a dot on
 * the terminal, empty in HTML, and left out of the CSV.
 *
 * The terminal table wraps its columns into blocks that fit the width, each
 * block repeating the row labels, so that a long prompt stays readable. The
 * HTML page fetches nothing (inline style and script, a CSP forbidding any
 * load) and builds its tooltip from textContent only: token text from the
 * model or the user never becomes markup.
 */
#include "explain_gen.h"
#include "render_doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the document ------------------------------------------------ */

typedef struct mx_view {
    size_t n_rows, n_cols;
    double *v;              /* (n_rows, n_cols) NaN = no source */
    const char **label;     /* (n_cols) borrowed UTF-8 */
    size_t *label_len;
    int *col_pos;           /* (n_cols) token position, or the word's first token */
    int *col_last;          /* (n_cols) the word's last token (= col_pos for tokens) */
    const char **col_role;  /* "prompt", "answer", "both" */
    const json_t *steps;
} mx_view;

static void mx_free(mx_view *m) {
    free(m->v), free(m->label), free(m->label_len), free(m->col_pos), free(m->col_last), free(m->col_role);
    memset(m, 0, sizeof *m);
}

static const char *tok_text(const json_t *t, size_t *len) {
    const char *s = doc_str(t, "text", len);
    if (!s || !*len) s = doc_str(t, "piece", len);
    if (!s) s = "", *len = 0;
    return s;
}

/* Token columns (every position some row attributes to) or word columns. */
static int mx_load(const json_t *doc, bool words, mx_view *m) {
    memset(m, 0, sizeof *m);
    const json_t *toks = json_object_get(doc, "tokens"), *wdoc = json_object_get(doc, "words");
    const json_t *mat = words ? json_object_get(wdoc, "matrix") : json_object_get(doc, "matrix");
    const json_t *wcols = json_object_get(wdoc, "columns");
    m->steps = json_object_get(doc, "steps");
    if (!json_is_array(toks) || !json_is_array(mat) || !json_is_array(m->steps) || (words && !json_is_array(wcols))) return -1;
    const size_t R = json_array_size(mat), width = words ? json_array_size(wcols) : json_array_size(toks);
    if (R != json_array_size(m->steps) || width > MAX_DOC_TOKENS || R > MAX_DOC_TOKENS) return -1;
    m->n_rows = R;
    size_t cap = width ? width : 1;
    int *keep = calloc(cap, sizeof *keep);
    m->label = calloc(cap, sizeof *m->label), m->label_len = calloc(cap, sizeof *m->label_len);
    m->col_pos = calloc(cap, sizeof *m->col_pos), m->col_last = calloc(cap, sizeof *m->col_last);
    m->col_role = calloc(cap, sizeof *m->col_role);
    m->v = calloc((R ? R : 1) * cap, sizeof *m->v);
    if (!keep || !m->label || !m->label_len || !m->col_pos || !m->col_last || !m->col_role || !m->v) {
        free(keep);
        mx_free(m);
        return -1;
    }
    for (size_t i = 0; i < width; i++) /* a token column is kept when some row has a score there */
        for (size_t j = 0; j < R && !keep[i]; j++) keep[i] = words || json_is_number(json_array_get(json_array_get(mat, j), i));
    size_t nc = 0;
    for (size_t i = 0; i < width; i++) {
        if (!keep[i]) continue;
        const json_t *c = json_array_get(words ? wcols : toks, i);
        m->label[nc] = tok_text(c, &m->label_len[nc]);
        double p = doc_num(c, words ? "first" : "position"), l = words ? doc_num(c, "last") : p;
        m->col_pos[nc] = p >= 0 && p < 1e9 ? (int)p : -1;
        m->col_last[nc] = l >= 0 && l < 1e9 ? (int)l : -1;
        const char *role = doc_str(c, "role", NULL);
        m->col_role[nc] = role ? role : "";
        for (size_t j = 0; j < R; j++) {
            const json_t *x = json_array_get(json_array_get(mat, j), i);
            m->v[j * cap + nc] = json_is_number(x) ? json_number_value(x) : NAN;
        }
        nc++;
    }
    free(keep);
    /* compact the rows to nc columns */
    for (size_t j = 1; j < R; j++) memmove(m->v + j * nc, m->v + j * cap, nc * sizeof *m->v);
    m->n_cols = nc;
    return 0;
}

static double row_max(const mx_view *m, size_t j) {
    double s = 0;
    for (size_t i = 0; i < m->n_cols; i++)
        if (isfinite(m->v[j * m->n_cols + i]) && fabs(m->v[j * m->n_cols + i]) > s) s = fabs(m->v[j * m->n_cols + i]);
    return s;
}

/* Decimals that show the matrix's largest |score| with 3 significant digits (0..4). */
static int decimals_for(const mx_view *m) {
    double mx = 0;
    for (size_t j = 0; j < m->n_rows; j++) mx = fmax(mx, row_max(m, j));
    int d = mx >= 100 ? 0 : mx >= 10 ? 1 : mx >= 1 ? 2 : mx >= 0.1 ? 3 : 4;
    return d;
}

static const char *f_label(const json_t *doc) {
    const char *k = doc_str(json_object_get(doc, "target"), "kind", NULL);
    if (!k) return "f";
    return !strcmp(k, "logprob") ? "log p" : !strcmp(k, "prob") ? "p" : !strcmp(k, "logit diff") ? "diff" : "logit";
}

/* ---- terminal ------------------------------------------------------------ */

/* Writes S (UTF-8) for a terminal, trimmed of surrounding white space,
 * controls escaped, at most MAX characters (the last one "~" when cut);
 * returns the characters written. */
static size_t term_cell_text(FILE *f, const char *s, size_t n, size_t max) {
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    if (!n && max) { /* a token of white space alone */
        fputs("\xe2\x90\xa3", f); /* U+2423 open box */
        return 1;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w = 0;
    while (i < n && w < max) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        size_t chars = 1;
        if (w + 1 == max && i + l < n) { /* room for one more: the cut mark */
            fputc('~', f);
            return w + 1;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) fputs("\xc2\xb7", f); /* controls: a middle dot */
        else fwrite(u + i, 1, l, f);
        w += chars;
        i += l;
    }
    return w;
}

static size_t cell_chars(const char *s, size_t n, size_t max) {
    FILE *null = fopen("/dev/null", "w");
    size_t w = null ? term_cell_text(null, s, n, max) : max;
    if (null) fclose(null);
    return w;
}

static void pad(FILE *f, size_t k) {
    while (k--) fputc(' ', f);
}

/* The whole text of the document on one line, controls escaped (header lines). */
static void term_line(FILE *f, const char *label, const char *s, size_t n) {
    fprintf(f, "%-8s ", label);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        if (cp == '\n') fputs("\\n", f);
        else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) fprintf(f, "\\x%02X", (unsigned)cp);
        else fwrite(u + i, 1, l, f);
        i += l;
    }
    fputc('\n', f);
}

#define LABEL_CHARS 10 /* row labels: the answer token's text */
#define COL_MAX 9      /* a column label is cut to this many characters */

int render_matrix_term(FILE *f, const json_t *doc, render_colour colour, int width, bool words) {
    mx_view m;
    if (mx_load(doc, words && json_object_get(doc, "words"), &m)) return -1;
    size_t tl, al;
    const char *text = doc_str(doc, "text", &tl), *answer = doc_str(doc, "answer_text", &al), *mode = doc_str(doc, "mode", NULL);
    const json_t *target = json_object_get(doc, "target"), *cost = json_object_get(doc, "cost");
    term_line(f, "prompt", text ? text : "", text ? tl : 0);
    term_line(f, "answer", answer ? answer : "", answer ? al : 0);
    fprintf(f, "%-8s %zu tokens, %s", "", m.n_rows, mode && !strcmp(mode, "generate") ? "generated greedily" : "given (forced decoding)");
    if (json_is_true(json_object_get(doc, "stopped_at_eos"))) fputs(", stopped at end of sequence", f);
    fprintf(f, "\n%-8s %s", "method", doc_str(doc, "method", NULL) ? doc_str(doc, "method", NULL) : "?");
    const json_t *set = json_object_get(doc, "settings");
    if (json_object_size(set)) {
        fputs(" (", f);
        settings_line(f, set, false);
        fputc(')', f);
    }
    const char *kind = doc_str(target, "kind", NULL);
    const json_t *contrast = json_object_get(target, "contrast");
    if (contrast) fprintf(f, "\n%-8s logit of each answer token minus the logit of its contrast token (column 'vs')\n", "target");
    else fprintf(f, "\n%-8s %s of each answer token\n", "target", kind ? kind : "?");
    fprintf(f, "%-8s %.0f forward, %.0f backward sequences, %.3f s\n\n", "cost", doc_num(cost, "n_forward"),
            doc_num(cost, "n_backward"), doc_num(cost, "seconds"));

    const int dec = decimals_for(&m);
    char buf[64];
    double big = 0;
    for (size_t j = 0; j < m.n_rows; j++) big = fmax(big, row_max(&m, j));
    const size_t num_w = (size_t)snprintf(buf, sizeof buf, "%.*f", dec, -big);
    size_t *cw = malloc((m.n_cols ? m.n_cols : 1) * sizeof *cw);
    if (!cw) {
        mx_free(&m);
        return -1;
    }
    for (size_t i = 0; i < m.n_cols; i++) {
        size_t lw = cell_chars(m.label[i], m.label_len[i], COL_MAX);
        snprintf(buf, sizeof buf, "%d", m.col_pos[i]);
        cw[i] = num_w > lw ? num_w : lw;
        if (strlen(buf) > cw[i]) cw[i] = strlen(buf);
    }
    /* the left block: position, token, (contrast,) f, prompt share */
    const size_t left = 4 + 2 + LABEL_CHARS + (contrast ? 2 + LABEL_CHARS : 0) + 2 + 8 + 2 + 7;
    const size_t avail = width > 0 && (size_t)width > left + 10 ? (size_t)width - left : (size_t)-1;
    for (size_t c0 = 0; c0 < m.n_cols || (c0 == 0 && m.n_cols == 0);) {
        size_t c1 = c0, used = 0;
        while (c1 < m.n_cols && (c1 == c0 || used + 1 + cw[c1] <= avail)) used += 1 + cw[c1++];
        /* header: positions, then labels */
        fprintf(f, "%*s", (int)left, words ? "word at " : "");
        for (size_t i = c0; i < c1; i++) fprintf(f, " %*d", (int)cw[i], m.col_pos[i]);
        fprintf(f, "\n%4s  %-*s", "pos", LABEL_CHARS, "answer");
        if (contrast) fprintf(f, "  %-*s", LABEL_CHARS, "vs");
        fprintf(f, "  %8s  %7s", f_label(doc), "prompt%");
        for (size_t i = c0; i < c1; i++) {
            fputc(' ', f);
            size_t w = cell_chars(m.label[i], m.label_len[i], COL_MAX);
            pad(f, cw[i] - w);
            term_cell_text(f, m.label[i], m.label_len[i], COL_MAX);
        }
        fputc('\n', f);
        for (size_t j = 0; j < m.n_rows; j++) {
            const json_t *st = json_array_get(m.steps, j);
            size_t l;
            const char *t = tok_text(st, &l);
            fprintf(f, "%4.0f  ", doc_num(st, "position"));
            size_t w = term_cell_text(f, t, l, LABEL_CHARS);
            pad(f, LABEL_CHARS - w);
            if (contrast) {
                const char *ct = tok_text(json_object_get(st, "contrast"), &l);
                fputs("  ", f);
                w = term_cell_text(f, ct, l, LABEL_CHARS);
                pad(f, LABEL_CHARS - w);
            }
            double share = doc_num(st, "prompt_share");
            fprintf(f, "  %8.3f  ", doc_num(st, "f"));
            if (isnan(share)) fprintf(f, "%7s", "-");
            else fprintf(f, "%6.1f%%", 100 * share);
            const double scale = row_max(&m, j);
            for (size_t i = c0; i < c1; i++) {
                double v = m.v[j * m.n_cols + i];
                fputc(' ', f);
                if (isnan(v)) {
                    pad(f, cw[i] - 1);
                    fputs(colour != RENDER_PLAIN ? "\xc2\xb7" : ".", f);
                    continue;
                }
                if (colour != RENDER_PLAIN) {
                    char esc[64];
                    render_ansi_heat(esc, sizeof esc, render_heat_rgb(v, scale), colour == RENDER_TRUECOLOR);
                    fputs(esc, f);
                }
                fprintf(f, "%*.*f", (int)cw[i], dec, v);
                if (colour != RENDER_PLAIN) fputs("\x1b[0m", f);
            }
            fputc('\n', f);
        }
        fputc('\n', f);
        if (c1 == c0) break;
        c0 = c1;
    }
    free(cw);
    fprintf(f, "rows: answer tokens; columns: the %s they are attributed to (%s). Each row's colour scale is its largest "
               "|score|: red raised the token's %s, blue lowered it; %s = not a source (BOS, or not yet written).\n"
               "prompt%%: share of the row's |attribution| on the prompt, the rest is on earlier answer tokens.\n",
            words ? "words" : "tokens", words ? "word score = sum of its tokens' scores" : "position and text",
            kind ? kind : "target", colour != RENDER_PLAIN ? "\xc2\xb7" : ".");
    /* IG: how well each row's scores add up */
    double worst = -1;
    size_t worst_j = 0;
    for (size_t j = 0; j < m.n_rows; j++) {
        double r = doc_num(json_array_get(m.steps, j), "completeness_relative");
        if (r > worst) worst = r, worst_j = j;
    }
    if (worst >= 0)
        fprintf(f, "completeness: every row's scores sum to f - f(baseline) within %.2f%% (worst: step %zu)\n", 100 * worst,
                worst_j);
    /* the sources that mattered most, per answer token */
    fprintf(f, "\nstrongest sources (by |score|; @ the %s position):\n", words ? "word's first token" : "token");
    for (size_t j = 0; j < m.n_rows; j++) {
        const json_t *st = json_array_get(m.steps, j);
        size_t l;
        const char *t = tok_text(st, &l);
        fputs("  ", f);
        size_t w = term_cell_text(f, t, l, LABEL_CHARS);
        pad(f, LABEL_CHARS - w);
        fputs(" <-", f);
        size_t chosen[3];
        for (int k = 0; k < 3; k++) {
            size_t best = m.n_cols;
            for (size_t i = 0; i < m.n_cols; i++) {
                double v = m.v[j * m.n_cols + i];
                bool taken = false;
                for (int q = 0; q < k; q++) taken = taken || chosen[q] == i;
                if (!taken && !isnan(v) && (best == m.n_cols || fabs(v) > fabs(m.v[j * m.n_cols + best]))) best = i;
            }
            if (best == m.n_cols) break;
            chosen[k] = best;
            fprintf(f, "%s '", k ? "," : "");
            term_cell_text(f, m.label[best], m.label_len[best], 16);
            fprintf(f, "'@%d %+.3g", m.col_pos[best], m.v[j * m.n_cols + best]);
        }
        fputc('\n', f);
    }
    mx_free(&m);
    return ferror(f) ? -1 : 0;
}

/* ---- CSV ----------------------------------------------------------------- */

int render_matrix_csv(FILE *f, const json_t *doc) {
    const json_t *toks = json_object_get(doc, "tokens"), *steps = json_object_get(doc, "steps"), *mat = json_object_get(doc, "matrix");
    if (!json_is_array(toks) || !json_is_array(steps) || !json_is_array(mat)) return -1;
    fputs("step,target_position,target_id,target_text,source_position,source_id,source_text,source_role,score\r\n", f);
    size_t j;
    const json_t *row;
    json_array_foreach(mat, j, row) {
        const json_t *st = json_array_get(steps, j);
        size_t tl;
        const char *tt = doc_str(st, "text", &tl);
        size_t i;
        const json_t *v;
        json_array_foreach(row, i, v) {
            if (!json_is_number(v)) continue;
            const json_t *src = json_array_get(toks, i);
            size_t sl;
            const char *sx = doc_str(src, "text", &sl), *role = doc_str(src, "role", NULL);
            fprintf(f, "%zu,%.0f,%.0f,", j, doc_num(st, "position"), doc_num(st, "token"));
            render_csv_text(f, tt ? tt : "", tt ? tl : 0);
            fprintf(f, ",%zu,%.0f,", i, doc_num(src, "id"));
            render_csv_text(f, sx ? sx : "", sx ? sl : 0);
            fputc(',', f);
            render_csv_text(f, role ? role : "", role ? strlen(role) : 0);
            fputc(',', f);
            render_csv_number(f, json_number_value(v));
            fputs("\r\n", f);
        }
    }
    return ferror(f) ? -1 : 0;
}

/* ---- HTML ---------------------------------------------------------------- */

static const char *const MATRIX_CSS =
    "*{box-sizing:border-box}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1400px;padding:1em 1.2em 4em;"
    "color:#1d1d1f;background:#fff}"
    "h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.3em 0 .4em;border-bottom:1px solid #ddd}"
    ".meta{color:#555}code{font:12px ui-monospace,monospace}"
    ".txt{white-space:pre-wrap;font:15px/1.9 ui-monospace,'DejaVu Sans Mono',monospace;background:#f7f7f7;padding:.6em .8em;"
    "border-radius:4px}"
    ".txt span{border-radius:2px}.txt .a{text-decoration:underline 2px #777;cursor:pointer}.txt .a.sel{outline:2px solid #111}"
    ".txt .x{color:#888}"
    ".lg{display:inline-flex;align-items:center;gap:.3em;font:12px ui-monospace,monospace;color:#444}"
    ".lg i{display:inline-block;width:120px;height:10px;border:1px solid #bbb;"
    "background:linear-gradient(90deg,#0000ff,#fff,#ff0000)}"
    ".wrap{overflow-x:auto}"
    "table.mx{border-collapse:collapse;font:12px ui-monospace,'DejaVu Sans Mono',monospace}"
    ".mx th,.mx td{padding:2px 4px;text-align:right;white-space:nowrap}"
    ".mx thead th{vertical-align:bottom;font-weight:normal}"
    ".mx thead th.c span{writing-mode:vertical-rl;transform:rotate(180deg);display:inline-block;max-height:9em;"
    "overflow:hidden;text-overflow:ellipsis}"
    ".mx thead th.a span{font-weight:bold}"
    ".mx tbody th{text-align:left;font-weight:bold;cursor:pointer}.mx tbody tr.sel th{outline:2px solid #111}"
    ".mx td.s{min-width:3.6em;box-shadow:inset -1px -1px #0001;cursor:default}.mx td.d{color:#fff}"
    ".mx td.s:hover,.mx td.s:focus{outline:2px solid #111;outline-offset:-1px}"
    ".mx td.n{background:#fafafa}.mx td.v{color:#444}"
    "#tip{position:fixed;z-index:9;max-width:40em;background:#222;color:#fff;font:12px/1.4 ui-monospace,monospace;"
    "padding:.35em .55em;border-radius:4px;pointer-events:none;white-space:pre-wrap}";

/* Tooltip of the matrix cells and the text's answer tokens painting the
 * sources of the row in focus. D: {src: [[text, role]...] by position,
 * steps: [[position, text, f, contrast text]...], words: [[text, first,
 * last]...], f: the target's short name}. */
static const char *const MATRIX_JS =
    "(function(){var D=JSON.parse(document.getElementById('mdata').textContent),tip=document.getElementById('tip');"
    "function q(s){return '\\u201c'+s+'\\u201d';}"
    "function heat(s,sc){var t=sc>0?Math.min(1,Math.abs(s)/sc):0,f=Math.round(255*(1-t));"
    "return s>=0?[255,f,f]:[f,f,255];}"
    "function tipText(td){var tr=td.parentNode,j=+tr.dataset.j,st=D.steps[j],i=+td.dataset.i,src;"
    "if(tr.parentNode.parentNode.dataset.w!==undefined){var w=D.words[i];"
    "src='source  word '+q(w[0])+'  tokens '+w[1]+'\\u2013'+w[2]+' (sum of its tokens)';}"
    "else{var s=D.src[i];src='source  position '+i+'  '+q(s[0])+'  ('+s[1]+')';}"
    "return src+'\\ntarget  step '+j+': position '+st[0]+'  '+q(st[1])+(st[3]!==null?' vs '+q(st[3]):'')+"
    "'  ('+D.f+' '+st[2]+')\\nscore   '+td.dataset.s;}"
    "function place(el){var b=el.getBoundingClientRect(),h=tip.offsetHeight;"
    "tip.style.left=Math.max(4,Math.min(b.left,innerWidth-tip.offsetWidth-8))+'px';"
    "tip.style.top=(b.bottom+h+8>innerHeight?b.top-h-6:b.bottom+6)+'px';}"
    "function paint(j){var tr=document.querySelector('table.mx:not([data-w]) tbody tr[data-j=\"'+j+'\"]');if(!tr)return;"
    "var cells=tr.querySelectorAll('td.s'),sc=0,v={};"
    "cells.forEach(function(c){var s=+c.dataset.s;v[c.dataset.i]=s;sc=Math.max(sc,Math.abs(s));});"
    "document.querySelectorAll('#txt span').forEach(function(sp){var i=sp.dataset.i;sp.classList.remove('sel');"
    "if(v[i]===undefined){sp.style.background='';sp.style.color='';return;}var c=heat(v[i],sc);"
    "sp.style.background='rgb('+c.join(',')+')';sp.style.color=(299*c[0]+587*c[1]+114*c[2]<140000)?'#fff':'';});"
    "var a=document.querySelector('#txt span[data-i=\"'+D.steps[j][0]+'\"]');if(a)a.classList.add('sel');"
    "document.querySelectorAll('.mx tbody tr').forEach(function(r){r.classList.toggle('sel',+r.dataset.j===j);});"
    "document.getElementById('row').textContent='step '+j+': sources of '+q(D.steps[j][1]);}"
    "function over(e){var el=e.target;if(!el.closest)return;var td=el.closest('td.s');"
    "if(td){tip.textContent=tipText(td);tip.hidden=false;place(td);td.setAttribute('aria-describedby','tip');}"
    "var th=el.closest('tbody th'),sp=el.closest('#txt span.a');"
    "if(th)paint(+th.parentNode.dataset.j);if(sp)paint(+sp.dataset.j);}"
    "function out(e){if(e.target.removeAttribute)e.target.removeAttribute('aria-describedby');tip.hidden=true;}"
    "document.addEventListener('mouseover',over);document.addEventListener('focusin',over);"
    "document.addEventListener('mouseout',out);document.addEventListener('focusout',out);"
    "if(D.steps.length)paint(0);})();";

static void html_num_cell(FILE *f, double v, double scale, int dec, int pos) {
    char exact[32];
    render_fmt_double(exact, v);
    render_rgb c = render_heat_rgb(v, scale);
    fprintf(f, "<td class=\"s%s\" tabindex=0 data-i=%d data-s=%s style=background:#%02x%02x%02x>%.*f</td>",
            render_rgb_dark(c) ? " d" : "", pos, exact, c.r, c.g, c.b, dec, v);
}

/* One matrix as a table; WORDS: its columns are words (data-w on the table). */
static void html_table(FILE *f, const json_t *doc, const mx_view *m, bool words) {
    const bool contrast = json_object_get(json_object_get(doc, "target"), "contrast") != NULL;
    const int dec = decimals_for(m);
    fprintf(f, "<div class=wrap><table class=mx%s>\n<thead><tr><th>pos</th><th style=text-align:left>answer token</th>%s"
               "<th>%s</th><th>prompt</th>",
            words ? " data-w" : "", contrast ? "<th style=text-align:left>vs</th>" : "", f_label(doc));
    for (size_t i = 0; i < m->n_cols; i++) {
        bool answer = !strcmp(m->col_role[i], "answer");
        fprintf(f, "<th class=\"c%s\" title=\"position %d\"><span>", answer ? " a" : "", m->col_pos[i]);
        render_html(f, m->label[i], m->label_len[i], RENDER_VISIBLE);
        fputs("</span></th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t j = 0; j < m->n_rows; j++) {
        const json_t *st = json_array_get(m->steps, j);
        size_t l;
        const char *t = tok_text(st, &l);
        fprintf(f, "<tr data-j=%zu><td class=v>%.0f</td><th tabindex=0>", j, doc_num(st, "position"));
        render_html(f, t, l, RENDER_VISIBLE);
        fputs("</th>", f);
        if (contrast) {
            const char *ct = tok_text(json_object_get(st, "contrast"), &l);
            fputs("<td class=v style=text-align:left>", f);
            render_html(f, ct, l, RENDER_VISIBLE);
            fputs("</td>", f);
        }
        double share = doc_num(st, "prompt_share");
        fprintf(f, "<td class=v>%.3f</td><td class=v>", doc_num(st, "f"));
        if (isnan(share)) fputs("&ndash;", f);
        else fprintf(f, "%.0f%%", 100 * share);
        fputs("</td>", f);
        const double scale = row_max(m, j);
        for (size_t i = 0; i < m->n_cols; i++) {
            double v = m->v[j * m->n_cols + i];
            if (isnan(v)) fputs("<td class=n></td>", f);
            else html_num_cell(f, v, scale, dec, words ? (int)i : m->col_pos[i]);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

/* The data the script reads (see MATRIX_JS). */
static void html_data(FILE *f, const json_t *doc, const mx_view *words) {
    const json_t *toks = json_object_get(doc, "tokens");
    fputs("<script type=application/json id=mdata>{\"src\":[", f);
    size_t i;
    const json_t *t;
    json_array_foreach(toks, i, t) {
        size_t l;
        const char *s = tok_text(t, &l), *role = doc_str(t, "role", NULL);
        fputs(i ? ",[" : "[", f);
        render_js_string(f, s, l);
        fputc(',', f);
        render_js_string(f, role ? role : "", role ? strlen(role) : 0);
        fputc(']', f);
    }
    fputs("],\"steps\":[", f);
    json_array_foreach(json_object_get(doc, "steps"), i, t) {
        size_t l;
        const char *s = tok_text(t, &l);
        char num[32];
        fprintf(f, "%s[%.0f,", i ? "," : "", doc_num(t, "position"));
        render_js_string(f, s, l);
        fprintf(f, ",%s,", render_fmt_double(num, doc_num(t, "f")));
        const json_t *c = json_object_get(t, "contrast");
        if (c) {
            s = tok_text(c, &l);
            render_js_string(f, s, l);
        } else {
            fputs("null", f);
        }
        fputc(']', f);
    }
    fputs("],\"words\":[", f);
    for (i = 0; words && i < words->n_cols; i++) {
        fputs(i ? ",[" : "[", f);
        render_js_string(f, words->label[i], words->label_len[i]);
        fprintf(f, ",%d,%d]", words->col_pos[i], words->col_last[i]);
    }
    const char *fl = f_label(doc);
    fputs("],\"f\":", f);
    render_js_string(f, fl, strlen(fl));
    fputs("}</script>\n", f);
}

int render_matrix_html(FILE *f, const json_t *doc) {
    mx_view m, w = {0};
    if (mx_load(doc, false, &m)) return -1;
    const bool has_words = json_object_get(doc, "words") != NULL;
    if (has_words && mx_load(doc, true, &w)) {
        mx_free(&m);
        return -1;
    }
    size_t tl, ml;
    const char *text = doc_str(doc, "text", &tl), *model = doc_str(doc, "model", &ml);
    const char *method = doc_str(doc, "method", NULL), *mode = doc_str(doc, "mode", NULL);
    const json_t *target = json_object_get(doc, "target"), *cost = json_object_get(doc, "cost");
    const char *kind = doc_str(target, "kind", NULL);
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
          "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=viewport content=\"width=device-width,initial-scale=1\">\n<link rel=icon href=\"data:,\">\n"
          "<title>attrib explain --generate: ",
          f);
    render_html(f, text ? text : "", text ? (tl > 60 ? 60 : tl) : 0, RENDER_VISIBLE);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<header><h1>Why did the model write this answer?</h1>\n"
               "<p class=meta>model <code>",
            MATRIX_CSS);
    render_html(f, model ? model : "?", model ? ml : 1, RENDER_VISIBLE);
    fprintf(f, "</code> &middot; method <b>%s</b> <small>", method ? method : "?");
    settings_line(f, json_object_get(doc, "settings"), true);
    fprintf(f, "</small> &middot; target: <b>%s</b> of each answer token%s &middot; answer %s, %zu tokens &middot; cost %.0f "
               "forward, %.0f backward sequences, %.2f s</p></header>\n",
            json_object_get(target, "contrast") ? "logit" : kind ? kind : "?",
            json_object_get(target, "contrast") ? " minus the logit of its contrast token (column <i>vs</i>)" : "",
            mode && !strcmp(mode, "generate") ? "generated greedily" : "given (forced decoding)", m.n_rows,
            doc_num(cost, "n_forward"), doc_num(cost, "n_backward"), doc_num(cost, "seconds"));
    /* the text: prompt tokens and answer tokens (underlined; hover one to paint its sources) */
    fputs("<p class=txt id=txt>", f);
    const json_t *toks = json_object_get(doc, "tokens");
    const double n_prompt = doc_num(doc, "n_prompt");
    size_t i;
    const json_t *t;
    json_array_foreach(toks, i, t) {
        size_t l;
        const char *s = doc_str(t, "text", &l);
        bool own = s && l > 0 && doc_num(t, "end") > doc_num(t, "begin");
        if (!own) s = doc_str(t, "piece", &l);
        if ((double)i >= n_prompt) fprintf(f, "<span class=a data-i=%zu data-j=%.0f>", i, (double)i - n_prompt);
        else fprintf(f, "<span%s data-i=%zu>", own ? "" : " class=x", i);
        render_html(f, s ? s : "", s ? l : 0, 0);
        fputs("</span>", f);
    }
    fputs("</p>\n<p class=meta><span id=row></span> &middot; ", f);
    fputs("<span class=lg title=\"colour scale: blue lowered the target, red raised it; per row, the scale is the row's "
          "largest |score|\">lowered<i></i>raised</span></p>\n<p class=meta>Rows: the answer's tokens; columns: the tokens they "
          "are attributed to (a step's sources are the prompt, without BOS, and the answer tokens before it). Hover a row or "
          "an underlined answer token to paint its sources in the text; hover or focus (Tab) a cell for its source, target "
          "and exact score. <i>prompt</i>: the share of the row's |attribution| on the prompt.</p>\n<h2>tokens</h2>\n",
          f);
    html_table(f, doc, &m, false);
    if (has_words) {
        fputs("<h2>words <small class=meta>(a word's score is the sum of its tokens' scores)</small></h2>\n", f);
        html_table(f, doc, &w, true);
    }
    html_data(f, doc, has_words ? &w : NULL);
    fprintf(f, "<div id=tip role=tooltip hidden></div>\n<script>%s</script>\n</body></html>\n", MATRIX_JS);
    mx_free(&m);
    mx_free(&w);
    return ferror(f) ? -1 : 0;
}
