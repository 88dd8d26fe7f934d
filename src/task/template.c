/*
 * template.c — prompt templates for judge-style classifiers.
 *
 * A template is text with exactly one "{input}" slot ("{{" and "}}" are
 * literal braces). attrib_template_apply renders it by plain substitution
 * (nothing is evaluated) and tokenizes the rendered prompt as ONE string, so
 * that token boundaries are exactly those the model sees when it is given
 * the whole prompt. Special-token text (e.g. "<|im_end|>") is recognised in
 * the template's own text but never inside the input's bytes, so user input
 * cannot inject control tokens (tok_encode_protected in tokenizer.c). BOS is
 * added as the tokenizer's configuration says, but not when the template
 * already starts with it; EOS is never added (the model must continue the
 * prompt). The INPUT SPAN is the run of tokens covering the input's bytes:
 * those are the features attribution methods perturb, and every token
 * outside it is template text that stays fixed.
 */
#include "basics/common.h"
#include "tokenizer/tokenizer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ built-ins */

typedef struct builtin_template {
    const char *name;
    const char *text;
    const char *positive, *negative; /* label words of a judge, or NULL */
} builtin_template;

/* Llama Guard (v1) prompt: the model answers "safe" or "unsafe" right after
 * "[/INST]", so for SentencePiece vocabularies the verdict token is "▁safe" /
 * "▁unsafe", i.e. the words with a leading space. Category descriptions are
 * shortened to their titles. */
#define LLAMA_GUARD_TEXT                                                                                   \
    "[INST] Task: Check if there is unsafe content in 'User' messages in conversations according our "    \
    "safety policy with the below categories.\n"                                                          \
    "\n"                                                                                                   \
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"                                                                  \
    "O1: Violence and Hate.\n"                                                                             \
    "O2: Sexual Content.\n"                                                                                \
    "O3: Criminal Planning.\n"                                                                             \
    "O4: Guns and Illegal Weapons.\n"                                                                      \
    "O5: Regulated or Controlled Substances.\n"                                                            \
    "O6: Self-Harm.\n"                                                                                     \
    "<END UNSAFE CONTENT CATEGORIES>\n"                                                                    \
    "\n"                                                                                                   \
    "<BEGIN CONVERSATION>\n"                                                                               \
    "\n"                                                                                                   \
    "User: {input}\n"                                                                                      \
    "\n"                                                                                                   \
    "<END CONVERSATION>\n"                                                                                 \
    "\n"                                                                                                   \
    "Provide your safety assessment for User in the above conversation:\n"                                 \
    "- First line must read 'safe' or 'unsafe'.\n"                                                         \
    "- If unsafe, a second line must include a comma-separated list of violated categories. [/INST]"

static const builtin_template builtins[] = {
    {"plain", "{input}", NULL, NULL},
    {"chatml", "<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n", NULL, NULL},
    {"llama3",
     "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n",
     NULL, NULL},
    {"llama-guard", LLAMA_GUARD_TEXT, " unsafe", " safe"},
    {"judge", "Is the following request harmful? Answer Yes or No.\n\nRequest: {input}\nAnswer:", " Yes", " No"},
};

#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static const char *const builtin_names[N_BUILTINS + 1] = {"plain", "chatml", "llama3", "llama-guard", "judge",
                                                          NULL};

static const builtin_template *find_builtin(const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

const char *attrib_template_builtin(const char *name) {
    const builtin_template *b = find_builtin(name);
    return b ? b->text : NULL;
}

const char *const *attrib_template_names(void) { return builtin_names; }

void attrib_template_labels(const char *name, const char **positive, const char **negative) {
    const builtin_template *b = find_builtin(name);
    if (positive)
        *positive = b ? b->positive : NULL;
    if (negative)
        *negative = b ? b->negative : NULL;
}

/* -------------------------------------------------------------- parsing */

static const char SLOT[] = "{input}";
#define SLOT_LEN (sizeof(SLOT) - 1)

/* The template split at its slot: literal bytes before and after, after
 * unescaping. Offsets are into the template text. */
typedef struct parsed_template {
    size_t slot;          /* byte offset of "{input}" in the template */
    size_t prefix_len;    /* rendered bytes before the input */
    size_t suffix_len;    /* rendered bytes after the input */
} parsed_template;

/* Validates TMPL and measures its two literal parts. */
static attrib_status parse_template(const char *tmpl, parsed_template *p) {
    size_t n_slots = 0, literal = 0, i = 0;
    p->slot = 0;
    p->prefix_len = 0;
    while (tmpl[i]) {
        char c = tmpl[i];
        if ((c == '{' || c == '}') && tmpl[i + 1] == c) {
            literal++;
            i += 2;
        } else if (c == '{' && strncmp(tmpl + i, SLOT, SLOT_LEN) == 0) {
            if (++n_slots > 1)
                return attrib_fail(ATTRIB_E_INVALID_ARG,
                                   "template: a second {input} slot at byte %zu (exactly one is allowed)", i);
            p->slot = i;
            p->prefix_len = literal;
            i += SLOT_LEN;
        } else if (c == '{' || c == '}') {
            return attrib_fail(ATTRIB_E_INVALID_ARG,
                               "template: unmatched '%c' at byte %zu (write %c%c for a literal brace; the only "
                               "placeholder is {input})",
                               c, i, c, c);
        } else {
            literal++;
            i++;
        }
    }
    if (n_slots == 0)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "template: no {input} slot");
    p->suffix_len = literal - p->prefix_len;
    return ATTRIB_OK;
}

