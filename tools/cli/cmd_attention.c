/*
 * cmd_attention.c — `attrib attention MODEL TEXT`: the attention weights of
 * every block and head on TEXT (attrib_attention), optionally rolled out
 * through the blocks (Abnar & Zuidema 2020), shown as the keys each head
 * reads most for one query token, as one head's full matrix, as JSON, or as
 * a self-contained HTML page of every head (render_attention.c).
 *
 * Attention rollout (attrib_attention_rollout): with A_l the mean over
 * heads of block l's weights, Â_l = (A_l + I) / 2 (the identity stands for
 * the residual connection; rows of A_l sum to 1, so dividing by 2
 * renormalises them) and R_l = Â_l Â_{l-1} ... Â_0: row i of R_l spreads
 * query i's attention through blocks 0..l over the input positions.
 */
#include "cli.h"
#include "render_attention.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: attrib attention MODEL TEXT [options]\n"
    "\n"
    "The attention weights of every block and head when the model reads TEXT: for each\n"
    "query token, the softmax weights it gives the tokens up to itself (each row sums to 1;\n"
    "grouped-query heads, soft-capped scores and sliding windows as the model computes them).\n"
    "BOS is added as the model's tokenizer says. TEXT '-' reads standard input.\n"
    "\n"
    "options:\n"
    "  --layer L      only block L (0 .. n_layer-1; default: every block)\n"
    "  --head H       only head H (0 .. n_head-1; default: every head)\n"
    "  --query I      the query position the table shows (default: the last token)\n"
    "  --top K        keys shown per head in the table (default 3)\n"
    "  --rollout      attention rollout (Abnar & Zuidema 2020) instead of the raw weights in the\n"
    "                 table, and added to --json and --html: per block l, R_l = Â_l ... Â_0 with\n"
    "                 Â_l = (mean over heads of block l's weights + I) / 2 (every head is used)\n"
    "  --json         JSON on standard output: tokens, \"shape\" [blocks, heads, T, T] and\n"
    "                 \"attention\" as nested lists (\"layers\"/\"heads\" say which are shown);\n"
    "                 with --rollout also \"rollout\": {\"shape\": [blocks, T, T], \"values\"}\n"
    "  --html FILE    a self-contained page: a grid of thumbnails (blocks x heads); hover or\n"
    "                 click one to see its T x T map with the tokens as labels\n"
    "  -t, --threads N  threads (default: all online CPUs)\n"
    "\n"
    "Without --json the table lists, per block and head, the keys the query token reads most;\n"
    "with both --layer and --head, that head's whole T x T matrix.\n"
    "\n"
    "examples:\n"
    "  attrib attention ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\"\n"
    "  attrib attention ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time\" --layer 4 --head 0\n"
    "  attrib attention ../shared/models/stories260K/stories260K-f32.gguf \"Lily saw a cat\" --rollout --html attn.html\n";

typedef struct att_args {
    const char *model, *text, *html_path;
    size_t text_len;
    int layer, head, query, top, rollout, json, threads;
} att_args;

static int parse_args(int argc, char **argv, att_args *a) {
    memset(a, 0, sizeof *a);
    a->layer = a->head = a->query = -1;
    a->top = 3;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is(k, "--help", "-h")) {
            fputs(HELP, stdout);
            return -1;
        }
        if (!strcmp(k, "--layer")) {
            if (!cli_parse_int("attention", k, v, 0, 1 << 20, &a->layer)) return 2;
            i++;
        } else if (!strcmp(k, "--head")) {
            if (!cli_parse_int("attention", k, v, 0, 1 << 20, &a->head)) return 2;
            i++;
        } else if (!strcmp(k, "--query")) {
            if (!cli_parse_int("attention", k, v, 0, 1 << 24, &a->query)) return 2;
            i++;
        } else if (!strcmp(k, "--top")) {
            if (!cli_parse_int("attention", k, v, 1, 1 << 24, &a->top)) return 2;
            i++;
        } else if (cli_is(k, "-t", "--threads")) {
            if (!cli_parse_int("attention", k, v, 1, 1024, &a->threads)) return 2;
            i++;
        } else if (!strcmp(k, "--html")) {
            if (!v) return cli_usage_error("attention", "--html needs a file name");
            a->html_path = v;
            i++;
        } else if (!strcmp(k, "--rollout")) {
            a->rollout = 1;
        } else if (!strcmp(k, "--json")) {
            a->json = 1;
        } else if (k[0] == '-' && k[1]) {
            return cli_usage_error("attention", "unknown option '%s'", k);
        } else if (!a->model) {
            a->model = k;
        } else if (!a->text) {
            a->text = k;
        } else {
            return cli_usage_error("attention", "unexpected argument '%s' (quote the text)", k);
        }
    }
    if (!a->model) return cli_usage_error("attention", "missing MODEL");
    if (!a->text) return cli_usage_error("attention", "missing TEXT");
    return 0;
}

