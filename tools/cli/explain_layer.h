/*
 * explain_layer.h — `attrib explain ... --layer L` (layer attribution: the
 * target attributed to the residual stream after L blocks, every position a
 * feature) and `--layer-summary` (direct logit attribution: the target
 * logit split into the embedding, each block's attention (per head) and
 * FFN). explain_layer.c holds the options, the checks and the summary's
 * output; cmd_explain.c calls in at a few points.
 */
#ifndef ATTRIB_CLI_EXPLAIN_LAYER_H
#define ATTRIB_CLI_EXPLAIN_LAYER_H

#include "attrib.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct explain_layer_opts {
    int layer;   /* --layer L, or -1 */
    int summary; /* --layer-summary */
} explain_layer_opts;

/* Consumes --layer L / --layer-summary at argv[*i] (advancing *i past a
 * value): 1 if it was one, 0 if not, -1 after printing a usage error. */
int explain_layer_option(int argc, char **argv, int *i, explain_layer_opts *o);

/* After parsing: 0, or 2 after a usage error for settings the layer modes
 * cannot take. Sets O's layer_attribution and layer for --layer. */
int explain_layer_check(const explain_layer_opts *lo, attrib_explain_options *o, const attrib_method *methods, int n_methods,
                        bool data, bool words, bool other_outputs);

/* With the model: 0, or 2 after a usage error when --layer is past its
 * last block. */
int explain_layer_model_check(const explain_layer_opts *lo, const attrib_model *m);

/* Adds the layer results to the document: "layer" at the top and in each
 * of "methods" (RS, in order), "layer_values" {"shape": [n, C], "values"
 * (row-major)} per method and at the top (the first method's); in the terminal format (TERM) prints a line
 * saying what the scores are. */
void explain_layer_annotate(const explain_layer_opts *lo, json_t *doc, attrib_result *const *rs, int n_results, int n_embd,
                            bool term);

/* --layer-summary: the parts of the target logit of IDS (TARGET: logit or
 * logit difference; token -1 = the top-1 next token) printed as JSON (JSON)
 * or a table. Returns the exit status. */
int explain_layer_summary(attrib_model *m, const attrib_token *toks, const int32_t *ids, int n, const char *text,
                          size_t text_len, const attrib_target *target, bool json);

#endif
