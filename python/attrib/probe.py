"""attrib.Probe: a linear probe on a layer's hidden state (the harmful-query
classifier for models that cannot judge by prompting), trained, saved and
loaded by the library exactly as `attrib probe train` does: every prompt
goes through the template (plain by default), the model runs it up to LAYER,
the hidden state is pooled, and L2-regularised logistic regression is fitted
with L2 chosen on a stratified validation split."""
import ctypes
import dataclasses
import os
from ctypes import byref, c_int, c_int32, c_void_p

import numpy as np

from . import _capi
from ._capi import lib
from .errors import check
from .model import _text_bytes


@dataclasses.dataclass(frozen=True)
class ProbeReport:
    l2: float
    n_train: int
    n_val: int
    train_accuracy: float
    val_accuracy: float
    train_auroc: float
    val_auroc: float
    val_confusion: list  # [[tn, fp], [fn, tp]]
    iterations: int

    @classmethod
    def _from_c(cls, r):
        return cls(r.l2, r.n_train, r.n_val, r.train_accuracy, r.val_accuracy, r.train_auroc, r.val_auroc,
                   [[r.val_confusion[0][0], r.val_confusion[0][1]], [r.val_confusion[1][0], r.val_confusion[1][1]]],
                   r.iterations)


def load_dataset(path, default_label=-1, text_col=None, label_col=None, positive=None, limit=0, sample=0, seed=0):
    """Rows of a CSV / JSON / JSONL file as read by the library: [(text, label)],
    label 1 positive (harmful), 0 negative, -1 unknown."""
    o = lib.attrib_dataset_default_options()
    keep = [x.encode() if isinstance(x, str) else x for x in (text_col, label_col, positive)]
    o.text_col, o.label_col, o.positive = keep
    o.default_label = default_label
    o.limit, o.sample, o.seed = int(limit), int(sample), int(seed)
    ds = c_void_p()
    check(lib.attrib_dataset_load(_text_bytes(os.fspath(path), "path"), byref(o), byref(ds)), "cannot load %s" % path)
    try:
        rows = []
        n = ctypes.c_size_t()
        for i in range(lib.attrib_dataset_size(ds)):
            p = lib.attrib_dataset_text(ds, i, byref(n))
            rows.append((ctypes.string_at(p, n.value).decode("utf-8", "replace"), lib.attrib_dataset_label(ds, i)))
        return rows
    finally:
        lib.attrib_dataset_free(ds)


def _prompt_ids(model, texts, template):
    from .explain import resolve_template
    tmpl = resolve_template(model, template)[0]
    tok = model._tokenizer()
    out = []
    for t in texts:
        data = _text_bytes(t)
        p = ctypes.POINTER(_capi.PromptC)()
        check(lib.attrib_template_apply(tok, tmpl, data, len(data), byref(p)), "prompt %r" % (t[:60],))
        out.append((c_int32 * p.contents.n)(*p.contents.ids[:p.contents.n]))
        lib.attrib_prompt_free(p)
    return out


def _features(model, ids, layer, pool):
    n = len(ids)
    x = np.empty((max(n, 1), model.info.n_embd), dtype=np.float32)
    ptrs = (ctypes.POINTER(c_int32) * max(n, 1))(*[ctypes.cast(a, ctypes.POINTER(c_int32)) for a in ids])
    lens = (c_int * max(n, 1))(*[len(a) for a in ids])
    with model._lock:
        check(lib.attrib_model_features(model._handle(), ptrs, lens, n, layer, pool,
                                        x.ctypes.data_as(ctypes.POINTER(ctypes.c_float))), "cannot compute hidden states")
    return x[:n]


def _rows(arg, label, **data):
    """A list of texts, or a file of them (every row gets LABEL)."""
    if arg is None:
        return []
    if isinstance(arg, (str, bytes, os.PathLike)):
        return [(t, label) for t, _ in load_dataset(arg, default_label=label, **data)]
    return [(t, label) for t in arg]


