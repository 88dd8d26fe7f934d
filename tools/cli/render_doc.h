/*
 * render_doc.h — pieces shared by the renderers (render.c, render_explain.c,
 * render_compare.c), not part of render.h's interface: reading the JSON
 * documents they show, and the HTML pieces both reports are built of.
 */
#ifndef ATTRIB_CLI_RENDER_DOC_H
#define ATTRIB_CLI_RENDER_DOC_H

#include "render.h"

/* Tokens of one prompt as read from a document: pieces are borrowed from
 * the JSON (json_string_length bytes, possibly with NULs or bad UTF-8). */
typedef struct doc_tokens {
    size_t n;
    int32_t *id;
    uint32_t *begin, *end; /* byte span in the prompt text */
    const char **piece;
    size_t *plen;
    uint8_t *fixed;        /* 1 = not attributed (outside the span, BOS) */
} doc_tokens;

/* A document claiming more tokens per prompt than this is refused. */
#define MAX_DOC_TOKENS ((size_t)1 << 24)

/* A string member (NULL when absent or not a string; *len its bytes). */
const char *doc_str(const json_t *o, const char *key, size_t *len);
/* A number member (NaN when absent). */
double doc_num(const json_t *o, const char *key);
int doc_tokens_load(const json_t *arr, doc_tokens *t);
void doc_tokens_free(doc_tokens *t);
/* Scores of N tokens from a JSON array (missing or non-numeric: NaN). */
int doc_scores(const json_t *arr, size_t n, double **out);
/* The largest |score| of the attributed tokens. */
double row_scale(const double *s, const uint8_t *fixed, size_t n);
/* "steps 32, rule gl" from a settings object. */
void settings_line(FILE *f, const json_t *settings, bool html);
const char *method_name(const json_t *m);
void csv_token_row(FILE *f, double prompt_index, const char *id, size_t id_len, const char *method, size_t pos,
                   const doc_tokens *t, double score);

/* ---- HTML pieces (render.c) ---- */
/* The page up to <body>: TITLE, the report's CSS and EXTRA_CSS (may be NULL). */
void html_head(FILE *f, const char *title, size_t title_len, const char *extra_css);
/* The colour scale's legend, -SCALE .. +SCALE. */
void html_legend(FILE *f, double scale);
/* One prompt's tokens as coloured spans (row key KEY of the token table,
 * METHOD in the tooltip); EXACT: scores in full precision. */
void html_token_row(FILE *f, const char *text, size_t len, const doc_tokens *t, const double *scores, double scale, bool exact,
                    size_t key, const char *method);
/* The tooltip's table of T's tokens: [[id, begin, end, piece], ...]. */
void html_token_table(FILE *f, const doc_tokens *t);
/* The tooltip element, its script and EXTRA_JS (may be NULL), and </html>. */
void html_tail(FILE *f, const char *extra_js);

/* A relative completeness delta above this (5%) earns a hint to raise --steps. */
#define COMPLETENESS_LARGE 0.05

#endif
