/*
 * render.c — what every view of attributions shares: the diverging colour
 * scale, the validating HTML / JS / CSV escapers, reading the JSON
 * documents the views are made from, and the HTML pieces both reports are
 * built of (page head and tail with the offline tooltip script, legend,
 * token rows and the token table). The views themselves are
 * render_explain.c (one `attrib explain` document: terminal, CSV, HTML) and
 * render_compare.c (the data-set report of `attrib compare` / `attrib
 * report`).
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

void html_head(FILE *f, const char *title, size_t title_len, const char *extra_css) {
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
          /* nothing may be loaded: the report works offline and leaks nothing */
          "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=viewport content=\"width=device-width,initial-scale=1\">\n<link rel=icon href=\"data:,\">\n<title>",
          f);
    render_html(f, title, title_len, RENDER_VISIBLE);
    fprintf(f, "</title>\n<style>%s%s</style></head>\n<body>\n", REPORT_CSS, extra_css ? extra_css : "");
}

void html_legend(FILE *f, double scale) {
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

void html_token_row(FILE *f, const char *text, size_t len, const doc_tokens *t, const double *scores, double scale, bool exact,
                    size_t key, const char *method) {
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

void html_token_table(FILE *f, const doc_tokens *t) {
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

void html_tail(FILE *f, const char *extra_js) {
    fprintf(f, "<div id=tip role=tooltip hidden></div>\n<script>%s%s</script>\n</body></html>\n", TOOLTIP_JS,
            extra_js ? extra_js : "");
}
