"""gguf_quants.py: float -> ggml block encoders for Q2_K, Q3_K, IQ4_NL, IQ4_XS.

tools/make_gguf.py writes random-weight models in every weight type attrib
reads; the encoders of the older types live there, these four here (imported
by make_gguf.py, which adds DTYPES to its own table and looks encoders up in
QUANTISERS).  Each encoder takes a float32 array whose size is a multiple of
the block size and returns the encoded bytes as a flat uint8 array.

The encodings are valid, not optimal: one pass of "pick the scale from the
block's range, round every value to the nearest level", without ggml's
iterative scale search.  They only have to be blocks that llama.cpp and
attrib decode identically, with every field carrying information (scales
and minimums vary per sub-block, Q3_K and IQ4_XS scales take both signs),
so that a mistake in any part of a decoder changes the result.

Block layouts (ggml, little-endian, fp16 scales):
  Q2_K   256 values, 84 bytes: scales[16] (4-bit scale | 4-bit min << 4 per
         16-value sub-block), qs[64] (2-bit), d, dmin;
         value = d*scale*q - dmin*min.
  Q3_K   256 values, 110 bytes: hmask[32], qs[64] (low 2 bits), scales[12]
         (sixteen 6-bit scales stored with a bias of 32), d;
         q = low 2 bits, minus 4 when the high bit is clear; value = d*(sc-32)*q.
  IQ4_NL 32 values, 18 bytes: d, qs[16] (4-bit indices into IQ4_LEVELS).
  IQ4_XS 256 values, 136 bytes: d, scales_h (u16: top 2 bits of eight 6-bit
         scales), scales_l[4] (their low 4 bits), qs[128];
         value = d*(sc-32)*IQ4_LEVELS[index].
In Q2_K/Q3_K value 128*h + 32*j + l (h < 2, j < 4, l < 32) keeps its 2-bit
part in bits 2j..2j+1 of qs[32*h + l] and its Q3_K high bit in bit 4*h + j
of hmask[l].  In IQ4_NL/IQ4_XS each 32-value group is 16 bytes whose low
nibbles are values 0..15 and high nibbles values 16..31.
"""
import numpy as np

# name -> (ggml type id, block elements, block bytes, llama.cpp general.file_type)
# (file types: LLAMA_FTYPE_MOSTLY_Q2_K, _Q3_K_S, _IQ4_NL, _IQ4_XS)
DTYPES = {
    "q2_k": (10, 256, 84, 10),
    "q3_k": (11, 256, 110, 11),
    "iq4_nl": (20, 32, 18, 25),
    "iq4_xs": (23, 256, 136, 30),
}

# ggml's kvalues_iq4nl: the 16 non-uniform levels of IQ4_NL and IQ4_XS.
IQ4_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10,
                       1, 13, 25, 38, 53, 69, 89, 113], dtype=np.float32)


def _half_bytes(v):
    """float array (n,) -> (n, 2) uint8 of its float16 encoding."""
    return np.ascontiguousarray(v.astype("<f2")).view(np.uint8).reshape(-1, 2)


def _as_f16(v):
    return v.astype(np.float16).astype(np.float32)


def _safe_inv(d):
    out = np.zeros_like(d, dtype=np.float32)
    nz = d != 0
    out[nz] = 1.0 / d[nz]
    return out


def _extreme(x, axis):
    """The element of largest magnitude along AXIS, with its sign."""
    i = np.abs(x).argmax(axis=axis)
    return np.take_along_axis(x, np.expand_dims(i, axis), axis).squeeze(axis)


def _pack_2bit(v):
    """(nb, 256) values 0..3 -> (nb, 64): value 128h+32j+l in bits 2j of byte 32h+l."""
    v = v.reshape(-1, 2, 4, 32).astype(np.uint8)
    out = v[:, :, 0] | (v[:, :, 1] << 2) | (v[:, :, 2] << 4) | (v[:, :, 3] << 6)
    return out.reshape(-1, 64)


def _pack_nibbles(idx):
    """(nb, g, 32) indices 0..15 -> (nb, g*16): byte j = idx[j] | idx[j+16] << 4."""
    idx = idx.astype(np.uint8)
    out = (idx[..., :16] & 0x0F) | ((idx[..., 16:] & 0x0F) << 4)
    return out.reshape(idx.shape[0], -1)


def _nearest_level(y):
    """Index of the IQ4 level nearest to each element of Y."""
    return np.abs(y[..., None] - IQ4_LEVELS).argmin(axis=-1).astype(np.uint8)


