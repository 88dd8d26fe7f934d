/*
 * cmd_explain.c — `attrib explain MODEL TEXT --method M[,M...] --target ...`:
 * which input tokens made the model produce its next token (or a chosen
 * one)?
 *
 * Tokenizes TEXT with the model's tokenizer (keeping each token's byte span),
 * optionally groups tokens into words, runs each requested attribution
 * method and gathers the results into one JSON document (see render.h),
 * which is then shown as a terminal heat map (or aligned columns when the
 * output is not a terminal), printed as JSON or CSV, or written as a
 * self-contained HTML report.
 */
#include "cli.h"
#include "explain_gen.h"
#include "explain_layer.h"
#include "render.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *HELP =
    "usage: attrib explain MODEL TEXT [options]\n"
    "\n"
    "Attributes the model's prediction after TEXT to TEXT's tokens. BOS is added as the\n"
    "model's tokenizer says and is never perturbed; by default every other token is a feature.\n"
    "TEXT '-' reads the text from standard input (one final newline dropped).\n"
    "\n"
    "method:\n"
    "  -m, --method M[,M..] the method, or a comma list run one by one, e.g. ig,occlusion,saliency\n"
    "                       (default: ig); a feature's score is, by method:\n";
/* here every method of the library's table (cli_help_methods), then: */
static const char *HELP_OPTIONS =
    "target (what is explained; default: the logit of the model's top-1 next token):\n"
    "  --target KIND        logit | logprob | prob | diff\n"
    "  --token WORD         the target token, written as in text (e.g. \" Lily\", with its space);\n"
    "                       it must be one token of the model (check: attrib tokenize MODEL\n"
    "                       --single-token WORD)\n"
    "  --token-id N         the target token by id\n"
    "  --token2 WORD        second token for --target diff: logit(token) - logit(token2)\n"
    "  --token2-id N        the second token by id\n"
    "  --probe FILE         the logit of a probe from `attrib probe train` (harmful > 0);\n"
    "                       also spelled --target probe:FILE\n"
    "  --template T         present TEXT through a template: auto, chat, plain, judge, chatml,\n"
    "                       llama3, llama-guard or @FILE ({input} slot); only TEXT's tokens are\n"
    "                       features. A judge's target is logit(yes word) - logit(no word).\n"
    "                       auto: the model's own chat template (GGUF tokenizer.chat_template or\n"
    "                       tokenizer_config.json), its family recognised from the text, never run:\n"
    "                       llama-guard-3, qwen3, chatml, llama3, gemma, phi3, mistral-tekken,\n"
    "                       mistral. A guard model gets its own prompt around TEXT and the target\n"
    "                       logit(\"unsafe\") - logit(\"safe\"); any other chat model is asked \"Is the\n"
    "                       following request harmful? Answer Yes or No.\" with TEXT as the request,\n"
    "                       target logit(\"Yes\") - logit(\"No\") (\" Yes\"/\" No\" for mistral).\n"
    "                       Default when the model has a recognised chat template (else plain).\n"
    "                       chat: TEXT alone as the user message; target: the top-1 next token.\n"
    "  --system TEXT        system message for auto/chat (gemma/mistral: opens the user turn)\n"
    "  --show-prompt        print the prompt as the model gets it (template, tokens, which are\n"
    "                       features, the target's label tokens) and stop; --json for JSON\n"
    "  --thinking           qwen3: leave thinking on (default off: an empty <think> block ends\n"
    "                       the prompt so that the answer is the next token)\n"
    "  --label-words P N    the judge's words (default from the template, e.g. \" Yes\" \" No\");\n"
    "                       each must be one token after the template\n"
    "features:\n"
    "  --span B:E           attribute only token positions B..E-1 (others stay fixed)\n"
    "  --words              group tokens into whitespace-separated words\n"
    "layers (docs/gradients.md):\n"
    "  --layer L            attribute to the residual stream after block L (0 = the embeddings,\n"
    "                       n_layer = the last block's output) instead of to the input: every\n"
    "                       position is scored; saliency, gxi (gradient x activation) and ig (the\n"
    "                       layer's state interpolated from its value on the baseline input);\n"
    "                       --json adds each position x dimension value (\"layer_values\")\n"
    "  --layer-summary      direct logit attribution instead of a method: the target logit split\n"
    "                       into the embedding, each block's attention (per head) and FFN; the\n"
    "                       parts sum to the logit (table, or --json)\n"
    "masking / baseline:\n"
    "  --mask KIND          token | zero | delete | attention (default token: PAD, else UNK,\n"
    "                       else a space token; delete/attention are for perturbation methods)\n"
    "  --mask-token-id N    replacement token for --mask token\n"
    "  --baseline TEXT      IG baseline: a text with the same number of tokens as TEXT\n"
    "gradient methods:\n"
    "  --ig-tol F           adaptive IG (the default): refine until the completeness delta is\n"
    "                       within F x |f(input) - f(baseline)| (default 0.01; 0 = fixed rule)\n"
    "  --max-steps N        adaptive IG: at most N gradient evaluations (default 512)\n"
    "  --steps N            fixed-rule IG with N steps (chooses the fixed rule)\n"
    "  --rule R             fixed rule: gl (gauss-legendre, the default) | left | right | middle |\n"
    "                       trapezoid\n"
    "  --norm L             l2 | l1: saliency norm over the embedding (default l2)\n"
    "  --samples N          how many samples a sampled method draws (at most 65536); by default\n";
/* here the table's default sample counts (cli_help_samples), then: */
static const char *HELP_NOISE =
    "  --noise F            std of the input noise, relative to the embeddings' RMS (0.1), of\n"
    "                       ";
