"""attrib.Model: a loaded model, its tokenizer, and the entry points
(tokenize, explain / attribute, compare) of the Python binding.

A Model owns one attrib_model handle. The C library allows one thread at a
time per handle, so every call into it takes the model's lock; two Model
objects run in parallel from two threads, because ctypes releases the GIL
for the length of each C call. Model.share() gives the second one without
loading the weights again.
"""
import ctypes
import dataclasses
import threading
import typing
import weakref
from ctypes import byref, c_int32, c_size_t, c_void_p

import numpy as np

from . import _capi
from ._capi import lib
from .errors import AttribError, check

_DTYPE_NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K",
                12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 20: "IQ4_NL", 23: "IQ4_XS", 30: "BF16"}


def _s(b):
    return b.decode("utf-8", "replace") if b is not None else None


def _text_bytes(text, what="text"):
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    raise TypeError("%s must be str or bytes, not %s" % (what, type(text).__name__))


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What attrib_model_get_info says about a model (see include/attrib.h)."""
    path: str
    format: str  # "gguf" or "hf"
    arch: str
    name: str
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    n_vocab: int
    n_ctx_train: int
    rms_eps: float
    rope_theta: float
    rope_layout: str  # "interleaved" or "half"
    rope_dim: int
    has_rope_freqs: bool
    has_qkv_bias: bool
    tied_output: bool
    n_params: int
    weight_bytes: int
    dtype_counts: dict  # {"F32": 48, ...}: tensors per stored type
    activation: str
    has_qk_norm: bool
    has_post_norms: bool
    embed_scale: float
    attn_scale: float
    attn_softcap: float
    final_softcap: float
    sliding_window: int
    n_windowed_layers: int
    rope_theta_local: float

    @classmethod
    def _from_c(cls, c):
        counts = {_DTYPE_NAMES.get(i, str(i)): int(c.dtype_counts[i]) for i in range(_capi.DTYPE_COUNT) if c.dtype_counts[i]}
        return cls(path=_s(c.path), format="hf" if c.format == 1 else "gguf", arch=_s(c.arch), name=_s(c.name) or "",
                   n_layer=c.n_layer, n_embd=c.n_embd, n_head=c.n_head, n_head_kv=c.n_head_kv, head_dim=c.head_dim,
                   n_ff=c.n_ff, n_vocab=c.n_vocab, n_ctx_train=c.n_ctx_train, rms_eps=c.rms_eps, rope_theta=c.rope_theta,
                   rope_layout="half" if c.rope_layout == 1 else "interleaved", rope_dim=c.rope_dim,
                   has_rope_freqs=bool(c.has_rope_freqs), has_qkv_bias=bool(c.has_qkv_bias),
                   tied_output=bool(c.tied_output), n_params=int(c.n_params), weight_bytes=int(c.weight_bytes),
                   dtype_counts=counts, activation=_s(c.activation), has_qk_norm=bool(c.has_qk_norm),
                   has_post_norms=bool(c.has_post_norms), embed_scale=c.embed_scale, attn_scale=c.attn_scale,
                   attn_softcap=c.attn_softcap, final_softcap=c.final_softcap, sliding_window=c.sliding_window,
                   n_windowed_layers=c.n_windowed_layers, rope_theta_local=c.rope_theta_local)


class Token(typing.NamedTuple):
    """A token: its id, its vocabulary piece, and the bytes [begin, end) of the
    UTF-8 text it covers (begin == end for BOS/EOS)."""
    id: int
    piece: str
    begin: int
    end: int
    text: str = ""  # the covered text (U+FFFD where a span splits a character)


class Model:
    """A GGUF file or Hugging Face directory loaded by libattrib.

        with attrib.Model("stories260K-f32.gguf", threads=2) as m:
            print(m.info.arch, m.tokenize("Once upon a time"))
            a = m.explain("Once upon a time there was a little girl named", method="ig")

    threads: worker threads inside each call (0 = every online CPU).
    check_weights: scan every weight for NaN/Inf at load.
    compute: "exact" (default) or "fast": forward-only passes multiply
    Q8_0/Q4_0/Q4_K/Q5_K/Q6_K weights by int8-rounded activations, as
    llama.cpp does (the CLI's --compute; see attrib_model_set_compute).
    Raises AttribError (with the library's status and message) when the
    model cannot be loaded.
    """

    def __init__(self, path, threads=2, check_weights=False, compute="exact"):
        self._h = None
        self._lock = threading.RLock()
        self.threads = int(threads)
        if self.threads < 0:
            raise ValueError("threads must be >= 0 (0 = every online CPU)")
        opt = lib.attrib_model_default_options()
        opt.n_threads = self.threads
        opt.check_weights = 1 if check_weights else 0
        h = c_void_p()
        check(lib.attrib_model_load(_text_bytes(str(path), "path"), byref(opt), byref(h)), "cannot load %s" % path)
        self._adopt(h, str(path), None)
        self.compute = compute

    def _adopt(self, h, path, owner):
        self._h = h
        self.path = path
        self.info = ModelInfo._from_c(lib.attrib_model_get_info(h).contents)
        self._tok = lib.attrib_model_tokenizer(h)
        self._sha = owner._sha if owner else None
        self._pieces = owner._pieces if owner else {}  # id -> piece bytes (the vocabulary never changes)
        self._owner = owner  # keeps the weights' owner alive while this handle lives
        self._shares = weakref.WeakSet()

    def share(self, threads=None):
        """A second Model on this one's weights and tokenizer, for another thread.

        Nothing is loaded again (attrib_model_share): the new Model has its own
        scratch memory, thread count (`threads`, default this model's) and
        compute mode (copied), so the two can explain at the same time from two
        Python threads, each on one of them. Its results equal this model's.
        Closing this model first closes its shares.

            base = attrib.Model("model.gguf", threads=1)
            other = base.share()
            # thread 1: base.explain(...); thread 2: other.explain(...)
        """
        owner = self._owner or self
        with self._lock:
            h = c_void_p()
            check(lib.attrib_model_share(self._handle(), byref(h)), "cannot share %s" % self.path)
        m = Model.__new__(Model)
        m._lock = threading.RLock()
        m.threads = self.threads if threads is None else int(threads)
        if m.threads < 0:
            lib.attrib_model_free(h)
            raise ValueError("threads must be >= 0 (0 = every online CPU)")
        m._adopt(h, self.path, owner)
        lib.attrib_model_set_threads(h, m.threads)
        owner._shares.add(m)
        return m

    @property
    def compute(self):
        """How forward-only passes multiply quantised weights: "exact" or "fast"."""
        return "fast" if lib.attrib_model_get_compute(self._handle()) == 1 else "exact"

    @compute.setter
    def compute(self, mode):
        if mode not in ("exact", "fast"):
            raise ValueError("compute takes exact or fast")
        with self._lock:
            lib.attrib_model_set_compute(self._handle(), 1 if mode == "fast" else 0)

    # -- lifetime ---------------------------------------------------------
    def close(self):
        """Frees the model (also done by `with` and by garbage collection)."""
        for sh in list(getattr(self, "_shares", ())):
            sh.close()  # the C library wants shared handles freed before their owner
        with self._lock:
            if self._h:
                lib.attrib_model_free(self._h)
                self._h = None
                self._tok = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        i = self.info
        return "attrib.Model(%r: %s, %d layers, width %d, vocabulary %d, %d parameters)" % (
            self.path, i.arch, i.n_layer, i.n_embd, i.n_vocab, i.n_params)

    def _handle(self):
        if not self._h:
            raise ValueError("the model is closed")
        return self._h

    def _tokenizer(self):
        self._handle()
        if not self._tok:
            raise AttribError(22, "%s has no tokenizer" % self.path)
        return self._tok

    @property
    def sha256(self):
        """SHA-256 of the weight file(s), as the CLI and probes record it."""
        if self._sha is None:
            with self._lock:
                r = lib.attrib_model_sha256(self._handle())
                if r is None:
                    check(2, "cannot hash the model")
                self._sha = r.decode()
        return self._sha

    # -- tokenizer --------------------------------------------------------
    def piece_bytes(self, id):
        """The vocabulary piece of token ID as raw bytes (b"" for an invalid id)."""
        b = self._pieces.get(id)
        if b is None:
            n = c_size_t()
            p = lib.attrib_tokenizer_piece(self._tokenizer(), int(id), byref(n)) if id >= 0 else None
            b = self._pieces[id] = ctypes.string_at(p, n.value) if p else b""
        return b

    def piece(self, id):
        return self.piece_bytes(id).decode("utf-8", "replace")

    def decode(self, ids, keep_special=False):
        """The text of token ids (special tokens skipped unless keep_special)."""
        return self._decode_bytes(ids, keep_special).decode("utf-8", "replace")

    def _decode_bytes(self, ids, keep_special):
        ids = list(ids)
        arr = (c_int32 * max(1, len(ids)))(*ids)
        out = ctypes.POINTER(ctypes.c_char)()
        n = c_size_t()
        check(lib.attrib_detokenize(self._tokenizer(), arr, len(ids), 1 if keep_special else 0, byref(out), byref(n)),
              "cannot decode")
        return _capi.take_string(out, n.value)

    def _tokenize_raw(self, data, flags):
        toks = ctypes.POINTER(_capi.TokenC)()
        n = c_size_t()
        check(lib.attrib_tokenize(self._tokenizer(), data, len(data), flags, byref(toks), byref(n)), "cannot tokenize")
        try:
            return [(toks[i].id, toks[i].begin, toks[i].end) for i in range(n.value)]
        finally:
            lib.attrib_free(toks)

    def tokenize(self, text, add_special=True, parse_special=False):
        """The model's tokens of TEXT, each with its id, piece and byte span.
        add_special adds BOS/EOS as the tokenizer's configuration says;
        parse_special recognises special-token text such as "<s>"."""
        data = _text_bytes(text)
        flags = (1 if add_special else 0) | (2 if parse_special else 0)
        return [Token(i, self.piece(i), b, e, data[b:e].decode("utf-8", "replace"))
                for i, b, e in self._tokenize_raw(data, flags)]

    def token_id(self, word, template=None):
        """The one token the model would produce for WORD written as in text
        (e.g. " Lily", with its leading space), as `attrib tokenize
        --single-token` finds it; after TEMPLATE's rendered text when given.
        Raises ValueError when WORD is not exactly one token there."""
        from .explain import word_token
        tmpl = None
        if template is not None:
            from .explain import resolve_template
            tmpl = resolve_template(self, template)[0]
        return word_token(self, tmpl, word, "word")

    # -- the model --------------------------------------------------------
    def next_token_logits(self, ids):
        """Logits (V,) of the next token after token ids IDS."""
        ids = [int(i) for i in ids]
        if not ids:
            raise ValueError("no tokens")
        arr = (c_int32 * len(ids))(*ids)
        out = np.empty(self.info.n_vocab, dtype=np.float32)
        b = _capi.Batch()
        b.n_seq = 1
        b.n_tokens = len(ids)
        b.tokens = arr
        b.logits_mode = 1  # ATTRIB_LOGITS_LAST
        with self._lock:
            check(lib.attrib_forward(self._handle(), byref(b), None,
                                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))), "forward pass failed")
        return out

    def explain(self, text, method="ig", **options):
        """Attributions of the model's prediction after TEXT to TEXT's tokens.
        Equal, for the same settings, to `attrib explain MODEL TEXT --json`.
        METHOD is one name or a list of names (then an Explanation holding one
        Attribution per method is returned). See docs/python.md for options."""
        from .explain import explain
        return explain(self, text, method, **options)

    def attribute(self, text, method="ig", **options):
        """Captum-style spelling of explain()."""
        return self.explain(text, method, **options)

    def explain_continuation(self, text, generate=None, continuation=None, method="ig", **options):
        """Why the model wrote an answer after TEXT: its own greedy answer of
        GENERATE tokens, or the given CONTINUATION (forced). Every answer token's
        log-probability (or target=, contrast=) is attributed to TEXT's tokens
        and the answer tokens before it: an attrib.Continuation with a (answer
        tokens x positions) matrix. `attrib explain TEXT --generate N --json`."""
        from .continuation import explain_continuation
        return explain_continuation(self, text, generate, continuation, method, **options)

    # -- inside the model (inside.py) --------------------------------------
    def attention(self, text, rollout=False):
        """The attention weights of every block and head on TEXT (str or bytes,
        BOS added as the tokenizer says, or a list of token ids): an
        attrib.Attention with weights (n_layer, n_head, T, T) and, with
        rollout=True, the attention rollout (n_layer, T, T). `attrib attention`."""
        from .inside import attention
        return attention(self, text, rollout)

    def logit_parts(self, text, token=None, token2=None):
        """Direct logit attribution: the last position's logit of TOKEN (id or
        word; default the top-1 next token), or logit(TOKEN) - logit(TOKEN2),
        split into the embedding, each block's attention (per head, per key
        position) and FFN, summing to it. `attrib explain --layer-summary`."""
        from .inside import logit_parts
        return logit_parts(self, text, token, token2)

    def explain_layer(self, text, layer, method="ig", **options):
        """Layer attribution: METHOD (saliency, gxi or ig) attributing the
        target to the residual stream after LAYER blocks, every position a
        feature; options target, token, token2, steps, ig_tol, mask,
        mask_token, span. `attrib explain --layer L`."""
        from .inside import explain_layer
        return explain_layer(self, text, layer, method, **options)

    def compare(self, data, probe=None, methods=None, **options):
        """Every method on every prompt of a labelled dataset: the document of
        `attrib compare` (computed by the attrib command-line tool; see
        docs/python.md)."""
        from .compare import compare
        return compare(self, data, probe=probe, methods=methods, **options)
