/*
 * attrib.h — the whole public API of libattrib.
 *
 * attrib explains local language models token by token: it loads the model
 * files people actually have (GGUF as llama.cpp and Ollama use them, or a
 * Hugging Face directory with config.json + safetensors + tokenizer.json),
 * tokenizes exactly as the model's own tokenizer does, runs the Llama-family
 * forward pass, and computes feature attributions on top of it.
 *
 * CONVENTIONS
 *   - Every public name starts with attrib_ / ATTRIB_. Handles are opaque.
 *   - Functions that can fail return an attrib_status. ATTRIB_OK is 0.
 *     On failure a human-readable message naming the offending key, tensor,
 *     offset or argument is available from attrib_last_error(), which is
 *     thread-local and valid until the next failing call on the same thread.
 *   - Output parameters are written only on success.
 *   - Ownership: a pointer returned through an out-parameter named *_out or
 *     documented "caller frees" must be released with the matching
 *     attrib_*_free() (handles) or attrib_free() (plain arrays and strings).
 *     Pointers returned directly (const char *, const attrib_model_info *)
 *     are borrowed and live as long as the handle they came from.
 *   - Every *_free(NULL) is a no-op.
 *   - The library never calls exit() or abort() and never prints, except
 *     where a function's documentation says it writes to a FILE*.
 *   - Untrusted input (model files, tokenizer files, datasets, user text)
 *     is validated with overflow-checked arithmetic before use.
 *
 * SHAPES
 *   Comments give array shapes as (B, T, C): B sequences in a batch, T
 *   tokens per sequence, C = model width (embedding length), V = vocabulary
 *   size. Arrays are row-major and contiguous.
 *
 * THREADS
 *   A model handle may be used by one thread at a time (it owns scratch
 *   memory). Work inside a call is spread over attrib_model_options.n_threads.
 */
#ifndef ATTRIB_H
#define ATTRIB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTRIB_VERSION_MAJOR 0
#define ATTRIB_VERSION_MINOR 1
#define ATTRIB_VERSION_PATCH 0
#define ATTRIB_VERSION_STRING "0.1.0"

/* Returns ATTRIB_VERSION_STRING of the library actually linked. */
const char *attrib_version(void);

/* ------------------------------------------------------------------------
 * Status codes. Loaders report the most specific code that applies; the
 * message says which key, tensor or offset was at fault.
 * ---------------------------------------------------------------------- */
typedef enum attrib_status {
    ATTRIB_OK = 0,
    ATTRIB_E_INVALID_ARG = 1,    /* a caller passed a bad argument */
    ATTRIB_E_IO = 2,             /* open/read/mmap failed */
    ATTRIB_E_NOMEM = 3,          /* an allocation failed */
    ATTRIB_E_LIMIT = 4,          /* input exceeds a documented resource limit */
    ATTRIB_E_BAD_MAGIC = 10,     /* not a GGUF / safetensors file */
    ATTRIB_E_BAD_VERSION = 11,   /* unsupported GGUF version */
    ATTRIB_E_TRUNCATED = 12,     /* the file ends before a structure it declares */
    ATTRIB_E_BAD_COUNT = 13,     /* a count (tensors, keys, array elements) is impossible */
    ATTRIB_E_BAD_STRING = 14,    /* a string length is impossible or the bytes are unusable */
    ATTRIB_E_BAD_TYPE = 15,      /* unknown metadata value type or tensor type */
    ATTRIB_E_BAD_DIMS = 16,      /* n_dims out of range, a zero/negative/overflowing dimension */
    ATTRIB_E_BAD_OFFSET = 17,    /* tensor data outside its section, or gaps in a safetensors data section */
    ATTRIB_E_BAD_ALIGNMENT = 18, /* tensor offset or general.alignment not aligned / invalid */
    ATTRIB_E_OVERLAP = 19,       /* two tensors share bytes */
    ATTRIB_E_DUPLICATE = 20,     /* a key or tensor name appears twice */
    ATTRIB_E_METADATA_TYPE = 21, /* a known key has the wrong value type */
    ATTRIB_E_MISSING = 22,       /* a required key, tensor or file is missing */
    ATTRIB_E_SHAPE = 23,         /* a tensor's shape disagrees with the hyper-parameters */
    ATTRIB_E_UNSUPPORTED = 24,   /* valid but not supported (architecture, type, option) */
    ATTRIB_E_BAD_JSON = 25,      /* JSON that does not parse or has the wrong structure */
    ATTRIB_E_BAD_VALUE = 26,     /* a hyper-parameter or id out of its valid range */
    ATTRIB_E_NUMERIC = 27,       /* NaN or Inf where a finite number is required */
    ATTRIB_E_BAD_TEXT = 28,      /* text input that cannot be processed as documented */
    ATTRIB_E_INTERNAL = 99
} attrib_status;

