#!/usr/bin/python3
"""check_ref_llamacpp: the float64 reference (tests/py/attrib_ref) against
llama.cpp itself, on the architectures added after llama/qwen2: qwen3,
gemma2, gemma3, phi3, and sliding windows. This is what makes the reference
trustworthy as the yardstick of check_forward.py and check_gradients.py.

No attrib code runs here: the GGUFs come from tools/make_gguf.py, or from
random Hugging Face directories (attrib_ref/make_hf.py) converted with
llama.cpp's conventions (make_hf.hf_to_gguf), so the reference's Hugging Face
reading (gemma's 1 + w norms, layer_types / sliding_window_pattern,
rope_local_base_freq, phi3's fused tensors and longrope) is checked too. The
logits of llama.cpp come from tests/llamacpp/llamacpp_ref.py (the prebuilt
libllama of @node-llama-cpp/linux-x64, see that file).

Criterion: max |ref - llama.cpp| over all positions of a 24-token prompt
  SiLU models:  <= 5e-6 * max|ref|  (llama.cpp computes in float32; measured
                worst 8e-7 * max|ref|).
  gemma (GELU): llama.cpp's CPU GELU rounds its input to float16 and reads a
                table (ggml's GGML_GELU_FP16), an error of ~1e-3 relative per
                activation. So the reference is run twice: with the exact
                tanh GELU (<= 1.5e-3 * max|ref|; measured worst 5.3e-4) and
                with that table emulated (<= 5e-4 * max|ref|; measured worst
                1.7e-4; the remainder comes from inputs near float16 rounding
                boundaries, where float32 and float64 round differently).
NEGATIVE CONTROLS: the reference with one deliberate change (window one
longer or shorter, the other layers windowed, a soft-cap dropped, gemma3's
local RoPE base or linear scale misapplied, Q/K norms dropped, gate and up
swapped, the other long-rope factor set, attn_factor 1, full rotary,
Hugging Face gemma norms without the +1) must differ from llama.cpp by more
than 10x the tolerance, or the test fails: each convention is pinned.

Environment: ATTRIB_SHARED. Options: -k SUBSTR, --keep.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.make_hf import hf_to_gguf, write_hf_dir  # noqa: E402
from attrib_ref.model import gelu_tanh, load_model  # noqa: E402

TOL_SILU = 5e-6
TOL_GELU_EXACT = 1.5e-3
TOL_GELU_TABLE = 5e-4
CONTROL_FACTOR = 10.0

S32 = ["--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--head-dim", 32, "--n-ff", 96]

# name -> make_gguf args (llama.cpp's context of 512 > --orig-ctx 256 selects phi3's long factors)
GGUF = [
    ("qwen3-headdim32", ["--arch", "qwen3"] + S32 + ["--seed", 11]),
    ("qwen3-tied-gqa4-c128", ["--arch", "qwen3", "--n-embd", 128, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 1,
                              "--n-ff", 192, "--seed", 12]),
    ("gemma2-swa4-softcaps", ["--arch", "gemma2", "--n-embd", 64, "--n-layer", 3, "--n-head", 4, "--n-head-kv", 2,
                              "--head-dim", 32, "--n-ff", 96, "--sliding-window", 4, "--attn-softcap", 2.0,
                              "--final-softcap", 5.0, "--seed", 13]),
    ("gemma3-swa4-7layers", ["--arch", "gemma3", "--n-embd", 64, "--n-layer", 7, "--n-head", 4, "--n-head-kv", 1,
                             "--head-dim", 32, "--n-ff", 96, "--sliding-window", 4, "--seed", 14]),
    ("gemma3-swa5-ropescale8", ["--arch", "gemma3", "--n-embd", 64, "--n-layer", 6, "--n-head", 2, "--n-head-kv", 1,
                                "--head-dim", 32, "--n-ff", 96, "--sliding-window", 5, "--rope-scale", 8,
                                "--rope-theta", 100, "--seed", 15]),
    ("gemma3-finalcap", ["--arch", "gemma3"] + S32 + ["--final-softcap", 4.0, "--seed", 16]),
    ("phi3-split-qkv", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 4,
                        "--n-ff", 96, "--split-qkv", "--seed", 17]),
    ("phi3-longrope-short", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                             "--n-ff", 96, "--longrope", "--n-ctx", 32768, "--orig-ctx", 1024, "--rope-theta", 100,
                             "--seed", 18]),
    ("phi3-longrope-long", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                            "--n-ff", 96, "--longrope", "--n-ctx", 8192, "--orig-ctx", 256, "--rope-theta", 100,
                            "--seed", 18]),
    ("phi3-partial-rotary", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 2, "--n-head-kv", 2,
                             "--n-ff", 96, "--n-rot", 24, "--longrope", "--n-ctx", 32768, "--orig-ctx", 1024,
                             "--seed", 19]),
    ("llama-swa3-key", ["--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--n-ff", 96,
                        "--sliding-window", 3, "--seed", 20]),
]
HF = [
    ("hf-qwen3", dict(model_type="qwen3", n_embd=64, n_layer=2, n_head=4, n_head_kv=2, head_dim=32, n_ff=96,
                      seed=31)),
    ("hf-gemma3-layertypes", dict(model_type="gemma3_text", n_embd=64, n_layer=7, n_head=4, n_head_kv=1,
                                  head_dim=32, n_ff=96, sliding_window=4, rope_theta=1000000.0, seed=33)),
    ("hf-gemma3-pattern-ropescale", dict(model_type="gemma3_text", n_embd=64, n_layer=6, n_head=2, n_head_kv=1,
                                         head_dim=32, n_ff=96, sliding_window=5, layer_types=False,
                                         rope_scaling={"rope_type": "linear", "factor": 8.0}, rope_theta=100.0,
                                         seed=34)),
    ("hf-gemma2", dict(model_type="gemma2", n_embd=64, n_layer=3, n_head=4, n_head_kv=2, head_dim=32, n_ff=96,
                       sliding_window=4, attn_softcap=2.0, final_softcap=5.0, seed=35)),
    ("hf-gemma3-multimodal", dict(model_type="gemma3_text", multimodal=True, n_embd=64, n_layer=6, n_head=2,
                                  n_head_kv=1, head_dim=32, n_ff=96, sliding_window=3, rope_theta=1000000.0,
                                  seed=38)),
    ("hf-phi3", dict(model_type="phi3", n_embd=64, n_layer=2, n_head=4, n_head_kv=2, n_ff=96, tied=False, seed=36)),
    ("hf-phi3-longrope-partial", dict(model_type="phi3", n_embd=64, n_layer=2, n_head=2, n_head_kv=2, n_ff=96,
                                      tied=False, partial_rotary_factor=0.75, longrope=(1024, 32768), seed=37)),
]


def gelu_fp16_table(x):
    """ggml's CPU GELU: the input rounded to float16, the float16 value of the exact
    GELU of that (its table), 0 below -10 and x above 10."""
    x16 = x.to(torch.float16).to(torch.float64)
    y = gelu_tanh(x16).to(torch.float32).to(torch.float16).to(torch.float64)
    return torch.where(x <= -10, torch.zeros_like(x), torch.where(x >= 10, x, y))


# ---------------------------------------------------------------- negative controls
def _set(attr, value):
    return lambda m: setattr(m, attr, value)


def _window_shift(delta):
    return lambda m: setattr(m, "sliding_window", m.sliding_window + delta)


def _swap_gate_up(m):
    for L in m.layers:
        L["gate"], L["up"] = L["up"], L["gate"]


def _drop_qk_norm(m):
    for L in m.layers:
        L.pop("q_norm")
        L.pop("k_norm")


def _global_rope_everywhere(m):
    m.layer_rope = [(m.rope_base, m.rope_freq_scale)] * m.n_layer


def _scale_local_too(m):
    m.layer_rope = [(b, m.rope_freq_scale) for b, _ in m.layer_rope]


def _odd_layers_slide(m):
    m.layer_windowed = [l % 2 == 1 for l in range(m.n_layer)]


def _apply_window(w):
    def f(m):
        m.sliding_window = w
        m.layer_windowed = [True] * m.n_layer
    return f


def _full_rotary(m):
    m.n_rot = m.head_dim
    m.rope_factors = None


def _gemma_norms_without_offset(m):
    for L in m.layers:
        for k in ("attn_norm", "post_attn_norm", "ffn_norm", "post_ffn_norm", "q_norm", "k_norm"):
            if k in L:
                L[k] = L[k] - 1.0
    m.output_norm = m.output_norm - 1.0


CONTROLS = {
    "qwen3-headdim32": [("no Q/K norm", _drop_qk_norm, {})],
    "gemma2-swa4-softcaps": [("window W+1", _window_shift(1), {}), ("window W-1", _window_shift(-1), {}),
                             ("odd layers windowed", _odd_layers_slide, {}),
                             ("no attention soft-cap", _set("attn_softcap", 0.0), {}),
                             ("no final soft-cap", _set("final_softcap", 0.0), {})],
    "gemma3-swa4-7layers": [("window W+1", _window_shift(1), {}), ("no window", _set("sliding_window", 0), {}),
                            ("global RoPE base on windowed layers", _global_rope_everywhere, {})],
    "gemma3-swa5-ropescale8": [("linear scale on windowed layers too", _scale_local_too, {})],
    "gemma3-finalcap": [("no final soft-cap", _set("final_softcap", 0.0), {})],
    "phi3-split-qkv": [("gate and up swapped", _swap_gate_up, {})],
    "phi3-longrope-short": [("long factors", lambda m: None, {"long_rope": True}),
                            ("attn_factor 1", _set("attn_factor", 1.0), {})],
    "phi3-longrope-long": [("short factors", lambda m: None, {"long_rope": False})],
    "phi3-partial-rotary": [("full rotary", _full_rotary, {})],
    "llama-swa3-key": [("window applied", _apply_window(3), {})],
    "hf-gemma3-layertypes": [("HF norms without the +1", _gemma_norms_without_offset, {})],
}


LlamaCpp = H.LlamaCpp


def ref_logits(path, ids, long_rope, tweak=None, table=False):
    m = load_model(path, long_rope=long_rope)
    if tweak:
        tweak(m)
    if table and m.act == "gelu_tanh":
        m.activation = gelu_fp16_table
    with torch.no_grad():
        return m.forward(tokens=[ids])[0].numpy(), m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="only variants whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    torch.set_num_threads(2)
    H.require(H.STORIES260K, "shared model (set ATTRIB_SHARED)")
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="attrib-ref-llamacpp-")
    models = []
    tok = ["--tokenizer-from", H.STORIES260K]
    for name, a in GGUF:
        if args.k in name:
            models.append((name, H.make_gguf(os.path.join(tmp, name + ".gguf"), *(a + tok)), None))
    for name, kw in HF:
        if args.k in name:
            d = write_hf_dir(os.path.join(tmp, name), **kw)
            models.append((name, hf_to_gguf(d, d + ".gguf", H.STORIES260K), d))

    ll = LlamaCpp()
    try:
        info = ll(op="info")
    except RuntimeError as e:
        print("FAIL: the llama.cpp reference is not available: %s" % e)
        sys.exit(1)
    print("llama.cpp %s (%s), CPU backend %s" % (info["llama_version"], info["package"], info["cpu_backend"]))
    rows, failures = [], []
    try:
        for name, gguf, hf_dir in models:
            long_rope = name.endswith("-long")
            src = hf_dir or gguf               # HF variants: the reference reads the HF directory
            probe = load_model(src)
            ids = [1] + [int(x) % probe.n_vocab for x in np.random.default_rng(7).integers(3, 10 ** 6, 23)]
            lc = np.array(ll(op="logits", model=gguf, ids=ids, all=True)["logits"])
            ref, m = ref_logits(src, ids, long_rope)
            scale = float(np.abs(ref).max())
            d = float(np.abs(ref - lc).max())
            gelu = m.act == "gelu_tanh"
            tol = (TOL_GELU_EXACT if gelu else TOL_SILU) * scale
            ok = d <= tol
            rows.append((name, "reference" + (" (exact GELU)" if gelu else ""), "%.2e" % d, "%.2e" % tol,
                         "%.2e" % (d / scale), "ok" if ok else "FAIL"))
            if not ok:
                failures.append("%s: max|d| %.3e > %.3e" % (name, d, tol))
            if gelu:
                tref, _ = ref_logits(src, ids, long_rope, table=True)
                dt = float(np.abs(tref - lc).max())
                tol = TOL_GELU_TABLE * scale
                rows.append((name, "reference, GELU fp16 table", "%.2e" % dt, "%.2e" % tol, "%.2e" % (dt / scale),
                             "ok" if dt <= tol else "FAIL"))
                if dt > tol:
                    failures.append("%s (GELU table): max|d| %.3e > %.3e" % (name, dt, tol))
            for label, tweak, opt in CONTROLS.get(name, []):
                lr = opt.get("long_rope", long_rope)
                bad, _ = ref_logits(src, ids, lr, tweak=tweak, table=gelu)
                db = float(np.abs(bad - lc).max())
                need = CONTROL_FACTOR * tol
                ok = db > need
                rows.append((name, "control: " + label, "%.2e" % db, "> %.2e" % need, "%.2e" % (db / scale),
                             "ok" if ok else "FAIL"))
                if not ok:
                    failures.append("%s: control '%s' differs by only %.3e" % (name, label, db))
    finally:
        ll.close()
    H.print_table(rows, ["variant", "what", "max|ref-lc|", "bound", "rel", ""])
    print("%d comparisons, %.1fs" % (len(rows), time.time() - t0))
    if args.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAILED (%d):" % len(failures))
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("OK: the reference agrees with llama.cpp on every variant, and every negative control is caught")


if __name__ == "__main__":
    main()
