/*
 * test-render.c — the CLI's renderers (tools/cli/render.c) against values
 * worked out by hand:
 *   - the diverging colour scale (0 white, +scale red, -scale blue, rounding,
 *     clamping, symmetry, NaN and bad scales), the readable-text rule, the
 *     xterm 256-colour cube and the exact ANSI escapes;
 *   - the validating UTF-8 decoder and HTML escaper: markup characters,
 *     quotes, control pictures, invalid UTF-8 (truncated, overlong,
 *     surrogates, above U+10FFFF, stray continuation bytes) as U+FFFD by the
 *     maximal-subpart rule; the <script>-safe JS string; the sanitiser;
 *   - CSV: RFC 4180 quoting, formula defusing of text cells (=, +, -, @,
 *     tab, CR) and unescaped numbers;
 *   - whitespace words over token spans; shortest round-trip numbers;
 *   - whole documents: the explain CSV / HTML / terminal views and the
 *     compare CSV / HTML of small hand-built documents (exact rows, colours,
 *     order, escaping, tolerance of missing fields, no external reference,
 *     no raw escape byte from data on a terminal).
 * The browser test (tests/browser) checks the reports in Chromium.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* ---- capture of FILE output -------------------------------------------- */

typedef struct capture {
    char *buf;
    size_t len;
    FILE *f;
} capture;

static FILE *cap_open(capture *c) {
    c->buf = NULL, c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
    return c->f;
}

static char *cap_close(capture *c) {
    assert_int_equal(fclose(c->f), 0);
    return c->buf;
}

#define LIT(s) s, sizeof(s) - 1

/* OUT (with EXPECT_LEN bytes) must equal the expected literal. */
static void assert_bytes(const char *out, size_t len, const char *expect, size_t expect_len) {
    if (len != expect_len || memcmp(out, expect, len) != 0) {
        print_error("got      (%zu) \"%.*s\"\nexpected (%zu) \"%.*s\"\n", len, (int)len, out, expect_len, (int)expect_len, expect);
        fail();
    }
}

static void check_html(const char *in, size_t n, unsigned flags, const char *expect, size_t expect_len) {
    capture c;
    render_html(cap_open(&c), in, n, flags);
    cap_close(&c);
    assert_bytes(c.buf, c.len, expect, expect_len);
    free(c.buf);
}

static void check_csv(const char *in, size_t n, const char *expect, size_t expect_len) {
    capture c;
    render_csv_text(cap_open(&c), in, n);
    cap_close(&c);
    assert_bytes(c.buf, c.len, expect, expect_len);
    free(c.buf);
}

static size_t count(const char *hay, const char *needle) {
    size_t k = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) k++;
    return k;
}

/* ---- colour ------------------------------------------------------------ */

static void assert_rgb(render_rgb c, int r, int g, int b) {
    if (c.r != r || c.g != g || c.b != b) {
        print_error("got (%d, %d, %d), expected (%d, %d, %d)\n", c.r, c.g, c.b, r, g, b);
        fail();
    }
}

static void test_heat_colour(void **state) {
    (void)state;
    assert_rgb(render_heat_rgb(0, 1), 255, 255, 255);
    assert_rgb(render_heat_rgb(-0.0, 1), 255, 255, 255);
    assert_rgb(render_heat_rgb(1, 1), 255, 0, 0);
    assert_rgb(render_heat_rgb(-1, 1), 0, 0, 255);
    assert_rgb(render_heat_rgb(3.5, 3.5), 255, 0, 0);
    /* t = 0.5: 255 * 0.5 = 127.5 rounds to 128 */
    assert_rgb(render_heat_rgb(0.5, 1), 255, 128, 128);
    assert_rgb(render_heat_rgb(-0.5, 1), 128, 128, 255);
    /* t = 0.125: 255 * 0.875 = 223.125 -> 223 */
    assert_rgb(render_heat_rgb(0.25, 2), 255, 223, 223);
    /* t = 0.1: 229.5 -> 230 */
    assert_rgb(render_heat_rgb(-0.1, 1), 230, 230, 255);
    /* clamped beyond the scale */
    assert_rgb(render_heat_rgb(2, 1), 255, 0, 0);
    assert_rgb(render_heat_rgb(-50, 1), 0, 0, 255);
    assert_rgb(render_heat_rgb(INFINITY, 1), 255, 0, 0);
    assert_rgb(render_heat_rgb(-INFINITY, 1), 0, 0, 255);
    /* NaN score: grey; bad scales: white */
    assert_rgb(render_heat_rgb(NAN, 1), 224, 224, 224);
    assert_rgb(render_heat_rgb(NAN, NAN), 224, 224, 224);
    assert_rgb(render_heat_rgb(0.3, NAN), 255, 255, 255);
    assert_rgb(render_heat_rgb(0.3, 0), 255, 255, 255);
    assert_rgb(render_heat_rgb(-0.3, -1), 255, 255, 255);
    assert_rgb(render_heat_rgb(0.3, INFINITY), 255, 255, 255);
    /* symmetric: -s is s with red and blue swapped */
    const double v[] = {0.01, 0.2, 0.37, 0.5, 0.77, 0.999, 1, 4};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        render_rgb p = render_heat_rgb(v[i], 1), n = render_heat_rgb(-v[i], 1);
        assert_int_equal(p.r, n.b);
        assert_int_equal(p.g, n.g);
        assert_int_equal(p.b, n.r);
    }
}

