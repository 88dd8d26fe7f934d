#!/usr/bin/python3
"""check_llamacpp: attrib against llama.cpp itself (an independent reference).

llama.cpp is the prebuilt libllama + ggml CPU backends of the npm package
@node-llama-cpp/linux-x64 3.22.1 (llama.cpp release v0.5.0), driven through
its C API by tests/llamacpp/llamacpp_ref.py (installed on first use with
`npm ci` from tests/llamacpp/package-lock.json). See docs/llamacpp.md.

Three comparisons:
  1. LOGITS. For every row of MODELS (random-weight GGUFs written by
     tools/make_gguf.py, plus the shared real GGUFs), the logits of all 32
     positions of a 32-token prompt and of the last position of a 128-token
     prompt: attrib (tests/tools/forward_dump) against
       a. llama.cpp on the same file ("native"), within the row's tolerance;
       b. for files that are not all F32: llama.cpp on its own F32 expansion
          of the file ("vs F32 dequant": llama_model_quantize to ALL_F32,
          ggml's dequantisers), within TOL_EXACT. This is the strict check
          of every block format: both sides then compute in F32.
     NEGATIVE CONTROLS give llama.cpp a copy of a model with one deliberate
     defect (RoPE pairs of the other family, Q/K/V biases dropped, a
     transposed attn_output, Q4_0 nibbles swapped; on F32 and quantised
     files); each must differ from attrib by more than the loosest
     tolerance of the table, or the test fails.
  2. GREEDY. 16 tokens from the first 8 prompt ids: `attrib generate --ids
     --ignore-eos --json` against llama.cpp (on the F32 expansion where
     there is one), token for token. A divergence at a step where
     llama.cpp's top-2 logits are closer than the tolerance used is a tie,
     not a failure (either choice is within error).
  3. TOKENIZATION. The 450 XSTest prompts plus edge-case strings, BOS/EOS
     added as each tokenizer's configuration says, special-token text not
     parsed (and, for the edge cases, also parsed, and also without
     BOS/EOS), on every tokenizer
     family we have as GGUF: stories260K (SPM, 512), llama-2-tiny-random
     (SPM, Llama-2 32k), SmolLM2's byte-level BPE with tokenizer.ggml.pre =
     smollm / qwen2 / llama-bpe, and stories260K's SPM with
     tokenizer.ggml.add_space_prefix = false (Gemma-style; the row also
     checks that llama.cpp's own answer changed). All must agree.

TOLERANCES (max |attrib - llama.cpp| over the compared logits; the random
models' logits have a standard deviation near 3, max |logit| ~10). attrib
computes in float32 with the weights dequantised exactly. llama.cpp's CPU
backend converts the activations to the weight type's "vec_dot_type" first
and takes the dot products in that format:
  F32 weights     -> F32: only the summation order differs.
  F16             -> F16 on AVX2 CPUs (the haswell backend: 1.2e-2 here);
                     the sapphirerapids backend keeps F32 (1e-5).
  BF16            -> BF16 (8-bit mantissa).
  Q4_0/Q5_0/Q8_0  -> Q8_0; Q4_1/Q5_1 -> Q8_1; K-quants -> Q8_K (8 bits).
Rounding each activation vector to 8 bits is a relative error of ~2^-9 per
element per product; over 2 layers (7 products each), the output
projection and max over 32 x 512 logits that reaches 0.1-0.5. Measured
worst (sapphirerapids and haswell backends): F32 and every "vs F32
dequant" comparison <= 2e-5 (TOL_EXACT 1e-4); F16 1.2e-2 (TOL_F16 4e-2);
BF16 7.7e-2 (TOL_BF16 0.25); 8-bit types 0.47 (TOL_Q 1.2). A real defect
moves the logits by O(1): the negative controls measure 6.2 to 13, five
times the loosest tolerance, and the exact comparisons would see a defect
a hundred thousand times smaller.

Environment: ATTRIB_SHARED, ATTRIB_BUILD (tokenize_dump and forward_dump are
$ATTRIB_BUILD/tests/*), ATTRIB_BIN. Options: -k SUBSTR (rows whose name
contains it), --skip-tokenize, --skip-logits, --keep.
"""
import argparse
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402

