#!/usr/bin/python3
"""check_continuation: attribution of a whole answer (attrib_explain_continuation,
`attrib explain --generate / --continuation`) against the independent float64
PyTorch reference (tests/py/attrib_ref/model.py).

On stories260K with the prompt "Once upon a time there was a little girl
named" and a FORCED answer (the tokens of " Sue. She had a big dog", which
is not what the model would write), for every answer step j the reference
differentiates the target of step j (the log-probability of answer token
j after the prompt and answer tokens 0..j-1) with respect to the input
embeddings of that prefix, by autograd, and builds the (steps x sources)
matrices:

  1. saliency (L2 norm of each source's gradient) and gradient x input
     (signed: sum_d grad * embedding), and the per-step target value;
  2. integrated gradients with the mask-token baseline, fixed 16-node
     Gauss-Legendre rule (nodes from numpy's leggauss), and f(baseline); and
     the same with a prompt span 3:8, where prompt tokens 8.. stay fixed in
     input and baseline while the answer tokens remain sources;
  3. adaptive IG (the default): the reference integrates each row with the
     nodes and weights attrib reports for that row, and the rule meets the
     1% completeness tolerance on the reference;
  4. a contrastive run: target logit(answer token) - logit(contrast token)
     with a different contrast token per step (gradient x input);
  5. occlusion (a perturbation method): each source token replaced by the
     mask token in turn, the drop of the step's log-probability computed by
     forward passes of the reference.

Criterion for every matrix: each row's max|d| <= 1e-4 * that row's max|ref|
(rows are separate explanations of different size); the sources are exactly
the prompt without BOS plus the answer tokens before the step (every other
cell is null). The overall figure printed is max over rows.

6. Greedy: `attrib explain MODEL PROMPT --generate 8 --json` generates the
   same 8 tokens as the reference's greedy decoding (full recompute in
   float64), and its gradient x input matrix matches the reference too.

Environment: ATTRIB_SHARED, ATTRIB_BUILD (continuation_dump is
$ATTRIB_BUILD/tests/continuation_dump), ATTRIB_BIN.
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

TOL = 1e-4
PROMPT = "Once upon a time there was a little girl named"
ANSWER = " Sue. She had a big dog"
FAILS = []
WORST = {}


def check(cond, what):
    print("%-4s %s" % ("ok" if cond else "FAIL", what))
    sys.stdout.flush()
    if not cond:
        FAILS.append(what)


def run(cmd):
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if out.returncode != 0:
        print("FAIL: %s\n%s" % (" ".join(map(str, cmd)), out.stderr))
        sys.exit(1)
    return out.stdout


def dump(ids, n_prompt, method, **kw):
    cmd = [H.test_tool("continuation_dump"), H.STORIES260K, ",".join(map(str, ids)), n_prompt, method]
    cmd += ["%s=%s" % kv for kv in kw.items()]
    return json.loads(run(cmd))


def tokenize(text):
    return [t["id"] for t in json.loads(run([H.attrib_bin(), "tokenize", H.STORIES260K, text, "--json"]))["tokens"]]


def step_target(kind, tok, tok2=None):
    def f(logits):
        if kind == "logprob":
            return torch.log_softmax(logits, -1)[tok]
        return logits[tok] - logits[tok2]
    return f


def ref_grad(ref, emb, f):
    """d f(logits of the last position) / d emb, and f."""
    e = emb.clone().requires_grad_(True)
    val = f(ref.forward(embeddings=e[None])[0, -1])
    val.backward()
    return e.grad.detach(), float(val)


def ref_value(ref, emb, f):
    with torch.no_grad():
        return float(f(ref.forward(embeddings=emb[None])[0, -1]))


def compare(name, got, ids, n_prompt, ref_rows):
    """GOT: the dump's (or CLI's) rows of scores; REF_ROWS: per step the
    reference's scores of sources 1 .. P+j-1."""
    worst = 0.0
    pattern_ok = True
    n_src = len(ids) - 1
    for j, (row, want) in enumerate(zip(got, ref_rows)):
        n = n_prompt + j
        row = list(row)
        pattern_ok &= len(row) == n_src and row[0] is None and all(v is None for v in row[n:]) \
            and all(v is not None for v in row[1:n])
        if not pattern_ok:
            break
        d = np.abs(np.array(row[1:n], dtype=float) - want).max() / np.abs(want).max()
        worst = max(worst, d)
    check(pattern_ok and len(got) == len(ref_rows), "%s: %d rows; sources = prompt without BOS + earlier answer tokens"
          % (name, len(got)))
    check(worst <= TOL, "%s: worst row max|d| / max|ref| = %.2e (<= %.0e)" % (name, worst, TOL))
    WORST[name] = worst


