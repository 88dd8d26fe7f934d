#!/usr/bin/python3
"""make_gguf.py: write a GGUF v3 Llama-family model with random weights.

attrib's tests and benchmarks need models of real shapes in every weight
type, but only a few real checkpoints are available.  This tool writes a
complete, valid GGUF file with seeded random weights of any Llama-family
shape, in any of the weight types attrib reads, so that the loader, the
dequantisers and the forward pass can be checked against an independent
reference (tests/py/attrib_ref) on exactly the same bytes.

EXAMPLES
  # a small qwen2-style model (biases, NeoX RoPE) with Q4_K matrices
  make_gguf.py out.gguf --arch qwen2 --n-embd 256 --n-layer 2 --n-head 4 \\
      --n-head-kv 2 --n-ff 512 --n-vocab 512 --dtype q4_k

  # SmolLM2-135M's exact shape from its config.json, Q8_0, with the tokenizer
  # of the same model (converted from tokenizer.json)
  make_gguf.py smol.gguf --config ../shared/models/smollm2-135m-tokenizer/config.json \\
      --dtype q8_0 --tokenizer-from ../shared/models/smollm2-135m-tokenizer/tokenizer.json

  # reuse the SentencePiece vocabulary of an existing GGUF (n_vocab follows it)
  make_gguf.py tiny.gguf --n-embd 64 --n-layer 2 --n-head 4 --n-ff 128 \\
      --tokenizer-from ../shared/models/stories260K/stories260K-f32.gguf --untied

WEIGHTS
  Matrices W (out, in) ~ N(0, 1/in) (each output unit has unit variance for
  unit inputs), the token embedding ~ N(0, (--logit-scale)^2 / n_embd) so that
  tied logits have a standard deviation near --logit-scale, norms ~ 1 + N(0, 0.1^2),
  biases ~ N(0, 0.5^2).  Norms, biases and rope_freqs stay F32; every 2-D
  matrix, the token embedding included (as llama.cpp does), uses --dtype.
  Quantisation follows the ggml block layouts (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: 32
  values per block; Q4_K/Q5_K/Q6_K: 256 values per super-block with 6-bit or
  8-bit sub-block scales).  The encodings are simple, not optimal, but every
  field of each block carries information (Q6_K scales get random signs, Q4_K
  and Q5_K 6-bit scales and mins span the full 0..63 range).

TENSOR SHAPES (GGUF lists ne[0], the contiguous row length, first)
  token_embd.weight [n_embd, n_vocab]     output.weight [n_embd, n_vocab] (--untied)
  blk.N.attn_q.weight [n_embd, n_head*hd] blk.N.attn_k/v.weight [n_embd, n_head_kv*hd]
  blk.N.attn_output.weight [n_head*hd, n_embd]
  blk.N.ffn_gate/up.weight [n_embd, n_ff] blk.N.ffn_down.weight [n_ff, n_embd]
  blk.N.attn_norm/ffn_norm.weight, output_norm.weight [n_embd]
  blk.N.attn_q/k/v.bias (qwen2)           rope_freqs.weight [hd/2] (--rope-freqs)
Row lengths (n_embd, n_ff, n_head*hd) must be multiples of the block size:
32 for the Q*_0/1 types, 256 for the K-quants.

ARCHITECTURES (--arch; names, keys and layouts as llama.cpp's converter
writes them, see /work/notes/arch-facts.md)
  qwen3   llama block + blk.N.attn_q_norm/attn_k_norm.weight [hd] (per-head
          RMSNorm of Q and K before RoPE); attention.key_length = hd
  gemma2  blk.N.post_attention_norm/post_ffw_norm.weight [n_embd] besides
          attn_norm/ffn_norm; tied output; embeddings scaled by sqrt(n_embd)
          in the model; GELU(tanh); attn_logit_softcapping (--attn-softcap,
          default 50), final_logit_softcapping (--final-softcap, default 30),
          attention.sliding_window (--sliding-window, default 4096); even
          layers slide. Norm weights are stored as llama.cpp's converter
          stores them (1 + the Hugging Face weight), here ~ 1 + N(0, 0.1^2).
  gemma3  gemma2's layout plus attn_q_norm/attn_k_norm; no attention
          soft-cap; final soft-cap only with --final-softcap;
          attention.sliding_window is always written (default 512); layers
          l % 6 == 5 are global (RoPE base --rope-theta, default 1e6, with
          --rope-scale linear factor), the others slide (RoPE base 10000).
  phi3    fused blk.N.attn_qkv.weight [n_embd, (n_head+2*n_head_kv)*hd]
          (Q rows, then K, then V; --split-qkv writes attn_q/k/v instead) and
          fused blk.N.ffn_up.weight [n_embd, 2*n_ff] (gate rows, then up
          rows); no ffn_gate; untied by default; --n-rot for partial rotary;
          --longrope writes rope_factors_long/short.weight [n_rot/2] and
          rope.scaling.attn_factor for a context --n-ctx extended from
          --orig-ctx.
  --sliding-window N writes <arch>.attention.sliding_window for any arch
  (llama.cpp itself ignores it for llama and phi3).

PRESETS (--preset; the published config.json shapes; explicit --n-* options
override them, e.g. --n-vocab 512 --n-layer 2 to keep a file small)
  qwen3-0.6b, gemma3-270m, gemma3-1b, gemma2-2b, phi3-mini-4k
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

# ---------------------------------------------------------------------------
# GGUF constants
# ---------------------------------------------------------------------------
GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
V_UINT8, V_INT8, V_UINT16, V_INT16, V_UINT32, V_INT32, V_FLOAT32, V_BOOL, \
    V_STRING, V_ARRAY, V_UINT64, V_INT64, V_FLOAT64 = range(13)
_VFMT = {V_UINT8: "<B", V_INT8: "<b", V_UINT16: "<H", V_INT16: "<h", V_UINT32: "<I",
         V_INT32: "<i", V_FLOAT32: "<f", V_BOOL: "<?", V_UINT64: "<Q", V_INT64: "<q",
         V_FLOAT64: "<d"}

# name -> (ggml type id, block elements, block bytes, llama.cpp general.file_type)
DTYPES = {
    "f32": (0, 1, 4, 0),
    "f16": (1, 1, 2, 1),
    "q4_0": (2, 32, 18, 2),
    "q4_1": (3, 32, 20, 3),
    "q5_0": (6, 32, 22, 8),
    "q5_1": (7, 32, 24, 9),
    "q8_0": (8, 32, 34, 7),
    "q4_k": (12, 256, 144, 15),
    "q5_k": (13, 256, 176, 17),
    "q6_k": (14, 256, 210, 18),
    "bf16": (30, 1, 2, 32),
}
# Q2_K, Q3_K, IQ4_NL, IQ4_XS: encoders in gguf_quants.py (beside this file).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_quants  # noqa: E402
DTYPES.update(gguf_quants.DTYPES)


# ---------------------------------------------------------------------------
# quantisers: x is a float32 array whose size is a multiple of the block
# size; each returns the encoded bytes as a flat uint8 array.
# ---------------------------------------------------------------------------
def _half_bytes(v):
    """float array (n,) -> (n, 2) uint8 of its float16 encoding."""
    return np.ascontiguousarray(v.astype("<f2")).view(np.uint8).reshape(-1, 2)


def _as_f16(v):
    return v.astype(np.float16).astype(np.float32)


def _safe_inv(d):
    out = np.zeros_like(d)
    nz = d != 0
    out[nz] = 1.0 / d[nz]
    return out


def _pack_nibbles32(q):
    """(nb, 32) values 0..15 -> (nb, 16): byte j = q[j] | q[j+16] << 4."""
    q = q.astype(np.uint8)
    return (q[:, :16] & 0x0F) | ((q[:, 16:] & 0x0F) << 4)


def _pack_bits32(bits):
    """(nb, 32) 0/1 -> (nb, 4) bytes of the little-endian u32 with bit j = bits[j]."""
    w = (bits.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(axis=1).astype("<u4")
    return np.ascontiguousarray(w).view(np.uint8).reshape(-1, 4)


def quant_q8_0(x):
    x = x.reshape(-1, 32)
    d = _as_f16(np.abs(x).max(axis=1) / 127.0)
    q = np.clip(np.rint(x * _safe_inv(d)[:, None]), -127, 127).astype(np.int8)
    out = np.empty((x.shape[0], 34), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(-1)


def quant_q4_0(x):
    x = x.reshape(-1, 32)
    d = _as_f16(np.abs(x).max(axis=1) / 7.5)
    q = np.clip(np.rint(x * _safe_inv(d)[:, None]) + 8, 0, 15)
    out = np.empty((x.shape[0], 18), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:] = _pack_nibbles32(q)
    return out.reshape(-1)


def quant_q4_1(x):
    x = x.reshape(-1, 32)
    lo = _as_f16(x.min(axis=1))
    d = _as_f16((x.max(axis=1) - lo) / 15.0)
    q = np.clip(np.rint((x - lo[:, None]) * _safe_inv(d)[:, None]), 0, 15)
    out = np.empty((x.shape[0], 20), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:4] = _half_bytes(lo)
    out[:, 4:] = _pack_nibbles32(q)
    return out.reshape(-1)


def quant_q5_0(x):
    x = x.reshape(-1, 32)
    d = _as_f16(np.abs(x).max(axis=1) / 15.5)
    q = np.clip(np.rint(x * _safe_inv(d)[:, None]) + 16, 0, 31).astype(np.uint8)
    out = np.empty((x.shape[0], 22), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:6] = _pack_bits32(q >> 4)
    out[:, 6:] = _pack_nibbles32(q)
    return out.reshape(-1)


def quant_q5_1(x):
    x = x.reshape(-1, 32)
    lo = _as_f16(x.min(axis=1))
    d = _as_f16((x.max(axis=1) - lo) / 31.0)
    q = np.clip(np.rint((x - lo[:, None]) * _safe_inv(d)[:, None]), 0, 31).astype(np.uint8)
    out = np.empty((x.shape[0], 24), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:4] = _half_bytes(lo)
    out[:, 4:8] = _pack_bits32(q >> 4)
    out[:, 8:] = _pack_nibbles32(q)
    return out.reshape(-1)


def _kquant_scales(x, qmax):
    """x (nb, 8, 32) -> d, dmin (nb,), 6-bit sc, mn (nb, 8), q (nb, 8, 32) in 0..qmax,
    such that x ~ d*sc*q - dmin*mn."""
    lo = np.minimum(x.min(axis=2), 0.0)
    hi = x.max(axis=2)
    sc_f = (hi - lo) / qmax
    mn_f = -lo
    d = _as_f16(sc_f.max(axis=1) / 63.0)
    dmin = _as_f16(mn_f.max(axis=1) / 63.0)
    sc = np.clip(np.rint(sc_f * _safe_inv(d)[:, None]), 0, 63)
    mn = np.clip(np.rint(mn_f * _safe_inv(dmin)[:, None]), 0, 63)
    step = d[:, None] * sc
    off = dmin[:, None] * mn
    q = np.clip(np.rint((x + off[:, :, None]) * _safe_inv(step)[:, :, None]), 0, qmax)
    return d, dmin, sc.astype(np.uint8), mn.astype(np.uint8), q.astype(np.uint8)


def _pack_kscales(sc, mn):
    """6-bit scales and mins (nb, 8) -> the 12-byte packed form of Q4_K/Q5_K."""
    out = np.empty((sc.shape[0], 12), np.uint8)
    out[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    out[:, 4:8] = (mn[:, 0:4] & 63) | ((mn[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:8] & 0x0F) | ((mn[:, 4:8] & 0x0F) << 4)
    return out


def quant_q4_k(x):
    x = x.reshape(-1, 8, 32)
    nb = x.shape[0]
    d, dmin, sc, mn, q = _kquant_scales(x, 15)
    out = np.empty((nb, 144), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:4] = _half_bytes(dmin)
    out[:, 4:16] = _pack_kscales(sc, mn)
    # 64-value chunk c: byte l holds sub-block 2c (low nibble) and 2c+1 (high)
    qc = q.reshape(nb, 4, 2, 32)
    out[:, 16:] = (qc[:, :, 0] | (qc[:, :, 1] << 4)).reshape(nb, 128)
    return out.reshape(-1)


def quant_q5_k(x):
    x = x.reshape(-1, 8, 32)
    nb = x.shape[0]
    d, dmin, sc, mn, q = _kquant_scales(x, 31)
    out = np.empty((nb, 176), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:4] = _half_bytes(dmin)
    out[:, 4:16] = _pack_kscales(sc, mn)
    # high bit of sub-block s, value l is bit s of qh[l]
    hb = (q >> 4).astype(np.uint16)
    qh = (hb << np.arange(8, dtype=np.uint16)[None, :, None]).sum(axis=1)
    out[:, 16:48] = qh.astype(np.uint8)
    lo = (q & 0x0F).reshape(nb, 4, 2, 32)
    out[:, 48:] = (lo[:, :, 0] | (lo[:, :, 1] << 4)).reshape(nb, 128)
    return out.reshape(-1)


_Q6K_RNG = np.random.default_rng(0x6B)


def quant_q6_k(x):
    x = x.reshape(-1, 16, 16)
    nb = x.shape[0]
    sign = np.where(_Q6K_RNG.random((nb, 16)) < 0.5, -1.0, 1.0).astype(np.float32)
    sc_f = sign * np.abs(x).max(axis=2) / 31.5
    d = _as_f16(np.abs(sc_f).max(axis=1) / 127.0)
    sc = np.clip(np.rint(sc_f * _safe_inv(d)[:, None]), -127, 127)
    step = d[:, None] * sc
    q = (np.clip(np.rint(x * _safe_inv(step)[:, :, None]), -32, 31) + 32).astype(np.uint8)
    q = q.reshape(nb, 2, 4, 32)          # [half, quarter, l]: value 128*h + 32*k + l
    ql = np.empty((nb, 2, 64), np.uint8)
    ql[:, :, 0:32] = (q[:, :, 0] & 0x0F) | ((q[:, :, 2] & 0x0F) << 4)
    ql[:, :, 32:64] = (q[:, :, 1] & 0x0F) | ((q[:, :, 3] & 0x0F) << 4)
    qh = ((q[:, :, 0] >> 4) | ((q[:, :, 1] >> 4) << 2) | ((q[:, :, 2] >> 4) << 4)
          | ((q[:, :, 3] >> 4) << 6))
    out = np.empty((nb, 210), np.uint8)
    out[:, 0:128] = ql.reshape(nb, 128)
    out[:, 128:192] = qh.reshape(nb, 64)
    out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
    out[:, 208:210] = _half_bytes(d)
    return out.reshape(-1)


def encode(x, dtype):
    """float32 array -> raw bytes (uint8 array) in DTYPE, processed in chunks."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if dtype == "f32":
        return x.astype("<f4").view(np.uint8)
    if dtype == "f16":
        return x.astype("<f2").view(np.uint8)
    if dtype == "bf16":
        u = x.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16          # round to nearest even
        return u.astype("<u2").view(np.uint8)
    fn = gguf_quants.QUANTISERS.get(dtype) or globals()["quant_" + dtype]
    blk = DTYPES[dtype][1]
    chunk = blk * 65536
    return np.concatenate([fn(x[i:i + chunk]) for i in range(0, x.size, chunk)])


