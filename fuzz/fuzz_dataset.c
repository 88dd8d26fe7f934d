/*
 * fuzz_dataset.c — libFuzzer target for the dataset loader (src/dataset.c).
 *
 * Input: one option byte, then the file's bytes. The bytes are loaded twice
 * through dataset_load_memory, once forced to CSV and once forced to JSON
 * (array or JSONL by the first byte), so that every input reaches both
 * parsers whatever it starts with. The option byte picks one of four option
 * sets (defaults; exact positive + limit + shard; seeded sample + shard;
 * explicit text column + default label + limit) and feeds the sample size
 * and seed. Limits are lowered (4,096 rows, 256 columns) so that the limit
 * paths are reachable at fuzzing sizes.
 *
 * A successful load must keep every documented invariant (non-empty
 * NUL-free texts of the stated length, labels in {-1, 0, 1} and equal to
 * default_label without a label column, increasing indexes and source rows
 * within the file, shard membership, limit). A failed one must leave the
 * output untouched and explain itself in a fresh message. Every text byte
 * is read so that ASan sees a pointer outside the buffers; everything is
 * freed so that LeakSanitizer sees leaks on error paths.
 */
#include "attrib.h"
#include "basics/common.h"
#include "task/dataset.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t g_sink;

static attrib_dataset_options options_for(uint8_t mode) {
    attrib_dataset_options o = attrib_dataset_default_options();
    switch (mode & 3) {
    case 0: break;
    case 1:
        o.positive = "unsafe";
        o.default_label = 0;
        o.limit = 5;
        o.shard_k = 2;
        o.shard_n = 3;
        break;
    case 2:
        o.sample = 1 + (mode >> 4);
        o.seed = mode;
        o.shard_k = 1;
        o.shard_n = 2;
        break;
    default:
        o.text_col = "instruction";
        o.label_col = (mode & 4) ? "category" : NULL;
        o.default_label = 1;
        o.limit = 3;
        break;
    }
    return o;
}

static void check_dataset(const attrib_dataset *ds, const attrib_dataset_options *o) {
    int64_t n = attrib_dataset_size(ds), file_rows = attrib_dataset_file_rows(ds);
    if (file_rows < 1 || n < 0 || n > file_rows) __builtin_trap();
    if (!attrib_dataset_text_col(ds)) __builtin_trap();
    const char *label_col = attrib_dataset_label_col(ds);
    int64_t prev_index = -1, prev_row = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *t = attrib_dataset_text(ds, i, &len);
        if (!t || len == 0 || strlen(t) != len) __builtin_trap();
        for (size_t k = 0; k < len; k++) g_sink += (uint8_t)t[k];
        int label = attrib_dataset_label(ds, i);
        if (label < -1 || label > 1) __builtin_trap();
        if (!label_col && label != o->default_label) __builtin_trap();
        const char *id = attrib_dataset_id(ds, i);
        if (!id) __builtin_trap();
        g_sink += strlen(id);
        int64_t index = attrib_dataset_index(ds, i), row = attrib_dataset_source_row(ds, i);
        if (index <= prev_index || row <= prev_row || row > file_rows) __builtin_trap();
        if (o->shard_n && index % o->shard_n != o->shard_k - 1) __builtin_trap();
        if (o->limit && index >= o->limit) __builtin_trap();
        if (o->sample == 0 && row != index + 1) __builtin_trap();
        prev_index = index;
        prev_row = row;
    }
    if (attrib_dataset_text(ds, n, NULL) || attrib_dataset_id(ds, -1) || attrib_dataset_index(ds, n) != -1)
        __builtin_trap();
}

static void fuzz_format(const uint8_t *data, size_t size, dataset_format format, const attrib_dataset_options *o) {
    dataset_limits lim = dataset_default_limits();
    lim.max_rows = 4096;
    lim.max_cols = 256;
    attrib_dataset *sentinel = (attrib_dataset *)(uintptr_t)0x1, *ds = sentinel;
    attrib_fail(ATTRIB_OK, "%s", ""); /* so that a failure without a message shows */
    attrib_status s = dataset_load_memory("fuzz", data, size, format, &lim, o, &ds);
    if (s == ATTRIB_OK) {
        check_dataset(ds, o);
        attrib_dataset_free(ds);
    } else {
        if (ds != sentinel) __builtin_trap();
        if (attrib_last_error()[0] == '\0') __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    attrib_dataset_options o = options_for(data[0]);
    fuzz_format(data + 1, size - 1, DATASET_FORMAT_CSV, &o);
    fuzz_format(data + 1, size - 1, DATASET_FORMAT_JSON, &o);
    return 0;
}
