#!/usr/bin/env python3
"""CLI tests: the first hour of a new user (issue 15).

Each test_* function checks one item of the issue through the attrib binary:
its exit status, standard output and standard error, on the real models in
the shared directory. Expected values come from the models' own vocabularies
(token ids read with `attrib tokenize`, which the tokenizer tests check
against the reference tokenizers), from the issue's statement of what a
user expects, or from a second independent run (a word's score is the sum of
its tokens' integrated-gradients scores, computed without --words).

Run one test:  cli_tests.py NAME   (ATTRIB_BIN, ATTRIB_SHARED from ctest)
Run all:       cli_tests.py
"""
import json
import os
import re
import subprocess
import sys
import tempfile

BIN = os.environ.get("ATTRIB_BIN", "build/attrib")
SHARED = os.environ.get("ATTRIB_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
S260 = os.path.join(SHARED, "models/stories260K/stories260K-f32.gguf")
T656 = os.path.join(SHARED, "models/TinyStories-656K")
LLAMA2 = os.path.join(SHARED, "models/llama-2-tiny-random/llama-2-tiny-random.gguf")
SMOL = os.path.join(SHARED, "models/smollm2-135m-tokenizer")
LILY = "Once upon a time there was a little girl named"


def run(*args, stdin=None, env=None):
    e = dict(os.environ, OMP_WAIT_POLICY="passive", NO_COLOR="1")
    if env:
        e.update(env)
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, env=e, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what, out="", err=""):
    if not cond:
        raise AssertionError(f"{what}\n--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-3000:]}")


def no_doubled_prefix(err):
    for line in err.splitlines():
        check(line.count("attrib: error:") <= 1, f"doubled 'attrib: error:' prefix in: {line}", "", err)


def single_token_id(model, word, *extra):
    rc, out, err = run("tokenize", model, "--single-token", word, *extra, "--json")
    check(rc in (0, 1), "tokenize --single-token ran", out, err)
    w = json.loads(out)["words"][0]
    return w["id"] if w["single"] else None


# ---- A. wrong or blocking ------------------------------------------------

def test_a1_leading_space_target():
    # stories260K (GGUF SentencePiece): " Lily" is the token '▁Lily', id 317, the model's own top-1 after LILY
    rc, out, err = run("explain", S260, LILY, "--token", " Lily", "-m", "saliency")
    check(rc == 0, "--token ' Lily' resolves on stories260K", out, err)
    check("target   logit of token 317 ' Lily'" in out, "target is token 317", out, err)
    check("predicted token 317 ' Lily'" in out, "predicted token 317 (the target is the top-1)", out, err)
    # the same id as the vocabulary piece '▁Lily' that tokenize shows for the word inside text
    rc, out2, err2 = run("tokenize", S260, "x Lily", "--no-special", "--json")
    check([t["id"] for t in json.loads(out2)["tokens"] if t["text"] == " Lily"] == [317], "tokenize agrees", out2, err2)
    # --token2 goes the same way: logit(' Lily') - logit(' Lily') is exactly 0
    rc, out, err = run("explain", S260, LILY, "--target", "diff", "--token", " Lily", "--token2", " Lily", "-m", "saliency", "--json")
    check(rc == 0 and json.loads(out)["target"]["token2"] == 317, "--token2 ' Lily' resolves", out, err)
    # TinyStories-656K (tokenizer.json, spaces kept with the previous word: 'named▁' 'Lily'): ' Lily' -> 'Lily'
    rc, out2, _ = run("tokenize", T656, LILY + " Lily", "--json")
    lily = json.loads(out2)["tokens"][-1]
    check(lily["text"] == "Lily", "656K tokenizes the word as 'Lily' in text", out2)
    rc, out, err = run("explain", T656, LILY, "--token", " Lily", "-m", "saliency", "--json")
    check(rc == 0 and json.loads(out)["target"]["token"] == lily["id"], "--token ' Lily' on 656K", out, err)
    # llama-2 vocabulary (SentencePiece, 32000): ' Yes' is '▁Yes'
    rc, out2, _ = run("tokenize", LLAMA2, "Answer Yes", "--no-special", "--json")
    yes = [t for t in json.loads(out2)["tokens"] if t["text"] == " Yes"]
    check(len(yes) == 1 and yes[0]["piece"] == "\u2581Yes", "llama-2 has '▁Yes'", out2)
    rc, out, err = run("explain", LLAMA2, "Is it safe?", "--token", " Yes", "-m", "saliency", "--json")
    check(rc == 0 and json.loads(out)["target"]["token"] == yes[0]["id"], "--token ' Yes' on llama-2", out, err)
    # byte-level BPE (SmolLM2): ' Lily' is 'ĠLily'
    check(single_token_id(SMOL, " Lily") == 14176, "smollm2 ' Lily' is ĠLily 14176")
    rc, out2, _ = run("tokenize", SMOL, " Lily", "--no-special", "--json")
    check(json.loads(out2)["tokens"][0]["id"] == 14176, "tokenize agrees on smollm2", out2)
    # --label-words resolve the same way (after the template)
    rc, out, err = run("explain", S260, "Is it good?", "--template", "judge", "--label-words", " happy", " big", "-m", "saliency", "--json")
    check(rc == 0, "label words happy big", out, err)
    t = json.loads(out)["target"]
    check(t["token"] == single_token_id(S260, " happy", "--template", "judge") == 393, "label word id", out, err)
    # after the judge's "Answer:", stories260K writes " Y" as '▁' 'Y': two tokens, so no single token exists
    check(single_token_id(S260, " Y", "--template", "judge") is None, "a separate space token is not ignored")


