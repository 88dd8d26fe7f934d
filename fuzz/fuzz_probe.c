/*
 * fuzz_probe.c — libFuzzer target for probe files (small GGUFs with
 * general.architecture "attrib-probe", written by `attrib probe train`).
 *
 * Each input goes through the GGUF reader and the probe's own checks
 * (probe_load_memory). A probe that loads is used: its logit on a fixed
 * feature row must be finite (the loader promises finite weights and
 * positive scales), and it is saved and loaded again, which must give the
 * same parameters. Any status is acceptable for a bad file; a crash,
 * sanitizer report, leak, failure without a message or a non-finite logit
 * from an accepted probe is not.
 */
#include "attrib.h"
#include "task/probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    attrib_probe *p = NULL;
    attrib_status s = probe_load_memory(data, size, &p);
    if (s) {
        if (p || !attrib_last_error()[0]) __builtin_trap();
        return 0;
    }
    float *h = calloc((size_t)p->dim, sizeof(float));
    if (!h) __builtin_trap();
    for (int d = 0; d < p->dim; d++) h[d] = (float)(d % 7) - 3.0f;
    /* finite parameters and positive scales still overflow for extreme values: only NaN is a bug */
    if (isnan(attrib_probe_logit(p, h))) {
        int weird = 0;
        for (int d = 0; d < p->dim; d++) weird |= !isfinite(p->w[d] / p->scale[d]) || !isfinite((h[d] - p->mean[d]) / p->scale[d]);
        if (!weird) __builtin_trap();
    }
    free(h);
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-probe-%d.gguf", (int)getpid());
    if (attrib_probe_save(p, path, NULL) == ATTRIB_OK) {
        attrib_probe *q = NULL;
        if (attrib_probe_load(path, &q) != ATTRIB_OK) __builtin_trap();
        if (q->dim != p->dim || q->layer != p->layer || q->pool != p->pool || memcmp(q->w, p->w, sizeof(float) * p->dim) ||
            memcmp(q->scale, p->scale, sizeof(float) * p->dim) || memcmp(&q->bias, &p->bias, sizeof(float)))
            __builtin_trap();
        attrib_probe_free(q);
        remove(path);
    }
    attrib_probe_free(p);
    return 0;
}
