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
 *
 * PROCESS-WIDE STATE
 *   jansson (which reads every JSON file) has one allocator per process. The
 *   first time attrib reads JSON it wraps the allocator installed at that
 *   moment (jansson's default, or the program's own) in one that calls it
 *   unchanged and only notes failures, so that running out of memory is
 *   reported as ATTRIB_E_NOMEM rather than as a bad file or a silently
 *   damaged value. A program that calls json_set_alloc_funcs afterwards
 *   replaces the wrapper; attrib then relies on jansson's own reports.
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
/* The git commit the library was built from ("git describe --dirty" at
 * configure time), or "" when unknown. */
const char *attrib_commit(void);

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

/* Tensor element types, numbered as GGUF (ggml) numbers them. Every value
 * listed here can be read; other ggml types (IQ2_XXS, IQ3_S, Q8_K, TQ1_0 ...)
 * are refused with ATTRIB_E_UNSUPPORTED naming the type and the tensor.
 * Q2_K and Q3_K use 256-element super-blocks of 16 sub-blocks (2- and 3-bit
 * quants); IQ4_NL (32-element blocks) and IQ4_XS (256-element super-blocks)
 * map 4-bit indices through ggml's fixed non-linear 16-value table. */
typedef enum attrib_dtype {
    ATTRIB_DTYPE_F32 = 0,
    ATTRIB_DTYPE_F16 = 1,
    ATTRIB_DTYPE_Q4_0 = 2,
    ATTRIB_DTYPE_Q4_1 = 3,
    ATTRIB_DTYPE_Q5_0 = 6,
    ATTRIB_DTYPE_Q5_1 = 7,
    ATTRIB_DTYPE_Q8_0 = 8,
    ATTRIB_DTYPE_Q2_K = 10,
    ATTRIB_DTYPE_Q3_K = 11,
    ATTRIB_DTYPE_Q4_K = 12,
    ATTRIB_DTYPE_Q5_K = 13,
    ATTRIB_DTYPE_Q6_K = 14,
    ATTRIB_DTYPE_IQ4_NL = 20,
    ATTRIB_DTYPE_IQ4_XS = 23,
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
    const char *arch;          /* "llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3" */
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
    const char *activation;    /* of the gated FFN: "silu" (SwiGLU) or "gelu_tanh" (GeGLU) */
    int has_qk_norm;           /* per-head RMSNorm of Q and K (qwen3, gemma3) */
    int has_post_norms;        /* RMSNorm of the attention and FFN outputs (gemma2, gemma3) */
    float embed_scale;         /* the embeddings are multiplied by this (sqrt(n_embd) for gemma; else 1) */
    float attn_scale;          /* the factor of q.k in attention (usually 1/sqrt(head_dim)) */
    float attn_softcap;        /* attention logits soft-capped at this (gemma2), or 0 */
    float final_softcap;       /* output logits soft-capped at this (gemma2), or 0 */
    int sliding_window;        /* positions a windowed layer sees (its own included), or 0 */
    int n_windowed_layers;     /* layers that use the window (the others see the whole context) */
    float rope_theta_local;    /* RoPE base of the windowed layers when it differs (gemma3), or 0 */
} attrib_model_info;

/* Loads a model: PATH is a .gguf file or a Hugging Face directory (or its
 * config.json). GGUF files are memory-mapped, never copied. On success
 * *model_out is a new handle the caller frees with attrib_model_free. */
attrib_status attrib_model_load(const char *path, const attrib_model_options *opt,
                                attrib_model **model_out);
void attrib_model_free(attrib_model *model);

/* A second handle of MODEL, for another thread: it shares MODEL's weights,
 * tokenizer and file mappings (nothing is read, converted or held twice)
 * and has its own pass scratch, thread count and compute mode (both copied
 * from MODEL). Passes on different handles may run at the same time; passes
 * on one handle may not. Free every shared handle before MODEL itself.
 * Sharing a shared handle shares the original. */
attrib_status attrib_model_share(attrib_model *model, attrib_model **handle_out);

/* Borrowed, valid while the model lives. */
const attrib_model_info *attrib_model_get_info(const attrib_model *model);

/* The model's own tokenizer (borrowed; NULL if the file carries none). */
const attrib_tokenizer *attrib_model_tokenizer(const attrib_model *model);

/* Sets the thread count for subsequent calls (0 = online CPUs). */
void attrib_model_set_threads(attrib_model *model, int n_threads);

/* How forward-only passes (attrib_forward: occlusion, Shapley, KernelSHAP,
 * LIME, faithfulness curves, probes, generation) multiply by quantised
 * weights. EXACT (the default) dequantises the weights and multiplies by F32
 * activations. FAST rounds each block of 32 (Q8_0, Q4_0) or 256 (Q4_K, Q5_K,
 * Q6_K) activations to int8 with one scale (max|x| / 127) and uses integer
 * dot products, as llama.cpp does; other weight types stay exact. Each
 * product then differs from the exact one by at most the activations'
 * rounding, sum over blocks of (max|x_b| / 254) * sum_b |w|. Gradient passes
 * are always exact. Results stay independent of the thread count. */
typedef enum attrib_compute { ATTRIB_COMPUTE_EXACT = 0, ATTRIB_COMPUTE_FAST = 1 } attrib_compute;
void attrib_model_set_compute(attrib_model *model, attrib_compute compute);
attrib_compute attrib_model_get_compute(const attrib_model *model);

/* Copies the input embeddings of N token ids into out (N, C).
 * Fails with ATTRIB_E_BAD_VALUE for an id outside [0, V). */
attrib_status attrib_model_embed(attrib_model *model, const int32_t *ids, size_t n, float *out);

/* SHA-256 of the model's weight file(s) as 64 lower-case hex digits
 * (GGUF: the file; Hugging Face: the safetensors shards in index order,
 * hashed as one byte stream). Computed on first call (reads every byte),
 * then cached. Borrowed; NULL on an I/O error (see attrib_last_error). */
