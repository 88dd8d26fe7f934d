#!/usr/bin/env bash
# Line and branch coverage (gcov) of the loaders, tokenizers and the other
# parsers of untrusted input, from the unit tests (label "unit", which
# include the crafted-file suites and the allocation-failure sweeps).
#   usage: scripts/coverage.sh [BUILD_DIR]   (default build-cov)
# Prints one line per file: lines and branches executed.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-build-cov}"
export ATTRIB_SHARED="${ATTRIB_SHARED:-$(cd .. && pwd)/shared}"
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DATTRIB_NATIVE=OFF -DATTRIB_SHARED_DIR="$ATTRIB_SHARED" \
  -DCMAKE_C_FLAGS="-O1 --coverage" -DCMAKE_EXE_LINKER_FLAGS="--coverage" -DCMAKE_SHARED_LINKER_FLAGS="--coverage" >/dev/null
cmake --build "$B" -j"$(nproc)" >/dev/null
find "$B" -name '*.gcda' -delete
# test-perturb's convergence study adds nothing to the parsers' coverage and takes long at -O1
ctest --test-dir "$B" -L unit -E 'test-perturb' -j"$(nproc)" --output-on-failure >/dev/null
objdir="$B/CMakeFiles/attrib_objects.dir/src"
printf '%-22s %-28s %s\n' file lines branches
for f in gguf.c model.c hf.c tokenizer.c tokenizer_gguf.c tokenizer_json.c tokenizer_model.c tokenizer_text.c \
         dataset.c probe.c template.c; do
  out="$(cd "$objdir" && gcov -b -n "$f.gcda" 2>/dev/null | awk -v f="$f" '
    $0 ~ "^File .*/src/"f"\x27" {hit=1; next}
    hit && /^Lines executed/ {l=$0; sub(/^Lines executed:/, "", l)}
    hit && /^Branches executed/ {b=$0; sub(/^Branches executed:/, "", b)}
    hit && /^Taken at least once/ {t=$0; sub(/^Taken at least once:/, "", t); hit=0}
    END {print l "|" t}')"
  printf '%-22s %-28s %s\n' "src/$f" "${out%%|*}" "taken ${out##*|}"
done