XSTEST = os.path.join(H.SHARED, "data", "xstest", "xstest_prompts.csv")
SMOL_TOK = os.path.join(H.SHARED, "models", "smollm2-135m-tokenizer", "tokenizer.json")

# Tolerances on max |attrib - llama.cpp| (justified in the docstring and in
# docs/llamacpp.md; "measured" = worst over the rows, two CPU variants).
TOL_EXACT = 1e-4   # F32 arithmetic on both sides; measured <= 2e-5
TOL_F16 = 4e-2     # activations rounded to F16 on AVX2 CPUs; measured 1.2e-2
TOL_BF16 = 0.25    # activations rounded to BF16; measured 7.7e-2
TOL_Q = 1.2        # activations quantised to 8 bits (Q8_0/Q8_1/Q8_K); measured 0.47
# Gemma's GELU: llama.cpp's CPU backend rounds the GELU input to F16 and reads
# a table (about 1e-3 relative per activation); attrib computes tanh-GELU
# exactly, as transformers does. The float64 reference with llama.cpp's table
# emulated closes most of the gap (docs/architectures.md).
TOL_GELU = 2e-2   # measured <= 3.6e-3 (gemma3 F32, 7 layers), in F32 and in F32 expansions
STOK = ["--tokenizer-from", H.STORIES260K]
SMALL = ["--n-embd", 128, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--n-ff", 256]
ARCH_SMALL = ["--n-embd", 128, "--n-layer", 3, "--n-head", 4, "--n-head-kv", 2, "--head-dim", 48, "--n-ff", 256]
KSHAPE = ["--n-embd", 256, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2, "--n-ff", 512]

def exact_tol(name):
    """Tolerance of F32 arithmetic on both sides: TOL_EXACT, except for Gemma,
    whose GELU llama.cpp reads from an F16 table even in F32 (TOL_GELU)."""
    return TOL_GELU if "gemma" in name else TOL_EXACT


# (name, make_gguf args or a shared GGUF path, tolerance on max |d|).
# Adding a weight type or an architecture is one line here.
MODELS = [
    ("stories260K", H.STORIES260K, TOL_EXACT),
    ("llama-2-tiny-random", H.LLAMA2_TINY, TOL_F16),
    ("llama-f32-gqa2", SMALL + ["--seed", 101] + STOK, TOL_EXACT),
    ("llama-f32-gqa3-untied", ["--n-embd", 192, "--n-layer", 2, "--n-head", 6, "--n-head-kv", 2,
                               "--n-ff", 320, "--untied", "--rms-eps", 1e-6, "--seed", 102] + STOK,
     TOL_EXACT),
    ("llama-f32-ropefreqs", SMALL + ["--rope-freqs", "--rope-orig-ctx", 64, "--rope-theta", 500000,
                                     "--untied", "--seed", 103] + STOK, TOL_EXACT),
    ("qwen2-f32-bias", ["--arch", "qwen2"] + SMALL + ["--rope-theta", 1000000, "--seed", 104] + STOK,
     TOL_EXACT),
    ("llama-f16", SMALL + ["--dtype", "f16", "--seed", 105] + STOK, TOL_F16),
    ("llama-bf16", SMALL + ["--dtype", "bf16", "--seed", 106] + STOK, TOL_BF16),
    ("llama-q8_0", SMALL + ["--dtype", "q8_0", "--seed", 107] + STOK, TOL_Q),
    ("qwen2-q8_0-untied", ["--arch", "qwen2"] + SMALL + ["--dtype", "q8_0", "--untied",
                                                         "--seed", 108] + STOK, TOL_Q),
    ("llama-q4_0", SMALL + ["--dtype", "q4_0", "--seed", 109] + STOK, TOL_Q),
    ("llama-q4_1", SMALL + ["--dtype", "q4_1", "--seed", 110] + STOK, TOL_Q),
    ("llama-q5_0", SMALL + ["--dtype", "q5_0", "--seed", 111] + STOK, TOL_Q),
    ("llama-q5_1", SMALL + ["--dtype", "q5_1", "--seed", 112] + STOK, TOL_Q),
    ("llama-q4_k", KSHAPE + ["--dtype", "q4_k", "--untied", "--seed", 113] + STOK, TOL_Q),
    ("llama-q5_k", KSHAPE + ["--dtype", "q5_k", "--untied", "--seed", 114] + STOK, TOL_Q),
    ("llama-q6_k", KSHAPE + ["--dtype", "q6_k", "--untied", "--seed", 115] + STOK, TOL_Q),
    ("llama-q4_k-embd-q8_0", KSHAPE + ["--dtype", "q4_k", "--embd-dtype", "q8_0",
                                       "--seed", 116] + STOK, TOL_Q),
    ("llama-q2_k", KSHAPE + ["--dtype", "q2_k", "--untied", "--seed", 117] + STOK, TOL_Q),
    ("llama-q3_k", KSHAPE + ["--dtype", "q3_k", "--untied", "--seed", 118] + STOK, TOL_Q),
    ("llama-iq4_nl", SMALL + ["--dtype", "iq4_nl", "--seed", 119] + STOK, TOL_Q),
    ("llama-iq4_xs", KSHAPE + ["--dtype", "iq4_xs", "--untied", "--seed", 120] + STOK, TOL_Q),
    # the newer families: every weight type goes through the same dequantisation
    # as above, so each family gets F32 (exact arithmetic) and quantised rows
    ("qwen3-f32", ["--arch", "qwen3"] + ARCH_SMALL + ["--seed", 201] + STOK, TOL_EXACT),
    ("qwen3-q8_0", ["--arch", "qwen3"] + ARCH_SMALL + ["--dtype", "q8_0", "--seed", 202] + STOK, TOL_Q),
    ("qwen3-q4_k", ["--arch", "qwen3"] + KSHAPE + ["--head-dim", 128, "--dtype", "q4_k", "--seed", 203] + STOK, TOL_Q),
    ("gemma2-f32-swa8", ["--arch", "gemma2"] + ARCH_SMALL + ["--sliding-window", 8, "--seed", 204] + STOK, TOL_GELU),
    ("gemma2-q8_0-swa8", ["--arch", "gemma2"] + ARCH_SMALL + ["--sliding-window", 8, "--dtype", "q8_0",
                                                              "--seed", 205] + STOK, TOL_Q),
    ("gemma3-f32-swa8", ["--arch", "gemma3", "--n-embd", 128, "--n-layer", 7, "--n-head", 4, "--n-head-kv", 1,
                         "--head-dim", 64, "--n-ff", 256, "--sliding-window", 8, "--seed", 206] + STOK, TOL_GELU),
    ("gemma3-f32-ropescale8", ["--arch", "gemma3", "--n-embd", 128, "--n-layer", 7, "--n-head", 4, "--n-head-kv", 1,
                               "--head-dim", 64, "--n-ff", 256, "--sliding-window", 8, "--rope-scale", 8,
                               "--seed", 207] + STOK, TOL_GELU),
    ("gemma3-q4_k-swa8", ["--arch", "gemma3", "--n-embd", 256, "--n-layer", 6, "--n-head", 4, "--n-head-kv", 1,
                          "--head-dim", 256, "--n-ff", 512, "--sliding-window", 8, "--dtype", "q4_k",
                          "--seed", 208] + STOK, TOL_Q),
    ("phi3-f32", ["--arch", "phi3"] + SMALL + ["--seed", 209] + STOK, TOL_EXACT),
    ("phi3-f32-split-qkv", ["--arch", "phi3"] + SMALL + ["--split-qkv", "--seed", 210] + STOK, TOL_EXACT),
    # the short factors: llama.cpp takes the long ones only for a context over the original length
    ("phi3-f32-longrope", ["--arch", "phi3"] + SMALL + ["--longrope", "--n-ctx", 131072, "--orig-ctx", 4096,
                                                        "--seed", 211] + STOK, TOL_EXACT),
    ("phi3-q8_0", ["--arch", "phi3"] + SMALL + ["--dtype", "q8_0", "--seed", 212] + STOK, TOL_Q),
    # the published shapes (widths, heads, head dimensions, FFN), with few
    # layers and a small vocabulary to keep the files small
    ("preset-qwen3-0.6b", ["--preset", "qwen3-0.6b", "--n-layer", 2, "--n-vocab", 512, "--dtype", "q8_0",
                           "--seed", 221] + STOK, TOL_Q),
    ("preset-gemma3-270m", ["--preset", "gemma3-270m", "--n-layer", 6, "--n-vocab", 512, "--dtype", "q8_0",
                            "--seed", 222] + STOK, TOL_Q),
    ("preset-gemma3-1b", ["--preset", "gemma3-1b", "--n-layer", 2, "--n-vocab", 512, "--dtype", "q8_0",
                          "--seed", 223] + STOK, TOL_Q),
    ("preset-gemma2-2b", ["--preset", "gemma2-2b", "--n-layer", 2, "--n-vocab", 512, "--dtype", "q8_0",
                          "--seed", 224] + STOK, TOL_Q),
    ("preset-phi3-mini-4k", ["--preset", "phi3-mini-4k", "--n-layer", 1, "--n-vocab", 512, "--dtype", "q8_0",
                             "--seed", 225] + STOK, TOL_Q),
]

# Negative controls: (name, base row, how llama.cpp's copy is broken). Each
# must differ from attrib by more than the LOOSEST tolerance of the table
# (TOL_Q): a defect of this kind could not hide under any row's tolerance.
# Measured max |d|: 6.2 to 13.
NEGATIVE = [
    ("NEG rope: other pair layout", "llama-f32-gqa2", "rope"),
    ("NEG bias: Q/K/V biases dropped", "qwen2-f32-bias", "nobias"),
    ("NEG transposed attn_output", "llama-f32-gqa2", "transpose"),
    ("NEG rope on Q4_K", "llama-q4_k", "rope"),
    ("NEG bias on Q8_0", "qwen2-q8_0-untied", "nobias"),
    ("NEG Q4_0 nibble order", "llama-q4_0", "nibbles"),
    ("NEG transposed attn_output, gemma3", "gemma3-f32-swa8", "transpose"),
    ("NEG transposed attn_output, phi3", "phi3-f32", "transpose"),
]

# Tokenizer GGUFs: (name, make_gguf args or path, extra metadata for a copy)
TOKENIZERS = [
    ("spm stories260K", H.STORIES260K, None),
    ("spm llama-2 32k", H.LLAMA2_TINY, None),
    ("bpe smollm", ["--tokenizer-from", SMOL_TOK, "--tokenizer-pre", "smollm"], None),
    ("bpe qwen2", ["--tokenizer-from", SMOL_TOK, "--tokenizer-pre", "qwen2"], None),
    ("bpe llama-bpe", ["--tokenizer-from", SMOL_TOK, "--tokenizer-pre", "llama-bpe"], None),
    ("spm no space prefix", H.STORIES260K, {"tokenizer.ggml.add_space_prefix": False}),
]
TINY = ["--n-embd", 32, "--n-layer", 1, "--n-head", 2, "--n-ff", 64, "--seed", 7]

EDGE_TEXTS = [
    "", " ", "  leading spaces", "trailing  ", "a\nb\n\nc", "\t tab", "x  y   z",
    "12345 1234567 3.14159", "don't I'LL we've", "héllo wörld — ünïcödé",
    "日本語のテキスト", "emoji 🙂👍🏽 done", "<s> literal </s> text", "<|im_start|>user hi<|im_end|>",
    "<|endoftext|>", "camelCaseWord snake_case_word", "   ", "\u00a0nbsp",
]


# ---------------------------------------------------------------- GGUF copy
def _gguf_parse(buf):
    """(kvs [(key, vtype, raw pair bytes)], tensors [(name, dims, type, offset, raw)],
    alignment, data_start) of a GGUF v2/v3 file held in BUF."""
    pos = 8
    n_t, n_kv = struct.unpack_from("<QQ", buf, pos)
    pos += 16
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip(t, p):
        if t == 8:
            return p + 8 + struct.unpack_from("<Q", buf, p)[0]
        if t == 9:
            et, n = struct.unpack_from("<IQ", buf, p)
            p += 12
            if et in sizes:
                return p + n * sizes[et]
            for _ in range(n):
                p = skip(et, p)
            return p
        return p + sizes[t]
    kvs, align = [], 32
    for _ in range(n_kv):
        start = pos
        klen = struct.unpack_from("<Q", buf, pos)[0]
        key = buf[pos + 8:pos + 8 + klen].decode()
        pos += 8 + klen
        t = struct.unpack_from("<I", buf, pos)[0]
        vpos = pos + 4
        pos = skip(t, vpos)
        if key == "general.alignment":
            align = struct.unpack_from("<I", buf, vpos)[0]
        kvs.append((key, t, buf[start:pos]))
    tensors = []
    for _ in range(n_t):
        start = pos
        nlen = struct.unpack_from("<Q", buf, pos)[0]
        name = buf[pos + 8:pos + 8 + nlen].decode()
        pos += 8 + nlen
        nd = struct.unpack_from("<I", buf, pos)[0]
        dims = struct.unpack_from("<%dQ" % nd, buf, pos + 4)
        pos += 4 + 8 * nd
        ttype, off = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        tensors.append((name, dims, ttype, off, buf[start:pos]))
    data_start = -(-pos // align) * align
    return kvs, tensors, align, data_start


# ggml type -> (values per block, bytes per block)
GGML_BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22),
              7: (32, 24), 8: (32, 34), 12: (256, 144), 13: (256, 176), 14: (256, 210)}


