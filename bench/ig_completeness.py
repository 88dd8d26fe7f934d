"""IG completeness study: relative completeness delta |sum(IG) - (f(x) - f(x'))| / |f(x) - f(x')|
for each integration rule and step count, over the first N XSTest prompts, on the shared models.
Prints a Markdown table (median and worst over the prompts, and how many are within 1%).

    /usr/bin/python3 bench/ig_completeness.py [--prompts 20] [--mask token|zero] [--build build]

--adaptive compares the adaptive rule (the default, --ig-tol 0.01, --max-steps 512)
with fixed Gauss-Legendre steps (--steps, default here 32,128,512) on both
baselines (--masks token,zero): per model, baseline and rule the relative
delta (median, worst, within 1%), the gradient evaluations (mean, max) and the
time per prompt. Each run is appended to --log (JSON lines) as it finishes, the
prompts in the outer loop, so an interrupted run still gives a table over the
prompts every configuration finished (--table-only rebuilds it from the log).

    /usr/bin/python3 bench/ig_completeness.py --adaptive --prompts 50 --jobs 2 --log ig.jsonl
"""
import argparse
import concurrent.futures
import csv
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("ATTRIB_SHARED", os.path.join(REPO, "..", "shared")))
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--mask", default="token")
    ap.add_argument("--rules", default="gl,left,right,middle,trapezoid")
    ap.add_argument("--steps", default="8,16,32,64,128")
    ap.add_argument("--models", default="stories260K,TinyStories-656K")
    ap.add_argument("--adaptive", action="store_true", help="adaptive vs fixed study (see above)")
    ap.add_argument("--masks", default="token,zero")
    ap.add_argument("--tol", default="0.01")
    ap.add_argument("--max-steps", default="512")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (each with --threads 1)")
    ap.add_argument("--log", default="ig_completeness.jsonl")
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    paths = {"stories260K": os.path.join(a.shared, "models", "stories260K", "stories260K-f32.gguf"),
             "TinyStories-656K": os.path.join(a.shared, "models", "TinyStories-656K")}
    with open(os.path.join(a.shared, "data", "xstest", "xstest_prompts.csv"), newline="", encoding="utf-8") as f:
        prompts = [row["prompt"] for row in csv.DictReader(f)][: a.prompts]
    attrib = os.path.join(a.build, "attrib")
    if a.adaptive:
        return adaptive_study(a, attrib, paths, prompts)
    print("| model | rule | steps | median rel. delta | worst | within 1% |")
    print("|---|---|---|---|---|---|")
    for mname in a.models.split(","):
        for rule in a.rules.split(","):
            for steps in a.steps.split(","):
                rel = []
                for p in prompts:
                    out = subprocess.run([attrib, "explain", paths[mname], p, "--method", "ig", "--rule", rule, "--steps", steps,
                                          "--mask", a.mask, "--json", "--threads", "2"], capture_output=True, text=True, check=True)
                    rel.append(json.loads(out.stdout)["completeness_relative"])
                print("| %s | %s | %s | %.2e | %.2e | %d/%d |" % (mname, rule, steps, statistics.median(rel), max(rel),
                                                               sum(r <= 0.01 for r in rel), len(rel)))
                sys.stdout.flush()


def run_one(attrib, path, prompt, mask, rule, a):
    cmd = [attrib, "explain", path, prompt, "--method", "ig", "--mask", mask, "--json", "--threads", "1"]
    cmd += ["--ig-tol", a.tol, "--max-steps", a.max_steps] if rule == "adaptive" else ["--steps", rule, "--rule", "gl"]
    d = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    ig = d.get("ig", {})
    return {"relative": d["completeness_relative"], "evaluations": d["cost"]["n_backward"], "forward": d["cost"]["n_forward"],
            "seconds": d["cost"]["seconds"], "cap_reached": ig.get("cap_reached", False)}


def adaptive_study(a, attrib, paths, prompts):
    rules = ["adaptive"] + a.steps.split(",") if a.steps != "8,16,32,64,128" else ["adaptive", "32", "128", "512"]
    configs = [(m, mask, rule) for m in a.models.split(",") for mask in a.masks.split(",") for rule in rules]
    done = {}
    if os.path.exists(a.log):
        with open(a.log) as f:
            for line in f:
                r = json.loads(line)
                done[(r["model"], r["mask"], r["rule"], r["prompt"])] = r
    if not a.table_only:
        jobs = [(m, mask, rule, i) for i in range(len(prompts)) for (m, mask, rule) in configs
                if (m, mask, rule, i) not in done]
        with open(a.log, "a") as log, concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
            futs = {ex.submit(run_one, attrib, paths[m], prompts[i], mask, rule, a): (m, mask, rule, i) for (m, mask, rule, i) in jobs}
            for fu in concurrent.futures.as_completed(futs):
                m, mask, rule, i = futs[fu]
                r = dict(fu.result(), model=m, mask=mask, rule=rule, prompt=i)
                done[(m, mask, rule, i)] = r
                log.write(json.dumps(r) + "\n")
                log.flush()
    # the prompts every configuration finished
    common = [i for i in range(len(prompts)) if all((m, mask, rule, i) in done for (m, mask, rule) in configs)]
    print("%d prompts (XSTest rows %s), tolerance %s, cap %s; time = attrib's own seconds per prompt, 1 thread\n"
          % (len(common), ",".join(str(i) for i in common) if len(common) < 12 else "0-%d" % (len(prompts) - 1), a.tol, a.max_steps))
    print("| model | baseline | rule | evaluations mean | max | median rel. delta | worst | within 1% | cap reached | s / prompt |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (m, mask, rule) in configs:
        rs = [done[(m, mask, rule, i)] for i in common]
        if not rs:
            continue
        rel = [r["relative"] for r in rs]
        ev = [r["evaluations"] for r in rs]
        print("| %s | %s | %s | %.0f | %d | %.2e | %.2e | %d/%d | %d | %.2f |" % (
            m, mask, "adaptive" if rule == "adaptive" else "GL %s" % rule, statistics.mean(ev), max(ev),
            statistics.median(rel), max(rel), sum(x <= 0.01 for x in rel), len(rel), sum(r["cap_reached"] for r in rs),
            statistics.mean(r["seconds"] for r in rs)))


if __name__ == "__main__":
    main()
