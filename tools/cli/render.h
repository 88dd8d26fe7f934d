/*
 * render.h — how attributions are shown to a person: the diverging colour
 * scale, terminal heat maps (24-bit or 256-colour ANSI), CSV rows safe to
 * open in a spreadsheet, and self-contained HTML reports (one prompt from
 * `attrib explain`, a whole data set from `attrib compare` / `attrib
 * report`).
 *
 * Everything here reads bytes that come from data (prompts, token pieces,
 * ids, provenance strings) and treats them as untrusted: HTML output goes
 * through a validating escaper (invalid UTF-8 becomes U+FFFD, markup
 * characters become entities), CSV text cells are quoted and defused
 * against formula injection. The HTML reports fetch nothing: styles and
 * scripts are inline and a Content-Security-Policy forbids any load.
 *
 * The writers return 0 on success and -1 when writing failed (ferror) or the
 * document lacks what is needed (the message is then printed to stderr by
 * the caller's command, not here).
 */
#ifndef ATTRIB_CLI_RENDER_H
#define ATTRIB_CLI_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- colour scale ------------------------------------------------------ */

typedef struct render_rgb {
    uint8_t r, g, b;
} render_rgb;

/* Diverging scale: t = min(1, |score| / scale); positive scores fade white
 * -> red (255, 255(1-t), 255(1-t)), negative white -> blue (255(1-t),
 * 255(1-t), 255), channels rounded to nearest. A scale that is not finite
 * and > 0 paints everything white; a NaN score is light grey (224, 224, 224)
 * so "no value" differs from "zero". */
render_rgb render_heat_rgb(double score, double scale);
#define RENDER_NAN_GREY 224

/* True when black text would be hard to read on C (relative luminance
 * 0.299 r + 0.587 g + 0.114 b below 140): use white text then. */
bool render_rgb_dark(render_rgb c);

/* Nearest colour of the xterm 6x6x6 cube (indices 16..231); each channel
 * maps to the cube levels 0, 95, 135, 175, 215, 255. */
int render_xterm256(render_rgb c);

/* Writes the ANSI escape that sets background C and a readable foreground
 * (black, or white when render_rgb_dark) into BUF (NUL-terminated):
 * truecolor "\x1b[48;2;R;G;Bm\x1b[38;2;0;0;0m", else
 * "\x1b[48;5;Nm\x1b[38;5;16m" (231 = white). Returns the length. */
size_t render_ansi_heat(char *buf, size_t n, render_rgb c, bool truecolor);

/* ---- text -------------------------------------------------------------- */

/* Decodes one UTF-8 character of S[0..n) (n >= 1). Returns the bytes
 * consumed (>= 1) and sets *cp. An ill-formed sequence (overlong, surrogate,
 * above U+10FFFF, stray continuation, truncated) yields U+FFFD and consumes
 * its maximal well-formed prefix (at least one byte): the Unicode / WHATWG
 * "maximal subpart" rule, the one browsers use. */
size_t render_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* HTML text or attribute value: & < > " ' become &amp; &lt; &gt; &quot;
 * &#39;, invalid UTF-8 becomes U+FFFD. Control characters other than tab,
 * newline and CR become their Unicode control pictures (U+2400 + c, DEL
 * U+2421). With RENDER_VISIBLE (token pieces) newline is shown as U+21B5,
 * tab as U+21E5 and CR as U+240D as well, so no character is invisible. */
#define RENDER_VISIBLE 1u
void render_html(FILE *f, const char *s, size_t n, unsigned flags);

/* A JSON / JavaScript string literal (with the quotes) safe inside an HTML
 * <script> element: < > & become \u003c \u003e \u0026, U+2028/9 escaped,
 * controls \uXXXX, invalid UTF-8 U+FFFD. */
void render_js_string(FILE *f, const char *s, size_t n);

/* Returns a malloc'd, NUL-terminated copy of S[0..n) with invalid UTF-8
 * replaced by U+FFFD (length in *out_len), or NULL when out of memory. */
char *render_utf8_sanitize(const char *s, size_t n, size_t *out_len);

/* Shortest of %.15g, %.16g, %.17g that reads back as V ("nan", "inf",
 * "-inf" otherwise). BUF holds at least 32 bytes. */
const char *render_fmt_double(char *buf, double v);

