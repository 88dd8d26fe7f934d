#!/usr/bin/python3
"""check_compare_sharded: a sharded `attrib compare` on an existing engine.

1. scripts/compare-sharded.sh runs 3 shards with GNU parallel and merges
   them; the merged document equals the unsharded run's in every field but
   those measuring time or describing the run (check_compare.py's list). The
   data holds a row over the model's context and a row on which a method
   fails (test hook ATTRIB_TEST_FAIL), so the merge also carries the
   "skipped" and "failed" lists; the script exits 3 like the unsharded run.
   The same again through parallel's --sshlogin path (":" is this machine).
   A rerun with other arguments in the same shard directory is refused.
2. scripts/compare.sbatch, run as Slurm would run its 3 array tasks
   (SLURM_ARRAY_TASK_ID / _COUNT) and then its merge step (MERGE=1),
   gives the same document. No Slurm is needed for that.
Needs GNU parallel (scripts/install-deps.sh) and no PyTorch.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from check_compare import first_difference, strip_run_fields  # noqa: E402

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
D = os.path.join(H.SHARED, "data")
XSTEST = os.path.join(D, "xstest", "xstest_prompts.csv")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    return cond


def run(cmd, env=None, ok=(0,), cwd=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if out.returncode not in ok:
        print("FAIL: %s: status %d\n%s\n%s" % (" ".join(cmd), out.returncode, out.stdout[-2000:], out.stderr[-2000:]))
        sys.exit(1)
    return out


def main():
    H.require(H.STORIES260K, "stories260K")
    H.require(XSTEST, "XSTest")
    if not shutil.which("parallel"):
        print("FAIL: GNU parallel is not installed (scripts/install-deps.sh installs it)")
        sys.exit(1)
    attrib = os.path.abspath(H.attrib_bin())
    tmp = tempfile.mkdtemp(prefix="attrib-compare-sharded-")
    probe = os.path.join(tmp, "probe.gguf")
    run([attrib, "probe", "train", H.STORIES260K, "--out", probe, "--layer", "3", "-t", "1", "--sample", "40",
         "--harmful", os.path.join(D, "refusal_direction", "harmful_train.json"),
         "--harmless", os.path.join(D, "refusal_direction", "harmless_train.json")])
    xs = list(csv.DictReader(open(XSTEST)))
    rows = xs[:4] + [r for r in xs if r["label"] == "unsafe"][:4]
    rows.insert(2, {"id": "long-1", "label": "safe", "prompt": " ".join(["Lily and Tom wanted to kill time in the park."] * 60)})
    data = os.path.join(tmp, "data.csv")
    with open(data, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prompt", "label"])
        for r in rows:
            w.writerow([r["id"], r["prompt"], r["label"]])
    env = dict(os.environ, ATTRIB_BIN=attrib, ATTRIB_TEST_FAIL="%s:ig" % rows[5]["id"])
    args = [H.STORIES260K, "--probe", probe, "--data", data, "--positive", "unsafe", "--samples", "3", "--steps", "4",
            "--curve-points", "4", "--bootstrap", "200", "--seed", "11"]
    full = os.path.join(tmp, "full.json")
    run([attrib, "compare"] + args + ["-t", "1", "-q", "-o", full], env=env, ok=(3,))
    ref = json.load(open(full))
    check(len(ref["skipped"]) == 1 and len(ref["failed"]) == 1 and len(ref["prompts"]) == len(rows) - 2,
          "the unsharded run's rows: %d prompts, %d skipped, %d failed"
          % (len(ref["prompts"]), len(ref["skipped"]), len(ref["failed"])))
    script = os.path.join(REPO, "scripts", "compare-sharded.sh")

    # 1. GNU parallel, here and through --sshlogin
    for name, extra in (("local", ["-t", "1"]), ("sshlogin", ["--sshlogin", "2/:"])):
        merged = os.path.join(tmp, "merged-%s.json" % name)
        r = run([script, "-n", "3", "-o", merged, "--html", merged + ".html"] + extra + ["--"] + args, env=env, ok=(3,))
        doc = json.load(open(merged))
        diff = first_difference(strip_run_fields(ref), strip_run_fields(doc))
        check(diff is None, "%s: merged shards differ from the unsharded run: %s" % (name, diff))
        check(len(doc["provenance"]["merged_from"]) == 3, "%s: merged_from lists 3 shards" % name)
        joblog = open(merged + ".shards/joblog").read().splitlines()
        check(len(joblog) == 4 and all(any("--shard %d/3" % k in line for line in joblog) for k in (1, 2, 3)),
              "%s: the joblog shows 3 shards" % name)
        check(os.path.getsize(merged + ".html") > 0, "%s: merged HTML" % name)
    r = run([script, "-n", "3", "-o", os.path.join(tmp, "merged-local.json"), "-t", "1", "--"] + args + ["--seed", "12"],
            env=env, ok=(2,))
    check("another run" in r.stderr, "a rerun with other arguments is not refused: %s" % r.stderr)

    # 2. the Slurm job array, run as Slurm runs it
    out = os.path.join(tmp, "slurm")
    senv = dict(env, OUTDIR=out, COMPARE_ARGS=" ".join(args), SLURM_ARRAY_TASK_COUNT="3", SLURM_SUBMIT_DIR=tmp)
    sbatch = os.path.join(REPO, "scripts", "compare.sbatch")
    for k in (1, 2, 3):
        run(["bash", sbatch], env=dict(senv, SLURM_ARRAY_TASK_ID=str(k)))
    run(["bash", sbatch], env=dict(senv, MERGE="1", SHARDS="3"), ok=(3,))
    doc = json.load(open(os.path.join(out, "merged.json")))
    diff = first_difference(strip_run_fields(ref), strip_run_fields(doc))
    check(diff is None, "slurm: merged shards differ from the unsharded run: %s" % diff)

    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    print("all sharded-compare checks passed (GNU parallel, --sshlogin and the Slurm array: 3 shards merged == unsharded)")


if __name__ == "__main__":
    main()