static void test_dark_and_xterm(void **state) {
    (void)state;
    /* luminance 0.299 r + 0.587 g + 0.114 b < 140 */
    assert_true(render_rgb_dark((render_rgb){255, 0, 0}));      /* 76.2 */
    assert_true(render_rgb_dark((render_rgb){0, 0, 255}));      /* 29.1 */
    assert_false(render_rgb_dark((render_rgb){255, 128, 128})); /* 166.0 */
    assert_false(render_rgb_dark((render_rgb){128, 128, 255})); /* 142.4 */
    assert_true(render_rgb_dark((render_rgb){102, 102, 255}));  /* 119.4 */
    assert_false(render_rgb_dark((render_rgb){255, 255, 255}));
    /* cube index 16 + 36 r + 6 g + b over the levels 0 95 135 175 215 255 */
    assert_int_equal(render_xterm256((render_rgb){255, 255, 255}), 231);
    assert_int_equal(render_xterm256((render_rgb){255, 0, 0}), 196);
    assert_int_equal(render_xterm256((render_rgb){0, 0, 255}), 21);
    assert_int_equal(render_xterm256((render_rgb){0, 0, 0}), 16);
    assert_int_equal(render_xterm256((render_rgb){255, 128, 128}), 210); /* 128 -> level 2 (135) */
    assert_int_equal(render_xterm256((render_rgb){128, 128, 255}), 105);
    assert_int_equal(render_xterm256((render_rgb){224, 224, 224}), 188); /* 224 -> level 4 (215) */
    assert_int_equal(render_xterm256((render_rgb){47, 48, 0}), 16 + 0 + 6);   /* 47 -> 0, 48 -> 1 */
    assert_int_equal(render_xterm256((render_rgb){114, 115, 0}), 16 + 36 + 12); /* 114 -> 1, 115 -> 2 */
    assert_int_equal(render_xterm256((render_rgb){194, 195, 235}), 16 + 36 * 3 + 6 * 4 + 5); /* 194 -> 3, 195 -> 4, 235 -> 5 */
}

static void test_ansi(void **state) {
    (void)state;
    char buf[64];
    size_t n = render_ansi_heat(buf, sizeof buf, (render_rgb){255, 0, 0}, true);
    assert_bytes(buf, n, LIT("\x1b[48;2;255;0;0m\x1b[38;2;255;255;255m"));
    n = render_ansi_heat(buf, sizeof buf, (render_rgb){255, 255, 255}, true);
    assert_bytes(buf, n, LIT("\x1b[48;2;255;255;255m\x1b[38;2;0;0;0m"));
    n = render_ansi_heat(buf, sizeof buf, (render_rgb){128, 128, 255}, true);
    assert_bytes(buf, n, LIT("\x1b[48;2;128;128;255m\x1b[38;2;0;0;0m"));
    n = render_ansi_heat(buf, sizeof buf, (render_rgb){255, 0, 0}, false);
    assert_bytes(buf, n, LIT("\x1b[48;5;196m\x1b[38;5;231m"));
    n = render_ansi_heat(buf, sizeof buf, (render_rgb){255, 128, 128}, false);
    assert_bytes(buf, n, LIT("\x1b[48;5;210m\x1b[38;5;16m"));
    n = render_ansi_heat(buf, sizeof buf, (render_rgb){0, 0, 255}, false);
    assert_bytes(buf, n, LIT("\x1b[48;5;21m\x1b[38;5;231m"));
}

/* ---- UTF-8 and HTML ------------------------------------------------------ */

