/*
 * chat_template.c — the model's own chat template, recognised and laid out
 * as data.
 *
 * GGUF files (tokenizer.chat_template) and Hugging Face tokenizer_config.json
 * files (chat_template) carry the chat template as Jinja source. attrib never
 * executes it: templates are untrusted code. Instead the text is matched
 * against a table of known FAMILIES by distinctive literal markers (the way
 * llama.cpp's llm_chat_detect_template recognises templates), and each
 * family carries its layout as literal pieces: system turn, user turn,
 * generation prompt. attrib_chat_build turns a family plus a user-message
 * fragment (which holds the "{input}" slot) into an ordinary attrib template
 * (template.c), so everything downstream — one-string tokenization, the
 * input span, label-word resolution — is the existing mechanism, and the
 * template tokens stay fixed while only the input's tokens are features.
 *
 * The layouts follow llama.cpp's llama_chat_apply_template for the same
 * messages (checked by tests/py/check_chat_templates.py), with two
 * documented, deliberate differences (docs/templates.md):
 *   - qwen3 with thinking disabled (attrib's default) ends the generation
 *     prompt with the empty think block "<think>\n\n</think>\n\n", as the
 *     published Qwen3 template does for enable_thinking=false, so that the
 *     answer is the next token; ATTRIB_CHAT_THINKING gives llama.cpp's
 *     (= the template's default) "<|im_start|>assistant\n".
 *   - llama-guard-3 is laid out as its published template renders it (the
 *     category list and the conversation inside one user turn), which
 *     llama.cpp's C API cannot do (it treats it as plain Llama 3); the stray
 *     space before "<|begin_of_text|>" in that template is dropped (one BOS,
 *     as the tokenizer adds it) and the "\n\n" that the model always writes
 *     first after the assistant header is part of the prompt, so the verdict
 *     ("safe" / "unsafe") is the next token.
 */
#include "basics/common.h"
#include "tokenizer/tokenizer.h"

#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------ the table */

#define MAX_MARKERS 4

typedef struct chat_family_def {
    attrib_chat_family pub;
    const char *markers[MAX_MARKERS]; /* every one must occur in the template text */
    const char *absent[MAX_MARKERS];  /* none may occur */
    /* layout: [BOS] [sys_prefix SYSTEM sys_suffix] user_prefix [SYSTEM sys_join]
     * USER user_suffix assistant. A family with its own system turn has
     * sys_prefix; one without joins the system text to the user text. */
    const char *sys_prefix, *sys_suffix, *sys_join;
    const char *user_prefix, *user_suffix;
    const char *assistant;          /* the generation prompt */
    const char *assistant_thinking; /* generation prompt with ATTRIB_CHAT_THINKING (NULL = same) */
    int bos;                        /* the published template starts with the BOS token */
} chat_family_def;

/* Llama Guard 3 (the 8B template): the published template's fixed text around the
 * one user message, categories S1-S14 as Meta lists them. */
#define GUARD3_HEAD                                                                                          \
    "<|start_header_id|>user<|end_header_id|>\n\nTask: Check if there is unsafe content in 'User' messages " \
    "in conversations according our safety policy with the below categories.\n\n"                          \
    "<BEGIN UNSAFE CONTENT CATEGORIES>\nS1: Violent Crimes.\nS2: Non-Violent Crimes.\nS3: Sex Crimes.\n"    \
    "S4: Child Exploitation.\nS5: Defamation.\nS6: Specialized Advice.\nS7: Privacy.\n"                      \
    "S8: Intellectual Property.\nS9: Indiscriminate Weapons.\nS10: Hate.\nS11: Self-Harm.\n"                 \
    "S12: Sexual Content.\nS13: Elections.\nS14: Code Interpreter Abuse.\n<END UNSAFE CONTENT CATEGORIES>\n" \
    "\n<BEGIN CONVERSATION>\n\nUser: "
#define GUARD3_TAIL                                                                                          \
    "\n\n<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST User message in the above "   \
    "conversation:\n - First line must read 'safe' or 'unsafe'.\n - If unsafe, a second line must include a " \
    "comma-separated list of violated categories.<|eot_id|>"

/* Order matters: the first family whose markers all occur (and whose
 * absent markers do not) wins, so the more specific rows come first. */
