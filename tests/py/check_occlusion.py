#!/usr/bin/python3
"""check_occlusion: attrib's occlusion (tests/tools/perturb_dump, public API)
against the same attribution computed from the independent float64 PyTorch
reference (tests/py/attrib_ref), on the three shared real models.

For every masking strategy the reference builds each masked input itself,
from the definition, and runs the whole sequence (no cache, batch 1):
  token      the ids of the masked feature's tokens replaced by the mask token
  zero       the masked tokens' input embeddings replaced by zeros
  delete     the masked tokens removed (later positions shift left)
  attention  key_mask 0 for the masked tokens (positions unchanged)
Score of a feature = f(x) - f(x masked) for leave-one-out; for windows,
each window's effect shared equally by its features and averaged over the
windows covering a feature (docs/perturbation.md). Also compared: the
resolved top-1 target token, f(x), and f(all features masked) (f_baseline).
Cases: leave-one-out for every strategy, a window of 3 with stride 2,
word-like feature groups, a log-probability target.

Criterion: max |C - ref| <= 1e-4 over each case's scores, f_input and
f_baseline (C computes in float32 with prefix reuse and batching, the
reference in float64 with full recomputation).

Environment: ATTRIB_SHARED, ATTRIB_BUILD. Options: -k SUBSTR (model names), -v.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.model import load_model  # noqa: E402

TOL = 1e-4


def run_c(model_path, req, tmp):
    path = os.path.join(tmp, "req.json")
    with open(path, "w") as f:
        json.dump(req, f)
    out = subprocess.run([H.test_tool("perturb_dump"), model_path, path], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("perturb_dump failed: %s" % out.stderr.strip())
    return json.loads(out.stdout)


def target_value(logits, kind, tok):
    z = logits.to(torch.float64)
    if kind == "logit":
        return float(z[tok])
    return float(z[tok] - torch.logsumexp(z, 0))  # logprob


def ref_value(m, ids, masked, mask, mask_token, kind, tok):
    """f of IDS with the positions in MASKED masked by MASK, full recomputation."""
    ids = list(ids)
    if mask == "token":
        x = [mask_token if i in masked else t for i, t in enumerate(ids)]
        logits = m.forward(tokens=[x])
    elif mask == "zero":
        e = m.embed(ids).clone()
        for i in masked:
            e[i] = 0
        logits = m.forward(embeddings=e[None].numpy())
    elif mask == "delete":
        x = [t for i, t in enumerate(ids) if i not in masked]
        logits = m.forward(tokens=[x])
    elif mask == "attention":
        km = [[0 if i in masked else 1 for i in range(len(ids))]]
        logits = m.forward(tokens=[ids], key_mask=km)
    else:
        raise ValueError(mask)
    return target_value(logits[0, -1], kind, tok)


def windows(nf, w, st):
    """Window starts as docs/perturbation.md defines them."""
    w = min(w, nf)
    starts = list(range(0, nf - w + 1, st))
    if starts[-1] + w < nf:
        starts.append(nf - w)
    return w, starts


def ref_occlusion(m, ids, fot, mask, mask_token, kind, tok, window, stride):
    nf = max(fot) + 1
    f_in = ref_value(m, ids, set(), mask, mask_token, kind, tok)
    w, starts = windows(nf, window, stride)
    score = np.zeros(nf)
    cover = np.zeros(nf)
    for s in starts:
        feats = set(range(s, s + w))
        masked = {i for i, f in enumerate(fot) if f in feats}
        e = f_in - ref_value(m, ids, masked, mask, mask_token, kind, tok)
        for f in feats:
            score[f] += e / w
            cover[f] += 1
    f_none = ref_value(m, ids, {i for i, f in enumerate(fot) if f >= 0}, mask, mask_token, kind, tok)
    return score / cover, f_in, f_none


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    H.require(H.test_tool("perturb_dump"), "perturb_dump (build the tests)")
    models = [("stories260K", H.STORIES260K, 1, 512), ("TinyStories-656K", H.TINYSTORIES_HF, 1, 2048),
              ("llama-2-tiny-random", H.LLAMA2_TINY, 1, 32000)]
    rows, failures = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, bos, V in models:
            if a.k not in name:
                continue
            H.require(path, name)
            m = load_model(path)
            rng = np.random.default_rng(len(name))
            ids = [bos] + [int(x) for x in rng.integers(3, V, size=11)]
            n = len(ids)
            # word-like groups: features of 1-3 consecutive span tokens
            groups, g, i = [], 0, 1
            while i < n:
                k = min(int(rng.integers(1, 4)), n - i)
                groups += [g] * k
                g += 1
                i += k
            cases = [dict(mask=mk) for mk in ("token", "zero", "delete", "attention")]
            cases += [dict(mask="token", window=3, stride=2), dict(mask="attention", window=2, stride=1),
                      dict(mask="delete", groups=groups), dict(mask="zero", target="logprob")]
            for cs in cases:
                req = dict(tokens=ids, method="occlusion", threads=2)
                req.update(cs)
                c = run_c(path, req, tmp)
                kind = cs.get("target", "logit")
                with torch.no_grad():
                    top = int(torch.argmax(m.forward(tokens=[ids])[0, -1]))
                    ok_tok = top == c["target_token"]
                    fot = c["feature_of_token"]
                    mt = c["mask_token"]
                    score, f_in, f_none = ref_occlusion(m, ids, fot, cs["mask"], mt, kind, c["target_token"],
                                                        cs.get("window", 1), cs.get("stride", 1))
                err = max(float(np.max(np.abs(np.array(c["scores"]) - score))), abs(c["f_input"] - f_in),
                          abs(c["f_baseline"] - f_none))
                ok = ok_tok and err <= TOL and (cs["mask"] != "token" or mt >= 0)
                failures += not ok
                desc = ",".join("%s=%s" % (k, v if k != "groups" else "words") for k, v in cs.items())
                rows.append([name, desc, len(score), "%.3g" % float(np.max(np.abs(score))), "%.2e" % err,
                             "ok" if ok else "FAIL"])
                if a.v or not ok:
                    print(name, desc, "C:", np.round(c["scores"], 5), "\n   ref:", np.round(score, 5),
                          "target", c["target_token"], top)
    H.print_table(rows, ["model", "case", "features", "max|score|", "max|C-ref|", "result"])
    print("%d of %d cases outside %.0e" % (failures, len(rows), TOL) if failures else
          "all %d cases within %.0e" % (len(rows), TOL))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
