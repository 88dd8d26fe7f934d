/*
 * cmd_explain.c — `attrib explain MODEL TEXT --method M --target ...`: which
 * input tokens made the model produce its next token (or a chosen one)?
 *
 * Tokenizes TEXT with the model's tokenizer (keeping each token's byte span),
 * optionally groups tokens into words, runs one attribution method and prints
 * the tokens with their scores: a colour heat map on a terminal, aligned
 * columns otherwise, or one JSON object with --json.
 */
#include "cli.h"

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
    "\n"
    "method:\n"
    "  -m, --method M       saliency | gxi | ig | smoothgrad          (gradient methods)\n"
    "                       occlusion | shapley | shapley-exact | kernelshap | lime\n"
    "                       (default: ig)\n"
    "target (what is explained; default: the logit of the model's top-1 next token):\n"
    "  --target KIND        logit | logprob | prob | diff\n"
    "  --token TEXT         the target token, given as text that must be one token (e.g. \" Yes\")\n"
    "  --token-id N         the target token by id\n"
    "  --token2 TEXT        second token for --target diff: logit(token) - logit(token2)\n"
    "  --token2-id N\n"
    "features:\n"
    "  --span B:E           attribute only token positions B..E-1 (others stay fixed)\n"
    "  --words              group tokens into whitespace-separated words\n"
    "masking / baseline:\n"
    "  --mask KIND          token | zero | delete | attention (default token: PAD, else UNK,\n"
    "                       else a space token; delete/attention are for perturbation methods)\n"
    "  --mask-token-id N    replacement token for --mask token\n"
    "  --baseline TEXT      IG baseline: a text with the same number of tokens as TEXT\n"
    "gradient methods:\n"
    "  --steps N            IG steps (default 32)\n"
    "  --rule R             gl | left | right | middle | trapezoid (default gl: Gauss-Legendre)\n"
    "  --norm L             l2 | l1: saliency norm over the embedding (default l2)\n"
    "  --samples N          SmoothGrad samples (16); Shapley permutations (25);\n"
    "                       KernelSHAP / LIME coalitions (256)\n"
    "  --noise F            SmoothGrad noise, relative to the embeddings' RMS (0.1)\n"
    "  --on-gxi             SmoothGrad of gradient x input instead of saliency\n"
    "perturbation methods:\n"
    "  --window N --stride N  occlusion windows over features (1, 1)\n"
    "  --max-exact N        shapley-exact feature limit (16)\n"
    "general:\n"
    "  --seed N             seed of every random choice (0)\n"
    "  --batch N            sequences per pass (default: fit --memory-mb)\n"
    "  --memory-mb N        memory budget for batched passes (256)\n"
    "  -t, --threads N      threads (default: all online CPUs)\n"
    "  --json               one JSON object: tokens with ids, pieces, byte spans and scores\n"
    "  --color WHEN         auto | always | never (auto: colour on a terminal unless NO_COLOR)\n"
    "\n"
    "examples:\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\"\n"
    "  attrib explain MODEL \"Is this request harmful? Answer:\" --method occlusion --target diff \\\n"
    "      --token \" Yes\" --token2 \" No\"\n";

typedef struct args {
    const char *model, *text, *baseline, *token_text, *token2_text;
    attrib_explain_options o;
    int threads, json, words, color, memory_mb;
} args;

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
    a->o = attrib_explain_default_options(ATTRIB_METHOD_INTEGRATED_GRADIENTS);
    a->color = -1;
    int method = -1, samples = -1;
    static const char *targets[] = {"logit", "logprob", "prob", "diff"};
    static const char *masks[] = {"token", "zero", "delete", "attention"};
    static const char *rules[] = {"gl", "left", "right", "middle", "trapezoid"};
    static const char *norms[] = {"l2", "l1"};
    attrib_explain_options o = a->o;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int x;
