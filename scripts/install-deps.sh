#!/usr/bin/env bash
# Installs the Debian packages attrib needs to build, test and benchmark.
# Run as root (or through sudo). Safe to run again.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates \
  libopenblas-dev libpcre2-dev libjansson-dev libutf8proc-dev libssl-dev librsvg2-dev \
  libcmocka-dev clang libclang-rt-14-dev llvm valgrind \
  python3 python3-numpy python3-torch python3-jinja2 parallel python3-pytest python3-venv python3-setuptools python3-wheel
# Captum 0.8 (../shared/peers/captum-0.8.0), the peer of bench/bench_compare.py, imports these
$SUDO apt-get install -y -q --no-install-recommends python3-tqdm python3-scipy python3-matplotlib
# Browser tests of the HTML reports: Debian's Chromium, driven by playwright-core
# from the npm registry (tests/browser/package-lock.json pins it).
# Node.js and npm come with the machine; Debian's are the fallback.
$SUDO apt-get install -y -q --no-install-recommends chromium
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
