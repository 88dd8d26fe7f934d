"""Inside the model: attention weights (attrib_attention, with the rollout of
attrib_attention_rollout), the parts of the target logit
(attrib_logit_attribution) and layer attribution (attrib_explain with
layer_attribution), as numpy arrays. The same numbers as `attrib attention
--json`, `attrib explain --layer-summary --json` and `attrib explain --layer
L --json`; docs/attention.md and docs/gradients.md say what they are.

    with attrib.Model("stories260K-f32.gguf") as m:
        a = m.attention("Once upon a time")          # a.weights: (n_layer, n_head, T, T)
        p = m.logit_parts("Once upon a time there")  # p.heads: (n_layer, n_head), p.sum == p.logit
        l = m.explain_layer("Once upon a time", layer=3, method="ig")   # l.values: (T, C)
"""
import ctypes
import dataclasses
from ctypes import byref, c_int32

import numpy as np

from . import _capi
from ._capi import lib
from .errors import check
from .model import Token, _text_bytes


def _tokens(model, text):
    """TEXT (str or bytes, BOS added as the tokenizer says) or a list of token ids."""
    if isinstance(text, (str, bytes, bytearray)):
        data = _text_bytes(text)
        if not data:
            raise ValueError("the text is empty")
        return [Token(i, model.piece(i), b, e, data[b:e].decode("utf-8", "replace"))
                for i, b, e in model._tokenize_raw(data, 1)]
    ids = [int(i) for i in text]
    if not ids:
        raise ValueError("no tokens")
    return [Token(i, model.piece(i), 0, 0, "") for i in ids]


def _ids(tokens):
    return (c_int32 * len(tokens))(*[t.id for t in tokens])


def _token(model, tok, what):
    if tok is None:
        return -1
    if isinstance(tok, str):
        return model.token_id(tok)
    if isinstance(tok, bool) or not isinstance(tok, (int, np.integer)):
        raise ValueError("%s takes a token id or a word, not %r" % (what, tok))
    return int(tok)


@dataclasses.dataclass
class Attention:
    """tokens, weights (n_layer, n_head, T, T) float32: row t of a head is the
    softmax weights query t gave keys 0..t; rollout (n_layer, T, T) float64
    when asked for (Abnar & Zuidema: heads averaged, + I, rows renormalised,
    multiplied through the blocks), else None."""
    tokens: list
    weights: np.ndarray
    rollout: np.ndarray = None

    def to_dict(self):
        """The arrays of `attrib attention --json` (every block and head)."""
        L, H, T, _ = self.weights.shape
        d = {"tokens": [{"id": t.id, "piece": t.piece, "begin": t.begin, "end": t.end} for t in self.tokens],
             "n_layer": L, "n_head": H, "n_tokens": T, "layers": list(range(L)), "heads": list(range(H)),
             "shape": [L, H, T, T], "attention": self.weights.tolist()}
        if self.rollout is not None:
            d["rollout"] = {"shape": [L, T, T], "values": self.rollout.tolist()}
        return d


def attention(model, text, rollout=False):
    toks = _tokens(model, text)
    i = model.info
    T = len(toks)
    w = np.empty((i.n_layer, i.n_head, T, T), dtype=np.float32)
    with model._lock:
        check(lib.attrib_attention(model._handle(), _ids(toks), T, w.ctypes.data_as(ctypes.POINTER(ctypes.c_float))),
              "attention failed")
    r = None
    if rollout:
        r = np.empty((i.n_layer, T, T), dtype=np.float64)
        check(lib.attrib_attention_rollout(w.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), i.n_layer, i.n_head, T,
                                           r.ctypes.data_as(ctypes.POINTER(ctypes.c_double))), "rollout failed")
    return Attention(toks, w, r)