/* here the names of the methods that read the noise, then: */
static const char *HELP_TAIL =
    "  --on-gxi             SmoothGrad of gradient x input instead of saliency\n"
    "perturbation methods:\n"
    "  --window N --stride N  occlusion windows over features (1, 1)\n"
    "  --max-exact N        shapley-exact feature limit (16)\n"
    "general:\n"
    "  --seed N             seed of every random choice (0)\n"
    "  --batch N            sequences per pass (default: fit --memory-mb)\n"
    "  --memory-mb N        memory budget for batched passes (256)\n"
    "  -t, --threads N      threads (default: all online CPUs)\n"
    "  --compute MODE       exact (default) | fast: forward passes multiply Q8_0/Q4_0/Q4_K/Q5_K/Q6_K\n"
    "                       weights by activations rounded to 8 bits (integer dot products, like\n"
    "                       llama.cpp); faster, logits differ slightly; gradients stay exact\n"
    "  --no-prefix-cache    with --template: compute the template's tokens before TEXT in every\n"
    "                       pass instead of once (same scores up to float32 rounding; slower)\n"
    "output:\n"
    "  --format F           term | json | csv | html on standard output (default term: a heat map\n"
    "                       on a terminal, aligned columns otherwise)\n"
    "  --json               the same as --format json: tokens with ids, pieces, byte spans and\n"
    "                       scores (several methods: also a \"methods\" array)\n"
    "  --html FILE          also write a self-contained HTML report (opens from file://)\n"
    "  --csv FILE           also write CSV: one row per method x token\n"
    "  --svg FILE           also write the heat map as an SVG figure (for papers and slides)\n"
    "  --png FILE           the same figure as PNG, at twice the SVG's size (needs librsvg)\n"
    "  --progress           progress on standard error even when it is not a terminal\n"
    "a whole answer (why did the model write this, not just the next token?):\n"
    "  --generate N         the model writes N tokens after TEXT (greedy; stops after EOS unless\n"
    "                       --ignore-eos); each is attributed to TEXT's tokens and to the answer\n"
    "                       tokens before it: a matrix, one row per answer token\n"
    "  --continuation ANS   the same for a given answer ANS (forced decoding); TEXT and ANS are\n"
    "                       tokenized as one text, so ANS starts where a token starts (\" Lily.\")\n"
    "                       Default target: each answer token's log-probability (--target logit,\n"
    "                       prob or logprob); one --method (any). --json: the whole matrix, tokens and\n"
    "                       settings; --html FILE: an interactive matrix; --csv FILE: one row per cell;\n"
    "                       --words adds word columns (a word's score = the sum of its tokens')\n"
    "  --contrast ANS2      contrastive: step j's target is logit(answer token j) - logit(token j\n"
    "                       of ANS2), both after the real answer's first j tokens\n"
    "  --contrast-token W   every step against the one token W (or --contrast-token-id N)\n"
    "data set (instead of TEXT; no labels or classifier needed):\n"
    "  --data FILE          explain every row's text (CSV, JSON or JSONL; --text-col NAME,\n"
    "                       --limit N, --sample N, --shard K/N as for compare)\n"
    "  -o, --out FILE       with --data: one JSON document per row, as JSON lines (default:\n"
    "                       standard output); --csv and --html then cover every row\n"
    "  --color WHEN         auto | always | never (auto: colour on a terminal unless NO_COLOR;\n"
    "                       24-bit when COLORTERM is truecolor or 24bit, else 256 colours)\n"
    "\n"
    "examples:\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\"\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \\\n"
    "      \"Once upon a time there was a little girl named\" --generate 8 --html answer.html\n"
    "  attrib explain MODEL \"Is this request harmful? Answer:\" --method occlusion --target diff \\\n"
    "      --token \" Yes\" --token2 \" No\"\n"
    "  attrib explain MODEL \"How can I kill a Python process?\" --method ig,occlusion,saliency --html report.html\n"
    "  attrib explain MODEL --data prompts.csv --method ig,occlusion -o runs.jsonl --csv runs.csv --html runs.html\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\" --layer 3 -m gxi,ig\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\" --layer-summary\n";

enum { FORMAT_TERM, FORMAT_JSON, FORMAT_CSV, FORMAT_HTML };

typedef struct args {
    const char *model, *text, *baseline, *token_text, *token2_text, *html_path, *csv_path;
    const char *probe_path, *template_arg, *label_pos, *label_neg;
    const char *system; /* --system: the chat template's system message */
    int thinking;       /* --thinking: qwen3 keeps thinking on */
    attrib_explain_options o; /* the user's choices; per-method defaults come from method_options */
    attrib_method methods[ATTRIB_METHOD_COUNT_];
    int n_methods, samples;
    int threads, format, words, color, memory_mb, progress;
    int compute; /* --compute: attrib_compute of the forward passes */
    int no_prefix_cache; /* --no-prefix-cache */
    size_t text_len;
    bool judge; /* the target is the template's label words */
    cli_data_opts data; /* --data FILE: explain every row */
    const char *out_path, *svg_path, *png_path;
    bool show_prompt; /* --show-prompt: print the prompt and stop */
    explain_gen_opts gen; /* --generate / --continuation: a whole answer (cmd_explain_gen.c) */
    explain_layer_opts lay; /* --layer L / --layer-summary (explain_layer.c) */
} args;

static void print_help(FILE *f) {
    fputs(HELP, f);
    cli_help_methods(f);
    fputs(HELP_OPTIONS, f);
    cli_help_samples(f, "                         ");
    fputs(HELP_NOISE, f);
    cli_help_method_names(f, 23, "                       ", ATTRIB_READS_NOISE, 0);
    fputs(HELP_TAIL, f);
}

/* "ig,occlusion,saliency" into a list of distinct methods; false after printing. */
static bool parse_methods(const char *v, args *a) {
    char name[64];
    a->n_methods = 0;
    for (const char *p = v;; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof name) {
            cli_usage_error("explain", "--method takes names separated by commas, not '%s'", v);
            return false;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        int m = attrib_method_from_name(name);
        if (m < 0) {
            cli_usage_error("explain", "unknown method '%s'", name);
            return false;
        }
        for (int i = 0; i < a->n_methods; i++)
            if (a->methods[i] == (attrib_method)m) {
                cli_usage_error("explain", "method '%s' is listed twice", name);
                return false;
            }
        if (a->n_methods == ATTRIB_METHOD_COUNT_) return false; /* unreachable: names are distinct */
        a->methods[a->n_methods++] = (attrib_method)m;
        if (!comma) return true;
        p = comma;
    }
}

static bool parse_kind(const char *v, const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return true;
        }
    return false;
}

