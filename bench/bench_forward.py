"""Forward-pass benchmark: attrib against the PyTorch peer and llama.cpp,
same model, same tokens, same thread count, in the same run.

Model: random weights with SmolLM2-135M's real shape (from the shared
config.json: 30 layers, width 576, 9 heads / 3 KV heads, FFN 1536,
vocabulary 49,152, tied), written by tools/make_gguf.py as F32 and Q8_0.
For each weight type and each (batch, prompt length) it prints attrib's
tokens/s, achieved GFLOP/s and its ratio to the sgemm peak measured in the
same run, the peer's tokens/s, the speed-up, and the largest difference
between the two sides' logits (a check that both did the same job).

    /usr/bin/python3 bench/bench_forward.py [--threads 2] [--reps 5] [--build build]

llama.cpp (the second peer) is libllama from the npm package
@node-llama-cpp/linux-x64 3.22.1 (llama.cpp release v0.5.0), driven by
tests/llamacpp/llamacpp_ref.py (installed there with `npm ci` on first use).
It runs prompt processing of the same B x T tokens (one llama_decode of all
sequences, logits of each sequence's last token, as attrib's run) with the
library's default settings ("as it ships": F16 K/V cache, flash attention
auto, n_ubatch 512) at 1 thread, at --threads, and at its default thread
count (llama_context_default_params: 4); the table gives the tokens/s at
--threads, its fastest of the three and which that is, and attrib's ratio to
each (>1: attrib is faster). --no-torch / --no-llamacpp leave a peer out.

Absolute times on shared machines are noise; the ratios are the signal.
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


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("ATTRIB_SHARED", os.path.join(REPO, "..", "shared")))
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtypes", default="f32,q8_0")
    ap.add_argument("--shapes", default="1x32,1x128,8x32,8x128", help="BxT list")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "attrib-bench-models"))
    ap.add_argument("--make-args", default="", help="extra tools/make_gguf.py options overriding the 135M shape, "
                    "e.g. \"--n-embd 512 --n-head 8 --n-head-kv 4\" for K-quants (rows of 256)")
    ap.add_argument("--compute", default="exact",
                    help="attrib compute modes, comma list of exact,fast (the CLI's --compute); the first one is "
                         "compared with PyTorch, each one gets a llama.cpp row")
    ap.add_argument("--no-torch", action="store_true", help="leave the PyTorch peer out")
    ap.add_argument("--no-llamacpp", action="store_true", help="leave the llama.cpp peer out")
    ap.add_argument("--peer-torch-threads", type=int, default=1,
                    help="torch intra-op threads of the peer (its BLAS gets --threads); see peer_env")
    a = ap.parse_args()

    config = os.path.join(a.shared, "models", "smollm2-135m-tokenizer", "config.json")
    bench_bin = os.path.join(a.build, "bench", "bench_forward")
    os.makedirs(a.cache, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    penv = peer_env(a.threads, a.peer_torch_threads)
    rows, lrows = [], []
    print("machine: %s, %d CPUs; threads %d; reps %d (median)" % (cpu_model(), os.cpu_count(), a.threads, a.reps))
    if not a.no_torch:
        print(peer_note(a.threads, a.peer_torch_threads))
    llama = None if a.no_llamacpp else LlamaCppPeer()
    if llama:
        print(llama.note)
    for dt in a.dtypes.split(","):
        # with SmolLM2's tokenizer in the file: llama.cpp loads no model without one
        extra = a.make_args.split()
        tag = ("-" + "".join(c for c in a.make_args if c.isalnum())) if extra else ""
        model = os.path.join(a.cache, "smollm2-135m-shape-tok%s-%s.gguf" % (tag, dt))
        if not os.path.exists(model):
            made = subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_gguf.py"), model, "--config", config,
                                   "--dtype", dt, "--seed", "1", "--quiet", "--tokenizer-from",
                                   os.path.join(os.path.dirname(config), "tokenizer.json"), "--tokenizer-pre",
                                   "smollm"] + extra, capture_output=True, text=True)
            if made.returncode != 0:  # e.g. K-quants need rows of 256: the 135M width is 576
                print("%s: skipped (%s)" % (dt, made.stderr.strip().splitlines()[-1] if made.stderr else "make_gguf failed"))
                continue
        for shape in a.shapes.split(","):
            B, T = (int(x) for x in shape.split("x"))
            rng = np.random.default_rng(B * 1000 + T)
            ids = rng.integers(1, 49152, size=(B, T), dtype=np.int32)
            with tempfile.TemporaryDirectory() as td:
                idf, la, lp = (os.path.join(td, n) for n in ("ids", "la", "lp"))
                ids.tofile(idf)
                modes = a.compute.split(",")
                ours = run_json([bench_bin, model, "-b", str(B), "-t", str(T), "--threads", str(a.threads),
                                 "--compute", modes[0],
                                 "--reps", str(a.reps), "--ids-file", idf, "--logits-file", la], env)
                if llama:
                    lrows.append(llama.row(model, dt, ids, ours, np.fromfile(la, np.float32), a))
                    lrows[-1][0] = "%s %s" % (dt, modes[0]) if len(modes) > 1 else dt
                    print_llama_rows(lrows[-1:], header=len(lrows) == 1)
                for mode in modes[1:]:  # the same job in the other compute modes, against the same llama.cpp run
                    lf = os.path.join(td, "lf")
                    more = run_json([bench_bin, model, "-b", str(B), "-t", str(T), "--threads", str(a.threads),
                                     "--reps", str(a.reps), "--ids-file", idf, "--logits-file", lf, "--compute", mode], env)
                    print("attrib --compute %s: %.0f tok/s (%s: %.0f), CPU time per token %.2f ms (%s: %.2f ms)" %
                          (mode, more["tokens_per_s"], modes[0], ours["tokens_per_s"], 1e3 * more["cpu_seconds"] / (B * T),
                           modes[0], 1e3 * ours["cpu_seconds"] / (B * T)))
                    if llama:
                        lrows.append(llama.row_for(lrows[-1], "%s %s" % (dt, mode), more, np.fromfile(lf, np.float32)))
                        print_llama_rows(lrows[-1:], header=False)
                if a.no_torch:
                    continue
                peer = run_json([sys.executable, os.path.join(HERE, "torch_peer.py"), "forward", model, "--ids-file", idf,
                                 "-b", str(B), "-t", str(T), "--threads", str(a.threads), "--reps", str(a.reps),
                                 "--logits-file", lp], penv)
                diff = float(np.max(np.abs(np.fromfile(la, np.float32) - np.fromfile(lp, np.float32))))
            peer_gflops = ours["gflop"] / peer["seconds"]
            rows.append([dt, B, T, "%.0f" % ours["tokens_per_s"], "%.1f" % ours["gflops"], "%.1f" % ours["sgemm_peak_gflops"],
                         "%.0f%%" % (100 * ours["peak_ratio"]), "%.0f" % (B * T / peer["seconds"]), "%.1f" % peer_gflops,
                         "%.2fx" % (peer["seconds"] / ours["seconds"]), "%.0f" % ours["peak_rss_mib"],
                         "%.0f" % peer["peak_rss_mib"], "%.1e" % diff])
            print_rows(rows[-1:], header=len(rows) == 1)
    if llama:
        llama.close()
        if rows:
            print("\nllama.cpp:")
            print_llama_rows(lrows, header=True)
    print("\nGFLOP counts matrix products and attention for the tokens processed plus the last position's logits.")


HEAD = ["weights", "B", "T", "attrib tok/s", "GFLOP/s", "sgemm peak", "of peak", "torch tok/s", "torch GFLOP/s",
        "speed-up", "RSS MiB", "torch RSS", "max|dlogit|"]


def print_rows(rows, header):
    w = [max(len(h), 8) for h in HEAD]
    if header:
        print("  ".join(h.rjust(x) for h, x in zip(HEAD, w)))
    for r in rows:
        print("  ".join(str(c).rjust(x) for c, x in zip(r, w)))
    sys.stdout.flush()


class LlamaCppPeer:
    """llama.cpp through tests/llamacpp/llamacpp_ref.py (JSON lines)."""

    def __init__(self):
        drv = os.path.join(REPO, "tests", "llamacpp", "llamacpp_ref.py")
        self.p = subprocess.Popen([sys.executable, drv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        info = self("info")
        self.note = ("peer: llama.cpp %s (%s, release %s), CPU backend %s, library defaults (F16 K/V cache, "
                     "flash attention auto)" % (info["llama_version"], info["package"], info["llama_cpp_release"],
                                                info["cpu_backend"]))

    def __call__(self, op, **req):
        req["op"] = op
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        res = json.loads(self.p.stdout.readline() or '{"error": "llamacpp_ref.py exited"}')
        if "error" in res:
            raise RuntimeError("llama.cpp: " + res["error"])
        return res

    def row(self, model, dt, ids, ours, attrib_logits, a):
        batch = ids.tolist()
        tps = {}
        for label, threads in (("1", 1), (str(a.threads), a.threads), ("default (4)", None)):
            if label in tps:
                continue
            r = self("bench", model=model, batch=batch, threads=threads, reps=a.reps, defaults=True)
            tps[label] = len(batch) * len(batch[0]) / float(np.median(r["seconds"]))
        best = max(tps, key=tps.get)
        # same job: llama.cpp's last-position logits of sequence 0 (F32 reference settings)
        ref = np.asarray(self("logits", model=model, ids=batch[0], threads=a.threads)["logits"], np.float32)
        diff = float(np.max(np.abs(ref - attrib_logits[:ref.size])))
        self.last_ref = ref
        mine = ours["tokens_per_s"]
        same = tps[str(a.threads)]
        return [dt, len(batch), len(batch[0]), "%.0f" % mine, "%.0f" % same, "%.2fx" % (mine / same),
                "%.0f" % tps[best], best, "%.2fx" % (mine / tps[best]),
                "  ".join("%s:%.0f" % kv for kv in tps.items()), "%.1e" % diff]

    def row_for(self, base, label, ours, attrib_logits):
        """BASE's llama.cpp figures (same job, same run) against another attrib run."""
        mine, same, best = ours["tokens_per_s"], float(base[4]), float(base[6])
        diff = float(np.max(np.abs(self.last_ref - attrib_logits[:self.last_ref.size])))
        return [label, base[1], base[2], "%.0f" % mine, base[4], "%.2fx" % (mine / same), base[6], base[7],
                "%.2fx" % (mine / best), base[9], "%.1e" % diff]

    def close(self):
        self.p.stdin.close()
        self.p.wait()


