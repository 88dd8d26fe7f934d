/*
 * cmd_tokenize.c — `attrib tokenize MODEL TEXT`: the model's own tokens for
 * TEXT, each with its id, vocabulary piece and the byte span of TEXT it
 * covers, so a user can see exactly what an attribution will be painted on.
 * MODEL may be a .gguf file (only its metadata is read), a Hugging Face
 * directory or a tokenizer.json.
 */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: attrib tokenize MODEL TEXT [--json] [--no-special] [--parse-special]\n"
    "       attrib tokenize MODEL --single-token WORD... [--template T]\n"
    "\n"
    "Tokenizes TEXT exactly as MODEL's tokenizer does and prints, per token, its id,\n"
    "its vocabulary piece and the byte range [begin, end) of TEXT it covers.\n"
    "MODEL is a .gguf file, a Hugging Face directory or a tokenizer.json.\n"
    "TEXT '-' reads the text from standard input (bytes as they are).\n"
    "\n"
    "options:\n"
    "  --json            print {\"tokens\":[{\"id\",\"piece\",\"begin\",\"end\",\"text\"}...]}\n"
    "  --no-special      do not add BOS/EOS\n"
    "  --parse-special   recognise special-token text such as <s> or <|im_start|>\n"
    "                    (by default such text is tokenized as ordinary text)\n"
    "  --single-token    check WORDs for --token, --token2 and --label-words: each word,\n"
    "                    written as in text (\" Yes\", with its space), is one token of the\n"
    "                    model or not; exit status 1 if any is not\n"
    "  --template T      with --single-token: check the words after template T (a judge's\n"
    "                    label words), as `explain --template T` resolves them; auto or\n"
    "                    chat: the model's own chat template (see explain --help)\n";

/* Bytes as printable text: invalid UTF-8 and control characters escaped. */
static void print_escaped(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') { fputs("\\n", stdout); i++; continue; }
        if (c == '\t') { fputs("\\t", stdout); i++; continue; }
        if (c == '\r') { fputs("\\r", stdout); i++; continue; }
        if (c == '\\') { fputs("\\\\", stdout); i++; continue; }
        if (c < 0x20 || c == 0x7F) { printf("\\x%02X", c); i++; continue; }
        size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = l > 0 && i + l <= n;
        for (size_t k = 1; ok && k < l; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (!ok) { printf("\\x%02X", c); i++; continue; }
        fwrite(s + i, 1, l, stdout);
        i += l;
    }
}