static int parse_args(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    a->lay.layer = -1;
    a->o = attrib_explain_default_options(ATTRIB_METHOD_INTEGRATED_GRADIENTS);
    a->color = -1;
    a->samples = -1;
    int samples = -1;
    static const char *targets[] = {"logit", "logprob", "prob", "diff"};
    static const char *norms[] = {"l2", "l1"};
    attrib_explain_options o = a->o;
    int fixed_rule = 0;  /* --steps or --rule given */
    double ig_tol = -1;  /* --ig-tol given */
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int x;
#define NEED_VALUE() do { if (!v) return cli_usage_error("explain", "%s needs a value", k); i++; } while (0)
#define INT_OPT(lo, hi, dst) do { NEED_VALUE(); if (!cli_parse_int("explain", k, v, lo, hi, &x)) return 2; dst = x; } while (0)
        if (cli_is(k, "--help", "-h")) {
            print_help(stdout);
            return -1;
        } else if ((x = explain_gen_option(argc, argv, &i, &a->gen)) != 0) {
            if (x < 0) return 2;
        } else if ((x = explain_layer_option(argc, argv, &i, &a->lay)) != 0) {
            if (x < 0) return 2;
        } else if (cli_is(k, "-m", "--method")) {
            NEED_VALUE();
            if (!parse_methods(v, a)) return 2;
        } else if (!strcmp(k, "--target") && v && !strncmp(v, "probe:", 6)) { /* --target probe:FILE */
            a->probe_path = v + 6;
            i++;
        } else if (!strcmp(k, "--target")) {
            NEED_VALUE();
            if (!parse_kind(v, targets, 4, &x)) return cli_usage_error("explain", "--target takes logit, logprob, prob or diff");
            o.target.kind = (attrib_target_kind)x;
        } else if (!strcmp(k, "--probe")) { NEED_VALUE(); a->probe_path = v;
        } else if (!strcmp(k, "--template")) { NEED_VALUE(); a->template_arg = v;
        } else if (!strcmp(k, "--system")) { NEED_VALUE(); a->system = v;
        } else if (!strcmp(k, "--thinking")) { a->thinking = 1;
        } else if (!strcmp(k, "--show-prompt")) { a->show_prompt = true;
        } else if (!strcmp(k, "--label-words")) {
            if (i + 2 >= argc) return cli_usage_error("explain", "--label-words needs two words, e.g. \" Yes\" \" No\"");
            a->label_pos = argv[i + 1];
            a->label_neg = argv[i + 2];
            i += 2;
        } else if (!strcmp(k, "--token")) { NEED_VALUE(); a->token_text = v;
        } else if (!strcmp(k, "--token2")) { NEED_VALUE(); a->token2_text = v;
        } else if (!strcmp(k, "--token-id")) { INT_OPT(0, 1 << 24, o.target.token);
        } else if (!strcmp(k, "--token2-id")) { INT_OPT(0, 1 << 24, o.target.token2);
        } else if (!strcmp(k, "--span")) {
            NEED_VALUE();
            if (sscanf(v, "%d:%d", &o.span_begin, &o.span_end) != 2 || o.span_begin < 0 || o.span_end <= o.span_begin)
                return cli_usage_error("explain", "--span takes B:E with 0 <= B < E");
        } else if (!strcmp(k, "--words")) { a->words = 1;
        } else if (!strcmp(k, "--mask")) {
            NEED_VALUE();
            if ((x = attrib_mask_from_name(v)) < 0) return cli_usage_error("explain", "--mask takes token, zero, delete or attention");
            o.mask = (attrib_mask_kind)x;
        } else if (!strcmp(k, "--mask-token-id")) { INT_OPT(0, 1 << 24, o.mask_token);
        } else if (!strcmp(k, "--baseline")) { NEED_VALUE(); a->baseline = v;
        } else if (!strcmp(k, "--steps")) { INT_OPT(1, 4096, o.ig_steps); fixed_rule = 1;
        } else if (!strcmp(k, "--max-steps")) { INT_OPT(8, 65536, o.ig_max_steps);
        } else if (!strcmp(k, "--ig-tol")) {
            NEED_VALUE();
            char *end;
            ig_tol = strtod(v, &end);
            if (*end || !(ig_tol >= 0 && ig_tol < 1)) return cli_usage_error("explain", "--ig-tol takes a number in [0, 1)");
        } else if (!strcmp(k, "--rule")) {
            fixed_rule = 1;
            NEED_VALUE();
            if ((x = attrib_ig_rule_from_name(v)) < 0)
                return cli_usage_error("explain", "--rule takes gl (gauss-legendre), left, right, middle or trapezoid");
            o.ig_rule = (attrib_ig_rule)x;
        } else if (!strcmp(k, "--norm")) {
            NEED_VALUE();
            if (!parse_kind(v, norms, 2, &x)) return cli_usage_error("explain", "--norm takes l2 or l1");
            o.norm = (attrib_saliency_norm)x;
        } else if (!strcmp(k, "--samples")) { INT_OPT(1, CLI_MAX_SAMPLES, samples);
        } else if (!strcmp(k, "--noise")) {
            NEED_VALUE();
            char *end;
            o.smooth_noise = strtof(v, &end);
            if (*end || !(o.smooth_noise >= 0)) return cli_usage_error("explain", "--noise takes a number >= 0");
        } else if (!strcmp(k, "--on-gxi")) { o.smooth_on_gxi = 1;
        } else if (!strcmp(k, "--window")) { INT_OPT(1, 1 << 20, o.window);
        } else if (!strcmp(k, "--stride")) { INT_OPT(1, 1 << 20, o.stride);
        } else if (!strcmp(k, "--max-exact")) { INT_OPT(1, 30, o.max_exact_features);
        } else if (!strcmp(k, "--seed")) {
            NEED_VALUE();
            char *end;
            o.seed = strtoull(v, &end, 10);
            if (*end || *v == '-') return cli_usage_error("explain", "--seed takes a whole number >= 0");
        } else if (!strcmp(k, "--batch")) { INT_OPT(1, 1 << 20, o.batch);
        } else if (!strcmp(k, "--memory-mb")) { INT_OPT(16, 1 << 20, a->memory_mb);
        } else if (cli_is(k, "-t", "--threads")) { INT_OPT(1, 1024, a->threads);
        } else if (!strcmp(k, "--compute")) {
            NEED_VALUE();
            static const char *modes[] = {"exact", "fast"};
            if (!parse_kind(v, modes, 2, &a->compute)) return cli_usage_error("explain", "--compute takes exact or fast");
        } else if (!strcmp(k, "--no-prefix-cache")) { a->no_prefix_cache = 1;
        } else if (!strcmp(k, "--json")) { a->format = FORMAT_JSON;
        } else if (!strcmp(k, "--format")) {
            NEED_VALUE();
            static const char *formats[] = {"term", "json", "csv", "html"};
            if (!parse_kind(v, formats, 4, &a->format)) return cli_usage_error("explain", "--format takes term, json, csv or html");
        } else if (!strcmp(k, "--progress")) { a->progress = 1;
        } else if (cli_is(k, "-o", "--out")) { NEED_VALUE(); a->out_path = v;
        } else if (strcmp(k, "--template") && (x = cli_data_option("explain", argc, argv, &i, &a->data)) != 0) {
            if (x < 0) return 2;
        } else if (!strcmp(k, "--html")) { NEED_VALUE(); a->html_path = v;
        } else if (!strcmp(k, "--csv")) { NEED_VALUE(); a->csv_path = v;
        } else if (!strcmp(k, "--png")) { NEED_VALUE(); a->png_path = v;
        } else if (!strcmp(k, "--svg")) { NEED_VALUE(); a->svg_path = v;
        } else if (!strcmp(k, "--color")) {
            NEED_VALUE();
            a->color = !strcmp(v, "always") ? 1 : !strcmp(v, "never") ? 0 : !strcmp(v, "auto") ? -1 : -2;
            if (a->color == -2) return cli_usage_error("explain", "--color takes auto, always or never");
        } else if (k[0] == '-' && k[1]) {
            return cli_usage_error("explain", "unknown option '%s'", k);
        } else if (!a->model) {
            a->model = k;
        } else if (!a->text) {
            a->text = k;
        } else {
            return cli_usage_error("explain", "unexpected argument '%s' (quote the text)", k);
        }
#undef INT_OPT
#undef NEED_VALUE
    }
    if (!a->model) return cli_usage_error("explain", "missing MODEL");
    if (a->data.n_files && a->text) return cli_usage_error("explain", "give TEXT or --data FILE, not both");
    if (!a->text && !a->data.n_files) return cli_usage_error("explain", "missing TEXT (or --data FILE)");
    if ((a->svg_path || a->png_path) && a->data.n_files)
        return cli_usage_error("explain", "%s is for one TEXT, not --data", a->svg_path ? "--svg" : "--png");
    if (a->png_path && !render_png_available()) { /* say so before the model runs */
        render_png(a->png_path, render_explain_svg, NULL);
        return 1;
    }
    if (a->out_path && !a->data.n_files) return cli_usage_error("explain", "-o goes with --data (for one TEXT, use --json)");
    if (!a->n_methods) a->methods[a->n_methods++] = ATTRIB_METHOD_INTEGRATED_GRADIENTS;
    if (ig_tol > 0 && fixed_rule)
        return cli_usage_error("explain", "--steps and --rule choose the fixed IG rule, --ig-tol the adaptive one: give one");
    if (ig_tol >= 0) o.ig_tol = ig_tol;
    else if (fixed_rule) o.ig_tol = 0;
    a->samples = samples;
    if (a->memory_mb) o.memory_budget = (size_t)a->memory_mb << 20;
    const int layer_rc = explain_layer_check(&a->lay, &o, a->methods, a->n_methods, a->data.n_files > 0, a->words,
                                             a->html_path || a->csv_path || a->svg_path || a->png_path);
    if (layer_rc) return layer_rc;
    a->o = o;
    return 0;
}

