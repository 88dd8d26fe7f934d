"""The peers of bench/bench_compare.py: the attribution part of an
`attrib compare` job (five methods, a judge template, a logit-difference
target) done by Captum 0.8 as its users run it, or by the project's plain
PyTorch peer (the loops of bench/torch_peer.py and bench/torch_perturb_peer.py),
on the independent reference model (tests/py/attrib_ref) in float32.

    PYTHONPATH=../shared/peers/captum-0.8.0 /usr/bin/python3 bench/compare_peer.py captum JOB.json OUT.json
    /usr/bin/python3 bench/compare_peer.py torch JOB.json OUT.json

JOB.json (written by bench_compare.py): {"model", "mask_token", "positive_id",
"negative_id", "steps", "perms", "seed", "methods", "prompts": [{"index", "id",
"ids", "span": [b, e]}]}: every prompt's token ids as attrib rendered and
tokenized it (template included) and its input span. Only the span's tokens
are features; the template's prefix and suffix stay fixed, as in attrib.
The target is logit(positive_id) - logit(negative_id) of the next token.

Method by method (attrib's name: Captum's class, and what the torch peer does):
  occlusion  FeatureAblation on the span's ids, baseline the mask token
             (batch-1 passes, Captum's perturbations_per_eval=1) | leave_one_out
  saliency   Saliency on the span's embeddings, L2 norm over the embedding
             dimension | one forward + backward
  gxi        InputXGradient on the span's embeddings, summed over the
             dimension | one forward + backward
  ig         LayerIntegratedGradients on the embedding layer, baseline the mask
             token's ids, STEPS Gauss-Legendre steps in one batch (Captum's
             defaults) | integrated_gradients (the same rule, one batch)
  shapley    ShapleyValueSampling, PERMS permutations, baseline the mask token
             (batch-1 passes) | shapley_permutations

Threads: ATTRIB_PEER_TORCH_THREADS, when set, goes to torch.set_num_threads;
unset, torch keeps its default (Captum "as it ships"); OpenBLAS reads its
own OPENBLAS_NUM_THREADS. OUT.json is rewritten after every prompt: the
seconds, model evaluations (sequences through the forward function) and
scores of each method, f(input), the versions and the thread counts in use,
and the peak RSS after model loading (VmHWM reset through /proc/self/clear_refs).
"""
import ctypes
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "py"))
sys.path.insert(0, HERE)


def openblas_threads():
    """OpenBLAS's thread count in this process (the library torch loaded), or None."""
    try:
        for line in open("/proc/self/maps"):
            path = line.split()[-1]
            if "openblas" in path and ".so" in path:
                return int(ctypes.CDLL(path).openblas_get_num_threads())
    except (OSError, AttributeError, ValueError):
        pass
    return None


