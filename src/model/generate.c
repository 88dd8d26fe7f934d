/*
 * generate.c — greedy decoding (attrib_generate_greedy): the prompt goes
 * through the model once, filling the KV cache, and each new token then
 * costs one single-token pass. It produces the answers that
 * attrib_explain_continuation explains, so that "why did the model write
 * this?" is asked of what the model really writes.
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>

attrib_status attrib_generate_greedy(attrib_model *m, const int32_t *ids, int n, int n_new, int stop_at_eos, int32_t *out,
                                     int *n_out) {
    if (!m || !ids || !out || !n_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_generate_greedy: NULL argument");
    const int V = m->info.n_vocab, ctx = m->info.n_ctx_train;
    if (n < 1 || n_new < 1 || n > ctx || n_new > ctx - n)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "%d prompt tokens + %d new tokens do not fit the model's context of %d (both >= 1)",
                           n, n_new, ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return attrib_fail(ATTRIB_E_BAD_VALUE, "token id %d at position %d is outside the vocabulary [0, %d)", ids[i], i, V);
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);
    const int eos = stop_at_eos && tok ? attrib_tokenizer_eos(tok) : -1;
    float *logits = attrib_calloc_array((size_t)V, sizeof(float));
    attrib_cache *cache = NULL;
    attrib_status s = logits ? attrib_cache_new(m, 1, n + n_new, &cache) : attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .store = 1, .logits_mode = ATTRIB_LOGITS_LAST};
    int k = 0;
    while (!s && k < n_new) {
        if ((s = attrib_forward(m, &b, cache, logits))) break;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        if (!isfinite(logits[best])) {
            s = attrib_fail(ATTRIB_E_NUMERIC, "the logits after %d tokens are not finite", n + k);
            break;
        }
        out[k++] = best;
        if (best == eos) break;
        b.tokens = out + k - 1;
        b.n_tokens = 1;
    }
    attrib_cache_free(cache);
    free(logits);
    if (s) return s;
    *n_out = k;
    return ATTRIB_OK;
}