def gguf_copy(src, dst, set_kv=None, edit=None):
    """Writes DST = SRC with the boolean metadata keys of SET_KV {key: bool}
    set, and EDIT(name, dims, ggml type, raw bytes) -> new raw bytes of the
    same size (or None: unchanged) applied to every tensor."""
    with open(src, "rb") as fh:
        buf = bytearray(fh.read())
    kvs, tensors, align, data_start = _gguf_parse(buf)
    data = buf[data_start:]
    if edit:
        for name, dims, ttype, off, _ in tensors:
            if ttype not in GGML_BLOCK:
                continue
            blk, nbytes = GGML_BLOCK[ttype]
            size = int(np.prod(dims)) // blk * nbytes
            new = edit(name, dims, ttype, bytes(data[off:off + size]))
            if new is not None:
                assert len(new) == size
                data[off:off + size] = new
    raw_kvs = [r for k, t, r in kvs if not (set_kv and k in set_kv)]
    for k, v in (set_kv or {}).items():
        kb = k.encode()
        raw_kvs.append(struct.pack("<Q", len(kb)) + kb + struct.pack("<I?", 7, bool(v)))
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(raw_kvs))
    head += b"".join(raw_kvs) + b"".join(t[4] for t in tensors)
    head += b"\0" * (-len(head) % align)
    with open(dst, "wb") as fh:
        fh.write(head)
        fh.write(data)
    return dst