def test_a2_judge_defaults_explained():
    for model in (S260, T656):
        rc, out, err = run("explain", model, "Is it good?", "--template", "judge", "-m", "saliency")
        check(rc == 1 and out == "", "judge defaults fail on a tiny vocabulary", out, err)
        check("\" Yes\" is not one token" in err and "defaults cannot work" in err, "says why", out, err)
        m = re.search(r'--label-words "([^"]+)" "([^"]+)"', err)  # a usual answer pair, else single words
        words = m.groups() if m else re.findall(r'"([^"]+)"', err.split("one-token words here")[-1])[:2]
        check(len(words) == 2 and "one token" in err, "lists candidate label words", out, err)
        no_doubled_prefix(err)
        # the first candidates work as suggested
        rc, out, err = run("explain", model, "Is it good?", "--template", "judge", "--label-words", words[0], words[1],
                           "-m", "saliency")
        check(rc == 0 and "logit diff" in out, "a suggested pair works", out, err)
    # tokenize --single-token checks words directly (exit 1 when one is not a token)
    rc, out, err = run("tokenize", S260, "--single-token", " Lily", " Yes")
    check(rc == 1, "exit 1 when a word is not one token", out, err)
    check('" Lily"  one token: 317 "\u2581Lily"' in out, "' Lily' is 317", out, err)
    check('" Yes"  not one token' in out, "' Yes' is not", out, err)
    rc, out, err = run("tokenize", S260, "--single-token", " happy")
    check(rc == 0 and "one token" in out, "exit 0 when every word is one token", out, err)


def test_a3_empty_input_is_an_error():
    rc, out, err = run("explain", S260, "", "-m", "saliency")
    check(rc == 2 and out == "", "empty TEXT exits 2 with nothing on stdout", out, err)
    check("empty" in err and "BOS is never a feature" in err, "says why", out, err)


def test_a4_settings_checked_before_running():
    rc, out, err = run("explain", S260, "Once upon a time", "--mask", "attention", "-m", "occlusion,ig")
    check(rc == 2, "invalid ig settings: usage error before any method runs", out, err)
    check("ig needs an embedding baseline" in err and "--mask token or zero" in err, "names ig and the fix", out, err)
    check("cost" not in out, "nothing ran", out, err)
    no_doubled_prefix(err)
    # shapley-exact over too many features is refused before saliency runs
    text = "Once upon a time there was a little girl named Lily and she loved to play in the park"
    rc, out, err = run("explain", S260, text, "-m", "saliency,shapley-exact")
    check(rc == 2 and out == "" and "shapley-exact needs 2^n" in err and "--max-exact 16" in err, "exact limit up front", out, err)
    no_doubled_prefix(err)


def test_a5_one_samples_limit_clean_messages():
    rc, out, err = run("explain", S260, "Once upon a time", "-m", "shapley", "--samples", "1000000")
    check(rc == 2 and "1 to 65536" in err and "SmoothGrad" not in err, "one limit, named as --samples", out, err)
    rc, out, err = run("compare", S260, "--samples", "1000000", "--probe", "x")
    check(rc == 2 and "1 to 65536" in err, "compare has the same limit", out, err)
    rc, out, err = run("explain", S260, "Once upon a time", "-m", "shapley", "--span", "3:99")
    check(rc == 2 and "--span 3:99 is outside TEXT's 5 tokens" in err, "span checked with a clear message", out, err)
    no_doubled_prefix(err)
    with tempfile.TemporaryDirectory() as d:
        trunc = os.path.join(d, "trunc.gguf")
        with open(S260, "rb") as f, open(trunc, "wb") as g:
            g.write(f.read(1000))
        rc, out, err = run("info", trunc)
        check(rc == 1 and err.count(trunc) == 1, "the path once in a loading error", out, err)
        no_doubled_prefix(err)
    # a library limit names the method it belongs to (shapley's own limit is not SmoothGrad's)
    rc, out, err = run("explain", S260, "Once upon a time", "-m", "shapley", "--samples", "65536", "--memory-mb", "16",
                       "--span", "1:2")
    check(rc == 0, "65536 is accepted for shapley", out, err)


def test_a6_words_rows():
    rc, out, err = run("explain", S260, LILY, "-m", "ig", "--json")
    tok = json.loads(out)
    rc, out, err = run("explain", S260, LILY, "-m", "ig", "--words", "--format", "csv")
    check(rc == 0 and out.startswith("method,word,first_position,last_position,begin,end,text,score"), "word CSV", out, err)
    rows = [r.split(",") for r in out.strip().splitlines()[1:]]
    check(len(rows) == 10, "10 words", out, err)
    # a word's IG score is the sum of its tokens' IG scores (IG is linear in the features' gradients)
    for r in rows:
        first, last, score = int(r[2]), int(r[3]), float(r[-1])
        expect = sum(tok["tokens"][i]["score"] for i in range(first, last + 1))
        check(abs(score - expect) < 1e-3 * max(1, abs(expect)), f"word {r[6]} score {score} vs tokens' sum {expect}", out, err)
    girl = [r for r in rows if r[6] == " girl"]
    check(len(girl) == 1 and (girl[0][2], girl[0][3]) == ("9", "11"), "' girl' is tokens 9-11", out, err)
    # terminal table: word rows, the longest bar on the highest score
    rc, out, err = run("explain", S260, LILY, "-m", "ig", "--words")
    table = [l for l in out.splitlines() if re.match(r"^\s+\d+\s+\d+(-\d+)?\s+\d+-\d+\s+'", l)]
    check(len(table) == 10 and "word  tokens" in out, "10 word rows in the terminal table", out, err)
    bars = [(l.count("#"), float(l.split("'")[-1].split()[0])) for l in table]
    check(max(bars)[1] == max(abs(b[1]) for b in bars), "longest bar = highest |score|", out, err)


def test_a7_compare_undefined_metrics_say_why():
    with tempfile.TemporaryDirectory() as d:
        nolab = os.path.join(d, "nolabel.csv")
        with open(nolab, "w") as f:
            f.write("text\nhello there\nhow do I stop a process\n")
        common = ["--template", "judge", "--label-words", " happy", " big", "--methods", "saliency,gxi", "--bootstrap", "20"]
        rc, out, err = run("compare", S260, "--data", nolab, *common)
        check(rc == 0 and "accuracy n/a  AUROC n/a" in out and "nan" not in out, "n/a, not nan", out, err)
        check("none has a label" in out, "says why", out, err)
        onecls = os.path.join(d, "one.csv")
        with open(onecls, "w") as f:
            f.write("text,label\nhello there,1\nhow do I stop a process,1\nwhat is this,0\n")
        rc, out, err = run("compare", S260, "--data", onecls, "--limit", "2", *common)
        check(rc == 0 and "AUROC n/a" in out and "only positives" in out and "--limit" in out, "one class: says why", out, err)


