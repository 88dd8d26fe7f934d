/*
 * cmd_info.c — `attrib info MODEL`: what a model file is, before anyone runs
 * it: architecture and shape, parameter count, tensor types, context length,
 * tokenizer kind and size, and the special tokens.
 */
#include "cli.h"

#include <jansson.h>
#include <string.h>

static const char *HELP =
    "usage: attrib info MODEL [--json] [--check-weights]\n"
    "\n"
    "Describes MODEL (a .gguf file or a Hugging Face directory): architecture, layers,\n"
    "width, heads, parameter count, tensor types, context length, RoPE layout, tokenizer\n"
    "and special tokens. Nothing is computed; the weights are memory-mapped, not read.\n"
    "\n"
    "options:\n"
    "  --json            print one JSON object instead of text\n"
    "  --check-weights   read every weight and fail if any is NaN or infinite\n";

static const char *rope_name(attrib_rope_layout l) {
    return l == ATTRIB_ROPE_INTERLEAVED ? "interleaved pairs (GGUF llama)" : "halves (NeoX / Hugging Face)";
}

/* The chat template's family as JSON: null without a template, else
 * {"bytes", "family" (null if not recognised), "title"}. */
static json_t *chat_json(const attrib_tokenizer *tok) {
    const char *jinja = attrib_tokenizer_chat_template(tok);
    if (!jinja) return json_null();
    const attrib_chat_family *f = NULL;
    int ok = attrib_chat_detect(jinja, &f) == ATTRIB_OK;
    return json_pack("{s:I, s:o, s:o}", "bytes", (json_int_t)strlen(jinja), "family", ok ? json_string(f->name) : json_null(),
                     "title", ok ? json_string(f->title) : json_null());
}

