/*
 * cmd_compare.c — `attrib compare MODEL --data FILE (--probe P | --template judge)`:
 * runs every chosen attribution method on every prompt of a labelled
 * dataset and records, per prompt, the classifier's score, each method's
 * token scores and cost, each method's faithfulness (ERASER comprehensiveness
 * and sufficiency, deletion and insertion curves, against random rankings)
 * and the agreement of every pair of methods. compare_summary.c aggregates
 * those records (means with bootstrap intervals, split by true and
 * predicted label) and prints the table; the whole document, provenance
 * included, is written as JSON (docs/compare.md) and optionally as HTML.
 *
 * Every prompt is computed on its own, with a seed derived from its index
 * in the dataset, so the records of a sharded run (--shard K/N) are the
 * records of the unsharded run, and `--merge` of the shards reproduces it.
 * A row that is too long or fails is recorded and the run goes on; finished
 * rows are journaled as they finish, so a stopped run resumes (compare_rows.c).
 */
#include "compare.h"
#include "render.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *HELP_FMT =
    "usage: attrib compare MODEL [data] (--probe PROBE.gguf | --template judge) [options]\n"
    "       attrib compare --merge SHARD1.json SHARD2.json ... --out MERGED.json\n"
    "\n"
    "Runs several attribution methods on every prompt of a labelled dataset and reports\n"
    "how they agree (Spearman, Kendall, top-k overlap, sign), how faithful each is\n"
    "(comprehensiveness, sufficiency, deletion/insertion curves, against random rankings),\n"
    "how good the classifier is (accuracy, AUROC, confusion) and what each method costs.\n"
    "Attribution covers the prompt's own tokens; template tokens are never perturbed.\n"
    "\n"
    "%s"
    "classifier (what is explained):\n"
    "  --probe FILE         a probe from `attrib probe train`: its logit (harmful > 0)\n"
    "  --template judge     (or llama-guard, or @FILE) with a logit difference of two label\n"
    "  --label-words P N    words as the score: logit(P) - logit(N); default from the template\n"
    "                       (judge: \" Yes\" \" No\"; llama-guard: \" unsafe\" \" safe\")\n"
    "  --template auto      the model's own chat template as a judge (Llama Guard 3: its\n"
    "                       verdict; other chat models asked whether the prompt is harmful);\n"
    "                       see explain --help and docs/templates.md\n"
    "methods:\n"
    "  --methods LIST       comma-separated (default occlusion,saliency,gxi,ig,shapley), of\n"
    "                       ";
/* here the method table's names (cli_help_method_names), then: */
static const char *HELP_METHODS =
    "  --steps N            IG steps (32)\n"
    "  --samples N          how many samples each sampled method draws; by default\n";
/* here the table's default sample counts (cli_help_samples), then: */
static const char *HELP_TAIL =
    "  --mask KIND          token | zero | delete | attention: how occlusion, Shapley and the\n"
    "                       faithfulness metrics remove a token, and IG's baseline (token)\n"
    "  --seed N             base seed; each prompt's seed derives from it and its index (0)\n"
    "faithfulness and summary:\n"
    "  --fractions LIST     top-k fractions for comprehensiveness/sufficiency (0.1,0.2,0.5)\n"
    "  --curve-points N     deletion/insertion curve steps per prompt (20)\n"
    "  --random-orders N    random rankings per prompt for the baseline (1)\n"
    "  --bootstrap B        bootstrap resamples for the 95% intervals (1000)\n"
    "output:\n"
    "  -o, --out FILE       the JSON document (every per-prompt attribution and metric)\n"
    "  --html FILE          the HTML report (docs/reports.md)\n"
    "  --csv FILE           one row per prompt x method x token (spreadsheet-safe)\n"
    "  --svg FILE           the summary as an SVG figure (papers, slides): faithfulness bars\n"
    "                       with 95% intervals and the random baseline, agreement matrix\n"
    "  --png FILE           the same figure as PNG, at twice the SVG's size (needs librsvg)\n"
    "  --json               print the JSON document to standard output instead of the table\n"
    "  -t, --threads N      threads (default: all online CPUs)\n"
    "  -j, --jobs J         prompts computed at once (default 1): J handles of the model, each\n"
    "                       with threads/J threads; they share the weights, so an extra job\n"
    "                       costs its activations and caches, not another copy of the weights.\n"
    "                       For small models, whose passes cannot keep several threads busy;\n"
    "                       the scores are the same whatever J (docs/compare.md)\n"
    "  --compute MODE       exact (default) | fast: forward passes multiply Q8_0/Q4_0/Q4_K/Q5_K/Q6_K\n"
    "                       weights by activations rounded to 8 bits (integer dot products, like\n"
    "                       llama.cpp); faster, scores differ slightly; gradients stay exact\n"
    "  --no-prefix-cache    compute the template's leading tokens (those before the prompt) in\n"
    "                       every pass instead of once per run; same scores up to float32\n"
    "                       rounding (docs/compare.md), only slower\n"
    "  -q, --quiet          no progress on standard error\n"
    "  --progress           progress even when standard error is not a terminal\n"
    "long runs (docs/compare.md):\n"
    "  --too-long POLICY    a prompt longer than the model's context (template included):\n"
    "                       skip (default: recorded in \"skipped\", the run goes on), truncate\n"
    "                       (its end cut off to fit), or error (the run stops)\n"
    "  --resume             continue a stopped run: with --out FILE, every finished prompt is\n"
    "                       appended to FILE.partial.jsonl as it finishes; --resume reuses them\n"
    "                       (same model, data and settings, else refused) and computes the rest.\n"
    "                       Ctrl-C (SIGINT) or SIGTERM stops at the next method boundary; the\n"
    "                       journal keeps every finished prompt\n"
    "  scripts/compare-sharded.sh runs shards with GNU parallel (local or --sshlogin hosts),\n"
    "  scripts/compare.sbatch as a Slurm job array; both merge with --merge\n"
    "exit status: 0 done; 1 error; 2 misuse; 3 done, but some rows failed in a method (listed\n"
    "  in \"failed\", left out of the figures); 130 / 143 stopped by SIGINT / SIGTERM (resumable)\n"
    "\n"
    "example (the README's results):\n"
    "  attrib probe train ../shared/models/stories260K/stories260K-f32.gguf --out probe.gguf ...\n"
    "  attrib compare ../shared/models/stories260K/stories260K-f32.gguf --probe probe.gguf \\\n"
    "      --data ../shared/data/xstest/xstest_prompts.csv --positive unsafe -o xstest.json\n";

#define MAX_METHODS ATTRIB_METHOD_COUNT_

typedef struct compare_args {
    const char *model, *probe_path, *out, *html, *csv, *svg, *png, *label_pos, *label_neg;
    cli_data_opts data;
    int methods[MAX_METHODS], n_methods;
    int steps, samples, mask, threads, json, quiet, progress, curve_points, random_orders, bootstrap, n_fractions;
    int too_long, resume; /* COMPARE_TOO_LONG_*; --resume */
    int compute;          /* --compute: attrib_compute of the forward passes */
    int no_prefix_cache;  /* --no-prefix-cache */
    int jobs;             /* --jobs: prompts computed at once, each on its own model handle */
    double fractions[8];
    uint64_t seed;
    char **merge;
    int n_merge;
} compare_args;

static int parse_list_doubles(const char *v, double *out, int max) {
    int n = 0;
    for (const char *p = v; p && *p;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || n >= max) return -1;
        out[n++] = x;
        if (*end && *end != ',') return -1;
        p = *end ? end + 1 : end;
    }
    return n;
}