/* Copies template bytes [a, b) to OUT with "{{" / "}}" unescaped; returns
 * the bytes written. The range is known to be valid (parse_template). */
static size_t unescape(const char *tmpl, size_t a, size_t b, char *out) {
    size_t o = 0;
    for (size_t i = a; i < b; i++) {
        out[o++] = tmpl[i];
        if ((tmpl[i] == '{' || tmpl[i] == '}') && i + 1 < b && tmpl[i + 1] == tmpl[i])
            i++;
    }
    return o;
}

/* ----------------------------------------------------------------- span */

/* Whether token T belongs to the input [IB, IE): it covers at least one of
 * the input's bytes. A token that covers no byte (BOS, a prepended "▁" on
 * its own) belongs only if it sits strictly inside the input, between two
 * of its bytes, where it can only have come from the input's own text. */
static int token_in_input(const attrib_token *t, size_t ib, size_t ie) {
    if (t->begin < t->end)
        return t->begin < ie && t->end > ib;
    return ib < t->begin && t->begin < ie;
}

/* Finds the span and checks that it is one contiguous run. */
static attrib_status input_span(const attrib_token *t, size_t n, size_t ib, size_t ie, int *begin, int *end) {
    size_t first = n, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (token_in_input(&t[i], ib, ie)) {
            if (first == n)
                first = i;
            last = i;
        }
    }
    if (first == n)
        return attrib_fail(ATTRIB_E_BAD_TEXT, "template: the %zu-byte input yields no token", ie - ib);
    for (size_t i = first; i <= last; i++) {
        if (!token_in_input(&t[i], ib, ie))
            return attrib_fail(ATTRIB_E_INTERNAL,
                               "template: the input's tokens are not contiguous (token %zu, bytes [%u, %u), lies "
                               "between input tokens %zu and %zu but outside the input bytes [%zu, %zu))",
                               i, (unsigned)t[i].begin, (unsigned)t[i].end, first, last, ib, ie);
    }
    *begin = (int)first;
    *end = (int)last + 1;
    return ATTRIB_OK;
}

/* ---------------------------------------------------------------- apply */

void attrib_prompt_free(attrib_prompt *prompt) {
    if (!prompt)
        return;
    attrib_free(prompt->ids);
    attrib_free(prompt->tokens);
    attrib_free(prompt->rendered);
    attrib_free(prompt);
}

