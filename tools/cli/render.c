/*
 * render.c — showing attributions to people: the diverging colour scale,
 * the validating HTML / JS / CSV escapers, the terminal heat map and the
 * single-prompt HTML report of `attrib explain`, and the data-set report of
 * `attrib compare` / `attrib report` (summary charts as inline SVG, then
 * every prompt with sort and filter controls).
 *
 * Why one token = one <span> with a short inline background and the score
 * in data-s: a 450-prompt x 5-method report holds ~70,000 tokens, and the
 * per-token text must stay small (about 60 bytes) for the file to stay well
 * under 10 MB; the tooltip (id, piece, byte span, exact score) is built by
 * a small script from one JSON table of the tokens instead of being
 * repeated in every span.
 */
#include "render.h"
#include "render_doc.h"
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour scale ------------------------------------------------------ */

render_rgb render_heat_rgb(double score, double scale) {
    if (isnan(score)) return (render_rgb){RENDER_NAN_GREY, RENDER_NAN_GREY, RENDER_NAN_GREY};
    double t = 0;
    if (isfinite(scale) && scale > 0) {
        t = fabs(score) / scale;
        if (!(t <= 1)) t = 1; /* clamps beyond the scale, and an infinite score */
    }
    uint8_t fade = (uint8_t)lround(255.0 * (1.0 - t));
    if (score >= 0) return (render_rgb){255, fade, fade};
    return (render_rgb){fade, fade, 255};
}

bool render_rgb_dark(render_rgb c) { return 299L * c.r + 587L * c.g + 114L * c.b < 140000L; }

static int cube_level(int v) { return v < 48 ? 0 : v < 115 ? 1 : (v - 35) / 40; }

int render_xterm256(render_rgb c) { return 16 + 36 * cube_level(c.r) + 6 * cube_level(c.g) + cube_level(c.b); }

size_t render_ansi_heat(char *buf, size_t n, render_rgb c, bool truecolor) {
    bool dark = render_rgb_dark(c);
    int len;
    if (truecolor)
        len = snprintf(buf, n, "\x1b[48;2;%d;%d;%dm\x1b[38;2;%sm", c.r, c.g, c.b, dark ? "255;255;255" : "0;0;0");
    else
        len = snprintf(buf, n, "\x1b[48;5;%dm\x1b[38;5;%dm", render_xterm256(c), dark ? 231 : 16);
    return len < 0 ? 0 : (size_t)len;
}

/* ---- text -------------------------------------------------------------- */

size_t render_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte (excludes overlongs, surrogates, > U+10FFFF) */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *cp = 0xFFFD; /* continuation byte, C0/C1 (always overlong) or F5..FF */
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *cp = 0xFFFD; /* truncated: the bytes so far are one maximal subpart */
            return i;
        }
        v = v << 6 | (s[i] & 0x3Fu);
        lo = 0x80, hi = 0xBF;
    }
    *cp = v;
    return len;
}

static void put_utf8(FILE *f, uint32_t cp) {
    if (cp < 0x80) {
        fputc((int)cp, f);
    } else if (cp < 0x800) {
        fputc((int)(0xC0 | cp >> 6), f), fputc((int)(0x80 | (cp & 0x3F)), f);
    } else if (cp < 0x10000) {
        fputc((int)(0xE0 | cp >> 12), f), fputc((int)(0x80 | (cp >> 6 & 0x3F)), f), fputc((int)(0x80 | (cp & 0x3F)), f);
    } else {
        fputc((int)(0xF0 | cp >> 18), f), fputc((int)(0x80 | (cp >> 12 & 0x3F)), f);
        fputc((int)(0x80 | (cp >> 6 & 0x3F)), f), fputc((int)(0x80 | (cp & 0x3F)), f);
    }
}

/* The visible stand-in of a control character, or 0 to keep it. */
static uint32_t control_picture(uint32_t cp, unsigned flags) {
    if (cp >= 0x20 && cp != 0x7F) return 0;
    if (cp == 0x7F) return 0x2421;
    if (cp == '\n' || cp == '\t' || cp == '\r') {
        if (!(flags & RENDER_VISIBLE)) return 0;
        return cp == '\n' ? 0x21B5 : cp == '\t' ? 0x21E5 : 0x240D;
    }
    return 0x2400 + cp;
}

void render_html(FILE *f, const char *s, size_t n, unsigned flags) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        uint32_t pic = control_picture(cp, flags);
        if (pic) put_utf8(f, pic);
        else if (cp == '&') fputs("&amp;", f);
        else if (cp == '<') fputs("&lt;", f);
        else if (cp == '>') fputs("&gt;", f);
        else if (cp == '"') fputs("&quot;", f);
        else if (cp == '\'') fputs("&#39;", f);
        else if (cp == 0xFFFD) put_utf8(f, 0xFFFD);
        else fwrite(u + i, 1, l, f);
        i += l;
    }
}