def break_model(kind, n_head, n_head_kv):
    """An EDIT function (see gguf_copy) giving llama.cpp a model with one
    deliberate defect, the kind a forward pass or a loader could have."""
    def edit(name, dims, ttype, raw):
        n_rows = int(np.prod(dims[1:]))
        rows = np.frombuffer(raw, np.uint8).reshape(n_rows, -1)
        if kind == "rope" and (name.endswith("attn_q.weight") or name.endswith("attn_k.weight")):
            # rows of each head reordered from adjacent pairs (0,1),(2,3).. to
            # rotate-half pairs (0,d/2),(1,d/2+1)..: the same logits as a
            # forward pass applying the other family's RoPE layout. Rows are
            # whole blocks in every type, so this works on quantised files.
            h = n_head if "attn_q" in name else n_head_kv
            hd = n_rows // h
            perm = np.concatenate([np.arange(0, hd, 2), np.arange(1, hd, 2)])
            return rows.reshape(h, hd, -1)[:, perm, :].tobytes()
        if kind == "nobias" and name.endswith(".bias"):
            return bytes(len(raw))
        if kind == "transpose" and name == "blk.0.attn_output.weight" and ttype == 0:
            a = np.frombuffer(raw, "<f4").reshape(n_rows, dims[0])
            return np.ascontiguousarray(a.T).tobytes()
        if kind == "nibbles" and name == "blk.0.ffn_down.weight" and ttype == 2:
            # Q4_0 blocks are [f16 d][16 bytes: element j low nibble, j+16
            # high nibble]; swapping the nibbles is the classic order bug
            b = rows.reshape(-1, 18).copy()
            q = b[:, 2:]
            b[:, 2:] = ((q & 0x0F) << 4) | (q >> 4)
            return b.tobytes()
        return None
    return edit