/* Short constant name of a status, e.g. "ATTRIB_E_TRUNCATED". Never NULL. */
const char *attrib_status_name(attrib_status s);

/* Message of the most recent failure on this thread ("" if none). Borrowed. */
const char *attrib_last_error(void);

/* Frees memory the library returned as "caller frees". NULL is a no-op. */
void attrib_free(void *p);

/* ------------------------------------------------------------------------
 * Models
 * ---------------------------------------------------------------------- */
typedef struct attrib_model attrib_model;
typedef struct attrib_tokenizer attrib_tokenizer;

typedef enum attrib_rope_layout {
    ATTRIB_ROPE_INTERLEAVED = 0, /* rotate adjacent pairs (x0,x1),(x2,x3)...: GGUF `llama` */
    ATTRIB_ROPE_HALF = 1         /* rotate (x_i, x_{i+d/2}): Hugging Face, GGUF NeoX-style archs */
} attrib_rope_layout;

typedef enum attrib_format {
    ATTRIB_FORMAT_GGUF = 0,
    ATTRIB_FORMAT_HF = 1 /* Hugging Face directory: config.json + safetensors */
} attrib_format;

/* Tensor element types, numbered as GGUF numbers them. */
typedef enum attrib_dtype {
    ATTRIB_DTYPE_F32 = 0,
    ATTRIB_DTYPE_F16 = 1,
    ATTRIB_DTYPE_Q4_0 = 2,
    ATTRIB_DTYPE_Q4_1 = 3,
    ATTRIB_DTYPE_Q5_0 = 6,
    ATTRIB_DTYPE_Q5_1 = 7,
    ATTRIB_DTYPE_Q8_0 = 8,
    ATTRIB_DTYPE_Q4_K = 12,
    ATTRIB_DTYPE_Q5_K = 13,
    ATTRIB_DTYPE_Q6_K = 14,
    ATTRIB_DTYPE_BF16 = 30,
    ATTRIB_DTYPE_COUNT_ = 31
} attrib_dtype;

/* "F32", "Q4_K", ...; "?" for a value that is not a supported type. */
const char *attrib_dtype_name(int dtype);

typedef struct attrib_model_options {
    int n_threads;        /* 0 = number of online CPUs */
    int check_weights;    /* non-zero: scan every weight for NaN/Inf at load */
} attrib_model_options;

/* Defaults: n_threads 0, check_weights 0. */
attrib_model_options attrib_model_default_options(void);

typedef struct attrib_model_info {
    const char *path;          /* as given to attrib_model_load */
    attrib_format format;
    const char *arch;          /* "llama", "qwen2", ... */
    const char *name;          /* general.name or the directory name; may be "" */
    int n_layer;
    int n_embd;                /* C */
    int n_head;
    int n_head_kv;
    int head_dim;
    int n_ff;
    int n_vocab;               /* V: rows of the embedding matrix */
    int n_ctx_train;           /* the model's context length */
    float rms_eps;
    float rope_theta;
    attrib_rope_layout rope_layout;
    int rope_dim;              /* rotated dimensions per head (== head_dim here) */
    int has_rope_freqs;        /* Llama 3 style per-dimension frequency factors */
    int has_qkv_bias;          /* qwen2 */
    int tied_output;           /* output matrix is the embedding matrix */
    uint64_t n_params;         /* parameters, tied matrices counted once */
    uint64_t weight_bytes;     /* bytes of tensor data as stored */
    uint32_t dtype_counts[ATTRIB_DTYPE_COUNT_]; /* tensors per attrib_dtype */
} attrib_model_info;