def test_a8_mask_token_in_input_warns():
    rc, out, err = run_bytes(["explain", T656, b"Once upon a \xff time", "-m", "occlusion"])
    check(rc == 0, "runs", out, err)
    rc2, out2, _ = run_bytes(["tokenize", T656, b"Once upon a \xff time", "--json"])
    pos = [i for i, t in enumerate(json.loads(out2)["tokens"]) if t["id"] == 0]
    check(pos == [5], "the invalid byte is <unk> (id 0) at position 5", out2)
    check("mask token 0 '<unk>' occurs in the input at position 5" in err, "warns, naming the position", out, err)
    rc, out, err = run("explain", T656, "Once upon a time", "-m", "occlusion")
    check("warning" not in err, "no warning without the mask token", out, err)


def run_bytes(args, stdin=None):
    e = dict(os.environ, OMP_WAIT_POLICY="passive", NO_COLOR="1")
    p = subprocess.run([BIN.encode(), *[a if isinstance(a, bytes) else a.encode() for a in args]], input=stdin,
                       capture_output=True, env=e, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ---- B. inconsistent -------------------------------------------------------

def test_b_stdin_text():
    rc, a, err = run("explain", S260, "Once upon a time", "-m", "saliency", "--json")
    rc2, b, err2 = run("explain", S260, "-", "-m", "saliency", "--json", stdin=b"Once upon a time\n")
    check(rc == 0 and rc2 == 0, "both run", b, err2)
    ja, jb = json.loads(a), json.loads(b)
    check(jb["text"] == "Once upon a time" and [t["id"] for t in ja["tokens"]] == [t["id"] for t in jb["tokens"]],
          "explain - reads standard input", b, err2)
    rc, out, err = run("generate", S260, "-", "-n", "3", stdin=b"Once upon a time\n")
    rc2, out2, _ = run("generate", S260, "Once upon a time", "-n", "3")
    check(rc == 0 and out == out2 and out.startswith("Once upon a time"), "generate - reads standard input", out, err)


def test_b_report_json_summary_and_missing_file():
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "d.csv")
        with open(data, "w") as f:
            f.write("text,label\nhello there,0\nhow do I stop a process,1\n")
        doc = os.path.join(d, "c.json")
        rc, out, err = run("compare", S260, "--data", data, "--template", "judge", "--label-words", " happy", " big",
                           "--methods", "saliency,gxi", "--bootstrap", "20", "-o", doc)
        check(rc == 0, "compare wrote a document", out, err)
        rc, out2, err = run("report", doc)
        check(rc == 0 and "agreement between methods" in out2 and "classifier on 2 labelled prompts" in out2,
              "report DOC prints the summary", out2, err)
        rc, out3, err = run("report", doc, "--json")
        j = json.loads(out3)
        check(rc == 0 and "summary" in j and "classifier" in j["summary"], "report --json", out3, err)
        check(j["provenance"]["data"]["files"][0]["label"] == "from label_col", "provenance label is not -1", out3, err)
        rc, out, err = run("report", os.path.join(d, "missing.json"))
        check(rc == 1 and "No such file" in err and "line -1" not in err, "missing file message", out, err)


def test_b_info_check_weights():
    rc, j, _ = run("info", T656, "--json")
    n = sum(json.loads(j)["tensor_types"].values())
    rc, out, err = run("info", T656, "--check-weights")
    check(rc == 0 and f"all {n} tensors finite" in out, "says all N tensors finite", out, err)
    rc, out, err = run("info", T656)
    check("tensors finite" not in out, "not without --check-weights", out, err)


def test_b_completeness_only_for_ig():
    rc, out, err = run("explain", S260, LILY, "-m", "occlusion,ig,shapley", "--json")
    ms = {m["method"]: m for m in json.loads(out)["methods"]}
    check(ms["occlusion"]["completeness_delta"] is None and ms["shapley"]["completeness_delta"] is None, "no delta", out)
    check(ms["ig"]["completeness_delta"] is not None, "IG keeps its delta", out)
    rc, out, err = run("explain", S260, LILY, "-m", "occlusion,ig")
    check(out.count("completeness delta") == 1, "shown once, for IG", out, err)
    rc, out, err = run("explain", S260, LILY, "-m", "ig", "--steps", "1", "--rule", "left")
    check("large; raise --steps" in out, "hint when large", out, err)
    rc, out, err = run("explain", S260, LILY, "-m", "ig")
    check("raise --steps" not in out, "no hint when small (1%)", out, err)
    with tempfile.TemporaryDirectory() as d:
        h = os.path.join(d, "r.html")
        run("explain", S260, LILY, "-m", "occlusion", "--html", h)
        check("completeness" not in open(h).read(), "HTML has no delta for occlusion")


def test_b_text_col_message():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.csv")
        with open(p, "w") as f:
            f.write("foo,label\nhello,1\n")
        rc, out, err = run("compare", S260, "--data", p, "--template", "judge", "--label-words", " happy", " big")
        check(rc == 1 and "--text-col" in err and "text_col)" not in err, "names --text-col", out, err)


def test_b_predicted_token_and_judge():
    rc, out, err = run("explain", S260, LILY, "-m", "saliency")
    check("predicted token 317 ' Lily'" in out and "'\u2581Lily'" not in out, "predicted as table rows print it", out, err)
    rc, out, err = run("explain", S260, "Is it good?", "--template", "judge", "--label-words", " happy", " big", "-m", "saliency")
    check(rc == 0 and "predicted" not in out, "no predicted token for a judge", out, err)


def test_b_headers_noise_help_seeds():
    rc, out, err = run("explain", S260, "Once upon a time", "-m", "saliency,shapley-exact")
    check("shapley-exact" in out.split("\n pos")[1].splitlines()[0], "header not cut", out, err)
    rc, out, err = run("explain", S260, "Once upon a time", "-m", "smoothgrad")
    check("noise 0.1," in out and "0.1000000" not in out, "noise printed as given", out, err)
    rc, out, err = run("explain", "--help")
    check(re.search(r"--token2-id N\s+\S", out) is not None, "--token2-id has help text", out, err)
    rc, out, err = run("explain", S260, "Once upon a time", "-m", "saliency,gxi,shapley", "--json")
    j = json.loads(out)
    seeds = {m["method"]: "seed" in m["settings"] for m in j["methods"]}
    check(seeds == {"saliency": False, "gxi": False, "shapley": True} and "seed" not in j["settings"], "seeds only where used", out)


