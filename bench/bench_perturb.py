"""Perturbation-attribution benchmark: attrib against the PyTorch peer doing
the same method the way Captum does it (bench/torch_perturb_peer.py: batch
1, the whole prompt recomputed for every masked input, float32, same
thread count), in the same run.

Model: random weights with SmolLM2-135M's real shape (the shared
config.json), F32, written by tools/make_gguf.py (as bench_forward.py).
Prompt: 32 tokens; the first is fixed (as a BOS would be), the other 31
are the features; masking replaces a token by id 0; the target is the logit
of the top-1 next token.

  1. leave-one-out occlusion (31 masked inputs + the prompt)
  2. permutation Shapley values, 25 permutations. The peer's cost is
     exactly linear in the number of passes, so by default it runs
     --peer-perms permutations and its time is scaled to 25 permutations
     from its measured seconds per pass (printed as such); --peer-perms 25
     runs all of them (about 10 minutes on 2 cores).
  3. convergence on an 11-token prompt (10 features, exact values from all
     1,024 coalitions): model evaluations and time until the mean absolute
     error of sampled Shapley values is within 5% of the mean |exact value|
     (mean over --seeds seeds), for attrib's antithetic permutations and for
     plain independent permutations (Captum's sampler). Both samplers run on
     attrib's value function (bench/bench_perturb.c); the plain sampler's
     time "as Captum" is its evaluation count times the peer's measured
     seconds per batch-1 pass of that prompt.

    /usr/bin/python3 bench/bench_perturb.py [--threads 2] [--build build] [--peer-perms 2]

Absolute times on a shared machine are noise; the ratios are the signal.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))


def run_json(cmd, env, last=True):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    lines = [json.loads(l) for l in out.stdout.strip().splitlines() if l.startswith("{")]
    return lines[-1] if last else lines


def ours(build, model, req, env, reps=2):
    """Best of REPS runs of tests/tools/perturb_dump (times exclude model loading)."""
    best = None
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "req.json")
        with open(p, "w") as f:
            json.dump(req, f)
        for _ in range(reps):
            r = run_json([os.path.join(build, "tests", "perturb_dump"), model, p], env)
            if best is None or r["seconds"] < best["seconds"]:
                best = r
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("ATTRIB_SHARED", os.path.join(REPO, "..", "shared")))
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peer-torch-threads", type=int, default=1)
    ap.add_argument("--peer-perms", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--parts", default="loo,shapley,converge", help="which of loo,shapley,converge to run")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "attrib-bench-models"))
    a = ap.parse_args()

    config = os.path.join(a.shared, "models", "smollm2-135m-tokenizer", "config.json")
    os.makedirs(a.cache, exist_ok=True)
    model = os.path.join(a.cache, "smollm2-135m-shape-f32.gguf")
    if not os.path.exists(model):
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_gguf.py"), model, "--config", config,
                        "--dtype", "f32", "--seed", "1", "--quiet"], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    sys.path.insert(0, HERE)
    from bench_forward import peer_env, peer_note
    penv = peer_env(a.threads, a.peer_torch_threads)
    print(peer_note(a.threads, a.peer_torch_threads))
    peer = [sys.executable, os.path.join(HERE, "torch_perturb_peer.py")]
    rng = np.random.default_rng(32)
    ids = [1] + [int(x) for x in rng.integers(1, 49152, size=31)]
    ids_s = ",".join(map(str, ids))
    base = dict(tokens=ids, mask="token", mask_token=0, span=[1, 32], threads=a.threads)
    print("model %s, prompt 32 tokens (31 features), threads %d" % (os.path.basename(model), a.threads), flush=True)

    parts = a.parts.split(",")
    head = ["method", "attrib evals", "attrib s", "torch evals", "torch s", "speed-up", "max|dscore|"]
    # 1. leave-one-out
    if "loo" in parts:
        loo(a, model, base, env, peer, ids_s, head)
    if "shapley" in parts:
        shapley(a, model, base, env, peer, ids_s, head)
    if "converge" in parts:
        converge(a, model, ids, env, peer)


def loo(a, model, base, env, peer, ids_s, head):
    rows = []
    o = ours(a.build, model, dict(base, method="occlusion"), env)
    from bench_forward import peer_env
    p = run_json(peer + ["loo", model, "--ids", ids_s, "--mask-token", "0", "--threads", str(a.threads)],
                 peer_env(a.threads, a.peer_torch_threads))
    diff = float(np.max(np.abs(np.array(o["scores"]) - np.array(p["scores"]))))
    rows.append(["leave-one-out", o["n_forward"], "%.2f" % o["seconds"], p["evals"], "%.2f" % p["seconds"],
                 "%.1fx" % (p["seconds"] / o["seconds"]), "%.1e" % diff])
    print_rows(rows, head)


def shapley(a, model, base, env, peer, ids_s, head):
    from bench_forward import peer_env
    # 2. permutation Shapley, 25 permutations
    rows = []
    o = ours(a.build, model, dict(base, method="shapley", samples=25, seed=1), env, reps=1)
    p = run_json(peer + ["shapley", model, "--ids", ids_s, "--mask-token", "0", "--threads", str(a.threads),
                         "--perms", str(a.peer_perms)], peer_env(a.threads, a.peer_torch_threads))
    evals25 = 2 + 25 * 31
    t25 = p["seconds_per_eval"] * evals25
    scaled = "" if a.peer_perms == 25 else " (scaled from %d perms)" % a.peer_perms
    rows.append(["shapley 25 perms", o["n_forward"], "%.2f" % o["seconds"], evals25, "%.1f%s" % (t25, scaled),
                 "%.1fx" % (t25 / o["seconds"]), "-"])
    print_rows(rows, head)


def converge(a, model, ids, env, peer):
    # 3. convergence to 5% MAE on a 10-feature prompt
    short = ids[:11]
    conv = run_json([os.path.join(a.build, "bench", "bench_perturb"), model, "--ids", ",".join(map(str, short)),
                     "--threads", str(a.threads), "--seeds", str(a.seeds), "--samples", "2,4,8,16,32,64,128",
                     "--stop", "0.05"],
                    env, last=False)
    from bench_forward import peer_env
    pp = run_json(peer + ["pass", model, "--ids", ",".join(map(str, short)), "--threads", str(a.threads), "--reps", "5"],
                  peer_env(a.threads, a.peer_torch_threads))
    exact = conv[0]
    print("\nconvergence, 11-token prompt (10 features): exact values from %d evaluations in %.1f s (attrib; %d tokens"
          " computed, %d with full recomputation); torch batch-1 pass %.3f s"
          % (exact["evals"], exact["seconds"], exact["tokens_computed"], exact["tokens_full"], pp["seconds_per_eval"]))
    crow = []
    for sampler in ("antithetic", "plain"):
        lines = [l for l in conv[1:] if l["sampler"] == sampler]
        for l in lines:
            crow.append([sampler, l["samples"], "%.0f" % l["evals"], "%.3f" % l["mae_rel"], "%.2f" % l["seconds"],
                         "%.1f" % (l["evals"] * pp["seconds_per_eval"])])
        hit = next((l for l in lines if l["mae_rel"] <= 0.05), None)
        if hit:
            print("  %-10s reaches MAE <= 5%% at %d permutations: %.0f evaluations, attrib %.2f s, as Captum (torch batch 1)"
                  " %.1f s" % (sampler, hit["samples"], hit["evals"], hit["seconds"], hit["evals"] * pp["seconds_per_eval"]))
        else:
            print("  %-10s does not reach MAE <= 5%% within 128 permutations" % sampler)
    print("(each sampler stops at the first permutation count that reaches 5%)")
    print_rows(crow, ["sampler", "perms", "evals", "MAE/mean|phi|", "attrib s", "torch-way s (est.)"])


def print_rows(rows, head, header=True):
    w = [max(len(str(h)), 18, *(len(str(r[i])) for r in rows)) for i, h in enumerate(head)]
    if header:
        print("  ".join(str(h).rjust(x) for h, x in zip(head, w)))
    for r in rows:
        print("  ".join(str(c).rjust(x) for c, x in zip(r, w)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
