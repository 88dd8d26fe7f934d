"""Independent GGUF v2/v3 reader and ggml dequantisation in numpy.

Written from the GGUF format description and the ggml block layouts; it
shares nothing with the C library.  Everything is little-endian.

    f = GGUFFile(path)
    f.metadata["llama.embedding_length"]      # python value
    f.metadata_types["..."]                   # GGUF value type id
    f.tensors["token_embd.weight"]            # TensorInfo(name, dims, type, offset, ...)
    f.tensor("token_embd.weight")             # float64 ndarray, shape reversed(dims)

A GGUF tensor with dims [ne0, ne1] (ne0 = contiguous row length) comes back
as an array of shape (ne1, ne0), i.e. a torch-style (out, in) matrix.
"""
import mmap
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, \
    T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)

_SCALAR_FMT = {
    T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h",
    T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?",
    T_UINT64: "<Q", T_INT64: "<q", T_FLOAT64: "<d",
}
_SCALAR_NP = {
    T_UINT8: "<u1", T_INT8: "<i1", T_UINT16: "<u2", T_INT16: "<i2",
    T_UINT32: "<u4", T_INT32: "<i4", T_FLOAT32: "<f4", T_BOOL: "<u1",
    T_UINT64: "<u8", T_INT64: "<i8", T_FLOAT64: "<f8",
}

# tensor types (ggml numbering) -> (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    20: ("IQ4_NL", 32, 18),
    23: ("IQ4_XS", 256, 136),
    30: ("BF16", 1, 2),
}
TYPE_BY_NAME = {v[0]: k for k, v in GGML_TYPES.items()}


class GGUFError(Exception):
    pass


class TensorInfo:
    def __init__(self, name, dims, ttype, offset):
        self.name = name
        self.dims = list(dims)          # ne[0] first
        self.type = ttype
        self.offset = offset            # relative to the data section
        self.n_elements = int(np.prod(dims)) if dims else 1
        tname, blk, bsz = GGML_TYPES.get(ttype, ("?", 1, 0))
        self.type_name = tname
        self.n_bytes = (self.n_elements // blk) * bsz if bsz else None

    @property
    def shape(self):
        """numpy/torch shape: dims reversed."""
        return tuple(reversed(self.dims))

    def __repr__(self):
        return "TensorInfo(%s, dims=%s, %s, off=%d)" % (self.name, self.dims, self.type_name, self.offset)


class _Reader:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def need(self, n):
        if self.pos + n > len(self.buf):
            raise GGUFError("truncated at offset %d (need %d bytes)" % (self.pos, n))

    def scalar(self, fmt):
        size = struct.calcsize(fmt)
        self.need(size)
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return v

    def string(self):
        n = self.scalar("<Q")
        self.need(n)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="surrogateescape")

    def value(self, vtype):
        if vtype in _SCALAR_FMT:
            return self.scalar(_SCALAR_FMT[vtype])
        if vtype == T_STRING:
            return self.string()
        if vtype == T_ARRAY:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if etype in _SCALAR_NP:
                dt = np.dtype(_SCALAR_NP[etype])
                self.need(count * dt.itemsize)
                arr = np.frombuffer(self.buf, dtype=dt, count=count, offset=self.pos).copy()
                self.pos += count * dt.itemsize
                if etype == T_BOOL:
                    arr = arr.astype(bool)
                return GGUFArray(etype, arr)
            return GGUFArray(etype, [self.value(etype) for _ in range(count)])
        raise GGUFError("unknown metadata value type %d at offset %d" % (vtype, self.pos))


class GGUFArray(list):
    """A metadata array; .etype is the GGUF element type."""

    def __init__(self, etype, items):
        super().__init__(list(items) if not isinstance(items, np.ndarray) else items.tolist())
        self.etype = etype
        self.array = items if isinstance(items, np.ndarray) else None


class GGUFFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as fh:
            try:
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # empty file
                raise GGUFError("empty file")
        buf = memoryview(self._mm)
        r = _Reader(buf)
        r.need(4)
        if bytes(buf[0:4]) != GGUF_MAGIC:
            raise GGUFError("bad magic")
        r.pos = 4
        self.version = r.scalar("<I")
        if self.version not in (2, 3):
            raise GGUFError("unsupported GGUF version %d" % self.version)
        n_tensors = r.scalar("<Q")
        n_kv = r.scalar("<Q")
        self.metadata = {}
        self.metadata_types = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.scalar("<I")
            if key in self.metadata:
                raise GGUFError("duplicate key %s" % key)
            self.metadata[key] = r.value(vtype)
            self.metadata_types[key] = vtype
        self.tensors = {}
        self.tensor_order = []
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.scalar("<I")
            dims = [r.scalar("<Q") for _ in range(n_dims)]
            ttype = r.scalar("<I")
            off = r.scalar("<Q")
            if name in self.tensors:
                raise GGUFError("duplicate tensor %s" % name)
            self.tensors[name] = TensorInfo(name, dims, ttype, off)
            self.tensor_order.append(name)
        self.alignment = int(self.metadata.get("general.alignment", 32))
        a = self.alignment
        self.data_start = (r.pos + a - 1) // a * a
        self._buf = buf
        for t in self.tensors.values():
            if t.n_bytes is None:
                raise GGUFError("tensor %s has unsupported type %d" % (t.name, t.type))
            if self.data_start + t.offset + t.n_bytes > len(buf):
                raise GGUFError("tensor %s data out of file" % t.name)

    @property
    def arch(self):
        return self.metadata.get("general.architecture")

    def raw(self, name):
        """Raw bytes of a tensor as a uint8 numpy array (a view of the map)."""
        t = self.tensors[name]
        start = self.data_start + t.offset
        return np.frombuffer(self._buf, dtype=np.uint8, count=t.n_bytes, offset=start)

    def tensor(self, name):
        t = self.tensors[name]
        flat = dequantize(self.raw(name), t.type, t.n_elements)
        return flat.reshape(t.shape)

    def get(self, key, default=None):
        return self.metadata.get(key, default)


# ---------------------------------------------------------------------------
# dequantisation (returns float64)
# ---------------------------------------------------------------------------

def _f16(b):
    """uint8 array (..., 2k) -> float64 of its little-endian halves."""
    return np.ascontiguousarray(b).view("<f2").astype(np.float64)


def _blocks(raw, bsz):
    raw = np.asarray(raw, dtype=np.uint8)
    assert raw.size % bsz == 0
    return raw.reshape(-1, bsz)