def test_b_compare_table_alignment():
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "d.csv")
        with open(data, "w") as f:
            f.write("text,label\nhello there,0\nhow do I stop a process,1\n")
        rc, out, err = run("compare", S260, "--data", data, "--template", "judge", "--label-words", " happy", " big",
                           "--methods", "occlusion,kernelshap,saliency", "--bootstrap", "20")
        check(rc == 0, "compare ran", out, err)
        lines = out.splitlines()
        # every row of a table has its first interval at the same column as its header's first metric
        for head, key in (("pair ", " vs "), ("method ", None)):  # "occlusion vs kernelshap" is the longest label
            h = [l for l in lines if l.strip().startswith(head) and ("Spearman" in l or "comprehensiveness" in l)][0]
            rows = lines[lines.index(h) + 1:]
            rows = rows[:next(i for i, l in enumerate(rows) if "[" not in l)]
            check(len(rows) >= 3, "table rows found", out)
            col = len(h) - len(h.lstrip()) + len(h.strip().split()[0])  # end of the first header word
            first = {l.index("[") for l in rows}
            check(len(first) == 1, f"rows aligned under '{h.strip()[:30]}': first '[' at columns {sorted(first)}", out)


def test_b_judge_template_rows_folded():
    rc, out, err = run("explain", S260, "Is it good?", "--template", "judge", "--label-words", " happy", " big", "-m", "saliency")
    check(rc == 0 and "(46 fixed tokens)" in out, "template rows folded", out, err)
    table = out.split("\n pos")[1].strip().splitlines()
    check(len(table) < 15, "a short table", out, err)


def test_b_progress():
    text = "Once upon a time there was a little girl named Lily and she"
    rc, out, err = run("explain", S260, text, "-m", "shapley-exact")
    check(rc == 0 and err == "", "no progress when stderr is not a terminal", out, err)
    rc, out, err = run("explain", S260, text, "-m", "shapley-exact", "--progress")
    check(rc == 0 and re.search(r"shapley-exact  \d+/\d+  \d+/s  ETA", err) is not None, "method, count, rate, ETA", out, err)
    check(not re.search(r"\b1 / 1\b", err), "no stray 1 / 1", out, err)


# ---- C ----------------------------------------------------------------------

def test_c_top_k_summary():
    rc, out, err = run("explain", S260, LILY, "-m", "ig")
    m = re.search(r"ig top \+   ' named' ([0-9.]+)", out)
    check(rc == 0 and m is not None, "top positive feature is ' named'", out, err)
    check(re.search(r"top -   ' a' -", out) is not None, "top negative listed", out, err)


def test_c_explain_data():
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "p.csv")
        texts = ["Once upon a time", "The cat sat on the mat", "Lily had a red ball"]
        with open(data, "w") as f:
            f.write("id,text\n" + "".join(f"r{i},{t}\n" for i, t in enumerate(texts)))
        out, csv, html = (os.path.join(d, n) for n in ("o.jsonl", "o.csv", "o.html"))
        rc, so, err = run("explain", S260, "--data", data, "-m", "ig,occlusion", "-o", out, "--csv", csv, "--html", html)
        check(rc == 0, "explain --data runs without labels or a classifier", so, err)
        docs = [json.loads(l) for l in open(out)]
        check([x["row"]["id"] for x in docs] == ["r0", "r1", "r2"], "one JSON line per row", so, err)
        for t, x in zip(texts, docs):
            rc, one, err = run("explain", S260, t, "-m", "ig,occlusion", "--json")
            ref = json.loads(one)
            for a, b in zip(ref["methods"], x["methods"]):
                check(a["method"] == b["method"] and a["scores"] == b["scores"], f"row '{t}' equals its own explain", one)
        rows = open(csv).read().splitlines()
        check(rows[0].startswith("prompt_index,prompt_id,method,position") and rows[1].startswith("0,r0,ig,0,"), "CSV", rows[0])
        check(sum(1 for r in rows[1:]) == sum(2 * len(x["tokens"]) for x in docs), "a CSV row per row x method x token")
        h = open(html).read()
        check(h.count("<article>") == 3 and "id=tokdata" in h, "HTML: a section per row")
        rc, so, err = run("explain", S260, "Once", "--data", data)
        check(rc == 2 and "not both" in err, "TEXT and --data together is misuse", so, err)


