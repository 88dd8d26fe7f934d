"""IG completeness study: relative completeness delta |sum(IG) - (f(x) - f(x'))| / |f(x) - f(x')|
for each integration rule and step count, over the first N XSTest prompts, on the shared models.
Prints a Markdown table (median and worst over the prompts, and how many are within 1%).

    /usr/bin/python3 bench/ig_completeness.py [--prompts 20] [--mask token|zero] [--build build]
"""
import argparse
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
    a = ap.parse_args()
    paths = {"stories260K": os.path.join(a.shared, "models", "stories260K", "stories260K-f32.gguf"),
             "TinyStories-656K": os.path.join(a.shared, "models", "TinyStories-656K")}
    with open(os.path.join(a.shared, "data", "xstest", "xstest_prompts.csv"), newline="", encoding="utf-8") as f:
        prompts = [row["prompt"] for row in csv.DictReader(f)][: a.prompts]
    attrib = os.path.join(a.build, "attrib")
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


if __name__ == "__main__":
    main()