/* The user's options for METHOD: its own defaults where the user chose nothing. */
static attrib_explain_options method_options(const args *a, attrib_method method) {
    attrib_explain_options d = attrib_explain_default_options(method), o = a->o;
    o.method = method;
    o.samples = d.samples;
    o.smooth_samples = d.smooth_samples;
    cli_set_samples(&o, a->samples);
    return o;
}

static const char *TARGET_NAMES[] = {"logit", "logprob", "prob", "logit diff", "probe"};

/* A token's vocabulary piece as a JSON string of its raw bytes (the
 * renderers validate; the JSON printer sanitises). */
static json_t *piece_json(const attrib_tokenizer *tok, int32_t id) {
    size_t len = 0;
    const char *p = id >= 0 ? attrib_tokenizer_piece(tok, id, &len) : NULL;
    return p ? json_stringn_nocheck(p, len) : json_string("");
}

/* The settings that matter for R's method (shown in every report): the
 * library's record of them, with the baseline's text and --words. */
static json_t *method_settings(const args *a, const attrib_explain_options *o, const attrib_result *r) {
    json_t *s = cli_method_settings(o, r);
    if (s && a->baseline && json_object_get(s, "baseline"))
        json_object_set_new(s, "baseline", json_stringn_nocheck(a->baseline, strlen(a->baseline)));
    if (s && a->words) json_object_set_new(s, "words", json_true());
    return s;
}

static json_t *nan_null(double v) { return isnan(v) ? json_null() : json_real(v); }

/* The text token ID stands for where it follows other text (" Lily" for
 * "▁Lily", " Yes" for "ĠYes"): the decoding of [id, id] after that of [id],
 * since a decoder may strip the space of a first token. */
static json_t *token_text_json(const attrib_tokenizer *tok, int32_t id) {
    int32_t two[2] = {id, id};
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    json_t *j = NULL;
    if (id >= 0 && !attrib_detokenize(tok, two, 1, 1, &t1, &l1) && !attrib_detokenize(tok, two, 2, 1, &t2, &l2) && l2 >= l1)
        j = json_stringn_nocheck(t2 + l1, l2 - l1);
    attrib_free(t1);
    attrib_free(t2);
    return j ? j : piece_json(tok, id);
}

/* IG's quadrature: the rule, what it achieved, and a warning when the
 * adaptive rule stopped at its step cap short of the tolerance. */
static json_t *ig_json(const attrib_explain_options *o, const attrib_result *r) {
    const bool adaptive = o->ig_tol > 0;
    json_t *j = json_pack("{s:b, s:I, s:i, s:i, s:b, s:o, s:o}", "adaptive", adaptive, "evaluations", (json_int_t)r->n_backward,
                          "nodes", r->ig_n_nodes, "pieces", r->ig_pieces, "cap_reached", r->ig_cap_reached, "delta",
                          nan_null(r->completeness_delta), "relative", nan_null(r->completeness_relative));
    if (adaptive) {
        json_object_set_new(j, "tol", json_real(o->ig_tol));
        json_object_set_new(j, "max_steps", json_integer(o->ig_max_steps));
        json_object_set_new(j, "error_bound", nan_null(r->ig_error_bound));
    }
    if (adaptive && r->ig_cap_reached) {
        char w[256];
        snprintf(w, sizeof w,
                 "WARNING: adaptive IG stopped at the step cap (%lld gradient evaluations, --max-steps %d) with completeness "
                 "delta %.3g%% of f(input) - f(baseline), above the tolerance %.3g%%: raise --max-steps",
                 (long long)r->n_backward, o->ig_max_steps, 100 * r->completeness_relative, 100 * o->ig_tol);
        json_object_set_new(j, "warning", json_string(w));
    }
    return j;
}

/* One entry of "methods": everything a report shows about one method's run. */
static json_t *method_json(const args *a, const attrib_tokenizer *tok, const attrib_result *r) {
    attrib_explain_options o = method_options(a, r->method);
    json_t *target = json_pack("{s:s, s:i, s:o, s:o}", "kind", TARGET_NAMES[r->target_kind], "token", r->target_token, "piece",
                               piece_json(tok, r->target_token), "text", token_text_json(tok, r->target_token));
    if (r->target_kind == ATTRIB_TARGET_LOGIT_DIFF) {
        json_object_set_new(target, "token2", json_integer(r->target_token2));
        json_object_set_new(target, "piece2", piece_json(tok, r->target_token2));
        json_object_set_new(target, "text2", token_text_json(tok, r->target_token2));
    }
    /* completeness (sum of scores = f(input) - f(baseline)) is a property of
     * integrating from a baseline (IG); for the other methods it means nothing */
    const bool ig = cli_method_reads(r->method, ATTRIB_READS_BASELINE) && !isnan(r->f_baseline);
    json_t *scores = json_array(), *feats = json_array();
    for (int i = 0; i < r->n_tokens; i++) json_array_append_new(scores, json_real(r->token_scores[i]));
    for (int f = 0; f < r->n_features; f++) json_array_append_new(feats, json_real(r->scores[f]));
    json_t *m = json_pack("{s:s, s:o, s:o, s:o, s:o, s:f, s:o, s:f, s:o, s:o, s:{s:I, s:I, s:f}}", "method",
                          attrib_method_name(r->method), "settings", method_settings(a, &o, r), "target", target, "scores",
                          scores, "features", feats, "f_input", r->f_input, "f_baseline", nan_null(r->f_baseline),
                          "sum_scores", r->sum_scores, "completeness_delta", nan_null(ig ? r->completeness_delta : NAN),
                          "completeness_relative", nan_null(ig ? r->completeness_relative : NAN), "cost", "n_forward",
                          (json_int_t)r->n_forward, "n_backward", (json_int_t)r->n_backward, "seconds", r->seconds);
    if (r->std_errors) {
        json_t *se = json_array();
        for (int f = 0; f < r->n_features; f++) json_array_append_new(se, json_real(r->std_errors[f]));
        json_object_set_new(m, "std_errors", se);
    }
    if (ig && cli_method_reads(r->method, ATTRIB_READS_IG)) json_object_set_new(m, "ig", ig_json(&o, r));
    return m;
}

/* The document every output is made from. Its top level keeps the
 * single-method shape of earlier versions (the first method's result);
 * "methods" holds every method's run. */