@dataclasses.dataclass
class LogitParts:
    """The last position's target logit split along the residual stream with
    the final norm frozen (attrib_logit_parts): embedding + attn.sum() +
    ffn.sum() == sum == logit up to float rounding; heads[l].sum() +
    attn_bias[l] == attn[l]; head_sources[l, h].sum() == heads[l, h]."""
    tokens: list
    token: int
    token2: int
    logit: float
    logit_capped: float
    final_rms: float
    embedding: float
    attn: np.ndarray          # (n_layer,)
    heads: np.ndarray         # (n_layer, n_head)
    head_sources: np.ndarray  # (n_layer, n_head, T)
    attn_bias: np.ndarray     # (n_layer,)
    ffn: np.ndarray           # (n_layer,)
    sum: float

    @property
    def by_source(self):
        """(T,) what the heads read, summed over blocks and heads by key position."""
        return self.head_sources.sum(axis=(0, 1))


def logit_parts(model, text, token=None, token2=None):
    toks = _tokens(model, text)
    t1, t2 = _token(model, token, "token"), _token(model, token2, "token2")
    p = ctypes.POINTER(_capi.LogitPartsC)()
    with model._lock:
        check(lib.attrib_logit_attribution(model._handle(), _ids(toks), len(toks), t1, t2, byref(p)),
              "the logit's parts")
    try:
        c = p.contents
        L, H, T = c.n_layer, c.n_head, c.n_tokens
        arr = lambda ptr, *shape: np.ctypeslib.as_array(ptr, shape=(int(np.prod(shape)),)).reshape(shape).copy()
        return LogitParts(toks, c.token, c.token2, c.logit, c.logit_capped, c.final_rms, c.embedding, arr(c.attn, L),
                          arr(c.heads, L, H), arr(c.head_sources, L, H, T), arr(c.attn_bias, L), arr(c.ffn, L), c.sum)
    finally:
        lib.attrib_logit_parts_free(p)


@dataclasses.dataclass
class LayerAttribution:
    """Attribution to the residual stream after LAYER blocks: scores (T,) per
    position (every position a feature), values (T, C) per position x
    dimension, gradients (T, C) = d target / d hidden state (saliency, gxi;
    else None), f_input, f_baseline and the completeness delta (ig)."""
    tokens: list
    layer: int
    method: str
    target_token: int
    scores: np.ndarray
    values: np.ndarray
    gradients: np.ndarray
    f_input: float
    f_baseline: float
    completeness_delta: float
    completeness_relative: float


_KINDS = {"logit": 0, "logprob": 1, "prob": 2, "diff": 3}


def explain_layer(model, text, layer, method="ig", target="logit", token=None, token2=None, steps=None, ig_tol=None,
                  mask="token", mask_token=None, span=None):
    toks = _tokens(model, text)
    m = lib.attrib_method_from_name(method.encode())
    if m < 0:
        raise ValueError("unknown method %r" % method)
    o = lib.attrib_explain_default_options(m)
    o.layer_attribution, o.layer = 1, int(layer)
    if target not in _KINDS:
        raise ValueError("target takes logit, logprob, prob or diff")
    o.target.kind = _KINDS[target]
    o.target.token, o.target.token2 = _token(model, token, "token"), _token(model, token2, "token2")
    if steps is not None:
        o.ig_steps, o.ig_tol = int(steps), 0.0
    if ig_tol is not None:
        o.ig_tol = float(ig_tol)
    masks = {"token": 0, "zero": 1}
    if mask not in masks:
        raise ValueError("mask takes token or zero (an embedding baseline)")
    o.mask = masks[mask]
    if mask_token is not None:
        o.mask_token = int(mask_token)
    if span is not None:
        o.span_begin, o.span_end = span
    r = ctypes.POINTER(_capi.ResultC)()
    with model._lock:
        check(lib.attrib_explain(model._handle(), _ids(toks), len(toks), byref(o), byref(r)), "%s failed" % method)
    try:
        c = r.contents
        T, C = c.n_tokens, model.info.n_embd
        vec = lambda ptr, n: np.ctypeslib.as_array(ptr, shape=(n,)).copy()
        nan = lambda v: None if v != v else v
        return LayerAttribution(toks, c.layer, method, c.target_token, vec(c.scores, T),
                                vec(c.layer_values, T * C).reshape(T, C),
                                vec(c.gradients, T * C).reshape(T, C) if c.gradients else None, c.f_input,
                                nan(c.f_baseline), nan(c.completeness_delta), nan(c.completeness_relative))
    finally:
        lib.attrib_result_free(r)