const char *attrib_model_sha256(attrib_model *model);

/* SHA-256 of any file (datasets, probes) into HEX (65 bytes, NUL-terminated). */
attrib_status attrib_sha256_file(const char *path, char hex[65]);

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
    /* Hidden states instead of logits: when hidden_out is set the pass runs
     * only the first hidden_layer blocks (0 = the input embeddings,
     * n_layer = the last block's output, before the final norm) and writes
     * that residual stream to hidden_out: (B, T, C) for ATTRIB_LOGITS_ALL,
     * (B, C) for ATTRIB_LOGITS_LAST; logits_out is then unused and may be
     * NULL. A cache filled by such a pass holds only those blocks' keys and
     * values: use it only for passes with the same hidden_layer. */
    int hidden_layer;
    float *hidden_out;
} attrib_batch;

/* Runs the model on BATCH. CACHE may be NULL (no prefix, nothing stored).
 * LOGITS_OUT must hold B*T*V floats (ALL), B*V (LAST) or may be NULL (NONE
 * or hidden_out set). */
attrib_status attrib_forward(attrib_model *model, const attrib_batch *batch,
                             attrib_cache *cache, float *logits_out);

/* ------------------------------------------------------------------------
 * Prefix cache: a fixed leading part of every input, computed once
 *
 * A judge or guard template puts every prompt after the same leading
 * tokens (Llama Guard's built-in template: about 125 before the input).
 * Attention is causal, so their keys and values are the same for every
 * prompt, every attribution method, every masked variant and every
 * gradient step, and no gradient flows into them. An attrib_prefix keeps
 * them once; attrib_explain, attrib_evaluate_masked and
 * attrib_faithfulness_eval given one (attrib_explain_options.prefix) then
 * compute only positions P.. of every pass: gradient passes start at
 * position P with the prefix as a constant (RoPE positions and sliding
 * windows count from 0 as before), and perturbation passes continue from
 * it. Results equal those without the prefix up to float32 rounding (the
 * prefix's rows are computed in a different batch; docs/compare.md gives
 * the bound the tests check). The prefix keeps its keys and values for
 * both compute modes (ATTRIB_COMPUTE_FAST only when the model has weights
 * it affects), so the model's mode may change between uses.
 *
 * Probe targets with mean pooling (ATTRIB_POOL_MEAN) need the prefix's
 * hidden states too, which it does not keep, and layer attribution makes
 * every position a feature: such requests ignore the prefix (after checking
 * it) and compute every position (attrib_result.prefix_len is then 0).
 * ---------------------------------------------------------------------- */
typedef struct attrib_prefix attrib_prefix;

/* Runs IDS[0..n) (1 <= n < the model's context) through MODEL and keeps
 * the ids and every block's keys and values. The prefix belongs to MODEL
 * (using it with another model fails) and must not outlive it; it is read
 * only, so one prefix serves any number of calls. Caller frees with
 * attrib_prefix_free. */
attrib_status attrib_prefix_new(attrib_model *model, const int32_t *ids, int n, attrib_prefix **prefix_out);
void attrib_prefix_free(attrib_prefix *prefix);
/* P: the number of tokens the prefix holds (0 for NULL). */
int attrib_prefix_len(const attrib_prefix *prefix);
/* 1 if IDS (n tokens) starts with the prefix's P ids and n > P, else 0:
 * whether a request for IDS may use PREFIX (a template's prefix tokens can
 * differ for some inputs, e.g. when BPE merges across the input's start). */
int attrib_prefix_matches(const attrib_prefix *prefix, const int32_t *ids, int n);

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
/* The model's chat template: Jinja text from GGUF tokenizer.chat_template or
 * tokenizer_config.json "chat_template" (a string, or the list entry named
 * "default", else the first). Borrowed; NULL if the model carries none. It
 * is data only: attrib never executes it (see attrib_chat_detect). */
const char *attrib_tokenizer_chat_template(const attrib_tokenizer *tok);
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
    ATTRIB_METHOD_GRADIENTSHAP = 9,  /* expected gradients from the baseline to noisy inputs */
    ATTRIB_METHOD_COUNT_ = 10
} attrib_method;

/* "saliency", "gxi", "ig", "smoothgrad", "occlusion", "shapley-exact",
 * "shapley", "kernelshap", "lime", "gradientshap"; "?" for an unknown method. */
const char *attrib_method_name(attrib_method m);
/* Parses those names (also "integrated-gradients", "grad-x-input");
 * returns -1 for an unknown name. */
int attrib_method_from_name(const char *name);

/* The method table. Every fact about a method (its name, family, which
 * options it reads, how its settings are recorded, its run function) lives
 * in one row of the library's table; front ends list methods, print help
 * and decide what applies to which method from these accessors, never from
 * the enum's order. */
typedef enum attrib_method_family {
    ATTRIB_FAMILY_GRADIENT = 0,     /* differentiates the target w.r.t. the input embeddings */
    ATTRIB_FAMILY_PERTURBATION = 1  /* forward passes on inputs with features removed */
} attrib_method_family;

/* Bits of attrib_method_info.reads: the attrib_explain_options fields a
 * method reads; it ignores every other method-specific field. */
enum {
    ATTRIB_READS_MASK = 1u << 0,      /* mask, mask_token: how a feature is removed */
    ATTRIB_READS_BASELINE = 1u << 1,  /* baseline_ids; without them the mask (token or zero only) gives
                                         an embedding baseline; f_baseline, if computed, is f there */
    ATTRIB_READS_NORM = 1u << 2,      /* norm */
    ATTRIB_READS_IG = 1u << 3,        /* ig_steps, ig_rule, ig_tol, ig_max_steps */
    ATTRIB_READS_SMOOTH = 1u << 4,    /* smooth_samples, smooth_on_gxi */
    ATTRIB_READS_NOISE = 1u << 5,     /* smooth_noise */
    ATTRIB_READS_WINDOW = 1u << 6,    /* window, stride */
    ATTRIB_READS_SAMPLES = 1u << 7,   /* samples */
    ATTRIB_READS_MAX_EXACT = 1u << 8, /* max_exact_features */
    ATTRIB_READS_LIME = 1u << 9,      /* lime_kernel_width, lime_ridge */
    ATTRIB_READS_SEED = 1u << 10,     /* seed: a random estimate, reported with std_errors */
    ATTRIB_READS_LAYER = 1u << 11     /* layer_attribution, layer: it can attribute to a layer */
};

