#!/usr/bin/python3
"""check_layers_attn: attrib's look inside the model against the independent
float64 PyTorch reference (tests/py/attrib_ref; its forward(capture=...)
hands out each layer's softmax weights, values, head outputs and block
outputs, and forward(hidden_in=..., start_layer=L) runs the network from a
hidden state).

Per model (stories260K, and random-weight GGUF models from tools/make_gguf.py:
qwen2 with Q/K/V biases and GQA, gemma2 with soft-caps and a 3-position
sliding window, gemma3 with post-norms, Q/K norms and one KV head, a Q8_0
llama with GQA):

1. hidden states after every block (attrib_forward's hidden_out) vs the
   reference's residual stream;
2. attention probabilities of every block and head (attrib_attention);
3. layer gradients d target / d hidden_L (the gradient pass started at
   block L) for L = 0, the middle and n_layer, logit and log-prob targets,
   vs torch autograd through the reference run from its own hidden_L; and
   gradient x activation per position (relative to the largest sum_d |g h|
   of a position: at L = n_layer the final RMSNorm makes the target nearly
   scale-invariant in h, so sum_d g h nearly cancels);
4. layer IG scores (Gauss-Legendre 16 nodes, mask-token baseline) vs IG
   on the reference: hidden_L of the input and of the baseline input
   interpolated, the network run from each point; on stories260K also the
   adaptive rule (the reference recomputes it at attrib's nodes and weights);
5. direct logit attribution (attrib_logit_attribution): embedding, every
   block's attention and FFN, every head (and its split by key position)
   and the value-bias part, each against the same decomposition computed
   on the reference from its captured tensors; and the decomposition's sum
   against the logit (attrib's own, to float rounding; the reference's, to
   float64 rounding).

Criterion for each comparison: max|d| <= 1e-4 * max|ref| (the Q8_0 model's
weights are dequantised identically on both sides, so the same bound holds).
The decomposition's sum must meet |sum - logit| <= 1e-5 * max(1, |logit|).

Environment: ATTRIB_SHARED, ATTRIB_BUILD (layers_dump is
$ATTRIB_BUILD/tests/layers_dump).
"""
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
TOL_SUM = 1e-5

GEN = [
    ("gen-qwen2-bias-gqa", ["--arch", "qwen2", "--n-embd", 64, "--n-layer", 3, "--n-head", 4, "--n-head-kv", 2,
                            "--n-ff", 96, "--seed", 31]),
    ("gen-gemma2-swa3-softcaps", ["--arch", "gemma2", "--n-embd", 64, "--n-layer", 3, "--n-head", 4, "--n-head-kv", 2,
                                  "--head-dim", 32, "--n-ff", 96, "--sliding-window", 3, "--attn-softcap", 2.0,
                                  "--final-softcap", 5.0, "--seed", 32]),
    ("gen-gemma3-swa4-kv1", ["--arch", "gemma3", "--n-embd", 64, "--n-layer", 7, "--n-head", 4, "--n-head-kv", 1,
                             "--head-dim", 32, "--n-ff", 96, "--sliding-window", 4, "--seed", 33]),
    ("gen-llama-q8_0-gqa", ["--n-embd", 128, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 1, "--n-ff", 256,
                            "--dtype", "q8_0", "--untied", "--seed", 34]),
]


def dump(model, ids, what, **kw):
    cmd = [H.test_tool("layers_dump"), model, ",".join(map(str, ids)), what] + ["%s=%s" % kv for kv in kw.items()]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print("FAIL: %s\n%s" % (" ".join(cmd), out.stderr))
        sys.exit(1)
    return json.loads(out.stdout)


def rel(got, ref):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    scale = np.abs(ref).max()
    return float(np.abs(got - ref).max() / (scale if scale > 0 else 1.0))


def target_fn(kind, t, t2=None):
    def f(logits):
        if kind == "logit":
            return logits[t]
        if kind == "logprob":
            return torch.log_softmax(logits, -1)[t]
        return logits[t] - logits[t2]
    return f


def from_layer(ref, h, L, f):
    """The target of the reference run from hidden state h (T, C) after L layers."""
    return f(ref.forward(hidden_in=h[None], start_layer=L)[0, -1])


