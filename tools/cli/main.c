/*
 * main.c — entry point of the attrib command-line tool: dispatches to the
 * subcommands and holds the helpers they share (error printing, option
 * parsing, model loading).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "attrib " ATTRIB_VERSION_STRING " - explain local language models token by token\n"
    "\n"
    "usage: attrib <command> [options]\n"
    "\n"
    "commands:\n"
    "  info MODEL              architecture, size, tensor types, tokenizer and special tokens\n"
    "  generate MODEL PROMPT   greedy continuation of PROMPT (shows the model computes right)\n"
    "  tokenize MODEL TEXT     the model's tokens for TEXT with the byte span of each\n"
    "  explain MODEL TEXT      which tokens of TEXT made the model predict its next token\n"
    "                          (saliency, gxi, ig, smoothgrad, occlusion, shapley, kernelshap, lime)\n"
    "  probe train|eval|info   a linear probe (harmful-query classifier) on a layer's hidden state\n"
    "  compare MODEL --data F  every method on a labelled dataset: agreement, faithfulness, cost\n"
    "  report DOC.json         a compare document as a self-contained HTML report (--html) or CSV (--csv)\n"
    "\n"
    "MODEL is a .gguf file (llama.cpp / Ollama) or a Hugging Face directory holding\n"
    "config.json, model.safetensors and tokenizer.json.\n"
    "\n"
    "Every command takes --json for machine-readable output and --help for its options.\n"
    "Errors go to standard error; the exit status is 0 on success, 1 on failure, 2 on misuse\n"
    "(compare: 3 when it finished but some rows were skipped or failed; 130 when interrupted).\n"
    "\n"
    "examples:\n"
    "  attrib info ../shared/models/stories260K/stories260K-f32.gguf\n"
    "  attrib generate ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time\" -n 40\n"
    "  attrib tokenize ../shared/models/TinyStories-656K \"Hello world\" --json\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\"\n";

int cli_fail_status(attrib_status s, const char *what) {
    fprintf(stderr, "attrib: error: %s: %s (%s)\n", what, attrib_last_error(), attrib_status_name(s));
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "attrib %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nrun 'attrib %s --help' for usage\n", cmd);
    va_end(ap);
    return 2;
}

bool cli_parse_int(const char *cmd, const char *opt, const char *val, int lo, int hi, int *out) {
    if (!val) {
        cli_usage_error(cmd, "%s needs a value", opt);
        return false;
    }
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || *val == '\0' || *end != '\0' || v < lo || v > hi) {
        cli_usage_error(cmd, "%s takes a whole number from %d to %d, not '%s'", opt, lo, hi, val);
        return false;
    }
    *out = (int)v;
    return true;
}

bool cli_is(const char *arg, const char *a, const char *b) {
    return (a && strcmp(arg, a) == 0) || (b && strcmp(arg, b) == 0);
}

attrib_model *cli_load_model(const char *path, int n_threads, bool check_weights) {
    attrib_model_options opt = attrib_model_default_options();
    opt.n_threads = n_threads;
    opt.check_weights = check_weights;
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(path, &opt, &m);
    if (s) {
        cli_fail_status(s, "cannot load model");
        return NULL;
    }
    return m;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *cli_text_arg(const char *arg, char **owned, size_t *len) {
    *owned = NULL;
    if (strcmp(arg, "-") != 0) {
        *len = strlen(arg);
        return arg;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf || ferror(stdin)) {
        free(buf);
        fprintf(stderr, "attrib: error: cannot read the text from standard input\n");
        return NULL;
    }
    /* `echo TEXT | attrib explain MODEL -`: the newline echo adds is not part of the text */
    if (n && buf[n - 1] == '\n') n--;
    if (n && buf[n - 1] == '\r') n--;
    buf[n] = '\0';
    *owned = buf;
    *len = n;
    return buf;
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
    else if (s < 90) snprintf(buf, n, "%.0f s", s);
    else if (s < 5400) snprintf(buf, n, "%.0f min", s / 60);
    else snprintf(buf, n, "%.1f h", s / 3600);
}

void cli_progress_cb(void *user, int64_t done, int64_t total) {
    cli_progress *p = user;
    double now = cli_now();
    if (!p->force && !isatty(2)) return;
    if (now - p->t0 < 1.0 || (now - p->last < 0.2 && done < total)) return; /* short runs stay silent */
    p->last = now;
    double rate = done / (now - p->t0);
    char eta[32];
    fmt_duration(eta, sizeof eta, rate > 0 ? (total - done) / rate : -1);
    fprintf(stderr, "\r  %s", p->what ? p->what : "");
    if (p->n_items > 0) fprintf(stderr, "  prompt %lld/%lld", (long long)p->item + 1, (long long)p->n_items);
    fprintf(stderr, "  %lld/%lld  %.0f/s  ETA %s   ", (long long)done, (long long)total, rate, eta);
    p->shown = 1;
}

void cli_progress_end(cli_progress *p) {
    if (p->shown) fputc('\n', stderr);
    p->shown = 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || cli_is(argv[1], "--help", "-h") || strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (cli_is(argv[1], "--version", "version")) {
        const char *commit = attrib_commit();
        if (commit[0]) printf("attrib %s (%s)\n", attrib_version(), commit);
        else printf("attrib %s\n", attrib_version());
        return 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0) return cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "probe") == 0) return cmd_probe(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "attrib: unknown command '%s'\n\n%s", cmd, USAGE);
    return 2;
}