#define NEED_VALUE() do { if (!v) return cli_usage_error("explain", "%s needs a value", k); i++; } while (0)
#define INT_OPT(lo, hi, dst) do { NEED_VALUE(); if (!cli_parse_int("explain", k, v, lo, hi, &x)) return 2; dst = x; } while (0)
        if (cli_is(k, "--help", "-h")) {
            fputs(HELP, stdout);
            return -1;
        } else if (cli_is(k, "-m", "--method")) {
            NEED_VALUE();
            if ((method = attrib_method_from_name(v)) < 0) return cli_usage_error("explain", "unknown method '%s'", v);
        } else if (!strcmp(k, "--target")) {
            NEED_VALUE();
            if (!parse_kind(v, targets, 4, &x)) return cli_usage_error("explain", "--target takes logit, logprob, prob or diff");
            o.target.kind = (attrib_target_kind)x;
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
            if (!parse_kind(v, masks, 4, &x)) return cli_usage_error("explain", "--mask takes token, zero, delete or attention");
            o.mask = (attrib_mask_kind)x;
        } else if (!strcmp(k, "--mask-token-id")) { INT_OPT(0, 1 << 24, o.mask_token);
        } else if (!strcmp(k, "--baseline")) { NEED_VALUE(); a->baseline = v;
        } else if (!strcmp(k, "--steps")) { INT_OPT(1, 4096, o.ig_steps);
        } else if (!strcmp(k, "--rule")) {
            NEED_VALUE();
            if (!parse_kind(v, rules, 5, &x)) return cli_usage_error("explain", "--rule takes gl, left, right, middle or trapezoid");
            o.ig_rule = (attrib_ig_rule)x;
        } else if (!strcmp(k, "--norm")) {
            NEED_VALUE();
            if (!parse_kind(v, norms, 2, &x)) return cli_usage_error("explain", "--norm takes l2 or l1");
            o.norm = (attrib_saliency_norm)x;
        } else if (!strcmp(k, "--samples")) { INT_OPT(1, 1 << 24, samples);
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
        } else if (!strcmp(k, "--json")) { a->json = 1;
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
    if (!a->text) return cli_usage_error("explain", "missing TEXT");
    /* method-dependent defaults, then the user's choices on top */
    attrib_explain_options d = attrib_explain_default_options(method >= 0 ? (attrib_method)method
                                                                           : ATTRIB_METHOD_INTEGRATED_GRADIENTS);
    o.method = d.method;
    o.samples = samples > 0 ? samples : d.samples;
    o.smooth_samples = samples > 0 ? samples : d.smooth_samples;
    if (a->memory_mb) o.memory_budget = (size_t)a->memory_mb << 20;
    a->o = o;
    return 0;
}

/* A text that must be exactly one token (no BOS). */
static int single_token(const attrib_tokenizer *tok, const char *text, int32_t *id) {
    attrib_token *t = NULL;
    size_t n = 0;
    attrib_status s = attrib_tokenize(tok, text, strlen(text), 0, &t, &n);
    if (s) return cli_fail_status(s, "cannot tokenize the target token");
    if (n != 1) {
        fprintf(stderr, "attrib: error: target \"%s\" is %zu tokens, not one; use --token-id\n", text, n);
        attrib_free(t);
        return 1;
    }
    *id = t[0].id;
    attrib_free(t);
    return 0;
}

static void progress_cb(void *user, int64_t done, int64_t total) {
    double *t0 = user;
    if (cli_now() - *t0 < 1.0 || !isatty(2)) return;
    fprintf(stderr, "\r  %lld / %lld%s", (long long)done, (long long)total, done == total ? "\n" : "");
}

/* The token's text in the original input (its byte span), or its piece. */
static void token_text(const char *text, const attrib_token *t, const attrib_tokenizer *tok, const char **p, size_t *len) {
    if (t->end > t->begin) {
        *p = text + t->begin;
        *len = t->end - t->begin;
    } else {
        *p = attrib_tokenizer_piece(tok, t->id, len);
        if (!*p) *p = "", *len = 0;
    }
}

/* Prints S with control characters made visible. */
static void print_visible(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
}

static void heat_colour(double v, double scale, int *r, int *g, int *b) {
    double a = scale > 0 ? fmin(1.0, fabs(v) / scale) : 0.0;
    /* red for positive, blue for negative; white at zero */
    if (v >= 0) *r = 255, *g = (int)(255 * (1 - a)), *b = (int)(255 * (1 - a));
    else *r = (int)(255 * (1 - a)), *g = (int)(255 * (1 - a)), *b = 255;
}

static const char *TARGET_NAMES[] = {"logit", "logprob", "prob", "logit diff"};