static json_t *build_doc(const args *a, const attrib_model *m, const attrib_token *toks, size_t n, attrib_result *const *rs,
                         int32_t predicted) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const attrib_result *r = rs[0];
    json_t *tarr = json_array();
    for (size_t i = 0; i < n; i++) {
        int fe = r->feature_of_token[i];
        json_t *t = json_pack("{s:i, s:o, s:i, s:i, s:i, s:f}", "id", toks[i].id, "piece", piece_json(tok, toks[i].id), "begin",
                              (int)toks[i].begin, "end", (int)toks[i].end, "feature", fe, "score", r->token_scores[i]);
        if (r->std_errors && fe >= 0) json_object_set_new(t, "std_error", json_real(r->std_errors[fe]));
        json_array_append_new(tarr, t);
    }
    json_t *feats = json_array();
    for (int f = 0; f < r->n_features; f++) json_array_append_new(feats, json_real(r->scores[f]));
    const attrib_model_info *in = attrib_model_get_info(m);
    json_t *o = json_pack(
        "{s:s, s:o, s:s, s:{s:s, s:i, s:i}, s:o, s:o, s:f, s:o, s:f, s:f, s:{s:I, s:I, s:f, s:i}}", "attrib_version",
        attrib_version(), "model", json_stringn_nocheck(in->path, strlen(in->path)), "method", attrib_method_name(r->method),
        "target", "kind", TARGET_NAMES[r->target_kind], "token", r->target_token, "token2", r->target_token2, "tokens", tarr,
        "features", feats, "f_input", r->f_input, "f_baseline", nan_null(r->f_baseline), "sum_scores", r->sum_scores,
        "completeness_relative",
        isnan(r->completeness_relative) || !cli_method_reads(r->method, ATTRIB_READS_BASELINE) ? -1.0 : r->completeness_relative,
        "cost", "n_forward",
        (json_int_t)r->n_forward, "n_backward", (json_int_t)r->n_backward, "seconds", r->seconds, "threads", a->threads);
    if (o) /* the compute mode changes the numbers: recorded with the cost */
        json_object_set_new(json_object_get(o, "cost"), "compute", json_string(a->compute ? "fast" : "exact"));
    if (o) /* template tokens taken from the prefix cache (0: every pass from position 0) */
        json_object_set_new(json_object_get(o, "cost"), "prefix_tokens", json_integer(r->prefix_len));
    attrib_explain_options o0 = method_options(a, r->method);
    json_t *settings = json_pack("{s:s, s:i, s:i, s:s, s:i, s:i, s:i, s:b}", "mask", attrib_mask_name(r->mask), "mask_token",
                                 r->mask_token, "ig_steps", o0.ig_steps, "ig_rule", attrib_ig_rule_name(o0.ig_rule), "samples",
                                 cli_method_reads(r->method, ATTRIB_READS_SMOOTH) ? o0.smooth_samples : o0.samples, "window",
                                 o0.window, "stride", o0.stride, "words", a->words);
    if (cli_method_reads(r->method, ATTRIB_READS_SEED)) json_object_set_new(settings, "seed", json_integer((json_int_t)o0.seed));
    if (cli_method_reads(r->method, ATTRIB_READS_IG)) {
        json_object_set_new(settings, "ig_tol", json_real(o0.ig_tol));
        json_object_set_new(settings, "ig_max_steps", json_integer(o0.ig_max_steps));
        if (!isnan(r->f_baseline)) json_object_set_new(o, "ig", ig_json(&o0, r));
    }
    json_object_set_new(o, "settings", settings);
    if (r->std_errors) {
        json_t *se = json_array();
        for (int f = 0; f < r->n_features; f++) json_array_append_new(se, json_real(r->std_errors[f]));
        json_object_set_new(o, "std_errors", se);
    }
    json_object_set_new(o, "text", json_stringn_nocheck(a->text, a->text_len));
    if (predicted >= 0) /* not for probe and judge runs, where the next token is not what is explained */
        json_object_set_new(o, "predicted", json_pack("{s:i, s:o, s:o}", "token", predicted, "piece", piece_json(tok, predicted),
                                                      "text", token_text_json(tok, predicted)));
    json_t *methods = json_array();
    for (int k = 0; k < a->n_methods; k++) json_array_append_new(methods, method_json(a, tok, rs[k]));
    json_object_set_new(o, "methods", methods);
    return o;
}

/* Replaces invalid UTF-8 in every string of V by U+FFFD (JSON must be UTF-8;
 * byte offsets then refer to the original bytes). */
static void sanitize_strings(json_t *v) {
    if (json_is_string(v)) {
        size_t len;
        char *s = render_utf8_sanitize(json_string_value(v), json_string_length(v), &len);
        if (s) json_string_setn(v, s, len);
        free(s);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) sanitize_strings(x);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) sanitize_strings(x);
    }
}

/* The model's top-1 next token after IDS: free when some method's target
 * was the top-1 token, else one forward pass. */
static int predicted_token(attrib_model *m, const int32_t *ids, int n, const args *a, attrib_result *const *rs, int32_t *out) {
    if (a->o.target.kind <= ATTRIB_TARGET_PROB && a->o.target.token < 0) {
        *out = rs[0]->target_token;
        return 0;
    }
    const attrib_model_info *in = attrib_model_get_info(m);
    float *logits = malloc((size_t)in->n_vocab * sizeof *logits);
    if (!logits) return cli_fail_status(ATTRIB_E_NOMEM, "cannot find the predicted token");
    attrib_batch b = {0};
    b.n_seq = 1;
    b.n_tokens = n;
    b.tokens = ids;
    b.logits_mode = ATTRIB_LOGITS_LAST;
    attrib_status s = attrib_forward(m, &b, NULL, logits);
    if (s) {
        free(logits);
        return cli_fail_status(s, "forward pass failed");
    }
    int best = 0;
    for (int v = 1; v < in->n_vocab; v++)
        if (logits[v] > logits[best]) best = v;
    free(logits);
    *out = best;
    return 0;
}

static render_colour pick_colour(int color) {
    const char *no = getenv("NO_COLOR");
    bool on = color == 1 || (color == -1 && isatty(1) && !(no && *no));
    if (!on) return RENDER_PLAIN;
    const char *ct = getenv("COLORTERM");
    return ct && (!strcmp(ct, "truecolor") || !strcmp(ct, "24bit")) ? RENDER_TRUECOLOR : RENDER_ANSI256;
}

/* Writes DOC to standard output in A's format. */
static int print_doc(const args *a, json_t *doc) {
    int bad = 0;
    if (a->format == FORMAT_TERM) {
        bad = render_explain_term(stdout, doc, pick_colour(a->color));
    } else if (a->format == FORMAT_CSV) {
        bad = render_explain_csv(stdout, doc);
    } else if (a->format == FORMAT_HTML) {
        bad = render_explain_html(stdout, doc);
    } else {
        json_t *out = json_deep_copy(doc);
        if (!out) return 1;
        if (a->n_methods == 1) json_object_del(out, "methods"); /* the single-method shape, unchanged */
        sanitize_strings(out);
        char *s = json_dumps(out, JSON_INDENT(1) | JSON_ENSURE_ASCII);
        if (s) puts(s);
        bad = !s;
        free(s);
        json_decref(out);
    }
    return bad || fflush(stdout) ? 1 : 0;
}

/* Why METHOD cannot run with A's settings on N_FEATURES features (NULL: it can).
 * Checked for every method before any runs, so no finished work is lost to
 * a later method's bad settings. */
static const char *method_problem(const args *a, attrib_method method, int n_features, char *buf, size_t cap) {
    const char *name = attrib_method_name(method);
    if (cli_method_reads(method, ATTRIB_READS_BASELINE) && !a->baseline &&
        (a->o.mask == ATTRIB_MASK_DELETE || a->o.mask == ATTRIB_MASK_ATTENTION)) {
        snprintf(buf, cap, "%s needs an embedding baseline, which --mask %s does not give: use --mask token or zero, or "
                 "--baseline TEXT", name, attrib_mask_name(a->o.mask));
        return buf;
    }
    if (cli_method_reads(method, ATTRIB_READS_MAX_EXACT)) {
        int lim = a->o.max_exact_features > 0 ? a->o.max_exact_features : 16;
        if (n_features > lim) {
            snprintf(buf, cap, "%s needs 2^n model evaluations and TEXT has %d features, above --max-exact %d: "
                     "group tokens with --words, narrow --span, or use shapley or kernelshap", name, n_features, lim);
            return buf;
        }
    }
    return NULL;
}

