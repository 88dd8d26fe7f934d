/*
 * explain_layer.c — the layer modes of `attrib explain` (explain_layer.h).
 *
 * --layer L sets the library's layer attribution (attrib_explain_options
 * layer_attribution / layer): the document then scores every position of
 * the residual stream after L blocks, and this file adds what is specific
 * to it (the layer, the position x dimension values).
 *
 * --layer-summary runs attrib_logit_attribution instead of a method and
 * prints its parts: the frozen final norm makes the logit linear in the
 * residual stream's parts, so embedding + every block's attention and FFN
 * sum to the logit (before any final soft-cap), each attention part being
 * the sum of its heads (and of the value bias, where there is one).
 */
#include "explain_layer.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int explain_layer_option(int argc, char **argv, int *i, explain_layer_opts *o) {
    const char *k = argv[*i];
    if (!strcmp(k, "--layer-summary")) {
        o->summary = 1;
        return 1;
    }
    if (strcmp(k, "--layer")) return 0;
    if (!cli_parse_int("explain", k, *i + 1 < argc ? argv[*i + 1] : NULL, 0, 1 << 20, &o->layer)) return -1;
    (*i)++;
    return 1;
}

int explain_layer_check(const explain_layer_opts *lo, attrib_explain_options *o, const attrib_method *methods, int n_methods,
                        bool data, bool words, bool other_outputs) {
    if (lo->layer >= 0 && lo->summary)
        return cli_usage_error("explain", "give --layer L (attribution to a layer) or --layer-summary (the logit's parts), not both");
    if (lo->summary) {
        if (data || other_outputs)
            return cli_usage_error("explain", "--layer-summary prints a table or --json for one TEXT (no --data, --html, "
                                              "--csv, --svg or --png)");
        if (o->target.kind != ATTRIB_TARGET_LOGIT && o->target.kind != ATTRIB_TARGET_LOGIT_DIFF)
            return cli_usage_error("explain", "--layer-summary splits a logit: use --target logit or diff");
        return 0;
    }
    if (lo->layer < 0) return 0;
    for (int k = 0; k < n_methods; k++) /* the method table says which methods can */
        if (!(attrib_method_get_info(methods[k])->reads & ATTRIB_READS_LAYER))
            return cli_usage_error("explain", "--layer attributes with saliency, gxi or ig, not %s",
                                   attrib_method_name(methods[k]));
    if (words) return cli_usage_error("explain", "--layer scores every position of the hidden state: --words does not apply");
    o->layer_attribution = 1;
    o->layer = lo->layer;
    return 0;
}

int explain_layer_model_check(const explain_layer_opts *lo, const attrib_model *m) {
    const int L = attrib_model_get_info(m)->n_layer;
    if (lo->layer > L)
        return cli_usage_error("explain", "--layer %d is outside 0..%d (the residual stream after that many of the model's %d "
                                          "blocks; 0 = the embeddings)", lo->layer, L, L);
    return 0;
}

void explain_layer_annotate(const explain_layer_opts *lo, json_t *doc, attrib_result *const *rs, int n_results, int n_embd,
                            bool term) {
    if (lo->layer < 0 || !doc) return;
    json_object_set_new(doc, "layer", json_integer(lo->layer));
    json_t *methods = json_object_get(doc, "methods");
    for (int k = 0; k < n_results; k++) {
        const attrib_result *r = rs[k];
        json_t *m = json_array_get(methods, (size_t)k);
        if (!m || !r->layer_values) continue;
        json_t *vals = json_array();
        for (size_t j = 0; j < (size_t)r->n_tokens * n_embd; j++) json_array_append_new(vals, json_real(r->layer_values[j]));
        json_t *lv = json_pack("{s:[i, i], s:o}", "shape", r->n_tokens, n_embd, "values", vals);
        json_object_set_new(m, "layer", json_integer(r->layer));
        json_t *set = json_object_get(m, "settings"); /* shown with the method in every view */
        if (json_is_object(set)) json_object_set_new(set, "layer", json_integer(r->layer));
        if (k == 0) json_object_set(doc, "layer_values", lv); /* the top level is the first method's (one-method shape) */
        json_object_set_new(m, "layer_values", lv);
    }
    if (term)
        printf("layer attribution: scores of the residual stream after block %d (%s), every position a feature\n",
               lo->layer, lo->layer ? "its output" : "0 = the input embeddings");
}

static json_t *piece(const attrib_tokenizer *tok, int32_t id) {
    size_t len = 0;
    const char *p = id >= 0 ? attrib_tokenizer_piece(tok, id, &len) : NULL;
    return cli_json_bytes(p ? p : "", p ? len : 0);
}

static void put_piece(const attrib_tokenizer *tok, int32_t id) {
    size_t len = 0;
    const char *p = attrib_tokenizer_piece(tok, id, &len);
    putchar('\'');
    for (size_t i = 0; p && i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) printf("\\x%02X", c);
        else putchar(c);
    }
    putchar('\'');
}