LHEAD = ["weights", "B", "T", "attrib tok/s", "llama.cpp tok/s", "attrib/llama.cpp", "llama.cpp best", "best threads",
         "attrib/best", "llama.cpp tok/s by threads", "max|dlogit|"]


def print_llama_rows(rows, header):
    w = [max(len(h), 8) for h in LHEAD]
    if header:
        print("  ".join(h.rjust(x) for h, x in zip(LHEAD, w)))
    for r in rows:
        print("  ".join(str(c).rjust(x) for c, x in zip(r, w)))
    sys.stdout.flush()


def peer_env(threads, torch_threads):
    """The PyTorch peer's environment: OpenBLAS (torch's BLAS here) gets THREADS
    threads, torch's own OpenMP pool TORCH_THREADS. Measured on this 2-core
    machine (forward, 135M shape, 1 x 128 tokens): torch 1 + OpenBLAS 2 threads
    553 tok/s; torch 2 + OpenBLAS 2 threads 76 tok/s (the two pools spin
    against each other), 503 tok/s with OMP_WAIT_POLICY=passive. The default is
    the peer's fastest configuration, so the ratios are not flattered."""
    return dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(torch_threads),
                ATTRIB_PEER_TORCH_THREADS=str(torch_threads))


def peer_note(threads, torch_threads):
    return ("peer: PyTorch with %d intra-op thread(s) + OpenBLAS %d threads (its fastest configuration here; "
            "see peer_env in bench/bench_forward.py)" % (torch_threads, threads))


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