/* Methods that replace tokens by the mask token (perturbation, or IG's
 * baseline when no --baseline replaces it). */
static bool uses_mask_token(const args *a, attrib_method m) {
    if (a->o.mask != ATTRIB_MASK_TOKEN || !cli_method_reads(m, ATTRIB_READS_MASK)) return false;
    return !(a->baseline && cli_method_reads(m, ATTRIB_READS_BASELINE));
}

/* A feature holding the mask token cannot be masked (replacing it changes
 * nothing), so its score says nothing: warn, naming the positions. */
static void warn_mask_token(const args *a, const attrib_tokenizer *tok, const int32_t *ids, int n, int span_b, int span_e) {
    bool any = false;
    for (int k = 0; k < a->n_methods; k++) any = any || uses_mask_token(a, a->methods[k]);
    int32_t mask = a->o.mask_token >= 0 ? a->o.mask_token : attrib_default_mask_token(tok);
    if (!any || mask < 0) return;
    int count = 0;
    for (int i = span_b; i < span_e && i < n; i++)
        if (ids[i] == mask) {
            if (!count++) {
                size_t len = 0;
                const char *p = attrib_tokenizer_piece(tok, mask, &len);
                fprintf(stderr, "attrib: warning: the mask token %d '%.*s' occurs in the input at position", mask,
                        (int)(len < 40 ? len : 40), p ? p : "");
                fputc(' ', stderr);
            } else {
                fputs(", ", stderr);
            }
            fprintf(stderr, "%d", i);
        }
    if (count)
        fprintf(stderr, ": masking %s changes nothing, so %s score is not meaningful (choose another with --mask-token-id, "
                "or --mask zero)\n", count > 1 ? "them" : "it", count > 1 ? "their" : "its");
}

/* --show-prompt: the prompt's tokens, the features among them and the
 * judge's label tokens, without running any method. */
static int show_prompt(const args *a, const attrib_tokenizer *tok, const attrib_token *t, size_t n, const char *tmpl_name) {
    const int bos = attrib_tokenizer_bos(tok);
    const int b = a->o.span_begin >= 0 ? a->o.span_begin : (n > 0 && t[0].id == bos ? 1 : 0);
    const int e = a->o.span_end > 0 ? a->o.span_end : (int)n;
    if (a->format == FORMAT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:i, s:o, s:i, s:i, s:b}", "id", t[i].id, "piece", piece_json(tok, t[i].id),
                                                 "begin", (int)t[i].begin, "end", (int)t[i].end, "feature",
                                                 (int)i >= b && (int)i < e));
        json_t *o = json_pack("{s:s, s:s%, s:o, s:[i, i]}", "template", tmpl_name, "rendered", a->text, a->text_len, "tokens",
                              arr, "span", b, e);
        if (a->judge)
            json_object_set_new(o, "label_tokens", json_pack("[i, i]", a->o.target.token, a->o.target.token2));
        char *js = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (js) puts(js);
        free(js);
        json_decref(o);
        return 0;
    }
    printf("template  %s\nprompt    %zu tokens, features %d..%d (marked *)\n", tmpl_name, n, b, e - 1);
    for (size_t i = 0; i < n; i++) {
        size_t pl = 0;
        const char *p = attrib_tokenizer_piece(tok, t[i].id, &pl);
        printf("%5zu %c %7d  '", i, (int)i >= b && (int)i < e ? '*' : ' ', t[i].id);
        for (size_t k = 0; p && k < pl; k++) {
            unsigned char c = (unsigned char)p[k];
            if (c == '\n') printf("\\n");
            else if (c < 32) printf("\\x%02x", c);
            else putchar(c);
        }
        printf("'\n");
    }
    if (a->judge) printf("target    logit(%d) - logit(%d)\n", a->o.target.token, a->o.target.token2);
    return 0;
}

/* Explains A's text with model M: *doc_out gets the document (also when
 * some methods failed: rc is then 1 and the others' results are kept). */