/* Loads a model: PATH is a .gguf file or a Hugging Face directory (or its
 * config.json). GGUF files are memory-mapped, never copied. On success
 * *model_out is a new handle the caller frees with attrib_model_free. */
attrib_status attrib_model_load(const char *path, const attrib_model_options *opt,
                                attrib_model **model_out);
void attrib_model_free(attrib_model *model);

/* Borrowed, valid while the model lives. */
const attrib_model_info *attrib_model_get_info(const attrib_model *model);

/* The model's own tokenizer (borrowed; NULL if the file carries none). */
const attrib_tokenizer *attrib_model_tokenizer(const attrib_model *model);

/* Sets the thread count for subsequent calls (0 = online CPUs). */
void attrib_model_set_threads(attrib_model *model, int n_threads);

/* Copies the input embeddings of N token ids into out (N, C).
 * Fails with ATTRIB_E_BAD_VALUE for an id outside [0, V). */
attrib_status attrib_model_embed(attrib_model *model, const int32_t *ids, size_t n, float *out);

/* ------------------------------------------------------------------------
 * KV cache: keys and values of already-processed tokens, so that a pass can
 * start from a cached prefix and compute only the suffix. A cache holds
 * n_seq independent sequences of up to n_ctx positions each.
 * ---------------------------------------------------------------------- */
typedef struct attrib_cache attrib_cache;

attrib_status attrib_cache_new(const attrib_model *model, int n_seq, int n_ctx,
                               attrib_cache **cache_out);
void attrib_cache_free(attrib_cache *cache);
/* Number of cached positions of sequence SEQ (0 for an out-of-range seq). */
int attrib_cache_len(const attrib_cache *cache, int seq);
/* Forgets positions >= LEN of sequence SEQ (LEN <= current length). */
attrib_status attrib_cache_truncate(attrib_cache *cache, int seq, int len);

/* ------------------------------------------------------------------------
 * Forward pass
 * ---------------------------------------------------------------------- */
typedef enum attrib_logits_mode {
    ATTRIB_LOGITS_ALL = 0,  /* logits for every position: (B, T, V) */
    ATTRIB_LOGITS_LAST = 1, /* logits of each sequence's last real token: (B, V) */
    ATTRIB_LOGITS_NONE = 2  /* no logits (only fill the cache) */
} attrib_logits_mode;

typedef struct attrib_batch {
    int n_seq;                 /* B >= 1 */
    int n_tokens;              /* T >= 1: new tokens per sequence in this pass */
    const int32_t *tokens;     /* (B, T) token ids, or NULL when embeddings is set */
    const float *embeddings;   /* (B, T, C) input embeddings, or NULL when tokens is set */
    const int32_t *positions;  /* (B, T) RoPE positions; NULL = cached length + t */
    const uint8_t *key_mask;   /* (B, T) 0 = no query may attend to this token (padding, or a
                                  token hidden from attention); NULL = all 1. A position whose
                                  key_mask is 0 still gets (meaningless) logits. */
    const int32_t *lengths;    /* (B) real tokens per sequence for ATTRIB_LOGITS_LAST
                                  (right padding); NULL = T */
    /* With a cache: sequence b reads the prefix of cache sequence cache_seq[b]
     * (NULL = b). If store is non-zero the pass appends its keys and values to
     * those cache sequences, which must then be distinct. */
    const int32_t *cache_seq;  /* (B) */
    /* (B) how many cached positions of cache_seq[b] row b continues from;
     * NULL = all of them. Lets one cached prompt serve many variants that
     * diverge at different positions. Must be NULL when store is set. */
    const int32_t *prefix_len;
    int store;
    attrib_logits_mode logits_mode;
} attrib_batch;

