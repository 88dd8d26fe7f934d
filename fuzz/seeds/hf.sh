#!/usr/bin/env bash
# seeds/hf.sh CORPUS_DIR — seed inputs for fuzz_hf (run by run-fuzz.sh).
#
# fuzz_hf reads one input as <u32 little-endian config length and flags>
# <config.json><model.safetensors> (see fuzz/fuzz_hf.c). Seeds: the shared
# TinyStories-656K checkpoint packed that way (a real, tied, F32
# checkpoint), then every single-file case of tests/crafted/make_crafted_hf.py
# (the valid tiny llama in F32/F16/BF16 and its one-rule-broken variants,
# except the 4 MiB config), each both raw and in the framed form (header
# JSON, NUL, data; the harness writes the length), and the valid base with
# the weight-scan bit set.
set -euo pipefail
corpus="$1"
shared="${ATTRIB_SHARED:?ATTRIB_SHARED must name the shared assets directory}"
src="${ATTRIB_SOURCE:?ATTRIB_SOURCE must name the repository root}"
py=/usr/bin/python3
mkdir -p "$corpus"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! "$py" "$src/tests/crafted/make_crafted_hf.py" "$tmp/crafted" >/dev/null; then
  echo "seeds/hf.sh: make_crafted_hf.py failed, crafted seeds skipped" >&2
  mkdir -p "$tmp/crafted"
fi

"$py" - "$corpus" "$shared/models/TinyStories-656K" "$tmp/crafted" <<'PY'
import os, struct, sys
corpus, real, crafted = sys.argv[1:4]

FRAMED, CHECK = 1 << 30, 1 << 31

def pack(name, d, flag=0):
    cfg, st = os.path.join(d, 'config.json'), os.path.join(d, 'model.safetensors')
    if not (os.path.isfile(cfg) and os.path.isfile(st)):
        return 0  # sharded or missing-file cases do not fit the format
    c = open(cfg, 'rb').read()
    w = open(st, 'rb').read()
    if flag & FRAMED:
        if len(w) < 8:
            return 0
        hlen = struct.unpack('<Q', w[:8])[0]
        if hlen > len(w) - 8 or b'\0' in w[8:8 + hlen]:
            return 0  # a broken length or a NUL in the header has no framed form
        w = w[8:8 + hlen] + b'\0' + w[8 + hlen:]
    with open(os.path.join(corpus, name), 'wb') as f:
        f.write(struct.pack('<I', len(c) | flag) + c + w)
    return 1

n = 0
if os.path.isdir(real):
    n += pack('seed-shared-TinyStories-656K', real)
    n += pack('seed-shared-framed-TinyStories-656K', real, FRAMED)
else:
    sys.stderr.write('seeds/hf.sh: %s not found, skipped\n' % real)
for case in sorted(os.listdir(crafted)):
    d = os.path.join(crafted, case)
    if os.path.isdir(d) and case != 'cfg_too_large':  # 4 MiB: over -max_len, and only about size
        n += pack('seed-crafted-' + case, d)
        n += pack('seed-crafted-framed-' + case, d, FRAMED)
if os.path.isdir(os.path.join(crafted, 'ok_base')):
    n += pack('seed-crafted-ok_base-checkweights', os.path.join(crafted, 'ok_base'), CHECK)
PY
