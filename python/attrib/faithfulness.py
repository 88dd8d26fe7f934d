"""Faithfulness of attributions, from Python: does removing the features a
method ranks highest change the target (comprehensiveness, the deletion
curve), and do they alone keep it (sufficiency, the insertion curve), and
by how much more than a random ranking?

Attribution.faithfulness() and Explanation.faithfulness() call the library's
attrib_faithfulness_eval_many, the call `attrib compare` makes for each
prompt, on the explanation's own tokens, target, features and masking; the
metrics are defined in docs/metrics.md. An Explanation's methods go through
the model together, so a masked input that two rankings share is run once.
"""
from ctypes import POINTER, byref, c_double, c_void_p

import numpy as np

from . import _capi
from ._capi import lib
from .errors import check


def _metrics(f):
    """One attrib_faithfulness as a dict with the keys of `attrib compare`'s
    JSON ("faithfulness" of a method, "random" of a prompt)."""
    nk = next((j for j in range(8) if f.k[j] <= 0), 8)
    d = {"comprehensiveness_aopc": f.comprehensiveness_aopc, "sufficiency_aopc": f.sufficiency_aopc,
         "deletion_auc": f.deletion_auc, "insertion_auc": f.insertion_auc,
         "k": [f.k[j] for j in range(nk)], "comprehensiveness": [f.comprehensiveness[j] for j in range(nk)],
         "sufficiency": [f.sufficiency[j] for j in range(nk)],
         "counts": [f.counts[j] for j in range(f.n_points)], "deletion": [f.deletion[j] for j in range(f.n_points)],
         "insertion": [f.insertion[j] for j in range(f.n_points)], "f_full": f.f_full, "f_empty": f.f_empty,
         "n_evaluations": int(f.n_evaluations)}
    d["random"] = {"comprehensiveness_aopc": f.random_comprehensiveness_aopc,
                   "sufficiency_aopc": f.random_sufficiency_aopc, "deletion_auc": f.random_deletion_auc,
                   "insertion_auc": f.random_insertion_auc}
    return d


def _options(fractions, curve_points, random_orders, seed):
    fo = lib.attrib_faithfulness_default_options()
    if fractions is not None:
        fr = [fractions] if isinstance(fractions, (int, float)) else list(fractions)
        if not 1 <= len(fr) <= 8 or not all(isinstance(x, (int, float)) and 0 < x <= 1 for x in fr):
            raise ValueError("fractions takes 1 to 8 numbers in (0, 1], the shares of top features removed or kept")
        fo.n_fractions = len(fr)
        for j, x in enumerate(fr):
            fo.fractions[j] = float(x)
    for name, v in (("curve_points", curve_points), ("random_orders", random_orders)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError("%s takes a whole number" % name)
    fo.curve_points, fo.random_orders = int(curve_points), int(random_orders)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 1 << 64:
        raise ValueError("seed takes a whole number >= 0")
    fo.seed = int(seed)
    return fo


def faithfulness(ctx, records, fractions=None, curve_points=20, random_orders=1, seed=0):
    """The metrics of each record's ranking (a list of dicts, one per record),
    the random baseline in each dict's "random" (computed once)."""
    run = ctx.get("faith")
    if run is None:
        raise ValueError("faithfulness() is for the results of explain(): this result has no input to rerun")
    if not 1 <= len(records) <= _capi.FAITH_MAX_RANKINGS:
        raise ValueError("faithfulness takes 1 to %d rankings" % _capi.FAITH_MAX_RANKINGS)
    fo = _options(fractions, curve_points, random_orders, seed)
    n_features = len(records[0]["scores"])
    scores = [np.ascontiguousarray(r["scores"], dtype=np.float64) for r in records]
    ranked = (POINTER(c_double) * len(scores))(*[s.ctypes.data_as(POINTER(c_double)) for s in scores])
    out = (_capi.FaithC * len(scores))()
    model, ids, n = run["model"], run["ids"], run["n"]
    opts = _capi.ExplainOptions.from_buffer_copy(run["opts"])
    with model._lock:
        h = model._handle()
        prefix = c_void_p()
        if run["prefix_n"] >= 1 and lib.attrib_prefix_new(h, ids, run["prefix_n"], byref(prefix)) != 0:
            prefix = c_void_p()  # without it: the same numbers, only slower
        try:
            opts.prefix = prefix.value
            check(lib.attrib_faithfulness_eval_many(h, ids, n, byref(opts), len(scores), ranked, n_features,
                                                    byref(fo), out), "faithfulness failed")
        finally:
            lib.attrib_prefix_free(prefix)
    return [_metrics(out[r]) for r in range(len(scores))]