static void check_next(const char *s, size_t n, size_t want_len, uint32_t want_cp) {
    uint32_t cp = 0;
    size_t l = render_utf8_next((const unsigned char *)s, n, &cp);
    if (l != want_len || cp != want_cp) {
        print_error("decoding %02x..: got %zu bytes U+%04X, expected %zu bytes U+%04X\n", (unsigned char)s[0], l, (unsigned)cp,
                    want_len, (unsigned)want_cp);
        fail();
    }
}

static void test_utf8_decoder(void **state) {
    (void)state;
    check_next(LIT("A"), 1, 'A');
    check_next(LIT("\xC3\xA9"), 2, 0xE9);
    check_next(LIT("\xE2\x82\xAC"), 3, 0x20AC);
    check_next(LIT("\xF0\x9F\x98\x80"), 4, 0x1F600);
    check_next(LIT("\xED\x9F\xBF"), 3, 0xD7FF);      /* last before the surrogates */
    check_next(LIT("\xEE\x80\x80"), 3, 0xE000);      /* first after them */
    check_next(LIT("\xF4\x8F\xBF\xBF"), 4, 0x10FFFF); /* the last code point */
    check_next(LIT("\xEF\xBF\xBD"), 3, 0xFFFD);      /* a real U+FFFD */
    /* ill-formed: one U+FFFD per maximal subpart */
    check_next(LIT("\x80"), 1, 0xFFFD);              /* stray continuation */
    check_next(LIT("\xC0\x80"), 1, 0xFFFD);          /* C0: always overlong */
    check_next(LIT("\xC1\xBF"), 1, 0xFFFD);
    check_next(LIT("\xE0\x80\x80"), 1, 0xFFFD);      /* overlong 3-byte: E0 needs A0..BF */
    check_next(LIT("\xF0\x8F\xBF\xBF"), 1, 0xFFFD);  /* overlong 4-byte: F0 needs 90..BF */
    check_next(LIT("\xED\xA0\x80"), 1, 0xFFFD);      /* surrogate D800 */
    check_next(LIT("\xF4\x90\x80\x80"), 1, 0xFFFD);  /* above U+10FFFF */
    check_next(LIT("\xF5\x80\x80\x80"), 1, 0xFFFD);
    check_next(LIT("\xFF"), 1, 0xFFFD);
    check_next(LIT("\xE2\x82"), 2, 0xFFFD);          /* truncated at the end: one subpart */
    check_next(LIT("\xE2\x82" "A"), 2, 0xFFFD);      /* truncated before ASCII */
    check_next(LIT("\xF0\x9F\x98"), 3, 0xFFFD);
    check_next(LIT("\xF0\x9F\x98" "\xF0"), 3, 0xFFFD);
}