typedef struct attrib_method_info {
    attrib_method method;
    const char *name;           /* as attrib_method_name: "ig" */
    const char *title;          /* "integrated gradients" */
    const char *summary;        /* one line: what a feature's score is */
    attrib_method_family family;
    unsigned reads;             /* ATTRIB_READS_* bits */
    const char *samples_unit;   /* what one of its samples is ("permutations"); NULL if it samples nothing */
    int default_samples;        /* the default of the count it reads (samples or smooth_samples); 0 if none */
} attrib_method_info;

/* The number of methods (= ATTRIB_METHOD_COUNT_; methods are 0 .. count-1). */
int attrib_method_count(void);
/* The table's row of method M (static storage); NULL for an unknown method. */
const attrib_method_info *attrib_method_get_info(attrib_method m);

typedef struct attrib_probe attrib_probe; /* a linear classifier on hidden states (see Probes) */

typedef enum attrib_target_kind {
    ATTRIB_TARGET_LOGIT = 0,      /* logit of TOKEN */
    ATTRIB_TARGET_LOGPROB = 1,    /* log softmax of TOKEN */
    ATTRIB_TARGET_PROB = 2,       /* softmax probability of TOKEN */
    ATTRIB_TARGET_LOGIT_DIFF = 3, /* logit(TOKEN) - logit(TOKEN2), e.g. " Yes" vs " No" */
    ATTRIB_TARGET_PROBE = 4       /* the logit of PROBE on the model's hidden state */
} attrib_target_kind;

typedef struct attrib_target {
    attrib_target_kind kind;
    int32_t token;  /* -1 = the model's top-1 next token on the unperturbed input */
    int32_t token2; /* LOGIT_DIFF only */
    const attrib_probe *probe; /* PROBE only (borrowed; must have been trained on this model) */
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

/* "token", "zero", "delete", "attention"; "?" for an unknown kind. */
const char *attrib_mask_name(attrib_mask_kind k);
/* Parses those names; -1 for an unknown name. */
int attrib_mask_from_name(const char *name);
/* "gauss-legendre", "left", "right", "middle", "trapezoid"; "?" if unknown. */
const char *attrib_ig_rule_name(attrib_ig_rule r);
/* Parses those names (also "gl" for Gauss-Legendre); -1 for an unknown name. */
int attrib_ig_rule_from_name(const char *name);

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
    int ig_steps;                /* fixed rule (ig_tol = 0): nodes, default 32 */
    attrib_ig_rule ig_rule;      /* fixed rule (ig_tol = 0): default Gauss-Legendre */
    /* Adaptive IG (the default): pieces of [0, 1] with 8-node Gauss-Legendre
     * each, split until sum over pieces of |local completeness delta| <=
     * ig_tol * |f(input) - f(baseline)| (which bounds the result's
     * |completeness_delta|) or until ig_max_steps gradient evaluations would
     * be exceeded (result.ig_cap_reached). ig_tol = 0 selects the fixed rule
     * ig_steps / ig_rule. See docs/gradients.md. */
    double ig_tol;               /* default 0.01 */
    int ig_max_steps;            /* default 512, in [8, 65536] */
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
    size_t memory_budget;        /* bytes of activations for batched passes (0 = 256 MiB for
                                    gradient passes, 1 GiB for perturbation passes), and of
                                    permutation Shapley's per-permutation KV caches (0 = 256 MiB) */
    /* Progress callback for long runs (may be NULL): done of total units. */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *progress_user;
    /* Layer attribution (Captum's LayerGradientXActivation and
     * LayerIntegratedGradients): with layer_attribution non-zero the
     * attribution is to the residual stream after LAYER blocks (0 = the
     * input embeddings times the model's embed_scale, n_layer = the last
     * block's output, before the final norm) instead of to the input
     * embeddings. Methods: saliency (gradient norm), gxi (gradient x
     * activation), ig (the layer's hidden state interpolated between its
     * value on the baseline input and on the input; the rest of the network
     * runs from there). Every position is a feature (groups must be NULL);
     * the span says which tokens the IG baseline input replaces. See
     * docs/gradients.md. */
    int layer_attribution;
    int layer;
    /* The keys and values of the input's first P tokens, computed once
     * (see Prefix cache), or NULL (default: every pass starts at position 0).
     * The input must start with the prefix's ids and the span must start at
     * or after P (features are never inside the prefix); else
     * ATTRIB_E_INVALID_ARG. Borrowed. */
    const attrib_prefix *prefix;
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
    /* IG only (else 0 / NULL): the rule actually used, nodes in [0, 1] and
     * weights summing to 1 (ig_n_nodes each; adaptive: those of the final
     * pieces, ascending); the pieces; 1 if the adaptive rule stopped at
     * ig_max_steps before meeting ig_tol; and the adaptive error bound sum
     * over pieces of |local delta| (NAN for a fixed rule). Gradient
     * evaluations, including those of pieces later split, are n_backward. */
    int ig_n_nodes;
    double *ig_nodes, *ig_weights;
    int ig_pieces;
    int ig_cap_reached;
    double ig_error_bound;
    /* Layer attribution only (else -1 / NULL): the layer and LAYER_VALUES
     * (n_tokens, C) per position x dimension: gxi gradient x hidden state
     * and ig (h - h') x the rule's average gradient (each sums over the
     * dimensions to the position's score); saliency |gradient|. gradients
     * then holds d target / d hidden state (saliency, gxi). */
    int layer;
    float *layer_values;
    /* Positions taken from opt.prefix (its length P), or 0 when no prefix
     * was used. With a prefix, the rows of `gradients` for positions < P
     * are 0 (their gradient is not computed; they are never features), and
     * n_forward / n_backward count sequences that started at position P. */
    int prefix_len;
} attrib_result;