def vm_kib(field):
    """A /proc/self/status figure (VmRSS, VmHWM) in KiB, or None."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Restarts the kernel's peak-RSS count (VmHWM) from the current RSS, so
    that the peak of the attribution work is seen apart from the model
    loader's (which stages every weight in float64 before converting)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Judge:
    """The judge's target on one rendered prompt, as functions of the span:
    f_emb(e (B, S, C)) and f_ids(ids (B, S)) -> (B,), and value(ids) -> float
    of a whole token list. Counts the sequences it evaluates."""

    def __init__(self, m, emb, ids, span, pos, neg):
        import torch
        self.m, self.emb, self.ids, self.pos, self.neg = m, emb, list(ids), pos, neg
        b, e = span
        self.b, self.e = b, e
        with torch.no_grad():
            self.pre = m.tok_embd[torch.tensor(ids[:b], dtype=torch.long)]      # (P, C)
            self.suf = m.tok_embd[torch.tensor(ids[e:], dtype=torch.long)]      # (T - e, C)
        self.span_ids = torch.tensor(ids[b:e], dtype=torch.long)              # (S,)
        self.evals = 0

    def f_emb(self, e):
        import torch
        B = e.shape[0]
        self.evals += B
        x = torch.cat([self.pre.expand(B, -1, -1), e, self.suf.expand(B, -1, -1)], dim=1)
        logits = self.m.forward(embeddings=x, last_only=True)[:, -1]
        return logits[:, self.pos] - logits[:, self.neg]

    def f_ids(self, span_ids):
        return self.f_emb(self.emb(span_ids))

    def value(self, ids):
        self.evals += 1
        logits = self.m.forward(tokens=[ids], last_only=True)[0, -1]
        return float(logits[self.pos] - logits[self.neg])


def captum_method(name, judge, job):
    import torch
    from captum.attr import (FeatureAblation, InputXGradient, LayerIntegratedGradients, Saliency,
                             ShapleyValueSampling)
    mask = job["mask_token"]
    span = judge.span_ids[None]                                               # (1, S)
    x = judge.emb(span).detach().requires_grad_(True)                         # (1, S, C)
    if name == "occlusion":
        return FeatureAblation(judge.f_ids).attribute(span, baselines=mask)[0]
    if name == "saliency":
        return Saliency(judge.f_emb).attribute(x, abs=True)[0].norm(dim=-1)
    if name == "gxi":
        return InputXGradient(judge.f_emb).attribute(x)[0].sum(-1)
    if name == "ig":
        lig = LayerIntegratedGradients(judge.f_ids, judge.emb)
        return lig.attribute(span, baselines=torch.full_like(span, mask), n_steps=job["steps"])[0].sum(-1)
    if name == "shapley":
        torch.manual_seed(job["seed"])
        return ShapleyValueSampling(judge.f_ids).attribute(span, baselines=mask, n_samples=job["perms"])[0]
    raise ValueError(name)


def torch_method(name, judge, job):
    import numpy as np
    import torch
    from torch_peer import embedding_gradient, integrated_gradients
    from torch_perturb_peer import leave_one_out, shapley_permutations
    mask = job["mask_token"]
    features = list(range(judge.b, judge.e))
    x = judge.emb(judge.span_ids).detach()                                    # (S, C)
    if name == "occlusion":
        with torch.no_grad():
            return leave_one_out(judge.value, judge.ids, features, mask, judge.value(judge.ids))
    if name == "saliency":
        return embedding_gradient(judge.f_emb, x).norm(dim=-1)
    if name == "gxi":
        return (embedding_gradient(judge.f_emb, x) * x).sum(-1)
    if name == "ig":
        base = judge.emb(torch.full_like(judge.span_ids, mask)).detach()
        scores = integrated_gradients(judge.f_emb, x, base, job["steps"]).sum(-1)
        with torch.no_grad():
            judge.f_emb(base[None])                                           # f(baseline), as attrib reports it
        return scores
    if name == "shapley":
        with torch.no_grad():
            return shapley_permutations(judge.value, judge.ids, features, mask, job["perms"],
                                        np.random.default_rng(job["seed"]))
    raise ValueError(name)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("captum", "torch"):
        sys.exit(__doc__)
    impl, job_path, out_path = sys.argv[1:]
    t_start = time.perf_counter()
    import numpy as np
    import torch
    if os.environ.get("ATTRIB_PEER_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["ATTRIB_PEER_TORCH_THREADS"]))
    method_fn = torch_method
    versions = {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    if impl == "captum":
        import captum
        method_fn = captum_method
        versions["captum"] = captum.__version__
        versions["captum_path"] = os.path.dirname(captum.__file__)
    from attrib_ref.model import load_model

    job = json.load(open(job_path))
    t0 = time.perf_counter()
    m = load_model(job["model"]).to(torch.float32)
    emb = torch.nn.Embedding.from_pretrained(m.tok_embd, freeze=True)
    load_s = time.perf_counter() - t0
    out = {"impl": impl, "versions": versions, "torch_threads": torch.get_num_threads(),
           "torch_interop_threads": torch.get_num_interop_threads(), "openblas_threads": openblas_threads(),
           "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY",
                                                  "ATTRIB_PEER_TORCH_THREADS")},
           "import_seconds": t0 - t_start, "load_seconds": load_s, "prompts": [],
           "rss_after_load_mib": (vm_kib("VmRSS") or 0) / 1024.0, "peak_rss_load_mib": (vm_kib("VmHWM") or 0) / 1024.0}
    reset = reset_peak_rss()
    first = True
    for p in job["prompts"]:
        judge = Judge(m, emb, p["ids"], p["span"], job["positive_id"], job["negative_id"])
        with torch.no_grad():
            if first:                                                         # warm-up, untimed
                judge.value(judge.ids)
                first = False
            f_input = judge.value(judge.ids)
        rec = {"index": p["index"], "id": p["id"], "n_tokens": len(p["ids"]), "n_features": judge.e - judge.b,
               "f_input": f_input, "methods": {}}
        for name in job["methods"]:
            judge.evals = 0
            t0 = time.perf_counter()
            scores = method_fn(name, judge, job)
            dt = time.perf_counter() - t0
            scores = scores.detach().double().numpy() if torch.is_tensor(scores) else np.asarray(scores, np.float64)
            rec["methods"][name] = {"seconds": dt, "evals": judge.evals, "scores": [float(s) for s in scores]}
        out["prompts"].append(rec)
        out["seconds"] = time.perf_counter() - t_start
        if reset:
            out["peak_rss_after_load_mib"] = (vm_kib("VmHWM") or 0) / 1024.0
        with open(out_path + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(out_path + ".tmp", out_path)
    print(json.dumps({"impl": impl, "prompts": len(out["prompts"]), "seconds": out.get("seconds")}))


if __name__ == "__main__":
    main()
