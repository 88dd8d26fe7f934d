/*
 * chat_dump — recognises a chat template's family and prints the prompts
 * attrib builds from it, as JSON. Used by tests/py/check_chat_templates.py to
 * compare attrib's layouts with llama.cpp's llama_chat_apply_template (and
 * with the published Jinja templates rendered by jinja2) without a model.
 * Uses only the public API (include/attrib.h).
 *
 *   chat_dump REQUEST.json
 *
 * REQUEST:
 *   "template_file": PATH      the Jinja chat template (read as bytes), or
 *   "template":      "..."     the template text itself
 *   "family":        "name"    skip recognition, use this family
 *   "system":        "..."     optional system message
 *   "thinking":      bool      ATTRIB_CHAT_THINKING
 *   "user":          "..."     the user-message fragment (default "{input}")
 *   "texts":         [..]      inputs put into the slot
 *   "tokenizer":     PATH      optional: also tokenize each prompt with
 *                              attrib_template_apply (ids and input span)
 * Output: {"family": name | null, "error": message | null, "trims": bool,
 *          "template": the built attrib template,
 *          "rendered": [prompt text per input, BOS written only if the
 *                       family writes it and a tokenizer was given],
 *          "ids": [[..]..], "span": [[begin, end]..]  (with "tokenizer")}
 * Inputs are trimmed first when the family trims (as the CLI does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attrib.h"

static void die(const char *what) {
    fprintf(stderr, "chat_dump: %s\n", what);
    exit(1);
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open the template file");
    char *buf = malloc((1 << 20) + 1);
    if (!buf) die("out of memory");
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* TMPL with "{{"/"}}" unescaped and "{input}" replaced by TEXT. */
static char *render(const char *tmpl, const char *text) {
    size_t cap = strlen(tmpl) + strlen(text) + 1, o = 0;
    char *out = malloc(cap);
    if (!out) die("out of memory");
    for (size_t i = 0; tmpl[i];) {
        if ((tmpl[i] == '{' || tmpl[i] == '}') && tmpl[i + 1] == tmpl[i]) {
            out[o++] = tmpl[i];
            i += 2;
        } else if (strncmp(tmpl + i, "{input}", 7) == 0) {
            memcpy(out + o, text, strlen(text));
            o += strlen(text);
            i += 7;
        } else {
            out[o++] = tmpl[i++];
        }
    }
    out[o] = 0;
    return out;
}

static char *trimmed(const char *s, int trim) {
    size_t a = 0, e = strlen(s);
    while (trim && a < e && (s[a] == ' ' || (s[a] >= '\t' && s[a] <= '\r'))) a++;
    while (trim && e > a && (s[e - 1] == ' ' || (s[e - 1] >= '\t' && s[e - 1] <= '\r'))) e--;
    char *r = malloc(e - a + 1);
    if (!r) die("out of memory");
    memcpy(r, s + a, e - a);
    r[e - a] = 0;
    return r;
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: chat_dump REQUEST.json");
    json_error_t err;
    json_t *req = json_load_file(argv[1], 0, &err);
    if (!req) die("cannot read the request");
    const char *tf = json_string_value(json_object_get(req, "template_file"));
    const char *tt = json_string_value(json_object_get(req, "template"));
    const char *fam = json_string_value(json_object_get(req, "family"));
    const char *system = json_string_value(json_object_get(req, "system"));
    const char *user = json_string_value(json_object_get(req, "user"));
    const char *tokp = json_string_value(json_object_get(req, "tokenizer"));
    int thinking = json_is_true(json_object_get(req, "thinking"));
    json_t *texts = json_object_get(req, "texts");
    char *jinja = tf ? read_all(tf) : tt ? strdup(tt) : NULL;
    json_t *out = json_object();

    const attrib_chat_family *f = NULL;
    if (fam) {
        f = attrib_chat_family_get(fam);
        if (!f) die("unknown family");
    } else {
        if (!jinja) die("give template_file, template or family");
        if (attrib_chat_detect(jinja, &f)) {
            json_object_set_new(out, "family", json_null());
            json_object_set_new(out, "error", json_string(attrib_last_error()));
            char *s = json_dumps(out, JSON_ENSURE_ASCII);
            puts(s);
            return 0;
        }
    }
    attrib_tokenizer *tok = NULL;
    if (tokp && attrib_tokenizer_load(tokp, &tok)) die(attrib_last_error());
    char *tmpl = NULL;
    if (attrib_chat_build(tok, f, system, user ? user : "{input}", thinking ? ATTRIB_CHAT_THINKING : 0, &tmpl)) {
        json_object_set_new(out, "family", json_string(f->name));
        json_object_set_new(out, "error", json_string(attrib_last_error()));
        char *s = json_dumps(out, JSON_ENSURE_ASCII);
        puts(s);
        return 0;
    }
    json_object_set_new(out, "family", json_string(f->name));
    json_object_set_new(out, "error", json_null());
    json_object_set_new(out, "trims", json_boolean(f->trims));
    json_object_set_new(out, "template", json_string(tmpl));
    json_t *rendered = json_array(), *ids = json_array(), *spans = json_array();
    for (size_t i = 0; i < json_array_size(texts); i++) {
        char *text = trimmed(json_string_value(json_array_get(texts, i)), f->trims);
        if (tok) {
            attrib_prompt *p = NULL;
            if (attrib_template_apply(tok, tmpl, text, strlen(text), &p)) die(attrib_last_error());
            json_array_append_new(rendered, json_stringn(p->rendered, p->rendered_len));
            json_t *row = json_array();
            for (int k = 0; k < p->n; k++) json_array_append_new(row, json_integer(p->ids[k]));
            json_array_append_new(ids, row);
            json_array_append_new(spans, json_pack("[i, i]", p->span_begin, p->span_end));
            attrib_prompt_free(p);
        } else {
            char *r = render(tmpl, text);
            json_array_append_new(rendered, json_string(r));
            free(r);
        }
        free(text);
    }
    json_object_set_new(out, "rendered", rendered);
    if (tok) {
        json_object_set_new(out, "ids", ids);
        json_object_set_new(out, "span", spans);
    } else {
        json_decref(ids);
        json_decref(spans);
    }
    char *s = json_dumps(out, JSON_ENSURE_ASCII);
    if (!s) die("out of memory");
    puts(s);
    free(s);
    json_decref(out);
    json_decref(req);
    attrib_free(tmpl);
    attrib_tokenizer_free(tok);
    free(jinja);
    return 0;
}