/* Attributes the target of IDS[0..n) (including any BOS) with OPT's method.
 * On success *result_out is new (free with attrib_result_free). */
attrib_status attrib_explain(attrib_model *model, const int32_t *ids, int n, const attrib_explain_options *opt,
                             attrib_result **result_out);
void attrib_result_free(attrib_result *result);

/* The settings OPT's method read, as a JSON object (every report records
 * them; the same keys for every front end). Only options the method reads
 * appear (attrib_method_info.reads):
 *   IG         "steps", "rule" (attrib_ig_rule_name, or "adaptive" with
 *              "tol", "max_steps"; adaptive "steps" = gradient evaluations
 *              taken, given RESULT)
 *   norm       "norm": "l2" | "l1" (not for SmoothGrad of grad x input)
 *   SmoothGrad "of": "saliency" | "gxi", "samples"; noise: "noise"
 *   occlusion  "window", "stride"
 *   samples    under the method's samples_unit ("permutations", "coalitions",
 *              "samples")
 *   LIME       "kernel_width", "ridge"
 *   mask       "mask" (attrib_mask_name) and, for the token mask,
 *              "mask_token"; with baseline_ids (IG) "baseline": "tokens"
 *              instead, which a caller may replace by the baseline's text
 *   seed       "seed"
 *   layer      "layer" (with layer_attribution)
 * RESULT (may be NULL) is OPT's run: it gives what the run resolved (the
 * default mask token, adaptive IG's steps). *json_out is a NUL-terminated
 * UTF-8 string the caller frees with attrib_free. */
attrib_status attrib_method_settings_json(const attrib_explain_options *opt, const attrib_result *result, char **json_out);

/* ------------------------------------------------------------------------
 * Attributing a continuation: why did the model write this answer?
 *
 * A continuation is a prompt ids[0..P) followed by G answer tokens
 * ids[P..P+G), generated by the model (attrib_generate_greedy) or given
 * (forced decoding). Step j explains the model's choice of token y_j =
 * ids[P+j] after ids[0..P+j): its TARGET (by default the log-probability of
 * y_j; or its logit or probability; or, with a contrast token c_j, the logit
 * difference logit(y_j) - logit(c_j), "why y_j rather than c_j here") is
 * attributed with attrib_explain to its SOURCES: the prompt's span tokens
 * and every answer token before y_j. The rows form a (G x sources) matrix.
 *
 * Each step is one attrib_explain call on ids[0..P+j): every method works,
 * with its usual guarantees (IG's completeness holds row by row), and
 * results do not depend on how the steps are scheduled.
 * ---------------------------------------------------------------------- */

/* Greedy decoding: appends to IDS[0..n) up to N_NEW most likely next tokens
 * (the lowest id wins a tie), reusing the KV cache. OUT (N_NEW) receives
 * them and *n_out how many there are: fewer than N_NEW only when STOP_AT_EOS
 * is set and the tokenizer's EOS was produced (it is kept as the last one).
 * Errors: ATTRIB_E_INVALID_ARG when n + n_new exceeds the model's context
 * or n_new < 1; ATTRIB_E_BAD_VALUE for an id outside the vocabulary. */
attrib_status attrib_generate_greedy(attrib_model *model, const int32_t *ids, int n, int n_new, int stop_at_eos,
                                     int32_t *out, int *n_out);

typedef struct attrib_continuation {
    attrib_method method;
    attrib_target_kind target_kind; /* of every step: LOGIT, LOGPROB, PROB or LOGIT_DIFF (contrast) */
    int n_tokens;          /* P + G */
    int n_prompt;          /* P */
    int n_gen;             /* G: rows, one per answer token */
    int n_src;             /* columns: token positions 0 .. n_tokens - 2 (the last token is no source) */
    int32_t *ids;          /* (n_tokens) prompt and answer */
    int32_t *contrast;     /* (G) LOGIT_DIFF: step j's contrast token c_j; else NULL */
    /* (G, n_src): matrix[j * n_src + i] = attribution of step j's target to
     * token i; NAN where token i is no source of step j (outside the
     * prompt's span, such as BOS or template text, or i >= P + j). */
    double *matrix;
    double *std_errors;    /* (G, n_src) for sampled estimates (NAN where no source), else NULL */
    double *f;             /* (G) the target of each step on the unperturbed input */
    double *f_baseline;    /* (G) the target with every source removed (NAN if not computed) */
    double *sum;           /* (G) sum of each row over its sources */
    double *delta;         /* (G) IG: completeness delta sum - (f - f_baseline); else NAN */
    double *relative;      /* (G) IG: |delta| / |f - f_baseline|; else NAN */
    int prompt_begin, prompt_end; /* the prompt's span of sources [begin, end) */
    /* IG only (else NULL): each step's rule, nodes ig_nodes[ig_row[j] ..
     * ig_row[j + 1]) in [0, 1] with their weights (see attrib_result) */
    int *ig_row;           /* (G + 1) */
    double *ig_nodes, *ig_weights;
    int ig_cap_reached;    /* some step's adaptive IG stopped at ig_max_steps */
    attrib_mask_kind mask;
    int32_t mask_token;
    int64_t n_forward, n_backward;
    double seconds;
} attrib_continuation;