/* A token piece for a terminal cell: control bytes escaped, at most MAX
 * characters. Returns the columns printed (one per character). */
static int put_piece(const char *p, size_t n, int max) {
    int cols = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xC0) == 0x80) { /* continuation byte: part of the character already counted */
            putchar(c);
            continue;
        }
        if (cols == max) break;
        if (c == '\n') fputs("\\n", stdout), cols += 2;
        else if (c < 0x20 || c == 0x7f) cols += printf("\\x%02X", c);
        else putchar(c), cols++;
    }
    return cols;
}

/* The keys row Q of matrix M (T x T) weights most, best first. */
static void print_top(const char *const *pieces, const size_t *plen, const double *row, int T, int top) {
    char *used = calloc((size_t)T, 1);
    if (!used) return;
    for (int k = 0; k < top && k < T; k++) {
        int best = -1;
        for (int j = 0; j < T; j++)
            if (!used[j] && (best < 0 || row[j] > row[best])) best = j;
        if (best < 0 || row[best] <= 0) break;
        used[best] = 1;
        printf("  %3d ", best);
        put_piece(pieces[best], plen[best], 12);
        printf(" %.3f", row[best]);
    }
    putchar('\n');
    free(used);
}

static int print_table(const att_args *a, const attrib_model_info *in, const char *const *pieces, const size_t *plen,
                       const float *probs, const double *R, int T) {
    const int L = in->n_layer, H = in->n_head, q = a->query >= 0 ? a->query : T - 1;
    const size_t TT = (size_t)T * T;
    double *row = malloc(sizeof(double) * (size_t)T);
    if (!row) return 1;
    printf("%d tokens, %d blocks x %d heads (%d KV heads)\n", T, L, H, in->n_head_kv);
    for (int t = 0; t < T; t++) {
        printf("%s%d ", t ? "  " : "tokens: ", t);
        put_piece(pieces[t], plen[t], 24);
    }
    printf("\n");
    if (a->layer >= 0 && a->head >= 0 && !a->rollout) { /* one head: its whole matrix */
        const float *M = probs + ((size_t)a->layer * H + a->head) * TT;
        printf("block %d, head %d: row = query, column = key\n%-16s", a->layer, a->head, "");
        for (int j = 0; j < T; j++) printf(" %5d", j);
        putchar('\n');
        for (int i = 0; i < T; i++) {
            printf("%3d ", i);
            const int cols = put_piece(pieces[i], plen[i], 12);
            printf("%*s", 12 - (cols < 12 ? cols : 12), "");
            for (int j = 0; j <= i; j++) printf(" %5.3f", M[(size_t)i * T + j]);
            putchar('\n');
        }
        free(row);
        return 0;
    }
    printf("query %d '", q);
    put_piece(pieces[q], plen[q], 40);
    printf("'%s: the keys it reads most (weight)\n", q == T - 1 ? " (the last token; --query I for another)" : "");
    for (int l = 0; l < L; l++) {
        if (a->layer >= 0 && l != a->layer) continue;
        if (a->rollout) {
            printf("rollout after block %2d", l);
            print_top(pieces, plen, R + (size_t)l * TT + (size_t)q * T, T, a->top);
            continue;
        }
        for (int h = 0; h < H; h++) {
            if (a->head >= 0 && h != a->head) continue;
            const float *M = probs + ((size_t)l * H + h) * TT + (size_t)q * T;
            for (int j = 0; j < T; j++) row[j] = M[j];
            printf("block %2d head %2d", l, h);
            print_top(pieces, plen, row, T, a->top);
        }
    }
    free(row);
    return 0;
}