/* Runs the model on BATCH. CACHE may be NULL (no prefix, nothing stored).
 * LOGITS_OUT must hold B*T*V floats (ALL), B*V (LAST) or may be NULL (NONE). */
attrib_status attrib_forward(attrib_model *model, const attrib_batch *batch,
                             attrib_cache *cache, float *logits_out);

/* ------------------------------------------------------------------------
 * Tokenizers
 * ---------------------------------------------------------------------- */
typedef enum attrib_token_type {
    ATTRIB_TOKEN_NORMAL = 1,
    ATTRIB_TOKEN_UNKNOWN = 2,
    ATTRIB_TOKEN_CONTROL = 3,
    ATTRIB_TOKEN_USER_DEFINED = 4,
    ATTRIB_TOKEN_UNUSED = 5,
    ATTRIB_TOKEN_BYTE = 6
} attrib_token_type;

typedef enum attrib_tokenizer_kind {
    ATTRIB_TOKENIZER_SPM = 0,   /* SentencePiece-style (GGUF "llama") */
    ATTRIB_TOKENIZER_BPE = 1    /* BPE with merges (GGUF "gpt2", tokenizer.json BPE) */
} attrib_tokenizer_kind;

/* A token and the bytes of the original text it covers, [begin, end).
 * Tokens that cover no text (BOS, EOS) have begin == end. For byte-fallback
 * tokens and pieces that split a character, the span is that of the whole
 * character, so neighbouring spans may coincide. */
typedef struct attrib_token {
    int32_t id;
    uint32_t begin;
    uint32_t end;
} attrib_token;

/* Flags for attrib_tokenize. */
#define ATTRIB_TOK_ADD_SPECIAL   1u /* add BOS/EOS as the tokenizer's config says */
#define ATTRIB_TOK_PARSE_SPECIAL 2u /* recognise special-token text such as "<s>" */

/* Loads a stand-alone tokenizer: a tokenizer.json, a directory holding one,
 * or a .gguf file (only its metadata is read). Caller frees. */
attrib_status attrib_tokenizer_load(const char *path, attrib_tokenizer **tok_out);
void attrib_tokenizer_free(attrib_tokenizer *tok);

attrib_tokenizer_kind attrib_tokenizer_get_kind(const attrib_tokenizer *tok);
int attrib_tokenizer_n_vocab(const attrib_tokenizer *tok);
int attrib_tokenizer_bos(const attrib_tokenizer *tok); /* -1 if none */
int attrib_tokenizer_eos(const attrib_tokenizer *tok); /* -1 if none */
int attrib_tokenizer_unk(const attrib_tokenizer *tok); /* -1 if none */
int attrib_tokenizer_pad(const attrib_tokenizer *tok); /* -1 if none */
/* Token text as stored in the vocabulary (borrowed; *len set; NULL if id invalid). */
const char *attrib_tokenizer_piece(const attrib_tokenizer *tok, int32_t id, size_t *len);
attrib_token_type attrib_tokenizer_token_type(const attrib_tokenizer *tok, int32_t id);

/* Tokenizes LEN bytes of TEXT. On success *tokens_out is an array of *n_out
 * tokens (caller frees with attrib_free). */
attrib_status attrib_tokenize(const attrib_tokenizer *tok, const char *text, size_t len,
                              unsigned flags, attrib_token **tokens_out, size_t *n_out);

/* Decodes N ids to text (*text_out NUL-terminated, *len_out bytes without the
 * NUL; caller frees with attrib_free). Special tokens are skipped unless
 * keep_special is non-zero. */
attrib_status attrib_detokenize(const attrib_tokenizer *tok, const int32_t *ids, size_t n,
                                int keep_special, char **text_out, size_t *len_out);


