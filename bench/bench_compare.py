"""Job-level benchmark (issue 18): a whole harmful-query `attrib compare` job
against Captum and the project's PyTorch peer doing the same attribution
work in the same run.

The job: N XSTest prompts (default 50: `attrib compare --sample N
--data-seed S`, a seeded random N rows kept in file order; the ids are in
the JSON) through the Llama Guard template (`--template llama-guard`; target
logit(" unsafe") - logit(" safe") of the next token, the label words
resolved as attrib compare resolves them: `attrib tokenize --single-token
--template llama-guard`), on random weights of SmolLM2-135M's shape (F32,
tools/make_gguf.py from the shared config.json with the shared smollm2
tokenizer, cached in --cache), with compare's five default methods:
occlusion, saliency, gxi, ig (--steps, 32), shapley (--samples, 25
permutations).

Sides, each in its own process (peak RSS = that child's ru_maxrss, os.wait4):
  attrib          the whole `attrib compare` job on all N prompts, with and
                  without its template prefix cache when the CLI has
                  --no-prefix-cache (--attrib-variants)
  captum          Captum 0.8 (../shared/peers/captum-0.8.0) as it ships:
                  no thread settings (torch's and OpenBLAS's defaults)
  captum-tuned    the same Captum in its fastest thread configuration,
                  chosen in this run by a probe on one prompt (torch
                  threads 1 and --threads, OpenBLAS 1 and --threads,
                  OMP_WAIT_POLICY; --tune-configs); reused from `captum`
                  when it picks exactly the threads that run used
  torch           the project's plain PyTorch peer (bench/torch_peer.py,
                  bench/torch_perturb_peer.py loops), torch 1 thread +
                  OpenBLAS --threads (bench_forward.peer_env)
The peers run bench/compare_peer.py on attrib's own token ids (template
included) with only the input span's tokens as features, the same mask
token and target; Captum: FeatureAblation, Saliency, InputXGradient,
LayerIntegratedGradients (embedding layer), ShapleyValueSampling.

Peers take minutes per prompt, so they run on --peer-prompts K of the N
prompts, spread over the distribution of span lengths (sorted by features,
evenly spaced ranks). Their whole-job figures are EXTRAPOLATED from those K
prompts: per method, seconds per unit of work (tokens x (features + 1) for
occlusion and shapley, tokens for the gradient methods) times the N prompts'
total work, plus the process's fixed cost (start, imports, model load).
On the K prompts themselves the times are measured and compared directly.

Reported: time per method and for the job, prompts/s, peak RSS, each as
attrib / peer (time ratio < 1 and prompts/s ratio > 1: attrib is faster);
two comparisons: "attribution methods only" (the sum of compare's per-method
seconds against the peers' methods) and "whole job" (compare's wall time,
which also computes faithfulness metrics, a random baseline, agreement and
its outputs, none of which the peers compute, against the peers' whole
process); attrib's time split across its steps; attrib's achieved GFLOP/s
of a gradient pass (bench/bench_explain on the median peer prompt: saliency
and ig) against the sgemm peak measured in that process; how close the
peers' scores are to attrib's (a check that both did the same job); the
ceiling: attrib's fewest FLOPs for the evaluations it ran (floor_flops) at
the sgemm peak, and at the float32 multiply-add peak of the hardware
(bench/bench_fma_peak), against each peer's seconds, so the largest
speed-up any exact float32 implementation of the same work could show on
this machine. The
JSON (--out) holds everything: machine, commit, versions, thread
configurations, prompt ids, per-prompt and per-method figures.

    /usr/bin/python3 bench/bench_compare.py --build build --out bench-compare.json     # the full job (hours)
    /usr/bin/python3 bench/bench_compare.py --build build --quick                      # smoke run (minutes)

Absolute times on a shared machine are noise; run it on a quiet one.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from bench_forward import cpu_model, peer_env  # noqa: E402

METHODS = ["occlusion", "saliency", "gxi", "ig", "shapley"]
CAPTUM_NAME = {"occlusion": "FeatureAblation", "saliency": "Saliency", "gxi": "InputXGradient",
               "ig": "LayerIntegratedGradients", "shapley": "ShapleyValueSampling"}
PERTURBATION = ("occlusion", "shapley")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY",
              "ATTRIB_PEER_TORCH_THREADS", "GOTO_NUM_THREADS")


def run_measured(cmd, env, log_prefix):
    """Runs CMD in its own process; returns its exit status, wall seconds and
    that child's peak RSS and CPU time (os.wait4). Output goes to LOG_PREFIX.out/.err."""
    t0 = time.perf_counter()
    with open(log_prefix + ".out", "w") as fo, open(log_prefix + ".err", "w") as fe:
        p = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    r = {"cmd": cmd, "rc": p.returncode, "wall_seconds": time.perf_counter() - t0, "peak_rss_mib": ru.ru_maxrss / 1024.0,
         "user_seconds": ru.ru_utime, "sys_seconds": ru.ru_stime, "log": log_prefix}
    return r


def fail(what, r):
    err = open(r["log"] + ".err").read()[-3000:]
    sys.exit("bench_compare: %s failed (status %d):\n%s" % (what, r["rc"], err))