/* Nested lists of the shown blocks x heads x T x T, streamed (a big model's
 * weights would be slow as a jansson tree). */
static void print_json(const json_t *head, const int *ls, int nl, const int *hs, int nh, int H, const float *probs,
                       const double *R, int T) {
    char *s = json_dumps(head, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) return;
    const size_t TT = (size_t)T * T;
    s[strlen(s) - 1] = '\0'; /* drop the closing brace: the big arrays follow */
    printf("%s,\"shape\":[%d,%d,%d,%d],\"attention\":[", s, nl, nh, T, T);
    free(s);
    for (int i = 0; i < nl; i++) {
        printf(i ? ",[" : "[");
        for (int j = 0; j < nh; j++) {
            const float *M = probs + ((size_t)ls[i] * H + hs[j]) * TT;
            printf(j ? ",[" : "[");
            for (int r = 0; r < T; r++) {
                printf(r ? ",[" : "[");
                for (int c = 0; c < T; c++) printf(c ? ",%.8g" : "%.8g", (double)M[(size_t)r * T + c]);
                putchar(']');
            }
            putchar(']');
        }
        putchar(']');
    }
    putchar(']');
    if (R) {
        printf(",\"rollout\":{\"formula\":\"R_l = A_l ... A_0, A_l = (mean over heads of block l + I) / 2\","
               "\"shape\":[%d,%d,%d],\"values\":[", nl, T, T);
        for (int i = 0; i < nl; i++) {
            printf(i ? ",[" : "[");
            for (int r = 0; r < T; r++) {
                printf(r ? ",[" : "[");
                for (int c = 0; c < T; c++) printf(c ? ",%.10g" : "%.10g", R[(size_t)ls[i] * TT + (size_t)r * T + c]);
                putchar(']');
            }
            putchar(']');
        }
        printf("]}");
    }
    printf("}\n");
}