# ---------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------
def _s(text):
    b = text.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value, etype=None):
    """Encodes one metadata pair."""
    out = _s(key) + struct.pack("<I", vtype)
    if vtype == V_STRING:
        return out + _s(value)
    if vtype == V_ARRAY:
        out += struct.pack("<IQ", etype, len(value))
        if etype == V_STRING:
            return out + b"".join(_s(v) for v in value)
        return out + np.asarray(value, dtype=np.dtype(_VFMT[etype][1:]).newbyteorder("<")).tobytes()
    return out + struct.pack(_VFMT[vtype], value)


def copy_gguf_tokenizer(path):
    """Returns ({key: raw bytes of the whole pair}, n_tokens) for the tokenizer.*
    keys of an existing GGUF file (types preserved byte for byte)."""
    with open(path, "rb") as fh:
        buf = fh.read()
    if buf[:4] != GGUF_MAGIC:
        sys.exit("make_gguf: %s is not a GGUF file" % path)
    (version,) = struct.unpack_from("<I", buf, 4)
    if version not in (2, 3):
        sys.exit("make_gguf: %s: GGUF version %d not supported" % (path, version))
    _, n_kv = struct.unpack_from("<QQ", buf, 8)
    pos = 24

    def rd(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def skip_value(t):
        nonlocal pos
        if t in _VFMT:
            pos += struct.calcsize(_VFMT[t])
        elif t == V_STRING:
            n = rd("<Q")
            pos += n
        elif t == V_ARRAY:
            et = rd("<I")
            n = rd("<Q")
            if et in _VFMT:
                pos += n * struct.calcsize(_VFMT[et])
            else:
                for _ in range(n):
                    skip_value(et)
        else:
            sys.exit("make_gguf: %s: unknown value type %d" % (path, t))

    pairs, n_tokens = {}, None
    for _ in range(n_kv):
        start = pos
        klen = rd("<Q")
        key = buf[pos:pos + klen].decode("utf-8")
        pos += klen
        t = rd("<I")
        if key == "tokenizer.ggml.tokens":
            n_tokens = struct.unpack_from("<Q", buf, pos + 4)[0]
        skip_value(t)
        if key.startswith("tokenizer."):
            pairs[key] = buf[start:pos]
    return pairs, n_tokens


def hf_tokenizer_metadata(path, pre):
    """Converts a Hugging Face tokenizer.json with a BPE model to GGUF tokenizer
    metadata ("gpt2" byte-level or "llama" SentencePiece-style vocabularies).
    Returns ({key: encoded pair}, n_tokens)."""
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    with open(path, encoding="utf-8") as fh:
        tj = json.load(fh)
    model = tj["model"]
    if model.get("type") != "BPE":
        sys.exit("make_gguf: %s: only BPE tokenizer.json files can be converted" % path)
    vocab = dict(model["vocab"])
    special = set()
    for t in tj.get("added_tokens", []):
        vocab[t["content"]] = t["id"]
        if t.get("special"):
            special.add(t["id"])
    n = max(vocab.values()) + 1
    tokens = ["[PAD%d]" % i for i in range(n)]
    types = [5] * n  # unused unless present
    for tok, i in vocab.items():
        tokens[i] = tok
        types[i] = 3 if i in special else 1
    byte_level = "ByteLevel" in json.dumps(tj.get("pre_tokenizer")) or \
        "ByteLevel" in json.dumps(tj.get("decoder"))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    out = {}
    out["tokenizer.ggml.model"] = kv("tokenizer.ggml.model", V_STRING, "gpt2" if byte_level else "llama")
    if byte_level:
        out["tokenizer.ggml.pre"] = kv("tokenizer.ggml.pre", V_STRING, pre)
    else:
        for i, tok in enumerate(tokens):
            if len(tok) == 6 and tok.startswith("<0x") and tok.endswith(">"):
                types[i] = 6
    out["tokenizer.ggml.tokens"] = kv("tokenizer.ggml.tokens", V_ARRAY, tokens, V_STRING)
    out["tokenizer.ggml.token_type"] = kv("tokenizer.ggml.token_type", V_ARRAY, types, V_INT32)
    if merges:
        out["tokenizer.ggml.merges"] = kv("tokenizer.ggml.merges", V_ARRAY, merges, V_STRING)
    cfg_path = os.path.join(os.path.dirname(path), "config.json")
    cfg = {}
    if os.path.exists(cfg_path):
        with open(cfg_path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    for name, k in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("padding", "pad_token_id")):
        if isinstance(cfg.get(k), int):
            key = "tokenizer.ggml.%s_token_id" % name
            out[key] = kv(key, V_UINT32, cfg[k])
    return out, n


def llama3_factors(head_dim, base, factor, low, high, orig_ctx):
    """Llama 3 RoPE frequency divisors (the values of rope_freqs.weight)."""
    out = np.empty(head_dim // 2, np.float32)
    for i in range(head_dim // 2):
        wavelen = 2.0 * np.pi / (base ** (-2.0 * i / head_dim))
        if wavelen < orig_ctx / high:
            out[i] = 1.0
        elif wavelen > orig_ctx / low:
            out[i] = factor
        else:
            smooth = (orig_ctx / wavelen - low) / (high - low)
            out[i] = 1.0 / ((1.0 - smooth) / factor + smooth)
    return out


# The published config.json values of real models (the fields this tool reads).
PRESETS = {
    "qwen3-0.6b": ("qwen3", dict(
        hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
        head_dim=128, intermediate_size=3072, vocab_size=151936, max_position_embeddings=40960,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True)),
    "gemma3-270m": ("gemma3", dict(
        hidden_size=640, num_hidden_layers=18, num_attention_heads=4, num_key_value_heads=1,
        head_dim=256, intermediate_size=2048, vocab_size=262144, max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, sliding_window=512, tie_word_embeddings=True)),
    "gemma3-1b": ("gemma3", dict(
        hidden_size=1152, num_hidden_layers=26, num_attention_heads=4, num_key_value_heads=1,
        head_dim=256, intermediate_size=6912, vocab_size=262144, max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, sliding_window=512, tie_word_embeddings=True)),
    "gemma2-2b": ("gemma2", dict(
        hidden_size=2304, num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4,
        head_dim=256, intermediate_size=9216, vocab_size=256000, max_position_embeddings=8192,
        rms_norm_eps=1e-6, rope_theta=10000.0, sliding_window=4096, attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0, tie_word_embeddings=True)),
    "phi3-mini-4k": ("phi3", dict(
        hidden_size=3072, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
        intermediate_size=8192, vocab_size=32064, max_position_embeddings=4096,
        original_max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
        sliding_window=2047, tie_word_embeddings=False)),
}

# Per-arch defaults where llama.cpp's converter or the model family differs from llama.
ARCH_DEFAULTS = {
    "gemma2": dict(sliding_window=4096, attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                   rms_norm_eps=1e-6),
    "gemma3": dict(sliding_window=512, rope_theta=1000000.0, rms_norm_eps=1e-6),
    "qwen3": dict(rms_norm_eps=1e-6, rope_theta=1000000.0),
    "phi3": dict(sliding_window=0),
}


def ensure_tokens(pairs, texts):
    """llama.cpp's vocabulary loader looks up phi3's "<|end|>" and "<|endoftext|>" by text
    and refuses a phi3 file without them: writes TEXTS over the last tokens of the
    tokenizer.ggml.tokens pair when the vocabulary lacks them (the ids stay valid)."""
    raw = pairs.get("tokenizer.ggml.tokens")
    if raw is None:
        return
    (klen,) = struct.unpack_from("<Q", raw, 0)
    pos = 8 + klen + 8                      # key, value type, element type
    (cnt,) = struct.unpack_from("<Q", raw, pos)
    pos += 8
    toks = []
    for _ in range(cnt):
        (n,) = struct.unpack_from("<Q", raw, pos)
        toks.append(raw[pos + 8:pos + 8 + n].decode("utf-8"))
        pos += 8 + n
    missing = [t for t in texts if t not in toks]
    for i, t in enumerate(missing):
        toks[cnt - 1 - i] = t
    if missing:
        pairs["tokenizer.ggml.tokens"] = kv("tokenizer.ggml.tokens", V_ARRAY, toks, V_STRING)


def longrope_factors(n):
    """Deterministic Phi-3 style frequency divisors: short near 1, long growing to ~30
    on the low-frequency pairs (the real ones have this shape)."""
    t = np.arange(n, dtype=np.float64) / max(n - 1, 1)
    short = 1.0 + 0.25 * t ** 2
    long_ = 1.0 + 29.0 * t ** 3
    return short.astype(np.float32), long_.astype(np.float32)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="make_gguf.py", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", help="GGUF file to write")
    p.add_argument("--arch", choices=["llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"], default=None,
                   help="llama (default): adjacent-pair RoPE, no biases; qwen2: rotate-half RoPE, Q/K/V "
                        "biases; qwen3, gemma2, gemma3, phi3: see ARCHITECTURES")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="arch and shape of a real model (see PRESETS); explicit options override it")
    p.add_argument("--config", help="Hugging Face config.json giving the shape (explicit --n-* override it)")
    p.add_argument("--head-dim", type=int, help="per-head width (head_dim); default n_embd / n_head")
    p.add_argument("--n-rot", type=int, help="rotated dimensions per head (rope.dimension_count); default head_dim")
    p.add_argument("--sliding-window", type=int,
                   help="attention.sliding_window (gemma2 default 4096, gemma3 512; other archs: written only if given)")
    p.add_argument("--attn-softcap", type=float, help="gemma2 attn_logit_softcapping (default 50)")
    p.add_argument("--final-softcap", type=float,
                   help="final_logit_softcapping (gemma2 default 30; gemma3 written only if given)")
    p.add_argument("--rope-scale", type=float,
                   help="linear RoPE scaling factor (rope.scaling.type linear; gemma3: global layers only)")
    p.add_argument("--split-qkv", action="store_true", help="phi3: separate attn_q/k/v instead of attn_qkv")
    p.add_argument("--longrope", action="store_true",
                   help="phi3: write rope_factors_long/short and rope.scaling.attn_factor")
    p.add_argument("--orig-ctx", type=int,
                   help="phi3 rope.scaling.original_context_length (default: n_ctx, or n_ctx/32 with --longrope)")
    p.add_argument("--n-embd", type=int, help="model width C (hidden_size)")
    p.add_argument("--n-layer", type=int, help="blocks (num_hidden_layers)")
    p.add_argument("--n-head", type=int, help="query heads (num_attention_heads)")
    p.add_argument("--n-head-kv", type=int, help="key/value heads (num_key_value_heads); default n-head")
    p.add_argument("--n-ff", type=int, help="FFN width (intermediate_size)")
    p.add_argument("--n-vocab", type=int, help="vocabulary size; default: the tokenizer's, else 512")
    p.add_argument("--n-ctx", type=int, help="context_length (max_position_embeddings); default 2048")
    p.add_argument("--rms-eps", type=float, help="RMSNorm epsilon (rms_norm_eps); default 1e-5")
    p.add_argument("--rope-theta", type=float, help="RoPE base (rope_theta); default 10000")
    p.add_argument("--dtype", choices=list(DTYPES), default="f32",
                   help="type of every 2-D matrix (norms, biases, rope_freqs stay f32)")
    p.add_argument("--embd-dtype", choices=list(DTYPES),
                   help="type of token_embd.weight (default: --dtype)")
    tie = p.add_mutually_exclusive_group()
    tie.add_argument("--untied", action="store_true", help="write a separate output.weight")
    tie.add_argument("--tied", action="store_true", help="no output.weight (the default, unless --config says otherwise)")
    p.add_argument("--rope-freqs", action="store_true",
                   help="write rope_freqs.weight with Llama 3 style frequency divisors")
    p.add_argument("--rope-factor", type=float, default=8.0, help="Llama 3 scaling factor (default 8)")
    p.add_argument("--rope-low-freq-factor", type=float, default=1.0)
    p.add_argument("--rope-high-freq-factor", type=float, default=4.0)
    p.add_argument("--rope-orig-ctx", type=float, default=8192.0,
                   help="Llama 3 original_max_position_embeddings (small values change more dimensions)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--logit-scale", type=float, default=3.0,
                   help="approximate standard deviation of the logits (default 3)")
    p.add_argument("--tokenizer-from",
                   help="copy tokenizer.* metadata from this GGUF, or convert this tokenizer.json (BPE)")
    p.add_argument("--tokenizer-pre", default="default",
                   help="tokenizer.ggml.pre written for a converted byte-level tokenizer.json")
    p.add_argument("--name", default=None, help="general.name (default: derived from the options)")
    p.add_argument("--chat-template", default=None, metavar="FILE",
                   help="tokenizer.chat_template: the Jinja text of FILE (e.g. tests/fixtures/chat_templates/*)")
    p.add_argument("--alignment", type=int, default=32,
                   help="general.alignment: tensor data alignment in bytes, a power of two (default 32)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    cfg = {}
    arch = a.arch
    if a.preset:
        p_arch, p_cfg = PRESETS[a.preset]
        if arch is not None and arch != p_arch:
            sys.exit("make_gguf: --preset %s is arch %s, not %s" % (a.preset, p_arch, arch))
        arch = p_arch
        cfg.update(p_cfg)
    if a.config:
        with open(a.config, encoding="utf-8") as fh:
            c = json.load(fh)
        c = c.get("text_config") or c             # multimodal Gemma 3 nests the text model
        cfg.update(c)
        if arch is None:
            arch = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma2": "gemma2",
                    "gemma3_text": "gemma3", "gemma3": "gemma3", "phi3": "phi3"}.get(c.get("model_type"))
    if arch is None:
        arch = "llama"
    for k, v in ARCH_DEFAULTS.get(arch, {}).items():
        cfg.setdefault(k, v)

    def pick(val, key, default):
        if val is not None:
            return val
        if key in cfg and cfg[key] is not None:
            return cfg[key]
        if default is None:
            sys.exit("make_gguf: give --%s or a --config with %s" % (key, key))
        return default

    tok_pairs, tok_n = {}, None
    if a.tokenizer_from:
        if a.tokenizer_from.endswith(".gguf"):
            tok_pairs, tok_n = copy_gguf_tokenizer(a.tokenizer_from)
        else:
            tok_pairs, tok_n = hf_tokenizer_metadata(a.tokenizer_from, a.tokenizer_pre)

    C = int(pick(a.n_embd, "hidden_size", None))
    n_layer = int(pick(a.n_layer, "num_hidden_layers", None))
    n_head = int(pick(a.n_head, "num_attention_heads", None))
    n_head_kv = int(pick(a.n_head_kv, "num_key_value_heads", n_head))
    n_ff = int(pick(a.n_ff, "intermediate_size", None))
    n_vocab = int(pick(a.n_vocab, "vocab_size", tok_n if tok_n else 512))
    n_ctx = int(pick(a.n_ctx, "max_position_embeddings", 2048))
    eps = float(pick(a.rms_eps, "rms_norm_eps", 1e-5))
    theta = float(pick(a.rope_theta, "rope_theta", 10000.0))
    untied = a.untied or (not a.tied and cfg.get("tie_word_embeddings") is False)
    if tok_n is not None and tok_n != n_vocab:
        sys.exit("make_gguf: the tokenizer has %d tokens but n_vocab is %d" % (tok_n, n_vocab))
    if n_head % n_head_kv:
        sys.exit("make_gguf: n_head must be a multiple of n_head_kv")
    if a.head_dim is None and cfg.get("head_dim") is None and C % n_head:
        sys.exit("make_gguf: n_embd must be a multiple of n_head (or give --head-dim)")
    hd = int(pick(a.head_dim, "head_dim", C // n_head))
    if hd % 2:
        sys.exit("make_gguf: head dimension must be even")
    default_rot = hd
    if cfg.get("partial_rotary_factor") is not None:      # phi3's converter: int(factor * C) // n_head
        default_rot = int(float(cfg["partial_rotary_factor"]) * C) // n_head
    n_rot = int(a.n_rot if a.n_rot is not None else default_rot)
    if n_rot % 2 or not 0 < n_rot <= hd:
        sys.exit("make_gguf: --n-rot must be even and in 1..head_dim")
    if arch in ("llama", "qwen2", "qwen3", "gemma2", "gemma3") and n_rot != hd:
        sys.exit("make_gguf: partial rotary (--n-rot) is only written for phi3")
    swa = pick(a.sliding_window, "sliding_window", 0) or 0
    attn_cap = float(pick(a.attn_softcap, "attn_logit_softcapping", 0.0) or 0.0)
    final_cap = float(pick(a.final_softcap, "final_logit_softcapping", 0.0) or 0.0)
    rope_scale = a.rope_scale
    if rope_scale is None and isinstance(cfg.get("rope_scaling"), dict) and \
            cfg["rope_scaling"].get("rope_type", cfg["rope_scaling"].get("type")) == "linear":
        rope_scale = float(cfg["rope_scaling"]["factor"])
    gemma = arch in ("gemma2", "gemma3")
    if arch == "phi3":
        ensure_tokens(tok_pairs, ["<|endoftext|>", "<|end|>"])
    if gemma and untied:
        sys.exit("make_gguf: gemma models have no output.weight (tied to token_embd)")
    if arch == "phi3" and not a.tied and "tie_word_embeddings" not in cfg:
        untied = True
    if (a.split_qkv or a.longrope or a.orig_ctx) and arch != "phi3":
        sys.exit("make_gguf: --split-qkv, --longrope and --orig-ctx are phi3 options")
    orig_ctx = a.orig_ctx or cfg.get("original_max_position_embeddings") or \
        (max(n_ctx // 32, 1) if a.longrope else n_ctx)
    if a.longrope and orig_ctx >= n_ctx:
        sys.exit("make_gguf: --longrope needs --n-ctx larger than --orig-ctx")
    if a.alignment <= 0 or a.alignment & (a.alignment - 1):
        sys.exit("make_gguf: --alignment must be a power of two")
    embd_dtype = a.embd_dtype or a.dtype
    for dt, rows in ((a.dtype, (C, n_ff, n_head * hd)), (embd_dtype, (C,))):
        blk = DTYPES[dt][1]
        for r in rows:
            if r % blk:
                sys.exit("make_gguf: %s needs row lengths that are multiples of %d (got %d)" % (dt, blk, r))

    rng = np.random.default_rng(a.seed)
    global _Q6K_RNG
    _Q6K_RNG = np.random.default_rng(a.seed + 0x6B)  # Q6_K scale signs follow --seed too
    name = a.name or "random-%s-%s-C%d-L%d" % (arch, a.dtype, C, n_layer)

    # tensors: (name, dims, dtype, generator)
    def mat(out_dim, in_dim, std=None):
        s = (1.0 / np.sqrt(in_dim)) if std is None else std
        return lambda: rng.standard_normal((out_dim, in_dim), dtype=np.float32) * np.float32(s)

    def vec(n, mean, std):
        return lambda: (np.float32(mean) + rng.standard_normal(n, dtype=np.float32) * np.float32(std))

    embd_std = a.logit_scale / np.sqrt(C)
    tensors = [("token_embd.weight", [C, n_vocab], embd_dtype, mat(n_vocab, C, embd_std))]
    n_qkv = (n_head + 2 * n_head_kv) * hd
    for i in range(n_layer):
        p = "blk.%d." % i
        tensors.append((p + "attn_norm.weight", [C], "f32", vec(C, 1.0, 0.1)))
        if arch == "phi3" and not a.split_qkv:
            tensors.append((p + "attn_qkv.weight", [C, n_qkv], a.dtype, mat(n_qkv, C)))
        else:
            tensors += [
                (p + "attn_q.weight", [C, n_head * hd], a.dtype, mat(n_head * hd, C)),
                (p + "attn_k.weight", [C, n_head_kv * hd], a.dtype, mat(n_head_kv * hd, C)),
                (p + "attn_v.weight", [C, n_head_kv * hd], a.dtype, mat(n_head_kv * hd, C)),
            ]
        if arch == "qwen2":
            tensors += [
                (p + "attn_q.bias", [n_head * hd], "f32", vec(n_head * hd, 0.0, 0.5)),
                (p + "attn_k.bias", [n_head_kv * hd], "f32", vec(n_head_kv * hd, 0.0, 0.5)),
                (p + "attn_v.bias", [n_head_kv * hd], "f32", vec(n_head_kv * hd, 0.0, 0.5)),
            ]
        tensors.append((p + "attn_output.weight", [n_head * hd, C], a.dtype, mat(C, n_head * hd)))
        if arch in ("qwen3", "gemma3"):
            tensors += [
                (p + "attn_q_norm.weight", [hd], "f32", vec(hd, 1.0, 0.1)),
                (p + "attn_k_norm.weight", [hd], "f32", vec(hd, 1.0, 0.1)),
            ]
        if gemma:
            tensors.append((p + "post_attention_norm.weight", [C], "f32", vec(C, 1.0, 0.1)))
        tensors.append((p + "ffn_norm.weight", [C], "f32", vec(C, 1.0, 0.1)))
        if arch == "phi3":   # fused: gate rows first, then up rows (llama.cpp's swiglu split)
            tensors.append((p + "ffn_up.weight", [C, 2 * n_ff], a.dtype, mat(2 * n_ff, C)))
        else:
            tensors += [
                (p + "ffn_gate.weight", [C, n_ff], a.dtype, mat(n_ff, C)),
                (p + "ffn_up.weight", [C, n_ff], a.dtype, mat(n_ff, C)),
            ]
        tensors.append((p + "ffn_down.weight", [n_ff, C], a.dtype, mat(C, n_ff)))
        if gemma:
            tensors.append((p + "post_ffw_norm.weight", [C], "f32", vec(C, 1.0, 0.1)))
    tensors.append(("output_norm.weight", [C], "f32", vec(C, 1.0, 0.1)))
    if untied:
        tensors.append(("output.weight", [C, n_vocab], a.dtype, mat(n_vocab, C, embd_std)))
    if a.rope_freqs:
        f = llama3_factors(hd, theta, a.rope_factor, a.rope_low_freq_factor,
                           a.rope_high_freq_factor, a.rope_orig_ctx)
        tensors.append(("rope_freqs.weight", [hd // 2], "f32", lambda f=f: f))
    attn_factor = None
    if a.longrope:
        short, long_ = longrope_factors(n_rot // 2)
        tensors.append(("rope_factors_long.weight", [n_rot // 2], "f32", lambda f=long_: f))
        tensors.append(("rope_factors_short.weight", [n_rot // 2], "f32", lambda f=short: f))
        scale = n_ctx / orig_ctx        # the converter's long-rope attention factor
        attn_factor = float(np.sqrt(1.0 + np.log(scale) / np.log(orig_ctx))) if scale > 1.0 else 1.0

    # metadata
    meta = [
        kv("general.architecture", V_STRING, arch),
        kv("general.name", V_STRING, name),
        kv("general.file_type", V_UINT32, DTYPES[a.dtype][3]),
    ]
    if a.alignment != 32:
        meta.append(kv("general.alignment", V_UINT32, a.alignment))
    meta += [
        kv(arch + ".context_length", V_UINT32, n_ctx),
        kv(arch + ".embedding_length", V_UINT32, C),
        kv(arch + ".block_count", V_UINT32, n_layer),
        kv(arch + ".feed_forward_length", V_UINT32, n_ff),
        kv(arch + ".attention.head_count", V_UINT32, n_head),
        kv(arch + ".attention.head_count_kv", V_UINT32, n_head_kv),
        kv(arch + ".attention.layer_norm_rms_epsilon", V_FLOAT32, eps),
        kv(arch + ".rope.freq_base", V_FLOAT32, theta),
        kv(arch + ".rope.dimension_count", V_UINT32, n_rot),
        kv(arch + ".vocab_size", V_UINT32, n_vocab),
    ]
    if arch in ("qwen3", "gemma2", "gemma3") or hd * n_head != C:
        meta += [kv(arch + ".attention.key_length", V_UINT32, hd),
                 kv(arch + ".attention.value_length", V_UINT32, hd)]
    if swa or arch in ("gemma2", "gemma3", "phi3"):
        meta.append(kv(arch + ".attention.sliding_window", V_UINT32, int(swa)))
    if arch == "gemma2":
        meta.append(kv(arch + ".attn_logit_softcapping", V_FLOAT32, attn_cap))
    elif attn_cap:
        sys.exit("make_gguf: --attn-softcap is a gemma2 option")
    if final_cap and arch in ("gemma2", "gemma3"):
        meta.append(kv(arch + ".final_logit_softcapping", V_FLOAT32, final_cap))
    elif final_cap:
        sys.exit("make_gguf: --final-softcap is a gemma option")
    if rope_scale:
        meta += [kv(arch + ".rope.scaling.type", V_STRING, "linear"),
                 kv(arch + ".rope.scaling.factor", V_FLOAT32, rope_scale)]
    if arch == "phi3":
        meta.append(kv(arch + ".rope.scaling.original_context_length", V_UINT32, int(orig_ctx)))
        if attn_factor is not None:
            meta.append(kv(arch + ".rope.scaling.attn_factor", V_FLOAT32, attn_factor))
    meta += list(tok_pairs.values())
    if a.chat_template:
        with open(a.chat_template, encoding="utf-8") as f:
            meta.append(kv("tokenizer.chat_template", V_STRING, f.read()))

    # tensor infos with aligned offsets
    align = a.alignment
    infos, offset, sizes = [], 0, []
    for tname, dims, dt, _ in tensors:
        n = int(np.prod(dims))
        tid, blk, bsz, _ = DTYPES[dt]
        nbytes = n // blk * bsz
        offset = (offset + align - 1) // align * align
        infos.append(_s(tname) + struct.pack("<I", len(dims)) +
                     b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", tid, offset))
        sizes.append((offset, nbytes))
        offset += nbytes

    t0 = time.time()
    tmp = a.output + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(meta)))
        for m in meta:
            fh.write(m)
        for info in infos:
            fh.write(info)
        pos = fh.tell()
        data_start = (pos + align - 1) // align * align
        fh.write(b"\0" * (data_start - pos))
        for (tname, dims, dt, gen), (off, nbytes) in zip(tensors, sizes):
            cur = fh.tell() - data_start
            fh.write(b"\0" * (off - cur))
            raw = encode(gen(), dt)
            assert raw.size == nbytes, (tname, raw.size, nbytes)
            fh.write(raw.tobytes())
        # pad the data section to the alignment (as llama.cpp does)
        cur = fh.tell() - data_start
        fh.write(b"\0" * ((cur + align - 1) // align * align - cur))
    os.replace(tmp, a.output)
    if not a.quiet:
        n_params = sum(int(np.prod(d)) for _, d, _, _ in tensors)
        print("make_gguf: wrote %s: %s C=%d L=%d heads=%d/%d ff=%d vocab=%d %s%s%s, %d tensors, "
              "%.1fM params, %.1f MB, %.1fs" % (
                  a.output, arch, C, n_layer, n_head, n_head_kv, n_ff, n_vocab, a.dtype,
                  " untied" if untied else " tied",
                  (" rope_freqs" if a.rope_freqs else "") + (" swa=%d" % swa if swa else ""),
                  len(tensors), n_params / 1e6, os.path.getsize(a.output) / 1e6, time.time() - t0))


if __name__ == "__main__":
    main()
