/*
 * compare.h — the pieces of `attrib compare` (cmd_compare.c runs the
 * methods over a dataset; compare_summary.c aggregates per-prompt records
 * into the summary, merges shards and prints the terminal table). The
 * JSON document they exchange is specified in docs/compare.md.
 */
#ifndef ATTRIB_CLI_COMPARE_H
#define ATTRIB_CLI_COMPARE_H

#include "cli.h"

#include <jansson.h>

#define COMPARE_SCHEMA "attrib.compare/1"
#define COMPARE_CURVE_GRID 21 /* x = 0, 0.05, ..., 1 */

/* Computes doc["summary"] from doc["prompts"] (sorted by index) and
 * doc["methods"] / doc["pairs"]: classifier quality, agreement and
 * faithfulness per group with bootstrap intervals (B resamples, SEED),
 * mean curves, cost. Replaces any existing summary. Returns 0 or 1. */
int compare_summarize(json_t *doc, int bootstrap, uint64_t seed);

/* Prints the terminal summary table of DOC to F. */
void compare_print_table(FILE *f, const json_t *doc);

/* `attrib compare --merge A.json B.json ... --out FILE`: concatenates shard
 * outputs of one run (same model, data, methods, settings) by prompt index
 * and recomputes the summary. */
int compare_merge(int n, char **paths, const char *out, const char *html, int json_stdout);

/* Writes DOC to PATH (pretty JSON, written to PATH.tmp then renamed). */
int compare_write(const json_t *doc, const char *path);

/* The HTML report of a comparison document (tools/cli/render.c). */
int render_compare_html(FILE *f, const json_t *doc);
int render_compare_csv(FILE *f, const json_t *doc);

#endif
