#!/usr/bin/python3
"""check_forward: attrib_forward (through tests/tools/forward_dump) against
the independent float64 PyTorch reference (tests/py/attrib_ref).

Models: the three shared real models, plus random-weight GGUF variants
written by tools/make_gguf.py (qwen2 with biases and rotate-half RoPE,
untied output, Llama 3 rope_freqs, GQA ratios 1..4, every weight type), and
random Hugging Face directories (attrib_ref/make_hf.py: F16/BF16/F32,
sharded index, explicit head_dim, qwen2 biases, llama3 rope_scaling, tied
via embed_tokens or via lm_head only, untied), and the qwen3 / gemma2 /
gemma3 / phi3 / sliding-window variants of both formats (new_arch_gguf_specs,
NEW_ARCH_HF_SPECS; PENDING lists those attrib may still refuse).
Cases: prompt lengths 1/7/37 from ids; a right-padded batch (key_mask +
lengths, "last" logits, and "all" on real positions); input embeddings that
are not rows of the embedding matrix; explicit non-contiguous positions;
hidden tokens (key_mask zeros inside a sequence); a KV-cached prefix
followed by the rest, against the full pass.

Criterion: max |C - ref| <= min(1e-4, 2e-5 * max|ref|) over each case's
compared logits (C computes in float32, the reference in float64); the
relative part only matters for models with tiny logits (llama-2-tiny-random,
max |logit| ~0.3), where 1e-4 alone would be a loose bound. Logits of positions whose key_mask is 0
are meaningless by the API's contract and are not compared.

Environment: ATTRIB_SHARED, ATTRIB_BUILD (forward_dump is
$ATTRIB_BUILD/tests/forward_dump). Options: -k SUBSTR runs only models whose
name contains SUBSTR; -v prints per-case worst positions.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.make_hf import write_hf_dir  # noqa: E402
from attrib_ref.model import load_model  # noqa: E402

TOL = 1e-4
REL_TOL = 2e-5


# The qwen3 / gemma2 / gemma3 / phi3 / sliding-window variants (names, keys and
# math as llama.cpp has them: /work/notes/arch-facts.md; the reference's
# logits on these files were checked against llama.cpp itself). Windows of 3-6
# positions make the 37-token and gapped-position cases cross them.
def new_arch_gguf_specs(tok):
    s32 = ["--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--head-dim", 32, "--n-ff", 96]
    return [
        ("gen-qwen3-f32-headdim32", ["--arch", "qwen3"] + s32 + ["--seed", 61] + tok),
        ("gen-qwen3-q8_0-untied-gqa4", ["--arch", "qwen3", "--n-embd", 128, "--n-layer", 2, "--n-head", 4,
                                        "--n-head-kv", 1, "--n-ff", 256, "--dtype", "q8_0", "--untied",
                                        "--seed", 62] + tok),
        ("gen-gemma2-f32-swa4-softcaps", ["--arch", "gemma2", "--n-embd", 64, "--n-layer", 3, "--n-head", 4,
                                          "--n-head-kv", 2, "--head-dim", 32, "--n-ff", 96, "--sliding-window", 4,
                                          "--attn-softcap", 2.0, "--final-softcap", 5.0, "--seed", 63] + tok),
        ("gen-gemma3-f32-swa4-7layers-gqa4", ["--arch", "gemma3", "--n-embd", 64, "--n-layer", 7, "--n-head", 4,
                                              "--n-head-kv", 1, "--head-dim", 32, "--n-ff", 96,
                                              "--sliding-window", 4, "--seed", 64] + tok),
        ("gen-gemma3-q4_k-swa6-ropescale8", ["--arch", "gemma3", "--n-embd", 256, "--n-layer", 6, "--n-head", 4,
                                             "--n-head-kv", 2, "--head-dim", 64, "--n-ff", 512, "--dtype", "q4_k",
                                             "--sliding-window", 6, "--rope-scale", 8, "--rope-theta", 100,
                                             "--seed", 65] + tok),
        ("gen-gemma3-f32-finalcap", ["--arch", "gemma3"] + s32 + ["--final-softcap", 4.0, "--seed", 66] + tok),
        ("gen-phi3-f32-gqa2", ["--arch", "phi3", "--n-embd", 96, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                               "--n-ff", 160, "--seed", 67] + tok),
        ("gen-phi3-f32-longrope-short", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4,
                                         "--n-head-kv", 4, "--n-ff", 96, "--longrope", "--n-ctx", 131072,
                                         "--orig-ctx", 4096, "--rope-theta", 100, "--seed", 68] + tok),
        ("gen-phi3-f32-split-qkv", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4,
                                    "--n-head-kv", 2, "--n-ff", 96, "--split-qkv", "--seed", 69] + tok),
        ("gen-phi3-f32-partial-rotary", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 2,
                                         "--n-head-kv", 2, "--n-ff", 96, "--n-rot", 24, "--seed", 70] + tok),
        ("gen-llama-f32-swa3-key-ignored", ["--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                                            "--n-ff", 96, "--sliding-window", 3, "--seed", 71] + tok),
    ]


NEW_ARCH_HF_SPECS = [
    ("hf-qwen3-bf16-headdim32", dict(model_type="qwen3", n_embd=64, n_head=4, n_head_kv=2, head_dim=32, n_ff=96,
                                     dtype="BF16", rope_theta=1000000.0, seed=81)),
    ("hf-gemma3-f32-swa4-layertypes", dict(model_type="gemma3_text", n_embd=64, n_layer=7, n_head=4, n_head_kv=1,
                                           head_dim=32, n_ff=96, sliding_window=4, rope_theta=1000000.0,
                                           seed=82)),
    ("hf-gemma3-f16-pattern-ropescale", dict(model_type="gemma3_text", n_embd=64, n_layer=6, n_head=2,
                                             n_head_kv=1, head_dim=32, n_ff=96, dtype="F16", sliding_window=5,
                                             layer_types=False, rope_theta=100.0,
                                             rope_scaling={"rope_type": "linear", "factor": 8.0}, seed=83)),
    ("hf-gemma2-f32-swa4-softcaps", dict(model_type="gemma2", n_embd=64, n_layer=3, n_head=4, n_head_kv=2,
                                         head_dim=32, n_ff=96, sliding_window=4, attn_softcap=2.0,
                                         final_softcap=5.0, seed=84)),
    ("hf-phi3-f32-untied", dict(model_type="phi3", n_embd=64, n_head=4, n_head_kv=2, n_ff=96, tied=False,
                                seed=85)),
    ("hf-phi3-f32-longrope-partial", dict(model_type="phi3", n_embd=64, n_head=2, n_head_kv=2, n_ff=96,
                                          tied=False, partial_rotary_factor=0.75, longrope=(4096, 131072),
                                          seed=86)),
    ("hf-mistral-f32-swa5", dict(model_type="mistral", n_embd=64, n_head=4, n_head_kv=2, n_ff=96,
                                 sliding_window=5, seed=87)),
    ("hf-gemma3-multimodal-f32-swa3", dict(model_type="gemma3_text", multimodal=True, n_embd=64, n_layer=6,
                                           n_head=2, n_head_kv=1, head_dim=32, n_ff=96, sliding_window=3,
                                           rope_theta=1000000.0, seed=88)),
]

# Variants attrib may refuse for now: a model load that fails (ATTRIB_E_UNSUPPORTED,
# or ATTRIB_E_MISSING for tensors it does not look for) is reported as SKIP, not
# FAIL; wrong numbers still fail. Remove a name once attrib supports the feature
# (or run with ATTRIB_STRICT_ARCHS=1 to make every refusal a failure).
PENDING = {
    "gen-phi3-f32-partial-rotary": "partial rotary (Phi-4-mini: 96 of 128 dims)",
    "hf-phi3-f32-longrope-partial": "HF longrope rope_scaling and partial_rotary_factor",
    "hf-gemma3-multimodal-f32-swa3": "Gemma3ForConditionalGeneration directories (text_config, language_model.*)",
}


def pending_reason(name, err):
    if os.environ.get("ATTRIB_STRICT_ARCHS") == "1":
        return None
    return PENDING.get(name) if "attrib_model_load failed" in str(err) else None


def generated_models(tmp):
    """(name, path, make_gguf args) of the random-weight variants."""
    tok = ["--tokenizer-from", H.STORIES260K]
    small = ["--n-embd", 128, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--n-ff", 256]
    kshape = ["--n-embd", 256, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--n-ff", 512]
    specs = [
        ("gen-llama-f32-gqa1", ["--n-embd", 96, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 4,
                                "--n-ff", 160, "--seed", 11] + tok),
        ("gen-llama-f32-gqa3-untied", ["--n-embd", 192, "--n-layer", 2, "--n-head", 6,
                                       "--n-head-kv", 2, "--n-ff", 320, "--untied",
                                       "--rms-eps", 1e-6, "--seed", 12] + tok),
        ("gen-llama-f32-ropefreqs-gqa4", ["--n-embd", 128, "--n-layer", 2, "--n-head", 4,
                                          "--n-head-kv", 1, "--n-ff", 256, "--rope-freqs",
                                          "--rope-orig-ctx", 64, "--rope-theta", 500000,
                                          "--untied", "--seed", 13] + tok),
        ("gen-qwen2-f32-bias-gqa1", ["--arch", "qwen2", "--n-embd", 128, "--n-layer", 2,
                                     "--n-head", 4, "--n-head-kv", 4, "--n-ff", 256,
                                     "--rope-theta", 1000000, "--seed", 14] + tok),
        ("gen-qwen2-q8_0-bias-gqa2-untied", ["--arch", "qwen2"] + small +
         ["--dtype", "q8_0", "--untied", "--seed", 15] + tok),
        ("gen-llama-q4_k-mixed-align64", kshape + ["--dtype", "q4_k", "--embd-dtype", "q8_0",
                                                   "--alignment", 64, "--seed", 16] + tok),
    ]
    for i, dt in enumerate(["f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"]):
        specs.append(("gen-llama-%s" % dt, small + ["--dtype", dt, "--seed", 20 + i] + tok))
    for i, dt in enumerate(["q4_k", "q5_k", "q6_k", "q2_k", "q3_k", "iq4_xs"]):
        specs.append(("gen-llama-%s" % dt, kshape + ["--dtype", dt, "--untied", "--seed", 30 + i]
                      + tok))
    specs += new_arch_gguf_specs(tok)
    out = []
    for name, args in specs:
        path = os.path.join(tmp, name + ".gguf")
        out.append((name, path, lambda path=path, args=args: H.make_gguf(path, *args)))
    # Hugging Face directories (rotate-half RoPE, safetensors)
    hf_specs = [
        ("hf-llama-f16-untied-headdim32-sharded",
         dict(n_embd=96, n_head=4, n_head_kv=2, head_dim=32, n_ff=192, dtype="F16",
              tied=False, shards=3, seed=41)),
        ("hf-qwen2-bf16-tied-gqa3",
         dict(model_type="qwen2", n_embd=192, n_head=6, n_head_kv=2, n_ff=256, dtype="BF16",
              rope_theta=1000000.0, seed=42)),
        ("hf-llama-f32-llama3-rope-tied-lmhead",
         dict(n_embd=128, n_head=4, n_head_kv=1, n_ff=256, tied_store="lm_head",
              rope_theta=500000.0, seed=43,
              rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                            "high_freq_factor": 4.0, "original_max_position_embeddings": 64})),
    ]
    hf_specs += NEW_ARCH_HF_SPECS
    for name, kw in hf_specs:
        path = os.path.join(tmp, name)
        out.append((name, path, lambda path=path, kw=kw: write_hf_dir(path, **kw)))
    return out


class EmulatedRunner:
    """--self-test: answers requests with the reference itself, run on the
    whole (padded, masked) batch in float32 output, to check this script's
    plumbing and the reference's masking without the C library."""

    def __init__(self, refs):
        self.refs = refs
        self.n = 0

    def run(self, model_path, req, emb=None):
        self.n += 1
        ref = self.refs[model_path]
        kw = {}
        if emb is not None:
            kw["embeddings"] = emb.astype(np.float64)
        else:
            kw["tokens"] = np.array(req["tokens"])
        if req.get("positions") is not None:
            kw["positions"] = np.array(req["positions"])
        if req.get("key_mask") is not None:
            kw["key_mask"] = np.array(req["key_mask"])
        with torch.no_grad():
            out = ref.forward(**kw).numpy()
        out = out[:, req.get("prefix", 0):]
        if req.get("logits") == "last":
            B = out.shape[0]
            n = req.get("lengths") or [out.shape[1] + req.get("prefix", 0)] * B
            out = np.stack([out[b, n[b] - 1 - req.get("prefix", 0)] for b in range(B)])
        return out.astype(np.float32).astype(np.float64).reshape(-1)