def clean_env(extra=None):
    """The environment without thread settings (a library's defaults), plus EXTRA."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    env.update(extra or {})
    return env


def git_info():
    def g(*args):
        try:
            return subprocess.run(["git", "-C", REPO] + list(args), capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    status = g("status", "--porcelain", "--untracked-files=no")
    return {"commit": g("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def machine_info():
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 1024.0 / 1024.0
    except OSError:
        pass
    return {"cpu": cpu_model(), "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "mem_gib": mem, "kernel": platform.release(), "python": sys.version.split()[0],
            "loadavg_start": os.getloadavg()}


# ------------------------------------------------------------- FLOP count
def pass_flops(cfg, T):
    """FLOPs of one forward pass over T tokens with the last position's logits,
    and of one backward pass (the same matrix products plus twice the
    attention): bench_forward_flops / bench_explain.c, in Python."""
    C, F, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    hd = cfg.get("head_dim") or C // cfg["num_attention_heads"]
    qd, kvd = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    per_token = 2.0 * (C * qd + 2.0 * C * kvd + qd * C + 3.0 * C * F)
    attn = 2.0 * 2.0 * (T * (T + 1) / 2.0) * qd
    fwd = L * (T * per_token + attn) + 2.0 * C * V
    return fwd, fwd + L * attn


def floor_flops(cfg, T, k, backward=False):
    """The fewest FLOPs an exact evaluation can take when only the last K of
    T tokens differ from an input already computed (attention is causal, so
    the first T - K positions' keys and values are reusable): every layer's
    products for the K positions, except that the last layer needs only the
    keys and values of K positions and everything else at the target
    position alone; attention of those positions over their prefix; the
    target's two label rows of the output matrix. BACKWARD: that forward plus
    the input gradient through the same positions (the same products again
    and attention twice; no weight gradients)."""
    C, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd = cfg.get("head_dim") or C // cfg["num_attention_heads"]
    qd, kvd = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    kv = 2.0 * 2.0 * C * kvd
    per_token = 2.0 * (C * qd + qd * C + 3.0 * C * F) + kv
    attn = 2.0 * 2.0 * qd * (T * (T + 1) / 2.0 - (T - k) * (T - k + 1) / 2.0)
    f = (L - 1) * (k * per_token + attn) + k * kv + (per_token - kv) + 2.0 * 2.0 * T * qd + 2.0 * 2.0 * C
    return 2.0 * f + (L - 1) * attn if backward else f


def floor_job_flops(cfg, doc_prompt, steps):
    """Per method, the fewest FLOPs of the evaluations compare ran on one
    prompt (its n_forward), each counted by floor_flops: occlusion masks
    feature i, so the tokens from it on; a Shapley coalition differs from
    any other in at least one feature, so at least the template suffix and
    one span token; a gradient pass needs the span and the suffix, forward
    and backward, once (saliency, gxi) or per IG step. The unmasked input
    and the IG endpoints are not counted: a lower bound."""
    T, (b, e) = len(doc_prompt["tokens"]), doc_prompt["span"]
    grad = floor_flops(cfg, T, T - b, backward=True)  # the forward and the backward
    return {"occlusion": sum(floor_flops(cfg, T, T - i) for i in range(b, e)),
            "shapley": doc_prompt["methods"]["shapley"]["n_forward"] * floor_flops(cfg, T, T - e + 1),
            "saliency": grad, "gxi": grad, "ig": steps * grad}


def ceiling(cfg, prompts, steps, gflops, attrib_runs, peers):
    """The largest speed-up over each peer an exact float32 implementation
    of the evaluations compare ran could show: the peer's seconds over
    attrib's fewest FLOPs (floor_job_flops) at the sgemm peak and at the
    multiply-add peak measured in the run. PROMPTS: compare's document's
    prompts; GFLOPS, ATTRIB_RUNS, PEERS: the run's out["gflops"],
    out["attrib"], out["peers"]."""
    peak = max(gflops[j]["sgemm_peak_gflops"] for j in ("saliency", "ig")) * 1e9
    floor = {m: 0.0 for m in METHODS}
    for p in prompts:
        for m, f in floor_job_flops(cfg, p, steps).items():
            floor[m] += f
    floor_s = {m: floor[m] / peak for m in METHODS}
    # saliency and gxi need the same gradient: together it is needed once
    floor_all = sum(floor.values()) - min(floor["saliency"], floor["gxi"])
    fma_peak = gflops.get("fma", {}).get("fma_peak_gflops", 0.0) * 1e9  # runs before bench_fma_peak: none
    floor_fma_s = floor_all / fma_peak if fma_peak > 0 else None

    def vs(e):  # one peer's extrapolated seconds
        return {"method": {m: ratio(e["method_seconds"][m], floor_s[m]) for m in METHODS},
                "methods": ratio(e["methods_seconds"], floor_all / peak), "job": ratio(e["job_seconds"], floor_all / peak),
                "method_at_fma_peak": {m: ratio(e["method_seconds"][m], floor[m] / fma_peak) if fma_peak > 0 else None
                                       for m in METHODS},
                "methods_at_fma_peak": ratio(e["methods_seconds"], floor_fma_s),
                "job_at_fma_peak": ratio(e["job_seconds"], floor_fma_s)}

    return {
        "rule": "attrib's fewest FLOPs for the evaluations it ran (floor_flops: only the tokens from the first "
                "changed one on, the last layer at the target alone, no weight gradients; the unmasked input and IG "
                "endpoints not counted; all methods count the gradient saliency and gxi share once) at the sgemm peak "
                "measured in this run; the ceiling is the peer's seconds over that time: the largest speed-up an "
                "exact float32 implementation of the same evaluations could show here",
        "sgemm_peak_gflops": peak / 1e9, "floor_gflop": {m: floor[m] / 1e9 for m in METHODS},
        "floor_seconds": floor_s, "floor_methods_gflop": floor_all / 1e9, "floor_methods_seconds": floor_all / peak,
        "attrib_share_of_peak": {v: {m: floor_s[m] / t if t else None for m, t in r["method_seconds"].items()}
                                 for v, r in attrib_runs.items()},
        "attrib_methods_share_of_peak": {v: floor_all / peak / r["methods_seconds"] for v, r in attrib_runs.items()},
        "vs": {c: vs(r["extrapolated"]) for c, r in peers.items()},
        "fma_peak_gflops": fma_peak / 1e9, "floor_methods_seconds_at_fma_peak": floor_fma_s}


def print_ceiling(ce, attrib_runs):
    variants, cols = list(attrib_runs), list(ce["vs"])
    print("\n== ceiling: the largest speed-up an exact float32 implementation of the same evaluations could show "
          "here (fewest FLOPs at the sgemm peak, %.1f GFLOP/s) ==" % ce["sgemm_peak_gflops"])
    head = ["method", "fewest GFLOP", "seconds at peak"] + ["attrib %s now" % v for v in variants] + \
           ["ceiling vs %s" % c for c in cols]
    rows = []
    for m in METHODS:
        rows.append([m, "%.0f" % ce["floor_gflop"][m], fmt_s(ce["floor_seconds"][m])]
                    + ["%.0f%% of peak" % (100 * ce["attrib_share_of_peak"][v][m]) for v in variants]
                    + ["%.1fx" % ce["vs"][c]["method"][m] for c in cols])
    for label, k in (("all methods", "methods"), ("whole job", "job")):
        rows.append([label, "%.0f" % ce["floor_methods_gflop"], fmt_s(ce["floor_methods_seconds"])]
                    + ["%.0f%% of peak" % (100 * ce["attrib_methods_share_of_peak"][v]) if k == "methods" else ""
                       for v in variants] + ["%.1fx" % ce["vs"][c][k] for c in cols])
    table(head, rows)
    print("  (ceiling = peer seconds / seconds at peak; all methods count the gradient saliency and gxi share once; "
          "the whole job's counts only the methods' FLOPs, as if faithfulness, loading and output were free)")
    if ce["floor_methods_seconds_at_fma_peak"]:
        print("  at the hardware's multiply-add peak (%.1f GFLOP/s, which no kernel reaches): %s" % (
            ce["fma_peak_gflops"], "; ".join("vs %s: %s, all methods %.1fx, whole job %.1fx" % (
                c, ", ".join("%s %.1fx" % (m, ce["vs"][c]["method_at_fma_peak"][m]) for m in METHODS),
                ce["vs"][c]["methods_at_fma_peak"], ce["vs"][c]["job_at_fma_peak"]) for c in cols)))


def ceiling_from(path, shared):
    """--ceiling-from: the ceiling of a finished run, from its JSON and
    attrib's compare document (kept with --workdir), with this script's
    floor_flops; the JSON gets the result as "ceiling_recomputed"."""
    out = json.load(open(path))
    cfg = json.load(open(os.path.join(shared, "models", "smollm2-135m-tokenizer", "config.json")))
    v0 = next(iter(out["attrib"]))
    doc_path = out["attrib"][v0]["document"]
    if not os.path.exists(doc_path):
        sys.exit("bench_compare: %s is gone (run with --workdir to keep compare's documents)" % doc_path)
    prompts = json.load(open(doc_path))["prompts"]
    ce = ceiling(cfg, prompts, out["settings"]["steps"], out["gflops"], out["attrib"], out["peers"])
    print("recomputed from %s and %s (the run's commit %s)" % (path, doc_path, (out["git"]["commit"] or "?")[:12]))
    print_ceiling(ce, out["attrib"])
    out["ceiling_recomputed"] = dict(ce, script_commit=git_info()["commit"])
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


# ------------------------------------------------------------- helpers
def spread(prompts, k):
    """K prompts spread over the distribution of span lengths: sorted by
    (features, index), the ranks round(j (N-1) / (K-1)); K = 1: the median."""
    order = sorted(prompts, key=lambda p: (p["span"][1] - p["span"][0], p["index"]))
    n = len(order)
    if k >= n:
        return order
    ranks = [n // 2] if k == 1 else sorted({round(j * (n - 1) / (k - 1)) for j in range(k)})
    return [order[r] for r in ranks]


def work(method, p):
    """Units of work of METHOD on prompt P for the extrapolation."""
    T, S = len(p["tokens"]), p["span"][1] - p["span"][0]
    return T * (S + 1) if method in PERTURBATION else T


def fmt_s(x):
    if x is None:
        return "-"
    return "%.0f" % x if x >= 100 else "%.1f" % x if x >= 10 else "%.2f" % x


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_r(x):
    return "-" if x is None else "%.3g" % x


def table(head, rows, first_left=True):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(head)]
    just = lambda i, s: str(s).ljust(w[i]) if (i == 0 and first_left) else str(s).rjust(w[i])
    print("  " + "  ".join(just(i, h) for i, h in enumerate(head)))
    for r in rows:
        print("  " + "  ".join(just(i, c) for i, c in enumerate(r)))
    sys.stdout.flush()


# ------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("ATTRIB_SHARED", os.path.join(REPO, "..", "shared")))
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="build directory (attrib CLI, bench_explain)")
    ap.add_argument("--attrib", help="the attrib program (default BUILD/attrib)")
    ap.add_argument("--threads", type=int, default=2, help="attrib's threads, and the peers' OpenBLAS threads (2)")
    ap.add_argument("--prompts", type=int, default=50, help="N prompts attrib runs (50)")
    ap.add_argument("--peer-prompts", type=int, default=3, help="K of the N prompts the peers run (3)")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the prompt sample (attrib --data-seed; 0)")
    ap.add_argument("--steps", type=int, default=32, help="IG steps, both sides (32)")
    ap.add_argument("--samples", type=int, default=25, help="Shapley permutations, both sides (25)")
    ap.add_argument("--peer-shapley-perms", type=int, default=None,
                    help="permutations the peers actually run (default --samples); fewer: their Shapley time is "
                         "scaled to --samples, labelled")
    ap.add_argument("--peers", default="captum,captum-tuned,torch", help="which peers (captum,captum-tuned,torch)")
    ap.add_argument("--attrib-variants", default="auto",
                    help="auto (cache,nocache if compare has --no-prefix-cache, else default), or a list of "
                         "default,cache,nocache")
    ap.add_argument("--tune-configs", default=None,
                    help="Captum thread configurations to probe, TORCHxBLAS[p] (p: OMP_WAIT_POLICY=passive); "
                         "default 1xT,TxT,Tx1,TxTp with T = --threads")
    ap.add_argument("--explain-reps", type=int, default=3, help="repetitions of the GFLOP/s measurement (median)")
    ap.add_argument("--attrib-args", default="", help="extra `attrib compare` options (split on spaces)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "attrib-bench-models"),
                    help="where the random-weight model is cached")
    ap.add_argument("--workdir", default=None, help="keep every document and log here (default: a temporary dir)")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "attrib-bench-compare.json"), help="the JSON")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 prompts, peers on 1, 4 IG steps, 2 permutations, 2 tuning configurations, "
                         "fewer curve points (minutes)")
    ap.add_argument("--ceiling-from", metavar="JSON",
                    help="only recompute and print the ceiling of a finished run's JSON (its compare document must "
                         "still exist: --workdir), with this script's FLOP count; adds \"ceiling_recomputed\"")
    a = ap.parse_args()
    if a.ceiling_from:
        return ceiling_from(a.ceiling_from, a.shared)
    if a.quick:
        a.prompts, a.peer_prompts, a.steps, a.samples, a.explain_reps = 2, 1, 4, 2, 1
        a.attrib_args = (a.attrib_args + " --curve-points 5 --bootstrap 100").strip()
        if a.tune_configs is None:
            a.tune_configs = "1x%d,%dx%d" % (a.threads, a.threads, a.threads)
    if a.tune_configs is None:
        t = a.threads
        a.tune_configs = ",".join(dict.fromkeys(["1x%d" % t, "%dx%d" % (t, t), "%dx1" % t, "%dx%dp" % (t, t)]))
    peer_perms = a.peer_shapley_perms or a.samples
    peers = [p for p in a.peers.split(",") if p]
    for p in peers:
        if p not in ("captum", "captum-tuned", "torch"):
            sys.exit("bench_compare: unknown peer %r" % p)

    attrib = a.attrib or next((c for c in (os.path.join(a.build, "attrib"), os.path.join(a.build, "tools", "attrib"))
                               if os.path.exists(c)), None)
    bench_explain = os.path.join(a.build, "bench", "bench_explain")
    if not attrib or not os.path.exists(bench_explain):
        sys.exit("bench_compare: build the CLI and bench/bench_explain in %s first (cmake --build %s)" % (a.build, a.build))
    captum_path = os.path.join(a.shared, "peers", "captum-0.8.0")
    if any(p.startswith("captum") for p in peers) and not os.path.isdir(os.path.join(captum_path, "captum")):
        sys.exit("bench_compare: Captum not found at %s" % captum_path)
    data = os.path.join(a.shared, "data", "xstest", "xstest_prompts.csv")
    config = os.path.join(a.shared, "models", "smollm2-135m-tokenizer", "config.json")
    cfg = json.load(open(config))

    # the model: the same file bench_forward.py caches
    os.makedirs(a.cache, exist_ok=True)
    model = os.path.join(a.cache, "smollm2-135m-shape-tok-f32.gguf")
    if not os.path.exists(model):
        print("making %s ..." % model, flush=True)
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_gguf.py"), model, "--config", config,
                        "--dtype", "f32", "--seed", "1", "--quiet", "--tokenizer-from",
                        os.path.join(os.path.dirname(config), "tokenizer.json"), "--tokenizer-pre", "smollm"], check=True)

    help_text = subprocess.run([attrib, "compare", "--help"], capture_output=True, text=True).stdout
    has_cache_flag = "--no-prefix-cache" in help_text
    variants = (["cache", "nocache"] if has_cache_flag else ["default"]) if a.attrib_variants == "auto" \
        else a.attrib_variants.split(",")
    for v in variants:
        if v not in ("default", "cache", "nocache"):
            sys.exit("bench_compare: unknown attrib variant %r" % v)
        if v == "nocache" and not has_cache_flag:
            sys.exit("bench_compare: this attrib compare has no --no-prefix-cache")

    td_obj = None if a.workdir else tempfile.TemporaryDirectory(prefix="bench-compare-")
    wd = a.workdir or td_obj.name
    os.makedirs(wd, exist_ok=True)
    env_attrib = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    out = {"schema": "attrib.bench_compare/1", "started": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
           "command": sys.argv, "machine": machine_info(), "git": git_info(), "quick": a.quick,
           "settings": {"prompts": a.prompts, "peer_prompts": a.peer_prompts, "data_seed": a.data_seed,
                        "selection": "attrib compare --sample %d --data-seed %d (a seeded random %d rows of %s, kept "
                                     "in file order)" % (a.prompts, a.data_seed, a.prompts, data),
                        "template": "llama-guard", "steps": a.steps, "samples": a.samples,
                        "peer_shapley_perms": peer_perms, "threads": a.threads, "methods": METHODS,
                        "attrib_args": a.attrib_args, "model": model, "model_shape_from": config, "data": data},
           "attrib": {}, "peers": {}}
    print("machine: %s, %d CPUs, load average %.2f; attrib %s (%s%s); threads %d" % (
        out["machine"]["cpu"], os.cpu_count(), out["machine"]["loadavg_start"][0], attrib,
        (out["git"]["commit"] or "?")[:12], ", modified tree" if out["git"]["dirty"] else "", a.threads))
    print("job: %d XSTest prompts (--sample %d --data-seed %d), template llama-guard, model %s (random weights, "
          "SmolLM2-135M shape, F32); methods %s; IG %d steps, Shapley %d permutations%s" % (
              a.prompts, a.prompts, a.data_seed, os.path.basename(model), ",".join(METHODS), a.steps, a.samples,
              "; QUICK smoke run" if a.quick else ""), flush=True)

    # ---------------------------------------------------------- 1. attrib, all N prompts
    docs = {}
    for v in variants:
        doc_path = os.path.join(wd, "attrib-%s.json" % v)
        cmd = [attrib, "compare", model, "--data", data, "--template", "llama-guard", "--sample", str(a.prompts),
               "--data-seed", str(a.data_seed), "--steps", str(a.steps), "--samples", str(a.samples),
               "-t", str(a.threads), "-q", "-o", doc_path] + a.attrib_args.split()
        if v == "nocache":
            cmd.append("--no-prefix-cache")
        if os.path.exists(doc_path + ".partial.jsonl"):
            os.remove(doc_path + ".partial.jsonl")
        print("attrib (%s): %d prompts ..." % (v, a.prompts), flush=True)
        r = run_measured(cmd, env_attrib, os.path.join(wd, "attrib-%s" % v))
        if r["rc"] not in (0, 3):
            fail("attrib compare (%s)" % v, r)
        doc = json.load(open(doc_path))
        docs[v] = doc
        per_method = {m: sum(p["methods"][m]["seconds"] for p in doc["prompts"]) for m in METHODS}
        methods_s = sum(per_method.values())
        cost = doc["summary"]["cost"]
        rec = {"run": r, "n_prompts": len(doc["prompts"]), "skipped": len(doc["skipped"]), "failed": len(doc["failed"]),
               "wall_seconds": r["wall_seconds"], "methods_seconds": methods_s, "method_seconds": per_method,
               "other_seconds": r["wall_seconds"] - methods_s, "peak_rss_mib": r["peak_rss_mib"],
               "peak_rss_mb_reported": doc["provenance"].get("peak_rss_mb"), "cost": cost,
               "prompts_per_s_job": len(doc["prompts"]) / r["wall_seconds"],
               "prompts_per_s_methods": len(doc["prompts"]) / methods_s,
               "version": doc["provenance"].get("attrib_version"), "commit": doc["provenance"].get("commit"),
               "blas": doc["provenance"].get("machine", {}).get("blas"), "document": doc_path,
               "per_prompt": [{"index": p["index"], "id": p["id"], "label": p["label"], "n_tokens": len(p["tokens"]),
                               "n_features": p["span"][1] - p["span"][0], "score": p["score"],
                               "method_seconds": {m: p["methods"][m]["seconds"] for m in METHODS},
                               "n_forward": {m: p["methods"][m]["n_forward"] for m in METHODS},
                               "n_backward": {m: p["methods"][m]["n_backward"] for m in METHODS}}
                              for p in doc["prompts"]]}
        # full-pass-equivalent work rate of the gradient methods (with a prefix cache the passes are shorter)
        fl, secs = 0.0, 0.0
        for p in doc["prompts"]:
            fwd, bwd = pass_flops(cfg, len(p["tokens"]))
            for m in ("saliency", "gxi", "ig"):
                q = p["methods"][m]
                fl += q["n_forward"] * fwd + q["n_backward"] * bwd
                secs += q["seconds"]
        rec["gradient_full_pass_gflops"] = fl / secs / 1e9 if secs else None
        out["attrib"][v] = rec
        print("  %d prompts in %.1f s (methods %.1f s), peak RSS %.0f MiB, exit %d" % (
            rec["n_prompts"], r["wall_seconds"], methods_s, r["peak_rss_mib"], r["rc"]), flush=True)
    base_doc = docs[variants[0]]
    prompts = base_doc["prompts"]
    if len(variants) > 1:   # both variants must have done the same job
        d = 0.0
        for v in variants[1:]:
            for p, q in zip(prompts, docs[v]["prompts"]):
                assert p["id"] == q["id"]
                for m in METHODS:
                    x, y = p["methods"][m]["scores"], q["methods"][m]["scores"]
                    scale = max(1e-30, max(abs(s) for s in x))
                    d = max(d, max(abs(s - t) for s, t in zip(x, y)) / scale)
        out["attrib_variants_max_rel_score_diff"] = d
    prov = base_doc["provenance"]
    mask_token = prov["methods"]["occlusion"]["mask_token"]
    pos_word, neg_word = prov["classifier"]["positive"], prov["classifier"]["negative"]
    tok = subprocess.run([attrib, "tokenize", model, "--single-token", pos_word, neg_word, "--template", "llama-guard",
                          "--json"], capture_output=True, text=True, check=True)
    words = json.loads(tok.stdout)["words"]
    pos_id, neg_id = words[0]["id"], words[1]["id"]
    out["settings"].update({"mask_token": mask_token, "label_words": [pos_word, neg_word], "label_ids": [pos_id, neg_id],
                            "xstest_ids": [p["id"] for p in prompts],
                            "prompt_lengths": [{"id": p["id"], "index": p["index"], "label": p["label"],
                                                "n_tokens": len(p["tokens"]), "n_features": p["span"][1] - p["span"][0]}
                                               for p in prompts]})

    # ---------------------------------------------------------- 2. the peer prompts
    chosen = spread(prompts, a.peer_prompts)
    out["settings"]["peer_prompt_ids"] = [p["id"] for p in chosen]
    print("peer prompts (spread over span lengths): %s" % ", ".join(
        "id %s (%d features, %d tokens)" % (p["id"], p["span"][1] - p["span"][0], len(p["tokens"])) for p in chosen))
    job = {"model": model, "mask_token": mask_token, "positive_id": pos_id, "negative_id": neg_id, "steps": a.steps,
           "perms": peer_perms, "seed": 0, "methods": METHODS,
           "prompts": [{"index": p["index"], "id": p["id"], "ids": [t["id"] for t in p["tokens"]], "span": p["span"]}
                       for p in chosen]}
    job_path = os.path.join(wd, "peer-job.json")
    json.dump(job, open(job_path, "w"))

    # ---------------------------------------------------------- 3. attrib's GFLOP/s against the sgemm peak
    mid = chosen[len(chosen) // 2]
    ids_path = os.path.join(wd, "mid.ids")
    import numpy as np
    np.asarray([t["id"] for t in mid["tokens"]], np.int32).tofile(ids_path)
    out["gflops"] = {"prompt_id": mid["id"], "n_tokens": len(mid["tokens"]),
                     "note": "bench/bench_explain on this prompt's tokens: top-1 target, span from the prompt's "
                             "first feature to the end; FLOPs count full forward/backward passes"}
    for job_name, extra in (("saliency", []), ("ig", ["--steps", str(a.steps)])):
        r = run_measured([bench_explain, model, ids_path, str(len(mid["tokens"])), job_name, "--threads", str(a.threads),
                          "--mask-token", str(mask_token), "--span-begin", str(mid["span"][0]),
                          "--reps", str(a.explain_reps)] + extra, env_attrib, os.path.join(wd, "explain-" + job_name))
        if r["rc"] != 0:
            fail("bench_explain %s" % job_name, r)
        res = json.loads(open(r["log"] + ".out").read().strip().splitlines()[-1])
        out["gflops"][job_name] = res
    print("attrib gradient passes (bench_explain, %d tokens): saliency %.1f GFLOP/s, ig %d steps %.1f GFLOP/s; "
          "sgemm peak %.1f GFLOP/s (%.0f%% and %.0f%% of it)" % (
              len(mid["tokens"]), out["gflops"]["saliency"]["gflops"], a.steps, out["gflops"]["ig"]["gflops"],
              out["gflops"]["ig"]["sgemm_peak_gflops"], 100 * out["gflops"]["saliency"]["peak_ratio"],
              100 * out["gflops"]["ig"]["peak_ratio"]), flush=True)

    r = run_measured([os.path.join(a.build, "bench", "bench_fma_peak"), "--threads", str(a.threads)], env_attrib,
                     os.path.join(wd, "fma-peak"))
    if r["rc"] != 0:
        fail("bench_fma_peak", r)
    out["gflops"]["fma"] = json.loads(open(r["log"] + ".out").read().strip().splitlines()[-1])
    print("float32 multiply-add peak (bench_fma_peak, %d threads, %d-bit): %.1f GFLOP/s; the sgemm peak is %.0f%% of "
          "it" % (a.threads, out["gflops"]["fma"]["width"], out["gflops"]["fma"]["fma_peak_gflops"],
                  100 * out["gflops"]["ig"]["sgemm_peak_gflops"] / max(1e-9, out["gflops"]["fma"]["fma_peak_gflops"])),
          flush=True)

    # ---------------------------------------------------------- 4. the peers
    def run_peer(label, impl, env, jpath, tag):
        res_path = os.path.join(wd, "peer-%s.json" % tag)
        e = dict(env)
        if impl == "captum":
            e["PYTHONPATH"] = captum_path + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
        r = run_measured([sys.executable, os.path.join(HERE, "compare_peer.py"), impl, jpath, res_path], e,
                         os.path.join(wd, "peer-%s" % tag))
        if r["rc"] != 0:
            fail("peer %s" % label, r)
        res = json.load(open(res_path))
        res["run"] = r
        return res

    runs = {}
    if "captum" in peers or "captum-tuned" in peers:
        print("captum (as it ships) on %d prompt(s) ..." % len(chosen), flush=True)
        runs["captum"] = run_peer("captum", "captum", clean_env(), job_path, "captum")
        runs["captum"]["config"] = "as it ships: no thread settings (torch %d thread(s), OpenBLAS %s)" % (
            runs["captum"]["torch_threads"], runs["captum"]["openblas_threads"])
        print("  %s; %.1f s" % (runs["captum"]["config"], runs["captum"]["run"]["wall_seconds"]), flush=True)
    if "captum-tuned" in peers:
        probe = dict(job, steps=min(4, a.steps), perms=1, prompts=[p for p in job["prompts"] if p["id"] == mid["id"]])
        probe_path = os.path.join(wd, "probe-job.json")
        json.dump(probe, open(probe_path, "w"))
        print("captum thread configurations, probed on prompt id %s (IG %d steps, 1 permutation; estimate scaled to "
              "%d steps, %d permutations):" % (mid["id"], probe["steps"], a.steps, peer_perms), flush=True)
        probes = []
        for c in a.tune_configs.split(","):
            passive = c.endswith("p")
            tt, bt = (int(x) for x in c.rstrip("p").split("x"))
            extra = {"ATTRIB_PEER_TORCH_THREADS": str(tt), "OMP_NUM_THREADS": str(tt), "OPENBLAS_NUM_THREADS": str(bt)}
            if passive:
                extra["OMP_WAIT_POLICY"] = "passive"
            res = run_peer("captum probe %s" % c, "captum", clean_env(extra), probe_path, "probe-" + c)
            ms = res["prompts"][0]["methods"]
            est = sum(q["seconds"] * (a.steps / probe["steps"] if m == "ig" else peer_perms if m == "shapley" else 1)
                      for m, q in ms.items())
            desc = "torch %d thread(s), OpenBLAS %d%s" % (tt, bt, ", OMP_WAIT_POLICY=passive" if passive else "")
            probes.append({"config": c, "desc": desc, "env": extra, "estimate_seconds": est,
                           "method_seconds": {m: q["seconds"] for m, q in ms.items()},
                           "torch_threads": res["torch_threads"], "openblas_threads": res["openblas_threads"]})
        best = min(probes, key=lambda p: p["estimate_seconds"])
        table(["configuration", "estimated s per prompt"] + METHODS + ["chosen"],
              [[p["desc"], fmt_s(p["estimate_seconds"])] + [fmt_s(p["method_seconds"][m]) for m in METHODS]
               + ["<-" if p is best else ""] for p in probes])
        out["captum_tuning"] = {"prompt_id": mid["id"], "probe_steps": probe["steps"], "probe_perms": 1,
                                "configs": probes, "chosen": best["config"], "chosen_desc": best["desc"]}
        shipped = runs.get("captum")
        same = (shipped is not None and not best["env"].get("OMP_WAIT_POLICY")
                and shipped["torch_threads"] == best["torch_threads"]
                and shipped["openblas_threads"] == best["openblas_threads"])
        if same:
            runs["captum-tuned"] = dict(shipped, reused_from="captum")
            print("captum-tuned: fastest is %s = the threads Captum runs with as it ships; its run is reused" % best["desc"])
        else:
            print("captum-tuned (%s) on %d prompt(s) ..." % (best["desc"], len(chosen)), flush=True)
            runs["captum-tuned"] = run_peer("captum-tuned", "captum", clean_env(best["env"]), job_path, "captum-tuned")
        runs["captum-tuned"]["config"] = "fastest probed: " + best["desc"]
        if "captum" not in peers:
            del runs["captum"]
    if "torch" in peers:
        print("torch peer (torch 1 thread, OpenBLAS %d) on %d prompt(s) ..." % (a.threads, len(chosen)), flush=True)
        runs["torch"] = run_peer("torch", "torch", peer_env(a.threads, 1), job_path, "torch")
        runs["torch"]["config"] = "torch 1 thread + OpenBLAS %d (bench_forward.peer_env)" % a.threads

    # ---------------------------------------------------------- 5. extrapolate and compare
    by_id = {p["id"]: p for p in prompts}
    total_work = {m: sum(work(m, p) for p in prompts) for m in METHODS}
    for name, res in runs.items():
        shap_scale = a.samples / peer_perms
        meas = {m: sum(q["methods"][m]["seconds"] * (shap_scale if m == "shapley" else 1) for q in res["prompts"])
                for m in METHODS}
        wsum = {m: sum(work(m, by_id[q["id"]]) for q in res["prompts"]) for m in METHODS}
        extra = {m: meas[m] / wsum[m] * total_work[m] for m in METHODS}
        measured_methods = sum(q["methods"][m]["seconds"] for q in res["prompts"] for m in METHODS)
        fixed = res["run"]["wall_seconds"] - measured_methods
        res["extrapolated"] = {"label": "extrapolated from %d prompt(s)" % len(res["prompts"]),
                               "rule": "per method: measured seconds / sum of work units (tokens x (features + 1) "
                                       "for occlusion and shapley, tokens for gradient methods) of the measured "
                                       "prompts, times the N prompts' work units; job = that + the process's fixed "
                                       "cost (wall - measured method seconds)",
                               "method_seconds": extra, "methods_seconds": sum(extra.values()),
                               "fixed_seconds": fixed, "job_seconds": fixed + sum(extra.values()),
                               "shapley_scaled_from_perms": peer_perms if peer_perms != a.samples else None}
        res["extrapolated"]["prompts_per_s_methods"] = len(prompts) / res["extrapolated"]["methods_seconds"]
        res["extrapolated"]["prompts_per_s_job"] = len(prompts) / res["extrapolated"]["job_seconds"]
        # same job? scores against attrib's on the same prompts
        chk = {}
        for m in METHODS:
            worst, corr = 0.0, []
            for q in res["prompts"]:
                p = by_id[q["id"]]
                x = np.asarray(p["methods"][m]["scores"][p["span"][0]:p["span"][1]])
                y = np.asarray(q["methods"][m]["scores"])
                worst = max(worst, float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)))
                if len(x) > 1 and x.std() > 0 and y.std() > 0:
                    corr.append(float(np.corrcoef(x, y)[0, 1]))
            chk[m] = {"max_rel_diff": worst, "min_pearson": min(corr) if corr else None}
        chk["f_input_max_abs_diff"] = max(abs(q["f_input"] - by_id[q["id"]]["score"]) for q in res["prompts"])
        res["check"] = chk
        out["peers"][name] = res

    # ---------------------------------------------------------- 5b. the ceiling
    out["ceiling"] = ceiling(cfg, prompts, a.steps, out["gflops"], out["attrib"], out["peers"])

    # ---------------------------------------------------------- 6. print
    N = len(prompts)
    av = out["attrib"]
    lab = "extrapolated from %d prompt(s)" % len(chosen)
    cols = list(runs)
    print("\n== attribution methods only: seconds for the %d prompts (attrib measured; peers %s%s) ==" % (
        N, lab, "; peers' Shapley scaled from %d permutations" % peer_perms if peer_perms != a.samples else ""))
    head = ["method"] + ["attrib %s" % v for v in variants] + cols + \
           ["%s/%s" % (v, c) for v in variants for c in cols]
    rows = []
    for m in METHODS + ["all methods"]:
        am = {v: av[v]["methods_seconds"] if m == "all methods" else av[v]["method_seconds"][m] for v in variants}
        pm = {c: runs[c]["extrapolated"]["methods_seconds"] if m == "all methods"
              else runs[c]["extrapolated"]["method_seconds"][m] for c in cols}
        label = m if m == "all methods" else "%s (%s)" % (m, CAPTUM_NAME[m])
        rows.append([label] + [fmt_s(am[v]) for v in variants] + [fmt_s(pm[c]) for c in cols]
                    + [fmt_r(ratio(am[v], pm[c])) for v in variants for c in cols])
    table(head, rows)
    print("  (ratio = attrib seconds / peer seconds: below 1, attrib is faster)")

    print("\n== the %d peer prompt(s), measured: seconds of all five methods per prompt ==" % len(chosen))
    head = ["xstest id", "features", "tokens"] + ["attrib %s" % v for v in variants] + cols + \
           ["%s/%s" % (variants[0], c) for c in cols]
    rows = []
    for q in chosen:
        am = {v: sum(next(p for p in docs[v]["prompts"] if p["id"] == q["id"])["methods"][m]["seconds"] for m in METHODS)
              for v in variants}
        pm = {c: sum(next(x for x in runs[c]["prompts"] if x["id"] == q["id"])["methods"][m]["seconds"]
                     for m in METHODS) for c in cols}
        rows.append([q["id"], q["span"][1] - q["span"][0], len(q["tokens"])] + [fmt_s(am[v]) for v in variants]
                    + [fmt_s(pm[c]) for c in cols] + [fmt_r(ratio(am[variants[0]], pm[c])) for c in cols])
    table(head, rows)
    if peer_perms != a.samples:
        print("  (peers ran %d Shapley permutations here, not scaled in this table)" % peer_perms)

    print("\n== whole job, %d prompts (peers %s) ==" % (N, lab))
    head = ["side", "job s", "prompts/s", "methods s", "prompts/s (methods)", "peak RSS MiB", "configuration"]
    rows = []
    for v in variants:
        x = av[v]
        rows.append(["attrib %s" % v, fmt_s(x["wall_seconds"]), "%.4f" % x["prompts_per_s_job"],
                     fmt_s(x["methods_seconds"]), "%.4f" % x["prompts_per_s_methods"], "%.0f" % x["peak_rss_mib"],
                     "%d threads%s" % (a.threads, "" if v == "default" else ", prefix cache %s" % ("on" if v == "cache" else "off"))])
    for c in cols:
        e = runs[c]["extrapolated"]
        rows.append([c, fmt_s(e["job_seconds"]), "%.4f" % e["prompts_per_s_job"], fmt_s(e["methods_seconds"]),
                     "%.4f" % e["prompts_per_s_methods"], "%.0f" % runs[c]["run"]["peak_rss_mib"], runs[c]["config"]])
    table(head, rows)
    print("  attrib's job also computes faithfulness metrics, a random baseline, agreement and its report; "
          "the peers' do not.")
    print("  peak RSS is each process's ru_maxrss; the peers' peak while loading the model (the reference loader "
          "stages the weights in float64) / after loading: %s" % ", ".join(
              "%s %.0f / %.0f MiB" % (c, runs[c].get("peak_rss_load_mib") or 0, runs[c].get("peak_rss_after_load_mib") or 0)
              for c in cols))
    head = ["attrib / peer"] + ["job time", "prompts/s (job)", "methods time", "prompts/s (methods)", "peak RSS"]
    out["ratios"] = {}
    for v in variants:
        x = av[v]
        for c in cols:
            e = runs[c]["extrapolated"]
            out["ratios"]["%s / %s" % (v, c)] = {
                "job_seconds": ratio(x["wall_seconds"], e["job_seconds"]),
                "prompts_per_s_job": ratio(x["prompts_per_s_job"], e["prompts_per_s_job"]),
                "methods_seconds": ratio(x["methods_seconds"], e["methods_seconds"]),
                "prompts_per_s_methods": ratio(x["prompts_per_s_methods"], e["prompts_per_s_methods"]),
                "peak_rss": ratio(x["peak_rss_mib"], runs[c]["run"]["peak_rss_mib"]),
                "peak_rss_vs_peer_after_load": ratio(x["peak_rss_mib"], runs[c].get("peak_rss_after_load_mib")),
                "method_seconds": {m: ratio(x["method_seconds"][m], e["method_seconds"][m]) for m in METHODS},
                "peer_basis": "extrapolated from %d prompt(s)" % len(chosen)}
    table(head, [[k, fmt_r(r["job_seconds"]), fmt_r(r["prompts_per_s_job"]), fmt_r(r["methods_seconds"]),
                  fmt_r(r["prompts_per_s_methods"]), fmt_r(r["peak_rss"])] for k, r in out["ratios"].items()])

    print("\n== attrib: where the time goes (seconds over %d prompts; model evaluations from compare's cost) ==" % N)
    head = ["step"] + ["%s s" % v for v in variants] + ["%s share" % v for v in variants] + ["evaluations", "faithfulness evals"]
    rows = []
    cost = av[variants[0]]["cost"]
    for m in METHODS:
        rows.append([m] + [fmt_s(av[v]["method_seconds"][m]) for v in variants]
                    + ["%.0f%%" % (100 * av[v]["method_seconds"][m] / av[v]["wall_seconds"]) for v in variants]
                    + [cost[m]["model_evaluations"], cost[m]["faithfulness_evaluations"]])
    rows.append(["faithfulness, random baseline, agreement, load, output"] + [fmt_s(av[v]["other_seconds"]) for v in variants]
                + ["%.0f%%" % (100 * av[v]["other_seconds"] / av[v]["wall_seconds"]) for v in variants]
                + ["", sum(cost[m]["faithfulness_evaluations"] for m in METHODS)])
    rows.append(["whole job"] + [fmt_s(av[v]["wall_seconds"]) for v in variants] + ["100%"] * len(variants) + ["", ""])
    table(head, rows)
    for v in variants:
        print("  %s: gradient methods at %.1f full-pass-equivalent GFLOP/s (n_forward, n_backward x all tokens, the cached"
              " template prefix included although it is not recomputed, so this may exceed the sgemm peak; the achieved"
              " rate is bench_explain's line above)" % (v, av[v]["gradient_full_pass_gflops"] or 0))
    if "attrib_variants_max_rel_score_diff" in out:
        print("  variants' scores differ by at most %.2e (relative to each prompt's largest |score|)" %
              out["attrib_variants_max_rel_score_diff"])

    print_ceiling(out["ceiling"], av)

    print("\n== same job? peer scores against attrib's on the peer prompts ==")
    head = ["peer"] + ["%s max rel diff" % m for m in METHODS if m != "shapley"] + ["shapley min Pearson r", "|f_input diff|"]
    rows = []
    for c in cols:
        k = runs[c]["check"]
        rows.append([c] + ["%.1e" % k[m]["max_rel_diff"] for m in METHODS if m != "shapley"]
                    + [fmt_r(k["shapley"]["min_pearson"]), "%.1e" % k["f_input_max_abs_diff"]])
    table(head, rows)
    print("  (Shapley values are sampled on both sides with different permutations: correlation, not equality)")

    out["machine"]["loadavg_end"] = os.getloadavg()
    out["finished"] = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print("\nJSON: %s%s" % (a.out, "" if td_obj is None else "  (documents and logs: use --workdir to keep them)"))
    if td_obj:
        td_obj.cleanup()


if __name__ == "__main__":
    main()
