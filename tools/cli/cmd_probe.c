/*
 * cmd_probe.c — `attrib probe train|eval|info`: linear probes, the
 * harmful-query classifier for models that cannot judge by prompting.
 *
 * train: every prompt of the data goes through the template (plain by
 * default), the model runs it alone up to --layer, the hidden state is
 * pooled, and an L2-regularised logistic regression is fitted (the library
 * chooses L2 on a stratified validation split). The probe is saved as a
 * small GGUF recording the model's sha256, layer, pooling, normalisation,
 * the data it was trained on and its validation figures.
 * eval: the probe's accuracy, AUROC and confusion matrix on labelled data.
 * --predictions writes every prompt's logit with 17 significant digits, so
 * that two runs can be compared bit for bit.
 */
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP_FMT =
    "usage: attrib probe train MODEL --out PROBE.gguf [data] [options]\n"
    "       attrib probe eval PROBE.gguf MODEL [data] [--predictions FILE] [--json]\n"
    "       attrib probe info PROBE.gguf [--json]\n"
    "\n"
    "A probe is a logistic regression on the model's hidden state after --layer blocks,\n"
    "pooled over the prompt, which predicts whether a prompt is harmful. It is the\n"
    "classifier `attrib compare --probe` and `attrib explain --probe` attribute.\n"
    "\n"
    "%s"
    "train options:\n"
    "  --out FILE           where to save the probe (required; written atomically)\n"
    "  --layer L            hidden state after L blocks, 0..n_layer (default: half way, rounded up)\n"
    "  --pool P             mean (every token but BOS; default) | last (the last token)\n"
    "  --val-fraction F     held out per class to choose L2 and report on (default 0.2)\n"
    "  --seed S             seed of the validation split (default 0)\n"
    "  --l2 A,B,...         candidate L2 strengths (default 1e-4,1e-3,...,1e4)\n"
    "common options:\n"
    "  --predictions FILE   JSON lines: index, id, label, logit (17 digits) of every prompt\n"
    "  -t, --threads N      threads (default: all online CPUs)\n"
    "  --json               print the report as JSON\n"
    "\n"
    "example (the demo probe; the TinyStories models cannot judge harm by prompting):\n"
    "  attrib probe train ../shared/models/stories260K/stories260K-f32.gguf --out probe.gguf \\\n"
    "      --harmful ../shared/data/refusal_direction/harmful_train.json \\\n"
    "      --harmful ../shared/data/jbb/jailbreakbench.csv \\\n"
    "      --harmless ../shared/data/refusal_direction/harmless_train.json --sample 360 \\\n"
    "      --harmless ../shared/data/jbb/benign-behaviors.csv\n"
    "  attrib probe eval probe.gguf ../shared/models/stories260K/stories260K-f32.gguf \\\n"
    "      --data ../shared/data/xstest/xstest_prompts.csv --positive unsafe\n";

static void print_help(FILE *f) { fprintf(f, HELP_FMT, CLI_DATA_HELP); }

typedef struct probe_args {
    const char *model, *probe, *out, *predictions;
    cli_data_opts data;
    int layer, pool, threads, json;
    double val_fraction;
    uint64_t seed;
    int n_l2;
    double l2[16];
} probe_args;