int explain_layer_summary(attrib_model *m, const attrib_token *toks, const int32_t *ids, int n, const char *text,
                          size_t text_len, const attrib_target *target, bool json) {
    if (target->kind == ATTRIB_TARGET_PROBE)
        return cli_usage_error("explain", "--layer-summary splits the model's logit, not a probe's");
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int32_t t2 = target->kind == ATTRIB_TARGET_LOGIT_DIFF ? target->token2 : -1;
    attrib_logit_parts *p = NULL;
    attrib_status s = attrib_logit_attribution(m, ids, n, target->token, t2, &p);
    if (s) return cli_fail_status(s, "the logit's parts");
    const int L = p->n_layer, H = p->n_head;
    double *by_source = calloc((size_t)n, sizeof(double));
    if (!by_source) {
        attrib_logit_parts_free(p);
        fprintf(stderr, "attrib: error: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)L * H; i++)
        for (int j = 0; j < n; j++) by_source[j] += p->head_sources[i * n + j];
    int rc = 0;
    if (json) {
        json_t *tarr = json_array(), *blocks = json_array(), *src = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(tarr, json_pack("{s:i, s:o, s:i, s:i}", "id", ids[i], "piece", piece(tok, ids[i]), "begin",
                                                  (int)toks[i].begin, "end", (int)toks[i].end));
        for (int j = 0; j < n; j++) json_array_append_new(src, json_real(by_source[j]));
        for (int l = 0; l < L; l++) {
            json_t *heads = json_array(), *hs = json_array();
            for (int h = 0; h < H; h++) {
                json_t *row = json_array();
                json_array_append_new(heads, json_real(p->heads[(size_t)l * H + h]));
                for (int j = 0; j < n; j++) json_array_append_new(row, json_real(p->head_sources[((size_t)l * H + h) * n + j]));
                json_array_append_new(hs, row);
            }
            json_array_append_new(blocks, json_pack("{s:i, s:f, s:f, s:f, s:o, s:o}", "block", l, "attn", p->attn[l], "ffn",
                                                    p->ffn[l], "attn_bias", p->attn_bias[l], "heads", heads, "head_sources", hs));
        }
        json_t *tj = json_pack("{s:s, s:i, s:o}", "kind", t2 >= 0 ? "logit diff" : "logit", "token", p->token, "piece",
                               piece(tok, p->token));
        if (t2 >= 0) {
            json_object_set_new(tj, "token2", json_integer(t2));
            json_object_set_new(tj, "piece2", piece(tok, t2));
        }
        json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:f, s:f}", "kind",
                                "attrib.logit_parts/1", "attrib_version", attrib_version(), "model",
                                cli_json_bytes(attrib_model_get_info(m)->path, strlen(attrib_model_get_info(m)->path)),
                                "text", cli_json_bytes(text, text_len), "tokens", tarr, "target", tj, "logit", p->logit,
                                "logit_capped", p->logit_capped, "final_rms", p->final_rms, "final_norm_term", 0.0,
                                "embedding", p->embedding, "blocks", blocks, "by_source", src, "sum", p->sum, "sum_error",
                                p->logit - p->sum);
        char *out = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17)) : NULL;
        if (out) puts(out);
        else rc = 1, fprintf(stderr, "attrib: error: out of memory\n");
        free(out);
        json_decref(doc);
    } else {
        printf("the %s of ", t2 >= 0 ? "logit difference" : "logit");
        put_piece(tok, p->token);
        if (t2 >= 0) printf(" - "), put_piece(tok, t2);
        printf(" after the last token: %.6g", p->logit);
        if (p->logit_capped != p->logit) printf(" (after the final soft-cap: %.6g)", p->logit_capped);
        printf("\nsplit along the residual stream with the final norm's scale frozen (rms %.6g): the parts sum to the\n"
               "logit, no final-norm term remains\n\n%-22s %12s\n", p->final_rms, "part", "contribution");
        printf("%-22s %12.5f\n", "embedding", p->embedding);
        for (int l = 0; l < L; l++) {
            char lab[64];
            snprintf(lab, sizeof lab, "block %d attention", l);
            printf("%-22s %12.5f   heads:", lab, p->attn[l]);
            for (int h = 0; h < H; h++) printf(" %d:%.4g", h, p->heads[(size_t)l * H + h]);
            if (p->attn_bias[l] != 0.0) printf("  value bias: %.4g", p->attn_bias[l]);
            snprintf(lab, sizeof lab, "block %d FFN", l);
            printf("\n%-22s %12.5f\n", lab, p->ffn[l]);
        }
        printf("%-22s %12.5f   (logit - sum = %.2g)\n\nwhat the heads read, summed over blocks and heads by key position:\n",
               "sum", p->sum, p->logit - p->sum);
        for (int j = 0; j < n; j++) {
            printf("  %3d ", j);
            put_piece(tok, ids[j]);
            printf(" %+.5f\n", by_source[j]);
        }
    }
    free(by_source);
    attrib_logit_parts_free(p);
    return rc || fflush(stdout) ? 1 : 0;
}
