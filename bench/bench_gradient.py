"""Gradient-attribution benchmark: attrib against the PyTorch peer (autograd on
the independent reference model in float32, the way Captum computes
IntegratedGradients and Saliency), same model, same tokens, same thread
count, in the same run.

Model: random weights with SmolLM2-135M's real shape (tools/make_gguf.py from
the shared config.json), F32. Prompt: 32 random token ids (BOS first).
Jobs: integrated gradients with 50 Gauss-Legendre steps (mask-token
baseline), and saliency. Prints both sides' time and peak RSS, the speed-up
and memory ratio, attrib's achieved GFLOP/s against the sgemm peak measured
in the same run, and the largest relative difference between the two
sides' scores (a check that both did the same job).

    /usr/bin/python3 bench/bench_gradient.py [--threads 2] [--steps 50] [--tokens 32]
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
sys.path.insert(0, HERE)
from bench_forward import cpu_model, peer_env, peer_note, run_json  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("ATTRIB_SHARED", os.path.join(REPO, "..", "shared")))
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per side; medians are compared")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "attrib-bench-models"))
    ap.add_argument("--peer-torch-threads", type=int, default=1)
    a = ap.parse_args()
    config = os.path.join(a.shared, "models", "smollm2-135m-tokenizer", "config.json")
    model = os.path.join(a.cache, "smollm2-135m-shape-f32.gguf")
    os.makedirs(a.cache, exist_ok=True)
    if not os.path.exists(model):
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_gguf.py"), model, "--config", config,
                        "--dtype", "f32", "--seed", "1", "--quiet"], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    penv = peer_env(a.threads, a.peer_torch_threads)
    ids = np.random.default_rng(7).integers(3, 49152, size=a.tokens, dtype=np.int32)
    ids[0] = 1
    mask_token = 2
    print("machine: %s, %d CPUs; threads %d; %d-token prompt; model %s" % (cpu_model(), os.cpu_count(), a.threads,
                                                                          a.tokens, os.path.basename(model)))
    print(peer_note(a.threads, a.peer_torch_threads))
    head = ["job", "attrib s", "torch s", "speed-up", "attrib RSS MiB", "torch RSS MiB", "RSS ratio", "GFLOP/s",
            "of sgemm peak", "max rel |dscore|"]
    print("  ".join(h.rjust(12) for h in head))
    with tempfile.TemporaryDirectory() as td:
        idf = os.path.join(td, "ids")
        ids.tofile(idf)
        for job, extra in (("ig", ["--steps", str(a.steps)]), ("saliency", [])):
            sa, sp = os.path.join(td, "sa"), os.path.join(td, "sp")
            ours = run_json([os.path.join(a.build, "bench", "bench_explain"), model, idf, str(a.tokens), job, "--threads",
                             str(a.threads), "--mask-token", str(mask_token), "--span-begin", "1", "--scores-file", sa, "--reps", str(a.reps)]
                            + extra, env)
            peer = run_json([sys.executable, os.path.join(HERE, "torch_peer.py"), job, model, "--ids-file", idf, "-b", "1",
                             "-t", str(a.tokens), "--threads", str(a.threads), "--mask-token", str(mask_token),
                             "--scores-file", sp, "--reps", str(a.reps)] + extra, penv)
            x, y = np.fromfile(sa, np.float64), np.fromfile(sp, np.float64)
            diff = float(np.abs(x - y).max() / np.abs(y).max())
            row = ["%s%s" % (job, " %d" % a.steps if job == "ig" else ""), "%.3f" % ours["seconds"], "%.3f" % peer["seconds"],
                   "%.2fx" % (peer["seconds"] / ours["seconds"]), "%.0f" % ours["peak_rss_mib"],
                   "%.0f" % peer["peak_rss_mib"], "%.2f" % (ours["peak_rss_mib"] / peer["peak_rss_mib"]),
                   "%.1f" % ours["gflops"], "%.0f%%" % (100 * ours["peak_ratio"]), "%.1e" % diff]
            print("  ".join(str(c).rjust(12) for c in row))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
