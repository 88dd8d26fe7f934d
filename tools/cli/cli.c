/*
 * cli.c — helpers every subcommand shares: error and usage messages, option
 * parsing, model loading, reading TEXT, progress lines, and the CLI's view
 * of the library's method table (help text and recorded settings). main.c
 * only dispatches.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the method table ---------------------------------------------------- */

bool cli_method_reads(attrib_method m, unsigned reads) {
    const attrib_method_info *in = attrib_method_get_info(m);
    return in && (in->reads & reads) == reads;
}

json_t *cli_method_settings(const attrib_explain_options *opt, const attrib_result *result) {
    char *text = NULL;
    json_t *s = NULL;
    if (attrib_method_settings_json(opt, result, &text) == ATTRIB_OK) s = json_loads(text, 0, NULL);
    attrib_free(text);
    return s;
}

void cli_help_methods(FILE *f) {
    static const char *const FAMILY[] = {"gradient methods", "perturbation methods"};
    for (int fam = ATTRIB_FAMILY_GRADIENT; fam <= ATTRIB_FAMILY_PERTURBATION; fam++) {
        fprintf(f, "    %s:\n", FAMILY[fam]);
        for (int m = 0; m < attrib_method_count(); m++) {
            const attrib_method_info *in = attrib_method_get_info((attrib_method)m);
            if ((int)in->family == fam) fprintf(f, "      %-15s%s\n", in->name, in->summary);
        }
    }
}

void cli_help_method_names(FILE *f, size_t col, const char *indent, unsigned need, unsigned except) {
    bool first = true;
    for (int m = 0; m < attrib_method_count(); m++) {
        const unsigned reads = attrib_method_get_info((attrib_method)m)->reads;
        if ((reads & need) != need || (reads & except)) continue;
        const char *name = attrib_method_name((attrib_method)m);
        if (!first) fputs(",", f), col++;
        if (!first && col + strlen(name) + 1 > 96) fprintf(f, "\n%s", indent), col = strlen(indent);
        else if (!first) fputc(' ', f), col++;
        fputs(name, f);
        col += strlen(name);
        first = false;
    }
    fputc('\n', f);
}

void cli_set_samples(attrib_explain_options *o, int samples) {
    if (samples <= 0) return;
    if (cli_method_reads(o->method, ATTRIB_READS_SAMPLES)) o->samples = samples;
    if (cli_method_reads(o->method, ATTRIB_READS_SMOOTH)) o->smooth_samples = samples;
}

void cli_help_samples(FILE *f, const char *indent) {
    int k = 0;
    for (int m = 0; m < attrib_method_count(); m++) {
        const attrib_method_info *in = attrib_method_get_info((attrib_method)m);
        if (!in->samples_unit) continue;
        if (k % 2 == 0) fprintf(f, "%s%s", k ? ",\n" : "", indent);
        else fputs(", ", f);
        fprintf(f, "%s %d %s", in->name, in->default_samples, in->samples_unit);
        k++;
    }
    if (k) fputc('\n', f);
}

/* Writes DOC to PATH through RENDER; 1 (and a message) when the file cannot be
 * created or written. */
int cli_write_file(const char *path, int (*render)(FILE *, const json_t *), const json_t *doc) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "attrib: error: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    int bad = render(f, doc);
    if (fclose(f) || bad) {
        fprintf(stderr, "attrib: error: cannot write %s\n", path);
        return 1;
    }
    return 0;
}
