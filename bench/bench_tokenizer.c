/*
 * bench_tokenizer.c — tokens per second of attrib_tokenize on one text file
 * (bench_tokenizer.py feeds it the XSTest prompts concatenated and runs the
 * transformers.js peer on the same text in the same run).
 *
 * usage: bench_tokenizer TOKENIZER TEXT_FILE [REPEATS]
 * prints one JSON line: {"tokens":N,"bytes":B,"seconds":S,"tokens_per_s":R}
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "attrib.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER TEXT_FILE [REPEATS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    if (reps < 1)
        reps = 1;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc(len > 0 ? (size_t)len : 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    fclose(f);
    attrib_tokenizer *tok = NULL;
    attrib_status st = attrib_tokenizer_load(argv[1], &tok);
    if (st) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], attrib_last_error());
        return 1;
    }
    double best = 1e30;
    size_t n = 0;
    for (int r = 0; r < reps; r++) {
        attrib_token *t = NULL;
        double t0 = now();
        st = attrib_tokenize(tok, text, (size_t)len, ATTRIB_TOK_ADD_SPECIAL, &t, &n);
        double dt = now() - t0;
        if (st) {
            fprintf(stderr, "tokenize failed: %s\n", attrib_last_error());
            return 1;
        }
        attrib_free(t);
        if (dt < best)
            best = dt;
    }
    printf("{\"tokens\":%zu,\"bytes\":%ld,\"seconds\":%.6f,\"tokens_per_s\":%.1f}\n", n, len, best, (double)n / best);
    attrib_tokenizer_free(tok);
    free(text);
    return 0;
}