def ref_parts(ref, ids, tok, tok2):
    """The logit's parts on the reference, from its captured tensors."""
    cap = {}
    with torch.no_grad():
        logits, hidden = ref.forward(tokens=[ids], return_hidden=True, capture=cap)
    xl = hidden[-1][0, -1]
    r = torch.sqrt((xl * xl).mean() + ref.eps)
    w = ref.output[tok] - (ref.output[tok2] if tok2 >= 0 else 0.0)
    u = w * ref.output_norm / r
    H_, hd = ref.n_head, ref.head_dim
    kv_of_head = torch.arange(H_) // (H_ // ref.n_head_kv)
    out = {"logit": float(u @ xl), "embedding": float(u @ hidden[0][0, -1]), "attn": [], "ffn": [], "heads": [],
           "head_sources": [], "attn_bias": []}
    for li, L in enumerate(ref.layers):
        out["attn"].append(float(u @ cap["attn"][li][0, -1]))
        out["ffn"].append(float(u @ cap["ffn"][li][0, -1]))
        ue = u.clone()
        if "post_attn_norm" in L:
            o = cap["attn_pre"][li][0, -1]
            ue = u * L["post_attn_norm"] / torch.sqrt((o * o).mean() + ref.eps)
        bias = 0.0
        for h in range(H_):
            wo_h = L["wo"][:, h * hd:(h + 1) * hd]          # (C, hd)
            b = L["bv"].reshape(ref.n_head_kv, hd)[kv_of_head[h]] if "bv" in L else torch.zeros(hd, dtype=torch.float64)
            v = cap["v"][li][0, h]                            # (T, hd): the values head h reads
            p = cap["probs"][li][0, h, -1]                    # (T)
            src = p * ((v - b) @ wo_h.T @ ue)
            out["head_sources"].append(src.numpy())
            out["heads"].append(float(ue @ (wo_h @ (cap["head_out"][li][0, -1, h] - b))))
            bias += float(ue @ (wo_h @ b))
        out["attn_bias"].append(bias)
    out["capped"] = float(logits[0, -1, tok] - (logits[0, -1, tok2] if tok2 >= 0 else 0.0))
    return out, cap, hidden


