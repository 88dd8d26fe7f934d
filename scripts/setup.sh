#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a working attrib:
# installs the dependencies, builds (build/), and runs the main job on the
# tiny real model shipped in ../shared (override with ATTRIB_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${ATTRIB_SHARED:-../shared}"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
MODEL="$SHARED/models/stories260K/stories260K-f32.gguf"
./build/attrib info "$MODEL"
echo
./build/attrib generate "$MODEL" "Once upon a time" -n 40
