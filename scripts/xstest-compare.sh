#!/usr/bin/env bash
# The README's results: trains a harmful-query probe on each shared trained
# model (refusal_direction + JailbreakBench training prompts; XSTest is never
# seen in training), then runs `attrib compare` with the default methods on
# all 450 XSTest prompts. Writes OUT/<model>.{json,html,txt} and the probes.
#   usage: scripts/xstest-compare.sh [OUT_DIR]   (default /tmp/attrib-xstest)
# Layers were chosen by the probes' validation AUROC on the training data.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${ATTRIB_SHARED:-$(cd .. && pwd)/shared}"
OUT="${1:-/tmp/attrib-xstest}"
BIN="${ATTRIB_BIN:-build/attrib}"
mkdir -p "$OUT"
D="$SHARED/data"
TRAIN=(--harmful "$D/refusal_direction/harmful_train.json" --harmful "$D/jbb/jailbreakbench.csv"
       --harmless "$D/refusal_direction/harmless_train.json" --harmless "$D/jbb/benign-behaviors.csv" --sample 360)
run() { # name model layer
  "$BIN" probe train "$2" --out "$OUT/$1-probe.gguf" --layer "$3" --pool mean "${TRAIN[@]}" | tee "$OUT/$1-probe.txt"
  # default masking (the tokenizer's PAD/UNK token), then removal by deletion
  "$BIN" compare "$2" --probe "$OUT/$1-probe.gguf" --data "$D/xstest/xstest_prompts.csv" --positive unsafe \
    -o "$OUT/$1.json" --html "$OUT/$1.html" | tee "$OUT/$1.txt"
  "$BIN" compare "$2" --probe "$OUT/$1-probe.gguf" --data "$D/xstest/xstest_prompts.csv" --positive unsafe \
    --mask delete -o "$OUT/$1-delete.json" --html "$OUT/$1-delete.html" | tee "$OUT/$1-delete.txt"
}
run stories260K "$SHARED/models/stories260K/stories260K-f32.gguf" 5
run TinyStories-656K "$SHARED/models/TinyStories-656K" 1