static void print_human(const args *a, const attrib_model *m, const attrib_token *toks, size_t n, const attrib_result *r,
                        bool colour) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    size_t plen;
    const char *piece = attrib_tokenizer_piece(tok, r->target_token, &plen);
    printf("method   %s", attrib_method_name(r->method));
    if (r->method == ATTRIB_METHOD_INTEGRATED_GRADIENTS) printf(" (%d steps)", a->o.ig_steps);
    printf("\ntarget   %s of token %d '", TARGET_NAMES[r->target_kind], r->target_token);
    print_visible(stdout, piece ? piece : "", piece ? plen : 0);
    printf("'");
    if (r->target_kind == ATTRIB_TARGET_LOGIT_DIFF) {
        piece = attrib_tokenizer_piece(tok, r->target_token2, &plen);
        printf(" minus token %d '", r->target_token2);
        print_visible(stdout, piece ? piece : "", piece ? plen : 0);
        printf("'");
    }
    printf(" = %.6g\n", r->f_input);
    if (!isnan(r->f_baseline))
        printf("baseline f = %.6g; sum of attributions %.6g; completeness delta %.3g (%.2f%%)\n", r->f_baseline, r->sum_scores,
               r->completeness_delta, 100 * r->completeness_relative);
    printf("cost     %lld forward, %lld backward sequences, %.3f s\n\n", (long long)r->n_forward, (long long)r->n_backward,
           r->seconds);
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(r->token_scores[i]));
    if (colour) { /* the text painted: a heat map */
        for (size_t i = 0; i < n; i++) {
            const char *p;
            size_t len;
            token_text(a->text, &toks[i], tok, &p, &len);
            int cr, cg, cb;
            heat_colour(r->token_scores[i], scale, &cr, &cg, &cb);
            if (r->feature_of_token[i] < 0) printf("\x1b[2m");
            else printf("\x1b[48;2;%d;%d;%dm\x1b[38;2;0;0;0m", cr, cg, cb);
            print_visible(stdout, p, len);
            printf("\x1b[0m");
        }
        printf("\n\n");
    }
    printf("%4s  %7s  %-10s  %-20s  %12s%s\n", "pos", "id", "bytes", "token", "score", r->std_errors ? "     std.err" : "");
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        token_text(a->text, &toks[i], tok, &p, &len);
        char span[32];
        snprintf(span, sizeof span, "%u-%u", toks[i].begin, toks[i].end);
        printf("%4zu  %7d  %-10s  ", i, toks[i].id, span);
        FILE *f = stdout;
        fputc('\'', f);
        print_visible(f, p, len > 18 ? 18 : len);
        fputc('\'', f);
        for (size_t k = len > 18 ? 18 : len; k < 18; k++) fputc(' ', f);
        int fe = r->feature_of_token[i];
        if (fe < 0) {
            printf("  %12s\n", "(fixed)");
            continue;
        }
        printf("  %12.5g", r->token_scores[i]);
        if (r->std_errors) printf("  %10.3g", r->std_errors[fe]);
        int bar = scale > 0 ? (int)lround(20 * fabs(r->token_scores[i]) / scale) : 0;
        printf("  %c", r->token_scores[i] < 0 ? '-' : '+');
        for (int k = 0; k < bar; k++) fputs("#", stdout);
        printf("\n");
    }
}

static void print_json(const args *a, const attrib_model *m, const attrib_token *toks, size_t n, const attrib_result *r) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    json_t *tarr = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t plen;
        const char *piece = attrib_tokenizer_piece(tok, toks[i].id, &plen);
        int fe = r->feature_of_token[i];
        json_t *t = json_pack("{s:i, s:s%, s:i, s:i, s:i, s:f}", "id", toks[i].id, "piece", piece ? piece : "",
                              piece ? plen : (size_t)0, "begin", (int)toks[i].begin, "end", (int)toks[i].end, "feature", fe,
                              "score", r->token_scores[i]);
        if (r->std_errors && fe >= 0) json_object_set_new(t, "std_error", json_real(r->std_errors[fe]));
        json_array_append_new(tarr, t);
    }
    json_t *feats = json_array();
    for (int f = 0; f < r->n_features; f++) json_array_append_new(feats, json_real(r->scores[f]));
    const attrib_model_info *in = attrib_model_get_info(m);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:i, s:i}, s:o, s:o, s:f, s:o, s:f, s:f, s:{s:I, s:I, s:f, s:i}}", "attrib_version",
        attrib_version(), "model", in->path, "method", attrib_method_name(r->method), "target", "kind",
        TARGET_NAMES[r->target_kind], "token", r->target_token, "token2", r->target_token2, "tokens", tarr, "features", feats,
        "f_input", r->f_input, "f_baseline", isnan(r->f_baseline) ? json_null() : json_real(r->f_baseline), "sum_scores",
        r->sum_scores, "completeness_relative", isnan(r->completeness_relative) ? -1.0 : r->completeness_relative, "cost",
        "n_forward", (json_int_t)r->n_forward, "n_backward", (json_int_t)r->n_backward, "seconds", r->seconds, "threads",
        a->threads);
    json_t *settings = json_pack("{s:s, s:i, s:i, s:s, s:i, s:i, s:i, s:I, s:b}", "mask",
                                 (const char *[]){"token", "zero", "delete", "attention"}[r->mask], "mask_token",
                                 r->mask_token, "ig_steps", a->o.ig_steps, "ig_rule",
                                 (const char *[]){"gl", "left", "right", "middle", "trapezoid"}[a->o.ig_rule], "samples",
                                 r->method == ATTRIB_METHOD_SMOOTHGRAD ? a->o.smooth_samples : a->o.samples, "window",
                                 a->o.window, "stride", a->o.stride, "seed", (json_int_t)a->o.seed, "words", a->words);
    json_object_set_new(o, "settings", settings);
    if (r->std_errors) {
        json_t *se = json_array();
        for (int f = 0; f < r->n_features; f++) json_array_append_new(se, json_real(r->std_errors[f]));
        json_object_set_new(o, "std_errors", se);
    }
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    if (s) puts(s);
    free(s);
    json_decref(o);
}

