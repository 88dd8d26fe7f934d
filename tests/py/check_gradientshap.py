#!/usr/bin/python3
"""check_gradientshap: attrib's GradientSHAP against the independent float64
PyTorch reference (tests/py/attrib_ref).

GradientSHAP's score of feature f is the mean over samples k of
h_f(a_k, e_k) = (x + e_k - x') . grad F(x' + a_k (x + e_k - x')) over f's
tokens, a_k uniform on [0, 1], e_k Gaussian noise on the span's tokens with
std = noise x the RMS of the span's embeddings, x' the mask-token baseline.
Its draws come from attrib's own generator, so the check is statistical,
with the reference's own exact or random numbers:

1. without noise (noise=0, 512 samples): E[h_f] is integrated gradients;
   the reference computes it with 64 Gauss-Legendre nodes, and also
   Var[h_f] (from E[h_f^2] on the same nodes), hence the standard error
   sqrt(Var / 512) attrib should report. Criteria: |score - IG_ref| <= 4
   reference standard errors (+ 1e-4 of the largest score) for every
   feature, and attrib's std_errors within [0.75, 1.33] of the reference's.
2. with noise 1.0 (1024 samples; noise this large dominates the spread, so
   the noise's scale and its part in the multiplier are what is tested):
   the reference draws its own 4096 samples (torch's generator) of h_f;
   |score - ref mean| <= 4 x the combined standard error for every feature,
   and the spread of one sample agrees within [0.85, 1.18]. (Measured: a
   multiplier without the noise fails the first, a noise 1.3x too large
   the first on stories260K.)

Models: stories260K (GGUF) and TinyStories-656K (Hugging Face).
Environment: ATTRIB_SHARED, ATTRIB_BUILD (explain_dump is
$ATTRIB_BUILD/tests/explain_dump).
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.model import load_model  # noqa: E402


def dump(model, ids, **kw):
    cmd = [H.test_tool("explain_dump"), model, ",".join(map(str, ids)), "gradientshap"]
    cmd += ["%s=%s" % kv for kv in kw.items()]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print("FAIL: %s\n%s" % (" ".join(cmd), out.stderr))
        sys.exit(1)
    return json.loads(out.stdout)


def samples_h(ref, top, base, points, xs):
    """h_f for each (point, noisy input) pair: (k, tokens) float64."""
    out = []
    for p, xk in zip(points, xs):
        p = p.clone().requires_grad_(True)
        ref.forward(embeddings=p[None])[0, -1][top].backward()
        out.append(((xk - base) * p.grad).sum(-1))
    return torch.stack(out)


def check_model(name, path, rows):
    ref = load_model(path)
    V = ref.n_vocab
    ids = [1] + [int(x) % V for x in (403, 407, 261, 378, 432, 383, 286, 261, 376)]
    emb = ref.embed([ids])[0].clone()
    top = int(torch.argmax(ref.forward(tokens=[ids])[0, -1]))
    failures = 0

    # 1. no noise: the mean is IG, the spread is Var over a of h_f
    m = 512
    got = dump(path, ids, target="logit", token=top, samples=m, noise=0, seed=3)
    base = emb.clone()
    base[1:] = ref.embed([[got["mask_token"]] * (len(ids) - 1)])[0]
    x, w = np.polynomial.legendre.leggauss(64)
    alphas, weights = (x + 1) / 2, torch.tensor(w / 2)
    h = samples_h(ref, top, base, [base + float(a) * (emb - base) for a in alphas], [emb] * len(alphas))[:, 1:]
    mean = (weights[:, None] * h).sum(0)
    var = (weights[:, None] * h * h).sum(0) - mean * mean
    se_ref = np.sqrt(np.maximum(var.numpy(), 0) / m)
    score, se = np.array(got["scores"]), np.array(got["std_errors"])
    dev = np.abs(score - mean.numpy()) / (4 * se_ref + 1e-4 * np.abs(mean.numpy()).max())
    ratio = se / se_ref
    ok = dev.max() <= 1 and ratio.min() >= 0.75 and ratio.max() <= 1.33
    failures += not ok
    rows.append([name, "noise 0, %d samples" % m, "%.2f" % dev.max(), "%.2f..%.2f" % (ratio.min(), ratio.max()),
                 "ok" if ok else "FAIL"])

    # 2. noise 0.1: the reference's own Monte Carlo
    m, m_ref, noise = 1024, 4096, 1.0
    got = dump(path, ids, target="logit", token=top, samples=m, noise=noise, seed=5)
    sigma = noise * float(emb[1:].pow(2).mean().sqrt())
    gen = torch.Generator().manual_seed(11)
    a = torch.rand(m_ref, generator=gen, dtype=torch.float64)
    eps = torch.randn((m_ref,) + tuple(emb.shape), generator=gen, dtype=torch.float64) * sigma
    eps[:, 0] = 0  # BOS is fixed: no noise
    xs = [emb + e for e in eps]
    h = samples_h(ref, top, base, [base + float(ak) * (xk - base) for ak, xk in zip(a, xs)], xs)[:, 1:].numpy()
    mean_ref, se_ref = h.mean(0), h.std(0, ddof=1) / np.sqrt(m_ref)
    score, se = np.array(got["scores"]), np.array(got["std_errors"])
    dev = np.abs(score - mean_ref) / (4 * np.sqrt(se * se + se_ref * se_ref))
    ratio = se * np.sqrt(m) / (se_ref * np.sqrt(m_ref))  # the spreads of one sample
    ok = dev.max() <= 1 and ratio.min() >= 0.85 and ratio.max() <= 1.18
    failures += not ok
    rows.append([name, "noise %.1f, %d samples" % (noise, m), "%.2f" % dev.max(),
                 "%.2f..%.2f" % (ratio.min(), ratio.max()), "ok" if ok else "FAIL"])
    return failures


def main():
    rows, failures = [], 0
    for name, path in (("stories260K", H.STORIES260K), ("TinyStories-656K", H.TINYSTORIES_HF)):
        H.require(path, name)
        failures += check_model(name, path, rows)
    H.print_table(rows, ["model", "case", "worst |d| / bound", "std error / ref", ""])
    print("%d passed, %d failed" % (len(rows) - failures, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