def quant_q2_k(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, 16, 16)
    nb = x.shape[0]
    lo = np.minimum(x.min(axis=2), 0.0)            # value 0 of each sub-block: -min
    sc_f = (x.max(axis=2) - lo) / 3.0               # three steps span the range
    mn_f = -lo
    d = _as_f16(sc_f.max(axis=1) / 15.0)
    dmin = _as_f16(mn_f.max(axis=1) / 15.0)
    sc = np.clip(np.rint(sc_f * _safe_inv(d)[:, None]), 0, 15)
    mn = np.clip(np.rint(mn_f * _safe_inv(dmin)[:, None]), 0, 15)
    step = d[:, None] * sc
    off = dmin[:, None] * mn
    q = np.clip(np.rint((x + off[:, :, None]) * _safe_inv(step)[:, :, None]), 0, 3)
    out = np.empty((nb, 84), np.uint8)
    out[:, 0:16] = sc.astype(np.uint8) | (mn.astype(np.uint8) << 4)
    out[:, 16:80] = _pack_2bit(q.reshape(nb, 256))
    out[:, 80:82] = _half_bytes(d)
    out[:, 82:84] = _half_bytes(dmin)
    return out.reshape(-1)


def quant_q3_k(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, 16, 16)
    nb = x.shape[0]
    # Signed sub-block scale that sends the largest-magnitude value to level
    # -4 (the level without a positive twin), as ggml does.
    sc_f = _extreme(x, 2) / -4.0
    d = _as_f16(np.abs(sc_f).max(axis=1) / 31.0)
    sc = np.clip(np.rint(sc_f * _safe_inv(d)[:, None]), -32, 31)
    step = d[:, None] * sc
    q = np.clip(np.rint(x * _safe_inv(step)[:, :, None]), -4, 3).astype(np.int64)
    code = (q + 4).reshape(nb, 256)                  # 0..7: low 2 bits + high bit
    hi = (code >> 2).reshape(nb, 2, 4, 32)           # set for q >= 0
    hmask = np.zeros((nb, 32), np.uint8)
    for h in range(2):
        for j in range(4):
            hmask |= (hi[:, h, j] << (4 * h + j)).astype(np.uint8)
    u = (sc + 32).astype(np.uint8)                   # (nb, 16) in 0..63
    scales = np.empty((nb, 12), np.uint8)
    scales[:, 0:8] = (u[:, 0:8] & 0x0F) | ((u[:, 8:16] & 0x0F) << 4)
    scales[:, 8:12] = ((u[:, 0:4] >> 4) | ((u[:, 4:8] >> 4) << 2) | ((u[:, 8:12] >> 4) << 4)
                       | ((u[:, 12:16] >> 4) << 6))
    out = np.empty((nb, 110), np.uint8)
    out[:, 0:32] = hmask
    out[:, 32:96] = _pack_2bit(code & 3)
    out[:, 96:108] = scales
    out[:, 108:110] = _half_bytes(d)
    return out.reshape(-1)


def quant_iq4_nl(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, 32)
    nb = x.shape[0]
    d = _as_f16(_extreme(x, 1) / -127.0)            # the extreme value -> level -127
    idx = _nearest_level(x * _safe_inv(d)[:, None])
    out = np.empty((nb, 18), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:18] = _pack_nibbles(idx[:, None, :])
    return out.reshape(-1)


def quant_iq4_xs(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, 8, 32)
    nb = x.shape[0]
    s_f = _extreme(x, 2) / -127.0                    # signed per-sub-block scale
    d = _as_f16(np.abs(s_f).max(axis=1) / 31.0)
    ls = np.clip(np.rint(s_f * _safe_inv(d)[:, None]), -32, 31)
    step = d[:, None] * ls
    idx = _nearest_level(x * _safe_inv(step)[:, :, None])
    u = (ls + 32).astype(np.uint16)                  # (nb, 8) in 0..63
    scales_h = ((u >> 4) << (2 * np.arange(8, dtype=np.uint16))).sum(axis=1).astype("<u2")
    out = np.empty((nb, 136), np.uint8)
    out[:, 0:2] = _half_bytes(d)
    out[:, 2:4] = np.ascontiguousarray(scales_h).view(np.uint8).reshape(nb, 2)
    out[:, 4:8] = ((u[:, 0::2] & 0x0F) | ((u[:, 1::2] & 0x0F) << 4)).astype(np.uint8)
    out[:, 8:136] = _pack_nibbles(idx)
    return out.reshape(-1)


QUANTISERS = {"q2_k": quant_q2_k, "q3_k": quant_q3_k, "iq4_nl": quant_iq4_nl, "iq4_xs": quant_iq4_xs}