def test_c_svg_figure():
    import xml.etree.ElementTree as ET
    with tempfile.TemporaryDirectory() as d:
        svg = os.path.join(d, "h.svg")
        rc, out, err = run("explain", S260, LILY, "-m", "ig,occlusion", "--svg", svg, "--json")
        check(rc == 0, "explain --svg", out, err)
        doc = json.loads(out)
        root = ET.parse(svg).getroot()  # well-formed XML
        ns = "{http://www.w3.org/2000/svg}"
        rects = [r for r in root.iter(ns + "rect") if r.get("height") == "20"]
        n = len(doc["tokens"])
        check(len(rects) == 2 * n, f"a box per token per method: {len(rects)} vs {2 * n}")
        texts = [t.text for t in root.iter(ns + "text") if t.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"]
        check(texts[1:n] == [LILY[t["begin"]:t["end"]] for t in doc["tokens"][1:]], "the tokens' own text", str(texts[:n]))
        for k, m in enumerate(doc["methods"]):  # the largest |score| is full red (positive) or full blue
            sc = m["scores"][1:]
            i = max(range(len(sc)), key=lambda j: abs(sc[j])) + 1
            want = "#ff0000" if m["scores"][i] > 0 else "#0000ff"
            check(rects[k * n + i].get("fill") == want, f"{m['method']}: strongest token painted {want}")
            check(rects[k * n].get("fill") == "#f2f2f2", "BOS grey (fixed)")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """Width and height from a PNG's IHDR chunk (PNG spec: the first chunk,
    length 13, type IHDR, then width and height as big-endian uint32)."""
    with open(path, "rb") as f:
        b = f.read(24)
    check(b[:8] == PNG_SIGNATURE, f"{path} starts with the PNG signature", repr(b[:8]))
    check(b[12:16] == b"IHDR", f"{path}: first chunk is IHDR", repr(b[8:16]))
    return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")


def png_or_skip(rc, err):
    """True when this attrib has --png; a build without librsvg must say
    which library is missing and how to get a PNG anyway."""
    if rc == 1 and "librsvg" in err:
        check("rsvg-convert" in err and "--svg" in err, "--png without librsvg names the way out", "", err)
        print("note: attrib built without librsvg; PNG checks skipped")
        return False
    return True


def test_c_png_heat_map():
    import xml.etree.ElementTree as ET
    with tempfile.TemporaryDirectory() as d:
        svg, png = os.path.join(d, "h.svg"), os.path.join(d, "h.png")
        rc, out, err = run("explain", S260, LILY, "-m", "saliency", "--svg", svg, "--png", png)
        if not png_or_skip(rc, err):
            return
        check(rc == 0, "explain --svg --png", out, err)
        root = ET.parse(svg).getroot()
        w, h = png_size(png)  # twice the SVG's size (RENDER_PNG_SCALE, documented in docs/reports.md)
        check((w, h) == (2 * int(root.get("width")), 2 * int(root.get("height"))),
              f"PNG {w}x{h} is twice the SVG {root.get('width')}x{root.get('height')}")


def test_c_compare_summary_figure():
    import xml.etree.ElementTree as ET
    ns = "{http://www.w3.org/2000/svg}"
    methods = ["saliency", "gxi", "occlusion"]
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "d.csv")
        with open(data, "w") as f:
            f.write("text,label\nhello there,0\nhow do I stop a process,1\n")
        doc, svg, png = (os.path.join(d, n) for n in ("c.json", "c.svg", "c.png"))
        rc, out, err = run("compare", S260, "--data", data, "--template", "judge", "--label-words", " happy", " big",
                           "--methods", ",".join(methods), "--bootstrap", "20", "-o", doc, "--svg", svg)
        check(rc == 0, "compare --svg", out, err)
        summary = json.load(open(doc))["summary"]["groups"]["all"]
        root = ET.parse(svg).getroot()  # well-formed XML
        charts = {c.get("aria-label", ""): c for c in root.iter(ns + "svg")}
        for metric, title in (("comprehensiveness_aopc", "comprehensiveness AOPC"), ("sufficiency_aopc", "sufficiency AOPC")):
            chart = [c for k, c in charts.items() if k.startswith(title)]
            check(len(chart) == 1, f"one {title} chart", str(list(charts)))
            bars = list(chart[0].iter(ns + "rect"))
            labels = [t.text for t in chart[0].iter(ns + "text") if t.get("text-anchor") == "end"][:len(bars)]
            faith = summary["faithfulness"]
            want = methods + (["random"] if metric in faith.get("random", {}) else [])
            check(labels == want, f"{title}: one bar per method (and the random baseline): {labels}")
            # bar lengths are proportional to the document's means (one axis for the chart)
            means = [faith[m][metric]["mean"] for m in want]
            widths = [float(b.get("width")) for b in bars]
            ref = max(range(len(means)), key=lambda i: abs(means[i]))
            for m, mean, wd in zip(want, means, widths):
                check(abs(wd * abs(means[ref]) - widths[ref] * abs(mean)) <= 0.2 * abs(means[ref]) + 1e-9,
                      f"{title}: {m} bar {wd} for mean {mean} (longest {widths[ref]} for {means[ref]})")
        matrix = [c for k, c in charts.items() if k.startswith("mean Spearman")]
        check(len(matrix) == 1, "one agreement matrix", str(list(charts)))
        cells = [g for g in matrix[0].iter(ns + "g")]
        check(len(cells) == len(methods) ** 2, f"{len(methods)}x{len(methods)} cells, got {len(cells)}")
        for i, a in enumerate(methods):
            for j, b in enumerate(methods):
                shown = [t.text for t in cells[i * len(methods) + j].iter(ns + "text")][0]
                e = summary["agreement"].get(f"{a}|{b}") or summary["agreement"].get(f"{b}|{a}")
                v = 1.0 if i == j else e["spearman"]["mean"]
                check(abs(float(shown) - v) <= 0.0051, f"Spearman({a}, {b}) shown {shown}, document {v}")
        # report renders the same figure from the document
        rsvg = os.path.join(d, "r.svg")
        rc, out, err = run("report", doc, "--svg", rsvg)
        check(rc == 0 and open(rsvg, "rb").read() == open(svg, "rb").read(), "report --svg equals compare --svg", out, err)
        rc, out, err = run("report", doc, "--png", png)
        if png_or_skip(rc, err):
            check(rc == 0, "report --png", out, err)
            check(png_size(png) == (2 * int(root.get("width")), 2 * int(root.get("height"))), "PNG twice the SVG's size")


# ---- D. a whole answer: explain --generate / --continuation ------------------

def gen_json(*args):
    rc, out, err = run("explain", S260, LILY, *args, "--json")
    check(rc == 0, "explain %s runs" % " ".join(args), out, err)
    return json.loads(out)


def check_matrix_shape(doc, n_prompt, n_answer, what):
    n = n_prompt + n_answer
    toks, steps, mat = doc["tokens"], doc["steps"], doc["matrix"]
    check(len(toks) == n and doc["n_prompt"] == n_prompt, f"{what}: {n} tokens, {n_prompt} in the prompt", json.dumps(doc)[:2000])
    check([t["role"] for t in toks] == ["prompt"] * n_prompt + ["answer"] * n_answer, f"{what}: token roles")
    check(len(steps) == n_answer and len(mat) == n_answer, f"{what}: one step and one matrix row per answer token")
    for j, (st, row) in enumerate(zip(steps, mat)):
        # sources of step j: the prompt without BOS, and the answer tokens before it
        check(len(row) == n - 1 and st["position"] == n_prompt + j and st["token"] == toks[n_prompt + j]["id"],
              f"{what}: row {j} covers positions 0..{n - 2} and explains token {n_prompt + j}")
        check(row[0] is None and all(v is not None for v in row[1:n_prompt + j]) and all(v is None for v in row[n_prompt + j:]),
              f"{what}: row {j} has scores exactly at its sources", json.dumps(row))
        check(abs(sum(row[1:n_prompt + j]) - st["sum"]) <= 1e-9 * max(1, abs(st["sum"])), f"{what}: row {j} sums to its 'sum'")
        check(abs(st["prompt_share"] + st["answer_share"] - 1) < 1e-12, f"{what}: shares add up to 1")
        mass = sum(abs(v) for v in row[1:n_prompt + j])
        check(abs(st["prompt_share"] - sum(abs(v) for v in row[1:n_prompt]) / mass) < 1e-9, f"{what}: prompt share of row {j}")


