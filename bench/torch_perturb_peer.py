"""The PyTorch peer of bench/bench_perturb.py: perturbation attribution done
the way Captum does it (Occlusion / ShapleyValueSampling with
perturbations_per_eval=1): every masked input is a separate batch-1 forward
pass over the whole prompt, no KV-cache reuse. The model is the independent
reference (tests/py/attrib_ref) converted to float32, with torch's thread
count set to the one attrib uses. Masking: token replacement by MASK_TOKEN.

    /usr/bin/python3 bench/torch_perturb_peer.py loo MODEL --ids 1,2,3 --mask-token 0 --threads 2
    /usr/bin/python3 bench/torch_perturb_peer.py shapley MODEL --ids ... --perms 2 --seed 0
    /usr/bin/python3 bench/torch_perturb_peer.py pass MODEL --ids ... --reps 5

Features are the tokens after the first; the target is the logit of the
top-1 next token of the unmasked prompt. Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "py"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("job", choices=["loo", "shapley", "pass"])
    ap.add_argument("model")
    ap.add_argument("--ids", required=True)
    ap.add_argument("--mask-token", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--perms", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()

    import numpy as np
    import torch
    torch.set_num_threads(int(os.environ.get("ATTRIB_PEER_TORCH_THREADS", a.threads)))
    from attrib_ref.model import load_model

    m = load_model(a.model).to(torch.float32)
    ids = [int(x) for x in a.ids.split(",")]
    n = len(ids)
    evals = 0

    def f(x):
        nonlocal evals
        evals += 1
        return m.forward(tokens=[x], last_only=True)[0, -1]

    with torch.no_grad():
        f(ids)  # warm-up
        evals = 0
        t0 = time.perf_counter()
        logits = f(ids)
        tgt = int(torch.argmax(logits))
        f_in = float(logits[tgt])
        out = {"impl": "pytorch", "threads": a.threads, "n_tokens": n}
        value = lambda x: float(f(x)[tgt])
        features = list(range(1, n))
        if a.job == "loo":
            out["scores"] = leave_one_out(value, ids, features, a.mask_token, f_in)
        elif a.job == "shapley":
            out["scores"] = shapley_permutations(value, ids, features, a.mask_token, a.perms,
                                                 np.random.default_rng(a.seed))
            out["perms"] = a.perms
        else:
            for _ in range(a.reps - 1):
                f(ids)
        out["seconds"] = time.perf_counter() - t0
        out["evals"] = evals
        out["seconds_per_eval"] = out["seconds"] / evals
    print(json.dumps(out))


def leave_one_out(value, ids, features, mask_token, f_in):
    """VALUE(ids) -> float of the whole prompt; per position in FEATURES,
    F_IN - VALUE(ids with that token replaced by MASK_TOKEN): one batch-1
    pass per feature."""
    scores = []
    for i in features:
        x = list(ids)
        x[i] = mask_token
        scores.append(f_in - value(x))
    return scores


def shapley_permutations(value, ids, features, mask_token, perms, rng):
    """Permutation Shapley values of the positions in FEATURES, PERMS
    independent permutations from RNG (numpy Generator): the value of the
    all-masked input, then each permutation adds the features back one at a
    time, one batch-1 pass each."""
    import numpy as np
    phi = np.zeros(len(features))
    base = list(ids)
    for i in features:
        base[i] = mask_token
    v0 = value(base)
    for _ in range(perms):
        x = list(base)
        prev = v0
        for k in rng.permutation(len(features)):
            x[features[k]] = ids[features[k]]
            cur = value(x)
            phi[k] += cur - prev
            prev = cur
    return list(phi / perms)


if __name__ == "__main__":
    main()
