/*
 * explain_gen.h — `attrib explain MODEL PROMPT --generate N` and
 * `--continuation TEXT`: attribution of a whole answer (cmd_explain_gen.c),
 * and the views of its (answer tokens x source tokens) matrix
 * (render_matrix.c). cmd_explain.c parses the method options it shares with
 * single-token explain and hands over through explain_gen_main.
 */
#ifndef ATTRIB_CLI_EXPLAIN_GEN_H
#define ATTRIB_CLI_EXPLAIN_GEN_H

#include "attrib.h"
#include "render.h"

/* The options only a continuation takes. */
typedef struct explain_gen_opts {
    int n_generate;           /* --generate N (0: not given) */
    const char *continuation; /* --continuation TEXT */
    const char *contrast;     /* --contrast TEXT: step j against its token j */
    const char *contrast_word; /* --contrast-token WORD: every step against this token */
    int contrast_id;          /* --contrast-token-id N (when contrast_id_given) */
    int contrast_id_given;
    int ignore_eos;           /* --ignore-eos: keep generating after EOS */
    int target_given;         /* --target was on the command line (noted, parsed by explain) */
} explain_gen_opts;

/* True when the command asks for a continuation's attribution. */
static inline int explain_gen_requested(const explain_gen_opts *g) { return g->n_generate > 0 || g->continuation != NULL; }

/* Consumes a continuation option at argv[*i] (advancing *i past its value):
 * 1 if it was one, 0 if not, -1 after printing a usage error. Seeing
 * --target sets target_given and returns 0 (explain parses it). */
int explain_gen_option(int argc, char **argv, int *i, explain_gen_opts *g);

/* What cmd_explain.c parsed for the run. */
typedef struct explain_gen_base {
    const char *model, *text;
    attrib_explain_options o;  /* the method's options (defaults filled in) */
    const char *conflict;      /* an explain option a continuation cannot take, or NULL */
    int threads, compute, color, words, progress;
    const char *format;        /* "term", "json", "csv" or "html" */
    const char *html_path, *csv_path;
} explain_gen_base;

/* Runs the whole command; returns the exit status (0, 1, or 2 for usage). */
int explain_gen_main(const explain_gen_opts *g, const explain_gen_base *b);

/* ---- views of the document explain_gen_main builds (render_matrix.c) ----
 * { "kind": "attrib.continuation/1", "model", "text", "answer_text",
 *   "method", "settings", "target": {"kind", "contrast"},
 *   "n_prompt", "prompt_span": [b, e],
 *   "tokens": [{"position","id","piece","text","begin","end","role"}],
 *   "steps": [{"position","token","text","f","f_baseline","sum",
 *              "completeness_delta","prompt_share","answer_share",
 *              "contrast": {"token","text"}?}],
 *   "matrix": [[score or null per source position 0 .. n-2] per step],
 *   "words"?: {"columns": [{"text","first","last"}], "matrix": [[..]]},
 *   "cost": {..} }
 * Strings are valid UTF-8 (sanitised when the document is built). */

/* Terminal: the matrix with answer tokens as rows and sources as columns,
 * cells painted by score (per-row scale) when COLOUR, wrapped into blocks
 * of columns to fit WIDTH characters (0: no limit); WORDS: word columns. */
int render_matrix_term(FILE *f, const json_t *doc, render_colour colour, int width, bool words);
/* A self-contained interactive HTML page: the text (hover an answer token
 * to paint its sources), the matrix (hover or focus a cell for its source,
 * target and score) and, when the document has them, word columns. */
int render_matrix_html(FILE *f, const json_t *doc);
/* CSV: one row per step x source cell that holds a score. */
int render_matrix_csv(FILE *f, const json_t *doc);

#endif
