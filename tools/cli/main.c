/*
 * main.c — entry point of the attrib command-line tool: the top-level usage
 * and the dispatch to the subcommands (cmd_*.c). The helpers they share are
 * in cli.c.
 */
#include "cli.h"

#include <string.h>

static const char *USAGE_HEAD =
    "attrib " ATTRIB_VERSION_STRING " - explain local language models token by token\n"
    "\n"
    "usage: attrib <command> [options]\n"
    "\n"
    "commands:\n"
    "  info MODEL              architecture, size, tensor types, tokenizer and special tokens\n"
    "  generate MODEL PROMPT   greedy continuation of PROMPT (shows the model computes right)\n"
    "  tokenize MODEL TEXT     the model's tokens for TEXT with the byte span of each\n"
    "  explain MODEL TEXT      which tokens of TEXT made the model predict its next token\n"
    "                          methods: ";
static const char *USAGE_TAIL =
    "  attention MODEL TEXT    the attention weights of every block and head (table, JSON, HTML)\n"
    "  probe train|eval|info   a linear probe (harmful-query classifier) on a layer's hidden state\n"
    "  compare MODEL --data F  every method on a labelled dataset: agreement, faithfulness, cost\n"
    "  report DOC.json         a compare document as a self-contained HTML report (--html) or CSV (--csv)\n"
    "\n"
    "MODEL is a .gguf file (llama.cpp / Ollama) or a Hugging Face directory holding\n"
    "config.json, model.safetensors and tokenizer.json.\n"
    "\n"
    "Every command takes --json for machine-readable output and --help for its options.\n"
    "Errors go to standard error; the exit status is 0 on success, 1 on failure, 2 on misuse\n"
    "(compare: 3 when it finished but some rows were skipped or failed; 130 when interrupted).\n"
    "\n"
    "examples:\n"
    "  attrib info ../shared/models/stories260K/stories260K-f32.gguf\n"
    "  attrib generate ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time\" -n 40\n"
    "  attrib tokenize ../shared/models/TinyStories-656K \"Hello world\" --json\n"
    "  attrib explain ../shared/models/stories260K/stories260K-f32.gguf \"Once upon a time there was a\"\n";

static void usage(FILE *f) {
    fputs(USAGE_HEAD, f);
    cli_help_method_names(f, 35, "                                   ", 0, 0); /* the method table's names */
    fputs(USAGE_TAIL, f);
}

int main(int argc, char **argv) {
    if (argc < 2 || cli_is(argv[1], "--help", "-h") || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (cli_is(argv[1], "--version", "version")) {
        const char *commit = attrib_commit();
        if (commit[0]) printf("attrib %s (%s)\n", attrib_version(), commit);
        else printf("attrib %s\n", attrib_version());
        return 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0) return cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "attention") == 0) return cmd_attention(argc - 1, argv + 1);
    if (strcmp(cmd, "probe") == 0) return cmd_probe(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "attrib: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