def test_d1_generate_text_and_json():
    """--generate N writes the model's greedy answer (the same tokens as `attrib generate`) and one matrix row per token,
    on the terminal and as JSON; IG rows are complete (each sums to f - f(baseline) within the 1% tolerance)."""
    rc, out, err = run("generate", S260, LILY, "-n", "8", "--json")
    gen = json.loads(out)
    P = len(gen["prompt_ids"])
    doc = gen_json("--generate", "8")
    check([t["id"] for t in doc["tokens"]] == gen["prompt_ids"] + gen["ids"], "the answer is `attrib generate`'s", json.dumps(gen))
    check(doc["kind"] == "attrib.continuation/1" and doc["mode"] == "generate" and doc["method"] == "ig", "kind, mode, method")
    check(doc["target"]["kind"] == "logprob", "default target: each answer token's log-probability")
    check(doc["text"] == LILY and LILY + doc["answer_text"] == gen["text"], "text and answer_text", json.dumps(doc["answer_text"]))
    check(doc["attrib_version"] and "cost" in doc and doc["settings"]["rule"] == "adaptive", "provenance and settings")
    check_matrix_shape(doc, P, 8, "--generate 8")
    for st in doc["steps"]:
        gap = st["f"] - st["f_baseline"]
        check(st["f"] < 0 and abs(st["sum"] - gap) <= 0.0101 * abs(gap), "IG completeness of every row", json.dumps(st))
    # the terminal: a header, the matrix with one row per answer token, and the strongest sources
    rc, out, err = run("explain", S260, LILY, "--generate", "8")
    check(rc == 0 and err == "", "--generate 8 on the terminal", out, err)
    check(re.search(r"^answer +Lily\. She", out, re.M) is not None and "8 tokens, generated greedily" in out, "answer line", out)
    rows = [l for l in out.splitlines() if re.match(r"^ +1[3-9] |^ +20 ", l)]
    check(len(rows) >= 8 and rows[0].split()[1] == "Lily", "matrix rows labelled by the answer tokens", out)
    check("\x1b[" not in out, "no colour when NO_COLOR is set / not a terminal", out)
    rc, out2, err = run("explain", S260, LILY, "--generate", "8", "--color", "always")
    check(rc == 0 and "\x1b[48;" in out2, "--color always paints the cells", out2, err)


def test_d2_continuation_json_csv_html():
    """--continuation ANS: the given answer's tokens (TEXT and ANS tokenized as one text); row 0 is the single-token
    explain of the first answer token; CSV has one row per scored cell; --words sums tokens into words."""
    answer = " Sue. She had a dog"
    rc, out, _ = run("tokenize", S260, LILY + answer, "--json")
    ids = [t["id"] for t in json.loads(out)["tokens"]]
    rc, out, _ = run("tokenize", S260, LILY, "--json")
    P = len(json.loads(out)["tokens"])
    with tempfile.TemporaryDirectory() as d:
        html, csv = os.path.join(d, "a.html"), os.path.join(d, "a.csv")
        doc = gen_json("--continuation", answer, "-m", "gxi", "--words", "--html", html, "--csv", csv)
        check([t["id"] for t in doc["tokens"]] == ids and doc["mode"] == "continuation", "the forced answer's tokens")
        check_matrix_shape(doc, P, len(ids) - P, "--continuation")
        # row 0 is what explain says about the first answer token as its target
        rc, out, err = run("explain", S260, LILY, "--token-id", str(ids[P]), "--target", "logprob", "-m", "gxi", "--json")
        one = json.loads(out)
        check(doc["matrix"][0][1:P] == [t["score"] for t in one["tokens"][1:P]] and doc["steps"][0]["f"] == one["f_input"],
              "row 0 equals explain --token-id of the first answer token", json.dumps(doc["matrix"][0]), out)
        # words: each word column sums its source tokens, so every row keeps its total
        w = doc["words"]
        for j, (wrow, row) in enumerate(zip(w["matrix"], doc["matrix"])):
            check(abs(sum(v for v in wrow if v is not None) - sum(v for v in row if v is not None)) < 1e-9, f"word row {j} total")
        check([c["text"] for c in w["columns"]][:3] == ["Once", "upon", "a"], "word columns are the text's words", json.dumps(w["columns"]))
        cells = sum(v is not None for row in doc["matrix"] for v in row)
        lines = open(csv, encoding="utf-8", newline="").read().split("\r\n")
        check(lines[0].startswith("step,target_position") and len([l for l in lines[1:] if l]) == cells, "CSV: one row per cell", lines[0])
        page = open(html, encoding="utf-8").read()
        check("Content-Security-Policy" in page and page.count("<tr data-j=") == 2 * len(doc["steps"]), "HTML: token and word tables")
    # contrast: one token for every step, target logit(answer) - logit(contrast)
    tim = single_token_id(S260, " Tim")
    doc = gen_json("--generate", "3", "--contrast-token", " Tim", "-m", "saliency")
    check(doc["target"]["kind"] == "logit diff" and all(st["contrast"]["token"] == tim for st in doc["steps"]), "--contrast-token")


