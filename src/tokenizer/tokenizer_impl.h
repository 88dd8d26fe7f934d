/*
 * tokenizer_impl.h — internals shared by the tokenizer sources
 * (tokenizer.c, tokenizer_model.c, tokenizer_text.c, tokenizer_json.c,
 * tokenizer_gguf.c).
 *
 * One struct describes every supported tokenizer as a small pipeline:
 *   added-token partition -> normalisation ops -> pre-tokenizer splits ->
 *   model (llama.cpp SPM score merging, or rank-ordered BPE) -> ids.
 * The loaders (JSON, GGUF) only fill this struct; the pipeline code never
 * looks at where a tokenizer came from. Every byte of the working buffer
 * carries the byte range of the user's text it came from, which is how each
 * token learns its span.
 */
#ifndef ATTRIB_TOKENIZER_IMPL_H
#define ATTRIB_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "basics/common.h"
#include "tokenizer/tokenizer.h"

/* Inputs longer than this are refused with ATTRIB_E_LIMIT: spans are 32-bit
 * and the working buffers are a small multiple of the input. */
#define TOK_MAX_TEXT (64u * 1024u * 1024u)
/* Bound on vocabulary size and on a single piece, against hostile files. */
#define TOK_MAX_VOCAB (1 << 24)
#define TOK_MAX_PIECE (1u << 16)
#define TOK_MAX_OPS 16
#define TOK_MAX_SPLITS 8

typedef enum tok_algo {
    TOK_ALGO_SPM = 0, /* llama.cpp SentencePiece: merge the best-scoring adjacent pair */
    TOK_ALGO_BPE = 1  /* merge the lowest-ranked pair from a merges list */
} tok_algo;

typedef enum tok_op_kind {
    TOK_OP_PREPEND = 0,        /* prepend str to a non-empty fragment */
    TOK_OP_PREPEND_IF_NOT = 1, /* prepend str unless the fragment already starts with it */
    TOK_OP_REPLACE = 2,        /* replace every occurrence of str by str2 */
    TOK_OP_NFC = 3,
    TOK_OP_NFKC = 4,
    TOK_OP_NFD = 5,
    TOK_OP_NFKD = 6,
    TOK_OP_LOWERCASE = 7
} tok_op_kind;

typedef struct tok_op {
    tok_op_kind kind;
    int first_only;     /* PREPEND*: only on the first fragment of the text */
    char *str, *str2;
    size_t len, len2;
} tok_op;

typedef enum tok_split_kind {
    TOK_SPLIT_REGEX_ISOLATED = 0, /* matches and the gaps between them become pieces */
    TOK_SPLIT_REGEX_REMOVED = 1,  /* matches are dropped, gaps become pieces */
    TOK_SPLIT_BEFORE_STR = 2      /* a new piece starts at each occurrence of str (Metaspace) */
} tok_split_kind;

typedef struct tok_split {
    tok_split_kind kind;
    pcre2_code *re;
    char *str;
    size_t len;
} tok_split;

typedef struct tok_added {
    int32_t id;
    int special; /* matched only with ATTRIB_TOK_PARSE_SPECIAL */
    int lstrip, rstrip;
} tok_added;

typedef struct tok_merge_slot {
    int32_t a, b;     /* pair of ids; a == -1 marks an empty slot */
    int32_t rank;
    int32_t result;
} tok_merge_slot;

struct attrib_tokenizer {
    attrib_tokenizer_kind kind;
    tok_algo algo;
    int32_t n_vocab;
    char *blob;          /* all pieces, each NUL-terminated */
    size_t blob_len;
    size_t *off;         /* piece i starts at blob + off[i] */
    uint32_t *plen;
    float *scores;       /* SPM only (may be NULL otherwise) */
    uint8_t *types;      /* attrib_token_type per id */
    int32_t *htab;       /* piece text -> id, open addressing, -1 empty */
    size_t hmask;
    tok_merge_slot *mtab; /* (a, b) -> rank and merged id */
    size_t mmask;
    size_t n_merges;

    int32_t bos, eos, unk, pad;
    int add_bos, add_eos;

    tok_op ops[TOK_MAX_OPS];
    int n_ops;
    tok_split splits[TOK_MAX_SPLITS];
    int n_splits;

