/*
 * render_attention.c — the HTML view of `attrib attention`: one page that
 * works offline (inline style and script, a Content-Security-Policy that
 * forbids every load), data in a JSON <script> block written with the
 * validating escapers of render.c, drawn by a small script: a grid of
 * thumbnails (rows: blocks, columns: heads; canvas heat maps, white 0 to
 * blue 1), and below it the chosen head's T x T table with the tokens as
 * labels and each weight in the cell's title. Hovering a thumbnail shows
 * its head; clicking (or Enter on the focused thumbnail) keeps it shown.
 */
#include "render_attention.h"

#include "render.h"

#include <string.h>

static const char *const CSS =
    "body{font:14px/1.45 system-ui,sans-serif;margin:1.2em auto;max-width:80em;padding:0 1em;color:#111}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin:1em 0 .4em}"
    ".facts{color:#333}.prompt{white-space:pre-wrap;background:#f7f7f7;padding:.6em .8em;border-radius:4px}"
    ".lg{display:inline-flex;align-items:center;gap:.3em;font:12px ui-monospace,monospace;color:#444}"
    ".lg i{display:inline-block;width:120px;height:10px;border:1px solid #bbb;background:linear-gradient(90deg,#fff,#0000ff)}"
    "table{border-collapse:collapse}#grid td,#grid th{padding:2px;font:12px ui-monospace,monospace;color:#444}"
    "#grid button{padding:0;border:2px solid transparent;background:#fff;cursor:pointer;line-height:0}"
    "#grid button:hover,#grid button:focus{border-color:#f90}#grid button.on{border-color:#d00}"
    "#grid canvas{width:64px;height:64px;image-rendering:pixelated;border:1px solid #ccc}"
    ".mat td,.mat th{font:11px ui-monospace,monospace;padding:1px 3px;min-width:2.2em;text-align:center;border:1px solid #eee}"
    ".mat th{background:#fafafa;font-weight:normal;white-space:pre}.mat th.k{writing-mode:vertical-rl;transform:rotate(180deg);"
    "text-align:left}.mat td.na{background:#f4f4f4}.scroll{overflow:auto;max-height:80vh}";

static const char *const JS =
    "(function(){var D=JSON.parse(document.getElementById('attn').textContent),T=D.tokens.length,pinned=null;"
    "function col(p){var v=Math.round(255*(1-Math.max(0,Math.min(1,p))));return 'rgb('+v+','+v+',255)';}"
    "function thumb(M){var c=document.createElement('canvas'),s=Math.max(1,Math.floor(64/T));c.width=c.height=s*T;"
    "var x=c.getContext('2d');x.fillStyle='#f4f4f4';x.fillRect(0,0,s*T,s*T);"
    "for(var i=0;i<T;i++)for(var j=0;j<=i;j++){x.fillStyle=col(M[i*T+j]);x.fillRect(j*s,i*s,s,s);}return c;}"
    "function show(b){var M=b.M,d=document.getElementById('dmap');document.getElementById('dtitle').textContent=b.title;"
    "d.textContent='';var t=document.createElement('table');t.className='mat';var hr=t.insertRow(),c0=document.createElement('th');"
    "c0.textContent='query \\u2193  key \\u2192';hr.appendChild(c0);"
    "for(var j=0;j<T;j++){var th=document.createElement('th');th.className='k';th.textContent=j+' '+D.tokens[j];hr.appendChild(th);}"
    "for(var i=0;i<T;i++){var r=t.insertRow(),h=document.createElement('th');h.textContent=i+' '+D.tokens[i];r.appendChild(h);"
    "for(var j=0;j<T;j++){var c=r.insertCell();if(j>i){c.className='na';continue;}var p=M[i*T+j];c.style.background=col(p);"
    "if(p>0.55)c.style.color='#fff';c.textContent=p>=0.005?p.toFixed(2):'';"
    "c.title='query '+i+' \\u201c'+D.tokens[i]+'\\u201d \\u2192 key '+j+' \\u201c'+D.tokens[j]+'\\u201d: '+p;}}d.appendChild(t);}"
    "function cell(row,M,title,l,h){var b=document.createElement('button');b.M=M;b.title=title;b.dataset.l=l;"
    "if(h!==undefined)b.dataset.h=h;b.setAttribute('aria-label',title);b.appendChild(thumb(M));"
    "b.addEventListener('mouseenter',function(){show(b);});b.addEventListener('focus',function(){show(b);});"
    "b.addEventListener('click',function(){if(pinned)pinned.classList.remove('on');pinned=b;b.classList.add('on');show(b);});"
    "row.insertCell().appendChild(b);return b;}"
    "var g=document.getElementById('grid'),hr=g.insertRow();hr.insertCell();"
    "D.heads.forEach(function(h){hr.insertCell().textContent='head '+h;});if(D.rollout)hr.insertCell().textContent='rollout';"
    "var first=null;D.layers.forEach(function(l,li){var r=g.insertRow();r.insertCell().textContent='block '+l;"
    "D.heads.forEach(function(h,hi){var b=cell(r,D.probs[li][hi],'block '+l+', head '+h,l,h);first=first||b;});"
    "if(D.rollout)cell(r,D.rollout[li],'rollout after block '+l,l);});"
    "g.addEventListener('mouseleave',function(){if(pinned)show(pinned);});"
    "if(first){pinned=first;first.classList.add('on');show(first);}})();";

