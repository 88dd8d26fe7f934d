/*
 * render_png.c — PNG figures for papers and slides: the SVG that one of the
 * SVG writers (render_explain_svg, render_compare_svg) makes is built in
 * memory and rasterised with librsvg + cairo at RENDER_PNG_SCALE times its
 * size, so the PNG and the SVG always show the same figure. librsvg is
 * optional at build time (ATTRIB_HAVE_RSVG, set by CMake when pkg-config
 * finds librsvg-2.0 and cairo); without it --png fails with a message that
 * names the library and the --svg + rsvg-convert route. Only the CLI links
 * librsvg, never libattrib.
 */
#include "render.h"

#include <stdlib.h>
#include <string.h>

#ifdef ATTRIB_HAVE_RSVG
#include <cairo.h>
#include <librsvg/rsvg.h>
#endif

bool render_png_available(void) {
#ifdef ATTRIB_HAVE_RSVG
    return true;
#else
    return false;
#endif
}

int render_png(const char *path, int (*svg_writer)(FILE *, const json_t *), const json_t *doc) {
#ifndef ATTRIB_HAVE_RSVG
    (void)svg_writer, (void)doc;
    fprintf(stderr,
            "attrib: error: cannot write %s: this attrib was built without librsvg-2.0 and cairo, which --png needs "
            "(install librsvg2-dev and rebuild), or write --svg FILE and convert it with rsvg-convert\n",
            path);
    return -1;
#else
    char *svg = NULL;
    size_t svg_len = 0;
    FILE *mem = open_memstream(&svg, &svg_len);
    if (!mem) {
        fprintf(stderr, "attrib: error: cannot write %s: out of memory\n", path);
        return -1;
    }
    int bad = svg_writer(mem, doc);
    bad |= fclose(mem);
    if (bad) {
        fprintf(stderr, "attrib: error: cannot write %s: the document lacks what the figure needs\n", path);
        free(svg);
        return -1;
    }
    GError *err = NULL;
    RsvgHandle *h = rsvg_handle_new_from_data((const guint8 *)svg, svg_len, &err);
    free(svg);
    gdouble w = 0, hgt = 0;
    if (!h || !rsvg_handle_get_intrinsic_size_in_pixels(h, &w, &hgt) || !(w >= 1 && hgt >= 1 && w <= 32768 && hgt <= 32768)) {
        fprintf(stderr, "attrib: error: cannot write %s: librsvg could not read the figure%s%s\n", path, err ? ": " : "",
                err ? err->message : "");
        if (err) g_error_free(err);
        if (h) g_object_unref(h);
        return -1;
    }
    const int pw = (int)(w * RENDER_PNG_SCALE + 0.5), ph = (int)(hgt * RENDER_PNG_SCALE + 0.5);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph);
    cairo_t *cr = cairo_create(surf);
    RsvgRectangle vp = {0, 0, pw, ph};
    int rc = 0;
    if (!rsvg_handle_render_document(h, cr, &vp, &err)) {
        fprintf(stderr, "attrib: error: cannot write %s: librsvg could not draw the figure: %s\n", path, err ? err->message : "?");
        if (err) g_error_free(err);
        rc = -1;
    }
    cairo_destroy(cr);
    if (!rc && (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS || cairo_surface_write_to_png(surf, path) != CAIRO_STATUS_SUCCESS)) {
        fprintf(stderr, "attrib: error: cannot write %s\n", path);
        rc = -1;
    }
    cairo_surface_destroy(surf);
    g_object_unref(h);
    return rc;
#endif
}