/* ------------------------------------------------------------------------
 * Attribution
 *
 * attrib_explain() answers "which input tokens made the model produce this
 * target?" for one token sequence. The TARGET is a scalar function of the
 * model's next-token distribution after the last input token. FEATURES are
 * the tokens inside the attribution SPAN (or groups of them, e.g. words);
 * tokens outside the span (BOS, template text) are never perturbed and are
 * identical in the input and in every baseline.
 *
 * Gradient methods differentiate the target with respect to the input
 * embeddings (our own backward pass); perturbation methods only run forward
 * passes, sharing the KV cache of the unperturbed prefix.
 * ---------------------------------------------------------------------- */

typedef enum attrib_method {
    ATTRIB_METHOD_SALIENCY = 0,      /* |d target / d embedding| per token (L2 or L1) */
    ATTRIB_METHOD_GRAD_X_INPUT = 1,  /* sum_d grad * embedding per token */
    ATTRIB_METHOD_INTEGRATED_GRADIENTS = 2,
    ATTRIB_METHOD_SMOOTHGRAD = 3,    /* saliency or grad x input averaged over noisy copies */
    ATTRIB_METHOD_OCCLUSION = 4,     /* f(x) - f(x with the feature masked), windows */
    ATTRIB_METHOD_SHAPLEY_EXACT = 5, /* all 2^n coalitions */
    ATTRIB_METHOD_SHAPLEY_SAMPLED = 6, /* permutation sampling (antithetic) */
    ATTRIB_METHOD_KERNELSHAP = 7,
    ATTRIB_METHOD_LIME = 8,
    ATTRIB_METHOD_COUNT_ = 9
} attrib_method;

/* "saliency", "gxi", "ig", "smoothgrad", "occlusion", "shapley-exact",
 * "shapley", "kernelshap", "lime". */
const char *attrib_method_name(attrib_method m);
/* Parses those names; returns -1 for an unknown name. */
int attrib_method_from_name(const char *name);

typedef enum attrib_target_kind {
    ATTRIB_TARGET_LOGIT = 0,      /* logit of TOKEN */
    ATTRIB_TARGET_LOGPROB = 1,    /* log softmax of TOKEN */
    ATTRIB_TARGET_PROB = 2,       /* softmax probability of TOKEN */
    ATTRIB_TARGET_LOGIT_DIFF = 3  /* logit(TOKEN) - logit(TOKEN2), e.g. " Yes" vs " No" */
} attrib_target_kind;

typedef struct attrib_target {
    attrib_target_kind kind;
    int32_t token;  /* -1 = the model's top-1 next token on the unperturbed input */
    int32_t token2; /* LOGIT_DIFF only */
} attrib_target;

/* What replaces a feature when it is removed (perturbation methods), and
 * what the IG baseline is built from (gradient methods). */
typedef enum attrib_mask_kind {
    ATTRIB_MASK_TOKEN = 0,     /* replace by the token MASK_TOKEN (see below) */
    ATTRIB_MASK_ZERO = 1,      /* replace the input embedding by zeros */
    ATTRIB_MASK_DELETE = 2,    /* drop the token; later positions shift left */
    ATTRIB_MASK_ATTENTION = 3  /* hide the token from attention, positions unchanged */
} attrib_mask_kind;

typedef enum attrib_saliency_norm { ATTRIB_NORM_L2 = 0, ATTRIB_NORM_L1 = 1 } attrib_saliency_norm;

typedef enum attrib_ig_rule {
    ATTRIB_IG_GAUSS_LEGENDRE = 0, ATTRIB_IG_LEFT = 1, ATTRIB_IG_RIGHT = 2, ATTRIB_IG_MIDDLE = 3, ATTRIB_IG_TRAPEZOID = 4
} attrib_ig_rule;