    int byte_level;      /* pieces use the GPT-2 byte-to-unicode alphabet */
    int byte_fallback;   /* <0xXX> tokens for characters not in the vocabulary */
    int fuse_unk;
    int ignore_merges;   /* a whole pre-token found in the vocabulary is emitted as is */
    int32_t byte_tok[256]; /* id of <0xXX>, or -1 */
    int32_t bl_tok[256];   /* id of the byte-level character for each byte, or -1 */

    tok_added *added;    /* sorted by id; matched leftmost-longest in the text */
    size_t n_added;
    int32_t *added_of_id; /* index into added[] per id, or -1 (n_vocab entries) */
    size_t *match_idx;    /* indices of added[] grouped by first byte of their text */
    size_t match_start[257];

    /* The model's chat template (Jinja text from GGUF tokenizer.chat_template
     * or tokenizer_config.json chat_template), NUL-terminated, or NULL. Only
     * ever read as data (task/chat_template.c recognises its family). */
    char *chat_template;

    /* Decoder. */
    int dec_meta_to_space;   /* ▁ becomes a space */
    int dec_strip_space;     /* drop one leading space of the decoded text */
};

/* Span-carrying working buffer: byte i of buf came from [sb[i], se[i]) of
 * the user's text. */
typedef struct tok_buf {
    char *buf;
    uint32_t *sb, *se;
    size_t len, cap;
} tok_buf;

/* A pre-token: [a, b) of the normalised buffer. */
typedef struct tok_range {
    size_t a, b;
} tok_range;

/* Growable output token list. */
typedef struct tok_out {
    attrib_token *t;
    size_t n, cap;
} tok_outbuf;

/* tokenizer.c */
attrib_tokenizer *tok_alloc(void);
attrib_status tok_set_vocab_size(attrib_tokenizer *tok, int64_t n);
attrib_status tok_set_pieces(attrib_tokenizer *tok, const char *const *txt, const size_t *len);
attrib_status tok_build_index(attrib_tokenizer *tok);
int32_t tok_find(const attrib_tokenizer *tok, const char *s, size_t len);
attrib_status tok_add_merge(attrib_tokenizer *tok, int32_t a, int32_t b, int32_t rank);
attrib_status tok_merges_reserve(attrib_tokenizer *tok, size_t n);
int32_t tok_merge_lookup(const attrib_tokenizer *tok, int32_t a, int32_t b, int32_t *result);
attrib_status tok_finish(attrib_tokenizer *tok);
attrib_status tok_out_push(tok_outbuf *o, int32_t id, uint32_t begin, uint32_t end);
void tok_free_internal(attrib_tokenizer *tok);
size_t tok_utf8_len(const unsigned char *s, size_t n);
const char *tok_piece(const attrib_tokenizer *tok, int32_t id, size_t *len);

/* tokenizer_text.c: normalisation and pre-tokenisation */
attrib_status tok_buf_reserve(tok_buf *b, size_t cap);
void tok_buf_free(tok_buf *b);
attrib_status tok_normalize(const attrib_tokenizer *tok, const char *text, size_t off, size_t len,
                            int first_fragment, tok_buf *out, tok_buf *tmp);
attrib_status tok_pretokenize(const attrib_tokenizer *tok, const tok_buf *nb, tok_range **ranges,
                              size_t *n, size_t *cap);
attrib_status tok_compile_regex(const char *pattern, size_t len, pcre2_code **out);
void tok_byte_level_init(void);
/* UTF-8 of the byte-level character standing for byte B (1 or 2 bytes). */
size_t tok_byte_level_char(unsigned b, char out[2]);
/* Inverse: byte for the byte-level code point CP, or -1. */
int tok_byte_level_byte(uint32_t cp);

/* tokenizer_model.c: SPM and BPE on one pre-token */
typedef struct tok_scratch tok_scratch;
tok_scratch *tok_scratch_new(void);
void tok_scratch_free(tok_scratch *s);
attrib_status tok_model_encode(const attrib_tokenizer *tok, const tok_buf *nb, tok_range r,
                               tok_scratch *s, tok_outbuf *out);

/* tokenizer_json.c / tokenizer_gguf.c */
/* Chat templates longer than this are refused (ATTRIB_E_LIMIT). */
#define TOK_MAX_CHAT_TEMPLATE (1u << 20)
attrib_status tok_set_chat_template(attrib_tokenizer *tok, const char *text, size_t len, const char *what);
attrib_status tok_from_json_text(const char *json, size_t len, const char *config, size_t config_len,
                                 attrib_tokenizer **out);

#endif /* ATTRIB_TOKENIZER_IMPL_H */