void render_js_string(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        if (cp == '"') fputs("\\\"", f);
        else if (cp == '\\') fputs("\\\\", f);
        else if (cp == '\n') fputs("\\n", f);
        else if (cp == '\t') fputs("\\t", f);
        else if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029 || cp == 0xFFFD)
            fprintf(f, "\\u%04x", (unsigned)cp); /* < > & can never close the <script> element */
        else fwrite(u + i, 1, l, f);
        i += l;
    }
    fputc('"', f);
}

char *render_utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc(3 * n + 1); /* every byte at worst becomes the 3 bytes of U+FFFD */
    if (!out) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        if (cp == 0xFFFD) memcpy(out + o, "\xEF\xBF\xBD", 3), o += 3;
        else memcpy(out + o, u + i, l), o += l;
        i += l;
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

const char *render_fmt_double(char *buf, double v) {
    if (isnan(v)) return strcpy(buf, "nan");
    if (isinf(v)) return strcpy(buf, v > 0 ? "inf" : "-inf");
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int render_words(const char *text, size_t len, const uint32_t *begin, const uint32_t *end, size_t n, int32_t *word,
                 uint32_t *wbegin, uint32_t *wend) {
    int nw = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = begin[i], e = end[i] < len ? end[i] : len, p = b;
        while (p < e && is_space((unsigned char)text[p])) p++;
        if (p >= e) {
            word[i] = -1;
            continue;
        }
        if (nw > 0 && p >= wbegin[nw - 1] && p < wend[nw - 1]) { /* the usual case: same word as the last token */
            word[i] = nw - 1;
            continue;
        }
        size_t ws = p, we = p;
        while (ws > 0 && !is_space((unsigned char)text[ws - 1])) ws--;
        while (we < len && !is_space((unsigned char)text[we])) we++;
        int w = -1;
        for (int k = nw - 1; k >= 0 && w < 0; k--)
            if (wbegin[k] == ws) w = k;
        if (w < 0) {
            w = nw++;
            wbegin[w] = (uint32_t)ws;
            wend[w] = (uint32_t)we;
        }
        word[i] = w;
    }
    return nw;
}

/* ---- CSV --------------------------------------------------------------- */

void render_csv_text(FILE *f, const char *s, size_t n) {
    bool defuse = n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++) quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (quote) fputc('"', f);
    if (defuse) fputc('\'', f);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = render_utf8_next(u + i, n - i, &cp);
        if (cp == '"') fputs("\"\"", f);
        else if (cp == 0xFFFD) put_utf8(f, 0xFFFD);
        else fwrite(u + i, 1, l, f);
        i += l;
    }
    if (quote) fputc('"', f);
}

void render_csv_number(FILE *f, double v) {
    char buf[32];
    if (!isnan(v)) fputs(render_fmt_double(buf, v), f);
}

void render_csv_header(FILE *f) { fputs("prompt_index,prompt_id,method,position,token_id,piece,begin,end,score,fixed\r\n", f); }

void csv_token_row(FILE *f, double prompt_index, const char *id, size_t id_len, const char *method, size_t pos,
                 const doc_tokens *t, double score) {
    render_csv_number(f, prompt_index);
    fputc(',', f);
    render_csv_text(f, id ? id : "", id ? id_len : 0);
    fputc(',', f);
    render_csv_text(f, method, strlen(method));
    fprintf(f, ",%zu,%d,", pos, (int)t->id[pos]);
    render_csv_text(f, t->piece[pos], t->plen[pos]);
    fprintf(f, ",%u,%u,", t->begin[pos], t->end[pos]);
    render_csv_number(f, score);
    fprintf(f, ",%d\r\n", t->fixed[pos] ? 1 : 0);
}

/* ---- reading documents ------------------------------------------------- */

