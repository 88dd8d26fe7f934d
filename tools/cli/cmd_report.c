/*
 * cmd_report.c — `attrib report DOC.json --html OUT.html --csv OUT.csv`:
 * turns the JSON document that `attrib compare` writes (schema
 * "attrib.compare/1") into a self-contained HTML report or a CSV table,
 * without running any model, so a finished comparison can be re-rendered
 * or shared.
 */
#include "cli.h"
#include "compare.h"
#include "render.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: attrib report DOC.json [--html OUT.html] [--csv OUT.csv] [--svg FIG.svg] [--png FIG.png] [--json]\n"
    "\n"
    "Renders a comparison document written by 'attrib compare' (schema attrib.compare/1).\n"
    "Without options it prints the summary table, as compare did; '-' as FILE writes to\n"
    "standard output.\n"
    "\n"
    "options:\n"
    "  --html FILE   self-contained HTML: summary charts (agreement, faithfulness, curves,\n"
    "                cost, classifier), provenance, then every prompt's heat maps with sort\n"
    "                and filter controls; loads nothing from the network, opens from file://\n"
    "  --csv FILE    one row per prompt x method x token (RFC 4180; text cells that a\n"
    "                spreadsheet would run as a formula are prefixed with ')\n"
    "  --svg FILE    the summary as a figure for papers and slides: comprehensiveness and\n"
    "                sufficiency bars with 95% intervals and the random baseline, and the\n"
    "                Spearman agreement matrix (the same as 'attrib compare --svg')\n"
    "  --png FILE    the same figure as PNG, at twice the SVG's size (needs librsvg)\n"
    "  --json        print the document's summary (agreement, faithfulness, classifier,\n"
    "                cost) and provenance as JSON\n"
    "\n"
    "example:\n"
    "  attrib report compare.json --html compare.html --csv compare.csv\n";

static int write_output(const char *path, int (*render)(FILE *, const json_t *), const json_t *doc) {
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "attrib: error: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    int bad = render(f, doc);
    bad |= to_stdout ? fflush(f) : fclose(f);
    if (bad) {
        fprintf(stderr, "attrib: error: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int cmd_report(int argc, char **argv) {
    const char *doc_path = NULL, *html = NULL, *csv = NULL, *svg = NULL, *png = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is(k, "--help", "-h")) {
            fputs(HELP, stdout);
            return 0;
        } else if (!strcmp(k, "--html") || !strcmp(k, "--csv")) {
            if (!v) return cli_usage_error("report", "%s needs a value", k);
            *(k[2] == 'h' ? &html : &csv) = v;
            i++;
        } else if (!strcmp(k, "--svg") || !strcmp(k, "--png")) {
            if (!v) return cli_usage_error("report", "%s needs a value", k);
            *(k[2] == 's' ? &svg : &png) = v;
            i++;
        } else if (!strcmp(k, "--json")) {
            json = true;
        } else if (k[0] == '-' && k[1]) {
            return cli_usage_error("report", "unknown option '%s'", k);
        } else if (!doc_path) {
            doc_path = k;
        } else {
            return cli_usage_error("report", "unexpected argument '%s'", k);
        }
    }
    if (!doc_path) return cli_usage_error("report", "missing DOC.json");
    if (png && !render_png_available()) {
        render_png(png, render_compare_svg, NULL); /* names the missing library */
        return 1;
    }
    FILE *probe = fopen(doc_path, "rb");
    if (!probe) {
        fprintf(stderr, "attrib: error: cannot read %s: %s\n", doc_path, strerror(errno));
        return 1;
    }
    fclose(probe);
    json_error_t err;
    /* NUL is allowed inside strings: prompts are data, and the renderers escape it */
    json_t *doc = json_load_file(doc_path, JSON_ALLOW_NUL, &err);
    if (!doc) {
        if (err.line > 0)
            fprintf(stderr, "attrib: error: cannot read %s: %s (line %d, column %d)\n", doc_path, err.text, err.line, err.column);
        else
            fprintf(stderr, "attrib: error: cannot read %s: %s\n", doc_path, err.text);
        return 1;
    }
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    int rc = 1;
    if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "prompts"))) {
        fprintf(stderr, "attrib: error: %s is not a comparison document (no \"prompts\" array)\n", doc_path);
    } else if (schema && strncmp(schema, "attrib.compare/1", 16) != 0) {
        fprintf(stderr, "attrib: error: %s has schema '%s'; this attrib reads attrib.compare/1\n", doc_path, schema);
    } else {
        rc = (html && write_output(html, render_compare_html, doc)) || (csv && write_output(csv, render_compare_csv, doc)) ||
             (svg && write_output(svg, render_compare_svg, doc)) || (png && render_png(png, render_compare_svg, doc));
        if (!rc && json) { /* the summary, not the per-prompt records (those are the document itself) */
            json_t *out = json_pack("{s:O?, s:O?, s:O?, s:O?}", "schema", json_object_get(doc, "schema"), "provenance",
                                    json_object_get(doc, "provenance"), "methods", json_object_get(doc, "methods"), "summary",
                                    json_object_get(doc, "summary"));
            char *text = out ? json_dumps(out, JSON_INDENT(1) | JSON_ENSURE_ASCII) : NULL;
            if (text) puts(text);
            rc = !text || fflush(stdout);
            free(text);
            json_decref(out);
        } else if (!rc && !html && !csv && !svg && !png) {
            if (!json_object_get(doc, "summary")) {
                fprintf(stderr, "attrib: error: %s has no summary to print\n", doc_path);
                rc = 1;
            } else {
                compare_print_table(stdout, doc);
                rc = fflush(stdout) ? 1 : 0;
            }
        }
    }
    json_decref(doc);
    return rc;
}
