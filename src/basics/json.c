/*
 * json.c — the allocation watch behind attrib_json_loadb (see json.h).
 *
 * jansson has one allocator for the whole process. The first time attrib
 * reads JSON it wraps whatever allocator is installed (jansson's default
 * malloc, or one the host program set) in a function that calls it
 * unchanged and only notes, per thread, that it returned NULL. The wrapper
 * changes nothing for the host: the same memory comes from the same place.
 * A host that installs another allocator later simply replaces the wrapper;
 * attrib then falls back to what jansson itself reports.
 */
#include "basics/json.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static json_malloc_t wrapped_malloc;
static _Thread_local bool allocation_failed;
static pthread_once_t wrap_once = PTHREAD_ONCE_INIT;

static void *watching_malloc(size_t n) {
    void *p = wrapped_malloc(n);
    if (!p) allocation_failed = true;
    return p;
}

static void wrap_allocator(void) {
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    wrapped_malloc = m ? m : malloc;
    json_set_alloc_funcs(watching_malloc, f ? f : free);
}

json_t *attrib_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err) {
    pthread_once(&wrap_once, wrap_allocator);
    allocation_failed = false;
    json_t *v = json_loadb(buf, len, flags, err);
    if (!allocation_failed && (v || err->text[0] != '\0')) return v;
    /* An allocation failed, or jansson gave up without a message, which it
     * does only when its lexer's first buffer cannot be allocated. */
    json_decref(v);
    snprintf(err->text, sizeof err->text, "out of memory");
    /* jansson.h's json_error_code() reads the code from the last byte. */
    err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_out_of_memory;
    return NULL;
}
