/*
 * json.h — jansson loads that never mistake running out of memory for a bad
 * file.
 *
 * Every JSON reader in attrib (tokenizer.json, tokenizer_config.json,
 * config.json, safetensors headers and index files, JSON and JSONL datasets)
 * loads through attrib_json_loadb. jansson 2.14 does not report every
 * allocation failure as json_error_out_of_memory: a failure while lexing a
 * string or number comes back as a syntax error ("string or '}' expected"),
 * a failure of the lexer's first buffer as an error with no message at all,
 * and a failure to grow a string being lexed is ignored, so the load
 * succeeds with one byte silently missing from that string (jansson issue
 * #362; found by attrib's fault-injection tests). attrib_json_loadb
 * therefore watches the allocations themselves.
 */
#ifndef ATTRIB_JSON_H
#define ATTRIB_JSON_H

#include <jansson.h>
#include <stddef.h>

/* json_loadb(BUF, LEN, FLAGS, ERR), except that when any allocation failed
 * during the load the result (possibly damaged) is dropped and NULL is
 * returned with ERR marked so that json_error_code(ERR) is
 * json_error_out_of_memory. Callers test that code before any other. */
json_t *attrib_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

#endif