static int parse(int argc, char **argv, compare_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int d = cli_data_option("compare", argc, argv, &i, &a->data);
        if (d < 0) return 2;
        if (d > 0) continue;
        if (cli_is(k, "--help", "-h")) {
            printf(HELP_FMT, CLI_DATA_HELP);
            /* exact Shapley's 2^n passes per prompt are no data-set method */
            cli_help_method_names(stdout, 23, "                       ", 0, ATTRIB_READS_MAX_EXACT);
            fputs(HELP_METHODS, stdout);
            cli_help_samples(stdout, "                         ");
            fputs(HELP_TAIL, stdout);
            return 1;
        } else if (!strcmp(k, "--merge")) {
            a->merge = argv + i + 1;
            while (i + 1 < argc && argv[i + 1][0] != '-') i++, a->n_merge++;
            if (a->n_merge < 1) return cli_usage_error("compare", "--merge needs shard files");
        } else if (!strcmp(k, "--probe")) {
            if (!v) return cli_usage_error("compare", "--probe needs a file");
            a->probe_path = v, i++;
        } else if (!strcmp(k, "--label-words")) {
            if (i + 2 >= argc) return cli_usage_error("compare", "--label-words needs two words, e.g. \" Yes\" \" No\"");
            a->label_pos = argv[i + 1], a->label_neg = argv[i + 2], i += 2;
        } else if (!strcmp(k, "--methods")) {
            if (!v) return cli_usage_error("compare", "--methods needs a list");
            a->n_methods = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int m = attrib_method_from_name(t);
                if (m < 0 || cli_method_reads((attrib_method)m, ATTRIB_READS_MAX_EXACT)) /* 2^n passes a prompt */
                    return cli_usage_error("compare", "unknown or unsupported method '%s' in --methods", t);
                if (a->n_methods >= MAX_METHODS) return cli_usage_error("compare", "at most %d methods", MAX_METHODS);
                for (int j = 0; j < a->n_methods; j++)
                    if (a->methods[j] == m) return cli_usage_error("compare", "method '%s' given twice", t);
                a->methods[a->n_methods++] = m;
            }
            i++;
        } else if (!strcmp(k, "--steps")) {
            if (!cli_parse_int("compare", k, v, 1, 4096, &a->steps)) return 2;
            i++;
        } else if (!strcmp(k, "--samples")) {
            if (!cli_parse_int("compare", k, v, 1, CLI_MAX_SAMPLES, &a->samples)) return 2;
            i++;
        } else if (!strcmp(k, "--mask")) {
            a->mask = attrib_mask_from_name(v);
            if (a->mask < 0) return cli_usage_error("compare", "--mask takes token, zero, delete or attention");
            i++;
        } else if (!strcmp(k, "--seed")) {
            char *end;
            if (!v || *v == '-' || (a->seed = strtoull(v, &end, 10), *end))
                return cli_usage_error("compare", "--seed takes a whole number >= 0");
            i++;
        } else if (!strcmp(k, "--fractions")) {
            a->n_fractions = parse_list_doubles(v, a->fractions, 8);
            if (a->n_fractions < 1) return cli_usage_error("compare", "--fractions takes up to 8 numbers in (0, 1]");
            for (int j = 0; j < a->n_fractions; j++)
                if (!(a->fractions[j] > 0 && a->fractions[j] <= 1))
                    return cli_usage_error("compare", "--fractions takes numbers in (0, 1]");
            i++;
        } else if (!strcmp(k, "--curve-points")) {
            if (!cli_parse_int("compare", k, v, 1, ATTRIB_FAITH_MAX_POINTS - 1, &a->curve_points)) return 2;
            i++;
        } else if (!strcmp(k, "--random-orders")) {
            if (!cli_parse_int("compare", k, v, 0, 1000, &a->random_orders)) return 2;
            i++;
        } else if (!strcmp(k, "--bootstrap")) {
            if (!cli_parse_int("compare", k, v, 10, 1000000, &a->bootstrap)) return 2;
            i++;
        } else if (cli_is(k, "-o", "--out")) {
            if (!v) return cli_usage_error("compare", "--out needs a file");
            a->out = v, i++;
        } else if (!strcmp(k, "--html")) {
            if (!v) return cli_usage_error("compare", "--html needs a file");
            a->html = v, i++;
        } else if (!strcmp(k, "--csv")) {
            if (!v) return cli_usage_error("compare", "--csv needs a file");
            a->csv = v, i++;
        } else if (!strcmp(k, "--svg") || !strcmp(k, "--png")) {
            if (!v) return cli_usage_error("compare", "%s needs a file", k);
            *(k[2] == 's' ? &a->svg : &a->png) = v, i++;
        } else if (!strcmp(k, "--json")) {
            a->json = 1;
        } else if (!strcmp(k, "--too-long")) {
            static const char *policies[] = {"skip", "truncate", "error"};
            a->too_long = -1;
            for (int j = 0; j < 3 && v; j++)
                if (!strcmp(v, policies[j])) a->too_long = j;
            if (a->too_long < 0) return cli_usage_error("compare", "--too-long takes skip, truncate or error");
            i++;
        } else if (!strcmp(k, "--resume")) {
            a->resume = 1;
        } else if (!strcmp(k, "--no-prefix-cache")) {
            a->no_prefix_cache = 1;
        } else if (!strcmp(k, "--progress")) {
            a->progress = 1;
        } else if (cli_is(k, "-q", "--quiet")) {
            a->quiet = 1;
        } else if (cli_is(k, "-j", "--jobs")) {
            if (!cli_parse_int("compare", k, v, 1, 256, &a->jobs)) return 2;
            i++;
        } else if (cli_is(k, "-t", "--threads")) {
            if (!cli_parse_int("compare", k, v, 1, 1024, &a->threads)) return 2;
            i++;
        } else if (!strcmp(k, "--compute")) {
            if (!v || (strcmp(v, "exact") && strcmp(v, "fast"))) return cli_usage_error("compare", "--compute takes exact or fast");
            a->compute = !strcmp(v, "fast");
            i++;
        } else if (k[0] == '-' && k[1]) {
            return cli_usage_error("compare", "unknown option '%s'", k);
        } else {
            if (a->model) return cli_usage_error("compare", "unexpected argument '%s'", k);
            a->model = k;
        }
    }
    if (a->merge) return 0;
    if (!a->model) return cli_usage_error("compare", "missing MODEL");
    if (!a->probe_path && !a->data.template_arg)
        return cli_usage_error("compare", "choose a classifier: --probe FILE, or --template judge (a model that can judge)");
    if (a->resume && !a->out)
        return cli_usage_error("compare", "--resume needs --out FILE: the finished prompts are kept in FILE.partial.jsonl");
    return 0;
}

/* ------------------------------------------------------------ provenance */

static char *cpu_model(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            fclose(f);
            if (!p) return strdup("unknown");
            p++;
            while (*p == ' ') p++;
            p[strcspn(p, "\n")] = '\0';
            return strdup(p);
        }
    }
    if (f) fclose(f);
    return strdup("unknown");
}

