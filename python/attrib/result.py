"""Results of explain(): Attribution (one method) and Explanation (several),
with the CLI's JSON document (to_dict), a notebook heat map (_repr_html_,
the colours of the HTML report: red raised the target, blue lowered it,
intensity |score| / the row's largest |score|) and to_pandas()."""
import dataclasses
import html as _html
import math

import numpy as np

from . import explain as _ex
from . import faithfulness as _faith


@dataclasses.dataclass(frozen=True)
class Cost:
    n_forward: int   # sequences through the forward pass
    n_backward: int  # sequences through the backward pass
    seconds: float
    threads: int


# ---- heat map (tools/cli/render.c: render_heat_rgb, html_token_row) --------

def heat_rgb(score, scale):
    if math.isnan(score):
        return (224, 224, 224)
    t = 0.0
    if math.isfinite(scale) and scale > 0:
        t = abs(score) / scale
        if not t <= 1:
            t = 1.0
    fade = int(math.floor(255.0 * (1.0 - t) + 0.5))
    return (255, fade, fade) if score >= 0 else (fade, fade, 255)


def _dark(c):
    return 299 * c[0] + 587 * c[1] + 114 * c[2] < 140000


def _visible(s):
    out = []
    for ch in s:
        cp = ord(ch)
        if cp == 0x7F:
            out.append("\u2421")
        elif cp < 0x20:
            out.append({10: "\u21b5", 9: "\u21e5", 13: "\u240d"}.get(cp, chr(0x2400 + cp)))
        else:
            out.append(_html.escape(ch))
    return "".join(out)


def _row_scale(scores, fixed):
    vals = [abs(s) for s, f in zip(scores, fixed) if not f and math.isfinite(s)]
    return max(vals, default=0.0)


def heat_row(text_bytes, tokens, scores, fixed):
    """One row of tokens painted by score, as the HTML report draws it."""
    scale = _row_scale(scores, fixed)
    parts, cursor = [], 0
    for t, s, f in zip(tokens, scores, fixed):
        in_text = t.end > t.begin and t.end <= len(text_bytes) and t.begin >= cursor
        if in_text and t.begin > cursor:
            parts.append(_visible(text_bytes[cursor:t.begin].decode("utf-8", "replace")))
        label = text_bytes[t.begin:t.end].decode("utf-8", "replace") if in_text else t.piece
        if in_text:
            cursor = t.end
        tip = _html.escape("id %d '%s' bytes %d-%d score %.6g" % (t.id, t.piece, t.begin, t.end, s), quote=True)
        if f:
            style = "color:#888;background:#f2f2f2"
        else:
            c = heat_rgb(s, scale)
            style = "background:#%02x%02x%02x%s" % (c + ("; color:#fff" if _dark(c) else "; color:#000",))
        parts.append('<span title="%s" style="%s;padding:1px 0;border-radius:2px;box-shadow:inset -1px 0 #0003">%s'
                     '</span>' % (tip, style, _visible(label)))
    return ("<div style=\"white-space:pre-wrap;font:14px/1.9 ui-monospace,'DejaVu Sans Mono',monospace;"
            "word-break:break-all\">%s</div>" % "".join(parts)), scale


def _heat_html(atts):
    rows = []
    for a in atts:
        fixed = [f < 0 for f in a.features]
        row, scale = heat_row(a._ctx["text_bytes"], a.tokens, list(a.scores), fixed)
        facts = "target %s" % a.target["kind"]
        if a.target["kind"] != "probe":
            facts += " of %r" % a.target["text"]
        facts += " &middot; f(input) = %.6g" % a.f_input
        if a.completeness_delta is not None:
            facts += " &middot; completeness &Delta; = %.3g" % a.completeness_delta
        facts += " &middot; %d forward, %d backward, %.3f s" % (a.cost.n_forward, a.cost.n_backward, a.cost.seconds)
        rows.append("<div style='margin:.4em 0'><b>%s</b> <small>%s &middot; scale &plusmn;%.3g</small>%s</div>"
                    % (_html.escape(a.method), facts, scale, row))
    return ("<div class=attrib-explain><small>red raised the target, blue lowered it; grey tokens are fixed</small>%s"
            "</div>" % "".join(rows))


