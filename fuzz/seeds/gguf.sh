#!/usr/bin/env bash
# seeds/gguf.sh CORPUS_DIR — seed inputs for fuzz_gguf (run by run-fuzz.sh).
#
# Real files first (the shared GGUF checkpoints: one F32 with a 512-token
# SentencePiece vocabulary, one F16 with the full Llama-2 vocabulary), then
# small generated models in every weight type the loader reads (so the
# fuzzer starts from valid files of each layout), then the crafted files of
# tests/crafted/make_crafted.py (each already one step away from an error
# path). Seeds are copied under content-independent names and re-copied on
# every run; files libFuzzer added to the corpus are left alone.
set -euo pipefail
corpus="$1"
shared="${ATTRIB_SHARED:?ATTRIB_SHARED must name the shared assets directory}"
src="${ATTRIB_SOURCE:?ATTRIB_SOURCE must name the repository root}"
py=/usr/bin/python3  # Debian's python with numpy (tools/make_gguf.py needs it)
mkdir -p "$corpus"

for f in stories260K/stories260K-f32.gguf llama-2-tiny-random/llama-2-tiny-random.gguf; do
  if [ -r "$shared/models/$f" ]; then
    cat "$shared/models/$f" > "$corpus/seed-shared-$(basename "$f")"  # cat: the copy must be writable
  else
    echo "seeds/gguf.sh: $shared/models/$f not found, skipped" >&2
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Tiny generated models. Block types need row lengths that are multiples of
# 32 (Q*_0/1) or 256 (K-quants), hence the two shapes.
gen() {  # gen NAME ARGS...
  local name="$1"; shift
  if "$py" "$src/tools/make_gguf.py" "$tmp/$name.gguf" --quiet "$@" >/dev/null 2>&1; then
    cp -f "$tmp/$name.gguf" "$corpus/seed-gen-$name.gguf"
  else
    echo "seeds/gguf.sh: make_gguf.py $name failed, skipped" >&2
  fi
}
small=(--n-embd 32 --n-layer 1 --n-head 2 --n-head-kv 1 --n-ff 64 --n-vocab 16 --n-ctx 64)
kq=(--n-embd 256 --n-layer 1 --n-head 2 --n-head-kv 1 --n-ff 256 --n-vocab 8 --n-ctx 64)
for dt in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1; do gen "llama-$dt" "${small[@]}" --dtype "$dt"; done
for dt in q4_k q5_k q6_k; do gen "llama-$dt" "${kq[@]}" --dtype "$dt"; done
gen qwen2-f32 --arch qwen2 "${small[@]}" --dtype f32
gen llama-untied-ropefreqs "${small[@]}" --dtype f16 --untied --rope-freqs
if [ -r "$shared/models/stories260K/stories260K-f32.gguf" ]; then
  gen llama-spm-vocab --n-embd 32 --n-layer 1 --n-head 2 --n-ff 64 --dtype q8_0 \
      --tokenizer-from "$shared/models/stories260K/stories260K-f32.gguf"
fi

# Crafted parser and model-level files (valid and one-rule-broken).
if "$py" "$src/tests/crafted/make_crafted.py" "$tmp/crafted" >/dev/null; then
  for f in "$tmp"/crafted/*.gguf; do cp -f "$f" "$corpus/seed-crafted-$(basename "$f")"; done
else
  echo "seeds/gguf.sh: make_crafted.py failed, crafted seeds skipped" >&2
fi