const char *doc_str(const json_t *o, const char *key, size_t *len) {
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (!json_is_string(v)) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

double doc_num(const json_t *o, const char *key) {
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void doc_tokens_free(doc_tokens *t) {
    free(t->id);
    free(t->begin);
    free(t->end);
    free(t->piece);
    free(t->plen);
    free(t->fixed);
    memset(t, 0, sizeof *t);
}

int doc_tokens_load(const json_t *arr, doc_tokens *t) {
    memset(t, 0, sizeof *t);
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n > MAX_DOC_TOKENS) return -1;
    size_t m = n ? n : 1;
    t->id = calloc(m, sizeof *t->id);
    t->begin = calloc(m, sizeof *t->begin);
    t->end = calloc(m, sizeof *t->end);
    t->piece = calloc(m, sizeof *t->piece);
    t->plen = calloc(m, sizeof *t->plen);
    t->fixed = calloc(m, sizeof *t->fixed);
    if (!t->id || !t->begin || !t->end || !t->piece || !t->plen || !t->fixed) {
        doc_tokens_free(t);
        return -1;
    }
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        double id = doc_num(o, "id"), b = doc_num(o, "begin"), e = doc_num(o, "end"), fe = doc_num(o, "feature");
        t->id[i] = isfinite(id) && fabs(id) < 2e9 ? (int32_t)id : -1;
        t->begin[i] = b >= 0 && b < 4e9 ? (uint32_t)b : 0; /* a bad span shows the piece instead */
        t->end[i] = e >= 0 && e < 4e9 ? (uint32_t)e : 0;
        t->fixed[i] = fe < 0;
        t->piece[i] = doc_str(o, "piece", &t->plen[i]);
        if (!t->piece[i]) t->piece[i] = "";
    }
    return 0;
}

/* Scores of N tokens from a JSON array (missing or non-numeric: NaN). */
int doc_scores(const json_t *arr, size_t n, double **out) {
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out) return -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_is_array(arr) ? json_array_get(arr, i) : NULL;
        (*out)[i] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    return 0;
}

double row_scale(const double *s, const uint8_t *fixed, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (!fixed[i] && isfinite(s[i]) && fabs(s[i]) > m) m = fabs(s[i]);
    return m;
}

/* ---- HTML pieces shared by both reports -------------------------------- */

static const char *const REPORT_CSS =
    "*{box-sizing:border-box}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1180px;padding:1em 1.2em 4em;"
    "color:#1d1d1f;background:#fff}"
    "h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}"
    "h3{font-size:1em;margin:.8em 0 .3em}small,.meta{color:#555}code{font:12px ui-monospace,monospace}"
    ".tk{white-space:pre-wrap;font:15px/1.9 ui-monospace,'DejaVu Sans Mono',monospace;word-break:break-all}"
    ".tk>span{box-shadow:inset -1px 0 #0003;padding:1px 0;border-radius:2px;cursor:default}"
    ".tk>span:focus,.tk>span:hover{outline:2px solid #111;outline-offset:0}"
    ".tk .d{color:#fff}.tk .f{color:#888;background:#f2f2f2}.w>span{margin-right:.35em}"
    ".lg{display:inline-flex;align-items:center;gap:.3em;font:12px ui-monospace,monospace;color:#444}"
    ".lg i{display:inline-block;width:120px;height:10px;border:1px solid #bbb;"
    "background:linear-gradient(90deg,#0000ff,#fff,#ff0000)}"
    "#tip{position:fixed;z-index:9;max-width:36em;background:#222;color:#fff;font:12px/1.4 ui-monospace,monospace;"
    "padding:.35em .55em;border-radius:4px;pointer-events:none;white-space:pre-wrap}"
    ".m{border:1px solid #ddd;border-radius:6px;padding:.2em 1em .8em;margin:1em 0}"
    ".facts{margin:.3em 0;color:#333}.lab{display:inline-block;width:4.5em;color:#555}"
    ".prompt{white-space:pre-wrap;background:#f7f7f7;padding:.6em .8em;border-radius:4px}"
    "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}";

/* Tooltip of token and word spans: built on hover and keyboard focus from
 * the token table D (per row key k: [id, begin, end, piece] per token). */
static const char *const TOOLTIP_JS =
    "(function(){var D=JSON.parse(document.getElementById('tokdata').textContent),tip=document.getElementById('tip');"
    "function txt(el){var r=el.parentNode,k=+r.getAttribute('data-k'),m=r.getAttribute('data-m')||'',d=el.dataset;"
    "if(d.w!==undefined)return m+'\\nword \\u201c'+el.textContent+'\\u201d  bytes '+d.b+'\\u2013'+d.e+"
    "'\\nsum of '+d.n+' token scores: '+d.w;"
    "var i=Array.prototype.indexOf.call(r.children,el),t=(D[k]||[])[i]||[];"
    "return m+'\\nposition '+i+'  id '+t[0]+'  piece \\u201c'+t[3]+'\\u201d  bytes '+t[1]+'\\u2013'+t[2]+"
    "'\\nscore '+d.s+(el.classList.contains('f')?'  (fixed: not attributed)':'');}"
    "function show(e){var el=e.target;if(!el.dataset||(el.dataset.s===undefined&&el.dataset.w===undefined))return;"
    "tip.textContent=txt(el);tip.hidden=false;var b=el.getBoundingClientRect(),h=tip.offsetHeight;"
    "tip.style.left=Math.max(4,Math.min(b.left,innerWidth-tip.offsetWidth-8))+'px';"
    "tip.style.top=(b.bottom+h+8>innerHeight?b.top-h-6:b.bottom+6)+'px';el.setAttribute('aria-describedby','tip');}"
    "function hide(e){if(e.target.removeAttribute)e.target.removeAttribute('aria-describedby');tip.hidden=true;}"
    "document.addEventListener('mouseover',show);document.addEventListener('focusin',show);"
    "document.addEventListener('mouseout',hide);document.addEventListener('focusout',hide);})();";