static double peak_rss_mb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : NAN;
}

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *model_provenance(attrib_model *m, const char *path) {
    const attrib_model_info *in = attrib_model_get_info(m);
    const char *sha = attrib_model_sha256(m);
    json_t *types = json_object();
    for (int t = 0; t < ATTRIB_DTYPE_COUNT_; t++)
        if (in->dtype_counts[t]) json_object_set_new(types, attrib_dtype_name(t), json_integer(in->dtype_counts[t]));
    return json_pack("{s:s, s:s?, s:s, s:s, s:I, s:i, s:i, s:i, s:o}", "path", path, "sha256", sha, "format",
                     in->format == ATTRIB_FORMAT_GGUF ? "gguf" : "hf", "arch", in->arch, "n_params", (json_int_t)in->n_params,
                     "n_layer", in->n_layer, "n_embd", in->n_embd, "n_vocab", in->n_vocab, "tensor_types", types);
}

static json_t *data_provenance(const compare_args *a, const cli_rows *rows) {
    json_t *files = json_array();
    for (int f = 0; f < a->data.n_files; f++) {
        char sha[65] = "";
        attrib_sha256_file(a->data.files[f], sha);
        /* "label": 1 or 0 for a --harmful / --harmless file; "from label_col" when the rows carry their own */
        const int fl = a->data.file_label[f];
        json_array_append_new(files, json_pack("{s:s, s:s, s:I, s:s, s:s?, s:o}", "path", a->data.files[f], "sha256", sha,
                                               "rows_in_file", (json_int_t)rows->rows_in_file[f], "text_col", rows->text_col[f],
                                               "label_col", rows->label_col[f][0] ? rows->label_col[f] : NULL, "label",
                                               fl >= 0 ? json_integer(fl) : json_string(rows->label_col[f][0] ? "from label_col" : "none")));
    }
    char shard[32] = "";
    if (a->data.shard_n) snprintf(shard, sizeof shard, "%d/%d", a->data.shard_k, a->data.shard_n);
    json_t *first = json_array_get(files, 0);
    return json_pack("{s:O, s:O, s:O, s:i, s:s?, s:I, s:I, s:I, s:s?, s:o}", "path", json_object_get(first, "path"), "sha256",
                     json_object_get(first, "sha256"), "rows_in_file", json_object_get(first, "rows_in_file"), "rows_used",
                     rows->n, "positive", a->data.positive, "limit", (json_int_t)a->data.limit, "sample", (json_int_t)a->data.sample,
                     "seed", (json_int_t)a->data.seed, "shard", shard[0] ? shard : NULL, "files", files);
}

/* The library's record of O's method settings; every prompt's seed derives
 * from the base seed (provenance "seed") and the prompt's index. */
static json_t *method_settings(const attrib_explain_options *o) {
    json_t *s = cli_method_settings(o, NULL);
    if (s && json_object_get(s, "seed")) json_object_set_new(s, "seed", json_string("base seed mixed with the prompt index"));
    return s;
}

/* ------------------------------------------------------------ per prompt */

typedef struct run_ctx {
    const compare_args *a;
    attrib_model *m;
    const attrib_tokenizer *tok;
    const attrib_probe *probe;
    const char *tmpl;
    int32_t pos_token, neg_token; /* judge */
    attrib_faithfulness_options fo;
    const attrib_prefix *prefix;  /* the template's leading tokens, computed once (or NULL) */
} run_ctx;

/* The prefix cache of prompt P: the run's, when P starts with its tokens
 * and its input span after them; else none (a BPE merge across the input's
 * start can change the last template token for some prompts). */
static const attrib_prefix *prompt_prefix(const run_ctx *rc, const attrib_prompt *p) {
    return rc->prefix && attrib_prefix_matches(rc->prefix, p->ids, p->n) && p->span_begin >= attrib_prefix_len(rc->prefix)
               ? rc->prefix
               : NULL;
}