# ---------------------------------------------------------------- runners
LlamaCpp = H.LlamaCpp


def attrib_logits(tmp, path, ids, mode):
    rpath, opath = os.path.join(tmp, "req.json"), os.path.join(tmp, "out.bin")
    with open(rpath, "w") as fh:
        json.dump({"tokens": [list(ids)], "logits": mode, "threads": 2}, fh)
    p = subprocess.run([H.test_tool("forward_dump"), path, rpath, opath], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("forward_dump exit %d: %s" % (p.returncode, p.stderr.strip()))
    return np.fromfile(opath, dtype="<f4").astype(np.float64)


def attrib_generate(path, ids, n):
    p = subprocess.run([H.attrib_bin(), "generate", path, "--ids", ",".join(map(str, ids)),
                        "-n", str(n), "--ignore-eos", "--threads", "2", "--json"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("attrib generate: " + p.stderr.strip())
    if not p.stdout.strip():
        raise RuntimeError("attrib generate --json printed nothing and exited 0 (ids %s)"
                           % ",".join(map(str, ids)))
    return json.loads(p.stdout)["ids"]


def attrib_tokenize(tmp, path, texts, parse_special, add_special=True):
    rpath = os.path.join(tmp, "tok.json")
    with open(rpath, "w", encoding="utf-8") as fh:
        json.dump({"texts": texts, "add_special": add_special, "parse_special": parse_special}, fh)
    p = subprocess.run([H.test_tool("tokenize_dump"), path, rpath], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("tokenize_dump: " + p.stderr.strip())
    return json.loads(p.stdout)["ids"]


def model_header(path):
    """(n_vocab, n_head, n_head_kv) from the GGUF metadata."""
    with open(path, "rb") as fh:
        buf = fh.read(64 << 20)
    kvs, _, _, _ = _gguf_parse(buf)
    out = {}
    for key, t, raw in kvs:
        if key.endswith(".attention.head_count") or key.endswith(".attention.head_count_kv"):
            out[key.rsplit(".", 1)[1]] = struct.unpack_from("<I", raw, len(raw) - 4)[0]
        if key == "tokenizer.ggml.tokens":
            out["n_vocab"] = struct.unpack_from("<Q", raw, 8 + len(key) + 4 + 4)[0]
    return out["n_vocab"], out["head_count"], out.get("head_count_kv", out["head_count"])


# ---------------------------------------------------------------- checks
def _compare(rows, failures, name, label, a, r, tol):
    d = float(np.abs(a - np.asarray(r, np.float64).reshape(-1)).max())
    ok = d <= tol
    rows.append((name, label, "%.2e" % d, "%.2g" % tol, "ok" if ok else "FAIL"))
    if not ok:
        failures.append("logits %s %s: max|d| %.3e > %.0e" % (name, label, d, tol))
    return d


def prompt_ids(name, V):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [1] + rng.integers(3, V, size=127).tolist()


def check_greedy(rows, failures, ll, name, path, ref_path, ids, tol):
    """16 greedy tokens from IDS, attrib generate on PATH vs llama.cpp on
    REF_PATH (PATH itself, or llama.cpp's F32 expansion of it)."""
    try:
        got = attrib_generate(path, ids, 16)
    except Exception as e:
        rows.append((name, "greedy 16", "attrib generate failed", "", "FAIL"))
        failures.append("greedy %s: %s" % (name, e))
        return
    ref = ll(op="generate", model=ref_path, ids=ids, n=16, threads=2)
    verdict = "ok"
    for i, (x, y) in enumerate(zip(got, ref["ids"])):
        if x != y:
            if ref["gap"][i] < tol:
                verdict = "ok (tie at %d, gap %.1e)" % (i, ref["gap"][i])
            else:
                verdict = "FAIL"
                failures.append("greedy %s: step %d attrib %d, llama.cpp %d (llama.cpp top-2 gap "
                                "%.3f)" % (name, i, x, y, ref["gap"][i]))
            break
    if len(got) != 16:
        verdict = "FAIL"
        failures.append("greedy %s: attrib gave %d ids" % (name, len(got)))
    same = 0
    for x, y in zip(got, ref["ids"]):
        if x != y:
            break
        same += 1
    rows.append((name, "greedy 16" + (" vs F32 dequant" if ref_path != path else ""),
                 "%d/16 equal" % same, "%.2g" % tol, verdict))


def check_logits(args, tmp, ll, rows, failures):
    table = {}
    for name, spec, tol in MODELS:
        if args.k not in name:
            continue
        try:
            path = spec if isinstance(spec, str) else H.make_gguf(
                os.path.join(tmp, name + ".gguf"), *spec)
            table[name] = (path, tol)
            V, _, _ = model_header(path)
            long = prompt_ids(name, V)
            short = long[:32]
            # llama.cpp's own expansion of the weights to F32, when they are not
            dq = None
            if not is_all_f32(path):
                dq = ll(op="dequantize", model=path,
                        out=os.path.join(tmp, name + "-dq.gguf"))["out"]
            for label, ids, all_pos in (("all@32", short, True), ("last@128", long, False)):
                a = attrib_logits(tmp, path, ids, "all" if all_pos else "last")
                r = ll(op="logits", model=path, ids=ids, all=all_pos, threads=2)["logits"]
                _compare(rows, failures, name, label, a, r, tol)
                if dq:
                    r = ll(op="logits", model=dq, ids=ids, all=all_pos, threads=2)["logits"]
                    _compare(rows, failures, name, label + " vs F32 dequant", a, r, exact_tol(name))
            # greedy: against llama.cpp in F32 arithmetic where there is a
            # dequantised copy (ties then mean < TOL_EXACT apart)
            check_greedy(rows, failures, ll, name, path, dq or path, short[:8],
                         exact_tol(name) if dq else tol)
        except Exception as e:
            rows.append((name, "ERROR", str(e)[:60], "", "FAIL"))
            failures.append("%s: %s" % (name, e))
    # negative controls: each must exceed the loosest tolerance of the table
    for name, base, kind in NEGATIVE:
        if base not in table:
            continue
        path = table[base][0]
        V, nh, nkv = model_header(path)
        broken = gguf_copy(path, os.path.join(tmp, "broken-%s-%s.gguf" % (base, kind)),
                           edit=break_model(kind, nh, nkv))
        ids = prompt_ids(base, V)[:32]
        try:
            a = attrib_logits(tmp, path, ids, "last")
            r = np.asarray(ll(op="logits", model=broken, ids=ids, threads=2)["logits"])
        except Exception as e:
            rows.append((name, "ERROR", str(e)[:60], "", "FAIL"))
            failures.append("%s: %s" % (name, e))
            continue
        d = float(np.abs(a - r).max())
        tol = max(t for _, _, t in MODELS)
        caught = d > tol
        rows.append((name, "last@32", "%.2e" % d, "%.2g" % tol,
                     "ok (caught)" if caught else "FAIL (not caught)"))
        if not caught:
            failures.append("%s: broken model within tolerance (%.3e <= %.2g)" % (name, d, tol))


def is_all_f32(path):
    with open(path, "rb") as fh:
        buf = fh.read(64 << 20)
    return all(t[2] == 0 for t in _gguf_parse(buf)[1])


def check_tokenize(args, tmp, ll, rows, failures):
    with open(XSTEST, newline="", encoding="utf-8") as fh:
        prompts = [r["prompt"] for r in csv.DictReader(fh)]
    if len(prompts) != 450:
        failures.append("xstest: %d prompts, expected 450" % len(prompts))
    seen = {}  # llama.cpp's XSTest ids per tokenizer file, to show variants differ
    for name, spec, set_kv in TOKENIZERS:
        if args.k not in name:
            continue
        fname = os.path.join(tmp, "tok-%s.gguf" % name.replace(" ", "-"))
        path = spec if isinstance(spec, str) else H.make_gguf(fname, *(TINY + spec))
        base = path
        if set_kv:
            path = gguf_copy(path, fname.replace(".gguf", "-kv.gguf"), set_kv=set_kv)
        try:
            r = ll(op="tokenize", model=path, texts=prompts, add_special=True)["ids"]
            key = base if set_kv else None
            if key in seen:
                # a metadata variant must change llama.cpp's own answer, or
                # the row would only repeat its base row
                n = sum(1 for x, y in zip(r, seen[key]) if x != y)
                ok = n > 0
                rows.append((name, "differs from base file", "%d/450 prompts" % n, "",
                             "ok" if ok else "FAIL"))
                if not ok:
                    failures.append("tokenize %s: llama.cpp ignores %s" % (name, set_kv))
            seen[path] = r
            for label, texts, parse, add in (("xstest 450", prompts, False, True),
                                             ("edge cases", EDGE_TEXTS, False, True),
                                             ("edge cases, parse_special", EDGE_TEXTS, True, True),
                                             ("edge cases, no BOS/EOS", EDGE_TEXTS, False, False)):
                a = attrib_tokenize(tmp, path, texts, parse, add)
                r = ll(op="tokenize", model=path, texts=texts, add_special=add,
                       parse_special=parse)["ids"]
                bad = [i for i in range(len(texts)) if a[i] != r[i]]
                ok = not bad
                rows.append((name, label, "%d/%d equal" % (len(texts) - len(bad), len(texts)), "",
                             "ok" if ok else "FAIL"))
                for i in bad[:3]:
                    failures.append("tokenize %s: %r\n      attrib    %s\n      llama.cpp %s"
                                    % (name, texts[i][:80], a[i], r[i]))
        except Exception as e:
            rows.append((name, "ERROR", str(e)[:60], "", "FAIL"))
            failures.append("%s: %s" % (name, e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="only rows whose name contains this")
    ap.add_argument("--skip-tokenize", action="store_true")
    ap.add_argument("--skip-logits", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    for tool in ("forward_dump", "tokenize_dump"):
        H.require(H.test_tool(tool), "%s (build the tests; set ATTRIB_BUILD)" % tool)
    H.require(H.attrib_bin(), "the attrib CLI (set ATTRIB_BIN)")
    for p in (H.STORIES260K, H.LLAMA2_TINY, XSTEST, SMOL_TOK):
        H.require(p, "shared asset (set ATTRIB_SHARED)")

    t0 = time.time()
    ll = LlamaCpp()
    try:
        info = ll(op="info")
    except RuntimeError as e:
        print("FAIL: the llama.cpp reference is not available: %s" % e)
        sys.exit(1)
    print("llama.cpp %s (%s, release %s), CPU backend %s"
          % (info["llama_version"], info["package"], info["llama_cpp_release"],
             info["cpu_backend"]))
    tmp = tempfile.mkdtemp(prefix="attrib-check-llamacpp-")
    rows, failures = [], []
    try:
        if not args.skip_logits:
            check_logits(args, tmp, ll, rows, failures)
        if not args.skip_tokenize:
            check_tokenize(args, tmp, ll, rows, failures)
    finally:
        ll.close()
    H.print_table(rows, ["case", "what", "result", "tol", ""])
    print("%d comparisons, %.1fs" % (len(rows), time.time() - t0))
    if args.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAILED (%d):" % len(failures))
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("OK: attrib agrees with llama.cpp in every comparison run (logits within each row's "
          "tolerance, greedy token for token, tokenization exactly)")


if __name__ == "__main__":
    main()
