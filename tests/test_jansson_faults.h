/*
 * test_jansson_faults.h — puts jansson's allocations under the tests' fault
 * injection. jansson keeps one allocator for the whole process, so the
 * library must not replace it (a host program may have its own); a test
 * binary is its own host, so it routes jansson through attrib_malloc and the
 * k-th-allocation sweeps then also fail the allocations made while parsing
 * tokenizer.json, config.json, safetensors headers and JSON datasets.
 *
 * One kind is left alone: jansson 2.14 does not survive a failure to grow
 * its lexer's token buffer (it ignores the failure, then reads past the
 * buffer or fails an assertion: jansson issue #362), so that is a jansson
 * bug no caller can handle. The buffer grows by doubling from 16 bytes, so
 * allocations of a power of two of at least 32 bytes are never failed here
 * (a few others of those sizes are spared with them).
 *
 * test_jansson_faults_paused lets a test sweep only attrib's own allocations
 * over a large input, after sweeping every allocation over a small one: the
 * number of sweep points grows with jansson's per-value allocations, and the
 * cost of the sweep with their square.
 */
#ifndef ATTRIB_TEST_JANSSON_FAULTS_H
#define ATTRIB_TEST_JANSSON_FAULTS_H

#include <jansson.h>
#include <stdlib.h>

#include "basics/common.h"

static int test_jansson_faults_paused;

static void *test_jansson_malloc(size_t n) {
    if (test_jansson_faults_paused || (n >= 32 && (n & (n - 1)) == 0)) return malloc(n);
    return attrib_malloc(n);
}

static inline void test_count_jansson_allocations(void) { json_set_alloc_funcs(test_jansson_malloc, free); }

#endif