static int parse(const char *sub, int argc, char **argv, probe_args *a) {
    int npos = 0;
    const char *pos[2] = {NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int d = cli_data_option("probe", argc, argv, &i, &a->data);
        if (d < 0) return 2;
        if (d > 0) continue;
        if (cli_is(k, "--help", "-h")) {
            print_help(stdout);
            return 1;
        } else if (!strcmp(k, "--out")) {
            if (!v) return cli_usage_error("probe", "--out needs a file");
            a->out = v, i++;
        } else if (!strcmp(k, "--predictions")) {
            if (!v) return cli_usage_error("probe", "--predictions needs a file");
            a->predictions = v, i++;
        } else if (!strcmp(k, "--layer")) {
            if (!cli_parse_int("probe", k, v, 0, 4096, &a->layer)) return 2;
            i++;
        } else if (!strcmp(k, "--pool")) {
            if (!v || (a->pool = attrib_pool_from_name(v)) < 0) return cli_usage_error("probe", "--pool takes mean or last");
            i++;
        } else if (!strcmp(k, "--val-fraction")) {
            char *end;
            a->val_fraction = v ? strtod(v, &end) : NAN;
            if (!v || *end || !(a->val_fraction > 0 && a->val_fraction < 0.9))
                return cli_usage_error("probe", "--val-fraction takes a number in (0, 0.9)");
            i++;
        } else if (!strcmp(k, "--seed")) {
            char *end;
            if (!v || *v == '-') return cli_usage_error("probe", "--seed takes a whole number >= 0");
            a->seed = strtoull(v, &end, 10);
            if (*end) return cli_usage_error("probe", "--seed takes a whole number >= 0");
            i++;
        } else if (!strcmp(k, "--l2")) {
            if (!v) return cli_usage_error("probe", "--l2 needs a list");
            a->n_l2 = 0;
            for (const char *p = v; *p;) {
                char *end;
                double x = strtod(p, &end);
                if (end == p || !(x > 0) || !isfinite(x) || a->n_l2 >= 16)
                    return cli_usage_error("probe", "--l2 takes up to 16 positive numbers separated by commas");
                a->l2[a->n_l2++] = x;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') return cli_usage_error("probe", "--l2 takes numbers separated by commas");
            }
            i++;
        } else if (cli_is(k, "-t", "--threads")) {
            if (!cli_parse_int("probe", k, v, 1, 1024, &a->threads)) return 2;
            i++;
        } else if (!strcmp(k, "--json")) {
            a->json = 1;
        } else if (k[0] == '-' && k[1]) {
            return cli_usage_error("probe", "unknown option '%s'", k);
        } else {
            if (npos >= 2) return cli_usage_error("probe", "unexpected argument '%s'", k);
            pos[npos++] = k;
        }
    }
    if (!strcmp(sub, "train")) {
        if (npos != 1) return cli_usage_error("probe", "train takes one MODEL");
        a->model = pos[0];
        if (!a->out) return cli_usage_error("probe", "train needs --out FILE");
    } else if (!strcmp(sub, "eval")) {
        if (npos != 2) return cli_usage_error("probe", "eval takes PROBE and MODEL");
        a->probe = pos[0];
        a->model = pos[1];
    } else {
        if (npos != 1) return cli_usage_error("probe", "info takes one PROBE file");
        a->probe = pos[0];
    }
    return 0;
}

/* Tokenizes every row through the template: ids[i] (n[i] tokens). */
static int tokenize_rows(const attrib_model *m, const char *tmpl, const cli_rows *rows, int32_t ***ids_out, int **lens_out) {
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    if (!tok) {
        fprintf(stderr, "attrib: error: the model has no tokenizer\n");
        return 1;
    }
    int32_t **ids = calloc((size_t)rows->n + 1, sizeof *ids);
    int *lens = calloc((size_t)rows->n + 1, sizeof *lens);
    if (!ids || !lens) {
        free(ids);
        free(lens);
        fprintf(stderr, "attrib: error: out of memory\n");
        return 1;
    }
    for (int i = 0; i < rows->n; i++) {
        attrib_prompt *p = NULL;
        attrib_status s = attrib_template_apply(tok, tmpl, rows->text[i], strlen(rows->text[i]), &p);
        if (s) {
            fprintf(stderr, "attrib: error: prompt %s (row index %lld): %s\n", rows->id[i], (long long)rows->index[i],
                    attrib_last_error());
            for (int j = 0; j < i; j++) free(ids[j]);
            free(ids);
            free(lens);
            return 1;
        }
        ids[i] = malloc(sizeof(int32_t) * (size_t)p->n);
        if (ids[i]) memcpy(ids[i], p->ids, sizeof(int32_t) * (size_t)p->n);
        lens[i] = p->n;
        attrib_prompt_free(p);
        if (!ids[i]) {
            for (int j = 0; j < i; j++) free(ids[j]);
            free(ids);
            free(lens);
            fprintf(stderr, "attrib: error: out of memory\n");
            return 1;
        }
    }
    *ids_out = ids;
    *lens_out = lens;
    return 0;
}

