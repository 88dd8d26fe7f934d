#!/usr/bin/python3
"""check_compare_rows: `attrib compare` loses nothing on a long run.

1. Rows that cannot be computed: a data file with a row longer than
   stories260K's 512-token context and a row on which a method fails (the
   test hook ATTRIB_TEST_FAIL="ID:METHOD") in the middle. The run completes,
   lists the long row in "skipped" (with its token length, over 512) and the
   other in "failed" (with the method), exits 3, shows both in the terminal
   table and the HTML report, and its prompts and summary equal those of a
   run on the same file without the two rows. (The methods there are the
   deterministic ones and no random baseline: a prompt's seed follows its
   row index, which the removed rows shift.) --too-long truncate computes
   the long row cut to 512 tokens; --too-long error stops with status 1.
2. Resume after SIGKILL: a run killed once its first prompt is in the
   journal (OUT.partial.jsonl), resumed with --resume, gives a document equal
   to an uninterrupted run's in every field but those measuring time or
   describing the run (the same fields check_compare.py ignores for shards,
   plus "resumed"); the prompts finished before the kill are taken from the
   journal unchanged (their "seconds" too: they were not recomputed). A
   journal line cut off mid-write is dropped and redone.
3. SIGINT: a run with two jobs (--jobs 2) stops with status 130, says how
   to resume, and leaves a journal whose every line is valid JSON, the
   header naming the run; the resumed run (two jobs again) equals the
   uninterrupted one-job run.
4. Refusals: an existing journal without --resume (status 2), and --resume
   with other settings (status 1, naming the setting).
Needs no PyTorch.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from check_compare import first_difference, strip_run_fields  # noqa: E402

D = os.path.join(H.SHARED, "data")
XSTEST = os.path.join(D, "xstest", "xstest_prompts.csv")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    return cond


def run(args, env=None, ok=(0,)):
    out = subprocess.run([H.attrib_bin()] + args, capture_output=True, text=True, env=env)
    if out.returncode not in ok:
        print("FAIL: attrib %s: status %d\n%s" % (" ".join(args), out.returncode, out.stderr))
        sys.exit(1)
    return out


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prompt", "label"])
        for r in rows:
            w.writerow([r["id"], r["prompt"], r["label"]])


def strip(doc):
    d = strip_run_fields(doc)
    d["provenance"].pop("resumed", None)
    return d


def journal_lines(path):
    with open(path) as fh:
        return fh.read().splitlines()


def wait_for_lines(path, n, proc, timeout=120):
    """Waits until PATH holds N complete lines (or the process ended)."""
    t0 = time.time()
    while time.time() - t0 < timeout and proc.poll() is None:
        if os.path.exists(path):
            with open(path) as fh:
                if fh.read().count("\n") >= n:
                    return True
        time.sleep(0.005)
    return False


def main():
    H.require(H.STORIES260K, "stories260K")
    H.require(XSTEST, "XSTest")
    tmp = tempfile.mkdtemp(prefix="attrib-compare-rows-")
    t0 = time.time()
    probe = os.path.join(tmp, "probe.gguf")
    run(["probe", "train", H.STORIES260K, "--out", probe, "--layer", "3",
         "--harmful", os.path.join(D, "refusal_direction", "harmful_train.json"),
         "--harmless", os.path.join(D, "refusal_direction", "harmless_train.json"), "--sample", "40", "-t", "1"])
    xs = list(csv.DictReader(open(XSTEST)))
    good = xs[:5] + [r for r in xs if r["label"] == "unsafe"][:5]
    # far over 512 tokens in stories260K's 512-piece vocabulary (about 2 tokens a word)
    long_row = {"id": "long-1", "label": "safe",
                "prompt": " ".join(["Once upon a time a girl named Lily wanted to kill the weeds in her garden."] * 40)}
    bad_id = good[6]["id"]
    with_bad = good[:3] + [long_row] + good[3:]  # the hook fails good[6] (index 7 here)
    data_bad, data_clean = os.path.join(tmp, "bad.csv"), os.path.join(tmp, "clean.csv")
    write_csv(data_bad, with_bad)
    write_csv(data_clean, [r for r in good if r["id"] != bad_id])
    base = [H.STORIES260K, "--probe", probe, "--positive", "unsafe", "--curve-points", "4", "--bootstrap", "200",
            "--seed", "3", "-t", "1"]

    print("  %.1f s" % (time.time() - t0), flush=True)
    # 1. skipped and failed rows
    det = base + ["--methods", "occlusion,saliency,gxi,ig", "--steps", "4", "--random-orders", "0"]
    env = dict(os.environ, ATTRIB_TEST_FAIL="%s:gxi" % bad_id)
    out_bad, out_clean = os.path.join(tmp, "bad.json"), os.path.join(tmp, "clean.json")
    html = os.path.join(tmp, "bad.html")
    r = run(["compare"] + det + ["--data", data_bad, "-o", out_bad, "--html", html], env=env, ok=(3,))
    run(["compare"] + det + ["--data", data_clean, "-o", out_clean, "-q"])
    a, b = json.load(open(out_bad)), json.load(open(out_clean))
    sk, fl = a.get("skipped", []), a.get("failed", [])
    check(len(sk) == 1 and sk[0]["id"] == "long-1" and sk[0]["index"] == 3 and sk[0]["n_tokens"] > 512
          and sk[0]["n_ctx"] == 512 and "context" in sk[0]["reason"], "long row not recorded as skipped: %s" % sk)
    check(len(fl) == 1 and fl[0]["id"] == bad_id and fl[0]["stage"] == "gxi" and fl[0]["index"] == 7
          and "ATTRIB_TEST_FAIL" in fl[0]["reason"], "failing row not recorded: %s" % fl)
    check(len(a["prompts"]) == 9 and b.get("skipped") == [] and b.get("failed") == [], "prompt counts")
    check(not os.path.exists(out_bad + ".partial.jsonl"), "journal left behind after a finished run")
    # the remaining rows equal the run without the bad rows (indices aside)
    sa, sb = strip(a), strip(b)
    for d in (sa, sb):
        d.pop("skipped", None)
        d.pop("failed", None)
        d["provenance"].pop("data")
        for p in d["prompts"]:
            p.pop("index")
    diff = first_difference(sa, sb)
    check(diff is None, "remaining rows differ from a run without the bad rows: %s" % diff)
    check("1 skipped, 1 failed" in r.stdout and "long-1" in r.stdout and "ATTRIB_TEST_FAIL" in r.stdout,
          "terminal table does not list the rows: %s" % r.stdout[-600:])
    page = open(html).read()
    check("Rows not in the figures" in page and "long-1" in page and "ATTRIB_TEST_FAIL" in page, "HTML lists the rows")
    # truncate and error
    out_t = os.path.join(tmp, "trunc.json")
    # (saliency alone: every other method costs hundreds of 512-token passes)
    run(["compare"] + base + ["--methods", "saliency", "--data", data_bad, "-o", out_t, "-q", "--too-long", "truncate",
                              "--limit", "4"])
    t = json.load(open(out_t))
    lp = [p for p in t["prompts"] if p["id"] == "long-1"]
    check(len(lp) == 1 and len(lp[0]["tokens"]) == 512 and lp[0]["truncated"]["n_tokens"] == sk[0]["n_tokens"]
          and t["skipped"] == [] and lp[0]["rendered"].strip() and long_row["prompt"].startswith(lp[0]["rendered"].strip()[:200]),
          "--too-long truncate: %s" % (lp[0]["truncated"] if lp else "no row"))
    r = run(["compare"] + det + ["--data", data_bad, "-o", os.path.join(tmp, "err.json"), "-q", "--too-long", "error"],
            ok=(1,))
    check("long-1" in r.stderr and "--too-long" in r.stderr, "--too-long error message: %s" % r.stderr)

    print("  %.1f s" % (time.time() - t0), flush=True)
    # 2. resume after SIGKILL, against an uninterrupted run (all five default methods, seeded ones included)
    many = xs[:24]
    data = os.path.join(tmp, "many.csv")
    write_csv(data, many)
    full_args = base + ["--samples", "3", "--steps", "4", "--data", data]
    full = os.path.join(tmp, "full.json")
    run(["compare"] + full_args + ["-o", full, "-q"])
    ref = json.load(open(full))
    killed = os.path.join(tmp, "killed.json")
    jpath = killed + ".partial.jsonl"
    proc = subprocess.Popen([H.attrib_bin(), "compare"] + full_args + ["-o", killed, "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = wait_for_lines(jpath, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = journal_lines(jpath)
    check(seen and proc.returncode == -signal.SIGKILL and 2 <= len(lines) < 1 + len(many),
          "the kill did not land mid-run (%d journal lines)" % len(lines))
    before = {json.loads(x)["prompt"]["index"]: json.loads(x)["prompt"] for x in lines[1:]}
    with open(jpath, "a") as fh:  # as if the kill had cut the next line short
        fh.write('{"prompt": {"index": 99, "id": "cut')
    r = run(["compare"] + full_args + ["-o", killed, "-q"], ok=(2,))
    check("--resume" in r.stderr, "an existing journal without --resume is not refused clearly: %s" % r.stderr)
    r = run(["compare"] + full_args + ["-o", killed, "-q", "--resume", "--curve-points", "5"], ok=(1,))
    check("cannot resume" in r.stderr and "curve_points" in r.stderr, "resume with other settings: %s" % r.stderr)
    r = run(["compare"] + full_args + ["-o", killed, "--resume"])
    check("cut off" in r.stderr, "the cut line is not reported: %s" % r.stderr)
    res = json.load(open(killed))
    diff = first_difference(strip(ref), strip(res))
    check(diff is None, "resumed after SIGKILL differs from the uninterrupted run: %s" % diff)
    check(res["provenance"].get("resumed", {}).get("prompts") == len(before), "provenance.resumed")
    got = {p["index"]: p for p in res["prompts"]}
    check(all(got[i] == p for i, p in before.items()), "prompts from the journal were recomputed")
    check(not os.path.exists(jpath), "journal left behind after the resumed run finished")

    print("  %.1f s" % (time.time() - t0), flush=True)
    # 3. SIGINT leaves a valid journal and says how to resume; here with two
    # jobs computing prompts at once (--jobs), stopped and resumed
    stopped = os.path.join(tmp, "stopped.json")
    jpath = stopped + ".partial.jsonl"
    proc = subprocess.Popen([H.attrib_bin(), "compare"] + full_args + ["-o", stopped, "-q", "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = wait_for_lines(jpath, 2, proc)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate()[1]
    check(seen and proc.returncode == 130, "SIGINT: status %s" % proc.returncode)
    check("SIGINT" in err and "--resume" in err and jpath in err, "SIGINT message: %s" % err)
    lines = journal_lines(jpath)
    docs = [json.loads(x) for x in lines]  # every line whole
    check(docs[0]["schema"] == "attrib.compare.partial/1" and
          docs[0]["model_sha256"] == ref["provenance"]["model"]["sha256"] and
          all(len(d) == 1 and "prompt" in d for d in docs[1:]) and 1 <= len(docs) - 1 < len(many),
          "SIGINT journal: %d lines" % len(lines))
    check(not os.path.exists(stopped), "a stopped run wrote its final document")
    run(["compare"] + full_args + ["-o", stopped, "-q", "--resume", "--jobs", "2"])
    diff = first_difference(strip(ref), strip(json.load(open(stopped))))
    check(diff is None, "resumed after SIGINT differs from the uninterrupted run: %s" % diff)

    print("  %.1f s" % (time.time() - t0), flush=True)
    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    print("all compare-rows checks passed (skipped/failed rows recorded; resume after SIGKILL and SIGINT "
          "equals the uninterrupted run)")


if __name__ == "__main__":
    main()