/* Attributes each answer token of IDS[0..n_tokens) (the answer starts at
 * N_PROMPT, 1 <= n_prompt < n_tokens <= the model's context) with OPT's
 * method and settings. OPT's target kind applies to every step (PROBE is
 * refused) and its target tokens are ignored: step j's token is ids[P+j].
 * CONTRAST (G tokens, or NULL) makes step j's target logit(ids[P+j]) -
 * logit(contrast[j]); OPT's kind must then be ATTRIB_TARGET_LOGIT_DIFF, and
 * only then. OPT's span_begin/span_end select the prompt's sources (default:
 * the prompt without a leading BOS); answer tokens are always sources.
 * OPT's groups must be NULL and layer_attribution 0; baseline_ids, if set,
 * covers all n_tokens; a prefix (attrib_prefix) serves every step.
 * OPT's progress callback sees the steps as one run. On success *out is
 * new (free with attrib_continuation_free). */
attrib_status attrib_explain_continuation(attrib_model *model, const int32_t *ids, int n_prompt, int n_tokens,
                                          const int32_t *contrast, const attrib_explain_options *opt,
                                          attrib_continuation **out);
void attrib_continuation_free(attrib_continuation *c);

/* ------------------------------------------------------------------------
 * Evaluating masked inputs and faithfulness
 *
 * The primitive under every perturbation method, public so that metrics
 * (and users) can ask "what is the target when these features are
 * removed?" with the same features, masking and prefix reuse as
 * attrib_explain.
 * ---------------------------------------------------------------------- */

/* Evaluates OPT's target (its target, span, groups and mask; the method is
 * ignored) on M variants of IDS: variant k keeps feature i when
 * present[k * n_features + i] != 0 and masks it otherwise. N_FEATURES must
 * equal the feature count attrib_explain would use. VALUES (M) receives the
 * target of each variant. A target token of -1 resolves to the top-1 token
 * of the unmasked input, as in attrib_explain. */
attrib_status attrib_evaluate_masked(attrib_model *model, const int32_t *ids, int n, const attrib_explain_options *opt,
                                     const uint8_t *present, int n_features, int m, double *values);

typedef struct attrib_faithfulness_options {
    int n_fractions;           /* fractions used by comprehensiveness/sufficiency; default 3 */
    double fractions[8];       /* default {0.1, 0.2, 0.5}: top-k% of the features (ERASER) */
    int curve_points;          /* deletion/insertion curve: at most this many steps (default 20;
                                  every feature when there are fewer) */
    int random_orders;         /* random rankings averaged for the baseline (default 1; 0 = none) */
    uint64_t seed;             /* for the random rankings */
} attrib_faithfulness_options;

attrib_faithfulness_options attrib_faithfulness_default_options(void);

#define ATTRIB_FAITH_MAX_POINTS 257
#define ATTRIB_FAITH_MAX_RANKINGS 64 /* rankings per attrib_faithfulness_eval_many call */

typedef struct attrib_faithfulness {
    double f_full, f_empty;        /* target with every feature present / masked */
    int n_features;
    /* per fraction: k = max(1, round(fraction * n_features)) top features */
    int k[8];
    double comprehensiveness[8];   /* f_full - f(without the top k) */
    double sufficiency[8];         /* f_full - f(only the top k) */
    double comprehensiveness_aopc; /* mean over the fractions */
    double sufficiency_aopc;
    /* curves: point j removes (deletion) or keeps (insertion) the top
     * counts[j] features, counts[0] = 0 ... counts[n_points-1] = n_features */
    int n_points;
    int counts[ATTRIB_FAITH_MAX_POINTS];
    double deletion[ATTRIB_FAITH_MAX_POINTS];
    double insertion[ATTRIB_FAITH_MAX_POINTS];
    double deletion_auc;           /* trapezoid area over x = counts / n_features in [0, 1] */
    double insertion_auc;
    /* the same metrics for random rankings (mean over random_orders); NAN when none */
    double random_comprehensiveness_aopc, random_sufficiency_aopc, random_deletion_auc, random_insertion_auc;
    int64_t n_evaluations;         /* masked variants evaluated */
} attrib_faithfulness;

/* Faithfulness of SCORES (n_features attributions, higher = more important
 * for the target; ties ranked by feature index) under OPT's target, span,
 * groups and mask. Features are ranked once; every fraction and curve point
 * is one masked variant. */
attrib_status attrib_faithfulness_eval(attrib_model *model, const int32_t *ids, int n, const attrib_explain_options *opt,
                                       const double *scores, int n_features, const attrib_faithfulness_options *fopt,
                                       attrib_faithfulness *out);

/* attrib_faithfulness_eval of several rankings of the same features, for
 * example one per method: SCORES[r] (n_features each) for r < n_rankings
 * (1..ATTRIB_FAITH_MAX_RANKINGS), results in OUT[r]. Their masked variants
 * go through the model together, so a variant that two rankings share
 * (their top features agree) is run once, and the passes are larger. OUT[r] equals attrib_faithfulness_eval
 * on SCORES[r] up to float rounding (a variant's value may come from a
 * pass of other variants). The random baseline (fopt->random_orders) is
 * computed once and reported in every OUT[r]; OUT[r].n_evaluations counts
 * the variants ranking r was the first to need, OUT[0] also the random
 * rankings', so the counts sum to the variants run. */
attrib_status attrib_faithfulness_eval_many(attrib_model *model, const int32_t *ids, int n,
                                            const attrib_explain_options *opt, int n_rankings,
                                            const double *const *scores, int n_features,
                                            const attrib_faithfulness_options *fopt, attrib_faithfulness *out);

/* ------------------------------------------------------------------------
 * Inside the model: attention weights and the logit's parts
 *
 * Layer attribution is an option of attrib_explain (layer_attribution).
 * These two read the blocks of one forward pass of IDS (from position 0,
 * no cache). See docs/attention.md and docs/gradients.md.
 * ---------------------------------------------------------------------- */

/* Attention probabilities of every block and query head: PROBS_OUT
 * (n_layer, n_head, n, n), row (l, h, t) = the softmax weights query t of
 * head h gave keys 0..t in block l (scale, soft-cap, sliding window and
 * grouped-query heads as the forward pass has them; 0 for keys it does not
 * see). Each row sums to 1 up to float rounding. */