typedef struct attrib_explain_options {
    attrib_method method;
    attrib_target target;
    /* Attribution span [span_begin, span_end) of token positions; span_end 0
     * = the end. Default: every position except a leading BOS. */
    int span_begin, span_end;
    /* Optional feature groups: group[i] for token i in the span (>= 0, dense
     * 0..n_features-1), -1 = fixed. NULL = one feature per span token. */
    const int32_t *groups;

    /* masking / baseline */
    attrib_mask_kind mask;
    int32_t mask_token;          /* -1 = the tokenizer's default (see attrib_default_mask_token) */
    const int32_t *baseline_ids; /* IG: a whole baseline token sequence (same length), or NULL */

    /* gradient methods */
    attrib_saliency_norm norm;   /* saliency and smoothgrad-on-saliency */
    int ig_steps;                /* default 32 */
    attrib_ig_rule ig_rule;      /* default Gauss-Legendre */
    int smooth_samples;          /* default 16 */
    float smooth_noise;          /* std of the Gaussian noise, relative to the embedding RMS; default 0.1 */
    int smooth_on_gxi;           /* 0: SmoothGrad of saliency, 1: of grad x input */

    /* perturbation methods */
    int window, stride;          /* occlusion; defaults 1, 1 */
    int samples;                 /* shapley: permutations (default 25; antithetic pairs);
                                    kernelshap / lime: coalitions (default 256) */
    int max_exact_features;      /* shapley-exact refuses more features than this (default 16) */
    float lime_kernel_width;     /* default 0.25 */
    float lime_ridge;            /* default 1.0 */

    uint64_t seed;               /* every random choice derives from it (default 0) */
    int batch;                   /* sequences per forward pass; 0 = automatic */
    size_t memory_budget;        /* bytes of activations for batched passes; 0 = 256 MiB */
    /* Progress callback for long runs (may be NULL): done of total units. */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *progress_user;
} attrib_explain_options;

/* Defaults for METHOD as documented above. */
attrib_explain_options attrib_explain_default_options(attrib_method method);

/* Default replacement token of a tokenizer for ATTRIB_MASK_TOKEN: its PAD
 * token, else UNK, else the token of a single space; never silently 0.
 * Returns -1 if the tokenizer has none of those. */
int32_t attrib_default_mask_token(const attrib_tokenizer *tok);

typedef struct attrib_result {
    attrib_method method;
    int n_tokens;          /* input length */
    int n_features;
    int32_t *feature_of_token; /* (n_tokens) feature index or -1 (fixed) */
    double *scores;        /* (n_features) attribution of each feature */
    double *token_scores;  /* (n_tokens) each token's share (features spread evenly over
                              their tokens; 0 for fixed tokens) */
    double *std_errors;    /* (n_features) for sampled estimates, else NULL */
    float *gradients;      /* (n_tokens, C) d target / d input embedding, gradient methods
                              other than IG/SmoothGrad; else NULL */
    int32_t target_token;  /* resolved target token (and token2 for LOGIT_DIFF) */
    int32_t target_token2;
    attrib_target_kind target_kind;
    double f_input;        /* target on the unperturbed input */
    double f_baseline;     /* target on the baseline (all features removed); NAN if not computed */
    double sum_scores;
    double completeness_delta;     /* IG: sum_scores - (f_input - f_baseline) */
    double completeness_relative;  /* |delta| / |f_input - f_baseline| */
    int64_t n_forward;     /* model evaluations (sequences through the forward pass) */
    int64_t n_backward;    /* sequences through the backward pass */
    double seconds;
    attrib_mask_kind mask;
    int32_t mask_token;
} attrib_result;

/* Attributes the target of IDS[0..n) (including any BOS) with OPT's method.
 * On success *result_out is new (free with attrib_result_free). */
attrib_status attrib_explain(attrib_model *model, const int32_t *ids, int n, const attrib_explain_options *opt,
                             attrib_result **result_out);
void attrib_result_free(attrib_result *result);

#ifdef __cplusplus
}
#endif
#endif /* ATTRIB_H */