static void write_matrix(FILE *f, const float *pf, const double *pd, int T) {
    fputc('[', f);
    for (size_t i = 0; i < (size_t)T * T; i++) fprintf(f, "%s%.4g", i ? "," : "", pf ? (double)pf[i] : pd[i]);
    fputc(']', f);
}

int render_attention_html(FILE *f, const render_attention_view *v) {
    const int T = v->n_tokens;
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
          "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=viewport content=\"width=device-width,initial-scale=1\">\n<link rel=icon href=\"data:,\">\n"
          "<title>attention: ",
          f);
    render_html(f, v->text, v->text_len > 80 ? 80 : v->text_len, RENDER_VISIBLE);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>Attention weights</h1>\n<p class=facts>model ", CSS);
    render_html(f, v->model, strlen(v->model), RENDER_VISIBLE);
    fprintf(f, " &middot; %d tokens &middot; %d block%s x %d head%s shown%s</p>\n<div class=prompt>", T, v->n_layers,
            v->n_layers == 1 ? "" : "s", v->n_heads, v->n_heads == 1 ? "" : "s", v->rollout ? " &middot; with rollout" : "");
    render_html(f, v->text, v->text_len, 0);
    fputs("</div>\n<p>Each map is one head: row <i>i</i> holds the softmax weights query token <i>i</i> gave the keys "
          "0..<i>i</i> (each row sums to 1). Hover a thumbnail to see it below with the tokens as labels; click to keep "
          "it. <span class=lg>0 <i></i> 1</span>",
          f);
    if (v->rollout)
        fputs(" The rollout column is Abnar &amp; Zuidema's attention rollout through that block: heads averaged, the "
              "identity added, rows renormalised, multiplied through the blocks.",
              f);
    fputs("</p>\n<table id=grid></table>\n<h2 id=dtitle></h2>\n<div class=scroll id=dmap></div>\n"
          "<script type=application/json id=attn>{\"tokens\":[",
          f);
    for (int t = 0; t < T; t++) {
        if (t) fputc(',', f);
        render_js_string(f, v->pieces[t], v->piece_len[t]);
    }
    fputs("],\"layers\":[", f);
    for (int i = 0; i < v->n_layers; i++) fprintf(f, "%s%d", i ? "," : "", v->layers[i]);
    fputs("],\"heads\":[", f);
    for (int i = 0; i < v->n_heads; i++) fprintf(f, "%s%d", i ? "," : "", v->heads[i]);
    fputs("],\"probs\":[", f);
    const size_t TT = (size_t)T * T;
    for (int i = 0; i < v->n_layers; i++) {
        fputs(i ? ",[" : "[", f);
        for (int j = 0; j < v->n_heads; j++) {
            if (j) fputc(',', f);
            write_matrix(f, v->probs + ((size_t)v->layers[i] * v->n_head + v->heads[j]) * TT, NULL, T);
        }
        fputc(']', f);
    }
    fputc(']', f);
    if (v->rollout) {
        fputs(",\"rollout\":[", f);
        for (int i = 0; i < v->n_layers; i++) {
            if (i) fputc(',', f);
            write_matrix(f, NULL, v->rollout + (size_t)v->layers[i] * TT, T);
        }
        fputc(']', f);
    }
    fprintf(f, "}</script>\n<script>%s</script>\n</body></html>\n", JS);
    return ferror(f) ? -1 : 0;
}