static int explain_text(args a, attrib_model *m, json_t **doc_out) {
    int rc;
    *doc_out = NULL;
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    attrib_token *toks = NULL, *btoks = NULL;
    int32_t *ids = NULL, *groups = NULL, *bids = NULL;
    attrib_result *r[ATTRIB_METHOD_COUNT_] = {0};
    attrib_probe *probe = NULL;
    attrib_prompt *prompt = NULL;
    char *tmpl = NULL, *chat_text = NULL;
    const char *shown_name = "none (TEXT as is)";
    json_t *doc = NULL;
    size_t n = 0, bn = 0;
    int n_done = 0, n_failed = 0;
    rc = 1;
    if (!tok) {
        fprintf(stderr, "attrib: error: %s has no tokenizer\n", a.model);
        goto done;
    }
    attrib_status s;
    if (a.probe_path) {
        if ((s = attrib_probe_load(a.probe_path, &probe))) {
            rc = cli_fail_status(s, "cannot load probe");
            goto done;
        }
        if ((s = attrib_probe_check_model(probe, m))) {
            rc = cli_fail_status(s, "cannot apply the probe");
            goto done;
        }
        a.o.target.kind = ATTRIB_TARGET_PROBE;
        a.o.target.probe = probe;
    }
    /* --template auto / chat, or by default the model's own chat template */
    cli_chat chat;
    const int crc = a.probe_path && !a.template_arg ? -1 : cli_chat_template(tok, a.template_arg, a.system, a.thinking, &chat);
    if (crc > 0) {
        rc = crc;
        goto done;
    }
    if (crc < 0 && (a.system || a.thinking)) {
        rc = cli_usage_error("explain", "--system and --thinking need the model's chat template (--template auto or chat)");
        goto done;
    }
    if (crc == 0 || a.template_arg) {
        const char *tmpl_name;
        shown_name = "";
        if (crc == 0) {
            tmpl = strdup(chat.tmpl);
            attrib_free(chat.tmpl);
            tmpl_name = chat.name;
            if (!tmpl || !(chat_text = cli_chat_trim(&chat, a.text))) goto done;
            a.text = chat_text;
            a.text_len = strlen(chat_text);
        } else if ((rc = cli_template(a.template_arg, &tmpl, &tmpl_name))) {
            goto done;
        }
        rc = 1;
        shown_name = tmpl_name;
        if ((s = attrib_template_apply(tok, tmpl, a.text, a.text_len, &prompt))) {
            rc = cli_fail_status(s, "cannot apply the template");
            goto done;
        }
        n = (size_t)prompt->n;
        toks = malloc(n * sizeof *toks);
        if (!toks) goto done;
        memcpy(toks, prompt->tokens, n * sizeof *toks);
        a.text = prompt->rendered; /* token byte spans refer to the rendered prompt */
        a.text_len = prompt->rendered_len;
        if (a.o.span_begin < 0) {
            a.o.span_begin = prompt->span_begin;
            a.o.span_end = prompt->span_end;
        }
        const char *pw = a.label_pos, *nw = a.label_neg;
        if (!pw && crc == 0) pw = chat.positive, nw = chat.negative;
        else if (!pw) attrib_template_labels(tmpl_name, &pw, &nw);
        if (!probe && pw && nw && !a.token_text && a.o.target.token < 0) {
            const bool given = a.label_pos != NULL;
            if (cli_word_error(tok, tmpl, a.template_arg, given ? "label word" : "the template's default label word", pw, &a.o.target.token) ||
                cli_word_error(tok, tmpl, a.template_arg, given ? "label word" : "the template's default label word", nw, &a.o.target.token2)) {
                if (!given) fprintf(stderr, "  this model's vocabulary has no single token for it after the template, so "
                                            "the judge's defaults cannot work here; choose --label-words P N:\n");
                else fprintf(stderr, "  choose other --label-words P N:\n");
                cli_suggest_words(stderr, tok, tmpl);
                rc = 1;
                goto done;
            }
            a.o.target.kind = ATTRIB_TARGET_LOGIT_DIFF;
            a.judge = true;
        }
    } else {
        s = attrib_tokenize(tok, a.text, a.text_len, ATTRIB_TOK_ADD_SPECIAL, &toks, &n);
        if (s) {
            rc = cli_fail_status(s, "cannot tokenize TEXT");
            goto done;
        }
    }
    if (a.show_prompt) {
        rc = show_prompt(&a, tok, toks, n, shown_name);
        goto done;
    }
    ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) goto done;
    for (size_t i = 0; i < n; i++) ids[i] = toks[i].id;
    if (a.token_text && (rc = cli_word_error(tok, tmpl, a.template_arg, "--token", a.token_text, &a.o.target.token))) goto done;
    if (a.token2_text && (rc = cli_word_error(tok, tmpl, a.template_arg, "--token2", a.token2_text, &a.o.target.token2))) goto done;
    rc = 1;
    if (a.o.target.kind == ATTRIB_TARGET_LOGIT_DIFF && (a.o.target.token < 0 || a.o.target.token2 < 0)) {
        rc = cli_usage_error("explain", "--target diff needs --token and --token2 (or their -id forms)");
        goto done;
    }
    if ((rc = explain_layer_model_check(&a.lay, m))) goto done;
    if (a.lay.summary) {
        rc = explain_layer_summary(m, toks, ids, (int)n, a.text, a.text_len, &a.o.target, a.format == FORMAT_JSON);
        goto done;
    }
    rc = 1;
    const int bos = attrib_tokenizer_bos(tok);
    const int span_b = a.o.span_begin >= 0 ? a.o.span_begin : (n > 0 && ids[0] == bos ? 1 : 0);
    const int span_e = a.o.span_end > 0 ? a.o.span_end : (int)n;
    if (span_e > (int)n || span_b >= span_e) {
        if (a.o.span_begin >= 0 && !a.template_arg)
            rc = cli_usage_error("explain", "--span %d:%d is outside TEXT's %zu tokens (positions 0 to %zu; see attrib tokenize)",
                                 a.o.span_begin, a.o.span_end, n, n ? n - 1 : 0);
        else
            rc = cli_usage_error("explain", "TEXT has no token to attribute (BOS is never a feature)");
        goto done;
    }
    if (a.baseline) {
        s = attrib_tokenize(tok, a.baseline, strlen(a.baseline), ATTRIB_TOK_ADD_SPECIAL, &btoks, &bn);
        if (s) {
            rc = cli_fail_status(s, "cannot tokenize --baseline");
            goto done;
        }
        if (bn != n) {
            fprintf(stderr, "attrib: error: --baseline has %zu tokens but TEXT has %zu; they must match\n", bn, n);
            goto done;
        }
        bids = malloc(n * sizeof *bids);
        if (!bids) goto done;
        for (size_t i = 0; i < n; i++) bids[i] = btoks[i].id;
        a.o.baseline_ids = bids;
    }
    int n_features = span_e - span_b;
    if (a.words) { /* a word starts at a token whose text begins with white space, or after one that ends with it */
        groups = malloc((size_t)(span_e - span_b) * sizeof *groups);
        if (!groups) goto done;
        int g = -1;
        for (int i = span_b; i < span_e; i++) {
            unsigned char c = toks[i].end > toks[i].begin ? (unsigned char)a.text[toks[i].begin] : ' ';
            bool same_char = i > span_b && toks[i].begin == toks[i - 1].begin; /* pieces of one character */
            unsigned char prev = i > span_b && toks[i - 1].end > toks[i - 1].begin ? (unsigned char)a.text[toks[i - 1].end - 1] : 'x';
            bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r', prev_ws = prev == ' ' || prev == '\n' || prev == '\t' || prev == '\r';
            if (g < 0 || (!same_char && (ws || prev_ws))) g++;
            groups[i - span_b] = g;
        }
        a.o.groups = groups;
        a.o.span_begin = span_b;
        a.o.span_end = span_e;
        n_features = g + 1;
    }
    /* every method's settings are checked before any runs */
    int bad = 0;
    for (int k = 0; k < a.n_methods; k++) {
        char why[400];
        const char *p = method_problem(&a, a.methods[k], n_features, why, sizeof why);
        if (p) fprintf(stderr, "attrib: error: %s\n", p), bad++;
    }
    if (bad) {
        rc = 2;
        goto done;
    }
    warn_mask_token(&a, tok, ids, (int)n, span_b, span_e);
    cli_progress prog = {.force = a.progress};
    a.o.progress = cli_progress_cb;
    a.o.progress_user = &prog;
    attrib_result *ok[ATTRIB_METHOD_COUNT_] = {0};
    attrib_method ran[ATTRIB_METHOD_COUNT_];
    /* the template's tokens before the features: computed once for every pass of every method */
    attrib_prefix *prefix = NULL;
    const int pre_n = prompt && !a.no_prefix_cache ? (prompt->span_begin < span_b ? prompt->span_begin : span_b) : 0;
    if (pre_n >= 1 && attrib_prefix_new(m, ids, pre_n, &prefix)) prefix = NULL; /* without it: the same, only slower */
    for (int k = 0; k < a.n_methods; k++) {
        attrib_explain_options o = method_options(&a, a.methods[k]);
        o.prefix = prefix;
        prog.t0 = prog.last = cli_now();
        prog.what = attrib_method_name(a.methods[k]);
        s = attrib_explain(m, ids, (int)n, &o, &r[k]);
        cli_progress_end(&prog);
        if (s) { /* report it, keep going: the other methods' results are not lost */
            char what[80];
            snprintf(what, sizeof what, "%s failed", attrib_method_name(a.methods[k]));
            cli_fail_status(s, what);
            n_failed++;
            continue;
        }
        if (r[k]->ig_cap_reached) /* also in the JSON ("ig"), the terminal and the HTML report */
            fprintf(stderr, "attrib explain: warning: adaptive IG stopped at --max-steps %d with completeness delta %.3g%% > "
                            "tolerance %.3g%%\n", o.ig_max_steps, 100 * r[k]->completeness_relative, 100 * o.ig_tol);
        ran[n_done] = a.methods[k];
        ok[n_done++] = r[k];
    }
    attrib_prefix_free(prefix);
    if (!n_done) goto done;
    memcpy(a.methods, ran, (size_t)n_done * sizeof *ran);
    a.n_methods = n_done;
    int32_t predicted = -1;
    if (!probe && !a.judge && (rc = predicted_token(m, ids, (int)n, &a, ok, &predicted))) goto done;
    doc = build_doc(&a, m, toks, n, ok, predicted);
    explain_layer_annotate(&a.lay, doc, ok, n_done, attrib_model_get_info(m)->n_embd, a.format == FORMAT_TERM && !a.data.n_files);
    rc = 1;
    if (!doc) {
        fprintf(stderr, "attrib: error: out of memory\n");
        goto done;
    }
    *doc_out = doc;
    doc = NULL;
    rc = 0;
    if (n_failed) {
        fprintf(stderr, "attrib: error: %d of %d methods failed (see above); the others' results are shown\n", n_failed,
                n_failed + n_done);
        rc = 1;
    }