int cmd_attention(int argc, char **argv) {
    att_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char *owned = NULL;
    if (!(a.text = cli_text_arg(a.text, &owned, &a.text_len))) return 1;
    if (!a.text_len) {
        free(owned);
        return cli_usage_error("attention", "TEXT is empty");
    }
    attrib_model *m = cli_load_model(a.model, a.threads, false);
    attrib_token *toks = NULL;
    int32_t *ids = NULL;
    float *probs = NULL;
    double *R = NULL;
    const char **pieces = NULL;
    size_t *plen = NULL, n = 0;
    json_t *head = NULL;
    int *ls = NULL, *hs = NULL;
    rc = 1;
    if (!m) goto done;
    const attrib_model_info *in = attrib_model_get_info(m);
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int L = in->n_layer, H = in->n_head;
    if (!tok) {
        fprintf(stderr, "attrib: error: %s has no tokenizer\n", a.model);
        goto done;
    }
    if (a.layer >= L) {
        rc = cli_usage_error("attention", "--layer %d is outside 0..%d (the model has %d blocks)", a.layer, L - 1, L);
        goto done;
    }
    if (a.head >= H) {
        rc = cli_usage_error("attention", "--head %d is outside 0..%d (the model has %d heads)", a.head, H - 1, H);
        goto done;
    }
    attrib_status s = attrib_tokenize(tok, a.text, a.text_len, ATTRIB_TOK_ADD_SPECIAL, &toks, &n);
    if (s) {
        rc = cli_fail_status(s, "cannot tokenize TEXT");
        goto done;
    }
    if (a.query >= (int)n) {
        rc = cli_usage_error("attention", "--query %d is outside TEXT's %zu tokens (0..%zu)", a.query, n, n - 1);
        goto done;
    }
    const int T = (int)n;
    size_t total;
    if (__builtin_mul_overflow((size_t)L * H, (size_t)T * T, &total) || total > ((size_t)1 << 31)) {
        fprintf(stderr, "attrib: error: %d blocks x %d heads x %d^2 weights are too many to show\n", L, H, T);
        goto done;
    }
    ids = malloc(n * sizeof *ids);
    probs = malloc(total * sizeof *probs);
    pieces = malloc(n * sizeof *pieces);
    plen = malloc(n * sizeof *plen);
    ls = malloc((size_t)L * sizeof *ls);
    hs = malloc((size_t)H * sizeof *hs);
    if (a.rollout) R = calloc((size_t)L * T * T, sizeof *R);
    if (!ids || !probs || !pieces || !plen || !ls || !hs || (a.rollout && !R)) {
        fprintf(stderr, "attrib: error: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = toks[i].id;
        pieces[i] = attrib_tokenizer_piece(tok, toks[i].id, &plen[i]);
        if (!pieces[i]) pieces[i] = "", plen[i] = 0;
    }
    if ((s = attrib_attention(m, ids, T, probs))) {
        rc = cli_fail_status(s, "attention failed");
        goto done;
    }
    if (R && (s = attrib_attention_rollout(probs, L, H, T, R))) {
        rc = cli_fail_status(s, "rollout failed");
        goto done;
    }
    int nl = 0, nh = 0;
    for (int l = 0; l < L; l++)
        if (a.layer < 0 || l == a.layer) ls[nl++] = l;
    for (int h = 0; h < H; h++)
        if (a.head < 0 || h == a.head) hs[nh++] = h;
    if (a.html_path) {
        FILE *f = fopen(a.html_path, "wb");
        if (!f) {
            fprintf(stderr, "attrib: error: cannot create %s: %s\n", a.html_path, strerror(errno));
            goto done;
        }
        const render_attention_view v = {in->path, a.text, a.text_len, T, pieces, plen, H, nl, nh, ls, hs, probs, R};
        int bad = render_attention_html(f, &v);
        if (fclose(f) || bad) {
            fprintf(stderr, "attrib: error: cannot write %s\n", a.html_path);
            goto done;
        }
    }
    if (a.json) {
        json_t *tarr = json_array(), *larr = json_array(), *harr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(tarr, json_pack("{s:i, s:o, s:i, s:i}", "id", toks[i].id, "piece",
                                                  cli_json_bytes(pieces[i], plen[i]), "begin", (int)toks[i].begin, "end",
                                                  (int)toks[i].end));
        for (int i = 0; i < nl; i++) json_array_append_new(larr, json_integer(ls[i]));
        for (int i = 0; i < nh; i++) json_array_append_new(harr, json_integer(hs[i]));
        head = json_pack("{s:s, s:o, s:o, s:o, s:i, s:i, s:i, s:i, s:o, s:o}", "attrib_version", attrib_version(), "model",
                         cli_json_bytes(in->path, strlen(in->path)), "text", cli_json_bytes(a.text, a.text_len), "tokens",
                         tarr, "n_layer", L, "n_head", H, "n_head_kv", in->n_head_kv, "n_tokens", T, "layers", larr,
                         "heads", harr);
        if (!head) {
            fprintf(stderr, "attrib: error: out of memory\n");
            goto done;
        }
        print_json(head, ls, nl, hs, nh, H, probs, R, T);
    } else if (print_table(&a, in, pieces, plen, probs, R, T)) {
        goto done;
    }
    rc = fflush(stdout) ? 1 : 0;
done:
    json_decref(head);
    attrib_free(toks);
    free(ids);
    free(probs);
    free(R);
    free(pieces);
    free(plen);
    free(ls);
    free(hs);
    attrib_model_free(m);
    free(owned);
    return rc;
}