static void html_head(FILE *f, const char *title, size_t title_len, const char *extra_css) {
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
          /* nothing may be loaded: the report works offline and leaks nothing */
          "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=viewport content=\"width=device-width,initial-scale=1\">\n<link rel=icon href=\"data:,\">\n<title>",
          f);
    render_html(f, title, title_len, RENDER_VISIBLE);
    fprintf(f, "</title>\n<style>%s%s</style></head>\n<body>\n", REPORT_CSS, extra_css ? extra_css : "");
}

static void html_legend(FILE *f, double scale) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.3g", scale);
    fprintf(f, "<span class=lg title=\"colour scale: blue negative, red positive, white 0\">&minus;%s<i></i>+%s</span>", buf,
            buf);
}

/* One token span: background colour, score in data-s (EXACT: the shortest
 * form that reads back as the double; else 6 significant digits, which keeps
 * a 450-prompt report ~15% smaller). */
static void token_span(FILE *f, double score, double scale, bool fixed, bool exact, const char *s, size_t n) {
    char num[32];
    if (exact || !isfinite(score)) render_fmt_double(num, score);
    else snprintf(num, sizeof num, "%.6g", score);
    if (fixed) {
        fprintf(f, "<span tabindex=0 class=f data-s=%s>", num);
    } else {
        render_rgb c = render_heat_rgb(score, scale);
        fprintf(f, "<span tabindex=0 style=background:#%02x%02x%02x%s data-s=%s>", c.r, c.g, c.b,
                render_rgb_dark(c) ? " class=d" : "", num);
    }
    render_html(f, s, n, RENDER_VISIBLE);
    fputs("</span>", f);
}

static void html_token_row(FILE *f, const char *text, size_t len, const doc_tokens *t, const double *scores, double scale,
                           bool exact, size_t key, const char *method) {
    fprintf(f, "<div class=tk data-k=%zu data-m=\"", key);
    render_html(f, method, strlen(method), 0);
    fputs("\">", f);
    size_t cursor = 0;
    for (size_t i = 0; i < t->n; i++) {
        bool in_text = text && t->end[i] > t->begin[i] && t->end[i] <= len && t->begin[i] >= cursor;
        if (in_text && t->begin[i] > cursor) /* bytes no token covers: plain text */
            render_html(f, text + cursor, t->begin[i] - cursor, RENDER_VISIBLE);
        if (in_text) {
            token_span(f, scores[i], scale, t->fixed[i], exact, text + t->begin[i], t->end[i] - t->begin[i]);
            cursor = t->end[i];
        } else { /* no bytes of its own (BOS, or a byte token sharing a character): its piece */
            token_span(f, scores[i], scale, t->fixed[i], exact, t->piece[i], t->plen[i]);
        }
    }
    fputs("</div>\n", f);
}

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

static void html_token_table(FILE *f, const doc_tokens *t) {
    fputc('[', f);
    for (size_t i = 0; i < t->n; i++) {
        fprintf(f, "%s[%d,%u,%u,", i ? "," : "", (int)t->id[i], t->begin[i], t->end[i]);
        /* the piece with control characters made visible, as in the spans */
        char *vis = NULL;
        size_t vlen = 0;
        FILE *mem = open_memstream(&vis, &vlen);
        if (mem) {
            const unsigned char *u = (const unsigned char *)t->piece[i];
            for (size_t j = 0; j < t->plen[i];) {
                uint32_t cp;
                size_t l = render_utf8_next(u + j, t->plen[i] - j, &cp);
                uint32_t pic = control_picture(cp, RENDER_VISIBLE);
                if (pic) put_utf8(mem, pic);
                else if (cp == 0xFFFD) put_utf8(mem, 0xFFFD);
                else fwrite(u + j, 1, l, mem);
                j += l;
            }
            fclose(mem);
        }
        render_js_string(f, vis ? vis : "", vis ? vlen : 0);
        free(vis);
        fputc(']', f);
    }
    fputc(']', f);
}

static void html_tail(FILE *f, const char *extra_js) {
    fprintf(f, "<div id=tip role=tooltip hidden></div>\n<script>%s%s</script>\n</body></html>\n", TOOLTIP_JS,
            extra_js ? extra_js : "");
}

/* ---- single-prompt report (attrib explain) ----------------------------- */

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

/* ---- data-set report (attrib.compare/1) -------------------------------- */

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