/* A JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD (cli.h). */
json_t *cli_json_bytes(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *buf = malloc(n * 3 + 1);
    if (!buf) return json_string("");
    size_t o = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = l > 0 && i + l <= n;
        for (size_t k = 1; ok && k < l; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        json_t *probe = ok ? json_stringn(s + i, l) : NULL; /* jansson's own check (surrogates, overlongs) */
        if (probe) {
            json_decref(probe);
            memcpy(buf + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_string("");
}

static char *read_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

/* `--single-token WORD...`: which words are one token, as explain resolves them. */
static int single_tokens(const char *path, const char *tmpl_arg, char **words, int n_words, bool json) {
    attrib_tokenizer *tok = NULL;
    attrib_status st = attrib_tokenizer_load(path, &tok);
    if (st) return cli_fail_status(st, "cannot load tokenizer");
    char *tmpl = NULL;
    const char *tmpl_name = NULL;
    cli_chat chat; /* --template auto / chat: the model's own chat template */
    const int crc = tmpl_arg ? cli_chat_template(tok, tmpl_arg, NULL, 0, &chat) : -1;
    int rc = crc > 0 ? crc : crc == 0 ? 0 : tmpl_arg ? cli_template(tmpl_arg, &tmpl, &tmpl_name) : 0;
    if (crc == 0) {
        tmpl = strdup(chat.tmpl);
        tmpl_name = chat.name;
        attrib_free(chat.tmpl);
        if (!tmpl) rc = 1;
    }
    if (rc) {
        attrib_tokenizer_free(tok);
        return rc;
    }
    json_t *arr = json ? json_array() : NULL;
    int bad = 0;
    for (int i = 0; i < n_words; i++) {
        char why[512];
        int32_t id = -1;
        int no = cli_word_token(tok, tmpl, words[i], &id, why, sizeof why);
        size_t pl = 0;
        const char *p = no ? NULL : attrib_tokenizer_piece(tok, id, &pl);
        bad += no;
        if (json) {
            json_t *o = json_pack("{s:o, s:b}", "word", cli_json_bytes(words[i], strlen(words[i])), "single", !no);
            if (!no) json_object_set_new(o, "id", json_integer(id)), json_object_set_new(o, "piece", cli_json_bytes(p ? p : "", pl));
            else json_object_set_new(o, "becomes", cli_json_bytes(why, strlen(why)));
            json_array_append_new(arr, o);
            continue;
        }
        fputc('"', stdout);
        print_escaped(words[i], strlen(words[i]));
        if (no) {
            printf("\"  not one token%s: it becomes %s\n", tmpl ? " after the template" : "", why[0] ? why : "no token");
        } else {
            printf("\"  one token: %d \"", (int)id);
            print_escaped(p ? p : "", pl);
            fputs("\"\n", stdout);
        }
    }
    if (json) {
        json_t *root = json_pack("{s:o}", "words", arr);
        char *s = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s) puts(s);
        free(s);
        json_decref(root);
    } else if (bad && tmpl) {
        printf("words that are one token after this template:\n");
        cli_suggest_words(stdout, tok, tmpl);
    }
    free(tmpl);
    attrib_tokenizer_free(tok);
    return bad ? 1 : 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *tmpl_arg = NULL;
    bool json = false, special = true, parse = false, single = false;
    char **words = calloc((size_t)argc, sizeof *words);
    int n_words = 0;
    if (!words) return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--single-token")) {
            single = true;
            continue;
        }
        if (!strcmp(argv[i], "--template")) {
            if (i + 1 >= argc) return free(words), cli_usage_error("tokenize", "--template needs a value");
            tmpl_arg = argv[++i];
            continue;
        }
        if (single && path && argv[i][0] != '-') { /* words may start with a space, never with '-' options */
            words[n_words++] = argv[i];
            continue;
        }
        if (cli_is(argv[i], "--help", "-h")) {
            fputs(HELP, stdout);
            free(words);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--no-special") == 0) {
            special = false;
        } else if (strcmp(argv[i], "--parse-special") == 0) {
            parse = true;
        } else if (argv[i][0] == '-' && argv[i][1] == '-' && !(path && text)) {
            return cli_usage_error("tokenize", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else if (!text) {
            text = argv[i];
        } else {
            return cli_usage_error("tokenize", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!path) return free(words), cli_usage_error("tokenize", "missing MODEL");
    if (single && text) words[n_words++] = (char *)text; /* the first word, taken before --single-token was seen */
    if (single) {
        if (!n_words) return free(words), cli_usage_error("tokenize", "--single-token needs at least one WORD");
        int rc = single_tokens(path, tmpl_arg, words, n_words, json);
        free(words);
        return rc;
    }
    free(words);
    if (tmpl_arg) return cli_usage_error("tokenize", "--template goes with --single-token");
    if (!text) return cli_usage_error("tokenize", "missing TEXT");

    char *owned = NULL;
    size_t len;
    if (strcmp(text, "-") == 0) {
        owned = read_stdin(&len);
        if (!owned) {
            fprintf(stderr, "attrib: error: cannot read standard input\n");
            return 1;
        }
        text = owned;
    } else {
        len = strlen(text);
    }

    attrib_tokenizer *tok = NULL;
    attrib_status st = attrib_tokenizer_load(path, &tok);
    if (st) {
        free(owned);
        return cli_fail_status(st, "cannot load tokenizer");
    }
    unsigned flags = (special ? ATTRIB_TOK_ADD_SPECIAL : 0u) | (parse ? ATTRIB_TOK_PARSE_SPECIAL : 0u);
    attrib_token *t = NULL;
    size_t n = 0;
    st = attrib_tokenize(tok, text, len, flags, &t, &n);
    if (st) {
        attrib_tokenizer_free(tok);
        free(owned);
        return cli_fail_status(st, "cannot tokenize");
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            size_t pl = 0;
            const char *p = attrib_tokenizer_piece(tok, t[i].id, &pl);
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(t[i].id));
            json_object_set_new(o, "piece", cli_json_bytes(p ? p : "", pl));
            json_object_set_new(o, "begin", json_integer(t[i].begin));
            json_object_set_new(o, "end", json_integer(t[i].end));
            json_object_set_new(o, "text", cli_json_bytes(text + t[i].begin, t[i].end - t[i].begin));
            json_array_append_new(arr, o);
        }
        json_t *root = json_object();
        json_object_set_new(root, "n_tokens", json_integer((json_int_t)n));
        json_object_set_new(root, "tokens", arr);
        char *s = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(root);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t pl = 0;
            const char *p = attrib_tokenizer_piece(tok, t[i].id, &pl);
            printf("%6d  [%u, %u)  piece \"", (int)t[i].id, t[i].begin, t[i].end);
            print_escaped(p ? p : "", pl);
            fputs("\"  text \"", stdout);
            print_escaped(text + t[i].begin, t[i].end - t[i].begin);
            fputs("\"\n", stdout);
        }
        printf("%zu tokens\n", n);
    }
    attrib_free(t);
    attrib_tokenizer_free(tok);
    free(owned);
    return 0;
}