class Attribution:
    """One method's attributions of one text.

    tokens               the prompt's tokens (attrib.Token: id, piece, begin, end, text)
    scores               numpy (n_tokens,): each token's share of its feature's score (0 for fixed tokens)
    feature_scores       numpy (n_features,); features: numpy (n_tokens,) feature of each token, -1 = fixed
    std_errors           numpy (n_features,) for sampled methods, else None
    target               dict(kind, token, piece, text[, token2, piece2, text2])
    f_input, f_baseline, sum_scores, completeness_delta, completeness_relative (None where not defined)
    cost                 Cost(n_forward, n_backward, seconds, threads)
    ig                   IG only: dict(adaptive, evaluations, nodes, pieces, cap_reached, delta, relative[, tol, ...])
    to_dict()            the document `attrib explain --json` prints for this method
    faithfulness()       comprehensiveness, sufficiency, deletion/insertion curves, against random rankings
    """

    def __init__(self, ctx, rec):
        self._ctx, self._rec = ctx, rec
        self.method = _ex.METHODS[rec["method"]]
        self.scores = rec["token_scores"]
        self.feature_scores = rec["scores"]
        self.features = rec["feature_of_token"]
        self.std_errors = rec["std_errors"]
        self.f_input, self.sum_scores = rec["f_input"], rec["sum_scores"]
        self.f_baseline = _ex._nan_none(rec["f_baseline"])
        ig = _ex._reads(rec["method"], "BASELINE") and self.f_baseline is not None  # completeness means something
        self.completeness_delta = _ex._nan_none(rec["completeness_delta"]) if ig else None
        self.completeness_relative = _ex._nan_none(rec["completeness_relative"]) if ig else None
        self.cost = Cost(int(rec["n_forward"]), int(rec["n_backward"]), rec["seconds"], ctx["threads"])

    @property
    def tokens(self):
        """The prompt's tokens: attrib.Token(id, piece, begin, end, text)."""
        return self._ctx["tokens"]()

    @property
    def text(self):
        """The text as the model got it (the rendered prompt under a template)."""
        return self._ctx["text_bytes"].decode("utf-8", "replace")

    @property
    def predicted(self):
        """dict(token, piece, text): the model's top-1 next token (None for probe and judge targets)."""
        return _ex._predicted(self._ctx)

    # computed when first asked for: explain() itself stays cheap
    @property
    def settings(self):
        """The settings that mattered for this method (as the CLI's JSON shows them)."""
        return _ex.method_settings(self._ctx, self._rec)

    @property
    def target(self):
        """dict(kind, token, piece, text[, token2, piece2, text2]): what was explained."""
        return _ex.method_json(self._ctx, self._rec)["target"]

    @property
    def ig(self):
        """IG only: dict(adaptive, evaluations, nodes, pieces, cap_reached, delta, relative[, tol, ...])."""
        return _ex.ig_json(self._rec) if self.completeness_delta is not None and _ex._reads(self._rec["method"], "IG") else None

    def to_dict(self):
        """The CLI's JSON document (`attrib explain ... --method M --json`) as a dict."""
        return _ex.top_json(self._ctx, self._rec)

    def _method_dict(self):
        return _ex.method_json(self._ctx, self._rec)

    def faithfulness(self, fractions=None, curve_points=20, random_orders=1, seed=0):
        """How much the target falls when this method's top features are
        removed, and how much stays when they alone are kept, against random
        rankings: the dict `attrib compare` records per method, plus "random".
        FRACTIONS (default 0.1, 0.2, 0.5) of the features for comprehensiveness
        and sufficiency; CURVE_POINTS steps of the deletion and insertion
        curves; RANDOM_ORDERS random rankings (seeded by SEED) for the
        baseline. Runs the model again (docs/metrics.md)."""
        return _faith.faithfulness(self._ctx, [self._rec], fractions, curve_points, random_orders, seed)[0]

    def feature_text(self, f):
        """The text of feature F (a token, or a word with words=True)."""
        toks = [t for t, g in zip(self.tokens, self.features) if g == f]
        spans = [t for t in toks if t.end > t.begin]
        if not spans:
            return "".join(t.piece for t in toks)
        b, e = min(t.begin for t in spans), max(t.end for t in spans)
        return self._ctx["text_bytes"][b:e].decode("utf-8", "replace")

    def top(self, k=3):
        """The K features with the highest scores: [(text, score), ...]."""
        order = np.argsort(-self.feature_scores, kind="stable")[:k]
        return [(self.feature_text(int(f)), float(self.feature_scores[f])) for f in order]

    def to_pandas(self):
        """One row per token: position, id, piece, text, begin, end, feature, score."""
        import pandas as pd
        return pd.DataFrame({"id": [t.id for t in self.tokens], "piece": [t.piece for t in self.tokens],
                             "text": [t.text for t in self.tokens], "begin": [t.begin for t in self.tokens],
                             "end": [t.end for t in self.tokens], "feature": self.features, self.method: self.scores})

    def _repr_html_(self):
        return _heat_html([self])

    def __repr__(self):
        return "<attrib.Attribution %s: %d tokens, target %s %r, f(input) %.4g, top %s>" % (
            self.method, len(self.tokens), self.target["kind"], self.target["text"], self.f_input,
            ", ".join("%r %.3g" % x for x in self.top(3)))


class Explanation:
    """Several methods on one text: a sequence of Attribution (also indexable
    by method name), .scores (n_methods, n_tokens), to_dict() equal to
    `attrib explain --method A,B,... --json`."""

    def __init__(self, ctx, atts):
        self._ctx = ctx
        self.attributions = atts
        self.methods = [a.method for a in atts]
        self.tokens = atts[0].tokens
        self.text = atts[0].text
        self.scores = np.stack([a.scores for a in atts])

    def __len__(self):
        return len(self.attributions)

    def __iter__(self):
        return iter(self.attributions)

    def __getitem__(self, k):
        if isinstance(k, str):
            return self.attributions[self.methods.index(k)]
        return self.attributions[k]

    def to_dict(self):
        d = self.attributions[0].to_dict()
        d["methods"] = [a._method_dict() for a in self.attributions]
        return d

    def faithfulness(self, fractions=None, curve_points=20, random_orders=1, seed=0):
        """Attribution.faithfulness of every method, {method: dict}, in one
        call: a masked input two methods' rankings share is run once, and
        the random baseline is computed once (the same in every dict)."""
        got = _faith.faithfulness(self._ctx, [a._rec for a in self.attributions], fractions, curve_points,
                                  random_orders, seed)
        return dict(zip(self.methods, got))

    def to_pandas(self):
        df = self.attributions[0].to_pandas()
        for a in self.attributions[1:]:
            df[a.method] = a.scores
        return df

    def _repr_html_(self):
        return _heat_html(self.attributions)

    def __repr__(self):
        return "<attrib.Explanation of %d tokens by %s>" % (len(self.tokens), ", ".join(self.methods))
