#!/usr/bin/env bash
# The test command: builds attrib twice and runs ctest on both builds:
#   build/       optimised build: unit tests + checks against the PyTorch reference
#   build-asan/  clang with AddressSanitizer + UndefinedBehaviorSanitizer: unit tests
#                (crafted bad files, tokenizer, kernels) and the fuzz smoke runs
#   build-vg/    portable optimised build (no -march=native): a subset of the unit
#                tests under valgrind's memcheck
# Real models and data are read from ATTRIB_SHARED (default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
export ATTRIB_SHARED="${ATTRIB_SHARED:-$(cd .. && pwd)/shared}"
JOBS="$(nproc)"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DATTRIB_SHARED_DIR="$ATTRIB_SHARED"
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DATTRIB_SANITIZE=ON \
  -DATTRIB_FUZZ=ON -DATTRIB_SHARED_DIR="$ATTRIB_SHARED"
cmake --build build-asan -j"$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ATTRIB_TEST_SANITIZED=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L 'unit|fuzz'

cmake -S . -B build-vg -DCMAKE_BUILD_TYPE=Release -DATTRIB_NATIVE=OFF -DATTRIB_SHARED_DIR="$ATTRIB_SHARED"
cmake --build build-vg -j"$JOBS" --target test-metrics test-dataset test-gguf test-quant
ctest --test-dir build-vg --output-on-failure -j"$JOBS" -L valgrind
