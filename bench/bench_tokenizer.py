#!/usr/bin/env python3
"""bench_tokenizer.py — tokens/s of attrib's tokenizer against transformers.js
on the same text in the same run: all XSTest prompts joined by newlines, for
each shared tokenizer. Not a timed test; prints a table (and checks that both
produce the same number of tokens, since a fast wrong tokenizer is no result).

usage: bench_tokenizer.py [--build DIR] [--shared DIR] [--repeats N]
Needs the build's bench_tokenizer binary and `npm install` in tests/golden.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOKENIZERS = [
    ("stories260K (GGUF SPM)", "models/stories260K/stories260K-f32.gguf"),
    ("llama-2-tiny-random (GGUF SPM)", "models/llama-2-tiny-random/llama-2-tiny-random.gguf"),
    ("TinyStories-656K (json BPE)", "models/TinyStories-656K"),
    ("SmolLM2-135M (byte-level BPE)", "models/smollm2-135m-tokenizer"),
]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("ATTRIB_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--shared", default=os.environ.get("ATTRIB_SHARED", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    with open(os.path.join(a.shared, "data", "xstest", "xstest_prompts.csv"), newline="", encoding="utf-8") as f:
        prompts = [row["prompt"] for row in csv.DictReader(f)]
    text = "\n".join(prompts)
    binary = os.path.join(a.build, "bench", "bench_tokenizer")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as tf:
        tf.write(text)
        path = tf.name
    try:
        print(f"text: {len(prompts)} XSTest prompts, {len(text.encode())} bytes; best of {a.repeats}")
        print(f"{'tokenizer':34} {'tokens':>7} {'attrib tok/s':>14} {'transformers.js tok/s':>22} {'ratio':>7}")
        for name, rel in TOKENIZERS:
            src = os.path.join(a.shared, rel)
            c = run_json([binary, src, path, str(a.repeats)])
            j = run_json(["node", os.path.join(HERE, "bench_tokenizer.mjs"), src, path, str(a.repeats)])
            same = "" if c["tokens"] == j["tokens"] else f"  TOKEN COUNTS DIFFER ({c['tokens']} vs {j['tokens']})"
            print(f"{name:34} {c['tokens']:>7} {c['tokens_per_s']:>14,.0f} {j['tokens_per_s']:>22,.0f} "
                  f"{c['tokens_per_s'] / j['tokens_per_s']:>6.1f}x{same}")
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
