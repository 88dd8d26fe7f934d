/*
 * dataset.h — private interface of the dataset loader (src/dataset.c).
 *
 * The public entry point, attrib_dataset_load, reads a file. The fuzz
 * target and the unit tests also need to feed bytes straight from memory,
 * to force one format (so that every input reaches both the CSV and the
 * JSON parser) and to lower the resource limits (so that the limit paths
 * can be reached with small inputs). Only src/dataset.c, tests/test-dataset.c
 * and fuzz/fuzz_dataset.c use this header.
 */
#ifndef ATTRIB_DATASET_H
#define ATTRIB_DATASET_H

#include "basics/common.h"

/* Largest dataset file read (bytes), data rows kept, and CSV header fields. */
#define DATASET_MAX_BYTES ((size_t)1 << 30)
#define DATASET_MAX_ROWS ((size_t)1 << 24)
#define DATASET_MAX_COLS ((size_t)1 << 16)

typedef enum dataset_format {
    DATASET_FORMAT_AUTO = 0, /* as attrib_dataset_load decides: '[' or '{' first = JSON, else CSV */
    DATASET_FORMAT_CSV = 1,
    DATASET_FORMAT_JSON = 2 /* JSON array or JSONL, by the first non-space byte */
} dataset_format;

typedef struct dataset_limits {
    size_t max_bytes; /* input size */
    size_t max_rows;  /* data rows in the file (before selection) */
    size_t max_cols;  /* CSV header fields */
} dataset_limits;

/* The limits attrib_dataset_load uses. */
dataset_limits dataset_default_limits(void);

/* Loads LEN bytes of DATA (copied; need not be NUL-terminated) as the
 * dataset file NAME (used only in messages), with FORMAT forced or
 * detected, under LIMITS (NULL = defaults) and OPT (NULL = defaults).
 * Same contract as attrib_dataset_load. */
attrib_status dataset_load_memory(const char *name, const void *data, size_t len, dataset_format format,
                                  const dataset_limits *limits, const attrib_dataset_options *opt,
                                  attrib_dataset **out);

#endif /* ATTRIB_DATASET_H */
