#!/usr/bin/python3
"""check_gradients: attrib's input gradients and gradient attributions
against the independent float64 PyTorch reference (tests/py/attrib_ref).

For each model (the three shared real models, plus random-weight GGUF
variants from tools/make_gguf.py: qwen2 with Q/K/V biases and rotate-half
RoPE, Q8_0 untied, Llama 3 rope_freqs) and each target (logit, log-prob,
prob, logit difference):

1. autograd: attrib's d target / d input embeddings (saliency's signed
   gradient) vs torch autograd on the reference; criterion max|d| <= 1e-4 *
   max|ref| (relative to the gradient's scale).
2. finite differences in double precision: central differences of the
   reference's float64 forward (h = 1e-5 * embedding RMS) on the 24
   largest-gradient elements vs attrib's gradient; relative error <= 1e-3
   per element. (The function is the same model; the differences are taken
   on an implementation that shares no code with attrib.)
3. integrated gradients: attrib's IG scores (Gauss-Legendre, 16 steps,
   mask-token baseline) vs IG computed on the reference with nodes from
   numpy's leggauss; max|d| <= 1e-4 * max|ref|; and f(baseline) agrees.
4. adaptive integrated gradients (the default, tolerance 1%; stories260K and
   TinyStories-656K, zero baseline, where the path is hardest): the reference
   recomputes IG at the nodes and weights attrib reports (max|d| <= 1e-4 *
   max|ref|: the reported rule is what was summed), and on the reference the
   same rule meets the tolerance: |sum - (f(x) - f(x'))| <= 1% of the gap,
   computed entirely in float64.

Environment: ATTRIB_SHARED, ATTRIB_BUILD (explain_dump is
$ATTRIB_BUILD/tests/explain_dump).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.make_hf import write_hf_dir  # noqa: E402
from attrib_ref.model import load_model  # noqa: E402

TOL_AUTOGRAD = 1e-4
TOL_FD = 1e-3
TOL_IG = 1e-4


# qwen3 / gemma2 / gemma3 / phi3 and sliding windows (the ids are 10 tokens long, so
# windows of 3-4 cut into them). Gemma's sqrt(C) embedding scale is inside the
# model: the gradients are with respect to rows of the embedding table.
NEW_ARCH_GGUF = [
    ("gen-qwen3-headdim32", ["--arch", "qwen3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                             "--head-dim", 32, "--n-ff", 96, "--seed", 91]),
    ("gen-gemma2-swa3-softcaps", ["--arch", "gemma2", "--n-embd", 64, "--n-layer", 3, "--n-head", 4, "--n-head-kv", 2,
                                  "--head-dim", 32, "--n-ff", 96, "--sliding-window", 3, "--attn-softcap", 2.0,
                                  "--final-softcap", 5.0, "--seed", 92]),
    ("gen-gemma3-swa4-7layers", ["--arch", "gemma3", "--n-embd", 64, "--n-layer", 7, "--n-head", 4, "--n-head-kv", 1,
                                 "--head-dim", 32, "--n-ff", 96, "--sliding-window", 4, "--seed", 93]),
    ("gen-phi3-longrope-short", ["--arch", "phi3", "--n-embd", 64, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                                 "--n-ff", 96, "--longrope", "--n-ctx", 131072, "--orig-ctx", 4096, "--seed", 94]),
]
NEW_ARCH_HF = [
    ("hf-gemma3-swa3-pattern", dict(model_type="gemma3_text", n_embd=64, n_layer=6, n_head=2, n_head_kv=1,
                                    head_dim=32, n_ff=96, sliding_window=3, layer_types=False,
                                    rope_theta=1000000.0, seed=95)),
    ("hf-mistral-swa4", dict(model_type="mistral", n_embd=64, n_layer=2, n_head=4, n_head_kv=2, n_ff=96,
                             sliding_window=4, seed=96)),
]
# Models attrib may still refuse to load: reported as SKIP (see check_forward.PENDING);
# ATTRIB_STRICT_ARCHS=1 makes a refusal a failure.
PENDING = {}


class Refused(Exception):
    pass


def dump(model, ids, method, **kw):
    cmd = [H.test_tool("explain_dump"), model, ",".join(map(str, ids)), method] + ["%s=%s" % kv for kv in kw.items()]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        name = os.path.basename(model).replace(".gguf", "")
        if name in PENDING and os.environ.get("ATTRIB_STRICT_ARCHS") != "1" and "ATTRIB_E_" in out.stderr:
            raise Refused(PENDING[name])
        print("FAIL: %s\n%s" % (" ".join(cmd), out.stderr))
        sys.exit(1)
    return json.loads(out.stdout)


def target_fn(kind, t, t2):
    def f(logits):  # logits: (V,) float64 tensor
        if kind == "logit":
            return logits[t]
        if kind == "logprob":
            return torch.log_softmax(logits, -1)[t]
        if kind == "prob":
            return torch.softmax(logits, -1)[t]
        return logits[t] - logits[t2]
    return f


def ref_value(m, emb, f):
    return f(m.forward(embeddings=emb[None])[0, -1])


def main():
    tmp = tempfile.mkdtemp(prefix="attrib-grad-")
    tok = ["--tokenizer-from", H.STORIES260K]
    models = [("stories260K", H.STORIES260K), ("TinyStories-656K", H.TINYSTORIES_HF), ("llama-2-tiny-random", H.LLAMA2_TINY)]
    for name, args in [
        ("gen-qwen2-bias", ["--arch", "qwen2", "--n-embd", 128, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2,
                            "--n-ff", 192, "--seed", 21]),
        ("gen-llama-q8_0-untied", ["--n-embd", 128, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 1, "--n-ff", 256,
                                   "--dtype", "q8_0", "--untied", "--seed", 22]),
        ("gen-llama-ropefreqs", ["--n-embd", 64, "--n-layer", 3, "--n-head", 4, "--n-head-kv", 2, "--n-ff", 96,
                                 "--rope-freqs", "--rope-orig-ctx", 16, "--seed", 23]),
    ] + NEW_ARCH_GGUF:
        models.append((name, H.make_gguf(os.path.join(tmp, name + ".gguf"), *(args + tok))))
    for name, kw in NEW_ARCH_HF:        # with TinyStories-656K's tokenizer (BOS, mask token)
        d = write_hf_dir(os.path.join(tmp, name), n_vocab=2048, **kw)
        shutil.copy(os.path.join(H.TINYSTORIES_HF, "tokenizer.json"), d)
        models.append((name, d))

    rows, failures = [], 0
    for name, path in models:
        try:
            failures += check_model(name, path, rows)
        except Refused as e:
            rows.append([name, "SKIP: attrib does not support %s" % e, "-", "-", "-", "skip"])

    H.print_table(rows, ["model", "target", "autograd rel", "fd64 rel (worst)", "f / f(baseline)", ""])
    n_skip = sum(r[-1] == "skip" for r in rows)
    print("%d passed, %d failed, %d skipped" % (len(rows) - failures - n_skip, failures, n_skip))
    sys.exit(1 if failures else 0)


def check_model(name, path, rows):
    """Appends NAME's rows; returns its number of failures."""
    failures = 0
    ref = load_model(path)
    V = ref.n_vocab
    ids = [1] + [int(x) % V for x in (403, 407, 261, 378, 432, 383, 286, 261, 376)]
    emb = ref.embed([ids])[0].clone()
    rms = float(emb.pow(2).mean().sqrt())
    top = int(torch.argmax(ref.forward(tokens=[ids])[0, -1]))
    second = int(torch.argsort(ref.forward(tokens=[ids])[0, -1])[-2])
    for kind in ("logit", "logprob", "prob", "diff"):
        kw = {"target": kind, "token": top}
        if kind == "diff":
            kw["token2"] = second
        got = dump(path, ids, "saliency", **kw)
        f = target_fn(kind, top, second)
        e = emb.clone().requires_grad_(True)
        val = ref_value(ref, e, f)
        val.backward()
        g_ref = e.grad.numpy()
        g = np.array(got["gradients"]).reshape(g_ref.shape)
        scale = np.abs(g_ref).max()
        err_ag = np.abs(g - g_ref).max() / scale
        # float64 central differences on the reference's forward
        flat = np.argsort(-np.abs(g_ref).ravel())[:24]
        h = 1e-5 * rms
        worst_fd = 0.0
        with torch.no_grad():
            for idx in flat:
                i, d = divmod(int(idx), g_ref.shape[1])
                ep, em = emb.clone(), emb.clone()
                ep[i, d] += h
                em[i, d] -= h
                fd = float(ref_value(ref, ep, f) - ref_value(ref, em, f)) / (2 * h)
                worst_fd = max(worst_fd, abs(fd - g[i, d]) / max(abs(fd), abs(g[i, d])))
        ok = err_ag <= TOL_AUTOGRAD and worst_fd <= TOL_FD and abs(got["f_input"] - float(val)) <= 1e-4 * max(1, abs(float(val)))
        failures += not ok
        rows.append([name, kind, "%.2e" % err_ag, "%.2e" % worst_fd, "%.4g" % float(val), "ok" if ok else "FAIL"])

    # integrated gradients against the reference with numpy's Gauss-Legendre nodes
    got = dump(path, ids, "ig", steps=16, target="logit", token=top)
    mask_tok = got["mask_token"]
    base = emb.clone()
    base[1:] = ref.embed([[mask_tok] * (len(ids) - 1)])[0]
    x, w = np.polynomial.legendre.leggauss(16)
    alphas, weights = (x + 1) / 2, w / 2
    f = target_fn("logit", top, None)
    total = torch.zeros_like(emb)
    for a, wt in zip(alphas, weights):
        p = (base + float(a) * (emb - base)).clone().requires_grad_(True)
        ref_value(ref, p, f).backward()
        total += float(wt) * p.grad
    ig_ref = ((emb - base) * total).sum(-1).numpy()[1:]
    ig = np.array(got["scores"])
    with torch.no_grad():
        fb = float(ref_value(ref, base, f))
    err_ig = np.abs(ig - ig_ref).max() / np.abs(ig_ref).max()
    ok = err_ig <= TOL_IG and abs(got["f_baseline"] - fb) <= 1e-4 * max(1, abs(fb))
    failures += not ok
    rows.append([name, "IG gl16", "%.2e" % err_ig, "-", "%.4g" % fb, "ok" if ok else "FAIL"])
    if name in ("stories260K", "TinyStories-656K"):
        failures += check_adaptive(name, path, ref, ids, emb, top, rows)
    return failures


