/*
 * words.c — target and label words as a user writes them, resolved to the
 * one token the model would produce for them.
 *
 * A user writes the word the model should say as it appears in text: " Lily"
 * or " Yes", with its leading space. Tokenized alone, such a word is rarely
 * one token: SentencePiece adds its dummy-prefix space ("▁▁Lily"), and some
 * BPE vocabularies keep the space with the previous word ("named▁" "Lily").
 * So a word is looked up where it would occur: after a neutral word (or after
 * the rendered template, for a judge's label words), and the token that
 * covers the word's visible bytes, and nothing but them, is its token; the
 * space may go with the previous token, but a space token of its own makes
 * the word two tokens. The
 * same rule serves --token, --token2, --label-words and `tokenize
 * --single-token` on every tokenizer family. When no such token exists, the
 * message says what the word becomes, and suggest_words lists words that do
 * work.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Appends piece ' ... ' of ID to WHY (bounded). */
static void add_piece(const attrib_tokenizer *tok, int32_t id, char *why, size_t cap) {
    size_t len = 0, at = strlen(why);
    const char *p = attrib_tokenizer_piece(tok, id, &len);
    if (at + 4 >= cap) return;
    snprintf(why + at, cap - at, "%s'%.*s'", at ? " " : "", (int)(len < 40 ? len : 40), p ? p : "?");
}

/* The one token covering WORD's visible bytes when WORD follows CTX
 * (CTX_LEN bytes): 0 and *id, or 1 with the covering pieces in WHY. */
static int in_context(const attrib_tokenizer *tok, const char *ctx, size_t ctx_len, unsigned flags, const char *word,
                      int32_t *id, char *why, size_t cap) {
    size_t wl = strlen(word), total = ctx_len + wl;
    char *buf = malloc(total + 1);
    if (!buf) return 1;
    memcpy(buf, ctx, ctx_len);
    memcpy(buf + ctx_len, word, wl + 1);
    attrib_token *t = NULL;
    size_t n = 0;
    int rc = 1;
    if (attrib_tokenize(tok, buf, total, flags, &t, &n) == ATTRIB_OK) {
        size_t vis = ctx_len; /* first visible byte of the word */
        while (vis < total && is_ws(buf[vis])) vis++;
        size_t count = 0;
        int32_t found = -1;
        why[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            if (t[i].end == t[i].begin || t[i].begin >= total) continue;
            if (t[i].begin >= ctx_len && t[i].end <= vis) { /* the word's space is a token of its own: two tokens */
                count++;
                add_piece(tok, t[i].id, why, cap);
                continue;
            }
            if (t[i].end <= vis) continue; /* the context's last token, which may take the space ("named▁") */
            count++;
            add_piece(tok, t[i].id, why, cap);
            if (t[i].begin >= ctx_len && t[i].begin <= vis && t[i].end == total) found = t[i].id;
        }
        if (count == 1 && found >= 0) {
            *id = found;
            rc = 0;
        }
    }
    attrib_free(t);
    free(buf);
    return rc;
}

int cli_word_token(const attrib_tokenizer *tok, const char *tmpl, const char *word, int32_t *id, char *why, size_t cap) {
    why[0] = '\0';
    if (!word[0] || is_ws(word[strlen(word) - 1])) {
        snprintf(why, cap, "it is empty or ends with white space");
        return 1;
    }
    if (tmpl) { /* after the template: exactly as the library's judge does, else by the visible bytes */
        int32_t v;
        if (attrib_template_label_token(tok, tmpl, word, &v) == ATTRIB_OK) {
            *id = v;
            return 0;
        }
        attrib_prompt *p = NULL;
        if (attrib_template_apply(tok, tmpl, "x", 1, &p)) return 1;
        int rc = in_context(tok, p->rendered, p->rendered_len, ATTRIB_TOK_PARSE_SPECIAL, word, id, why, cap);
        attrib_prompt_free(p);
        return rc;
    }
    attrib_token *t = NULL;
    size_t n = 0;
    if (attrib_tokenize(tok, word, strlen(word), 0, &t, &n) == ATTRIB_OK && n == 1) {
        *id = t[0].id;
        attrib_free(t);
        return 0;
    }
    if (t && !is_ws(word[0])) {
        for (size_t i = 0; i < n; i++) add_piece(tok, t[i].id, why, cap);
        attrib_free(t);
        return 1;
    }
    attrib_free(t);
    return in_context(tok, "a", 1, 0, word, id, why, cap);
}

