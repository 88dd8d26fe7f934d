/*
 * cli.h — shared pieces of the attrib command-line tool: each subcommand is
 * a cmd_<name>(argc, argv) function in its own file (argv[0] is the
 * subcommand's name), returning the process exit status: 0 on success,
 * 1 when the work failed, 2 for a usage error.
 */
#ifndef ATTRIB_CLI_H
#define ATTRIB_CLI_H

#include "attrib.h"

#include <stdbool.h>
#include <stdio.h>

int cmd_info(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* Prints "attrib: error: <what>: <library message>" to stderr; returns 1. */
int cli_fail_status(attrib_status s, const char *what);
/* Prints "attrib <cmd>: <message>" and a hint to run --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Parses a positive int option value; false (after printing) on error. */
bool cli_parse_int(const char *cmd, const char *opt, const char *val, int lo, int hi, int *out);

/* True when argv[i] equals one of the two spellings. */
bool cli_is(const char *arg, const char *a, const char *b);

/* Loads a model with the given thread count, printing any error. */
attrib_model *cli_load_model(const char *path, int n_threads, bool check_weights);

/* Seconds from a monotonic clock. */
double cli_now(void);

#endif
