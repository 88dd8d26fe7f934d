#!/usr/bin/python3
"""check_dequant: attrib's dequantisation against ggml's own, bit for bit.

The forward-pass comparison with llama.cpp (check_llamacpp.py) cannot see a
small dequantisation error: llama.cpp rounds the activations to 8 bits for
quantised weights, so its logits differ from attrib's by ~0.1 whatever the
weights.  This check goes below that: for every quantised weight type attrib
reads, it decodes the same bytes with
  * attrib_dequant_row and attrib_dequant_row_ref (libattrib.so, C), and
  * ggml's dequantize_row_<type> from llama.cpp's libggml-base.so (the npm
    package that check_llamacpp.py uses; installed on first use),
and requires identical float32 bits.  ggml evaluates the same products in
the same order as attrib (d*q, (d*sc)*q - dmin*m, ...), so any difference is
a decoding bug.  The float64 PyTorch reference's numpy decoder
(attrib_ref/gguf.py) must agree to float32 rounding of the scale
products: within 2^-22 of the largest |value| of the block, far below any
layout mistake, which moves values by whole quantisation steps.

Inputs: 2,000 blocks of random bytes per type (every bit of every field
random, except that fp16 scales are kept finite: an inf or NaN scale would
only propagate), and every tensor of a make_gguf.py model in each type.

Environment: ATTRIB_BUILD (libattrib.so), ATTRIB_LLAMACPP_LIB (a directory
with libggml-base.so instead of the npm package's).
"""
import ctypes as C
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "llamacpp"))
from attrib_ref import gguf  # noqa: E402
from attrib_ref import harness as H  # noqa: E402
import llamacpp_ref  # noqa: E402

# name, ggml type id, ggml function, block elements, block bytes, offsets of fp16 fields
TYPES = [
    ("q4_0", 2, "dequantize_row_q4_0", 32, 18, [0]),
    ("q4_1", 3, "dequantize_row_q4_1", 32, 20, [0, 2]),
    ("q5_0", 6, "dequantize_row_q5_0", 32, 22, [0]),
    ("q5_1", 7, "dequantize_row_q5_1", 32, 24, [0, 2]),
    ("q8_0", 8, "dequantize_row_q8_0", 32, 34, [0]),
    ("q2_k", 10, "dequantize_row_q2_K", 256, 84, [80, 82]),
    ("q3_k", 11, "dequantize_row_q3_K", 256, 110, [108]),
    ("q4_k", 12, "dequantize_row_q4_K", 256, 144, [0, 2]),
    ("q5_k", 13, "dequantize_row_q5_K", 256, 176, [0, 2]),
    ("q6_k", 14, "dequantize_row_q6_K", 256, 210, [208]),
    ("iq4_nl", 20, "dequantize_row_iq4_nl", 32, 18, [0]),
    ("iq4_xs", 23, "dequantize_row_iq4_xs", 256, 136, [0]),
]
N_BLOCKS = 2000


def load_libs():
    why = llamacpp_ref.ensure_installed()
    if why:
        print("FAIL: llama.cpp unavailable: %s" % why)
        sys.exit(1)
    libdir = os.environ.get("ATTRIB_LLAMACPP_LIB") or llamacpp_ref.BINS
    ggml = C.CDLL(os.path.join(libdir, "libggml-base.so"))
    lib = os.path.join(H.BUILD, "libattrib.so")
    H.require(lib, "libattrib.so (set ATTRIB_BUILD)")
    attrib = C.CDLL(lib)
    for fn in ("attrib_dequant_row", "attrib_dequant_row_ref"):
        getattr(attrib, fn).argtypes = [C.c_int, C.c_void_p, C.c_void_p, C.c_int64]
        getattr(attrib, fn).restype = C.c_int
    return ggml, attrib


def random_blocks(rng, nb, bsz, halves):
    raw = rng.integers(0, 256, size=(nb, bsz), dtype=np.uint8)
    for off in halves:
        h = raw[:, off:off + 2].copy().view("<u2").reshape(-1)
        # exponent 31 (inf/NaN) -> 30; finite fp16 values of every magnitude stay
        h = np.where((h >> 10) & 31 == 31, h ^ 0x0400, h).astype("<u2")
        raw[:, off:off + 2] = h.view(np.uint8).reshape(nb, 2)
    return raw.reshape(-1)


