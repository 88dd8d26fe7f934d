/*
 * tokenize_dump — tokenizes many texts with one tokenizer load and prints the
 * ids as JSON. Used by tests/py/check_llamacpp.py to compare attrib's
 * tokenizer with llama.cpp's on whole datasets (XSTest's 450 prompts) without
 * starting the CLI once per prompt. Uses only the public API (include/attrib.h).
 *
 *   tokenize_dump MODEL REQUEST.json
 *
 * MODEL is anything attrib_tokenizer_load accepts (a .gguf: only its
 * metadata is read). REQUEST:
 *   "texts":         ["...", ...]   UTF-8 texts, tokenized exactly as given
 *   "add_special":   true|false     ATTRIB_TOK_ADD_SPECIAL (default true)
 *   "parse_special": true|false     ATTRIB_TOK_PARSE_SPECIAL (default false)
 * Output on stdout: {"ids": [[id, ...], ...]} in the order of "texts".
 * A text attrib refuses gives null in its place and a message on stderr.
 * Errors go to stderr, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "attrib.h"

static void die(const char *what)
{
    fprintf(stderr, "tokenize_dump: %s\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3) die("usage: tokenize_dump MODEL REQUEST.json");
    json_error_t jerr;
    json_t *req = json_load_file(argv[2], 0, &jerr);
    if (!req) die(jerr.text);
    json_t *texts = json_object_get(req, "texts");
    if (!json_is_array(texts)) die("\"texts\" must be an array of strings");
    json_t *v = json_object_get(req, "add_special");
    unsigned flags = (!v || json_is_true(v)) ? ATTRIB_TOK_ADD_SPECIAL : 0u;
    if (json_is_true(json_object_get(req, "parse_special"))) flags |= ATTRIB_TOK_PARSE_SPECIAL;

    attrib_tokenizer *tok = NULL;
    attrib_status st = attrib_tokenizer_load(argv[1], &tok);
    if (st != ATTRIB_OK) {
        fprintf(stderr, "tokenize_dump: attrib_tokenizer_load: %s: %s\n", attrib_status_name(st),
                attrib_last_error());
        return 1;
    }
    json_t *all = json_array();
    if (!all) die("out of memory");
    for (size_t i = 0; i < json_array_size(texts); i++) {
        json_t *t = json_array_get(texts, i);
        if (!json_is_string(t)) die("\"texts\" must hold strings");
        attrib_token *toks = NULL;
        size_t n = 0;
        st = attrib_tokenize(tok, json_string_value(t), json_string_length(t), flags, &toks, &n);
        if (st != ATTRIB_OK) {
            fprintf(stderr, "tokenize_dump: text %zu: %s: %s\n", i, attrib_status_name(st),
                    attrib_last_error());
            json_array_append_new(all, json_null());
            continue;
        }
        json_t *row = json_array();
        if (!row) die("out of memory");
        for (size_t j = 0; j < n; j++) json_array_append_new(row, json_integer(toks[j].id));
        attrib_free(toks);
        json_array_append_new(all, row);
    }
    json_t *out = json_pack("{s:o}", "ids", all);
    if (!out || json_dumpf(out, stdout, JSON_COMPACT) != 0) die("cannot write the output");
    putchar('\n');
    json_decref(out);
    json_decref(req);
    attrib_tokenizer_free(tok);
    return 0;
}