def _nib(qs):
    """(nb, 16) packed nibbles -> (nb, 32): low nibbles are elements 0..15, high 16..31."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int64)


def _bits32(b4):
    """(nb, 4) bytes of a little-endian u32 -> (nb, 32) bits, bit j = element j."""
    u = b4.copy().view("<u4").reshape(-1, 1).astype(np.int64)
    return (u >> np.arange(32)) & 1


def deq_q8_0(raw):
    b = _blocks(raw, 34)
    d = _f16(b[:, 0:2])
    q = b[:, 2:34].view(np.int8).astype(np.float64)
    return (q * d).reshape(-1)


def deq_q4_0(raw):
    b = _blocks(raw, 18)
    d = _f16(b[:, 0:2])
    q = _nib(b[:, 2:18]) - 8
    return (q * d).reshape(-1)


def deq_q4_1(raw):
    b = _blocks(raw, 20)
    d = _f16(b[:, 0:2])
    m = _f16(b[:, 2:4])
    q = _nib(b[:, 4:20])
    return (q * d + m).reshape(-1)


def deq_q5_0(raw):
    b = _blocks(raw, 22)
    d = _f16(b[:, 0:2])
    hi = _bits32(b[:, 2:6])
    q = (_nib(b[:, 6:22]) | (hi << 4)) - 16
    return (q * d).reshape(-1)


def deq_q5_1(raw):
    b = _blocks(raw, 24)
    d = _f16(b[:, 0:2])
    m = _f16(b[:, 2:4])
    hi = _bits32(b[:, 4:8])
    q = _nib(b[:, 8:24]) | (hi << 4)
    return (q * d + m).reshape(-1)


def _kscales(sc12):
    """(nb, 12) packed 6-bit scales/mins of Q4_K/Q5_K -> (nb, 8) scales, (nb, 8) mins."""
    s = sc12.astype(np.int64)
    scales = np.empty((s.shape[0], 8), dtype=np.int64)
    mins = np.empty((s.shape[0], 8), dtype=np.int64)
    for j in range(8):
        if j < 4:
            scales[:, j] = s[:, j] & 63
            mins[:, j] = s[:, j + 4] & 63
        else:
            scales[:, j] = (s[:, j + 4] & 0x0F) | ((s[:, j - 4] >> 6) << 4)
            mins[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return scales, mins


def deq_q4_k(raw):
    b = _blocks(raw, 144)
    nb = b.shape[0]
    d = _f16(b[:, 0:2])
    dmin = _f16(b[:, 2:4])
    sc, mn = _kscales(b[:, 4:16])
    qs = b[:, 16:144].reshape(nb, 4, 32).astype(np.int64)
    # chunk c of 64 elements: sub-block 2c = low nibbles, 2c+1 = high nibbles
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(nb, 8, 32)
    y = d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]
    return y.reshape(-1)


def deq_q5_k(raw):
    b = _blocks(raw, 176)
    nb = b.shape[0]
    d = _f16(b[:, 0:2])
    dmin = _f16(b[:, 2:4])
    sc, mn = _kscales(b[:, 4:16])
    qh = b[:, 16:48].astype(np.int64)          # (nb, 32)
    qs = b[:, 48:176].reshape(nb, 4, 32).astype(np.int64)
    lo = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(nb, 8, 32)
    # sub-block s takes its high bit from bit s of qh[l]
    hi = (qh[:, None, :] >> np.arange(8)[None, :, None]) & 1
    q = lo | (hi << 4)
    y = d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]
    return y.reshape(-1)


def deq_q6_k(raw):
    b = _blocks(raw, 210)
    nb = b.shape[0]
    ql = b[:, 0:128].reshape(nb, 2, 64).astype(np.int64)
    qh = b[:, 128:192].reshape(nb, 2, 32).astype(np.int64)
    sc = b[:, 192:208].view(np.int8).astype(np.float64)  # (nb, 16)
    d = _f16(b[:, 208:210])                                # (nb, 1)
    q = np.empty((nb, 2, 4, 32), dtype=np.int64)
    q[:, :, 0] = (ql[:, :, 0:32] & 0x0F) | (((qh >> 0) & 3) << 4)
    q[:, :, 1] = (ql[:, :, 32:64] & 0x0F) | (((qh >> 2) & 3) << 4)
    q[:, :, 2] = (ql[:, :, 0:32] >> 4) | (((qh >> 4) & 3) << 4)
    q[:, :, 3] = (ql[:, :, 32:64] >> 4) | (((qh >> 6) & 3) << 4)
    q = (q - 32).reshape(nb, 16, 16)            # element e of the block -> sub-block e // 16
    y = d[:, :, None] * sc[:, :, None] * q
    return y.reshape(-1)


def _crumbs(qs):
    """(nb, 64) bytes of 2-bit fields -> (nb, 256) values: value 128h + 32j + l
    of a super-block is bits 2j..2j+1 of byte 32h + l (Q2_K, Q3_K)."""
    qs = qs.reshape(-1, 2, 1, 32).astype(np.int64)
    shifts = (2 * np.arange(4)).reshape(1, 1, 4, 1)
    return ((qs >> shifts) & 3).reshape(-1, 256)


def deq_q2_k(raw):
    b = _blocks(raw, 84)
    nb = b.shape[0]
    sm = b[:, 0:16].astype(np.int64)            # per 16-value sub-block
    scale, mn = sm & 0x0F, sm >> 4
    q = _crumbs(b[:, 16:80]).reshape(nb, 16, 16)
    d = _f16(b[:, 80:82])
    dmin = _f16(b[:, 82:84])
    y = d[:, :, None] * scale[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]
    return y.reshape(-1)


def deq_q3_k(raw):
    b = _blocks(raw, 110)
    nb = b.shape[0]
    hmask = b[:, 0:32].astype(np.int64)
    lo = _crumbs(b[:, 32:96]).reshape(nb, 2, 4, 32)
    # the high bit of value 128h + 32j + l is bit 4h + j of hmask[l]
    bit = (4 * np.arange(2)[:, None] + np.arange(4)[None, :]).reshape(1, 2, 4, 1)
    high = (hmask[:, None, None, :] >> bit) & 1
    q = (lo - 4 * (1 - high)).reshape(nb, 16, 16)
    s = b[:, 96:108].astype(np.int64)
    # sixteen 6-bit scales: low nibbles from bytes 0..7 (sub-blocks 0..7 low
    # nibble, 8..15 high nibble), top 2 bits from bytes 8..11 (sub-block k
    # uses byte 8 + k%4, bit pair k//4)
    k = np.arange(16)
    low4 = (s[:, k % 8] >> (4 * (k // 8))) & 0x0F
    top2 = (s[:, 8 + k % 4] >> (2 * (k // 4))) & 3
    sc = (low4 | (top2 << 4)) - 32
    d = _f16(b[:, 108:110])
    y = d[:, :, None] * sc[:, :, None] * q
    return y.reshape(-1)


# the 16 non-linear IQ4_NL / IQ4_XS levels (ggml kvalues_iq4nl)
IQ4_GRID = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                    dtype=np.float64)


def deq_iq4_nl(raw):
    b = _blocks(raw, 18)
    d = _f16(b[:, 0:2])
    return (d * IQ4_GRID[_nib(b[:, 2:18])]).reshape(-1)


def deq_iq4_xs(raw):
    b = _blocks(raw, 136)
    nb = b.shape[0]
    d = _f16(b[:, 0:2])                                          # (nb, 1)
    sh = b[:, 2:4].copy().view("<u2").astype(np.int64)          # (nb, 1)
    sl = b[:, 4:8].astype(np.int64)
    ib = np.arange(8)
    ls = ((sl[:, ib // 2] >> (4 * (ib % 2))) & 0x0F) | (((sh >> (2 * ib)) & 3) << 4)
    idx = _nib(b[:, 8:136].reshape(nb * 8, 16)).reshape(nb, 8, 32)
    y = d[:, :, None] * (ls - 32)[:, :, None] * IQ4_GRID[idx]
    return y.reshape(-1)


def dequantize(raw, ttype, n):
    raw = np.asarray(raw, dtype=np.uint8)
    if ttype == 0:
        out = np.ascontiguousarray(raw).view("<f4").astype(np.float64)
    elif ttype == 1:
        out = np.ascontiguousarray(raw).view("<f2").astype(np.float64)
    elif ttype == 30:
        u = np.ascontiguousarray(raw).view("<u2").astype(np.uint32) << 16
        out = u.view(np.float32).astype(np.float64)
    else:
        fn = {2: deq_q4_0, 3: deq_q4_1, 6: deq_q5_0, 7: deq_q5_1, 8: deq_q8_0,
              12: deq_q4_k, 13: deq_q5_k, 14: deq_q6_k, 10: deq_q2_k, 11: deq_q3_k,
              20: deq_iq4_nl, 23: deq_iq4_xs}.get(ttype)
        if fn is None:
            raise GGUFError("cannot dequantise type %d" % ttype)
        out = fn(raw)
    if out.size != n:
        raise GGUFError("dequantised %d elements, expected %d" % (out.size, n))
    return out
