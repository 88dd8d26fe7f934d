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
  libopenblas-dev libpcre2-dev libjansson-dev libutf8proc-dev \
  libcmocka-dev clang libclang-rt-14-dev llvm \
  python3 python3-numpy python3-torch
