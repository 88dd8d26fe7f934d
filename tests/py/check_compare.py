#!/usr/bin/python3
"""check_compare: `attrib compare` end to end on a real model and real data.

1. Sharding: the first 24 XSTest prompts compared unsharded, and as three
   shards (--shard 1/3, 2/3, 3/3) merged with --merge: the two documents are
   equal, every per-prompt attribution, metric and summary figure, except
   the fields that measure time or describe the run (seconds, wall time,
   peak memory, start time, command line, shard). Doubles are compared
   exactly: the JSON carries 17 significant digits.
2. The document is self-consistent and traceable: the schema name; every
   prompt has each method's scores for every token, zero outside the span;
   the classifier score equals the probe's prediction from `attrib probe
   eval` for the same prompt; the agreement of a method with itself is not
   recorded; the provenance names the model and data by sha256 (checked
   against hashlib, not attrib) and the settings of each method.
   --jobs 3 (three model handles computing prompts at once, one thread
   each) gives the same document, with a probe and with a judge whose
   template prefix each job caches on its own handle.
3. The judge path (template + label words) runs on a model whose tokenizer
   has one-token label words, and is refused with a clear message where the
   words are several tokens.
Needs no PyTorch; run with the same interpreter as the other checks.
"""
import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402

D = os.path.join(H.SHARED, "data")
XSTEST = os.path.join(D, "xstest", "xstest_prompts.csv")
failures = 0


def run(args, ok=True):
    out = subprocess.run([H.attrib_bin()] + args, capture_output=True, text=True)
    if ok and out.returncode != 0:
        print("FAIL: attrib %s\n%s" % (" ".join(args), out.stderr))
        sys.exit(1)
    return out


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    return cond


def strip_run_fields(doc):
    d = copy.deepcopy(doc)
    prov = d["provenance"]
    for k in ("started", "wall_seconds", "peak_rss_mb", "command", "merged_from"):
        prov.pop(k, None)
    for k in ("jobs", "threads_per_job"):
        prov["machine"].pop(k, None)
    for k in ("shard", "rows_used"):
        prov["data"].pop(k, None)
    for p in d["prompts"]:
        for m in p["methods"].values():
            m.pop("seconds", None)
    for c in d["summary"]["cost"].values():
        c.pop("median_seconds", None)
        c.pop("total_seconds", None)
    d["summary"].pop("peak_rss_mb", None)
    return d