def test_d3_generate_bad_arguments():
    """Wrong uses of --generate / --continuation are usage errors (exit 2) that say what is wrong, before any work."""
    long_answer = " and then the dog ran" * 120
    cases = [
        (["--generate", "3", "--continuation", " Lily"], "not both"),
        (["--generate", "0"], "--generate takes a whole number from 1"),
        (["--generate", "-2"], "--generate takes a whole number from 1"),
        (["--generate", "600"], "exceed the model's context of 512"),
        (["--continuation", long_answer], "exceed the model's context of 512"),
        (["--continuation", ""], "--continuation is empty"),
        (["--generate", "2", "--target", "diff"], "needs --contrast"),
        (["--generate", "2", "--contrast-token", " Tim", "--target", "logit"], "logit difference"),
        (["--generate", "2", "-m", "ig,gxi"], "more than one --method"),
        (["--generate", "2", "--token", " Lily"], "--token"),
        (["--generate", "5", "--contrast", " Tim"], "--contrast has 1 tokens but the answer has 5"),
        (["--continuation", " Lily", "--ignore-eos"], "--ignore-eos goes with --generate"),
    ]
    for args, msg in cases:
        rc, out, err = run("explain", S260, LILY, *args)
        check(rc == 2 and msg in err and out == "", f"explain {args[:4]} is a usage error saying {msg!r}", out, err)
        no_doubled_prefix(err)
    rc, out, err = run("explain", S260, "Once upon a ti", "--continuation", "me there")
    check(rc == 2 and "merges with the end of TEXT" in err, "an answer whose first token starts inside TEXT", out, err)
    rc, out, err = run("explain", S260, "Once upon a ti", "--generate", "2", "--continuation", "me")
    check(rc == 2 and "not both" in err, "both given", out, err)


def test_readme_examples():
    """The README's `$ ./build/attrib ...` examples run as written and print what the README shows
    (every shown line but the timing), and the examples of `attrib --help` run."""
    readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```\n(\$ \./build/attrib [^\n]*)\n(.*?)```", readme, re.S)
    check(len(blocks) >= 2, "README has its generate and explain examples", readme[:500])
    import shlex
    for cmd, shown in blocks:
        args = [a.replace("../shared", SHARED) for a in shlex.split(cmd[len("$ ./build/attrib "):])]
        rc, out, err = run(*args)
        check(rc == 0, f"README example runs: {cmd}", out, err)
        lines = [l.rstrip() for l in out.splitlines()]
        for want in shown.splitlines():
            if want.strip() in ("", "...") or want.startswith("cost "):
                continue
            check(want.rstrip() in lines, f"README shows a line the command does not print: {want!r}\n{cmd}", out, err)
    rc, usage, _ = run("--help")
    examples = [l.strip() for l in usage.split("examples:")[1].splitlines() if l.strip().startswith("attrib ")]
    check(len(examples) >= 4, "usage has examples", usage)
    for ex in examples:
        args = [a.replace("../shared", SHARED) for a in shlex.split(ex)[1:]]
        rc, out, err = run(*args)
        check(rc == 0 and out, f"usage example runs: {ex}", out, err)


# ---- layers and heads (issue 16) ---------------------------------------------

def tokens_of(model, text):
    rc, out, err = run("tokenize", model, text, "--json")
    check(rc == 0, "tokenize runs", out, err)
    return [t["id"] for t in json.loads(out)["tokens"]]


def test_attention_json_rows_and_rollout():
    T = len(tokens_of(S260, LILY))
    rc, out, err = run("attention", S260, LILY, "--json")
    check(rc == 0, "attention --json runs", out, err)
    d = json.loads(out)
    check(d["n_layer"] == 5 and d["n_head"] == 8 and d["n_head_kv"] == 4, "stories260K: 5 blocks x 8 heads (4 KV)", out, err)
    check(d["shape"] == [5, 8, T, T] and len(d["tokens"]) == T, "shape [blocks, heads, T, T]", out, err)
    A = d["attention"]
    check(len(A) == 5 and all(len(l) == 8 and all(len(h) == T and all(len(r) == T for r in h) for h in l) for l in A),
          "nested lists match the shape", out, err)
    for l in A:
        for h in l:
            for i, r in enumerate(h):
                check(abs(sum(r) - 1) < 1e-5, f"row {i} sums to 1 ({sum(r)})", out, err)
                check(all(x == 0 for x in r[i + 1:]) and all(x >= 0 for x in r), "causal: no weight on later keys", out, err)
    rc, out, err = run("attention", S260, LILY, "--json", "--layer", "3", "--head", "5")
    d1 = json.loads(out)
    check(rc == 0 and d1["shape"] == [1, 1, T, T] and d1["layers"] == [3] and d1["heads"] == [5], "--layer/--head select", out, err)
    check(d1["attention"][0][0] == A[3][5], "the selected head is the same head", out, err)
    # rollout recomputed here from the weights: A^_l = (mean over heads + I) / 2, R_l = A^_l R_(l-1)
    rc, out, err = run("attention", S260, LILY, "--json", "--rollout")
    R = json.loads(out)["rollout"]
    check(rc == 0 and R["shape"] == [5, T, T], "rollout shape [blocks, T, T]", out, err)
    prev = None
    for l in range(5):
        Ah = [[(sum(A[l][h][i][j] for h in range(8)) / 8 + (i == j)) / 2 for j in range(T)] for i in range(T)]
        want = Ah if prev is None else [[sum(Ah[i][k] * prev[k][j] for k in range(T)) for j in range(T)] for i in range(T)]
        got = R["values"][l]
        check(max(abs(got[i][j] - want[i][j]) for i in range(T) for j in range(T)) < 1e-6, f"rollout of block {l}", out, err)
        check(all(abs(sum(r) - 1) < 1e-6 for r in got), "rollout rows sum to 1", out, err)
        prev = want
    rc, out, err = run("attention", S260, LILY)
    check(rc == 0 and "block  4 head  7" in out and "query %d" % (T - 1) in out, "the table names blocks, heads and the query", out, err)


