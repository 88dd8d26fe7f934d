#!/usr/bin/env python3
"""bench_python.py — what the Python binding adds to a C explain call.

On a 32-token prompt (BOS + 31 tokens of stories260K), for a cheap gradient
method (saliency: the C work is one forward and one backward pass) and for
occlusion, it times, interleaved so that machine load hits all alike:

  c      attrib_explain called straight through ctypes with prepared ids and
         options (the C call plus ctypes' marshalling: the floor of any
         Python binding)
  py     Model.explain(text, method): argument checks, tokenization,
         the same C call, copying the results into numpy, the Attribution
  lib    the result's own `seconds` (timed inside the library)

The C computation itself varies from call to call on a busy machine by
more than the binding costs, so the overhead is measured around the
library's own timer: per call, the wall time outside `lib` (py - lib for
explain(), c - lib for the bare call), and the overhead is the difference of
their medians (goal: < 1 ms per call; the difference of the 10th percentiles,
less disturbed by other processes, beside it). Also printed: the cost of to_dict()
(the CLI's JSON document), which explain() does not pay until asked.

usage: bench/bench_python.py [--reps N] [--threads N]
  env: ATTRIB_LIB (default build/libattrib.so), ATTRIB_SHARED (default ../shared)
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
os.environ.setdefault("ATTRIB_LIB", os.path.join(ROOT, "build", "libattrib.so"))

import attrib  # noqa: E402
from attrib import _capi  # noqa: E402

TEXT = ("Once upon a time there was a little girl named Lily. She loved to play outside in the park with her "
        "big red ball")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    shared = os.environ.get("ATTRIB_SHARED", os.path.join(ROOT, "..", "shared"))
    m = attrib.Model(os.path.join(shared, "models", "stories260K", "stories260K-f32.gguf"), threads=args.threads)
    toks = m.tokenize(TEXT)
    text = TEXT
    while len(toks) > 32:  # trim to exactly 32 tokens
        text = text[:toks[-1].begin].rstrip()
        toks = m.tokenize(text)
    n = len(toks)
    lib = _capi.lib
    ids = (ctypes.c_int32 * n)(*[t.id for t in toks])
    print("bench_python: attrib %s, %s, %d tokens, %d thread(s), %d reps, library %s" % (
        attrib.library_version(), os.path.basename(m.path), n, args.threads, args.reps, attrib.library_path()))
    print("%-10s %9s %9s %11s %12s %12s %12s %11s" % ("method", "c ms", "py ms", "c - lib ms", "py - lib ms",
                                                      "overhead ms", "(p10 ms)", "to_dict ms"))
    for method in ("saliency", "occlusion"):
        mid = attrib.METHODS.index(method)
        opts = lib.attrib_explain_default_options(mid)
        tc, tp, oc, op, td = [], [], [], [], []
        for _ in range(5):  # warm up
            m.explain(text, method=method)
        for _ in range(args.reps):
            r = ctypes.POINTER(_capi.ResultC)()
            t0 = time.perf_counter()
            s = lib.attrib_explain(m._h, ids, n, ctypes.byref(opts), ctypes.byref(r))
            t1 = time.perf_counter()
            assert s == 0
            oc.append(t1 - t0 - r.contents.seconds)
            lib.attrib_result_free(r)
            tc.append(t1 - t0)
            t0 = time.perf_counter()
            a = m.explain(text, method=method)
            t1 = time.perf_counter()
            tp.append(t1 - t0)
            op.append(t1 - t0 - a.cost.seconds)
            t0 = time.perf_counter()
            a.to_dict()
            td.append(time.perf_counter() - t0)
        med = lambda x: 1e3 * statistics.median(x)
        p10 = lambda x: 1e3 * sorted(x)[len(x) // 10]
        print("%-10s %9.3f %9.3f %11.4f %12.4f %12.4f %12.4f %11.4f" % (method, med(tc), med(tp), med(oc), med(op),
                                                                     med(op) - med(oc), p10(op) - p10(oc), med(td)))
    m.close()


if __name__ == "__main__":
    main()
