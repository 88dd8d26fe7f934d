/*
 * test_util.h — small helpers shared by the C tests: where the shared real
 * assets are (ATTRIB_SHARED, default ../shared), and skipping politely
 * when a needed asset is absent.
 */
#ifndef ATTRIB_TEST_UTIL_H
#define ATTRIB_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline const char *test_shared_path(char *buf, size_t n, const char *rel) {
    const char *root = getenv("ATTRIB_SHARED");
    snprintf(buf, n, "%s/%s", root && *root ? root : "../shared", rel);
    return buf;
}

static inline int test_have(const char *path) { return access(path, R_OK) == 0; }

#endif