static void test_html_escape(void **state) {
    (void)state;
    check_html(LIT("<a href=\"x\">&'</a>"), 0, LIT("&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"));
    check_html(LIT("<script>alert(1)</script>"), 0, LIT("&lt;script&gt;alert(1)&lt;/script&gt;"));
    check_html(LIT("plain \xC3\xA9 \xF0\x9F\x98\x80 \xE2\x96\x81k"), 0, LIT("plain \xC3\xA9 \xF0\x9F\x98\x80 \xE2\x96\x81k"));
    check_html(LIT(""), 0, LIT(""));
    /* invalid UTF-8 -> U+FFFD (EF BF BD), maximal subparts */
    check_html(LIT("a\xFF" "b"), 0, LIT("a\xEF\xBF\xBD" "b"));
    check_html(LIT("a\xE2\x82" "b"), 0, LIT("a\xEF\xBF\xBD" "b"));                             /* truncated */
    check_html(LIT("\xE2\x82"), 0, LIT("\xEF\xBF\xBD"));                                      /* truncated at end */
    check_html(LIT("\xC0\x80"), 0, LIT("\xEF\xBF\xBD\xEF\xBF\xBD"));                          /* overlong NUL */
    check_html(LIT("\xE0\x80\xAF"), 0, LIT("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));          /* overlong '/' */
    check_html(LIT("\xED\xA0\x80"), 0, LIT("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));          /* surrogate */
    check_html(LIT("\xED\xBF\xBF" "x"), 0, LIT("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "x"));  /* surrogate DFFF */
    check_html(LIT("\xF4\x90\x80\x80"), 0, LIT("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
    check_html(LIT("\xF0\x9F\x98<"), 0, LIT("\xEF\xBF\xBD&lt;")); /* the '<' after a cut emoji is still escaped */
    check_html(LIT("\x80\x80"), 0, LIT("\xEF\xBF\xBD\xEF\xBF\xBD"));
    /* controls: kept (tab, LF, CR) or shown as control pictures */
    check_html(LIT("a\nb\tc\rd"), 0, LIT("a\nb\tc\rd"));
    check_html(LIT("x\0y\x01\x1b\x7f"), 0, LIT("x\xE2\x90\x80y\xE2\x90\x81\xE2\x90\x9B\xE2\x90\xA1"));
    /* RENDER_VISIBLE: LF as U+21B5, tab U+21E5, CR U+240D */
    check_html(LIT("a\nb\tc\rd\0"), RENDER_VISIBLE, LIT("a\xE2\x86\xB5" "b\xE2\x87\xA5" "c\xE2\x90\x8D" "d\xE2\x90\x80"));
    check_html(LIT("\"<\n"), RENDER_VISIBLE, LIT("&quot;&lt;\xE2\x86\xB5"));
}

static void test_js_string_and_sanitize(void **state) {
    (void)state;
    capture c;
    render_js_string(cap_open(&c), LIT("a\"b\\c</script><!--&\n\x01\xE2\x80\xA8\xFF\xC3\xA9"));
    cap_close(&c);
    assert_bytes(c.buf, c.len,
                 LIT("\"a\\\"b\\\\c\\u003c/script\\u003e\\u003c!--\\u0026\\n\\u0001\\u2028\\ufffd\xC3\xA9\""));
    free(c.buf);
    size_t len;
    char *s = render_utf8_sanitize(LIT("a\xFF" "b\xE2\x82"), &len);
    assert_non_null(s);
    assert_bytes(s, len, LIT("a\xEF\xBF\xBD" "b\xEF\xBF\xBD"));
    assert_int_equal(s[len], '\0');
    free(s);
    s = render_utf8_sanitize(LIT("ok \xC3\xA9"), &len);
    assert_bytes(s, len, LIT("ok \xC3\xA9"));
    free(s);
}

static void test_fmt_double(void **state) {
    (void)state;
    char b[32];
    assert_string_equal(render_fmt_double(b, 0.1), "0.1");
    assert_string_equal(render_fmt_double(b, -0.5), "-0.5");
    assert_string_equal(render_fmt_double(b, 3), "3");
    assert_string_equal(render_fmt_double(b, 1.0 / 3), "0.3333333333333333");    /* 16 digits needed */
    assert_string_equal(render_fmt_double(b, 0.1 + 0.2), "0.30000000000000004"); /* 17 */
    assert_string_equal(render_fmt_double(b, 1e300), "1e+300");
    assert_string_equal(render_fmt_double(b, NAN), "nan");
    assert_string_equal(render_fmt_double(b, -INFINITY), "-inf");
}

static void test_words(void **state) {
    (void)state;
    /* "How can I kill": BOS, H, ow, _c, an, _I, _k, ill, and a lone space */
    const char *text = "How can I kill";
    const uint32_t b[] = {0, 0, 1, 3, 5, 7, 9, 11, 3}, e[] = {0, 1, 3, 5, 7, 9, 11, 14, 4};
    int32_t w[9];
    uint32_t wb[9], we[9];
    int nw = render_words(text, strlen(text), b, e, 9, w, wb, we);
    assert_int_equal(nw, 4);
    const int32_t want[] = {-1, 0, 0, 1, 1, 2, 3, 3, -1};
    const uint32_t want_b[] = {0, 4, 8, 10}, want_e[] = {3, 7, 9, 14};
    for (int i = 0; i < 9; i++) assert_int_equal(w[i], want[i]);
    for (int i = 0; i < 4; i++) assert_int_equal(wb[i], want_b[i]), assert_int_equal(we[i], want_e[i]);
    /* several spaces and a newline between words; a span past the text is clipped */
    const char *t2 = "a  b\nc";
    const uint32_t b2[] = {0, 1, 4, 5}, e2[] = {1, 4, 5, 99};
    int32_t w2[4];
    assert_int_equal(render_words(t2, strlen(t2), b2, e2, 4, w2, wb, we), 3);
    assert_int_equal(w2[0], 0), assert_int_equal(w2[1], 1), assert_int_equal(w2[2], -1), assert_int_equal(w2[3], 2);
    assert_int_equal(wb[2], 5), assert_int_equal(we[2], 6);
    /* tokens out of order still map to the same word */
    const uint32_t b3[] = {2, 0}, e3[] = {3, 2};
    int32_t w3[2];
    assert_int_equal(render_words("abc", 3, b3, e3, 2, w3, wb, we), 1);
    assert_int_equal(w3[0], 0), assert_int_equal(w3[1], 0);
}

/* ---- CSV ----------------------------------------------------------------- */

static void test_csv_cells(void **state) {
    (void)state;
    check_csv(LIT("hello"), LIT("hello"));
    check_csv(LIT(""), LIT(""));
    check_csv(LIT("a,b"), LIT("\"a,b\""));
    check_csv(LIT("say \"hi\""), LIT("\"say \"\"hi\"\"\""));
    check_csv(LIT("line\nbreak"), LIT("\"line\nbreak\""));
    check_csv(LIT("a=b"), LIT("a=b")); /* only a leading = is dangerous */
    /* formula defusing: a leading ' */
    check_csv(LIT("=1+2"), LIT("'=1+2"));
    check_csv(LIT("+1"), LIT("'+1"));
    check_csv(LIT("-0.5"), LIT("'-0.5")); /* as TEXT it is defused; numbers use render_csv_number */
    check_csv(LIT("@SUM(A1)"), LIT("'@SUM(A1)"));
    check_csv(LIT("\tx"), LIT("'\tx"));
    check_csv(LIT("\rx"), LIT("\"'\rx\""));
    check_csv(LIT("-a,b"), LIT("\"'-a,b\""));
    check_csv(LIT("=HYPERLINK(\"http://x\",\"y\")"), LIT("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""));
    check_csv(LIT("\xE2\x96\x81" "a"), LIT("\xE2\x96\x81" "a"));
    check_csv(LIT("\xFF" "a"), LIT("\xEF\xBF\xBD" "a"));
    capture c;
    FILE *f = cap_open(&c);
    render_csv_number(f, -0.5);
    fputc(',', f);
    render_csv_number(f, 3);
    fputc(',', f);
    render_csv_number(f, NAN);
    fputc(',', f);
    render_csv_number(f, 1e-7);
    cap_close(&c);
    assert_bytes(c.buf, c.len, LIT("-0.5,3,,1e-07"));
    free(c.buf);
}

/* ---- documents ----------------------------------------------------------- */

static json_t *load(const char *json) {
    json_error_t err;
    json_t *j = json_loads(json, JSON_ALLOW_NUL, &err);
    if (!j) print_error("bad test JSON: %s\n", err.text);
    assert_non_null(j);
    return j;
}

static const char *EXPLAIN_DOC =
    "{\"text\": \"a b\", \"model\": \"m.gguf\","
    " \"tokens\": [{\"id\": 1, \"piece\": \"<s>\", \"begin\": 0, \"end\": 0, \"feature\": -1},"
    "            {\"id\": 7, \"piece\": \"\\u2581a\", \"begin\": 0, \"end\": 1, \"feature\": 0},"
    "            {\"id\": 9, \"piece\": \"=b\", \"begin\": 1, \"end\": 3, \"feature\": 1}],"
    " \"predicted\": {\"token\": 9, \"piece\": \"=b\"},"
    " \"methods\": [{\"method\": \"ig\", \"scores\": [0, 0.5, -0.25], \"settings\": {\"steps\": 32},"
    "               \"target\": {\"kind\": \"logit\", \"token\": 9, \"piece\": \"=b\"}, \"f_input\": 1.5,"
    "               \"completeness_delta\": 0.01},"
    "              {\"method\": \"occlusion\", \"scores\": [0, -1, 2]}]}";

static void test_explain_csv(void **state) {
    (void)state;
    json_t *doc = load(EXPLAIN_DOC);
    capture c;
    assert_int_equal(render_explain_csv(cap_open(&c), doc), 0);
    cap_close(&c);
    assert_bytes(c.buf, c.len,
                 LIT("prompt_index,prompt_id,method,position,token_id,piece,begin,end,score,fixed\r\n"
                     "0,,ig,0,1,<s>,0,0,0,1\r\n"
                     "0,,ig,1,7,\xE2\x96\x81" "a,0,1,0.5,0\r\n"
                     "0,,ig,2,9,'=b,1,3,-0.25,0\r\n"
                     "0,,occlusion,0,1,<s>,0,0,0,1\r\n"
                     "0,,occlusion,1,7,\xE2\x96\x81" "a,0,1,-1,0\r\n"
                     "0,,occlusion,2,9,'=b,1,3,2,0\r\n"));
    free(c.buf);
    json_decref(doc);
}

static void test_explain_html(void **state) {
    (void)state;
    json_t *doc = load(EXPLAIN_DOC);
    capture c;
    assert_int_equal(render_explain_html(cap_open(&c), doc), 0);
    char *h = cap_close(&c);
    /* ig row: scale 0.5; 0.5 -> full red (white text), -0.25 -> t 0.5 -> (128,128,255) */
    assert_non_null(strstr(h, "<span tabindex=0 class=f data-s=0>&lt;s&gt;</span>"));
    assert_non_null(strstr(h, "<span tabindex=0 style=background:#ff0000 class=d data-s=0.5>a</span>"));
    assert_non_null(strstr(h, "<span tabindex=0 style=background:#8080ff data-s=-0.25> b</span>"));
    /* occlusion row: scale 2; -1 -> t 0.5 blue side, 2 -> full red */
    assert_non_null(strstr(h, "<span tabindex=0 style=background:#8080ff data-s=-1>a</span>"));
    assert_non_null(strstr(h, "<span tabindex=0 style=background:#ff0000 class=d data-s=2> b</span>"));
    /* word view of ig: "a" = 0.5, "b" = -0.25 */
    assert_non_null(strstr(h, "<span tabindex=0 style=background:#ff0000 class=d data-w=0.5 data-n=1 data-b=0 data-e=1>a</span>"));
    assert_non_null(strstr(h, "data-w=-0.25 data-n=1 data-b=2 data-e=3>b</span>"));
    /* 3 token + 2 word spans per method; the token table for the tooltips */
    assert_int_equal(count(h, "<span tabindex=0"), 10);
    assert_non_null(strstr(h, "[[[1,0,0,\"\\u003cs\\u003e\"],[7,0,1,\"\xE2\x96\x81" "a\"],[9,1,3,\"=b\"]]]"));
    assert_non_null(strstr(h, "completeness &Delta; = 0.01"));
    assert_non_null(strstr(h, "Content-Security-Policy"));
    assert_null(strstr(h, "src="));
    assert_null(strstr(h, "http:"));
    assert_null(strstr(h, "https:"));
    assert_null(strstr(h, "url("));
    assert_non_null(strstr(h, "</html>"));
    free(h);
    json_decref(doc);
    /* a space token with no word of its own joins the next word; BOS (fixed) joins none */
    doc = load("{\"text\": \"a b\", \"tokens\": [{\"id\": 1, \"begin\": 0, \"end\": 0, \"feature\": -1},"
               "{\"id\": 2, \"begin\": 0, \"end\": 0, \"feature\": 0}, {\"id\": 3, \"begin\": 0, \"end\": 1, \"feature\": 0},"
               "{\"id\": 4, \"begin\": 1, \"end\": 2, \"feature\": 1}, {\"id\": 5, \"begin\": 2, \"end\": 3, \"feature\": 1}],"
               "\"methods\": [{\"method\": \"m\", \"scores\": [0, 1, 2, 0.25, 0.5]}]}");
    assert_int_equal(render_explain_html(cap_open(&c), doc), 0);
    h = cap_close(&c);
    assert_non_null(strstr(h, "data-w=3 data-n=2 data-b=0 data-e=1>a</span>"));
    assert_non_null(strstr(h, "data-w=0.75 data-n=2 data-b=2 data-e=3>b</span>"));
    free(h);
    json_decref(doc);
    /* without "methods" there is nothing to show */
    doc = load("{\"tokens\": []}");
    assert_int_equal(render_explain_html(cap_open(&c), doc), -1);
    free(cap_close(&c));
    json_decref(doc);
}

static void test_explain_term(void **state) {
    (void)state;
    /* the data carries an ESC sequence: it must never reach the terminal raw */
    json_t *doc = load("{\"text\": \"\\u001b[31mX\", \"tokens\": ["
                       "{\"id\": 4, \"piece\": \"\\u001b\", \"begin\": 0, \"end\": 1, \"feature\": 0},"
                       "{\"id\": 5, \"piece\": \"[31mX\", \"begin\": 1, \"end\": 6, \"feature\": 1}],"
                       "\"methods\": [{\"method\": \"ig\", \"scores\": [1, -1],"
                       "\"target\": {\"kind\": \"logit\", \"token\": 5, \"piece\": \"X\"}, \"f_input\": 2}]}");
    capture c;
    assert_int_equal(render_explain_term(cap_open(&c), doc, RENDER_PLAIN), 0);
    char *t = cap_close(&c);
    assert_null(memchr(t, 0x1b, c.len));
    assert_non_null(strstr(t, "target   logit of token 5 'X' = 2\n"));
    /* "%4zu  %7d  %-10s  '" token "'" padded to 18 characters, "  %12.5g", "  " sign and 20 # (|score| = scale) */
    assert_non_null(strstr(t, "   0" "  " "      4" "  " "0-1       " "  " "'\\x1B'" "              " /* 18 - 4 */
                              "  " "           1" "  +####################\n"));
    assert_non_null(strstr(t, "   1" "  " "      5" "  " "1-6       " "  " "'[31mX'" "             " /* 18 - 5 */
                              "  " "          -1" "  -####################\n"));
    free(t);
    assert_int_equal(render_explain_term(cap_open(&c), doc, RENDER_TRUECOLOR), 0);
    t = cap_close(&c);
    assert_non_null(strstr(t, "\x1b[48;2;255;0;0m\x1b[38;2;255;255;255m\\x1B\x1b[0m"
                              "\x1b[48;2;0;0;255m\x1b[38;2;255;255;255m[31mX\x1b[0m"));
    size_t esc = 0;
    for (size_t i = 0; i < c.len; i++) esc += t[i] == 0x1b;
    assert_int_equal(esc, 6); /* background, foreground, reset per token: none from the data */
    free(t);
    assert_int_equal(render_explain_term(cap_open(&c), doc, RENDER_ANSI256), 0);
    t = cap_close(&c);
    assert_non_null(strstr(t, "\x1b[48;5;196m\x1b[38;5;231m\\x1B\x1b[0m\x1b[48;5;21m\x1b[38;5;231m[31mX\x1b[0m"));
    free(t);
    json_decref(doc);
}

static void test_compare_csv(void **state) {
    (void)state;
    json_t *doc = load("{\"methods\": [\"occlusion\", \"saliency\"], \"prompts\": ["
                       "{\"index\": 5, \"id\": \"-x\", \"span\": [1, 2],"
                       " \"tokens\": [{\"id\": 1, \"piece\": \"<s>\", \"begin\": 0, \"end\": 0},"
                       "            {\"id\": 2, \"piece\": \"hi\", \"begin\": 0, \"end\": 2}],"
                       " \"methods\": {\"occlusion\": {\"scores\": [0, 1.5]}, \"saliency\": {\"scores\": [0, null]}}},"
                       "{\"index\": 6, \"id\": \"p,2\", \"tokens\": [{\"id\": 3, \"piece\": \"\\\"q\\\"\", \"begin\": 0, \"end\": 3}],"
                       " \"methods\": {\"saliency\": {\"scores\": [-0.5]}}}]}");
    capture c;
    assert_int_equal(render_compare_csv(cap_open(&c), doc), 0);
    cap_close(&c);
    assert_bytes(c.buf, c.len,
                 LIT("prompt_index,prompt_id,method,position,token_id,piece,begin,end,score,fixed\r\n"
                     "5,'-x,occlusion,0,1,<s>,0,0,0,1\r\n"
                     "5,'-x,occlusion,1,2,hi,0,2,1.5,0\r\n"
                     "5,'-x,saliency,0,1,<s>,0,0,0,1\r\n"
                     "5,'-x,saliency,1,2,hi,0,2,,0\r\n"
                     "6,\"p,2\",saliency,0,3,\"\"\"q\"\"\",0,3,-0.5,0\r\n"));
    free(c.buf);
    json_decref(doc);
}

static void test_compare_html(void **state) {
    (void)state;
    /* three prompts: agreement 0.5, -0.2 and missing: shown as -0.2, 0.5, missing */
    json_t *doc = load(
        "{\"schema\": \"attrib.compare/1\", \"methods\": [\"occlusion\", \"saliency\"],"
        " \"pairs\": [[\"occlusion\", \"saliency\"]],"
        " \"provenance\": {\"command\": \"<b>x</b>\", \"data\": {\"positive\": \"unsafe\"}},"
        " \"prompts\": ["
        "  {\"index\": 0, \"id\": \"a\", \"label\": 1, \"score\": 2, \"predicted\": 1, \"text\": \"k<i>\", \"span\": [0, 2],"
        "   \"tokens\": [{\"id\": 1, \"piece\": \"k\", \"begin\": 0, \"end\": 1}, {\"id\": 2, \"piece\": \"<i>\", \"begin\": 1, \"end\": 4}],"
        "   \"methods\": {\"occlusion\": {\"scores\": [1, -0.5]}, \"saliency\": {\"scores\": [0.2, 0.4]}},"
        "   \"agreement\": {\"occlusion|saliency\": {\"spearman\": 0.5}}},"
        "  {\"index\": 1, \"id\": \"b\", \"label\": 1, \"score\": -1, \"predicted\": 0, \"text\": \"z\","
        "   \"tokens\": [{\"id\": 3, \"piece\": \"z\", \"begin\": 0, \"end\": 1}],"
        "   \"methods\": {\"occlusion\": {\"scores\": [2]}},"
        "   \"agreement\": {\"saliency|occlusion\": {\"spearman\": -0.2}}},"
        "  {\"index\": 2, \"id\": \"c\", \"label\": -1, \"text\": \"q\", \"tokens\": [], \"methods\": {}}],"
        " \"summary\": {\"classifier\": {\"n\": 2, \"accuracy\": 0.5, \"auroc\": 1, \"confusion\": [[0, 0], [1, 1]]},"
        "   \"groups\": {\"all\": {\"n\": 3, \"agreement\": {\"occlusion|saliency\": {\"spearman\": {\"mean\": 0.15, \"lo\": -0.2, \"hi\": 0.5, \"n\": 2}}}}}}}");
    capture c;
    assert_int_equal(render_compare_html(cap_open(&c), doc), 0);
    char *h = cap_close(&c);
    char *p1 = strstr(h, "<div class=p data-i=1 "), *p0 = strstr(h, "<div class=p data-i=0 "), *p2 = strstr(h, "<div class=p data-i=2 ");
    assert_non_null(p0), assert_non_null(p1), assert_non_null(p2);
    assert_true(p1 < p0 && p0 < p2);
    assert_non_null(strstr(h, "<div class=p data-i=1 data-l=1 data-p=\"0\" data-c=\"0\" data-sc=\"-1\" data-d=\"-0.2\">"));
    assert_non_null(strstr(h, "<div class=p data-i=0 data-l=1 data-p=\"1\" data-c=\"1\" data-sc=\"2\" data-d=\"0.5\">"));
    assert_non_null(strstr(h, "<div class=p data-i=2 data-l=-1 data-p=\"\" data-c=\"\" data-sc=\"\" data-d=\"\">"));
    /* markup from data stays text; the agreement cell of the pair is the mean 0.15 */
    assert_non_null(strstr(h, "&lt;b&gt;x&lt;/b&gt;"));
    assert_non_null(strstr(h, "style=background:#8080ff data-s=-0.5>&lt;i&gt;</span>"));
    assert_null(strstr(h, "<i>"));
    assert_non_null(strstr(h, ">0.15</text>"));
    /* occlusion 1 and -0.5 (row scale 1), saliency 0.2 and 0.4 (scale 0.4), occlusion 2 */
    assert_int_equal(count(h, "<span tabindex=0"), 5);
    assert_null(strstr(h, "src="));
    assert_null(strstr(h, "http:"));
    assert_null(strstr(h, "https:"));
    assert_null(strstr(h, "url("));
    free(h);
    json_decref(doc);
    /* tolerance: missing and wrongly typed fields */
    const char *odd[] = {"{}", "{\"prompts\": [null, {}, {\"tokens\": \"x\", \"methods\": 5, \"span\": [3]}], \"summary\": null}",
                         "{\"methods\": [1, \"m\"], \"pairs\": [[\"m\"]], \"prompts\": [{\"methods\": {\"m\": {\"scores\": \"no\"}},"
                         " \"tokens\": [{\"begin\": -4, \"end\": 1e20}]}], \"summary\": {\"groups\": {\"all\": {\"curves\": {\"x\": [0, 1],"
                         " \"m\": {\"deletion\": [1, null]}}}}, \"cost\": {\"m\": {}}}}"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        doc = load(odd[i]);
        assert_int_equal(render_compare_html(cap_open(&c), doc), 0);
        h = cap_close(&c);
        assert_non_null(strstr(h, "</html>"));
        free(h);
        assert_int_equal(render_compare_csv(cap_open(&c), doc), 0);
        free(cap_close(&c));
        json_decref(doc);
    }
    doc = json_array();
    assert_int_equal(render_compare_html(cap_open(&c), doc), -1);
    free(cap_close(&c));
    json_decref(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heat_colour),
        cmocka_unit_test(test_dark_and_xterm),
        cmocka_unit_test(test_ansi),
        cmocka_unit_test(test_utf8_decoder),
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_js_string_and_sanitize),
        cmocka_unit_test(test_fmt_double),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_csv_cells),
        cmocka_unit_test(test_explain_csv),
        cmocka_unit_test(test_explain_html),
        cmocka_unit_test(test_explain_term),
        cmocka_unit_test(test_compare_csv),
        cmocka_unit_test(test_compare_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