attrib_status attrib_attention(attrib_model *model, const int32_t *ids, int n, float *probs_out);

/* Attention rollout (Abnar & Zuidema 2020) of PROBS (n_layer, n_head, n,
 * n) as attrib_attention gives them: OUT (n_layer, n, n), the rollout after
 * each block, R_0 = Â_0 and R_l = Â_l R_(l-1), where Â_l = (A_l + I) with
 * its rows renormalised to sum 1 and A_l the mean of block l's heads (the
 * identity stands for the residual connection). Pure arithmetic, in double;
 * ATTRIB_E_INVALID_ARG for a NULL array or a size < 1, ATTRIB_E_NOMEM. */
attrib_status attrib_attention_rollout(const float *probs, int n_layer, int n_head, int n, double *out);

/* Direct logit attribution of the last position's target logit. The final
 * residual stream is x_L = x_0 + sum_l (attn_l + ffn_l) (block outputs after
 * their post-norms where the model has them); the logit is w . (g x_L / r)
 * with w = the output matrix's row of TOKEN (minus TOKEN2's), g the final
 * norm weight and r = sqrt(mean(x_L^2) + eps). With r frozen at its value
 * the logit is linear in the parts, which then sum to it exactly: no
 * final-norm term remains (RMSNorm has no mean or bias). A post-norm is
 * frozen the same way, so the heads of a block sum to its attention part.
 * The sum is the logit BEFORE any final soft-cap (gemma2). */
typedef struct attrib_logit_parts {
    int n_layer, n_head, n_tokens;
    int32_t token, token2;     /* token2 -1: the logit of TOKEN alone */
    double logit;              /* the target before the final soft-cap: what the parts sum to */
    double logit_capped;       /* after the final soft-cap (= logit without one) */
    double final_rms;          /* r, frozen */
    double embedding;          /* x_0 of the last token (its embedding times embed_scale) */
    double *attn;              /* (n_layer) attention output: sum of heads + attn_bias */
    double *heads;             /* (n_layer, n_head) head h: its slice of the output projection
                                  applied to its own output (value bias excluded) */
    double *head_sources;      /* (n_layer, n_head, n_tokens) the same split by the key position
                                  the weight came from (sums over positions to heads) */
    double *attn_bias;         /* (n_layer) the value bias's part (qwen2; else 0): a constant the
                                  softmax weights, summing to 1, carry through unchanged */
    double *ffn;               /* (n_layer) */
    double sum;                /* embedding + sum(attn) + sum(ffn) */
} attrib_logit_parts;

/* The parts of the last position's logit of TOKEN (-1 = the top-1 next
 * token), or of logit(TOKEN) - logit(TOKEN2) when TOKEN2 >= 0. On success
 * *out is new (free with attrib_logit_parts_free). */
attrib_status attrib_logit_attribution(attrib_model *model, const int32_t *ids, int n, int32_t token, int32_t token2,
                                       attrib_logit_parts **out);
void attrib_logit_parts_free(attrib_logit_parts *parts);

/* ------------------------------------------------------------------------
 * Agreement and classification metrics (pure functions, no model)
 * ---------------------------------------------------------------------- */

/* These metrics return NAN for input they cannot score, for any NaN entry
 * (except where skipping is documented) and when a scratch allocation
 * fails. Definitions and references: docs/metrics.md. */

/* Spearman's rho of two score vectors of length N (average ranks for
 * ties; Pearson correlation of the ranks). NAN if N < 2 or either vector
 * is constant. */
double attrib_spearman(const double *a, const double *b, int n);
/* Kendall's tau-b (ties in either vector handled). NAN if N < 2 or either
 * is constant. Counts every pair: O(N^2) time, no allocation. */
double attrib_kendall_tau_b(const double *a, const double *b, int n);
/* |top-k of A  intersect  top-k of B| / k, with k clipped to N. Top-k by
 * value, descending; ties broken by lower index. NAN if N < 1 or K < 1. */
double attrib_topk_overlap(const double *a, const double *b, int n, int k);
/* Fraction of positions where sign(a_i) == sign(b_i) (sign of 0 is 0). NAN if N < 1. */
double attrib_sign_agreement(const double *a, const double *b, int n);
/* Area under the ROC curve of SCORES against binary LABELS (1 = positive,
 * 0 = negative), ties counted one half. NAN without both classes or with a
 * label other than 0/1. */
double attrib_auroc(const double *scores, const int *labels, int n);

/* Percentile bootstrap 95% interval of the mean of X (NaN entries are
 * skipped; infinities are kept): B resamples drawn with SEED; *lo, *hi =
 * the 2.5% and 97.5% quantiles of the resample means (linear interpolation
 * between order statistics). *mean, *lo, *hi are NAN when no non-NaN entry
 * exists; *lo and *hi alone when B < 1 or an allocation fails.
 * Deterministic for a given SEED and X. */
void attrib_bootstrap_mean_ci(const double *x, int n, int b, uint64_t seed, double *mean, double *lo, double *hi);

/* ------------------------------------------------------------------------
 * Probes: L2-regularised logistic regression on a layer's hidden state
 *
 * The classifier for harmful-query detection with models that cannot judge
 * by prompting. Features: the residual stream after LAYER blocks, pooled
 * over the prompt (the last token, or the mean over every token but a
 * leading BOS), standardised by the training set's mean and standard
 * deviation. logit = w . (h - mean) / scale + bias. Everything a probe
 * computes uses its stored float parameters, so a saved and reloaded probe
 * predicts bit for bit what the trained one did.
 * ---------------------------------------------------------------------- */

typedef enum attrib_pool { ATTRIB_POOL_LAST = 0, ATTRIB_POOL_MEAN = 1 } attrib_pool;

/* "last", "mean"; -1 for an unknown name. */
int attrib_pool_from_name(const char *name);
const char *attrib_pool_name(attrib_pool pool);