class Runner:
    def __init__(self, tmp, verbose):
        self.tmp = tmp
        self.verbose = verbose
        self.tool = H.test_tool("forward_dump")
        self.n = 0

    def run(self, model_path, req, emb=None):
        self.n += 1
        rpath = os.path.join(self.tmp, "req%d.json" % self.n)
        opath = os.path.join(self.tmp, "out%d.bin" % self.n)
        req = dict(req)
        req.setdefault("threads", 2)
        if emb is not None:
            epath = os.path.join(self.tmp, "emb%d.f32" % self.n)
            np.ascontiguousarray(emb, dtype="<f4").tofile(epath)
            req["embeddings_file"] = epath
            req["shape"] = list(emb.shape[:2])
        with open(rpath, "w") as fh:
            json.dump(req, fh)
        p = subprocess.run([self.tool, model_path, rpath, opath], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("forward_dump failed (%d): %s" % (p.returncode, p.stderr.strip()))
        out = np.fromfile(opath, dtype="<f4").astype(np.float64)
        for f in (rpath, opath):
            os.unlink(f)
        return out


def compare(c, ref, mask=None):
    """max |c - ref| over entries whose position is selected by MASK (…, T) bool."""
    c = np.asarray(c, dtype=np.float64).reshape(ref.shape)
    d = np.abs(c - ref)
    if mask is not None:
        d = d[np.asarray(mask, dtype=bool)]
        ref = ref[np.asarray(mask, dtype=bool)]
    if not np.all(np.isfinite(d)):
        return float("inf"), float(np.abs(ref).max())
    return float(d.max()), float(np.abs(ref).max())


def cases_for(name, path, ref, runner, rng):
    """Yields (case name, max|Δ|, max|ref|) for one model."""
    V = ref.n_vocab
    lo = 3 if V > 16 else 0

    def ids(*shape):
        return rng.integers(lo, V, size=shape)

    def R(**kw):
        with torch.no_grad():
            return ref.forward(**kw).numpy()

    # 1. single sequences of several lengths, from ids, all positions
    for T in (1, 7, 37):
        t = ids(1, T)
        t[0, 0] = 1  # BOS
        c = runner.run(path, {"tokens": t.tolist(), "logits": "all"})
        yield "ids T=%d all" % T, *compare(c, R(tokens=t))
        if T == 37:
            c1 = runner.run(path, {"tokens": t.tolist(), "logits": "all", "threads": 1})
            yield "ids T=37 all, 1 thread", *compare(c1, R(tokens=t))

    # 2. right-padded batch: "last" logits, and "all" on the real positions
    lengths = [5, 23, 14]
    T = max(lengths)
    t = ids(3, T)
    km = np.zeros((3, T), dtype=np.int64)
    for b, n in enumerate(lengths):
        km[b, :n] = 1
        t[b, n:] = 0  # padding id
    c = runner.run(path, {"tokens": t.tolist(), "key_mask": km.tolist(), "lengths": lengths,
                          "logits": "last"})
    ref_last = np.stack([R(tokens=t[b:b + 1, :n])[0, -1] for b, n in enumerate(lengths)])
    yield "batch3 padded last", *compare(c, ref_last)
    c = runner.run(path, {"tokens": t.tolist(), "key_mask": km.tolist(), "logits": "all"})
    ref_all = np.zeros((3, T, V))
    for b, n in enumerate(lengths):
        ref_all[b, :n] = R(tokens=t[b:b + 1, :n])[0]
    yield "batch3 padded all", *compare(c, ref_all, km)

    # 3. input embeddings: embedding rows plus noise (so not any row)
    t = ids(2, 9)
    E = ref.tok_embd.numpy()
    rms = float(np.sqrt((E ** 2).mean()))
    emb = E[t] + rng.standard_normal((2, 9, ref.n_embd)) * 0.5 * rms
    emb = emb.astype(np.float32)
    c = runner.run(path, {"logits": "all"}, emb=emb)
    yield "embeddings B=2 T=9", *compare(c, R(embeddings=emb.astype(np.float64)))

    # 4. explicit positions: an offset row and a row with gaps
    t = ids(2, 12)
    pos = np.stack([np.arange(12) + 5, np.array([0, 1, 2, 3, 9, 10, 11, 20, 21, 22, 40, 41])])
    c = runner.run(path, {"tokens": t.tolist(), "positions": pos.tolist(), "logits": "all"})
    yield "positions B=2 T=12", *compare(c, R(tokens=t, positions=pos))

    # 5. hidden tokens inside a sequence
    t = ids(1, 12)
    km = np.ones((1, 12), dtype=np.int64)
    km[0, [2, 5, 6, 9]] = 0
    c = runner.run(path, {"tokens": t.tolist(), "key_mask": km.tolist(), "logits": "all"})
    full = R(tokens=t, key_mask=km)
    # the reference itself must agree with deleting the hidden tokens
    # (positions unchanged), which checks the masking independently
    keep = km[0].astype(bool)
    deleted = R(tokens=t[:, keep], positions=np.arange(12)[None, keep])
    assert np.abs(deleted[0] - full[0, keep]).max() < 1e-9, "reference masking is inconsistent"
    yield "hidden tokens T=12", *compare(c, full, km)

    # 6. KV cache: prefix then the rest, vs the full pass
    t = ids(2, 20)
    P = 7
    c = runner.run(path, {"tokens": t.tolist(), "prefix": P, "logits": "all"})
    yield "cache prefix 7 + 13, B=2", *compare(c, R(tokens=t)[:, P:])
    t = ids(1, 37)
    c = runner.run(path, {"tokens": t.tolist(), "prefix": 36, "logits": "last"})
    yield "cache prefix 36 + 1, last", *compare(c, R(tokens=t)[:, -1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="only models whose name contains this")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--self-test", action="store_true",
                    help="answer with the reference itself instead of forward_dump (no C needed)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not args.self_test:
        H.require(H.test_tool("forward_dump"), "forward_dump (build the tests; set ATTRIB_BUILD)")
    for p in (H.STORIES260K, H.LLAMA2_TINY, H.TINYSTORIES_HF):
        H.require(p, "shared model (set ATTRIB_SHARED)")

    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="attrib-check-forward-")
    models = [("stories260K", H.STORIES260K), ("llama-2-tiny-random", H.LLAMA2_TINY),
              ("TinyStories-656K", H.TINYSTORIES_HF)]
    for name, path, build in generated_models(tmp):
        if args.k in name:
            build()
            models.append((name, path))
    models = [(n, p) for n, p in models if args.k in n]
    print("generated models in %.1fs" % (time.time() - t0))

    runner = Runner(tmp, args.v)
    refs = {}
    if args.self_test:
        refs = {p: load_model(p) for _, p in models}
        runner = EmulatedRunner(refs)
    rows, failures = [], []
    for name, path in models:
        ref = refs.get(path) or load_model(path)
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        try:
            for case, d, scale in cases_for(name, path, ref, runner, rng):
                tol = min(TOL, REL_TOL * scale)
                ok = d <= tol
                rows.append((name, case, "%.2e" % d, "%.1f" % scale, "ok" if ok else "FAIL"))
                if not ok:
                    failures.append("%s / %s: max|d| %.3e" % (name, case, d))
        except Exception as e:  # a crash of forward_dump is a failure of this model
            why = pending_reason(name, e)
            if why:
                rows.append((name, "SKIP: attrib does not support " + why, "-", "-", "skip"))
                continue
            rows.append((name, "ERROR", "-", "-", "FAIL"))
            failures.append("%s: %s" % (name, e))
    H.print_table(rows, ["model", "case", "max|d|", "max|ref|", ""])
    print("%d comparisons, %.1fs" % (len(rows), time.time() - t0))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept", tmp)
    if failures:
        print("FAILED (%d):" % len(failures))
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("OK: every compared logit within min(%.0e, %.0e * max|ref|) of the reference"
          % (TOL, REL_TOL))


if __name__ == "__main__":
    main()