static json_t *special_json(const attrib_tokenizer *tok, int id) {
    if (id < 0) return json_null();
    size_t len = 0;
    const char *p = attrib_tokenizer_piece(tok, id, &len);
    return json_pack("{s:i, s:s%}", "id", id, "piece", p ? p : "", p ? len : (size_t)0);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false, check = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is(argv[i], "--help", "-h")) {
            fputs(HELP, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--check-weights") == 0) {
            check = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!path) return cli_usage_error("info", "missing MODEL");
    attrib_model *m = cli_load_model(path, 1, check);
    if (!m) return 1;
    const attrib_model_info *in = attrib_model_get_info(m);
    const attrib_tokenizer *tok = attrib_model_tokenizer(m);

    long long n_tensors = 0; /* the load with check_weights refused any tensor with a NaN or infinity */
    for (int t = 0; t < ATTRIB_DTYPE_COUNT_; t++) n_tensors += in->dtype_counts[t];
    if (json) {
        json_t *types = json_object();
        for (int t = 0; t < ATTRIB_DTYPE_COUNT_; t++)
            if (in->dtype_counts[t]) json_object_set_new(types, attrib_dtype_name(t), json_integer(in->dtype_counts[t]));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:s, s:b, s:b, s:b, s:I, s:I, s:o}",
                              "path", in->path, "format", in->format == ATTRIB_FORMAT_GGUF ? "gguf" : "huggingface",
                              "arch", in->arch, "name", in->name, "n_layer", in->n_layer, "n_embd", in->n_embd, "n_head",
                              in->n_head, "n_head_kv", in->n_head_kv, "head_dim", in->head_dim, "n_ff", in->n_ff,
                              "n_vocab", in->n_vocab, "n_ctx_train", in->n_ctx_train, "rms_eps", (double)in->rms_eps,
                              "rope_theta", (double)in->rope_theta,
                              "rope_layout", in->rope_layout == ATTRIB_ROPE_INTERLEAVED ? "interleaved" : "half",
                              "rope_freqs", in->has_rope_freqs, "qkv_bias", in->has_qkv_bias, "tied_output", in->tied_output,
                              "n_params", (json_int_t)in->n_params, "weight_bytes", (json_int_t)in->weight_bytes,
                              "tensor_types", types);
        if (tok) {
            json_object_set_new(o, "tokenizer",
                                json_pack("{s:s, s:i, s:o, s:o, s:o, s:o}", "kind",
                                          attrib_tokenizer_get_kind(tok) == ATTRIB_TOKENIZER_SPM ? "spm" : "bpe", "n_vocab",
                                          attrib_tokenizer_n_vocab(tok), "bos", special_json(tok, attrib_tokenizer_bos(tok)),
                                          "eos", special_json(tok, attrib_tokenizer_eos(tok)), "unk",
                                          special_json(tok, attrib_tokenizer_unk(tok)), "pad",
                                          special_json(tok, attrib_tokenizer_pad(tok))));
            json_object_set_new(o, "chat_template", chat_json(tok));
        } else {
            json_object_set_new(o, "tokenizer", json_null());
        }
        json_object_set_new(o, "features",
                            json_pack("{s:s, s:b, s:b, s:f, s:f, s:f, s:f, s:i, s:i, s:f}", "activation", in->activation,
                                      "qk_norm", in->has_qk_norm, "post_norms", in->has_post_norms, "embed_scale",
                                      (double)in->embed_scale, "attn_scale", (double)in->attn_scale, "attn_softcap",
                                      (double)in->attn_softcap, "final_softcap", (double)in->final_softcap,
                                      "sliding_window", in->sliding_window, "windowed_layers", in->n_windowed_layers,
                                      "rope_theta_local", (double)in->rope_theta_local));
        if (check) json_object_set_new(o, "weights_finite", json_integer(n_tensors));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("model          %s\n", in->path);
        printf("format         %s\n", in->format == ATTRIB_FORMAT_GGUF ? "GGUF" : "Hugging Face safetensors");
        printf("architecture   %s%s%s\n", in->arch, in->name[0] ? "  name: " : "", in->name);
        printf("parameters     %llu (%.2f M), %.2f MiB of weights\n", (unsigned long long)in->n_params, in->n_params / 1e6,
               in->weight_bytes / 1048576.0);
        printf("layers         %d\n", in->n_layer);
        printf("width          %d (FFN %d)\n", in->n_embd, in->n_ff);
        printf("heads          %d query, %d key/value, %d dims each\n", in->n_head, in->n_head_kv, in->head_dim);
        printf("vocabulary     %d rows\n", in->n_vocab);
        printf("context        %d tokens\n", in->n_ctx_train);
        printf("RoPE           base %g, %s%s\n", (double)in->rope_theta, rope_name(in->rope_layout),
               in->has_rope_freqs ? ", with frequency factors" : "");
        printf("RMSNorm eps    %g\n", (double)in->rms_eps);
        printf("block          %s FFN%s%s%s\n", strcmp(in->activation, "gelu_tanh") == 0 ? "GeGLU (tanh GELU)" : "SwiGLU",
               in->has_qkv_bias ? ", Q/K/V biases" : "", in->has_qk_norm ? ", Q/K RMSNorm per head" : "",
               in->has_post_norms ? ", post-attention and post-FFN norms" : "");
        if (in->embed_scale != 1.0f) printf("embeddings     scaled by %g\n", (double)in->embed_scale);
        if (in->attn_softcap > 0.0f || in->final_softcap > 0.0f)
            printf("soft-caps      attention %g, final logits %g (0 = none)\n", (double)in->attn_softcap, (double)in->final_softcap);
        if (in->n_windowed_layers > 0) {
            printf("attention      sliding window of %d positions in %d of %d layers", in->sliding_window,
                   in->n_windowed_layers, in->n_layer);
            if (in->rope_theta_local > 0.0f) printf(" (RoPE base %g there)", (double)in->rope_theta_local);
            putchar('\n');
        }
        printf("output matrix  %s%s\n", in->tied_output ? "tied to the embeddings" : "separate",
               in->has_qkv_bias ? "; Q/K/V biases" : "");
        printf("tensor types  ");
        for (int t = 0; t < ATTRIB_DTYPE_COUNT_; t++)
            if (in->dtype_counts[t]) printf(" %s x%u", attrib_dtype_name(t), in->dtype_counts[t]);
        printf("\n");
        if (check) printf("weights        all %lld tensors finite (every value read)\n", n_tensors);
        if (tok) {
            printf("tokenizer      %s, %d tokens\n",
                   attrib_tokenizer_get_kind(tok) == ATTRIB_TOKENIZER_SPM ? "SentencePiece-style (llama)" : "BPE",
                   attrib_tokenizer_n_vocab(tok));
            const char *names[] = {"BOS", "EOS", "UNK", "PAD"};
            int ids[] = {attrib_tokenizer_bos(tok), attrib_tokenizer_eos(tok), attrib_tokenizer_unk(tok), attrib_tokenizer_pad(tok)};
            printf("special       ");
            for (int i = 0; i < 4; i++) {
                size_t len = 0;
                const char *p = ids[i] >= 0 ? attrib_tokenizer_piece(tok, ids[i], &len) : NULL;
                if (p) printf(" %s=%d '%.*s'", names[i], ids[i], (int)len, p);
                else printf(" %s=none", names[i]);
            }
            printf("\n");
            const char *jinja = attrib_tokenizer_chat_template(tok);
            const attrib_chat_family *f = NULL;
            if (!jinja) printf("chat template  none (--template auto is unavailable; explain uses TEXT as is)\n");
            else if (attrib_chat_detect(jinja, &f) == ATTRIB_OK)
                printf("chat template  %s: %s (%zu bytes; the default of explain, --template auto)\n", f->name, f->title,
                       strlen(jinja));
            else printf("chat template  %zu bytes, family not recognised (--template auto lists the known ones)\n", strlen(jinja));
        } else {
            printf("tokenizer      none in this file\n");
        }
    }
    attrib_model_free(m);
    return 0;
}
