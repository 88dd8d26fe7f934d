/*
 * cmd_generate.c — `attrib generate MODEL PROMPT -n N`: greedy decoding with
 * the KV cache. It exists to show that the model is computed right (a wrong
 * RoPE layout or norm gives garbage text at once), not to be a chat tool.
 */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: attrib generate MODEL PROMPT [-n N] [--threads N] [--ids 1,2,3] [--ignore-eos] [--json]\n"
    "\n"
    "Tokenizes PROMPT with the model's tokenizer (adding BOS as the model's tokenizer\n"
    "config says), then appends the most likely next token N times (greedy decoding),\n"
    "reusing the key/value cache, and prints the prompt with its continuation.\n"
    "PROMPT '-' reads the prompt from standard input (one final newline dropped).\n"
    "\n"
    "options:\n"
    "  -n, --n-predict N  tokens to generate (default 32)\n"
    "  -t, --threads N    threads (default: all online CPUs)\n"
    "  --compute MODE     exact (default) | fast: integer products with 8-bit activations for\n"
    "                     Q8_0/Q4_0/Q4_K/Q5_K/Q6_K weights (like llama.cpp)\n"
    "  --ids LIST         start from these comma-separated token ids instead of PROMPT\n"
    "  --ignore-eos       keep going after the end-of-sequence token\n"
    "  --json             print {\"prompt_ids\", \"ids\", \"text\", \"timings\"} as JSON\n"
    "\n"
    "example:\n"
    "  attrib generate ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time\" -n 40\n";

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static int parse_ids(const char *s, int32_t **ids, size_t *n) {
    size_t cap = 16, k = 0;
    int32_t *a = malloc(cap * sizeof *a);
    if (!a) return -1;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > INT32_MAX) {
            free(a);
            return -1;
        }
        if (k == cap) {
            int32_t *na = realloc(a, (cap *= 2) * sizeof *a);
            if (!na) {
                free(a);
                return -1;
            }
            a = na;
        }
        a[k++] = (int32_t)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) {
            free(a);
            return -1;
        }
    }
    *ids = a;
    *n = k;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *path = NULL, *prompt = NULL, *ids_arg = NULL;
    int n_predict = 32, threads = 0, fast = 0;
    bool json = false, ignore_eos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "--help", "-h")) {
            fputs(HELP, stdout);
            return 0;
        } else if (cli_is(a, "-n", "--n-predict")) {
            if (!cli_parse_int("generate", a, i + 1 < argc ? argv[++i] : NULL, 0, 1 << 20, &n_predict)) return 2;
        } else if (cli_is(a, "-t", "--threads")) {
            if (!cli_parse_int("generate", a, i + 1 < argc ? argv[++i] : NULL, 1, 1024, &threads)) return 2;
        } else if (strcmp(a, "--ids") == 0) {
            if (i + 1 >= argc) return cli_usage_error("generate", "--ids needs a value");
            ids_arg = argv[++i];
        } else if (strcmp(a, "--compute") == 0) {
            const char *v = i + 1 < argc ? argv[++i] : NULL;
            if (!v || (strcmp(v, "exact") && strcmp(v, "fast"))) return cli_usage_error("generate", "--compute takes exact or fast");
            fast = !strcmp(v, "fast");
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--ignore-eos") == 0) {
            ignore_eos = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("generate", "unknown option '%s'", a);
        } else if (!path) {
            path = a;
        } else if (!prompt) {
            prompt = a;
        } else {
            return cli_usage_error("generate", "unexpected argument '%s' (quote the prompt)", a);
        }
    }
    if (!path) return cli_usage_error("generate", "missing MODEL");
    if (!prompt && !ids_arg) return cli_usage_error("generate", "missing PROMPT (or --ids)");
    char *owned_prompt = NULL; /* PROMPT '-': standard input */
    size_t prompt_len = 0;
    if (prompt && !(prompt = cli_text_arg(prompt, &owned_prompt, &prompt_len))) return 1;

    attrib_model *m = cli_load_model(path, threads, false);
    if (!m) {
        free(owned_prompt);
        return 1;
    }
    attrib_model_set_compute(m, fast ? ATTRIB_COMPUTE_FAST : ATTRIB_COMPUTE_EXACT);
    const attrib_model_info *in = attrib_model_get_info(m);
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    int rc = 1;
    int32_t *ids = NULL;
    size_t n_prompt = 0;
    float *logits = NULL;
    attrib_cache *cache = NULL;
    attrib_token *toks = NULL;
    char *text = NULL;

    if (ids_arg) {
        if (parse_ids(ids_arg, &ids, &n_prompt) || n_prompt == 0) {
            rc = cli_usage_error("generate", "--ids takes comma-separated token ids, not '%s'", ids_arg);
            goto done;
        }
    } else {
        if (!tok) {
            fprintf(stderr, "attrib: error: %s has no tokenizer; give token ids with --ids\n", path);
            goto done;
        }
        attrib_status s = attrib_tokenize(tok, prompt, prompt_len, ATTRIB_TOK_ADD_SPECIAL, &toks, &n_prompt);
        if (s) {
            rc = cli_fail_status(s, "cannot tokenize the prompt");
            goto done;
        }
        if (n_prompt == 0) {
            fprintf(stderr, "attrib: error: the prompt gives no tokens and the tokenizer adds no BOS; use --ids\n");
            goto done;
        }
        ids = malloc(n_prompt * sizeof *ids);
        if (!ids) goto done;
        for (size_t i = 0; i < n_prompt; i++) ids[i] = toks[i].id;
    }
    size_t total = n_prompt + (size_t)n_predict;
    if (total > (size_t)in->n_ctx_train) {
        fprintf(stderr, "attrib: error: prompt (%zu tokens) + %d new tokens exceed the model's context of %d\n", n_prompt,
                n_predict, in->n_ctx_train);
        goto done;
    }
    int32_t *all = realloc(ids, total * sizeof *ids);
    if (!all) goto done;
    ids = all;
    logits = malloc((size_t)in->n_vocab * sizeof *logits);
    attrib_status s = attrib_cache_new(m, 1, (int)total, &cache);
    if (s || !logits) {
        rc = cli_fail_status(s ? s : ATTRIB_E_NOMEM, "cannot allocate the KV cache");
        goto done;
    }
    double t0 = cli_now(), t_prompt = 0;
    size_t n = n_prompt;
    int eos = tok ? attrib_tokenizer_eos(tok) : -1;
    attrib_batch b = {0};
    b.n_seq = 1;
    b.store = 1;
    b.logits_mode = ATTRIB_LOGITS_LAST;
    b.tokens = ids;
    b.n_tokens = (int)n_prompt;
    for (int step = 0; step < n_predict; step++) {
        s = attrib_forward(m, &b, cache, logits);
        if (s) {
            rc = cli_fail_status(s, "forward pass failed");
            goto done;
        }
        if (step == 0) t_prompt = cli_now() - t0;
        int next = argmax(logits, in->n_vocab);
        ids[n++] = next;
        if (next == eos && !ignore_eos) break;
        b.tokens = ids + n - 1;
        b.n_tokens = 1;
    }
    double t_total = cli_now() - t0;
    size_t text_len = 0;
    if (tok) {
        /* skip BOS etc.: detokenize drops special tokens */
        s = attrib_detokenize(tok, ids, n, 0, &text, &text_len);
        if (s) {
            rc = cli_fail_status(s, "cannot decode the output");
            goto done;
        }
    }
    if (json) {
        json_t *pid = json_array(), *gid = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(i < n_prompt ? pid : gid, json_integer(ids[i]));
        /* generated bytes need not be UTF-8 (a token may be half a character) */
        json_t *o = json_pack("{s:o, s:o, s:o, s:{s:f, s:f, s:f}}", "prompt_ids", pid, "ids", gid, "text",
                              cli_json_bytes(text ? text : "", text ? text_len : 0), "timings", "prompt_seconds", t_prompt, "total_seconds", t_total, "tokens_per_second",
                              n > n_prompt && t_total > t_prompt ? (double)(n - n_prompt - 1) / (t_total - t_prompt) : 0.0);
        char *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
        if (!out) {
            fprintf(stderr, "attrib: error: out of memory writing JSON\n");
            json_decref(o);
            rc = 1;
            goto done;
        }
        puts(out);
        free(out);
        json_decref(o);
    } else if (text) {
        fwrite(text, 1, text_len, stdout);
        putchar('\n');
    } else {
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
        putchar('\n');
    }
    rc = 0;
done:
    attrib_free(text);
    attrib_free(toks);
    attrib_cache_free(cache);
    free(logits);
    free(ids);
    free(owned_prompt);
    attrib_model_free(m);
    return rc;
}
