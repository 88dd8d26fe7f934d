/*
 * render_attention.h — the self-contained HTML view of `attrib attention`
 * (render_attention.c): a grid of every shown block x head as a thumbnail
 * heat map; hovering or clicking one shows its T x T map with the tokens as
 * row (query) and column (key) labels.
 */
#ifndef ATTRIB_CLI_RENDER_ATTENTION_H
#define ATTRIB_CLI_RENDER_ATTENTION_H

#include <stddef.h>
#include <stdio.h>

typedef struct render_attention_view {
    const char *model;
    const char *text;
    size_t text_len;
    int n_tokens;                  /* T */
    const char *const *pieces;     /* (T) token pieces (raw bytes: escaped here) */
    const size_t *piece_len;       /* (T) */
    int n_head;                    /* heads per block in PROBS */
    int n_layers, n_heads;         /* how many blocks and heads are shown */
    const int *layers, *heads;     /* (n_layers), (n_heads): which */
    const float *probs;            /* (n_layer, n_head, T, T): attrib_attention's output */
    const double *rollout;         /* (n_layer, T, T) rollout after each block, or NULL */
} render_attention_view;

/* Writes the page; 0 on success, -1 when writing failed. */
int render_attention_html(FILE *f, const render_attention_view *v);

#endif