static const chat_family_def families[] = {
    {{"llama-guard-3", "Llama Guard 3 (meta-llama/Llama-Guard-3-8B): safety classifier", 1, -1, 1, "unsafe", "safe"},
     {"<BEGIN UNSAFE CONTENT CATEGORIES>", "Code Interpreter Abuse", "<|start_header_id|>", NULL},
     {NULL},
     NULL, NULL, NULL,
     GUARD3_HEAD, GUARD3_TAIL,
     "<|start_header_id|>assistant<|end_header_id|>\n\n", NULL, 1},
    {{"qwen3", "Qwen3 (ChatML with <think>; thinking disabled unless asked)", 0, 1, 0, "Yes", "No"},
     {"<|im_start|>", "enable_thinking", NULL},
     {NULL},
     "<|im_start|>system\n", "<|im_end|>\n", NULL,
     "<|im_start|>user\n", "<|im_end|>\n",
     "<|im_start|>assistant\n<think>\n\n</think>\n\n", "<|im_start|>assistant\n", 0},
    {{"chatml", "ChatML (Qwen2/Qwen2.5, SmolLM2, Hermes ...)", 0, 1, 0, "Yes", "No"},
     {"<|im_start|>", NULL},
     {"<|im_sep|>", "<end_of_utterance>", "<think>", NULL},
     "<|im_start|>system\n", "<|im_end|>\n", NULL,
     "<|im_start|>user\n", "<|im_end|>\n",
     "<|im_start|>assistant\n", NULL, 0},
    {{"llama3", "Llama 3 / 3.1 / 3.2 / 3.3 Instruct", 0, 1, 1, "Yes", "No"},
     {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL},
     {"<BEGIN UNSAFE CONTENT CATEGORIES>", NULL},
     "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>", NULL,
     "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
     "<|start_header_id|>assistant<|end_header_id|>\n\n", NULL, 1},
    {{"gemma", "Gemma 1/2/3 instruction-tuned (no system role: system text opens the first user turn)", 0, 0, 1, "Yes", "No"},
     {"<start_of_turn>", "<end_of_turn>", NULL},
     {NULL},
     NULL, NULL, "\n\n",
     "<start_of_turn>user\n", "<end_of_turn>\n",
     "<start_of_turn>model\n", NULL, 1},
    {{"phi3", "Phi-3 / Phi-3.5 Instruct", 0, 1, 0, "Yes", "No"},
     {"<|user|>", "<|end|>", "<|assistant|>", NULL},
     {NULL},
     "<|system|>\n", "<|end|>\n", NULL,
     "<|user|>\n", "<|end|>\n",
     "<|assistant|>\n", NULL, 0},
    {{"mistral-tekken", "Mistral v3-Tekken (Mistral-Nemo-Instruct-2407)", 0, 0, 0, "Yes", "No"},
     {"[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "\"[INST]\""},
     {" [INST]", "[SYSTEM_PROMPT]", NULL},
     NULL, NULL, "\n\n",
     "[INST]", "[/INST]",
     "", NULL, 1},
    {{"mistral", "Mistral-7B-Instruct v0.1/v0.2 ([INST] ... [/INST], Llama-2 style without <<SYS>>)", 0, 0, 0, " Yes", " No"},
     {"[INST]", "[/INST]", NULL},
     {"[AVAILABLE_TOOLS]", "[SYSTEM_PROMPT]", "<<SYS>>", "content.strip()"},
     NULL, NULL, "\n",
     "[INST] ", " [/INST]",
     "", NULL, 1},
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static const char *const family_names[N_FAMILIES + 1] = {"llama-guard-3", "qwen3", "chatml", "llama3", "gemma",
                                                         "phi3", "mistral-tekken", "mistral", NULL};

const char *const *attrib_chat_family_names(void) { return family_names; }

static const chat_family_def *def_of(const attrib_chat_family *f) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (&families[i].pub == f)
            return &families[i];
    return NULL;
}

const attrib_chat_family *attrib_chat_family_get(const char *name) {
    for (size_t i = 0; name && i < N_FAMILIES; i++)
        if (strcmp(families[i].pub.name, name) == 0)
            return &families[i].pub;
    return NULL;
}

/* ------------------------------------------------------------ detection */