def test_attention_usage_errors_and_help():
    for args, what in ((["--layer", "5"], "--layer 5 is outside 0..4"), (["--head", "8"], "--head 8 is outside 0..7"),
                       (["--query", "99"], "--query 99 is outside"), (["--bogus"], "unknown option")):
        rc, out, err = run("attention", S260, "Once upon a time", *args)
        check(rc == 2 and what in err and "attrib attention --help" in err, f"usage error for {args}", out, err)
    rc, out, err = run("attention", S260)
    check(rc == 2 and "missing TEXT" in err, "missing TEXT is a usage error", out, err)
    rc, out, err = run("attention", "--help")
    check(rc == 0 and "--rollout" in out and "--html FILE" in out, "attention --help", out, err)
    import shlex
    examples = [l.strip() for l in out.split("examples:")[1].splitlines() if l.strip().startswith("attrib ")]
    check(len(examples) == 3, "three examples", out)
    with tempfile.TemporaryDirectory() as tmp:
        for ex in examples:
            args = [a.replace("../shared", SHARED).replace("attn.html", os.path.join(tmp, "attn.html"))
                    for a in shlex.split(ex)[1:]]
            rc, o2, e2 = run(*args)
            check(rc == 0 and o2, f"help example runs: {ex}", o2, e2)


def test_attention_html_page():
    T = len(tokens_of(S260, LILY))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.html")
        rc, out, err = run("attention", S260, LILY, "--html", path, "--rollout")
        check(rc == 0, "attention --html runs", out, err)
        page = open(path, encoding="utf-8").read()
    check("Content-Security-Policy" in page and "default-src 'none'" in page, "the page loads nothing", page[:2000])
    check(not re.search(r"(src|href)=[\"']?https?:", page), "no network references", page[:2000])
    m = re.search(r"<script type=application/json id=attn>(.*?)</script>", page, re.S)
    check(m is not None, "the data block is there", page[:2000])
    d = json.loads(m.group(1))
    check(len(d["tokens"]) == T and d["layers"] == list(range(5)) and d["heads"] == list(range(8)), "tokens, blocks, heads", page[:2000])
    check(len(d["probs"]) == 5 and all(len(l) == 8 and all(len(h) == T * T for h in l) for l in d["probs"]), "T x T per head", page[:2000])
    check(all(abs(sum(h[i * T:(i + 1) * T]) - 1) < 1e-3 for l in d["probs"] for h in l for i in range(T)), "rows sum to 1", page[:2000])
    check(len(d["rollout"]) == 5, "rollout per block", page[:2000])


def test_explain_layer_attribution():
    # layer 0 = the input embeddings times the embedding scale: gradient x activation there is input gxi
    rc, out, err = run("explain", S260, LILY, "-m", "gxi", "--json")
    base = json.loads(out)
    rc, out, err = run("explain", S260, LILY, "-m", "gxi", "--layer", "0", "--json")
    check(rc == 0, "--layer 0 runs", out, err)
    lay = json.loads(out)
    check(lay["layer"] == 0 and lay["layer_values"]["shape"] == [len(lay["tokens"]), 64], "layer and values shape", out, err)
    a = [t["score"] for t in base["tokens"]][1:]
    b = [t["score"] for t in lay["tokens"]][1:]
    scale = max(abs(x) for x in a)
    check(max(abs(x - y) for x, y in zip(a, b)) <= 1e-5 * scale, "layer-0 gxi equals input gxi on the span", out, err)
    # layer IG: BOS's hidden state is the same on input and baseline (causal), completeness holds, values sum to scores
    rc, out, err = run("explain", S260, LILY, "-m", "ig", "--layer", "3", "--json")
    check(rc == 0, "--layer 3 ig runs", out, err)
    d = json.loads(out)
    s = [t["score"] for t in d["tokens"]]
    check(s[0] == 0.0, "BOS scores exactly 0 in layer IG", out, err)
    check(d["completeness_relative"] < 0.01, "layer IG meets its 1% completeness tolerance", out, err)
    vals, (T, C) = d["layer_values"]["values"], d["layer_values"]["shape"]
    check(max(abs(sum(vals[i * C:(i + 1) * C]) - s[i]) for i in range(T)) <= 1e-5 * max(map(abs, s)),
          "per-dimension values sum to each position's score", out, err)
    for args, what in ((["--layer", "6"], "--layer 6 is outside 0..5"), (["--layer", "2", "-m", "occlusion"], "not occlusion"),
                       (["--layer", "2", "--words"], "--words does not apply"),
                       (["--layer", "2", "--layer-summary"], "not both")):
        rc, out, err = run("explain", S260, "Once upon a time", *args)
        check(rc == 2 and what in err, f"usage error for {args}", out, err)


def test_explain_layer_summary():
    rc, out, err = run("explain", S260, LILY, "-m", "saliency", "--json")
    f = json.loads(out)
    rc, out, err = run("explain", S260, LILY, "--layer-summary", "--json")
    check(rc == 0, "--layer-summary --json runs", out, err)
    d = json.loads(out)
    check(d["target"]["token"] == f["predicted"]["token"], "the target is the top-1 token", out, err)
    # the logit here comes from the frozen-norm decomposition; explain's f_input from the forward pass
    check(abs(d["logit"] - f["f_input"]) <= 1e-5 * max(1, abs(f["f_input"])), "the logit agrees with the forward pass", out, err)
    total = d["embedding"] + sum(b["attn"] + b["ffn"] for b in d["blocks"])
    check(abs(total - d["logit"]) <= 1e-5 * max(1, abs(d["logit"])) and abs(d["sum"] - total) < 1e-9, "the parts sum to the logit", out, err)
    check(d["final_norm_term"] == 0, "no final-norm term", out, err)
    for b in d["blocks"]:
        check(len(b["heads"]) == 8 and abs(sum(b["heads"]) + b["attn_bias"] - b["attn"]) < 1e-9, "heads sum to the block", out, err)
        check(all(abs(sum(r) - h) < 1e-9 for r, h in zip(b["head_sources"], b["heads"])), "key positions sum to the head", out, err)
    rc, out, err = run("explain", S260, LILY, "--layer-summary", "--target", "diff", "--token", " Lily", "--token2", " little")
    check(rc == 0 and "logit difference" in out and "logit - sum" in out and "block 4 FFN" in out, "the table", out, err)
    rc, out, err = run("explain", S260, LILY, "--layer-summary", "--target", "prob")
    check(rc == 2 and "splits a logit" in err, "--layer-summary refuses a probability target", out, err)


def main():
    names = sys.argv[1:] or [n for n in globals() if n.startswith("test_")]
    failed = 0
    for n in names:
        try:
            globals()[n]()
            print(f"ok   {n}")
        except AssertionError as e:
            failed += 1
            print(f"FAIL {n}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