int cli_word_error(const attrib_tokenizer *tok, const char *tmpl, const char *tmpl_name, const char *opt, const char *word,
                   int32_t *id) {
    char why[512];
    if (!cli_word_token(tok, tmpl, word, id, why, sizeof why)) return 0;
    fprintf(stderr, "attrib: error: %s \"%s\" is not one token of this model%s: it becomes %s\n", opt, word,
            tmpl ? " after the template" : "", why[0] ? why : "no token");
    /* the option's id form: --token-id, --token2-id, --contrast-token-id */
    const bool has_id_form = !strncmp(opt, "--", 2) && !strstr(opt, "label");
    fprintf(stderr, "  check words with: attrib tokenize MODEL --single-token%s%s \"%s\" ...%s%s%s\n", tmpl ? " --template " : "",
            tmpl ? (tmpl_name ? tmpl_name : "T") : "", word, has_id_form ? "  (or give the id with " : "", has_id_form ? opt : "",
            has_id_form ? "-id)" : "");
    return 1;
}

/* Words a judge might answer with, tried in pairs (positive, negative). */
static const char *const PAIRS[][2] = {
    {" Yes", " No"},   {" yes", " no"},       {"Yes", "No"},          {" YES", " NO"},      {" True", " False"},
    {" true", " false"}, {" Y", " N"},        {" A", " B"},           {" bad", " good"},    {" unsafe", " safe"},
    {" harmful", " harmless"}, {" 1", " 0"},  {" sad", " happy"},     {" no", " yes"},
};

int cli_suggest_words(FILE *f, const attrib_tokenizer *tok, const char *tmpl) {
    char why[256];
    int32_t a, b;
    int shown = 0;
    for (size_t i = 0; i < sizeof PAIRS / sizeof *PAIRS; i++)
        if (!cli_word_token(tok, tmpl, PAIRS[i][0], &a, why, sizeof why) &&
            !cli_word_token(tok, tmpl, PAIRS[i][1], &b, why, sizeof why) && a != b) {
            fprintf(f, "%s--label-words \"%s\" \"%s\"", shown ? ", " : "  one token each here: ", PAIRS[i][0], PAIRS[i][1]);
            shown++;
        }
    if (shown) {
        fputc('\n', f);
        return shown;
    }
    /* no pair: words of the vocabulary (a space marker then letters) that resolve to themselves */
    const int nv = attrib_tokenizer_n_vocab(tok);
    for (int32_t v = 0; v < nv && shown < 12; v++) {
        size_t len = 0;
        const char *p = attrib_tokenizer_piece(tok, v, &len);
        size_t skip = len >= 3 && !memcmp(p, "\xE2\x96\x81", 3) ? 3 : len >= 2 && !memcmp(p, "\xC4\xA0", 2) ? 2 : 0;
        if (!p || len - skip < 2 || len - skip > 20) continue;
        char w[32] = " ";
        bool letters = true;
        for (size_t k = skip; k < len; k++) letters = letters && ((p[k] | 32) >= 'a' && (p[k] | 32) <= 'z');
        if (!letters) continue;
        memcpy(w + 1, p + skip, len - skip);
        w[1 + len - skip] = '\0';
        int32_t got;
        if (cli_word_token(tok, tmpl, w, &got, why, sizeof why) || got != v) continue;
        fprintf(f, "%s\"%s\"", shown ? " " : "  one-token words here (none of the usual answer pairs is): ", w);
        shown++;
    }
    if (shown) fputc('\n', f);
    else fputs("  no word of the usual answer pairs, and no letters-only word of the vocabulary, is one token here\n", f);
    return shown;
}
