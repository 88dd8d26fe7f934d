/*
 * compare.h — the pieces of `attrib compare` (cmd_compare.c runs the
 * methods over a dataset; compare_summary.c aggregates per-prompt records
 * into the summary, merges shards and prints the terminal table;
 * compare_rows.c records skipped and failed rows, keeps the journal that
 * --resume reads, and catches SIGINT / SIGTERM). The
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

/* ---- rows not computed, the journal, interrupts (compare_rows.c) ---- */
#define COMPARE_PARTIAL_SCHEMA "attrib.compare.partial/1"
/* Exit status of a run that finished but recorded failed rows. */
#define COMPARE_EXIT_ROWS_FAILED 3

/* SIGINT / SIGTERM set a flag (compare_interrupted: the signal, else 0). */
void compare_signals_install(void);
int compare_interrupted(void);

/* What identifies a run for --resume: {"schema", "model_sha256",
 * "data_sha256", "settings_sha256", "model", "data", "settings"} from DOC's
 * provenance, methods and pairs, without paths, times or the machine. */
json_t *compare_run_identity(const json_t *doc);

typedef struct compare_journal {
    FILE *f;      /* open for appending */
    char *path;   /* OUT.partial.jsonl */
    json_t *done; /* index (decimal string) -> finished prompt record, from a resumed journal */
    int n_resumed;
} compare_journal;
char *compare_journal_path(const char *out);
/* Opens OUT's journal with the header IDENTITY. Without RESUME an existing
 * journal is refused (2); with it, a journal of another run is refused (1)
 * and the finished prompts of this one are kept. 0 on success. */
int compare_journal_open(compare_journal *j, const char *out, const json_t *identity, bool resume, bool quiet);
/* The finished prompt of dataset index INDEX from the resumed journal, or NULL (borrowed). */
json_t *compare_journal_find(const compare_journal *j, int64_t index);
/* Appends {"KIND": REC} as one line and flushes it to disk. */
int compare_journal_append(compare_journal *j, const char *kind, json_t *rec);
void compare_journal_close(compare_journal *j, bool remove_file);

/* A "skipped" or "failed" entry for row I: index, id, file, label, reason,
 * stage (the method, or "template", or NULL), n_tokens, n_ctx, text. */
json_t *compare_row_note(const cli_rows *rows, int i, const char *reason, const char *stage, int n_tokens, int n_ctx);
/* The skipped and failed rows of DOC, for the terminal and the HTML report. */
void compare_print_missing(FILE *f, const json_t *doc);
void compare_html_missing(FILE *f, const json_t *doc);

/* --too-long: what a prompt longer than the model's context becomes. */
enum { COMPARE_TOO_LONG_SKIP, COMPARE_TOO_LONG_TRUNCATE, COMPARE_TOO_LONG_ERROR };
/* Renders TEXT through TMPL into *OUT and checks its length (template
 * tokens included) against N_CTX (0: no limit). *N_TOKENS: the rendered
 * length before any truncation. 0: *OUT is ready (with TRUNCATE, the input
 * may have been cut to fit: *N_TOKENS > (*OUT)->n, WHY says so); 1: too long
 * (WHY says why); 2: the template failed (WHY). */
int compare_prepare_prompt(const attrib_tokenizer *tok, const char *tmpl, const char *text, int n_ctx, int policy,
                           attrib_prompt **out, int *n_tokens, char *why, size_t cap);

/* The HTML report of a comparison document (tools/cli/render.c). */
int render_compare_html(FILE *f, const json_t *doc);
int render_compare_csv(FILE *f, const json_t *doc);

#endif