static uint64_t prompt_seed(uint64_t base, int64_t index) {
    uint64_t z = base + 0x9e3779b97f4a7c15ull * (uint64_t)(index + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static attrib_explain_options base_options(const run_ctx *rc, attrib_method method, const attrib_prompt *p, uint64_t seed) {
    const compare_args *a = rc->a;
    attrib_explain_options o = attrib_explain_default_options(method);
    if (rc->probe) {
        o.target.kind = ATTRIB_TARGET_PROBE;
        o.target.probe = rc->probe;
    } else {
        o.target.kind = ATTRIB_TARGET_LOGIT_DIFF;
        o.target.token = rc->pos_token;
        o.target.token2 = rc->neg_token;
    }
    o.span_begin = p->span_begin;
    o.span_end = p->span_end;
    o.mask = (attrib_mask_kind)a->mask;
    /* a baseline in embedding space (IG): deleting or hiding a token is no
     * embedding, so the baseline stays the mask token's embedding */
    if (cli_method_reads(method, ATTRIB_READS_BASELINE) && (o.mask == ATTRIB_MASK_DELETE || o.mask == ATTRIB_MASK_ATTENTION))
        o.mask = ATTRIB_MASK_TOKEN;
    /* the fixed rule (32 Gauss-Legendre steps unless --steps), as the published
     * compare results were made; explain's default is the adaptive rule */
    o.ig_tol = 0;
    if (a->steps) o.ig_steps = a->steps;
    cli_set_samples(&o, a->samples);
    o.seed = seed;
    o.prefix = prompt_prefix(rc, p);
    return o;
}

static json_t *faith_json(const attrib_faithfulness *f) {
    json_t *counts = json_array(), *del = json_array(), *ins = json_array(), *comp = json_array(), *suff = json_array(),
           *k = json_array();
    for (int j = 0; j < f->n_points; j++) {
        json_array_append_new(counts, json_integer(f->counts[j]));
        json_array_append_new(del, num(f->deletion[j]));
        json_array_append_new(ins, num(f->insertion[j]));
    }
    for (int j = 0; j < 8 && f->k[j] > 0; j++) {
        json_array_append_new(k, json_integer(f->k[j]));
        json_array_append_new(comp, num(f->comprehensiveness[j]));
        json_array_append_new(suff, num(f->sufficiency[j]));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "comprehensiveness_aopc",
                     num(f->comprehensiveness_aopc), "sufficiency_aopc", num(f->sufficiency_aopc), "deletion_auc", num(f->deletion_auc),
                     "insertion_auc", num(f->insertion_auc), "k", k, "comprehensiveness", comp, "sufficiency", suff, "counts", counts,
                     "deletion", del, "insertion", ins, "f_full", num(f->f_full), "f_empty", num(f->f_empty), "n_evaluations",
                     (json_int_t)f->n_evaluations);
}

static bool g_progress_line; /* a progress line is on standard error: start a new line */

/* A row that fails is recorded and the run goes on: the message is printed
 * and kept in WHY with the STAGE (the method) it failed in. */
static void row_failed(char *why, size_t cap, const char **stage, const char *stage_name, const char *id, const char *msg) {
    if (msg != why) snprintf(why, cap, "%s", msg);
    *stage = stage_name;
    fprintf(stderr, "%sattrib: error: prompt %s, %s: %s (recorded in \"failed\"; the run goes on)\n", g_progress_line ? "\n" : "", id,
            stage_name, msg);
}

/* The test hook for a failing method: ATTRIB_TEST_FAIL="ID:METHOD" makes
 * METHOD fail on the row with id ID (tests/py/check_compare_rows.py). */
static bool test_fail(const char *id, const char *method) {
    const char *h = getenv("ATTRIB_TEST_FAIL"), *colon = h ? strrchr(h, ':') : NULL;
    return colon && (size_t)(colon - h) == strlen(id) && !strncmp(h, id, strlen(id)) && !strcmp(colon + 1, method);
}

/* Runs every method on prompt I, rendered as P (freed here); returns its
 * record, or NULL with the reason in WHY and the method in *STAGE (WHY is
 * empty when the run was interrupted between methods). */
static json_t *run_prompt(const run_ctx *rc, const cli_rows *rows, int i, attrib_prompt *p, char *why, size_t cap,
                          const char **stage) {
    const compare_args *a = rc->a;
    attrib_status s;
    why[0] = '\0';
    *stage = NULL;
    const uint64_t seed = prompt_seed(a->seed, rows->index[i]);
    attrib_result *res[MAX_METHODS] = {0};
    json_t *rec = NULL;
    const int nf = p->span_end - p->span_begin;
    json_t *tokens = json_array();
    for (int t = 0; t < p->n; t++) {
        size_t plen = 0;
        const char *piece = attrib_tokenizer_piece(rc->tok, p->ids[t], &plen);
        json_array_append_new(tokens, json_pack("{s:i, s:s%, s:i, s:i}", "id", p->ids[t], "piece", piece ? piece : "", piece ? plen : 0,
                                                "begin", (int)p->tokens[t].begin, "end", (int)p->tokens[t].end));
    }
    /* the classifier's score (probe logit or judge logit difference) is every
     * method's f(input); it is filled in after the first method */
    rec = json_pack("{s:I, s:s, s:s, s:s, s:i, s:n, s:i, s:o, s:[i,i], s:i}", "index", (json_int_t)rows->index[i], "id", rows->id[i],
                    "text", rows->text[i], "rendered", p->rendered, "label", rows->label[i], "score", "predicted", 0, "tokens", tokens,
                    "span", p->span_begin, p->span_end, "file", rows->file[i]);
    if (!rec) {
        row_failed(why, cap, stage, "record", rows->id[i], "cannot build its record (invalid UTF-8?)");
        goto done;
    }
    json_t *methods = json_object();
    json_object_set_new(rec, "methods", methods);
    const attrib_prefix *pre = prompt_prefix(rc, p); /* positions every method takes from the run's cache */
    json_object_set_new(rec, "prefix_tokens", json_integer(attrib_prefix_len(pre)));
    double secs[MAX_METHODS];
    attrib_explain_options fopt = {0};
    for (int k = 0; k < a->n_methods; k++) {
        attrib_explain_options o = base_options(rc, (attrib_method)a->methods[k], p, seed);
        const double t0 = cli_now();
        if (compare_interrupted()) goto fail; /* stop between methods: the prompt is redone on --resume */
        if (test_fail(rows->id[i], attrib_method_name(o.method))) {
            row_failed(why, cap, stage, attrib_method_name(o.method), rows->id[i], "failure forced by the test hook ATTRIB_TEST_FAIL");
            goto fail;
        }
        if ((s = attrib_explain(rc->m, p->ids, p->n, &o, &res[k]))) {
            row_failed(why, cap, stage, attrib_method_name(o.method), rows->id[i], attrib_last_error());
            goto fail;
        }
        secs[k] = cli_now() - t0;
        if (k == 0) {
            json_object_set_new(rec, "score", num(res[0]->f_input));
            json_object_set_new(rec, "predicted", json_integer(res[0]->f_input > 0));
            fopt = o;
            fopt.mask = (attrib_mask_kind)a->mask; /* every method's ranking judged by the same intervention */
        }
    }
    /* every method's ranking (and the random baseline, once per prompt) in one
     * call: the masked variants two rankings share are run once */
    attrib_faithfulness f[MAX_METHODS];
    const double *ranked[MAX_METHODS];
    for (int k = 0; k < a->n_methods; k++) ranked[k] = res[k]->scores;
    attrib_faithfulness_options fo = rc->fo;
    fo.seed = seed;
    if (compare_interrupted()) goto fail;
    if ((s = attrib_faithfulness_eval_many(rc->m, p->ids, p->n, &fopt, a->n_methods, ranked, res[0]->n_features, &fo, f))) {
        char msg[512];
        snprintf(msg, sizeof msg, "faithfulness: %s", attrib_last_error());
        row_failed(why, cap, stage, "faithfulness", rows->id[i], msg);
        goto fail;
    }
    for (int k = 0; k < a->n_methods; k++) {
        json_t *scores = json_array();
        for (int t = 0; t < p->n; t++) json_array_append_new(scores, json_real(res[k]->token_scores[t]));
        json_t *mrec = json_pack("{s:o, s:f, s:I, s:I, s:o, s:o, s:o, s:o}", "scores", scores, "seconds", secs[k], "n_forward",
                                 (json_int_t)res[k]->n_forward, "n_backward", (json_int_t)res[k]->n_backward, "f_input",
                                 num(res[k]->f_input), "f_baseline", num(res[k]->f_baseline), "completeness_delta",
                                 num(res[k]->completeness_delta), "faithfulness", faith_json(&f[k]));
        if (res[k]->std_errors) {
            json_t *se = json_array();
            for (int t = 0; t < res[k]->n_features; t++) json_array_append_new(se, num(res[k]->std_errors[t]));
            json_object_set_new(mrec, "std_errors", se);
        }
        json_object_set_new(methods, attrib_method_name((attrib_method)a->methods[k]), mrec);
    }
    json_object_set_new(rec, "random",
                        json_pack("{s:o, s:o, s:o, s:o}", "comprehensiveness_aopc", num(f[0].random_comprehensiveness_aopc),
                                  "sufficiency_aopc", num(f[0].random_sufficiency_aopc), "deletion_auc",
                                  num(f[0].random_deletion_auc), "insertion_auc", num(f[0].random_insertion_auc)));
    json_t *agreement = json_object();
    json_object_set_new(rec, "agreement", agreement);
    for (int x = 0; x < a->n_methods; x++)
        for (int y = x + 1; y < a->n_methods; y++) {
            const double *sa = res[x]->scores, *sb = res[y]->scores;
            char key[64];
            snprintf(key, sizeof key, "%s|%s", attrib_method_name((attrib_method)a->methods[x]),
                     attrib_method_name((attrib_method)a->methods[y]));
            json_object_set_new(agreement, key,
                                json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "spearman", num(attrib_spearman(sa, sb, nf)), "kendall",
                                          num(attrib_kendall_tau_b(sa, sb, nf)), "top1", num(attrib_topk_overlap(sa, sb, nf, 1)),
                                          "top3", num(attrib_topk_overlap(sa, sb, nf, 3)), "top5",
                                          num(attrib_topk_overlap(sa, sb, nf, 5)), "sign", num(attrib_sign_agreement(sa, sb, nf))));
        }
    goto done;
fail:
    json_decref(rec);
    rec = NULL;
done:
    for (int k = 0; k < MAX_METHODS; k++) attrib_result_free(res[k]);
    attrib_prompt_free(p);
    return rec;
}

/* ------------------------------------------------------------ main */

/* A judge's label word as one token after the template (words.c), else why
 * not and which words would do. */
static int label_token(const attrib_tokenizer *tok, const char *tmpl, const char *tmpl_name, const char *word, int32_t *id) {
    if (!cli_word_error(tok, tmpl, tmpl_name, "label word", word, id)) return 0;
    fprintf(stderr, "  choose --label-words P N that are one token each after the template:\n");
    cli_suggest_words(stderr, tok, tmpl);
    return 1;
}

/* The tokens every prompt of the run starts with, their keys and values
 * computed once: the template rendered with a few unlike inputs, the
 * longest common start of their tokens, cut before the earliest input span
 * (a BPE merge across the slot's boundary shows as a difference there).
 * Each prompt is checked again before it uses the cache (prompt_prefix).
 * NULL (every pass from position 0) when nothing is shared or the cache
 * cannot be made; *WHY then says why. */
static attrib_prefix *template_prefix(attrib_model *m, const attrib_tokenizer *tok, const char *tmpl, const char **why) {
    static const char *const inputs[] = {"a", "Z", "0", "(", " x", "\n", "\xc3\xa9", "How"};
    int32_t *ids = NULL;
    int P = -1;
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        attrib_prompt *p = NULL;
        if (attrib_template_apply(tok, tmpl, inputs[i], strlen(inputs[i]), &p)) continue;
        if (!ids) {
            ids = malloc(sizeof(int32_t) * (size_t)p->n);
            if (ids) memcpy(ids, p->ids, sizeof(int32_t) * (size_t)p->n);
            P = p->span_begin;
        }
        int same = 0;
        while (ids && same < P && same < p->n && ids[same] == p->ids[same]) same++;
        P = same < p->span_begin ? same : p->span_begin;
        attrib_prompt_free(p);
    }
    attrib_prefix *pre = NULL;
    *why = "the template has no tokens before the prompt";
    if (ids && P >= 1 && attrib_prefix_new(m, ids, P, &pre)) {
        *why = "it could not be made";
        fprintf(stderr, "attrib: warning: no prefix cache (%s); every pass starts at position 0\n", attrib_last_error());
        pre = NULL;
    }
    free(ids);
    return pre;
}

