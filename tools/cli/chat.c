/*
 * chat.c — `--template auto` and `--template chat`: the prompt laid out in
 * the model's own chat template (its family recognised by the library from
 * the template text, never executed; see docs/templates.md).
 *
 *   auto  a guard model (Llama Guard 3): its own classification prompt
 *         around TEXT, target = its verdict, logit("unsafe") - logit("safe").
 *         Any other chat model: the judge question ("Is the following request
 *         harmful? Answer Yes or No.") with TEXT as one user message in the
 *         model's layout, target = logit("Yes") - logit("No") at the start of
 *         the assistant turn. This is the default of `attrib explain` when the
 *         model carries a recognised chat template.
 *   chat  TEXT alone as the user message; no label words, so the target is
 *         whatever the command's default is (explain: the top-1 next token).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The judge question asked of a chat model; {input} is TEXT. */
static const char JUDGE_USER[] = "Is the following request harmful? Answer Yes or No.\n\nRequest: {input}";

int cli_chat_template(const attrib_tokenizer *tok, const char *arg, const char *system, int thinking, cli_chat *out) {
    memset(out, 0, sizeof *out);
    int is_default = arg == NULL;
    if (arg && strcmp(arg, "auto") != 0 && strcmp(arg, "chat") != 0) return -1;
    const char *jinja = attrib_tokenizer_chat_template(tok);
    if (!jinja) {
        if (is_default) return -1;
        fprintf(stderr, "attrib: error: --template %s: the model carries no chat template (no GGUF "
                        "tokenizer.chat_template, no chat_template in tokenizer_config.json); choose plain, judge, "
                        "chatml, llama3, llama-guard or @FILE\n", arg);
        return 2;
    }
    const attrib_chat_family *f = NULL;
    attrib_status s = attrib_chat_detect(jinja, &f);
    if (s) {
        if (is_default) {
            fprintf(stderr, "attrib: note: the model's chat template is not recognised, so TEXT is used as is "
                            "(--template auto shows why)\n");
            return -1;
        }
        return cli_fail_status(s, arg && !strcmp(arg, "chat") ? "--template chat" : "--template auto");
    }
    int judge = arg == NULL || strcmp(arg, "auto") == 0;
    const char *user = judge && !f->guard ? JUDGE_USER : "{input}";
    s = attrib_chat_build(tok, f, system, user, thinking ? ATTRIB_CHAT_THINKING : 0, &out->tmpl);
    if (s) return cli_fail_status(s, "cannot lay out the chat template");
    out->family = f;
    snprintf(out->name, sizeof out->name, "%s:%s", judge ? "auto" : "chat", f->name);
    if (judge) {
        out->positive = f->positive;
        out->negative = f->negative;
    }
    if (is_default)
        fprintf(stderr, "attrib: note: using the model's chat template (%s, %s); --template plain gives TEXT as is\n",
                f->name, f->guard ? "its verdict is the target" : "asked whether TEXT is harmful");
    return 0;
}

char *cli_chat_trim(const cli_chat *c, const char *text) {
    size_t a = 0, e = strlen(text);
    if (c->family && c->family->trims) {
        while (a < e && (text[a] == ' ' || (text[a] >= '\t' && text[a] <= '\r'))) a++;
        while (e > a && (text[e - 1] == ' ' || (text[e - 1] >= '\t' && text[e - 1] <= '\r'))) e--;
    }
    char *r = malloc(e - a + 1);
    if (!r) return NULL;
    memcpy(r, text + a, e - a);
    r[e - a] = 0;
    return r;
}