/* Pooled hidden states of N_SEQ token sequences (ids[s], lens[s] tokens
 * each) after LAYER blocks (0..n_layer): OUT (n_seq, C). Sequences are
 * batched internally; the result does not depend on the batching beyond
 * float rounding (see docs/reliability.md). */
attrib_status attrib_model_features(attrib_model *model, const int32_t *const *ids, const int *lens, int n_seq, int layer,
                                    attrib_pool pool, float *out);

typedef struct attrib_probe_train_options {
    int n_l2;                  /* candidate L2 strengths tried (default 9) */
    double l2[16];             /* default 1e-4 ... 1e4, times 10 each */
    double val_fraction;       /* held out (stratified) to choose L2 and report on; default 0.2 */
    uint64_t seed;             /* the split (default 0) */
    int max_iter;              /* Newton iterations (default 50) */
} attrib_probe_train_options;

attrib_probe_train_options attrib_probe_default_train_options(void);

typedef struct attrib_probe_report {
    double l2;                         /* chosen */
    int n_train, n_val;
    double train_accuracy, val_accuracy; /* threshold 0 on the logit */
    double train_auroc, val_auroc;
    int val_confusion[2][2];           /* [true][predicted], 1 = positive */
    int iterations;
} attrib_probe_report;

/* Fits a probe to N feature rows X (n, dim) with labels Y (0/1): splits off
 * a stratified validation set, chooses L2 by validation log-loss, refits on
 * the training part with the chosen L2 (Newton's method on the exact
 * Hessian). MODEL identifies where the features came from (its sha256,
 * architecture and width are recorded; it is not run). */
attrib_status attrib_probe_train(attrib_model *model, int layer, attrib_pool pool, const float *x, const int *y, int n,
                                 const attrib_probe_train_options *opt, attrib_probe **probe_out,
                                 attrib_probe_report *report_out);
void attrib_probe_free(attrib_probe *probe);

/* Saves as a small GGUF (general.architecture "attrib-probe"): tensors
 * probe.weight, probe.mean, probe.scale (F32, C), metadata bias, layer,
 * pooling, model sha256/architecture/width, the training report and
 * DESCRIPTION (free text, may be NULL). */
attrib_status attrib_probe_save(const attrib_probe *probe, const char *path, const char *description);
/* Loads and validates a probe file (untrusted input). Caller frees. */
attrib_status attrib_probe_load(const char *path, attrib_probe **probe_out);
/* ATTRIB_OK if PROBE was trained on MODEL (same sha256 and width), else
 * ATTRIB_E_INVALID_ARG with a message naming both models. */
attrib_status attrib_probe_check_model(const attrib_probe *probe, attrib_model *model);

int attrib_probe_layer(const attrib_probe *probe);
attrib_pool attrib_probe_pool(const attrib_probe *probe);
int attrib_probe_dim(const attrib_probe *probe);
const char *attrib_probe_model_sha256(const attrib_probe *probe); /* borrowed */
const attrib_probe_report *attrib_probe_get_report(const attrib_probe *probe); /* borrowed */
/* Logit of one pooled feature row (dim floats). */
double attrib_probe_logit(const attrib_probe *probe, const float *features);
/* Logits of N_SEQ sequences: features then probe (N_SEQ doubles). */
attrib_status attrib_probe_predict(const attrib_probe *probe, attrib_model *model, const int32_t *const *ids, const int *lens,
                                   int n_seq, double *logits_out);

/* ------------------------------------------------------------------------
 * Prompt templates (judges)
 *
 * A template is text with exactly one "{input}" slot; "{{" and "}}" stand
 * for literal braces. It is rendered by plain substitution, never executed.
 * The rendered prompt is tokenized as a whole (so token boundaries are the
 * ones the model sees), special-token text is recognised only in the
 * template's own text (user input cannot inject control tokens), BOS is
 * added as the tokenizer's configuration says (once), and the INPUT SPAN is
 * the tokens that cover any byte of the input. Template tokens are outside
 * the span and so never perturbed.
 * ---------------------------------------------------------------------- */

/* Built-in templates: "plain" ({input}), "chatml", "llama3", "llama-guard",
 * "judge" (Is this request harmful? Answer Yes or No). NULL if unknown. */
const char *attrib_template_builtin(const char *name);
/* Names of the built-ins, NULL-terminated (borrowed, static). */
const char *const *attrib_template_names(void);
/* For a built-in judge: the label words whose logit difference is its
 * default target (e.g. " Yes" / " No"); NULL outputs for "plain". */
void attrib_template_labels(const char *name, const char **positive, const char **negative);

typedef struct attrib_prompt {
    int32_t *ids;      /* (n) */
    attrib_token *tokens; /* (n) byte spans in RENDERED */
    int n;
    int span_begin, span_end; /* the input's tokens: [span_begin, span_end) */
    char *rendered;    /* the rendered text (NUL-terminated) */
    size_t rendered_len;
    size_t input_begin, input_end; /* the input's bytes in RENDERED */
} attrib_prompt;

/* Renders TEMPLATE with INPUT (LEN bytes) and tokenizes it. EOS is never
 * appended; a BOS the rendered text already starts with is not doubled. A
 * token with an empty byte span (BOS) is never in the span. Errors:
 * ATTRIB_E_INVALID_ARG for a NULL argument or a template without exactly
 * one {input} or with an unmatched brace; ATTRIB_E_BAD_TEXT for an empty
 * input or one that tokenizes to no token. Caller frees with
 * attrib_prompt_free. See docs/templates.md. */
attrib_status attrib_template_apply(const attrib_tokenizer *tok, const char *tmpl, const char *input, size_t len,
                                    attrib_prompt **prompt_out);
void attrib_prompt_free(attrib_prompt *prompt);

/* The token id of a label WORD (e.g. " Yes") as the model would see it right
 * after the rendered template (SentencePiece tokenizers give " Yes" alone a
 * different first token). ATTRIB_E_BAD_TEXT if the word is not exactly one
 * token there or merges with the template's end. */