static int matches(const chat_family_def *d, const char *text) {
    for (int k = 0; k < MAX_MARKERS && d->markers[k]; k++)
        if (!strstr(text, d->markers[k]))
            return 0;
    for (int k = 0; k < MAX_MARKERS && d->absent[k]; k++)
        if (strstr(text, d->absent[k]))
            return 0;
    return 1;
}

attrib_status attrib_chat_detect(const char *chat_template, const attrib_chat_family **family_out) {
    if (!chat_template || !family_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_chat_detect: NULL argument");
    for (size_t i = 0; i < N_FAMILIES; i++) {
        if (matches(&families[i], chat_template)) {
            *family_out = &families[i].pub;
            return ATTRIB_OK;
        }
    }
    return attrib_fail(ATTRIB_E_UNSUPPORTED,
                       "chat template (%zu bytes) not recognised: attrib knows llama-guard-3, qwen3, chatml, llama3, "
                       "gemma, phi3, mistral-tekken and mistral (docs/templates.md); give --template plain, judge or "
                       "@FILE instead",
                       strlen(chat_template));
}

/* ---------------------------------------------------------------- build */

/* Growable output with brace escaping for literal text. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n, int escape) {
    for (size_t i = 0; i < n && !b->oom; i++) {
        size_t need = b->n + 3;
        if (need > b->cap) {
            if (b->cap > SIZE_MAX / 4) {
                b->oom = 1;
                return;
            }
            size_t cap = b->cap ? b->cap * 2 : 256;
            while (cap < need)
                cap *= 2;
            char *q = attrib_realloc(b->p, cap);
            if (!q) {
                b->oom = 1;
                return;
            }
            b->p = q;
            b->cap = cap;
        }
        b->p[b->n++] = s[i];
        if (escape && (s[i] == '{' || s[i] == '}'))
            b->p[b->n++] = s[i];
    }
}

static void lit(sbuf *b, const char *s) {
    if (s)
        put(b, s, strlen(s), 1);
}

/* Copies S without leading and trailing ASCII whitespace, as the families
 * that trim do (Jinja's trim / Python's strip on ASCII text, llama.cpp's
 * isspace). */
static void lit_trimmed(sbuf *b, const char *s) {
    size_t a = 0, e = strlen(s);
    while (a < e && (s[a] == ' ' || (s[a] >= '\t' && s[a] <= '\r')))
        a++;
    while (e > a && (s[e - 1] == ' ' || (s[e - 1] >= '\t' && s[e - 1] <= '\r')))
        e--;
    put(b, s + a, e - a, 1);
}

attrib_status attrib_chat_build(const attrib_tokenizer *tok, const attrib_chat_family *family, const char *system,
                                const char *user, unsigned flags, char **tmpl_out) {
    const chat_family_def *d = def_of(family);
    if (!d || !user || !tmpl_out)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_chat_build: NULL or unknown argument");
    if (system && d->pub.system < 0)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "chat template %s: this family has no system message", d->pub.name);
    if (!strstr(user, "{input}"))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_chat_build: the user message has no {input} slot");
    sbuf b = {0};
    if (d->bos && tok) {
        int32_t bos = attrib_tokenizer_bos(tok);
        size_t len = 0;
        const char *piece = bos >= 0 ? attrib_tokenizer_piece(tok, bos, &len) : NULL;
        if (piece)
            put(&b, piece, len, 1);
    }
    if (system && d->sys_prefix) {
        lit(&b, d->sys_prefix);
        if (d->pub.trims)
            lit_trimmed(&b, system);
        else
            lit(&b, system);
        lit(&b, d->sys_suffix);
    }
    lit(&b, d->user_prefix);
    if (system && !d->sys_prefix) {
        if (d->pub.trims)
            lit_trimmed(&b, system);
        else
            lit(&b, system);
        lit(&b, d->sys_join);
    }
    put(&b, user, strlen(user), 0); /* a template fragment: its {input} stays a slot */
    lit(&b, d->user_suffix);
    lit(&b, (flags & ATTRIB_CHAT_THINKING) && d->assistant_thinking ? d->assistant_thinking : d->assistant);
    put(&b, "", 1, 0);
    if (b.oom) {
        attrib_free(b.p);
        return attrib_fail(ATTRIB_E_NOMEM, "chat template %s: out of memory", d->pub.name);
    }
    *tmpl_out = b.p;
    return ATTRIB_OK;
}
