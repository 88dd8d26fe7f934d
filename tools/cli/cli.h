/*
 * cli.h — shared pieces of the attrib command-line tool: each subcommand is
 * a cmd_<name>(argc, argv) function in its own file (argv[0] is the
 * subcommand's name), returning the process exit status: 0 on success,
 * 1 when the work failed, 2 for a usage error.
 */
#ifndef ATTRIB_CLI_H
#define ATTRIB_CLI_H

#include "attrib.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

int cmd_info(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_attention(int argc, char **argv);

/* Prints "attrib: error: <what>: <library message>" to stderr; returns 1. */
int cli_fail_status(attrib_status s, const char *what);
/* Prints "attrib <cmd>: <message>" and a hint to run --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Parses a positive int option value; false (after printing) on error. */
bool cli_parse_int(const char *cmd, const char *opt, const char *val, int lo, int hi, int *out);

/* True when argv[i] equals one of the two spellings. */
bool cli_is(const char *arg, const char *a, const char *b);
/* Writes DOC to PATH through RENDER; 1 (and a message) when the file cannot be written. */
int cli_write_file(const char *path, int (*render)(FILE *, const json_t *), const json_t *doc);

/* Loads a model with the given thread count, printing any error. */
attrib_model *cli_load_model(const char *path, int n_threads, bool check_weights);

/* Seconds from a monotonic clock. */
double cli_now(void);

/* TEXT as given, or standard input when ARG is "-" (*owned then holds the
 * malloc'd bytes, NUL-terminated, to free; one final newline is dropped).
 * NULL after printing an error. */
const char *cli_text_arg(const char *arg, char **owned, size_t *len);

/* Progress on standard error: "  ig  prompt 3/450  5416/28000  812/s  ETA 26 s".
 * Shown only when standard error is a terminal, or when forced (--progress),
 * and only for work that has taken a second already. */
typedef struct cli_progress {
    double t0, last;
    const char *what;   /* the method */
    int64_t item, n_items; /* the prompt (n_items 0: one prompt) */
    int force, shown;
} cli_progress;
void cli_progress_cb(void *user, int64_t done, int64_t total);
/* Ends a progress line that was shown (a newline). */
void cli_progress_end(cli_progress *p);

/* ---- the library's method table, as the CLI shows it (cli.c) ---- */
/* True when method M reads every option bit of READS (ATTRIB_READS_*). */
bool cli_method_reads(attrib_method m, unsigned reads);
/* The library's record of OPT's method settings (attrib_method_settings_json;
 * RESULT may be NULL) as a JSON object, or NULL when out of memory. */
json_t *cli_method_settings(const attrib_explain_options *opt, const attrib_result *result);
/* --samples N (N > 0): the count of whichever samples O's method draws. */
void cli_set_samples(attrib_explain_options *o, int samples);
/* Help text from the table: every method with its summary, by family; the
 * names of the methods reading all option bits NEED and none of EXCEPT,
 * comma-separated, from column COL of the current line on (further lines
 * start with INDENT); the default sample counts, two per line after INDENT. */
void cli_help_methods(FILE *f);
void cli_help_method_names(FILE *f, size_t col, const char *indent, unsigned need, unsigned except);
void cli_help_samples(FILE *f, const char *indent);

/* ---- words (words.c) ---- */
/* The one token WORD (e.g. " Lily", with its leading space) is for the model,
 * after TMPL's rendered text when TMPL is given, else after ordinary text:
 * 0 and *id, or 1 with what WORD becomes in WHY. */
int cli_word_token(const attrib_tokenizer *tok, const char *tmpl, const char *word, int32_t *id, char *why, size_t cap);
/* The same, printing why not (naming the option OPT); returns 1 then. */
int cli_word_error(const attrib_tokenizer *tok, const char *tmpl, const char *tmpl_name, const char *opt, const char *word,
                   int32_t *id);
/* Prints label-word pairs (or words) that are one token after TMPL. */
int cli_suggest_words(FILE *f, const attrib_tokenizer *tok, const char *tmpl);

/* ---- data options shared by probe and compare (data.c) ---- */
/* One limit on --samples for every method and command (the library allows SmoothGrad no more). */
#define CLI_MAX_SAMPLES 65536

#define CLI_MAX_FILES 16
typedef struct cli_data_opts {
    const char *files[CLI_MAX_FILES];
    int file_label[CLI_MAX_FILES]; /* -1: labels from the file; 0/1: every row */
    int n_files;
    const char *text_col, *label_col, *positive, *template_arg;
    int64_t limit, sample;
    uint64_t seed;    /* --data-seed */
    int seed_set;     /* 0: --sample follows the command's --seed */
    int shard_k, shard_n;
} cli_data_opts;

/* Rows of every file, in order (owned strings). */
typedef struct cli_rows {
    int n;
    char **text, **id;
    int *label;      /* 1, 0 or -1 */
    int64_t *index;  /* unique across files, stable under --shard */
    int *file;       /* which --data/--harmful/--harmless file */
    int64_t rows_in_file[CLI_MAX_FILES];
    char text_col[CLI_MAX_FILES][64], label_col[CLI_MAX_FILES][64];
} cli_rows;

extern const char *CLI_DATA_HELP;
/* Consumes a data option at argv[*i] (advancing *i past its value): 1 if
 * it was one, 0 if not, -1 after printing a usage error. */
int cli_data_option(const char *cmd, int argc, char **argv, int *i, cli_data_opts *o);
/* Loads every file; prints errors. Returns 0, 1 (failure) or 2 (usage). */
int cli_data_load(const cli_data_opts *o, cli_rows *out);
void cli_rows_free(cli_rows *r);
/* The template text for --template ARG (NULL = plain): *tmpl_out is malloc'd. */
int cli_template(const char *arg, char **tmpl_out, const char **name_out);

/* ---- the model's own chat template (chat.c) ---- */
typedef struct cli_chat {
    const attrib_chat_family *family; /* the recognised family */
    char *tmpl;                       /* the built template (free) */
    char name[64];                    /* "auto:qwen3" / "chat:llama3", for provenance */
    const char *positive, *negative;  /* default label words (auto), else NULL */
} cli_chat;
/* ARG "auto" or "chat", or NULL (the default: auto when the model has a
 * recognised chat template). 0 = *OUT is filled; -1 = not a chat-template
 * choice (use cli_template; for NULL, no usable chat template); >0 = error
 * printed, the exit code. */
int cli_chat_template(const attrib_tokenizer *tok, const char *arg, const char *system, int thinking, cli_chat *out);
/* TEXT trimmed as the family trims message text (a new string to free). */
char *cli_chat_trim(const cli_chat *c, const char *text);

int cmd_probe(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* A JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD (cmd_tokenize.c). */
json_t *cli_json_bytes(const char *s, size_t n);

#endif