int cmd_explain(int argc, char **argv) {
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    attrib_model *m = cli_load_model(a.model, a.threads, false);
    if (!m) return 1;
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    attrib_token *toks = NULL, *btoks = NULL;
    int32_t *ids = NULL, *groups = NULL, *bids = NULL;
    attrib_result *r = NULL;
    size_t n = 0, bn = 0;
    rc = 1;
    if (!tok) {
        fprintf(stderr, "attrib: error: %s has no tokenizer\n", a.model);
        goto done;
    }
    attrib_status s = attrib_tokenize(tok, a.text, strlen(a.text), ATTRIB_TOK_ADD_SPECIAL, &toks, &n);
    if (s) {
        rc = cli_fail_status(s, "cannot tokenize TEXT");
        goto done;
    }
    ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) goto done;
    for (size_t i = 0; i < n; i++) ids[i] = toks[i].id;
    if (a.token_text && (rc = single_token(tok, a.token_text, &a.o.target.token))) goto done;
    if (a.token2_text && (rc = single_token(tok, a.token2_text, &a.o.target.token2))) goto done;
    rc = 1;
    if (a.o.target.kind == ATTRIB_TARGET_LOGIT_DIFF && (a.o.target.token < 0 || a.o.target.token2 < 0)) {
        rc = cli_usage_error("explain", "--target diff needs --token and --token2 (or their -id forms)");
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
    if (a.words) { /* a word starts at a token whose text begins with white space */
        int bos = attrib_tokenizer_bos(tok);
        int begin = a.o.span_begin >= 0 ? a.o.span_begin : (n > 1 && ids[0] == bos ? 1 : 0);
        int end = a.o.span_end > 0 ? a.o.span_end : (int)n;
        if (begin >= end || end > (int)n) {
            rc = cli_usage_error("explain", "--span is outside the %zu tokens", n);
            goto done;
        }
        groups = malloc((size_t)(end - begin) * sizeof *groups);
        if (!groups) goto done;
        int g = -1;
        for (int i = begin; i < end; i++) {
            unsigned char c = toks[i].end > toks[i].begin ? (unsigned char)a.text[toks[i].begin] : ' ';
            bool same_char = i > begin && toks[i].begin == toks[i - 1].begin; /* pieces of one character */
            if (g < 0 || (!same_char && (c == ' ' || c == '\n' || c == '\t' || c == '\r'))) g++;
            groups[i - begin] = g;
        }
        a.o.groups = groups;
        a.o.span_begin = begin;
        a.o.span_end = end;
    }
    double t0 = cli_now();
    a.o.progress = progress_cb;
    a.o.progress_user = &t0;
    s = attrib_explain(m, ids, (int)n, &a.o, &r);
    if (s) {
        rc = cli_fail_status(s, "attribution failed");
        goto done;
    }
    if (a.json) {
        print_json(&a, m, toks, n, r);
    } else {
        bool colour = a.color == 1 || (a.color == -1 && isatty(1) && !getenv("NO_COLOR"));
        print_human(&a, m, toks, n, r, colour);
    }
    rc = 0;
done:
    attrib_result_free(r);
    attrib_free(toks);
    attrib_free(btoks);
    free(ids);
    free(bids);
    free(groups);
    attrib_model_free(m);
    return rc;
}
