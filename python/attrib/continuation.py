"""explain_continuation(): why did the model write this answer? The Python
side of `attrib explain MODEL TEXT --generate N / --continuation ANS`
(tools/cli/cmd_explain_gen.c), over the library's attrib_generate_greedy and
attrib_explain_continuation.

The answer is the model's own greedy one (generate=N, stopping after EOS
unless ignore_eos) or a given one (continuation=ANS, tokenized together with
the text, so ANS must start where a token starts). Every answer token's
target (by default its log-probability; or, with contrast / contrast_token,
logit(answer token) - logit(contrast token)) is attributed to the text's
tokens and to the answer tokens before it: Continuation.matrix has one row
per answer token and one column per position 0 .. n-2 (NaN where a position
is no source of that row). to_dict() gives the fields of the CLI's --json
document that do not depend on rendering.
"""
import ctypes
import math
from ctypes import POINTER, Structure, byref, c_double, c_int, c_int32, c_int64

import numpy as np

from . import _capi
from ._capi import lib
from .errors import check
from .explain import _KINDS, MASK_NAMES, METHODS, RULE_NAMES, TARGET_NAMES, _int, _methods, _pick, _piece_text, _reads, word_token
from .model import _text_bytes


class ContinuationC(Structure):
    """attrib_continuation (include/attrib.h), field by field."""
    _fields_ = [
        ("method", c_int), ("target_kind", c_int), ("n_tokens", c_int), ("n_prompt", c_int), ("n_gen", c_int),
        ("n_src", c_int), ("ids", POINTER(c_int32)), ("contrast", POINTER(c_int32)), ("matrix", POINTER(c_double)),
        ("std_errors", POINTER(c_double)), ("f", POINTER(c_double)), ("f_baseline", POINTER(c_double)),
        ("sum", POINTER(c_double)), ("delta", POINTER(c_double)), ("relative", POINTER(c_double)),
        ("prompt_begin", c_int), ("prompt_end", c_int), ("ig_row", POINTER(c_int)), ("ig_nodes", POINTER(c_double)),
        ("ig_weights", POINTER(c_double)), ("ig_cap_reached", c_int), ("mask", c_int), ("mask_token", c_int32),
        ("n_forward", c_int64), ("n_backward", c_int64), ("seconds", c_double),
    ]


_capi.STRUCTS["attrib_continuation"] = ContinuationC
for _name, (_res, _args) in {
    "attrib_generate_greedy": (c_int, [ctypes.c_void_p, POINTER(c_int32), c_int, c_int, c_int, POINTER(c_int32), POINTER(c_int)]),
    "attrib_explain_continuation": (c_int, [ctypes.c_void_p, POINTER(c_int32), c_int, c_int, POINTER(c_int32),
                                            POINTER(_capi.ExplainOptions), POINTER(POINTER(ContinuationC))]),
    "attrib_continuation_free": (None, [POINTER(ContinuationC)]),
    "attrib_tokenizer_eos": (c_int, [ctypes.c_void_p]),
}.items():
    getattr(lib, _name).restype, getattr(lib, _name).argtypes = _res, _args


