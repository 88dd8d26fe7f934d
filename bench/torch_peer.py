"""The PyTorch peer for attrib's benchmarks: the independent reference model
(tests/py/attrib_ref, which reads GGUF/safetensors itself) converted to
float32 and run the way a Python user would run it, with torch's and
OpenBLAS's thread counts set to the same number attrib uses.

    /usr/bin/python3 bench/torch_peer.py forward MODEL --ids-file F -b B -t T --threads N --reps R
    /usr/bin/python3 bench/torch_peer.py ig|saliency MODEL --ids-file F -t T --steps S --mask-token M

prints one JSON line (seconds: median and best, peak RSS; forward also
writes the first sequence's last-position logits to --logits-file, ig and
saliency their per-token scores to --scores-file as float64).

ig and saliency do what Captum's IntegratedGradients / Saliency do on the
input embeddings: target = the logit of the model's top-1 next token; IG
baseline = the embedding of --mask-token at every position but the first
(BOS stays), Gauss-Legendre nodes (numpy's leggauss), all steps in one
autograd batch (Captum's default internal_batch_size=None).
"""
import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "py"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("job", choices=["forward", "ig", "saliency"])
    ap.add_argument("model")
    ap.add_argument("--ids-file", required=True)
    ap.add_argument("-b", type=int, default=1)
    ap.add_argument("-t", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--logits-file")
    ap.add_argument("--scores-file")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--mask-token", type=int, default=0)
    a = ap.parse_args()

    import numpy as np
    import torch
    torch.set_num_threads(int(os.environ.get("ATTRIB_PEER_TORCH_THREADS", a.threads)))
    from attrib_ref.model import load_model

    t0 = time.perf_counter()
    m = load_model(a.model).to(torch.float32)
    load_s = time.perf_counter() - t0
    ids = np.fromfile(a.ids_file, dtype=np.int32).reshape(a.b, a.t)
    if a.job != "forward":
        return attribute(a, m, ids[0], load_s)
    times = []
    with torch.no_grad():
        logits = m.forward(tokens=ids, last_only=True)           # warm-up
        for _ in range(a.reps):
            t0 = time.perf_counter()
            logits = m.forward(tokens=ids, last_only=True)
            times.append(time.perf_counter() - t0)
    times.sort()
    if a.logits_file:
        logits[0, -1].numpy().astype(np.float32).tofile(a.logits_file)
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "B": a.b, "T": a.t, "threads": a.threads,
                      "seconds": times[len(times) // 2], "best_seconds": times[0], "load_seconds": load_s,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def embedding_gradient(f_emb, x):
    """d f / d x for embeddings X (T, C): one forward and one backward pass.
    F_EMB maps a batch of embeddings (B, T, C) to the target values (B,)."""
    e = x.clone()[None].requires_grad_(True)
    f_emb(e)[0].backward()
    return e.grad[0]


def integrated_gradients(f_emb, x, base, steps):
    """Integrated gradients from BASE to X (both (T, C)) per embedding
    dimension, (T, C): Gauss-Legendre nodes (numpy's leggauss), all STEPS
    points in one autograd batch (Captum's default internal_batch_size=None)."""
    import numpy as np
    import torch
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=x.dtype)[:, None, None]
    pts = (base[None] + alphas * (x - base)[None]).detach().requires_grad_(True)   # (steps, T, C)
    f_emb(pts).sum().backward()
    w = torch.tensor(weights / 2, dtype=x.dtype)[:, None, None]
    return (x - base).detach() * (w * pts.grad).sum(0)


def attribute(a, m, ids, load_s):
    import numpy as np
    import torch
    times, scores = [], None
    for _ in range(a.reps):
        t0 = time.perf_counter()
        with torch.no_grad():
            target = int(torch.argmax(m.forward(tokens=[ids], last_only=True)[0, -1]))
        x = m.embed([ids])[0]                                   # (T, C)
        f_emb = lambda e: m.forward(embeddings=e, last_only=True)[:, -1, target]
        if a.job == "saliency":
            scores = embedding_gradient(f_emb, x).norm(dim=-1)
        else:
            base = x.clone()
            base[1:] = m.embed([[a.mask_token] * (len(ids) - 1)])[0]
            scores = integrated_gradients(f_emb, x, base, a.steps).sum(-1)
            with torch.no_grad():
                m.forward(embeddings=base[None], last_only=True)          # f(baseline), as attrib reports it
        times.append(time.perf_counter() - t0)
    times.sort()
    if a.scores_file:
        scores.detach().numpy().astype(np.float64)[1:].tofile(a.scores_file)
    print(json.dumps({"impl": "pytorch", "job": a.job, "torch": torch.__version__, "T": a.t, "threads": a.threads,
                      "seconds": times[len(times) // 2], "best_seconds": times[0], "load_seconds": load_s,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