/* Word of each token: words are maximal runs of non-white-space bytes of
 * TEXT; token i (bytes [begin[i], end[i])) belongs to the word holding its
 * first non-white-space byte, or to no word (-1) when it has none (BOS, a
 * lone space). Word w spans bytes [wbegin[w], wend[w]) of TEXT when those
 * arrays are given (each of capacity n). Returns the number of words. */
int render_words(const char *text, size_t len, const uint32_t *begin, const uint32_t *end, size_t n, int32_t *word,
                 uint32_t *wbegin, uint32_t *wend);

/* ---- CSV (RFC 4180) ---------------------------------------------------- */

/* A text cell. Invalid UTF-8 becomes U+FFFD. A cell starting with = + - @
 * tab or CR gets a leading ' so spreadsheets do not evaluate it; a cell
 * holding , " CR or LF is quoted with "" doubling. */
void render_csv_text(FILE *f, const char *s, size_t n);
/* A numeric cell, unquoted and never prefixed (NaN: an empty cell). */
void render_csv_number(FILE *f, double v);
/* The header "prompt_index,prompt_id,method,position,token_id,piece,begin,end,score,fixed". */
void render_csv_header(FILE *f);

/* ---- documents --------------------------------------------------------- */

/* The single-prompt document built by `attrib explain` (see cmd_explain.c):
 * { "text", "model", "tokens": [{"id","piece","begin","end","feature"}],
 *   "predicted": {"token","piece"},
 *   "methods": [{"method","settings":{..},"target":{"kind","token","piece",
 *                "token2","piece2"},"scores":[per token],"f_input",
 *                "f_baseline","completeness_delta","completeness_relative",
 *                "sum_scores","cost":{"n_forward","n_backward","seconds"}}] }
 * Raw bytes in strings are allowed (json_stringn_nocheck): they are escaped. */
int render_explain_html(FILE *f, const json_t *doc);
int render_explain_csv(FILE *f, const json_t *doc);

/* `explain --data`: one HTML page holding every row's document (begin, one
 * call per row, end; end frees), and CSV rows carrying the row's index and
 * id (the header "prompt_index,prompt_id,..." first when HEADER). */
typedef struct render_explain_book render_explain_book;
render_explain_book *render_explain_book_begin(FILE *f, const char *model, size_t n_rows);
int render_explain_book_row(render_explain_book *b, const json_t *doc, const char *row_id);
int render_explain_book_end(render_explain_book *b);
int render_explain_csv_rows(FILE *f, const json_t *doc, double prompt_index, const char *prompt_id, bool header);

typedef enum render_colour { RENDER_PLAIN = 0, RENDER_ANSI256 = 1, RENDER_TRUECOLOR = 2 } render_colour;
/* Terminal view of the same document: per method a header and (with colour)
 * the painted text, then one aligned table with a score column per method. */
int render_explain_term(FILE *f, const json_t *doc, render_colour colour);
/* The same heat map as a standalone SVG figure (papers, slides; convert to
 * PNG with e.g. rsvg-convert). */
int render_explain_svg(FILE *f, const json_t *doc);

/* The same figure as PNG (render_png.c): the SVG that SVG_WRITER makes of
 * DOC, rasterised with librsvg + cairo at RENDER_PNG_SCALE times its size.
 * Unlike the writers above it prints its own message on failure (also when
 * attrib was built without librsvg: render_png_available() is then false). */
#define RENDER_PNG_SCALE 2
int render_png(const char *path, int (*svg_writer)(FILE *, const json_t *), const json_t *doc);
bool render_png_available(void);

/* The data-set report of an "attrib.compare/1" document (schema in
 * docs/reports.md): summary charts, provenance, then every prompt with
 * sort / filter controls. Missing or null fields are skipped. */
int render_compare_html(FILE *f, const json_t *doc);
/* One CSV row per prompt x method x token of that document. */
int render_compare_csv(FILE *f, const json_t *doc);
/* The summary as a standalone SVG figure: per method the comprehensiveness
 * and sufficiency AOPC bars with their 95% bootstrap intervals and the
 * random baseline, and the mean Spearman agreement matrix (the same drawing
 * code as the HTML report's charts). */
int render_compare_svg(FILE *f, const json_t *doc);

#endif