class Probe:
    """A trained probe. Probe.train(...) fits one; Probe.load(path) reads a
    file from `attrib probe train` or Probe.save."""

    def __init__(self, handle, path=None):
        self._h = handle
        self.path = path
        self.layer = lib.attrib_probe_layer(handle)
        self.pool = lib.attrib_pool_name(lib.attrib_probe_pool(handle)).decode()
        self.dim = lib.attrib_probe_dim(handle)
        self.model_sha256 = lib.attrib_probe_model_sha256(handle).decode()
        self.report = ProbeReport._from_c(lib.attrib_probe_get_report(handle).contents)

    @classmethod
    def load(cls, path):
        h = c_void_p()
        check(lib.attrib_probe_load(_text_bytes(os.fspath(path), "path"), byref(h)), "cannot load probe %s" % path)
        return cls(h, os.fspath(path))

    @classmethod
    def train(cls, model, harmful=None, harmless=None, *, texts=None, labels=None, layer=None, pool="mean",
              template="plain", val_fraction=0.2, seed=0, l2=None, max_iter=None, sample=0, limit=0, data_seed=None):
        """Fits a probe on MODEL's hidden states after LAYER blocks (default:
        half way, rounded up, as the CLI). HARMFUL / HARMLESS: lists of texts or
        files whose every row has that label (sample / limit / data_seed apply
        to each file, as the CLI's --sample / --limit / --data-seed); or
        TEXTS with LABELS (1 harmful, 0 harmless)."""
        data = dict(sample=sample, limit=limit, seed=seed if data_seed is None else data_seed)
        rows = _rows(harmful, 1, **data) + _rows(harmless, 0, **data)
        if texts is not None:
            if labels is None or len(labels) != len(texts):
                raise ValueError("texts needs labels of the same length")
            rows += [(t, 1 if int(y) else 0) for t, y in zip(texts, labels)]
        if not rows:
            raise ValueError("no training data")
        if layer is None:
            layer = (model.info.n_layer + 1) // 2
        if not 0 <= int(layer) <= model.info.n_layer:
            raise ValueError("layer %s is beyond the model's %d blocks" % (layer, model.info.n_layer))
        p = lib.attrib_pool_from_name(_text_bytes(pool, "pool"))
        if p < 0:
            raise ValueError("pool takes mean or last")
        x = _features(model, _prompt_ids(model, [t for t, _ in rows], template), int(layer), p)
        y = (c_int * len(rows))(*[lab for _, lab in rows])
        to = lib.attrib_probe_default_train_options()
        to.val_fraction = float(val_fraction)
        to.seed = int(seed)
        if l2 is not None:
            l2 = list(l2)
            if not 1 <= len(l2) <= 16:
                raise ValueError("l2 takes 1 to 16 candidate strengths")
            to.n_l2 = len(l2)
            for i, v in enumerate(l2):
                to.l2[i] = float(v)
        if max_iter is not None:
            to.max_iter = int(max_iter)
        h = c_void_p()
        rep = _capi.ProbeReportC()
        with model._lock:
            check(lib.attrib_probe_train(model._handle(), int(layer), p, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                         y, len(rows), byref(to), byref(h), byref(rep)), "cannot train the probe")
        probe = cls(h)
        probe.template = template
        return probe

    def save(self, path, description=None):
        check(lib.attrib_probe_save(self._handle(), _text_bytes(os.fspath(path), "path"),
                                    description.encode() if description else None), "cannot save the probe")
        self.path = os.fspath(path)
        return self

    def _handle(self):
        if not self._h:
            raise ValueError("the probe is closed")
        return self._h

    def check_model(self, model):
        check(lib.attrib_probe_check_model(self._handle(), model._handle()), "cannot apply the probe")

    def predict(self, model, texts, template="plain"):
        """The probe's logit (harmful > 0) of each text: numpy (n,)."""
        self.check_model(model)
        ids = _prompt_ids(model, texts, template)
        n = len(ids)
        out = np.empty(max(n, 1), dtype=np.float64)
        ptrs = (ctypes.POINTER(c_int32) * max(n, 1))(*[ctypes.cast(a, ctypes.POINTER(c_int32)) for a in ids])
        lens = (c_int * max(n, 1))(*[len(a) for a in ids])
        with model._lock:
            check(lib.attrib_probe_predict(self._handle(), model._handle(), ptrs, lens, n,
                                           out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))), "cannot predict")
        return out[:n]

    def close(self):
        if self._h:
            lib.attrib_probe_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        r = self.report
        return "<attrib.Probe layer %d, %s pooling, width %d, validation accuracy %.3f, AUROC %.3f>" % (
            self.layer, self.pool, self.dim, r.val_accuracy, r.val_auroc)
