/*
 * tokenizer.h — private constructors of the tokenizers (src/tokenizer*.c),
 * used by the model loader: a GGUF model carries its vocabulary in metadata,
 * a Hugging Face directory in tokenizer.json.
 */
#ifndef ATTRIB_TOKENIZER_H
#define ATTRIB_TOKENIZER_H

#include "basics/common.h"
#include "basics/gguf.h"

/* Builds the tokenizer described by a GGUF file's tokenizer.ggml.* keys.
 * Copies what it needs: the gguf context may be freed afterwards. */
attrib_status attrib_tokenizer_from_gguf(const gguf_ctx *g, attrib_tokenizer **out);

/* Builds a tokenizer from a tokenizer.json file; TOKENIZER_CONFIG (may be
 * NULL) is the path of a tokenizer_config.json next to it, which says
 * whether BOS/EOS are added. */
attrib_status attrib_tokenizer_from_json_file(const char *tokenizer_json, const char *tokenizer_config,
                                              attrib_tokenizer **out);

/* attrib_tokenize, except that special-token text overlapping the byte
 * range [PROTECT_BEGIN, PROTECT_END) of TEXT is not recognised even with
 * ATTRIB_TOK_PARSE_SPECIAL (it is tokenized as plain text), and the lstrip /
 * rstrip of added tokens outside it never take whitespace from inside it.
 * An empty range gives exactly attrib_tokenize. Used by prompt templates to
 * keep user input from injecting control tokens. */
attrib_status tok_encode_protected(const attrib_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                   size_t protect_begin, size_t protect_end, attrib_token **tokens_out,
                                   size_t *n_out);

#endif /* ATTRIB_TOKENIZER_H */
