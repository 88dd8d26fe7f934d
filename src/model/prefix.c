/*
 * prefix.c — the prefix cache (attrib_prefix): the keys and values of the
 * leading tokens every input of a run shares (a judge template's text
 * before the input), computed once and read by every later pass.
 *
 * The keys and values are those of an ordinary inference pass over the
 * prefix alone (forward.c), kept per compute mode: gradient passes are
 * always exact, and forward-only passes follow the model's mode, so a
 * prefix of a model whose weights the fast mode multiplies differently
 * keeps a second, fast copy. A pass that continues from the prefix then
 * differs from one over the whole input only by float rounding: the same
 * rows computed in a different batch.
 */
#include "model/prefix.h"

#include "model/kernels_int.h"

#include <stdlib.h>
#include <string.h>

struct attrib_prefix {
    const attrib_model *m; /* the model it was made for (identity, never dereferenced for weights) */
    int n;
    int32_t *ids;          /* (n) */
    attrib_cache *kv[2];   /* by attrib_compute: exact, and fast (NULL when it equals exact) */
};

/* Whether the fast mode changes any block's products (else its keys and
 * values are the exact ones). */
static bool fast_differs(const attrib_model *m) {
    for (int l = 0; l < m->info.n_layer; l++) {
        const attrib_layer *L = &m->layers[l];
        const attrib_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++)
            if (ws[i]->data && int_kernel_supported(ws[i]->type)) return true;
    }
    return false;
}

static attrib_status fill(attrib_model *m, const int32_t *ids, int n, attrib_compute mode, attrib_cache **out) {
    attrib_status s = attrib_cache_new(m, 1, n, out);
    if (s) return s;
    const attrib_compute was = attrib_model_get_compute(m);
    attrib_model_set_compute(m, mode);
    const attrib_batch b = {.n_seq = 1, .n_tokens = n, .tokens = ids, .store = 1, .logits_mode = ATTRIB_LOGITS_NONE};
    s = attrib_forward(m, &b, *out, NULL);
    attrib_model_set_compute(m, was);
    if (s) {
        attrib_cache_free(*out);
        *out = NULL;
    }
    return s;
}

attrib_status attrib_prefix_new(attrib_model *m, const int32_t *ids, int n, attrib_prefix **out) {
    if (!m || !ids || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_prefix_new: NULL argument");
    if (n < 1 || n >= m->info.n_ctx_train)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "a prefix of %d tokens is outside [1, %d) (the model's context, leaving room "
                           "for the input)", n, m->info.n_ctx_train);
    attrib_prefix *p = attrib_calloc_array(1, sizeof *p);
    if (!p) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    p->m = m;
    p->n = n;
    p->ids = attrib_calloc_array((size_t)n, sizeof(int32_t));
    if (!p->ids) {
        free(p);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    }
    memcpy(p->ids, ids, (size_t)n * sizeof(int32_t));
    attrib_status s = fill(m, ids, n, ATTRIB_COMPUTE_EXACT, &p->kv[ATTRIB_COMPUTE_EXACT]);
    if (!s && fast_differs(m)) s = fill(m, ids, n, ATTRIB_COMPUTE_FAST, &p->kv[ATTRIB_COMPUTE_FAST]);
    if (s) {
        attrib_prefix_free(p);
        return s;
    }
    *out = p;
    return ATTRIB_OK;
}

void attrib_prefix_free(attrib_prefix *p) {
    if (!p) return;
    attrib_cache_free(p->kv[0]);
    attrib_cache_free(p->kv[1]);
    free(p->ids);
    free(p);
}

int attrib_prefix_len(const attrib_prefix *p) { return p ? p->n : 0; }

int attrib_prefix_matches(const attrib_prefix *p, const int32_t *ids, int n) {
    if (!p || !ids || n <= p->n) return 0;
    return memcmp(ids, p->ids, (size_t)p->n * sizeof(int32_t)) == 0;
}

attrib_cache *prefix_cache(const attrib_prefix *p, const attrib_model *m, attrib_compute compute) {
    if (!p || p->m != m) return NULL;
    return compute == ATTRIB_COMPUTE_FAST && p->kv[ATTRIB_COMPUTE_FAST] ? p->kv[ATTRIB_COMPUTE_FAST] : p->kv[ATTRIB_COMPUTE_EXACT];
}

attrib_status prefix_check(const attrib_prefix *p, const attrib_model *m, const int32_t *ids, int n) {
    if (p->m != m) return attrib_fail(ATTRIB_E_INVALID_ARG, "the prefix cache was made for another model");
    if (n <= p->n)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "the input has %d tokens, not more than the %d of the prefix cache", n, p->n);
    for (int i = 0; i < p->n; i++)
        if (ids[i] != p->ids[i])
            return attrib_fail(ATTRIB_E_INVALID_ARG, "the input does not start with the prefix cache's %d tokens: position %d "
                               "is token %d, the prefix has %d", p->n, i, ids[i], p->ids[i]);
    return ATTRIB_OK;
}