done:
    json_decref(doc);
    for (int k = 0; k < ATTRIB_METHOD_COUNT_; k++) attrib_result_free(r[k]);
    attrib_free(toks);
    attrib_free(btoks);
    free(ids);
    free(bids);
    free(groups);
    attrib_prompt_free(prompt);
    free(tmpl);
    free(chat_text);
    attrib_probe_free(probe);
    return rc;
}

/* `explain MODEL --data FILE`: every row's text explained, one document per
 * row as a JSON line (-o FILE, else standard output), CSV rows with the
 * row's index and id, and an HTML report with one section per row. */
static int explain_data(const args *a0, attrib_model *m) {
    cli_rows rows = {0};
    int rc = cli_data_load(&a0->data, &rows);
    if (rc) return rc;
    FILE *out = a0->out_path && strcmp(a0->out_path, "-") ? fopen(a0->out_path, "wb") : stdout;
    FILE *csv = a0->csv_path ? fopen(a0->csv_path, "wb") : NULL;
    FILE *html = a0->html_path ? fopen(a0->html_path, "wb") : NULL;
    if (!out || (a0->csv_path && !csv) || (a0->html_path && !html)) {
        fprintf(stderr, "attrib: error: cannot create %s: %s\n", !out ? a0->out_path : a0->csv_path && !csv ? a0->csv_path : a0->html_path,
                strerror(errno));
        rc = 1;
        goto done;
    }
    render_explain_book *book = html ? render_explain_book_begin(html, a0->model, (size_t)rows.n) : NULL;
    if (html && !book) {
        rc = 1;
        goto done;
    }
    int failed = 0, csv_rows = 0;
    const double t0 = cli_now();
    for (int i = 0; i < rows.n; i++) {
        args a = *a0;
        a.text = rows.text[i];
        a.text_len = strlen(rows.text[i]);
        json_t *doc = NULL;
        int r = a.text_len ? explain_text(a, m, &doc) : 1;
        if (!a.text_len) fprintf(stderr, "attrib: error: row %s: the text is empty\n", rows.id[i]);
        if (r == 2) { /* a usage error (bad settings) is the same for every row */
            rc = 2;
            json_decref(doc);
            goto done;
        }
        failed += r != 0;
        if (doc) {
            json_object_set_new(doc, "row", json_pack("{s:I, s:s, s:i}", "index", (json_int_t)rows.index[i], "id", rows.id[i],
                                                      "label", rows.label[i]));
            json_t *copy = json_deep_copy(doc);
            if (copy) {
                sanitize_strings(copy);
                char *line = json_dumps(copy, JSON_COMPACT | JSON_ENSURE_ASCII);
                if (line) fprintf(out, "%s\n", line);
                free(line);
                json_decref(copy);
            }
            if (csv) render_explain_csv_rows(csv, doc, (double)rows.index[i], rows.id[i], !csv_rows++);
            if (book) render_explain_book_row(book, doc, rows.id[i]);
        }
        json_decref(doc);
        if (a0->progress || isatty(2)) {
            const double el = cli_now() - t0;
            fprintf(stderr, "\r  row %d/%d  %.2f rows/s  ETA %.0f s   %s", i + 1, rows.n, (i + 1) / el,
                    (rows.n - i - 1) * el / (i + 1), i + 1 == rows.n ? "\n" : "");
        }
    }
    if (book && render_explain_book_end(book)) rc = 1, failed++;
    rc = failed ? 1 : 0;
    if (failed) fprintf(stderr, "attrib: error: %d of %d rows failed (see above); the others' results are written\n", failed, rows.n);
done:
    if (out && out != stdout && fclose(out)) rc = 1;
    if (out == stdout && fflush(stdout)) rc = 1;
    if (csv && fclose(csv)) rc = 1;
    if (html && fclose(html)) rc = 1;
    cli_rows_free(&rows);
    return rc;
}

/* --generate / --continuation: the options that only make sense for one
 * next token are refused there, the rest is handed over. */
static int explain_generation(const args *a) {
    static const char *formats[] = {"term", "json", "csv", "html"};
    explain_gen_base b = {.model = a->model, .text = a->text, .o = method_options(a, a->methods[0]), .threads = a->threads,
                          .compute = a->compute, .color = a->color, .words = a->words, .progress = a->progress,
                          .format = formats[a->format], .html_path = a->html_path, .csv_path = a->csv_path};
    b.conflict = a->data.n_files ? "--data" : a->probe_path ? "--probe" : a->baseline ? "--baseline" : a->template_arg ? "--template"
               : a->system ? "--system" : a->thinking ? "--thinking" : a->show_prompt ? "--show-prompt" : a->label_pos ? "--label-words"
               : a->token_text || a->o.target.token >= 0 ? "--token (each step's target is its answer token)"
               : a->token2_text || a->o.target.token2 >= 0 ? "--token2 (use --contrast-token)" : a->svg_path ? "--svg"
               : a->png_path ? "--png" : a->n_methods > 1 ? "more than one --method"
               : a->lay.layer >= 0 || a->lay.summary ? "--layer / --layer-summary" : NULL;
    return explain_gen_main(&a->gen, &b);
}

int cmd_explain(int argc, char **argv) {
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if (explain_gen_requested(&a.gen)) return explain_generation(&a);
    if (a.data.n_files) {
        if (!a.data.seed_set) a.data.seed = a.o.seed; /* --sample follows --seed */
        attrib_model *m = cli_load_model(a.model, a.threads, false);
        if (!m) return 1;
        attrib_model_set_compute(m, (attrib_compute)a.compute);
        rc = explain_data(&a, m);
        attrib_model_free(m);
        return rc;
    }
    char *owned_text = NULL;
    if (!(a.text = cli_text_arg(a.text, &owned_text, &a.text_len))) return 1;
    if (a.text_len == 0) {
        free(owned_text);
        return cli_usage_error("explain", "TEXT is empty: there is no token to attribute (BOS is never a feature)");
    }
    attrib_model *m = cli_load_model(a.model, a.threads, false);
    if (!m) {
        free(owned_text);
        return 1;
    }
    attrib_model_set_compute(m, (attrib_compute)a.compute);
    json_t *doc = NULL;
    rc = explain_text(a, m, &doc);
    if (doc) { /* also after some methods failed: their results are not lost */
        int bad = (a.html_path && cli_write_file(a.html_path, render_explain_html, doc)) ||
                  (a.csv_path && cli_write_file(a.csv_path, render_explain_csv, doc)) ||
                  (a.svg_path && cli_write_file(a.svg_path, render_explain_svg, doc)) ||
                  (a.png_path && render_png(a.png_path, render_explain_svg, doc)) || print_doc(&a, doc);
        if (bad) rc = 1;
    }
    json_decref(doc);
    attrib_model_free(m);
    free(owned_text);
    return rc;
}