static void free_ids(int32_t **ids, int n) {
    if (!ids) return;
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

static int write_predictions(const char *path, const cli_rows *rows, const double *logit) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < rows->n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:i, s:i}", "index", (json_int_t)rows->index[i], "id", rows->id[i], "file", rows->file[i],
                              "label", rows->label[i]);
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (txt) {
            /* the logit as text with 17 significant digits: exact for a double */
            txt[strlen(txt) - 1] = '\0';
            fprintf(f, "%s,\"logit\":%.17g}\n", txt, logit[i]);
        }
        free(txt);
        json_decref(o);
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* Accuracy, AUROC and the confusion matrix of LOGIT against labels. */
static void classify_report(const cli_rows *rows, const double *logit, double *acc, double *auroc, int cm[2][2], int *n_lab) {
    int *lab = malloc(sizeof(int) * (size_t)(rows->n + 1));
    double *sc = malloc(sizeof(double) * (size_t)(rows->n + 1));
    int m = 0, correct = 0;
    memset(cm, 0, sizeof(int) * 4);
    for (int i = 0; i < rows->n && lab && sc; i++) {
        if (rows->label[i] < 0) continue;
        lab[m] = rows->label[i];
        sc[m] = logit[i];
        int pred = logit[i] > 0;
        correct += pred == lab[m];
        cm[lab[m]][pred]++;
        m++;
    }
    *n_lab = m;
    *acc = m ? (double)correct / m : NAN;
    *auroc = (lab && sc) ? attrib_auroc(sc, lab, m) : NAN;
    free(lab);
    free(sc);
}

