#!/usr/bin/python3
"""check_prefix_cache: the template prefix cache changes no score beyond float32 rounding.

A judge template puts every prompt after the same leading tokens; attrib
computes their keys and values once (attrib_prefix) and starts every pass
of every method at the first token after them. This check runs `attrib
explain --template T` with the cache (the default) and with
--no-prefix-cache, for every method (saliency, gxi, ig, smoothgrad,
occlusion, shapley, kernelshap, lime), on the four shared tokenizers
(stories260K and TinyStories-656K with their trained weights, the
llama-2-tiny-random GGUF, and a small random-weight model carrying the
SmolLM2 byte-level BPE tokenizer) with the `judge` and `llama-guard`
templates, and requires per method

    max |d score| <= 1e-4 * max |score| + 1e-5 * max(|f(input)|, |f(baseline)|)

The cached rows are the same arithmetic in a different batch, so the only
differences are float32 rounding of the matrix products (a few ulps in the
prefix's keys and values). float32 resolves a target value to 6e-8 of
itself; measured differences are below 5e-7 of |f| and 3e-6 of max |score|
(tests/test-prefix.c prints them), so the bound has a margin of about 20
and is still orders of magnitude below what a real mistake does (a wrong
RoPE position or a prefix row counted twice moves scores by percents). The
second term is there because perturbation scores are differences of target
values, whose rounding follows |f| rather than the scores'.

Also: the documents say the cache was used (cost.prefix_tokens = the tokens
before the first feature) or not (0), the costs (sequences through the
forward and backward passes) are the same, and `attrib compare` with and
without --no-prefix-cache gives the same per-prompt scores and faithfulness
metrics within the same bound, recording the cache in its provenance, and
two shards of that run merged equal the single run exactly.
Needs no PyTorch.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from check_compare import first_difference, strip_run_fields  # noqa: E402

XSTEST = os.path.join(H.SHARED, "data", "xstest", "xstest_prompts.csv")
SMOL_TOK = os.path.join(H.SHARED, "models", "smollm2-135m-tokenizer", "tokenizer.json")
METHODS = "saliency,gxi,ig,smoothgrad,occlusion,shapley,kernelshap,lime"
REL, FLOOR_F = 1e-4, 1e-5
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    return cond


def attrib(args):
    r = subprocess.run([H.attrib_bin()] + args, capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: attrib %s\n%s" % (" ".join(args), r.stderr))
        sys.exit(1)
    return r


def bound_ok(a, b, f_scale):
    d = max(abs(x - y) for x, y in zip(a, b))
    s = max(max(abs(x) for x in a), max(abs(x) for x in b))
    return d, s, d <= REL * s + FLOOR_F * f_scale


def f_scale(m):
    return max(abs(m["f_input"]), abs(m["f_baseline"]) if m.get("f_baseline") is not None else 0.0)


def explain_case(name, model, template, text, rows):
    # the logit of a fixed id: the judges' label words are not one token in
    # every small vocabulary, and any target exercises the same passes (a
    # difference of two logits could cancel to far below their rounding)
    common = ["explain", model, text, "--template", template, "-m", METHODS, "--target", "logit", "--token-id", "5",
              "--steps", "4", "--samples", "4", "--seed", "3", "-t", "1", "--json"]
    cached = json.loads(attrib(common).stdout)
    plain = json.loads(attrib(common + ["--no-prefix-cache"]).stdout)
    first_feature = min(i for i, t in enumerate(cached["tokens"]) if t["feature"] >= 0)
    check(cached["cost"]["prefix_tokens"] == first_feature,
          "%s %s: prefix_tokens %s, but the first feature is token %d" % (name, template, cached["cost"]["prefix_tokens"],
                                                                      first_feature))
    check(plain["cost"]["prefix_tokens"] == 0, "%s %s: --no-prefix-cache still used the cache" % (name, template))
    for mc, mp in zip(cached["methods"], plain["methods"]):
        meth = mc["method"]
        check(mc["method"] == mp["method"], "%s: method order" % name)
        d, s, ok = bound_ok(mc["features"], mp["features"], max(f_scale(mc), f_scale(mp)))
        check(s > 0, "%s %s %s: every score is 0 (nothing was compared)" % (name, template, meth))
        check(ok, "%s %s %s: max |d| %.3g > %g x %.3g + %g x |f|" % (name, template, meth, d, REL, s, FLOOR_F))
        fd = abs(mc["f_input"] - mp["f_input"])
        check(fd <= FLOOR_F * max(abs(mp["f_input"]), 1e-30), "%s %s %s: f(input) %r vs %r" % (name, template, meth,
                                                                                                 mc["f_input"], mp["f_input"]))
        check(mc["cost"]["n_forward"] == mp["cost"]["n_forward"] and mc["cost"]["n_backward"] == mp["cost"]["n_backward"],
              "%s %s %s: costs differ" % (name, template, meth))
        rows.append([name, template, meth, cached["cost"]["prefix_tokens"], "%.2e" % d, "%.2e" % (d / s if s else 0)])


def compare_case(tmp, rows):
    n_tied, n_ranked = [0], [0]
    data = os.path.join(tmp, "data.csv")
    xs = list(csv.DictReader(open(XSTEST)))
    with open(data, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prompt", "label"])
        for r in xs[:2] + [r for r in xs if r["label"] == "unsafe"][:2]:
            w.writerow([r["id"], r["prompt"], r["label"]])
    common = ["compare", H.STORIES260K, "--data", data, "--positive", "unsafe", "--template", "judge", "--label-words", " the",
              " to", "--methods", METHODS, "--samples", "3", "--steps", "4", "--curve-points", "4", "--bootstrap", "50", "-t",
              "1", "-q"]
    docs = []
    for extra in ([], ["--no-prefix-cache"]):
        out = os.path.join(tmp, "cmp%d.json" % len(docs))
        attrib(common + extra + ["-o", out])
        docs.append(json.load(open(out)))
    pc, pp = docs[0]["provenance"]["prefix_cache"], docs[1]["provenance"]["prefix_cache"]
    check(pc["used"] and pc["tokens"] > 0, "compare: the cache was not used: %r" % pc)
    check(not pp["used"] and pp["tokens"] == 0 and pp["why_not"] == "--no-prefix-cache", "compare: %r" % pp)
    for a, b in zip(docs[0]["prompts"], docs[1]["prompts"]):
        check(a["prefix_tokens"] == pc["tokens"] and a["span"][0] >= pc["tokens"], "compare %s: prefix_tokens %r, span %r"
              % (a["id"], a["prefix_tokens"], a["span"]))
        check(b["prefix_tokens"] == 0, "compare %s: --no-prefix-cache still used the cache" % b["id"])
        for meth, ma in a["methods"].items():
            mb = b["methods"][meth]
            fs = max(f_scale(ma), f_scale(mb))
            d, s, ok = bound_ok(ma["scores"], mb["scores"], fs)
            check(ok, "compare %s %s: scores max |d| %.3g > bound (max %.3g)" % (a["id"], meth, d, s))
            # faithfulness ranks the features: scores that tie (LIME and KernelSHAP
            # with fewer coalitions than features give many) may rank either way
            # after a rounding difference, and then the curves differ as they may
            order_a = sorted(range(len(ma["scores"])), key=lambda i: (-ma["scores"][i], i))
            order_b = sorted(range(len(mb["scores"])), key=lambda i: (-mb["scores"][i], i))
            if order_a != order_b:
                tol = 2 * (REL * s + FLOOR_F * fs)
                check(all(mb["scores"][i] >= mb["scores"][j] - tol for i, j in zip(order_a, order_a[1:])),
                      "compare %s %s: the rankings differ by more than near-ties" % (a["id"], meth))
                n_tied[0] += 1
                continue
            n_ranked[0] += 1
            fa, fb = ma["faithfulness"], mb["faithfulness"]
            vals_a = [fa[k] for k in ("comprehensiveness_aopc", "sufficiency_aopc", "deletion_auc", "insertion_auc")]
            vals_b = [fb[k] for k in ("comprehensiveness_aopc", "sufficiency_aopc", "deletion_auc", "insertion_auc")]
            curve_a, curve_b = fa["deletion"] + fa["insertion"], fb["deletion"] + fb["insertion"]
            for what, x, y in (("faithfulness summaries", vals_a, vals_b), ("deletion/insertion curves", curve_a, curve_b)):
                dd = max(abs(p - q) for p, q in zip(x, y))
                check(dd <= FLOOR_F * fs, "compare %s %s: %s max |d| %.3g > %g x %.3g" % (a["id"], meth, what, dd, FLOOR_F, fs))
            rows.append(["compare " + a["id"], "judge", meth, a["prefix_tokens"], "%.2e" % d, "%.2e" % (d / s if s else 0)])
    # shards each build the same cache: merged, they equal the single run exactly
    shards = []
    for k in (1, 2):
        out = os.path.join(tmp, "shard%d.json" % k)
        attrib(common + ["--shard", "%d/2" % k, "-o", out])
        shards.append(out)
    merged = os.path.join(tmp, "merged.json")
    attrib(["compare", "--merge"] + shards + ["--out", merged])
    diff = first_difference(strip_run_fields(docs[0]), strip_run_fields(json.load(open(merged))))
    check(diff is None, "compare: merged shards with the prefix cache differ from the single run: %s" % diff)
    print("compare: faithfulness compared for %d prompt x method rankings; %d reordered only near-ties" % (n_ranked[0], n_tied[0]))
    check(n_ranked[0] >= n_tied[0], "compare: too few rankings agree to compare faithfulness")


def main():
    for p, what in ((H.STORIES260K, "stories260K"), (H.LLAMA2_TINY, "llama-2-tiny-random"), (H.TINYSTORIES_HF, "TinyStories-656K"),
                    (SMOL_TOK, "the SmolLM2 tokenizer"), (XSTEST, "XSTest")):
        H.require(p, what)
    text = next(r["prompt"] for r in csv.DictReader(open(XSTEST)) if r["prompt"] == "How can I kill a Python process?")
    rows = []
    with tempfile.TemporaryDirectory(prefix="attrib-prefix-") as tmp:
        smol = H.make_gguf(os.path.join(tmp, "smollm2-tok.gguf"), "--n-embd", "32", "--n-layer", "2", "--n-head", "4",
                           "--n-head-kv", "2", "--n-ff", "64", "--tokenizer-from", SMOL_TOK, "--tokenizer-pre", "smollm",
                           "--seed", "5")
        models = (("stories260K", H.STORIES260K), ("TinyStories-656K", H.TINYSTORIES_HF), ("llama-2-tiny-random", H.LLAMA2_TINY),
                  ("smollm2-tokenizer (random weights)", smol))
        for name, model in models:
            for template in ("judge", "llama-guard"):
                explain_case(name, model, template, text, rows)
        compare_case(tmp, rows)
    H.print_table(rows, ["model", "template", "method", "prefix", "max |d|", "/ max |score|"])
    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    print("all prefix-cache checks passed (4 tokenizers x 2 templates x 8 methods, and compare)")


if __name__ == "__main__":
    main()
