/*
 * layers_dump.c — what tests/py/check_layers_attn.py compares with the
 * PyTorch reference, printed as JSON through the public API: the hidden
 * states after every block, the attention weights, the logit's parts, and a
 * layer attribution.
 *
 * usage: layers_dump MODEL IDS WHAT [key=value ...]
 *   IDS: comma-separated token ids (including any BOS)
 *   WHAT: hidden     {"hidden": (n_layer + 1, n, C)}        attrib_forward's hidden_out
 *         attention  {"probs": (n_layer, n_head, n, n)}     attrib_attention
 *         parts      attrib_logit_parts                     token=N token2=N
 *         layer      attrib_explain with layer_attribution  layer=L method=gxi|ig|saliency
 *                    target=logit|logprob|prob|diff token=N token2=N steps=N (fixed rule)
 *                    tol=F mask=token|zero mask_token=N span=B:E
 */
#include "attrib.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "layers_dump: %s: %s\n", what, attrib_last_error());
    return 1;
}

static json_t *floats(const float *x, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_real(x[i]));
    return a;
}

static json_t *doubles(const double *x, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_real(x[i]));
    return a;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: layers_dump MODEL IDS hidden|attention|parts|layer [key=value ...]\n");
        return 2;
    }
    attrib_model *m = NULL;
    if (attrib_model_load(argv[1], NULL, &m)) return fail("load");
    const attrib_model_info *in = attrib_model_get_info(m);
    int32_t ids[4096];
    int n = 0;
    for (char *s = argv[2]; *s && n < 4096;) {
        ids[n++] = (int32_t)strtol(s, &s, 10);
        if (*s == ',') s++;
    }
    const char *what = argv[3];
    attrib_explain_options o = attrib_explain_default_options(ATTRIB_METHOD_GRAD_X_INPUT);
    o.layer_attribution = 1;
    int32_t token = -1, token2 = -1;
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "layer")) o.layer = atoi(v);
        else if (!strcmp(k, "method")) o.method = (attrib_method)attrib_method_from_name(v);
        else if (!strcmp(k, "target"))
            o.target.kind = !strcmp(v, "logit") ? ATTRIB_TARGET_LOGIT : !strcmp(v, "logprob") ? ATTRIB_TARGET_LOGPROB
                          : !strcmp(v, "prob") ? ATTRIB_TARGET_PROB : ATTRIB_TARGET_LOGIT_DIFF;
        else if (!strcmp(k, "token")) token = o.target.token = atoi(v);
        else if (!strcmp(k, "token2")) token2 = o.target.token2 = atoi(v);
        else if (!strcmp(k, "steps")) o.ig_steps = atoi(v), o.ig_tol = 0;
        else if (!strcmp(k, "tol")) o.ig_tol = atof(v);
        else if (!strcmp(k, "mask")) o.mask = !strcmp(v, "zero") ? ATTRIB_MASK_ZERO : ATTRIB_MASK_TOKEN;
        else if (!strcmp(k, "mask_token")) o.mask_token = atoi(v);
        else if (!strcmp(k, "span")) {
            if (sscanf(v, "%d:%d", &o.span_begin, &o.span_end) != 2) return 2;
        } else {
            fprintf(stderr, "unknown key %s\n", k);
            return 2;
        }
    }
    const int L = in->n_layer, H = in->n_head, C = in->n_embd;
    json_t *doc = json_object();
    int rc = 0;
    if (!strcmp(what, "hidden")) {
        float *h = malloc(sizeof(float) * (size_t)(L + 1) * n * C);
        for (int l = 0; l <= L && !rc; l++) {
            attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .logits_mode = ATTRIB_LOGITS_ALL, .hidden_layer = l,
                              .hidden_out = h + (size_t)l * n * C};
            if (attrib_forward(m, &b, NULL, NULL)) rc = fail("forward");
        }
        json_object_set_new(doc, "hidden", floats(h, (size_t)(L + 1) * n * C));
        free(h);
    } else if (!strcmp(what, "attention")) {
        float *p = malloc(sizeof(float) * (size_t)L * H * n * n);
        if (attrib_attention(m, ids, n, p)) rc = fail("attention");
        else json_object_set_new(doc, "probs", floats(p, (size_t)L * H * n * n));
        free(p);
    } else if (!strcmp(what, "parts")) {
        attrib_logit_parts *p = NULL;
        if (attrib_logit_attribution(m, ids, n, token, token2, &p)) {
            rc = fail("parts");
        } else {
            json_object_set_new(doc, "token", json_integer(p->token));
            json_object_set_new(doc, "token2", json_integer(p->token2));
            json_object_set_new(doc, "logit", json_real(p->logit));
            json_object_set_new(doc, "logit_capped", json_real(p->logit_capped));
            json_object_set_new(doc, "final_rms", json_real(p->final_rms));
            json_object_set_new(doc, "embedding", json_real(p->embedding));
            json_object_set_new(doc, "attn", doubles(p->attn, (size_t)L));
            json_object_set_new(doc, "heads", doubles(p->heads, (size_t)L * H));
            json_object_set_new(doc, "head_sources", doubles(p->head_sources, (size_t)L * H * n));
            json_object_set_new(doc, "attn_bias", doubles(p->attn_bias, (size_t)L));
            json_object_set_new(doc, "ffn", doubles(p->ffn, (size_t)L));
            json_object_set_new(doc, "sum", json_real(p->sum));
        }
        attrib_logit_parts_free(p);
    } else if (!strcmp(what, "layer")) {
        attrib_result *r = NULL;
        if (attrib_explain(m, ids, n, &o, &r)) {
            rc = fail("explain");
        } else {
            json_object_set_new(doc, "layer", json_integer(r->layer));
            json_object_set_new(doc, "scores", doubles(r->scores, (size_t)r->n_features));
            json_object_set_new(doc, "values", floats(r->layer_values, (size_t)n * C));
            if (r->gradients) json_object_set_new(doc, "gradients", floats(r->gradients, (size_t)n * C));
            json_object_set_new(doc, "target_token", json_integer(r->target_token));
            json_object_set_new(doc, "mask_token", json_integer(r->mask_token));
            json_object_set_new(doc, "f_input", json_real(r->f_input));
            json_object_set_new(doc, "f_baseline", json_real(r->f_baseline));
            json_object_set_new(doc, "sum_scores", json_real(r->sum_scores));
            json_object_set_new(doc, "completeness_relative", json_real(r->completeness_relative));
            json_object_set_new(doc, "ig_nodes", doubles(r->ig_nodes, (size_t)r->ig_n_nodes));
            json_object_set_new(doc, "ig_weights", doubles(r->ig_weights, (size_t)r->ig_n_nodes));
        }
        attrib_result_free(r);
    } else {
        fprintf(stderr, "unknown WHAT %s\n", what);
        rc = 2;
    }
    if (!rc) {
        char *s = json_dumps(doc, JSON_COMPACT);
        puts(s);
        free(s);
    }
    json_decref(doc);
    attrib_model_free(m);
    return rc;
}
