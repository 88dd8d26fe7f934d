#!/usr/bin/env bash
# seeds/probe.sh CORPUS_DIR — seed probe files for fuzz_probe, written here
# from the GGUF specification and attrib's documented probe keys (Python
# standard library only): valid probes of several widths and both poolings,
# and a few one-rule-broken ones.
set -euo pipefail
corpus="$1"
mkdir -p "$corpus"
/usr/bin/python3 - "$corpus" <<'PY'
import struct, sys
out = sys.argv[1]
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
def kv(k, t, v): return s(k) + struct.pack("<I", t) + v
def probe(dim, pool="mean", layer=2, scale=1.0, arch="attrib-probe", sha="ab" * 32, extra=b"", n_extra=0):
    kvs = [kv("general.architecture", 8, s(arch)), kv("general.alignment", 4, struct.pack("<I", 32)),
           kv("attrib.probe.layer", 4, struct.pack("<I", layer)), kv("attrib.probe.pool", 8, s(pool)),
           kv("attrib.probe.dim", 4, struct.pack("<I", dim)), kv("attrib.probe.bias", 6, struct.pack("<f", 0.25)),
           kv("attrib.probe.model_sha256", 8, s(sha)), kv("attrib.probe.model_arch", 8, s("llama")),
           kv("attrib.probe.description", 8, s("seed")), kv("attrib.probe.l2", 12, struct.pack("<d", 0.1)),
           kv("attrib.probe.n_train", 4, struct.pack("<I", 10)), kv("attrib.probe.n_val", 4, struct.pack("<I", 4)),
           kv("attrib.probe.train_accuracy", 12, struct.pack("<d", 0.9)), kv("attrib.probe.val_accuracy", 12, struct.pack("<d", 0.8)),
           kv("attrib.probe.train_auroc", 12, struct.pack("<d", 0.95)), kv("attrib.probe.val_auroc", 12, struct.pack("<d", 0.85)),
           kv("attrib.probe.iterations", 4, struct.pack("<I", 7)),
           kv("attrib.probe.val_confusion", 9, struct.pack("<IQ", 4, 4) + struct.pack("<4I", 1, 1, 1, 1))]
    body = b"".join(kvs) + extra
    tbytes = dim * 4
    stride = (tbytes + 31) // 32 * 32
    infos = b""
    for t, name in enumerate(["probe.weight", "probe.mean", "probe.scale"]):
        infos += s(name) + struct.pack("<I", 1) + struct.pack("<Q", dim) + struct.pack("<I", 0) + struct.pack("<Q", t * stride)
    head = b"GGUF" + struct.pack("<IQQ", 3, 3, len(kvs) + n_extra) + body + infos
    head += b"\0" * ((32 - len(head) % 32) % 32)
    data = b""
    for t in range(3):
        vals = [(0.1 * (i + 1) if t == 0 else 0.0 if t == 1 else scale) for i in range(dim)]
        data += struct.pack("<%df" % dim, *vals) + b"\0" * (stride - tbytes)
    return head + data
seeds = {"dim1-mean": probe(1), "dim4-last": probe(4, pool="last", layer=0), "dim64-mean": probe(64, layer=5),
         "bad-arch": probe(4, arch="llama"), "bad-pool": probe(4, pool="max"), "bad-scale": probe(4, scale=0.0),
         "bad-sha": probe(4, sha="zz")}
for name, b in seeds.items():
    open("%s/seed-%s.gguf" % (out, name), "wb").write(b)
PY