def check_adaptive(name, path, ref, ids, emb, top, rows):
    got = dump(path, ids, "ig", target="logit", token=top, mask="zero")
    base = emb.clone()
    base[1:] = 0.0
    f = target_fn("logit", top, None)
    total = torch.zeros_like(emb)
    for a, wt in zip(got["ig_nodes"], got["ig_weights"]):
        p = (base + float(a) * (emb - base)).clone().requires_grad_(True)
        ref_value(ref, p, f).backward()
        total += float(wt) * p.grad
    ig_ref = ((emb - base) * total).sum(-1).numpy()[1:]
    ig = np.array(got["scores"])
    err = np.abs(ig - ig_ref).max() / np.abs(ig_ref).max()
    with torch.no_grad():
        gap = float(ref_value(ref, emb, f) - ref_value(ref, base, f))
    rel_ref = abs(ig_ref.sum() - gap) / abs(gap)
    ok = err <= TOL_IG and rel_ref <= 0.01 and not got["ig_cap_reached"]
    rows.append([name, "IG adaptive zero (%d nodes)" % len(got["ig_nodes"]), "%.2e" % err, "ref delta %.1e" % rel_ref,
                 "%.4g" % gap, "ok" if ok else "FAIL"])
    return int(not ok)


if __name__ == "__main__":
    main()