attrib_status attrib_template_label_token(const attrib_tokenizer *tok, const char *tmpl, const char *word, int32_t *id_out);

/* ------------------------------------------------------------------------
 * Chat-template families (the model's own chat template, "--template auto")
 *
 * A model's Jinja chat template is recognised by distinctive literal markers
 * (never executed) as one of a fixed table of families, each with its exact
 * layout: llama-guard-3, qwen3, chatml, llama3, gemma, phi3, mistral-tekken,
 * mistral. docs/templates.md gives every layout and how it was checked
 * against llama.cpp's llama_chat_apply_template.
 * ---------------------------------------------------------------------- */
typedef struct attrib_chat_family {
    const char *name;     /* e.g. "llama3" */
    const char *title;    /* the models it covers */
    int guard;            /* a safety classifier: its prompt asks for a verdict */
    int system;           /* 1 own system turn; 0 system text opens the user turn; -1 none */
    int trims;            /* message text is stripped of surrounding ASCII whitespace */
    const char *positive, *negative; /* label words of the verdict target: the
                                        guard's ("unsafe"/"safe") or the answer to
                                        the judge question ("Yes"/"No") */
} attrib_chat_family;

/* Recognises CHAT_TEMPLATE's family (*family_out is static). Errors:
 * ATTRIB_E_UNSUPPORTED naming the known families if none matches. */
attrib_status attrib_chat_detect(const char *chat_template, const attrib_chat_family **family_out);
/* A family by name (NULL if unknown), and the NULL-terminated names. */
const attrib_chat_family *attrib_chat_family_get(const char *name);
const char *const *attrib_chat_family_names(void);

#define ATTRIB_CHAT_THINKING 1u /* qwen3: leave thinking on (no empty <think> block) */
/* Builds an attrib template (one {input} slot, for attrib_template_apply)
 * that lays out one conversation in FAMILY's format: the optional SYSTEM
 * text (NULL = none; literal), one user message USER (a template fragment
 * that holds the {input} slot, e.g. "{input}", with "{{"/"}}" for literal
 * braces) and the generation prompt. With TOK (may be NULL), families whose
 * template opens with BOS get the BOS piece written first, so BOS is there
 * even when the tokenizer would not add it. Families that trim (trims = 1)
 * trim SYSTEM here; the caller trims the input text itself. Errors:
 * ATTRIB_E_INVALID_ARG for a SYSTEM the family cannot take or a USER without
 * {input}. *tmpl_out is freed with attrib_free. */
attrib_status attrib_chat_build(const attrib_tokenizer *tok, const attrib_chat_family *family, const char *system,
                                const char *user, unsigned flags, char **tmpl_out);

/* ------------------------------------------------------------------------
 * Datasets: labelled prompts from CSV or JSON/JSONL files
 *
 * CSV follows RFC 4180 (quoted fields, "" escapes, embedded newlines, CRLF
 * or LF, an optional UTF-8 BOM); the first record is the header. JSON is
 * an array of objects or one object per line (JSONL). The content decides
 * the format: after the BOM and whitespace, '[' = JSON array, '{' = JSONL,
 * anything else = CSV. Rows are untrusted: a bad row is an error naming
 * the file, the row (1-based data row) and the column. Selection happens in this order: --sample (a seeded random
 * subset, kept in file order), --limit (the first N of what is left),
 * --shard K/N (every N-th row starting at the K-th, K 1-based; a shard may
 * be empty). docs/datasets.md gives every rule, status and limit.
 * ---------------------------------------------------------------------- */

typedef struct attrib_dataset attrib_dataset;

typedef struct attrib_dataset_options {
    const char *text_col;   /* NULL = the first present of: prompt, instruction, goal, Goal, text, query, question */
    const char *label_col;  /* NULL = "label" if present, else no label column */
    const char *positive;   /* label value meaning positive (harmful), matched exactly; NULL = any of
                               unsafe, harmful, 1, true, yes (case-insensitive). JSON numbers match as
                               integers when integral ("1" for 1.0), booleans as "true"/"false" */
    int default_label;      /* label of every row when there is no label column: 0, 1 or -1 (unknown) */
    const char *id_col;     /* NULL = "id" if present (kept as a string for reports) */
    int64_t limit;          /* 0 = no limit */
    int64_t sample;         /* 0 = all rows */
    uint64_t seed;          /* for sample */
    int shard_k, shard_n;   /* 1 <= k <= n; 0/0 = no sharding */
} attrib_dataset_options;

attrib_dataset_options attrib_dataset_default_options(void); /* default_label -1, rest 0/NULL */

attrib_status attrib_dataset_load(const char *path, const attrib_dataset_options *opt, attrib_dataset **out);
void attrib_dataset_free(attrib_dataset *ds);
/* Rows after selection. The accessors below give NULL or -1 for an I out of range. */
int64_t attrib_dataset_size(const attrib_dataset *ds);
/* Borrowed, NUL-terminated text of row I (*len bytes, may be NULL). */
const char *attrib_dataset_text(const attrib_dataset *ds, int64_t i, size_t *len);
/* 1 positive, 0 negative, -1 unknown. */
int attrib_dataset_label(const attrib_dataset *ds, int64_t i);
/* The row's id column value, or its 1-based data row number as text (borrowed). */
const char *attrib_dataset_id(const attrib_dataset *ds, int64_t i);
/* Index of row I among the selected rows before sharding (for merging shards). */
int64_t attrib_dataset_index(const attrib_dataset *ds, int64_t i);
/* 1-based data row of row I in the file. */
int64_t attrib_dataset_source_row(const attrib_dataset *ds, int64_t i);
/* Rows in the file before any selection. */
int64_t attrib_dataset_file_rows(const attrib_dataset *ds);
/* The text and label columns actually used (borrowed; label NULL if none). */
const char *attrib_dataset_text_col(const attrib_dataset *ds);
const char *attrib_dataset_label_col(const attrib_dataset *ds);

#ifdef __cplusplus
}
#endif
#endif /* ATTRIB_H */