def main():
    ref = load_model(H.STORIES260K)
    prompt = tokenize(PROMPT)
    full = tokenize(PROMPT + ANSWER)
    P = len(prompt)
    check(full[:P] == prompt and len(full) > P + 3, "forced answer: %d prompt + %d answer tokens" % (P, len(full) - P))
    G = len(full) - P
    greedy_ref = ref.greedy(prompt, G)
    check(full[P:] != greedy_ref, "the forced answer is not the model's greedy one (%s vs %s)" % (full[P:], greedy_ref))
    emb_all = ref.embed([full])[0]

    # 1. saliency and gradient x input, log-probability of each answer token
    sal = dump(full, P, "saliency")
    gxi = dump(full, P, "gxi")
    grads, fs = [], []
    for j in range(G):
        n = P + j
        g, v = ref_grad(ref, emb_all[:n], step_target("logprob", full[n]))
        grads.append(g)
        fs.append(v)
    compare("saliency (L2)", [s["scores"] for s in sal["steps"]], full, P,
            [g[1:].norm(dim=-1).numpy() for g in grads])
    compare("grad x input", [s["scores"] for s in gxi["steps"]], full, P,
            [(g * emb_all[:P + j])[1:].sum(-1).numpy() for j, g in enumerate(grads)])
    df = max(abs(s["f"] - v) / max(1.0, abs(v)) for s, v in zip(gxi["steps"], fs))
    check(df <= 1e-4, "per-step log-probabilities agree (worst %.1e)" % df)
    check(all(v < 0 for v in fs) and min(fs) < -1, "the forced answer's tokens are not all likely (min log p %.2f)" % min(fs))

    # 2. IG, fixed Gauss-Legendre 16 nodes, mask-token baseline
    ig = dump(full, P, "ig", steps=16)
    mask_tok = ig["mask_token"]
    x, w = np.polynomial.legendre.leggauss(16)
    rows, fb_err = [], 0.0
    for j in range(G):
        n = P + j
        emb = emb_all[:n]
        base = emb.clone()
        base[1:] = ref.embed([[mask_tok] * (n - 1)])[0]
        f = step_target("logprob", full[n])
        total = torch.zeros_like(emb)
        for a, wt in zip((x + 1) / 2, w / 2):
            total += float(wt) * ref_grad(ref, base + float(a) * (emb - base), f)[0]
        rows.append(((emb - base) * total)[1:].sum(-1).numpy())
        fb = ref_value(ref, base, f)
        fb_err = max(fb_err, abs(ig["steps"][j]["f_baseline"] - fb) / max(1.0, abs(fb)))
    compare("IG gl16 (mask token %d)" % mask_tok, [s["scores"] for s in ig["steps"]], full, P, rows)
    check(fb_err <= 1e-4, "IG f(baseline) per step agrees (worst %.1e)" % fb_err)

    # 2b. the same with a prompt span 3:8: prompt tokens 8.. stay fixed (in the input and the baseline),
    # the answer tokens are still sources
    sp = dump(full, P, "ig", steps=16, span="3:8")
    rows, worst, pattern = [], 0.0, True
    for j in range(G):
        n = P + j
        src = list(range(3, 8)) + list(range(P, n))
        emb = emb_all[:n]
        base = emb.clone()
        base[src] = ref.embed([[mask_tok] * len(src)])[0]
        f = step_target("logprob", full[n])
        total = torch.zeros_like(emb)
        for a, wt in zip((x + 1) / 2, w / 2):
            total += float(wt) * ref_grad(ref, base + float(a) * (emb - base), f)[0]
        want = ((emb - base) * total).sum(-1).numpy()[src]
        row = sp["steps"][j]["scores"]
        pattern &= all((row[i] is not None) == (i in src) for i in range(len(row)))
        got = np.array([row[i] for i in src], dtype=float)
        worst = max(worst, np.abs(got - want).max() / np.abs(want).max())
    check(pattern, "IG span 3:8: sources are positions 3..7 and the earlier answer tokens")
    check(worst <= TOL, "IG span 3:8 (fixed prompt tokens 8..%d): worst row max|d| / max|ref| = %.2e" % (P - 1, worst))
    WORST["IG span 3:8"] = worst

    # 3. adaptive IG: the reported rule of each row, and its tolerance on the reference
    ad = dump(full, P, "ig", mask="zero")
    rows, worst_rel = [], 0.0
    for j, st in enumerate(ad["steps"]):
        n = P + j
        emb = emb_all[:n]
        base = emb.clone()
        base[1:] = 0.0
        f = step_target("logprob", full[n])
        total = torch.zeros_like(emb)
        for a, wt in zip(st["ig_nodes"], st["ig_weights"]):
            total += float(wt) * ref_grad(ref, base + float(a) * (emb - base), f)[0]
        r = ((emb - base) * total)[1:].sum(-1).numpy()
        rows.append(r)
        gap = ref_value(ref, emb, f) - ref_value(ref, base, f)
        worst_rel = max(worst_rel, abs(r.sum() - gap) / abs(gap))
    compare("IG adaptive (zero baseline, %d-%d nodes)" % (min(len(s["ig_nodes"]) for s in ad["steps"]),
                                                          max(len(s["ig_nodes"]) for s in ad["steps"])),
            [s["scores"] for s in ad["steps"]], full, P, rows)
    check(worst_rel <= 0.01, "adaptive IG meets the 1%% tolerance on the reference in every row (worst %.2e)" % worst_rel)

    # 4. contrast: logit(answer token) - logit(contrast token), a different contrast per step
    contrast = [(t * 7 + 3) % ref.n_vocab for t in full[P:]]
    contrast = [c if c != t else (c + 1) % ref.n_vocab for c, t in zip(contrast, full[P:])]
    cd = dump(full, P, "gxi", target="diff", contrast=",".join(map(str, contrast)))
    rows = []
    for j in range(G):
        n = P + j
        g, _ = ref_grad(ref, emb_all[:n], step_target("diff", full[n], contrast[j]))
        rows.append((g * emb_all[:n])[1:].sum(-1).numpy())
    compare("contrast grad x input", [s["scores"] for s in cd["steps"]], full, P, rows)

    # 5. occlusion: f(x) - f(x with source i replaced by the mask token)
    occ = dump(full, P, "occlusion")
    mask_tok = occ["mask_token"]
    rows = []
    for j in range(G):
        n = P + j
        f = step_target("logprob", full[n])
        f_full = ref_value(ref, emb_all[:n], f)
        row = []
        for i in range(1, n):
            masked = list(full[:n])
            masked[i] = mask_tok
            row.append(f_full - ref_value(ref, ref.embed([masked])[0], f))
        rows.append(np.array(row))
    compare("occlusion (mask token %d)" % mask_tok, [s["scores"] for s in occ["steps"]], full, P, rows)

    # 6. greedy generation through the CLI, and its matrix
    doc = json.loads(run([H.attrib_bin(), "explain", H.STORIES260K, PROMPT, "--generate", 8, "--method", "gxi", "--json"]))
    got_ids = [t["id"] for t in doc["tokens"]]
    want = ref.greedy(prompt, 8)
    check(got_ids[:P] == prompt and got_ids[P:] == want, "--generate 8 picks the reference's greedy tokens %s" % want)
    emb_g = ref.embed([got_ids])[0]
    rows = []
    for j in range(len(want)):
        n = P + j
        g, _ = ref_grad(ref, emb_g[:n], step_target("logprob", got_ids[n]))
        rows.append((g * emb_g[:n])[1:].sum(-1).numpy())
    compare("CLI --generate 8 grad x input", doc["matrix"], got_ids, P, rows)

    print("max relative difference over all matrices: %.2e" % max(WORST.values()))
    print("%d failed" % len(FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