static json_t *json_num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static int do_info(const probe_args *a) {
    attrib_probe *p = NULL;
    attrib_status s = attrib_probe_load(a->probe, &p);
    if (s) return cli_fail_status(s, "cannot load probe");
    const attrib_probe_report *r = attrib_probe_get_report(p);
    if (a->json) {
        json_t *o = json_pack("{s:s, s:i, s:s, s:i, s:s, s:o, s:i, s:i, s:o, s:o, s:o, s:o}", "probe", a->probe, "layer",
                              attrib_probe_layer(p), "pool", attrib_pool_name(attrib_probe_pool(p)), "dim", attrib_probe_dim(p),
                              "model_sha256", attrib_probe_model_sha256(p), "l2", json_num(r->l2), "n_train", r->n_train, "n_val",
                              r->n_val, "train_accuracy", json_num(r->train_accuracy), "val_accuracy", json_num(r->val_accuracy),
                              "train_auroc", json_num(r->train_auroc), "val_auroc", json_num(r->val_auroc));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else {
        printf("probe         %s\nlayer         %d (hidden state after %d blocks)\npooling       %s\nwidth         %d\n", a->probe,
               attrib_probe_layer(p), attrib_probe_layer(p), attrib_pool_name(attrib_probe_pool(p)), attrib_probe_dim(p));
        printf("model sha256  %s\nL2            %g\ntrained on    %d prompts (validation %d)\n", attrib_probe_model_sha256(p), r->l2,
               r->n_train, r->n_val);
        printf("accuracy      train %.4f  validation %.4f\nAUROC         train %.4f  validation %.4f\n", r->train_accuracy,
               r->val_accuracy, r->train_auroc, r->val_auroc);
    }
    attrib_probe_free(p);
    return 0;
}

int cmd_probe(int argc, char **argv) {
    if (argc < 2 || cli_is(argv[1], "--help", "-h")) {
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "train") && strcmp(sub, "eval") && strcmp(sub, "info"))
        return cli_usage_error("probe", "unknown subcommand '%s' (train, eval or info)", sub);
    probe_args a;
    memset(&a, 0, sizeof a);
    a.layer = -1;
    a.pool = ATTRIB_POOL_MEAN;
    a.val_fraction = 0.2;
    int rc = parse(sub, argc - 1, argv + 1, &a);
    if (rc) return rc == 1 ? 0 : rc;
    if (!strcmp(sub, "info")) return do_info(&a);
    if (!a.data.seed_set) a.data.seed = a.seed;

    const bool train = !strcmp(sub, "train");
    attrib_probe *probe = NULL;
    if (!train) {
        attrib_status s = attrib_probe_load(a.probe, &probe);
        if (s) return cli_fail_status(s, "cannot load probe");
    }
    char *tmpl = NULL;
    const char *tmpl_name = NULL;
    cli_rows rows;
    memset(&rows, 0, sizeof rows);
    attrib_model *m = NULL;
    int32_t **ids = NULL;
    int *lens = NULL;
    float *x = NULL;
    double *logit = NULL;
    int *y = NULL;
    rc = 1;
    /* --template auto / chat need the model's tokenizer: resolved after loading it */
    const char *targ = a.data.template_arg;
    const bool chat_arg = targ && (!strcmp(targ, "auto") || !strcmp(targ, "chat"));
    cli_chat chat;
    memset(&chat, 0, sizeof chat);
    if (!chat_arg && (rc = cli_template(targ, &tmpl, &tmpl_name))) goto done;
    if ((rc = cli_data_load(&a.data, &rows))) goto done;
    rc = 1;
    if (!(m = cli_load_model(a.model, a.threads, false))) goto done;
    if (chat_arg) {
        const attrib_tokenizer *ctok = attrib_model_tokenizer(m);
        if (!ctok) {
            fprintf(stderr, "attrib: error: the model has no tokenizer\n");
            goto done;
        }
        if ((rc = cli_chat_template(ctok, targ, NULL, 0, &chat))) goto done;
        rc = 1;
        tmpl = strdup(chat.tmpl);
        attrib_free(chat.tmpl);
        if (!tmpl) goto done;
        tmpl_name = chat.name;
        for (int i = 0; chat.family->trims && i < rows.n; i++) { /* as the family trims message text */
            char *t = cli_chat_trim(&chat, rows.text[i]);
            if (!t) goto done;
            free(rows.text[i]);
            rows.text[i] = t;
        }
    }
    const attrib_model_info *in = attrib_model_get_info(m);
    if (probe) {
        attrib_status s = attrib_probe_check_model(probe, m);
        if (s) {
            cli_fail_status(s, "cannot apply the probe");
            goto done;
        }
    }
    if (train && a.layer < 0) a.layer = (in->n_layer + 1) / 2;
    if (train && a.layer > in->n_layer) {
        rc = cli_usage_error("probe", "--layer %d is beyond the model's %d blocks", a.layer, in->n_layer);
        goto done;
    }
    if (tokenize_rows(m, tmpl, &rows, &ids, &lens)) goto done;
    const int layer = train ? a.layer : attrib_probe_layer(probe);
    const attrib_pool pool = train ? (attrib_pool)a.pool : attrib_probe_pool(probe);
    x = malloc(sizeof(float) * (size_t)in->n_embd * (size_t)(rows.n + 1));
    logit = malloc(sizeof(double) * (size_t)(rows.n + 1));
    y = malloc(sizeof(int) * (size_t)(rows.n + 1));
    if (!x || !logit || !y) {
        fprintf(stderr, "attrib: error: out of memory\n");
        goto done;
    }
    const double t0 = cli_now();
    attrib_status s = attrib_model_features(m, (const int32_t *const *)ids, lens, rows.n, layer, pool, x);
    if (s) {
        cli_fail_status(s, "cannot compute hidden states");
        goto done;
    }
    const double t_feat = cli_now() - t0;
    if (train) {
        for (int i = 0; i < rows.n; i++) {
            if (rows.label[i] < 0) {
                fprintf(stderr, "attrib: error: row %s of %s has no label: give --label-col/--positive, or use --harmful/--harmless\n",
                        rows.id[i], a.data.files[rows.file[i]]);
                goto done;
            }
            y[i] = rows.label[i];
        }
        attrib_probe_train_options to = attrib_probe_default_train_options();
        to.val_fraction = a.val_fraction;
        to.seed = a.seed;
        if (a.n_l2) {
            to.n_l2 = a.n_l2;
            memcpy(to.l2, a.l2, sizeof a.l2);
        }
        attrib_probe_report rep;
        if ((s = attrib_probe_train(m, a.layer, (attrib_pool)a.pool, x, y, rows.n, &to, &probe, &rep))) {
            cli_fail_status(s, "cannot train the probe");
            goto done;
        }
        /* what the probe was trained on, kept in the file */
        char desc[4096];
        int off = snprintf(desc, sizeof desc, "attrib %s; template=%s; layer=%d; pool=%s; seed=%llu; data:", attrib_version(),
                           tmpl_name, a.layer, attrib_pool_name((attrib_pool)a.pool), (unsigned long long)a.seed);
        for (int f = 0; f < a.data.n_files && off > 0 && off < (int)sizeof desc; f++) {
            char sha[65] = "?";
            attrib_sha256_file(a.data.files[f], sha);
            off += snprintf(desc + off, sizeof desc - off, " %s%s (sha256 %.16s)", a.data.file_label[f] == 1 ? "harmful:"
                                                                                    : a.data.file_label[f] == 0 ? "harmless:" : "",
                            a.data.files[f], sha);
        }
        if ((a.data.sample || a.data.limit) && off > 0 && off < (int)sizeof desc)
            snprintf(desc + off, sizeof desc - off, "; sample=%lld limit=%lld data-seed=%llu", (long long)a.data.sample,
                     (long long)a.data.limit, (unsigned long long)a.data.seed);
        if ((s = attrib_probe_save(probe, a.out, desc))) {
            cli_fail_status(s, "cannot save the probe");
            goto done;
        }
    }
    for (int i = 0; i < rows.n; i++) logit[i] = attrib_probe_logit(probe, x + (size_t)i * in->n_embd);
    if (a.predictions && write_predictions(a.predictions, &rows, logit)) {
        fprintf(stderr, "attrib: error: cannot write %s\n", a.predictions);
        goto done;
    }
    double acc, auroc;
    int cm[2][2], n_lab;
    classify_report(&rows, logit, &acc, &auroc, cm, &n_lab);
    const attrib_probe_report *r = attrib_probe_get_report(probe);
    if (a.json) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:i, s:o, s:o, s:[[i,i],[i,i]], s:f}", "model", a.model, "model_sha256",
                              attrib_probe_model_sha256(probe), "layer", layer, "pool", attrib_pool_name(pool), "n", n_lab, "accuracy",
                              json_num(acc), "auroc", json_num(auroc), "confusion", cm[0][0], cm[0][1], cm[1][0], cm[1][1],
                              "feature_seconds", t_feat);
        if (train)
            json_object_set_new(o, "training", json_pack("{s:s, s:f, s:i, s:i, s:o, s:o, s:o, s:o, s:[[i,i],[i,i]]}", "out", a.out, "l2",
                                                        r->l2, "n_train", r->n_train, "n_val", r->n_val, "train_accuracy",
                                                        json_num(r->train_accuracy), "val_accuracy", json_num(r->val_accuracy),
                                                        "train_auroc", json_num(r->train_auroc), "val_auroc", json_num(r->val_auroc),
                                                        "val_confusion", r->val_confusion[0][0], r->val_confusion[0][1],
                                                        r->val_confusion[1][0], r->val_confusion[1][1]));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else {
        if (train) {
            printf("probe         %s (layer %d, %s pooling, width %d)\n", a.out, a.layer, attrib_pool_name((attrib_pool)a.pool),
                   in->n_embd);
            printf("trained on    %d prompts, validated on %d (stratified, seed %llu); L2 chosen: %g\n", r->n_train, r->n_val,
                   (unsigned long long)a.seed, r->l2);
            printf("training      accuracy %.4f  AUROC %.4f\n", r->train_accuracy, r->train_auroc);
            printf("validation    accuracy %.4f  AUROC %.4f  confusion [[tn %d, fp %d], [fn %d, tp %d]]\n", r->val_accuracy,
                   r->val_auroc, r->val_confusion[0][0], r->val_confusion[0][1], r->val_confusion[1][0], r->val_confusion[1][1]);
        } else {
            printf("data          %d labelled prompts\n", n_lab);
            printf("accuracy      %.4f\nAUROC         %.4f\nconfusion     [[tn %d, fp %d], [fn %d, tp %d]] (rows: true, columns: predicted)\n",
                   acc, auroc, cm[0][0], cm[0][1], cm[1][0], cm[1][1]);
        }
        printf("hidden states %.2f s for %d prompts\n", t_feat, rows.n);
    }
    rc = 0;
done:
    free(tmpl);
    free_ids(ids, rows.n);
    free(lens);
    free(x);
    free(logit);
    free(y);
    cli_rows_free(&rows);
    attrib_probe_free(probe);
    attrib_model_free(m);
    return rc;
}