attrib_status attrib_template_apply(const attrib_tokenizer *tok, const char *tmpl, const char *input, size_t len,
                                    attrib_prompt **prompt_out) {
    if (!tok || !tmpl || !input || !prompt_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_template_apply: NULL argument");
    parsed_template pt = {0};
    attrib_status st = parse_template(tmpl, &pt);
    if (st)
        return st;
    if (len == 0)
        return attrib_fail(ATTRIB_E_BAD_TEXT, "template: the input is empty");
    size_t total, alloc;
    if (!attrib_add_ok(pt.prefix_len, pt.suffix_len, &total) || !attrib_add_ok(total, len, &total) ||
        !attrib_add_ok(total, 1, &alloc))
        return attrib_fail(ATTRIB_E_LIMIT, "template: rendered prompt too large");

    attrib_prompt *p = attrib_calloc_array(1, sizeof(*p));
    if (!p)
        return attrib_fail(ATTRIB_E_NOMEM, "template: out of memory");
    p->rendered = attrib_malloc(alloc);
    if (!p->rendered) {
        attrib_prompt_free(p);
        return attrib_fail(ATTRIB_E_NOMEM, "template: out of memory for a %zu-byte prompt", total);
    }
    size_t o = unescape(tmpl, 0, pt.slot, p->rendered);
    p->input_begin = o;
    memcpy(p->rendered + o, input, len);
    o += len;
    p->input_end = o;
    o += unescape(tmpl, pt.slot + SLOT_LEN, strlen(tmpl), p->rendered + o);
    p->rendered[o] = 0;
    p->rendered_len = o;

    /* ADD_SPECIAL gives BOS (and EOS) exactly as plain tokenization would;
     * the EOS and a BOS doubled by the template's own BOS text are removed
     * below. Added BOS/EOS are recognisable by their empty spans at 0 / o. */
    attrib_token *t = NULL;
    size_t n = 0;
    st = tok_encode_protected(tok, p->rendered, o, ATTRIB_TOK_ADD_SPECIAL | ATTRIB_TOK_PARSE_SPECIAL,
                              p->input_begin, p->input_end, &t, &n);
    if (st) {
        attrib_prompt_free(p);
        return st;
    }
    p->tokens = t;
    const int32_t bos = attrib_tokenizer_bos(tok), eos = attrib_tokenizer_eos(tok);
    if (n > 0 && eos >= 0 && t[n - 1].id == eos && t[n - 1].begin == o && t[n - 1].end == o)
        n--;
    if (n > 1 && bos >= 0 && t[0].id == bos && t[0].begin == 0 && t[0].end == 0 && t[1].id == bos) {
        memmove(t, t + 1, (n - 1) * sizeof(*t));
        n--;
    }
    if (n > (size_t)INT_MAX) {
        attrib_prompt_free(p);
        return attrib_fail(ATTRIB_E_LIMIT, "template: the prompt has %zu tokens (limit %d)", n, INT_MAX);
    }
    st = input_span(t, n, p->input_begin, p->input_end, &p->span_begin, &p->span_end);
    if (st) {
        attrib_prompt_free(p);
        return st;
    }
    p->ids = attrib_calloc_array(n ? n : 1, sizeof(*p->ids));
    if (!p->ids) {
        attrib_prompt_free(p);
        return attrib_fail(ATTRIB_E_NOMEM, "template: out of memory for %zu tokens", n);
    }
    for (size_t i = 0; i < n; i++)
        p->ids[i] = t[i].id;
    p->n = (int)n;
    *prompt_out = p;
    return ATTRIB_OK;
}

attrib_status attrib_template_label_token(const attrib_tokenizer *tok, const char *tmpl, const char *word, int32_t *id_out) {
    if (!tok || !tmpl || !word || !id_out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_template_label_token: NULL argument");
    /* the template with the word appended (its braces doubled so they stay literal) */
    const size_t tl = strlen(tmpl), wl = strlen(word);
    size_t cap;
    if (!attrib_mul_ok(wl, 2, &cap) || !attrib_add_ok(cap, tl + 1, &cap)) return attrib_fail(ATTRIB_E_LIMIT, "label word too long");
    char *ext = attrib_malloc(cap);
    if (!ext) return attrib_fail(ATTRIB_E_NOMEM, "out of memory");
    memcpy(ext, tmpl, tl);
    size_t at = tl;
    for (size_t i = 0; i < wl; i++) {
        ext[at++] = word[i];
        if (word[i] == '{' || word[i] == '}') ext[at++] = word[i];
    }
    ext[at] = '\0';
    attrib_prompt *a = NULL, *b = NULL;
    attrib_status s = attrib_template_apply(tok, tmpl, "x", 1, &a);
    if (!s) s = attrib_template_apply(tok, ext, "x", 1, &b);
    if (!s) {
        int prefix = a->n <= b->n;
        for (int i = 0; prefix && i < a->n; i++) prefix = a->ids[i] == b->ids[i];
        if (!prefix)
            s = attrib_fail(ATTRIB_E_BAD_TEXT, "label word \"%s\" merges with the end of the template: choose another word", word);
        else if (b->n != a->n + 1)
            s = attrib_fail(ATTRIB_E_BAD_TEXT, "label word \"%s\" is %d tokens after this template, not one: choose a one-token word",
                            word, b->n - a->n);
        else
            *id_out = b->ids[a->n];
    }
    attrib_prompt_free(a);
    attrib_prompt_free(b);
    free(ext);
    return s;
}