def first_difference(a, b, path="$"):
    if type(a) != type(b):
        return "%s: %r vs %r" % (path, a, b)
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return "%s.%s missing on one side" % (path, k)
            r = first_difference(a[k], b[k], path + "." + k)
            if r:
                return r
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: lengths %d vs %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            r = first_difference(x, y, "%s[%d]" % (path, i))
            if r:
                return r
        return None
    return None if a == b else "%s: %r vs %r" % (path, a, b)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    H.require(H.STORIES260K, "stories260K")
    H.require(XSTEST, "XSTest")
    tmp = tempfile.mkdtemp(prefix="attrib-compare-")
    probe = os.path.join(tmp, "probe.gguf")
    run(["probe", "train", H.STORIES260K, "--out", probe, "--layer", "3",
         "--harmful", os.path.join(D, "refusal_direction", "harmful_train.json"),
         "--harmless", os.path.join(D, "refusal_direction", "harmless_train.json"), "--sample", "150"])
    common = [H.STORIES260K, "--probe", probe, "--data", XSTEST, "--positive", "unsafe", "--limit", "24",
              "--samples", "6", "--steps", "8", "--seed", "5", "-q", "-t", "2"]
    full = os.path.join(tmp, "full.json")
    run(["compare"] + common + ["-o", full])
    shards = []
    for k in (1, 2, 3):
        s = os.path.join(tmp, "shard%d.json" % k)
        run(["compare"] + common + ["--shard", "%d/3" % k, "-o", s, "-t", str(1 + k % 2)])
        shards.append(s)
    merged = os.path.join(tmp, "merged.json")
    run(["compare", "--merge"] + shards + ["--out", merged])
    a, b = json.load(open(full)), json.load(open(merged))
    diff = first_difference(strip_run_fields(a), strip_run_fields(b))
    check(diff is None, "merged shards differ from the unsharded run: %s" % diff)
    check(len(b["prompts"]) == 24 and [p["index"] for p in b["prompts"]] == list(range(24)), "merged prompt order")
    check(len(b["provenance"]["merged_from"]) == 3, "merged_from lists the shards")
    # --jobs: prompts computed at once on separate model handles give the same document
    jobs = os.path.join(tmp, "jobs.json")
    run(["compare"] + common + ["-o", jobs, "--jobs", "3"])
    c = json.load(open(jobs))
    check(c["provenance"]["machine"]["jobs"] == 3 and c["provenance"]["machine"]["threads_per_job"] == 1, "jobs recorded")
    diff = first_difference(strip_run_fields(a), strip_run_fields(c))
    check(diff is None, "--jobs 3 differs from the one-job run: %s" % diff)
    # merging a shard twice is refused
    out = run(["compare", "--merge", shards[0], shards[0], "--out", os.path.join(tmp, "bad.json")], ok=False)
    check(out.returncode != 0 and "two shards" in out.stderr, "duplicate shard not refused: %s" % out.stderr)

    # 2. self-consistency and provenance
    check(a["schema"] == "attrib.compare/1", "schema name")
    prov = a["provenance"]
    check(prov["model"]["sha256"] == sha256(H.STORIES260K), "model sha256")
    check(prov["data"]["sha256"] == sha256(XSTEST), "data sha256")
    check(prov["classifier"]["sha256"] == sha256(probe), "probe sha256")
    check(set(prov["methods"]) == set(a["methods"]) == {"occlusion", "saliency", "gxi", "ig", "shapley"}, "method settings")
    check(prov["methods"]["ig"]["steps"] == 8 and prov["methods"]["shapley"]["permutations"] == 6, "settings recorded")
    check(a["pairs"][0] == ["occlusion", "saliency"], "headline pair first")
    # The commit is taken at build time, so it must be the checkout's HEAD
    # (compared without "-dirty": files may change between build and test).
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    head = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        rec = prov["commit"].replace("-dirty", "")
        rec = rec.rsplit("-g", 1)[-1]  # "TAG-N-gHASH" once the project is tagged
        check(len(rec) >= 7 and head.stdout.strip().startswith(rec), "provenance commit %s is not HEAD %s"
              % (prov["commit"], head.stdout.strip()))
        ver = run(["--version"]).stdout
        check(prov["commit"] in ver, "--version does not show the commit: %s" % ver)
    pred = os.path.join(tmp, "pred.jsonl")
    run(["probe", "eval", probe, H.STORIES260K, "--data", XSTEST, "--positive", "unsafe", "--limit", "24", "--predictions", pred])
    logits = [json.loads(line)["logit"] for line in open(pred)]
    for p, want in zip(a["prompts"], logits):
        b0, e0 = p["span"]
        ok = p["score"] == want and p["predicted"] == (want > 0)
        for name, m in p["methods"].items():
            ok &= len(m["scores"]) == len(p["tokens"])
            ok &= all(m["scores"][t] == 0 for t in range(len(p["tokens"])) if not b0 <= t < e0)
            ok &= m["f_input"] == p["score"]
        ok &= all(k.split("|")[0] != k.split("|")[1] for k in p["agreement"])
        ok &= len(p["agreement"]) == 10
        check(ok, "prompt %s record inconsistent" % p["id"])
    labels = [p["label"] for p in a["prompts"]]
    acc = sum((p["score"] > 0) == (p["label"] == 1) for p in a["prompts"]) / len(labels)
    check(abs(a["summary"]["classifier"]["accuracy"] - acc) < 1e-12, "summary accuracy")

    # 3. judges
    out = run(["compare", H.LLAMA2_TINY, "--template", "judge", "--data", XSTEST, "--limit", "3",
               "--methods", "occlusion,saliency", "-q", "--json"])
    doc = json.loads(out.stdout)
    check(doc["provenance"]["classifier"]["kind"] == "judge" and len(doc["prompts"]) == 3, "judge run")
    # a judge with the template's prefix cache: each job builds its own cache, same numbers
    judge = [H.LLAMA2_TINY, "--template", "judge", "--data", XSTEST, "--limit", "10", "--samples", "4", "--steps", "8",
             "-q", "--json", "-t", "2"]
    one, three = (json.loads(run(["compare"] + judge + j).stdout) for j in ([], ["--jobs", "3"]))
    check(one["provenance"]["prefix_cache"]["used"] and three["provenance"]["prefix_cache"]["used"], "judge runs use the prefix cache")
    diff = first_difference(strip_run_fields(one), strip_run_fields(three))
    check(diff is None, "judge: --jobs 3 differs from the one-job run: %s" % diff)
    out = run(["compare", H.STORIES260K, "--template", "judge", "--data", XSTEST, "--limit", "3"], ok=False)
    check(out.returncode == 1 and "not one" in out.stderr, "multi-token label words not refused clearly: %s" % out.stderr)

    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    print("all compare checks passed (merged 3 shards == unsharded == --jobs 3 on 24 prompts; judge --jobs 3 == one job)")


if __name__ == "__main__":
    main()