class Continuation:
    """One answer's attribution: ids, tokens (dicts with id, piece, text,
    role), n_prompt, matrix (G, n-1) with NaN where no source, f, f_baseline,
    sum, completeness_delta, completeness_relative (per step, NaN where not
    computed), prompt_share (of each row's |attribution|), contrast (token
    ids per step or None), ig_nodes / ig_weights (per step, IG), method,
    target, settings and cost."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def answer_ids(self):
        return self.ids[self.n_prompt:]

    def __repr__(self):
        return "attrib.Continuation(%s, %d prompt + %d answer tokens: %r)" % (
            self.method, self.n_prompt, len(self.answer_ids), self.answer_text)

    def to_dict(self):
        def num(v):
            return None if math.isnan(v) else float(v)
        steps = []
        for j, pos in enumerate(range(self.n_prompt, len(self.ids))):
            st = dict(position=pos, token=self.ids[pos], text=self.tokens[pos]["text"], f=float(self.f[j]),
                      f_baseline=num(self.f_baseline[j]), sum=float(self.sum[j]),
                      completeness_delta=num(self.completeness_delta[j]),
                      completeness_relative=num(self.completeness_relative[j]),
                      prompt_share=num(self.prompt_share[j]),
                      answer_share=None if math.isnan(self.prompt_share[j]) else 1 - float(self.prompt_share[j]))
            if self.contrast is not None:
                st["contrast"] = dict(token=self.contrast[j])
            steps.append(st)
        return dict(kind="attrib.continuation/1", mode=self.mode, method=self.method, target=dict(kind=self.target),
                    text=self.text, answer_text=self.answer_text, n_prompt=self.n_prompt,
                    prompt_span=list(self.prompt_span), tokens=self.tokens, steps=steps,
                    matrix=[[num(v) for v in row] for row in self.matrix], cost=dict(self.cost))


def _split(toks, n_bytes, what):
    """Tokens lying in the first N_BYTES bytes; ValueError when one spans the boundary."""
    k = 0
    while k < len(toks) and (toks[k][2] <= n_bytes or (toks[k][1] == toks[k][2] and toks[k][1] < n_bytes)):
        k += 1
    if k < len(toks) and toks[k][1] < n_bytes:
        raise ValueError("the first token of %s merges with the end of the text (token %d covers bytes %d-%d, the "
                         "text ends at %d): start the answer where a token starts, e.g. with a space"
                         % (what, toks[k][0], toks[k][1], toks[k][2], n_bytes))
    return k


def _joint(model, text, answer):
    """The tokens of TEXT + ANSWER (BOS as the tokenizer says, a trailing EOS dropped)."""
    toks = model._tokenize_raw(text + answer, 1)
    eos = lib.attrib_tokenizer_eos(model._tokenizer())
    if toks and toks[-1][0] == eos and toks[-1][1] == toks[-1][2]:
        toks = toks[:-1]
    return toks


def explain_continuation(model, text, generate=None, continuation=None, method="ig", *, target=None, contrast=None,
                         contrast_token=None, ignore_eos=False, span=None, mask="token", mask_token=None, n_steps=None,
                         rule=None, ig_tol=None, max_steps=None, norm="l2", samples=None, noise=None, on_gxi=False,
                         window=1, stride=1, seed=0, batch=None, memory_mb=None):
    """Model.explain_continuation: the options are those of `attrib explain ... --generate N` (docs/continuation.md)."""
    if (generate is None) == (continuation is None):
        raise ValueError("give generate=N or continuation=TEXT (one of them)")
    if generate is not None:
        generate = _int("generate", generate, 1, 1 << 20)
    if continuation is not None and ignore_eos:
        raise ValueError("ignore_eos goes with generate")
    m = _methods(method)
    if len(m) != 1:
        raise ValueError("one method at a time")
    m = m[0]
    if contrast is not None and contrast_token is not None:
        raise ValueError("give contrast or contrast_token, not both")
    has_contrast = contrast is not None or contrast_token is not None
    o = lib.attrib_explain_default_options(m)
    kind = target if target is not None else ("diff" if has_contrast else "logprob")
    if kind not in _KINDS:
        raise ValueError("target takes logit, logprob, prob or diff, not %r" % (kind,))
    o.target.kind = _KINDS[kind]
    if has_contrast and o.target.kind != 3:
        raise ValueError("a contrast's target is the logit difference (target='diff'), not %r" % kind)
    if not has_contrast and o.target.kind == 3:
        raise ValueError("target='diff' needs contrast=TEXT or contrast_token=WORD")
    if span is not None:
        b, e = span
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b < e):
            raise ValueError("span takes (B, E) with 0 <= B < E")
        o.span_begin, o.span_end = b, e
    o.mask = _pick("mask", mask, MASK_NAMES)
    if mask_token is not None:
        o.mask_token = _int("mask_token", mask_token, 0, 1 << 24)
    if n_steps is not None:
        o.ig_steps, o.ig_tol = _int("n_steps", n_steps, 1, 4096), 0.0
    if rule is not None:
        o.ig_rule, o.ig_tol = _pick("rule", rule, RULE_NAMES), 0.0
    if ig_tol is not None:
        if not (isinstance(ig_tol, (int, float)) and 0 <= ig_tol < 1):
            raise ValueError("ig_tol takes a number in [0, 1)")
        if ig_tol > 0 and (n_steps is not None or rule is not None):
            raise ValueError("n_steps and rule choose the fixed IG rule, ig_tol the adaptive one: give one")
        o.ig_tol = float(ig_tol)
    if max_steps is not None:
        o.ig_max_steps = _int("max_steps", max_steps, 8, 65536)
    o.norm = _pick("norm", norm, ["l2", "l1"])
    if samples is not None:
        s = _int("samples", samples, 1, 65536)
        if _reads(m, "SMOOTH"):
            o.smooth_samples = s
        else:
            o.samples = s
    if noise is not None:
        o.smooth_noise = float(noise)
    o.smooth_on_gxi = 1 if on_gxi else 0
    o.window, o.stride = _int("window", window, 1, 1 << 20), _int("stride", stride, 1, 1 << 20)
    o.seed = int(seed)
    if batch is not None:
        o.batch = _int("batch", batch, 1, 1 << 20)
    if memory_mb is not None:
        o.memory_budget = _int("memory_mb", memory_mb, 16, 1 << 20) << 20

    data = _text_bytes(text)
    if not data:
        raise ValueError("the text is empty: a continuation needs a prompt")
    ans = _text_bytes(continuation, "continuation") if continuation is not None else b""
    if continuation is not None and not ans:
        raise ValueError("continuation is empty: there is nothing to explain")
    toks = _joint(model, data, ans)
    P = _split(toks, len(data), "continuation")
    bos = lib.attrib_tokenizer_bos(model._tokenizer())
    if P == 0 or (P == 1 and toks[0][0] == bos):
        raise ValueError("the text has no token to attribute (BOS is never a source)")
    G = len(toks) - P if continuation is not None else generate
    if continuation is not None and G == 0:
        raise ValueError("continuation gives no token to explain")
    ctx = model.info.n_ctx_train
    if P + G > ctx:
        raise ValueError("the text (%d tokens) + the answer (%d tokens) exceed the model's context of %d tokens" % (P, G, ctx))
    ids = (c_int32 * (P + G))(*[t[0] for t in toks[:P + G]] + [0] * (P + G - min(len(toks), P + G)))
    with model._lock:
        h = model._handle()
        if continuation is None:
            got, out = c_int(), (c_int32 * G)()
            check(lib.attrib_generate_greedy(h, ids, P, G, 0 if ignore_eos else 1, out, byref(got)),
                  "cannot generate the answer")
            G = got.value
            ids[P:P + G] = out[:G]
        id_list = list(ids[:P + G])
        contrast_ids = None
        if contrast_token is not None:
            c = contrast_token if isinstance(contrast_token, int) else word_token(model, None, contrast_token, "contrast_token")
            contrast_ids = [_int("contrast_token", c, 0, model.info.n_vocab - 1)] * G
        elif contrast is not None:
            ct = _joint(model, data, _text_bytes(contrast, "contrast"))
            cp = _split(ct, len(data), "contrast")
            if [t[0] for t in ct[:cp]] != id_list[:P]:
                raise ValueError("the text tokenizes differently before contrast than before the answer")
            if len(ct) - cp < G:
                raise ValueError("contrast has %d tokens but the answer has %d: step j is contrasted with the contrast's "
                                 "token j, so it needs at least as many" % (len(ct) - cp, G))
            contrast_ids = [t[0] for t in ct[cp:cp + G]]
        carr = (c_int32 * G)(*contrast_ids) if contrast_ids is not None else None
        res = POINTER(ContinuationC)()
        check(lib.attrib_explain_continuation(h, ids, P, P + G, carr, byref(o), byref(res)), "cannot explain the answer")
    try:
        r = res.contents
        S = r.n_src
        mat = np.ctypeslib.as_array(r.matrix, shape=(G * S,)).reshape(G, S).copy() if G * S else np.zeros((G, S))
        per_step = lambda p: np.ctypeslib.as_array(p, shape=(G,)).copy()  # noqa: E731
        f, fb, sm, dl, rel = (per_step(p) for p in (r.f, r.f_baseline, r.sum, r.delta, r.relative))
        nodes = weights = None
        if r.ig_row:
            nodes = [[r.ig_nodes[k] for k in range(r.ig_row[j], r.ig_row[j + 1])] for j in range(G)]
            weights = [[r.ig_weights[k] for k in range(r.ig_row[j], r.ig_row[j + 1])] for j in range(G)]
        cost = dict(n_forward=r.n_forward, n_backward=r.n_backward, seconds=r.seconds)
        span = (r.prompt_begin, r.prompt_end)
        kind_name = TARGET_NAMES[r.target_kind]
    finally:
        lib.attrib_continuation_free(res)
    absm = np.where(np.isnan(mat), 0.0, np.abs(mat))
    total = absm.sum(1)
    share = np.where(total > 0, absm[:, :P].sum(1) / np.where(total > 0, total, 1), np.nan)
    prompt_text = model._decode_bytes(id_list[:P], False)
    whole = model._decode_bytes(id_list, False)
    tokens = []
    for i, t in enumerate(id_list):
        if i < len(toks) and (continuation is not None or i < P) and toks[i][2] > toks[i][1]:
            txt = (data + ans)[toks[i][1]:toks[i][2]].decode("utf-8", "replace")
        elif i >= P:
            txt = (model._decode_bytes(id_list[:i + 1], False)[len(model._decode_bytes(id_list[:i], False)):]
                   .decode("utf-8", "replace"))
        else:
            txt = model.piece(t)
        tokens.append(dict(position=i, id=t, piece=model.piece(t), text=txt, role="prompt" if i < P else "answer"))
    answer_text = (ans if continuation is not None else whole[len(prompt_text):]).decode("utf-8", "replace")
    return Continuation(mode="continuation" if continuation is not None else "generate", method=METHODS[m],
                        target=kind_name, text=data.decode("utf-8", "replace"), answer_text=answer_text, ids=id_list,
                        n_prompt=P, tokens=tokens, matrix=mat, f=f, f_baseline=fb, sum=sm, completeness_delta=dl,
                        completeness_relative=rel, prompt_share=share, contrast=contrast_ids,
                        contrast_texts=[_piece_text(model, c) for c in contrast_ids] if contrast_ids else None,
                        ig_nodes=nodes, ig_weights=weights, prompt_span=span, cost=cost)