def check_model(name, path, rows):
    failures = 0
    ref = load_model(path)
    V, Ln = ref.n_vocab, ref.n_layer
    ids = [1] + [int(x) % V for x in (403, 407, 261, 378, 432, 383, 286, 261, 376)]
    with torch.no_grad():
        top2 = torch.argsort(ref.forward(tokens=[ids])[0, -1])
    top, second = int(top2[-1]), int(top2[-2])

    def row(what, err, extra=""):
        nonlocal failures
        ok = err <= TOL
        failures += not ok
        rows.append([name, what, "%.2e" % err, extra, "ok" if ok else "FAIL"])

    # 1. hidden states, 2. attention probabilities, 5. the logit's parts
    got_h = np.array(dump(path, ids, "hidden")["hidden"]).reshape(Ln + 1, len(ids), ref.n_embd)
    ref_p, cap, hidden = ref_parts(ref, ids, top, second)
    row("hidden states (%d)" % (Ln + 1), max(rel(got_h[l], hidden[l][0].numpy()) for l in range(Ln + 1)))
    got_a = np.array(dump(path, ids, "attention")["probs"]).reshape(Ln, ref.n_head, len(ids), len(ids))
    row("attention probs", max(rel(got_a[l], cap["probs"][l][0].numpy()) for l in range(Ln)),
        "rows sum to 1 +- %.1e" % np.abs(got_a.sum(-1) - 1).max())
    got_p = dump(path, ids, "parts", token=top, token2=second)
    for key in ("attn", "ffn", "heads", "attn_bias"):
        ref_v = np.array(ref_p[key]).ravel()
        err = rel(np.array(got_p[key]).ravel(), ref_v) if np.abs(ref_v).max() > 0 else np.abs(got_p[key]).max()
        row("DLA %s" % key, err)
    row("DLA head_sources", rel(np.array(got_p["head_sources"]), np.concatenate(ref_p["head_sources"])))
    scale = max(abs(ref_p["embedding"]), *map(abs, ref_p["attn"]), *map(abs, ref_p["ffn"]))
    row("DLA embedding", abs(got_p["embedding"] - ref_p["embedding"]) / scale)
    ref_sum = ref_p["embedding"] + sum(ref_p["attn"]) + sum(ref_p["ffn"])
    sum_err = abs(got_p["sum"] - got_p["logit"]) / max(1.0, abs(got_p["logit"]))
    heads_err = max(abs(sum(got_p["heads"][l * ref.n_head:(l + 1) * ref.n_head]) + got_p["attn_bias"][l] - got_p["attn"][l])
                    for l in range(Ln))
    ok = (sum_err <= TOL_SUM and abs(ref_sum - ref_p["logit"]) <= 1e-9 * max(1, abs(ref_p["logit"]))
          and abs(got_p["logit"] - ref_p["logit"]) <= TOL * max(1, abs(ref_p["logit"]))
          and abs(got_p["logit_capped"] - ref_p["capped"]) <= TOL * max(1, abs(ref_p["capped"])) and heads_err <= 1e-9)
    failures += not ok
    rows.append([name, "DLA sum = logit", "%.2e" % sum_err, "logit %.5g (ref %.5g), capped %.5g, ref sum err %.1e"
                 % (got_p["logit"], ref_p["logit"], got_p["logit_capped"], abs(ref_sum - ref_p["logit"])),
                 "ok" if ok else "FAIL"])

    # 3. layer gradients and gradient x activation
    for L in sorted({0, Ln // 2, Ln}):
        for kind in ("logit", "logprob"):
            got = dump(path, ids, "layer", layer=L, method="gxi", target=kind, token=top)
            h = hidden[L][0].clone().requires_grad_(True)
            from_layer(ref, h, L, target_fn(kind, top)).backward()
            g_ref = h.grad.numpy()
            g = np.array(got["gradients"]).reshape(g_ref.shape)
            # gradient x activation, relative to the largest sum_d |g h| of a position: at L = n_layer the
            # final RMSNorm makes the target scale-invariant in h, so sum_d g h ~ 0 (eps alone breaks it)
            # and a relative error of the cancelled sum would mean nothing
            gh = h.detach().numpy() * g_ref
            gxa_err = np.abs(np.array(got["scores"]) - gh.sum(-1)).max() / np.abs(gh).sum(-1).max()
            row("layer %d grad (%s)" % (L, kind), max(rel(g, g_ref), gxa_err), "grad x act %.1e" % gxa_err)

    # 4. layer integrated gradients
    mid = max(1, Ln // 2)
    got = dump(path, ids, "layer", layer=mid, method="ig", steps=16, target="logit", token=top)
    base_ids = ids[:1] + [got["mask_token"]] * (len(ids) - 1)
    x, w = np.polynomial.legendre.leggauss(16)
    failures += check_ig(name, ref, ids, base_ids, mid, top, got, (x + 1) / 2, w / 2, "layer %d IG gl16" % mid, rows)
    if name == "stories260K":
        got = dump(path, ids, "layer", layer=mid, method="ig", target="logit", token=top)
        failures += check_ig(name, ref, ids, base_ids, mid, top, got, got["ig_nodes"], got["ig_weights"],
                             "layer %d IG adaptive (%d nodes)" % (mid, len(got["ig_nodes"])), rows)
    return failures


def check_ig(name, ref, ids, base_ids, L, top, got, alphas, weights, what, rows):
    with torch.no_grad():
        h = ref.forward(tokens=[ids], return_hidden=True)[1][L][0]
        hb = ref.forward(tokens=[base_ids], return_hidden=True)[1][L][0]
    f = target_fn("logit", top)
    total = torch.zeros_like(h)
    for a, wt in zip(alphas, weights):
        p = (hb + float(a) * (h - hb)).clone().requires_grad_(True)
        from_layer(ref, p, L, f).backward()
        total += float(wt) * p.grad
    vals_ref = ((h - hb) * total).numpy()
    with torch.no_grad():
        gap = float(from_layer(ref, h, L, f) - from_layer(ref, hb, L, f))
    err = rel(got["scores"], vals_ref.sum(-1))
    err_v = rel(np.array(got["values"]).reshape(vals_ref.shape), vals_ref)
    ok = (err <= TOL and err_v <= TOL and abs(got["f_baseline"] - (got["f_input"] - gap)) <= 1e-4 * max(1, abs(gap))
          and np.all(np.array(got["scores"])[0] == 0.0))
    rows.append([name, what, "%.2e" % err, "values rel %.1e, completeness %.1e (ref %.1e)"
                 % (err_v, got["completeness_relative"], abs(vals_ref.sum() - gap) / abs(gap)), "ok" if ok else "FAIL"])
    return int(not ok)


def main():
    H.require(H.STORIES260K, "stories260K")
    H.require(H.test_tool("layers_dump"), "layers_dump")
    tmp = tempfile.mkdtemp(prefix="attrib-layers-")
    models = [("stories260K", H.STORIES260K)]
    for name, args in GEN:
        models.append((name, H.make_gguf(os.path.join(tmp, name + ".gguf"), *(args + ["--tokenizer-from", H.STORIES260K]))))
    rows, failures = [], 0
    for name, path in models:
        failures += check_model(name, path, rows)
    H.print_table(rows, ["model", "check", "max rel diff", "", ""])
    print("%d passed, %d failed" % (len(rows) - failures, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