/* ------------------------------------------------------------ rows and jobs */

/* What computing one row gave: a record of KIND "prompt", "skipped" or
 * "failed", or a reason to stop the run. */
enum { ROW_DONE, ROW_INTERRUPTED, ROW_TOO_LONG_ERROR, ROW_NO_MEMORY };
typedef struct row_result {
    int index; /* in rows */
    int state; /* ROW_* */
    const char *kind;
    json_t *entry;
    char why[1024];
} row_result;

/* Renders row I, applies --too-long and runs every method on it. */
static void compute_row(const run_ctx *rc, const cli_rows *rows, int i, int n_ctx, row_result *r) {
    const compare_args *a = rc->a;
    attrib_prompt *p = NULL;
    int n_tok = 0;
    const char *stage = NULL;
    r->index = i;
    r->state = ROW_DONE;
    r->kind = "prompt";
    r->entry = NULL;
    r->why[0] = '\0';
    const int pr = compare_prepare_prompt(rc->tok, rc->tmpl, rows->text[i], n_ctx, a->too_long, &p, &n_tok, r->why, sizeof r->why);
    if (pr == 1 && a->too_long == COMPARE_TOO_LONG_ERROR) {
        r->state = ROW_TOO_LONG_ERROR;
        return;
    } else if (pr == 1) {
        r->kind = "skipped";
        r->entry = compare_row_note(rows, i, r->why, NULL, n_tok, n_ctx);
    } else if (pr == 2) {
        r->kind = "failed";
        row_failed(r->why, sizeof r->why, &stage, "template", rows->id[i], r->why);
        r->entry = compare_row_note(rows, i, r->why, stage, n_tok, n_ctx);
    } else {
        const int n_used = p->n;
        r->entry = run_prompt(rc, rows, i, p, r->why, sizeof r->why, &stage);
        if (!r->entry && !r->why[0]) { /* interrupted between methods: this prompt is redone on --resume */
            r->state = ROW_INTERRUPTED;
            return;
        }
        if (!r->entry) {
            r->kind = "failed";
            r->entry = compare_row_note(rows, i, r->why, stage, n_tok, n_ctx);
        } else if (n_tok > n_used) {
            json_object_set_new(r->entry, "truncated", json_pack("{s:i, s:i}", "n_tokens", n_tok, "n_ctx", n_ctx));
        }
    }
    if (!r->entry) r->state = ROW_NO_MEMORY;
}

/* --jobs: J threads take rows from one list, each with its own model handle
 * (attrib_model_share: the weights and tokenizer are the run's, the pass
 * scratch is the handle's) and its own prefix cache. A row's numbers do not depend
 * on which job computed it nor on how many threads that job had, so the
 * document equals a one-job run (tests/py/check_compare.py). Finished rows
 * are handed to the main thread, which journals them and shows progress. */
typedef struct job_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const cli_rows *rows;
    int n_ctx;
    const int *todo;
    int n_todo, next;    /* rows handed out */
    bool stop;           /* no more rows: a fatal row, or the journal failed */
    row_result **queue;  /* finished rows not yet taken by the main thread */
    int n_queued, n_taken, n_running;
} job_pool;

typedef struct job {
    job_pool *pool;
    run_ctx rc;
    attrib_model *m;        /* owned unless it is the run's model */
    attrib_prefix *prefix;  /* owned unless it is the run's prefix */
    pthread_t thread;
    bool started;
} job;

static void *job_main(void *arg) {
    job *jb = arg;
    job_pool *P = jb->pool;
    for (;;) {
        pthread_mutex_lock(&P->mu);
        const int i = P->stop || compare_interrupted() || P->next >= P->n_todo ? -1 : P->todo[P->next++];
        pthread_mutex_unlock(&P->mu);
        if (i < 0) break;
        row_result *r = malloc(sizeof *r);
        if (r) compute_row(&jb->rc, P->rows, i, P->n_ctx, r);
        pthread_mutex_lock(&P->mu);
        if (r) P->queue[P->n_queued++] = r;
        else P->stop = true; /* out of memory: the main thread reports it when the jobs are done */
        pthread_cond_signal(&P->cv);
        pthread_mutex_unlock(&P->mu);
        if (!r) break;
    }
    pthread_mutex_lock(&P->mu);
    P->n_running--;
    pthread_cond_signal(&P->cv);
    pthread_mutex_unlock(&P->mu);
    return NULL;
}

/* Job K's run context: the run's model for job 0, a shared handle of it
 * otherwise (with its own prefix cache when the run has one). */
static int job_setup(job *jb, const run_ctx *base, int k, int threads, const char **why) {
    jb->rc = *base;
    jb->m = base->m;
    if (k > 0) {
        if (attrib_model_share(base->m, &jb->m)) {
            jb->m = base->m;
            fprintf(stderr, "attrib: error: %s\n", attrib_last_error());
            return 1;
        }
        attrib_model_set_threads(jb->m, threads);
        jb->rc.m = jb->m;
        jb->rc.tok = attrib_model_tokenizer(jb->m);
        if (base->prefix && !(jb->rc.prefix = jb->prefix = template_prefix(jb->m, jb->rc.tok, base->tmpl, why))) return 1;
    } else {
        attrib_model_set_threads(jb->m, threads);
    }
    return 0;
}

static void job_free(job *jb, const run_ctx *base) {
    if (jb->prefix != base->prefix) attrib_prefix_free(jb->prefix);
    if (jb->m != base->m) attrib_model_free(jb->m);
}

/* Where finished rows go: the journal at once, the document's slot of
 * their row (the document lists rows in dataset order, however they
 * finished), and the progress line. */
typedef struct row_sink {
    const compare_args *a;
    const cli_rows *rows;
    compare_journal *journal;
    json_t **slot;          /* (rows->n) the record of each finished row */
    const char **slot_kind; /* (rows->n) "prompt", "skipped" or "failed" */
    int n_resumed, n_computed, n_skipped, n_failed;
    bool show_progress;
    const char *methods_arg;
    double t_loop;
} row_sink;

