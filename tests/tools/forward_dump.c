/*
 * forward_dump — runs attrib_forward as a JSON request says and writes the
 * logits as raw little-endian float32. Used by tests/py/check_forward.py to
 * compare the library with the independent PyTorch reference. Uses only the
 * public API (include/attrib.h).
 *
 *   forward_dump MODEL REQUEST.json OUT.bin
 *
 * REQUEST (every key optional except one of tokens / embeddings_file):
 *   "tokens":          [[id, ...], ...]        B rows of T ids
 *   "embeddings_file": "x.f32"                 raw float32 (B, T, C); needs "shape": [B, T]
 *   "shape":           [B, T]                  required with embeddings_file
 *   "positions":       [[p, ...], ...]         (B, T)
 *   "key_mask":        [[0|1, ...], ...]       (B, T)
 *   "lengths":         [n, ...]                (B) for "last"
 *   "logits":          "all" | "last"          default "all"
 *   "prefix":          P                       first P tokens go through a KV cache
 *   "threads":         N                       default 0 (all CPUs)
 *
 * With prefix P > 0 the first P tokens of every sequence are run with a cache
 * (store = 1, no logits), then the remaining T - P tokens are run from that
 * cache; the output holds only those positions' logits ("all": B*(T-P)*V;
 * "last": B*V with lengths taken relative to P). Errors go to stderr, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attrib.h"

static void die(const char *what)
{
    fprintf(stderr, "forward_dump: %s\n", what);
    exit(1);
}

static void die_attrib(const char *what, attrib_status st)
{
    fprintf(stderr, "forward_dump: %s failed: %s: %s\n", what, attrib_status_name(st),
            attrib_last_error());
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory");
    return p;
}

/* Reads a (B, T) integer matrix; sets *b, *t on first use, checks them after. */
static int32_t *read_matrix(json_t *arr, const char *name, int *b, int *t)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        fprintf(stderr, "forward_dump: \"%s\" must be a non-empty array of arrays\n", name);
        exit(1);
    }
    int rows = (int)json_array_size(arr);
    json_t *first = json_array_get(arr, 0);
    if (!json_is_array(first) || json_array_size(first) == 0) {
        fprintf(stderr, "forward_dump: \"%s\" rows must be non-empty arrays\n", name);
        exit(1);
    }
    int cols = (int)json_array_size(first);
    if ((*b && *b != rows) || (*t && *t != cols)) {
        fprintf(stderr, "forward_dump: \"%s\" is %dx%d, expected %dx%d\n", name, rows, cols, *b, *t);
        exit(1);
    }
    *b = rows;
    *t = cols;
    int32_t *out = xcalloc((size_t)rows * cols, sizeof(int32_t));
    for (int i = 0; i < rows; i++) {
        json_t *row = json_array_get(arr, i);
        if (!json_is_array(row) || (int)json_array_size(row) != cols) {
            fprintf(stderr, "forward_dump: \"%s\" row %d has the wrong length\n", name, i);
            exit(1);
        }
        for (int j = 0; j < cols; j++) {
            json_t *v = json_array_get(row, j);
            if (!json_is_integer(v)) {
                fprintf(stderr, "forward_dump: \"%s\"[%d][%d] is not an integer\n", name, i, j);
                exit(1);
            }
            out[(size_t)i * cols + j] = (int32_t)json_integer_value(v);
        }
    }
    return out;
}