def decode_all(ggml, attrib, name, tid, fn, raw, n):
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    out = {}
    for who in ("ggml", "attrib", "attrib_ref"):
        y = np.full(n, np.nan, dtype=np.float32)
        if who == "ggml":
            f = getattr(ggml, fn)
            f.argtypes = [C.c_void_p, C.c_void_p, C.c_int64]
            f.restype = None
            f(raw.ctypes.data, y.ctypes.data, n)
        else:
            f = attrib.attrib_dequant_row if who == "attrib" else attrib.attrib_dequant_row_ref
            if f(tid, raw.ctypes.data, y.ctypes.data, n) != 0:
                raise RuntimeError("%s refused %s" % (who, name))
        out[who] = y
    out["numpy"] = gguf.dequantize(raw, tid, n)
    return out


def compare(out, blk):
    """(bit mismatches C vs ggml, C ref vs ggml, worst |numpy - ggml| in units of
    2^-22 of the largest |value| of its block: float32 rounding of the scale
    products, which a subtraction like (d*sc)*q - dmin*m can leave on a small result)."""
    g = out["ggml"].view(np.uint32)
    bad = int((out["attrib"].view(np.uint32) != g).sum())
    bad_ref = int((out["attrib_ref"].view(np.uint32) != g).sum())
    gd = out["ggml"].astype(np.float64).reshape(-1, blk)
    tol = 2.0 ** -22 * np.maximum(np.abs(gd).max(axis=1, keepdims=True), 1e-30)
    rel = float((np.abs(out["numpy"].reshape(-1, blk) - gd) / tol).max())
    return bad, bad_ref, rel


def main():
    ggml, attrib = load_libs()
    rng = np.random.default_rng(2024)
    rows, failures = [], []
    for name, tid, fn, blk, bsz, halves in TYPES:
        raw = random_blocks(rng, N_BLOCKS, bsz, halves)
        out = decode_all(ggml, attrib, name, tid, fn, raw, N_BLOCKS * blk)
        bad, bad_ref, rel = compare(out, blk)
        ok = bad == 0 and bad_ref == 0 and rel <= 1.0
        nz = int((out["ggml"] != 0).sum())
        rows.append([name, "random %d blocks" % N_BLOCKS, "%d" % out["ggml"].size, "%d" % bad,
                     "%d" % bad_ref, "%.2f" % rel, "ok" if ok else "FAIL"])
        if not ok or nz < out["ggml"].size // 2:
            failures.append("%s random blocks: %d/%d bits differ (ref %d), numpy %.2f, nonzero %d"
                            % (name, bad, out["ggml"].size, bad_ref, rel, nz))
    with tempfile.TemporaryDirectory() as tmp:
        for name, tid, fn, blk, bsz, _ in TYPES:
            path = os.path.join(tmp, name + ".gguf")
            shape = (["--n-embd", 256, "--n-ff", 512] if blk == 256 else ["--n-embd", 128, "--n-ff", 256])
            H.make_gguf(path, *(shape + ["--n-layer", 1, "--n-head", 4, "--n-vocab", 320, "--untied",
                                         "--dtype", name, "--seed", 77]))
            f = gguf.GGUFFile(path)
            total = bad = bad_ref = 0
            worst = 0.0
            for tname in f.tensor_order:
                t = f.tensors[tname]
                if t.type != tid:
                    continue
                out = decode_all(ggml, attrib, name, tid, fn, f.raw(tname), t.n_elements)
                b, br, rel = compare(out, blk)
                total += t.n_elements
                bad += b
                bad_ref += br
                worst = max(worst, rel)
            ok = total > 0 and bad == 0 and bad_ref == 0 and worst <= 1.0
            rows.append([name, "make_gguf model", "%d" % total, "%d" % bad, "%d" % bad_ref,
                         "%.2f" % worst, "ok" if ok else "FAIL"])
            if not ok:
                failures.append("%s model tensors: %d/%d bits differ (ref %d), numpy %.2f"
                                % (name, bad, total, bad_ref, worst))
    H.print_table(rows, ["type", "input", "values", "C!=ggml", "C ref!=ggml", "numpy/2^-22", "result"])
    if failures:
        print("FAILED (%d):" % len(failures))
        for f in failures:
            print("  " + f)
        return 1
    print("OK: attrib decodes every quantised type bit for bit as ggml does")
    return 0


if __name__ == "__main__":
    sys.exit(main())