/* Takes R's record (R->entry becomes the sink's). 0, or 1 when the run must
 * stop (the reason printed). */
static int sink_row(row_sink *k, row_result *r) {
    const cli_rows *rows = k->rows;
    const int i = r->index;
    if (r->state == ROW_INTERRUPTED) return 0;
    if (r->state == ROW_TOO_LONG_ERROR) {
        fprintf(stderr, "%sattrib: error: prompt %s (index %lld): %s (--too-long error)\n", k->show_progress ? "\n" : "", rows->id[i],
                (long long)rows->index[i], r->why);
        if (k->a->out)
            fprintf(stderr, "  the finished prompts are kept in %s: continue with --too-long skip (or truncate) and --resume\n",
                    k->journal->path);
        return 1;
    }
    if (r->state == ROW_NO_MEMORY) {
        fprintf(stderr, "attrib: error: out of memory\n");
        return 1;
    }
    if (compare_journal_append(k->journal, r->kind, r->entry)) return 1;
    k->slot[i] = r->entry;
    k->slot_kind[i] = r->kind;
    r->entry = NULL;
    k->n_computed++;
    k->n_skipped += !strcmp(r->kind, "skipped");
    k->n_failed += !strcmp(r->kind, "failed");
    if (k->show_progress) {
        /* the rate counts the rows computed by this process (not those resumed) */
        const int done_rows = k->n_resumed + k->n_computed, left = rows->n - done_rows;
        const double rate = k->n_computed / (cli_now() - k->t_loop), eta = left / rate;
        fprintf(stderr, "\r  %s  prompt %d/%d", k->methods_arg, done_rows, rows->n);
        if (k->n_resumed) fprintf(stderr, " (%d resumed)", k->n_resumed);
        if (k->n_skipped || k->n_failed) fprintf(stderr, "  %d skipped, %d failed", k->n_skipped, k->n_failed);
        fprintf(stderr, "  %.2f prompts/s  ETA ", rate);
        if (eta < 120) fprintf(stderr, "%.0f s   ", eta);
        else fprintf(stderr, "%d:%02d:%02d   ", (int)(eta / 3600), (int)(eta / 60) % 60, (int)eta % 60);
    }
    return 0;
}

/* Computes the rows TODO on N_JOBS threads of THREADS threads each (see
 * job_pool), sinking each as it finishes. 0, or 1 when the run must stop;
 * rows finished before the stop are sunk all the same. */
static int run_jobs(const run_ctx *base, const cli_rows *rows, int n_ctx, const int *todo, int n_todo, int n_jobs, int threads,
                    row_sink *sink) {
    job_pool P;
    memset(&P, 0, sizeof P);
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    P.rows = rows;
    P.n_ctx = n_ctx;
    P.todo = todo;
    P.n_todo = n_todo;
    P.queue = calloc(n_todo ? (size_t)n_todo : 1, sizeof *P.queue);
    job *jobs = calloc((size_t)n_jobs, sizeof *jobs);
    int fatal = 0;
    if (!P.queue || !jobs) {
        fprintf(stderr, "attrib: error: out of memory\n");
        fatal = 1;
    }
    for (int k = 0; !fatal && k < n_jobs; k++) {
        const char *why = NULL;
        jobs[k].pool = &P;
        if (job_setup(&jobs[k], base, k, threads, &why)) {
            fprintf(stderr, "attrib: error: cannot set up job %d of %d%s%s\n", k + 1, n_jobs, why ? ": no prefix cache: " : "",
                    why ? why : "");
            fatal = 1;
        }
    }
    for (int k = 0; !fatal && k < n_jobs; k++) {
        pthread_mutex_lock(&P.mu);
        P.n_running++;
        pthread_mutex_unlock(&P.mu);
        if (pthread_create(&jobs[k].thread, NULL, job_main, &jobs[k])) {
            fprintf(stderr, "attrib: error: cannot start job %d of %d\n", k + 1, n_jobs);
            pthread_mutex_lock(&P.mu);
            P.n_running--;
            P.stop = true;
            pthread_mutex_unlock(&P.mu);
            fatal = 1;
        } else {
            jobs[k].started = true;
        }
    }
    pthread_mutex_lock(&P.mu);
    for (;;) {
        while (P.n_taken == P.n_queued && P.n_running > 0) pthread_cond_wait(&P.cv, &P.mu);
        if (P.n_taken == P.n_queued) break; /* every job has ended */
        row_result *r = P.queue[P.n_taken++];
        pthread_mutex_unlock(&P.mu);
        const int stop = sink_row(sink, r);
        json_decref(r->entry);
        free(r);
        pthread_mutex_lock(&P.mu);
        if (stop) fatal = 1, P.stop = true;
    }
    const bool unfinished = P.stop && !fatal; /* a job ran out of memory */
    pthread_mutex_unlock(&P.mu);
    if (unfinished) {
        fprintf(stderr, "attrib: error: out of memory\n");
        fatal = 1;
    }
    for (int k = 0; jobs && k < n_jobs; k++) {
        if (jobs[k].started) pthread_join(jobs[k].thread, NULL);
        job_free(&jobs[k], base);
    }
    if (jobs) attrib_model_set_threads(base->m, base->a->threads); /* job 0 ran on the run's model */
    free(jobs);
    free(P.queue);
    pthread_mutex_destroy(&P.mu);
    pthread_cond_destroy(&P.cv);
    return fatal;
}

static json_t *command_line(int argc, char **argv) {
    size_t len = 16;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 3;
    char *buf = malloc(len), *p = buf;
    if (!buf) return json_null();
    p += sprintf(p, "attrib");
    for (int i = 0; i < argc; i++) p += sprintf(p, strpbrk(argv[i], " \t\"'") ? " '%s'" : " %s", argv[i]);
    json_t *s = json_string(buf);
    free(buf);
    return s ? s : json_null();
}