/* Columns [from, from + n) of a (B, T) matrix of ELEM-byte elements. */
static void *slice_cols(const void *src, int b, int t, int from, int n, size_t elem)
{
    if (!src) return NULL;
    char *out = xcalloc((size_t)b * n, elem);
    for (int i = 0; i < b; i++)
        memcpy(out + (size_t)i * n * elem, (const char *)src + ((size_t)i * t + from) * elem,
               (size_t)n * elem);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: forward_dump MODEL REQUEST.json OUT.bin\n");
        return 2;
    }
    json_error_t jerr;
    json_t *req = json_load_file(argv[2], 0, &jerr);
    if (!req || !json_is_object(req)) {
        fprintf(stderr, "forward_dump: %s: %s (line %d)\n", argv[2], jerr.text, jerr.line);
        return 1;
    }

    attrib_model_options opt = attrib_model_default_options();
    json_t *jthreads = json_object_get(req, "threads");
    if (json_is_integer(jthreads)) opt.n_threads = (int)json_integer_value(jthreads);
    attrib_model *model = NULL;
    attrib_status st = attrib_model_load(argv[1], &opt, &model);
    if (st != ATTRIB_OK) die_attrib("attrib_model_load", st);
    const attrib_model_info *info = attrib_model_get_info(model);
    const int C = info->n_embd, V = info->n_vocab;

    int B = 0, T = 0;
    int32_t *tokens = NULL, *positions = NULL, *lengths = NULL;
    uint8_t *key_mask = NULL;
    float *emb = NULL;

    json_t *jt = json_object_get(req, "tokens");
    json_t *jemb = json_object_get(req, "embeddings_file");
    if (jt && !json_is_null(jt)) tokens = read_matrix(jt, "tokens", &B, &T);
    if (jemb && !json_is_null(jemb)) {
        if (tokens) die("give either tokens or embeddings_file, not both");
        json_t *shape = json_object_get(req, "shape");
        if (!json_is_array(shape) || json_array_size(shape) != 2)
            die("embeddings_file needs \"shape\": [B, T]");
        B = (int)json_integer_value(json_array_get(shape, 0));
        T = (int)json_integer_value(json_array_get(shape, 1));
        if (B <= 0 || T <= 0) die("bad shape");
        size_t n = (size_t)B * T * C;
        emb = xcalloc(n, sizeof(float));
        FILE *f = fopen(json_string_value(jemb), "rb");
        if (!f) die("cannot open embeddings_file");
        if (fread(emb, sizeof(float), n, f) != n) die("embeddings_file is shorter than B*T*C floats");
        fclose(f);
    }
    if (!tokens && !emb) die("the request has neither tokens nor embeddings_file");

    json_t *jp = json_object_get(req, "positions");
    if (jp && !json_is_null(jp)) positions = read_matrix(jp, "positions", &B, &T);
    json_t *jm = json_object_get(req, "key_mask");
    if (jm && !json_is_null(jm)) {
        int32_t *m = read_matrix(jm, "key_mask", &B, &T);
        key_mask = xcalloc((size_t)B * T, 1);
        for (size_t i = 0; i < (size_t)B * T; i++) key_mask[i] = m[i] != 0;
        free(m);
    }
    json_t *jl = json_object_get(req, "lengths");
    if (jl && !json_is_null(jl)) {
        if (!json_is_array(jl) || (int)json_array_size(jl) != B) die("lengths must have B entries");
        lengths = xcalloc((size_t)B, sizeof(int32_t));
        for (int i = 0; i < B; i++) lengths[i] = (int32_t)json_integer_value(json_array_get(jl, i));
    }
    attrib_logits_mode mode = ATTRIB_LOGITS_ALL;
    json_t *jlog = json_object_get(req, "logits");
    if (json_is_string(jlog)) {
        if (!strcmp(json_string_value(jlog), "last")) mode = ATTRIB_LOGITS_LAST;
        else if (strcmp(json_string_value(jlog), "all")) die("logits must be \"all\" or \"last\"");
    }
    int P = 0;
    json_t *jpre = json_object_get(req, "prefix");
    if (json_is_integer(jpre)) P = (int)json_integer_value(jpre);
    if (P < 0 || P >= T) die("prefix must be in [0, T)");

    int T2 = T - P; /* tokens of the pass whose logits we output */
    size_t n_out = mode == ATTRIB_LOGITS_ALL ? (size_t)B * T2 * V : (size_t)B * V;
    float *logits = xcalloc(n_out, sizeof(float));

    if (P == 0) {
        attrib_batch batch = {0};
        batch.n_seq = B;
        batch.n_tokens = T;
        batch.tokens = tokens;
        batch.embeddings = emb;
        batch.positions = positions;
        batch.key_mask = key_mask;
        batch.lengths = lengths;
        batch.logits_mode = mode;
        st = attrib_forward(model, &batch, NULL, logits);
        if (st != ATTRIB_OK) die_attrib("attrib_forward", st);
    } else {
        attrib_cache *cache = NULL;
        st = attrib_cache_new(model, B, T, &cache);
        if (st != ATTRIB_OK) die_attrib("attrib_cache_new", st);
        attrib_batch pre = {0};
        pre.n_seq = B;
        pre.n_tokens = P;
        int32_t *tok1 = slice_cols(tokens, B, T, 0, P, sizeof(int32_t));
        int32_t *pos1 = slice_cols(positions, B, T, 0, P, sizeof(int32_t));
        uint8_t *km1 = slice_cols(key_mask, B, T, 0, P, 1);
        float *emb1 = slice_cols(emb, B, T, 0, P, sizeof(float) * C);
        pre.tokens = tok1;
        pre.embeddings = emb1;
        pre.positions = pos1;
        pre.key_mask = km1;
        pre.store = 1;
        pre.logits_mode = ATTRIB_LOGITS_NONE;
        st = attrib_forward(model, &pre, cache, NULL);
        if (st != ATTRIB_OK) die_attrib("attrib_forward (prefix)", st);
        for (int b = 0; b < B; b++)
            if (attrib_cache_len(cache, b) != P) die("cache length after the prefix pass is not P");

        attrib_batch rest = {0};
        rest.n_seq = B;
        rest.n_tokens = T2;
        int32_t *tok2 = slice_cols(tokens, B, T, P, T2, sizeof(int32_t));
        int32_t *pos2 = slice_cols(positions, B, T, P, T2, sizeof(int32_t));
        uint8_t *km2 = slice_cols(key_mask, B, T, P, T2, 1);
        float *emb2 = slice_cols(emb, B, T, P, T2, sizeof(float) * C);
        int32_t *len2 = NULL;
        if (lengths) {
            len2 = xcalloc((size_t)B, sizeof(int32_t));
            for (int b = 0; b < B; b++) len2[b] = lengths[b] - P;
        }
        rest.tokens = tok2;
        rest.embeddings = emb2;
        rest.positions = pos2;
        rest.key_mask = km2;
        rest.lengths = len2;
        rest.store = 1;
        rest.logits_mode = mode;
        st = attrib_forward(model, &rest, cache, logits);
        if (st != ATTRIB_OK) die_attrib("attrib_forward (from cache)", st);
        for (int b = 0; b < B; b++)
            if (attrib_cache_len(cache, b) != T) die("cache length after the second pass is not T");
        free(tok1); free(pos1); free(km1); free(emb1);
        free(tok2); free(pos2); free(km2); free(emb2); free(len2);
        attrib_cache_free(cache);
    }

    FILE *out = fopen(argv[3], "wb");
    if (!out) die("cannot open the output file");
    if (fwrite(logits, sizeof(float), n_out, out) != n_out || fclose(out) != 0)
        die("cannot write the output file");

    free(logits); free(tokens); free(positions); free(lengths); free(key_mask); free(emb);
    attrib_model_free(model);
    json_decref(req);
    return 0;
}