int cmd_compare(int argc, char **argv) {
    compare_args a;
    memset(&a, 0, sizeof a);
    a.curve_points = 20;
    a.random_orders = 1;
    a.bootstrap = 1000;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    if (a.merge && (a.svg || a.png))
        return cli_usage_error("compare", "--merge writes no figure: run 'attrib report MERGED.json --svg FILE'");
    if (a.png && !render_png_available()) { /* say so before the model runs */
        render_png(a.png, render_compare_svg, NULL);
        return 1;
    }
    if (a.merge) return compare_merge(a.n_merge, a.merge, a.out, a.html, a.json);
    if (!a.data.seed_set) a.data.seed = a.seed;
    if (!a.n_methods) {
        const int def[] = {ATTRIB_METHOD_OCCLUSION, ATTRIB_METHOD_SALIENCY, ATTRIB_METHOD_GRAD_X_INPUT,
                           ATTRIB_METHOD_INTEGRATED_GRADIENTS, ATTRIB_METHOD_SHAPLEY_SAMPLED};
        memcpy(a.methods, def, sizeof def);
        a.n_methods = 5;
    }
    char started[32];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const double t_start = cli_now();

    run_ctx rcx;
    memset(&rcx, 0, sizeof rcx);
    rcx.a = &a;
    rcx.fo = attrib_faithfulness_default_options();
    rcx.fo.curve_points = a.curve_points;
    rcx.fo.random_orders = a.random_orders;
    if (a.n_fractions) {
        rcx.fo.n_fractions = a.n_fractions;
        memcpy(rcx.fo.fractions, a.fractions, sizeof a.fractions);
    }
    char *tmpl = NULL;
    const char *tmpl_name = NULL;
    attrib_probe *probe = NULL;
    attrib_model *m = NULL;
    attrib_prefix *prefix = NULL;
    cli_rows rows;
    memset(&rows, 0, sizeof rows);
    json_t *doc = NULL, *prompts = NULL;
    compare_journal journal;
    memset(&journal, 0, sizeof journal);
    json_t **slot = NULL;      /* each row's finished record, until the document takes it */
    const char **slot_kind = NULL;
    int *todo = NULL;          /* the rows to compute */
    rc = 1;
    /* --template auto / chat need the model's tokenizer: resolved below */
    const char *targ = a.data.template_arg;
    const bool chat_arg = targ && (!strcmp(targ, "auto") || !strcmp(targ, "chat"));
    cli_chat chat;
    memset(&chat, 0, sizeof chat);
    if (!chat_arg && (rc = cli_template(targ, &tmpl, &tmpl_name))) goto done;
    rcx.tmpl = tmpl;
    if ((rc = cli_data_load(&a.data, &rows))) goto done;
    rc = 1;
    if (!(m = cli_load_model(a.model, a.threads, false))) goto done;
    attrib_model_set_compute(m, a.compute ? ATTRIB_COMPUTE_FAST : ATTRIB_COMPUTE_EXACT);
    rcx.m = m;
    rcx.tok = attrib_model_tokenizer(m);
    if (!rcx.tok) {
        fprintf(stderr, "attrib: error: the model has no tokenizer\n");
        goto done;
    }
    if (chat_arg) {
        if ((rc = cli_chat_template(rcx.tok, targ, NULL, 0, &chat))) goto done;
        rc = 1;
        tmpl = strdup(chat.tmpl);
        attrib_free(chat.tmpl);
        if (!tmpl) goto done;
        tmpl_name = chat.name;
        rcx.tmpl = tmpl;
        for (int i = 0; chat.family->trims && i < rows.n; i++) { /* as the family trims message text */
            char *t = cli_chat_trim(&chat, rows.text[i]);
            if (!t) goto done;
            free(rows.text[i]);
            rows.text[i] = t;
        }
    }
    json_t *classifier;
    if (a.probe_path) {
        attrib_status s = attrib_probe_load(a.probe_path, &probe);
        if (s) {
            cli_fail_status(s, "cannot load probe");
            goto done;
        }
        if ((s = attrib_probe_check_model(probe, m))) {
            cli_fail_status(s, "cannot apply the probe");
            goto done;
        }
        rcx.probe = probe;
        char sha[65] = "";
        attrib_sha256_file(a.probe_path, sha);
        const attrib_probe_report *r = attrib_probe_get_report(probe);
        classifier = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:f, s:o, s:o}", "kind", "probe", "path", a.probe_path, "sha256", sha,
                               "layer", attrib_probe_layer(probe), "pool", attrib_pool_name(attrib_probe_pool(probe)), "template",
                               tmpl_name, "target", "probe logit (harmful > 0)", "l2", r->l2, "val_accuracy",
                               num(r->val_accuracy), "val_auroc", num(r->val_auroc));
    } else {
        const char *pw = a.label_pos, *nw = a.label_neg;
        if (!pw && chat_arg) pw = chat.positive, nw = chat.negative;
        else if (!pw) attrib_template_labels(tmpl_name, &pw, &nw);
        if (!pw || !nw) {
            rc = cli_usage_error("compare", "template '%s' has no label words: give --label-words POS NEG", tmpl_name);
            goto done;
        }
        if (label_token(rcx.tok, tmpl, tmpl_name, pw, &rcx.pos_token) || label_token(rcx.tok, tmpl, tmpl_name, nw, &rcx.neg_token)) goto done;
        classifier = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "judge", "template", tmpl_name, "template_text", tmpl,
                               "positive", pw, "negative", nw, "target", "logit(positive) - logit(negative) of the next token");
    }

    /* the template's leading tokens, computed once for every prompt and method */
    const char *no_prefix_why = "--no-prefix-cache";
    if (!a.no_prefix_cache && probe && attrib_probe_pool(probe) == ATTRIB_POOL_MEAN)
        no_prefix_why = "the probe pools the mean over positions, which needs the prefix's hidden states";
    else if (!a.no_prefix_cache)
        rcx.prefix = prefix = template_prefix(m, rcx.tok, tmpl, &no_prefix_why);

    json_t *methods = json_array(), *pairs = json_array(), *settings = json_object();
    for (int k = 0; k < a.n_methods; k++) {
        const char *name = attrib_method_name((attrib_method)a.methods[k]);
        json_array_append_new(methods, json_string(name));
        attrib_prompt dummy;
        memset(&dummy, 0, sizeof dummy);
        attrib_explain_options o = base_options(&rcx, (attrib_method)a.methods[k], &dummy, 0);
        if (o.mask == ATTRIB_MASK_TOKEN && o.mask_token < 0) o.mask_token = attrib_default_mask_token(rcx.tok);
        json_object_set_new(settings, name, method_settings(&o));
    }
    /* pairs: occlusion|saliency (the headline) first, then in method order */
    for (int x = 0; x < a.n_methods; x++)
        for (int y = x + 1; y < a.n_methods; y++) {
            json_t *pr = json_pack("[s,s]", attrib_method_name((attrib_method)a.methods[x]), attrib_method_name((attrib_method)a.methods[y]));
            bool headline = (a.methods[x] == ATTRIB_METHOD_OCCLUSION && a.methods[y] == ATTRIB_METHOD_SALIENCY) ||
                            (a.methods[y] == ATTRIB_METHOD_OCCLUSION && a.methods[x] == ATTRIB_METHOD_SALIENCY);
            if (headline) json_array_insert_new(pairs, 0, pr);
            else json_array_append_new(pairs, pr);
        }
    char *cpu = cpu_model();
    const int threads_all = a.threads ? a.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    json_t *fset = json_array();
    for (int j = 0; j < rcx.fo.n_fractions; j++) json_array_append_new(fset, json_real(rcx.fo.fractions[j]));
    json_t *prov = json_pack("{s:s, s:s, s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:{s:o, s:i, s:i, s:i}, s:{s:s, s:i, s:s, s:s}}",
                             "attrib_version", attrib_version(), "commit", attrib_commit(), "seed", (json_int_t)a.seed,
                             "command", command_line(argc, argv),
                             "started", started, "model", model_provenance(m, a.model), "data", data_provenance(&a, &rows),
                             "classifier", classifier, "methods", settings, "faithfulness", "fractions", fset, "curve_points",
                             a.curve_points, "random_orders", a.random_orders, "bootstrap", a.bootstrap, "machine", "cpu",
                             cpu ? cpu : "unknown", "threads", threads_all,
                             "blas", openblas_get_config(), "backend", "CPU");
    if (prov) /* the compute mode changes the numbers: shards to merge must agree on it */
        json_object_set_new(prov, "compute", json_string(a.compute ? "fast" : "exact"));
    if (prov) /* how the metrics remove a token, for every method alike (a method's own mask: its settings) */
        json_object_set_new(json_object_get(prov, "faithfulness"), "mask", json_string(attrib_mask_name((attrib_mask_kind)a.mask)));
    if (prov) { /* the prefix cache changes them by float rounding; which prompts used it: their "prefix_tokens" */
        json_t *pc = json_pack("{s:b, s:i}", "used", prefix != NULL, "tokens", attrib_prefix_len(prefix));
        if (pc && !prefix) json_object_set_new(pc, "why_not", json_string(no_prefix_why));
        json_object_set_new(prov, "prefix_cache", pc);
    }
    free(cpu);
    prompts = json_array();
    doc = json_pack("{s:s, s:o, s:o, s:o, s:o}", "schema", COMPARE_SCHEMA, "provenance", prov, "methods", methods, "pairs", pairs,
                    "prompts", prompts);
    if (!doc) {
        fprintf(stderr, "attrib: error: out of memory\n");
        goto done;
    }
    /* progress: on a terminal (or when asked), naming the methods, with rate and ETA */
    const bool show_progress = !a.quiet && (a.progress || isatty(2));
    g_progress_line = show_progress;
    char methods_arg[256] = "";
    for (int k = 0; k < a.n_methods; k++)
        snprintf(methods_arg + strlen(methods_arg), sizeof methods_arg - strlen(methods_arg), "%s%s", k ? "," : "",
                 attrib_method_name((attrib_method)a.methods[k]));
    /* rows that are not computed are listed beside the prompts; finished rows
     * go to the journal as they finish (compare_rows.c) */
    json_t *skipped = json_array(), *failed = json_array();
    json_object_set_new(doc, "skipped", skipped);
    json_object_set_new(doc, "failed", failed);
    const int n_ctx = attrib_model_get_info(m)->n_ctx_train;
    if (a.out) {
        json_t *identity = compare_run_identity(doc);
        const int jr = identity ? compare_journal_open(&journal, a.out, identity, a.resume, a.quiet) : 1;
        json_decref(identity);
        if (jr) {
            rc = jr;
            goto done;
        }
    }
    compare_signals_install();
    /* rows finished before a stopped run come from its journal; the rest are computed */
    const size_t n_slots = rows.n ? (size_t)rows.n : 1;
    slot = calloc(n_slots, sizeof *slot);
    slot_kind = calloc(n_slots, sizeof *slot_kind);
    todo = malloc(n_slots * sizeof *todo);
    if (!slot || !slot_kind || !todo) {
        fprintf(stderr, "attrib: error: out of memory\n");
        goto done;
    }
    row_sink sink = {.a = &a, .rows = &rows, .journal = &journal, .slot = slot, .slot_kind = slot_kind,
                     .show_progress = show_progress, .methods_arg = methods_arg};
    int n_todo = 0;
    for (int i = 0; i < rows.n; i++) {
        json_t *old = compare_journal_find(&journal, rows.index[i]);
        if (old && (!json_object_get(old, "truncated") || a.too_long == COMPARE_TOO_LONG_TRUNCATE)) {
            slot[i] = json_incref(old); /* finished before the run was stopped */
            slot_kind[i] = "prompt";
            sink.n_resumed++;
        } else {
            todo[n_todo++] = i;
        }
    }
    int n_jobs = a.jobs > 1 ? a.jobs : 1;
    if (n_jobs > n_todo) n_jobs = n_todo > 0 ? n_todo : 1; /* no idle handles */
    const int threads_per_job = threads_all / n_jobs > 1 ? threads_all / n_jobs : 1;
    json_t *machine = json_object_get(prov, "machine"); /* (not in the run's identity: the numbers do not depend on it) */
    json_object_set_new(machine, "jobs", json_integer(n_jobs));
    json_object_set_new(machine, "threads_per_job", json_integer(threads_per_job));
    sink.t_loop = cli_now();
    if (n_jobs > 1) {
        if (run_jobs(&rcx, &rows, n_ctx, todo, n_todo, n_jobs, threads_per_job, &sink)) goto done;
    } else {
        row_result *r = malloc(sizeof *r);
        if (!r) {
            fprintf(stderr, "attrib: error: out of memory\n");
            goto done;
        }
        int stop = 0;
        for (int t = 0; t < n_todo && !compare_interrupted() && !stop; t++) {
            compute_row(&rcx, &rows, todo[t], n_ctx, r);
            if (r->state == ROW_INTERRUPTED) break;
            stop = sink_row(&sink, r);
            json_decref(r->entry);
        }
        free(r);
        if (stop) goto done;
    }
    for (int i = 0; i < rows.n; i++) /* in dataset order */
        if (slot[i]) {
            json_array_append_new(!strcmp(slot_kind[i], "prompt") ? prompts : !strcmp(slot_kind[i], "skipped") ? skipped : failed, slot[i]);
            slot[i] = NULL;
        }
    const int n_resumed = sink.n_resumed;
    if (show_progress && rows.n) fputc('\n', stderr);
    const size_t n_fin = json_array_size(prompts) + json_array_size(skipped) + json_array_size(failed);
    if (compare_interrupted() && n_fin < (size_t)rows.n) { /* (a signal after the last row: the run is complete) */
        const int sig = compare_interrupted();
        fprintf(stderr, "attrib: stopped by %s after %zu of %d rows.\n", sig == SIGTERM ? "SIGTERM" : "SIGINT", n_fin, rows.n);
        if (a.out) {
            json_t *cmd = command_line(argc, argv);
            fprintf(stderr, "  the finished rows are kept in %s; to continue, run the same command with --resume:\n  %s%s\n",
                    journal.path, json_string_value(cmd) ? json_string_value(cmd) : "attrib compare ...", a.resume ? "" : " --resume");
            json_decref(cmd);
        } else {
            fprintf(stderr, "  nothing was kept: give --out FILE to keep finished prompts and --resume a stopped run\n");
        }
        rc = 128 + sig;
        goto done;
    }
    if (n_resumed) json_object_set_new(prov, "resumed", json_pack("{s:i, s:s}", "prompts", n_resumed, "journal", journal.path));
    json_object_set_new(prov, "wall_seconds", json_real(cli_now() - t_start));
    json_object_set_new(prov, "peak_rss_mb", num(peak_rss_mb()));
    if (compare_summarize(doc, a.bootstrap, a.seed)) goto done;
    if (a.out && compare_write(doc, a.out)) goto done;
    if (a.html) {
        FILE *f = fopen(a.html, "w");
        if (!f || render_compare_html(f, doc) || fclose(f)) {
            fprintf(stderr, "attrib: error: cannot write the HTML report %s\n", a.html);
            goto done;
        }
    }
    if (a.csv) {
        FILE *f = fopen(a.csv, "w");
        if (!f || render_compare_csv(f, doc) || fclose(f)) {
            fprintf(stderr, "attrib: error: cannot write the CSV %s\n", a.csv);
            goto done;
        }
    }
    if (a.svg) {
        FILE *f = fopen(a.svg, "w");
        if (!f || render_compare_svg(f, doc) || fclose(f)) {
            fprintf(stderr, "attrib: error: cannot write the SVG figure %s\n", a.svg);
            goto done;
        }
    }
    if (a.png && render_png(a.png, render_compare_svg, doc)) goto done;
    if (a.json) {
        json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
        putchar('\n');
    } else {
        compare_print_table(stdout, doc);
    }
    compare_journal_close(&journal, true); /* the document holds every row now */
    rc = json_array_size(json_object_get(doc, "failed")) ? COMPARE_EXIT_ROWS_FAILED : 0;
done:
    for (int i = 0; slot && i < rows.n; i++) json_decref(slot[i]);
    free(slot);
    free(slot_kind);
    free(todo);
    compare_journal_close(&journal, false);
    json_decref(doc);
    free(tmpl);
    cli_rows_free(&rows);
    attrib_probe_free(probe);
    attrib_prefix_free(prefix);
    attrib_model_free(m);
    return rc;
}
