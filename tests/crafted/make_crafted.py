#!/usr/bin/python3
"""make_crafted.py -- builds the crafted GGUF files the parser tests read.

Usage: make_crafted.py OUTDIR

Writes OUTDIR/base.gguf (a small, valid GGUF v3 file laid out from the
specification: a header, metadata of every value type including string and
numeric arrays, and F32/Q8_0/F16 tensors with known contents), a set of
variants each of which breaks exactly one rule of the format, and
OUTDIR/expected.tsv listing `file<TAB>expected attrib_status name<TAB>what`
for gguf_init_from_file. It also writes model_*.gguf: well-formed GGUF files
holding a tiny one-layer llama, valid or broken at the model level (missing
or mistyped hyper-parameters, out-of-range values, missing tensors, wrong
shapes, unknown tensors, a tokenizer larger than the embedding, NaN weights),
listed in OUTDIR/expected-model.tsv as
`file<TAB>status<TAB>check_weights (0/1)<TAB>what` for attrib_model_load.

The files are written from scratch with struct (standard library only) so
that the expectations do not depend on the reader under test. Variants are
built by editing the structured description of the base file (header fields,
key/value list, tensor list, data) and serialising again, so each one differs
from the base in the single field it is about. Truncations cut the base at
offsets recorded while serialising, so "in the third tensor's dimensions"
stays true when the base changes.

The parser bounds counts by the bytes left after the header (a pair needs at
least 14 bytes, a tensor description 33), so a file cut early reports
ATTRIB_E_BAD_COUNT rather than ATTRIB_E_TRUNCATED; the long first value
(general.description) keeps the other truncation points past that bound.
"""
import struct
import sys
import os

# GGUF metadata value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: '<B', I8: '<b', U16: '<H', I16: '<h', U32: '<I', I32: '<i',
              F32: '<f', BOOL: '<B', U64: '<Q', I64: '<q', F64: '<d'}
# Tensor types (ggml numbering).
T_F32, T_F16, T_Q8_0, T_Q8_K, T_IQ2_XXS = 0, 1, 8, 15, 16
BLOCK = {T_F32: (1, 4), T_F16: (1, 2), T_Q8_0: (32, 34)}

M64 = (1 << 64) - 1


def u32(v): return struct.pack('<I', v & 0xFFFFFFFF)
def u64(v): return struct.pack('<Q', v & M64)
def gstr(b): return u64(len(b)) + b


class Writer:
    """Byte buffer that remembers where each labelled piece starts."""
    def __init__(self):
        self.buf = bytearray()
        self.at = {}

    def put(self, label, data):
        if label is not None:
            self.at[label] = len(self.buf)
        self.buf += data


def kv(key, vtype, value, **raw):
    """A metadata pair. raw overrides serialised pieces: key_len, type_field,
    str_len, arr_type_field, arr_n, payload (bytes replacing the value)."""
    d = {'key': key if isinstance(key, bytes) else key.encode(), 'type': vtype, 'value': value}
    d.update(raw)
    return d


def arr(etype, values):
    return (etype, values)


def tensor(name, dims, ttype, offset, **raw):
    d = {'name': name if isinstance(name, bytes) else name.encode(), 'dims': list(dims),
         'type': ttype, 'offset': offset}
    d.update(raw)
    return d


def enc_scalar(t, v):
    return struct.pack(SCALAR_FMT[t], v)


def write_kv(w, i, p):
    key = p['key']
    w.put('kv%d.key_len' % i, u64(p.get('key_len', len(key))))
    w.put('kv%d.key' % i, key)
    w.put('kv%d.type' % i, u32(p.get('type_field', p['type'])))
    if 'payload' in p:
        w.put('kv%d.value' % i, p['payload'])
        return
    t, v = p['type'], p['value']
    if t == STR:
        w.put('kv%d.str_len' % i, u64(p.get('str_len', len(v))))
        w.put('kv%d.value' % i, v)
    elif t == ARR:
        et, vals = v
        w.put('kv%d.arr_type' % i, u32(p.get('arr_type_field', et)))
        w.put('kv%d.arr_n' % i, u64(p.get('arr_n', len(vals))))
        w.put('kv%d.arr_data' % i, b'')
        for j, e in enumerate(vals):
            if et == STR:
                w.put('kv%d.el%d.len' % (i, j), u64(len(e)))
                w.put('kv%d.el%d' % (i, j), e)
            else:
                w.put('kv%d.el%d' % (i, j), enc_scalar(et, e))
    else:
        w.put('kv%d.value' % i, enc_scalar(t, v))


def write_tensor(w, i, t):
    name = t['name']
    w.put('ti%d.name_len' % i, u64(t.get('name_len', len(name))))
    w.put('ti%d.name' % i, name)
    w.put('ti%d.n_dims' % i, u32(t.get('n_dims', len(t['dims']))))
    w.put('ti%d.dims' % i, b''.join(u64(d) for d in t['dims']))
    w.put('ti%d.type' % i, u32(t['type']))
    w.put('ti%d.offset' % i, u64(t['offset']))


def serialise(f):
    """f: dict with magic, version, n_tensors/n_kv (None = actual), kvs,
    tensors, alignment (for laying out data), data. Returns (bytes, offsets)."""
    w = Writer()
    w.put('magic', f['magic'])
    w.put('version', u32(f['version']))
    nt = f['n_tensors'] if f['n_tensors'] is not None else len(f['tensors'])
    nk = f['n_kv'] if f['n_kv'] is not None else len(f['kvs'])
    w.put('n_tensors', u64(nt))
    w.put('n_kv', u64(nk))
    for i, p in enumerate(f['kvs']):
        write_kv(w, i, p)
    for i, t in enumerate(f['tensors']):
        write_tensor(w, i, t)
    w.put('tinfo_end', b'')
    a = f['alignment']
    pad = (a - len(w.buf) % a) % a if f['tensors'] else 0
    w.put('pad', b'\0' * pad)
    w.put('data', f['data'])
    w.put('end', b'')
    return bytes(w.buf), w.at


# ---------------------------------------------------------------------------
# The base file.

def fp16(x): return struct.pack('<e', x)


def base_data():
    """Tensor data, laid out at offsets 0, 128, 288, 320 (alignment 32).
    a.weight F32 [8,4]:  value i*0.5 - 3
    b.weight Q8_0 [64,2]: block k has d = 0.25*(k+1), qs[j] = j - 16 + k
    c.bias   F32 [8]:    100 + i
    d.weight F16 [16,2]: i - 16"""
    a = b''.join(struct.pack('<f', i * 0.5 - 3) for i in range(32))
    b = b''.join(fp16(0.25 * (k + 1)) + bytes((j - 16 + k) & 0xFF for j in range(32)) for k in range(4))
    c = b''.join(struct.pack('<f', 100.0 + i) for i in range(8))
    d = b''.join(fp16(float(i - 16)) for i in range(32))
    data = bytearray(384)
    data[0:128] = a
    data[128:128 + 136] = b
    data[288:320] = c
    data[320:384] = d
    return bytes(data)


DESCRIPTION = (b'A small GGUF file built from the specification for the parser tests. '
               b'This value is long on purpose: it keeps every later truncation point '
               b'beyond the minimum size the header counts imply, so that cutting the '
               b'file there must report a truncation, not an impossible count. ' * 2)[:320]

TOKENS = [b'<unk>', b'<s>', b'</s>', b'hello', 'w\u00f6rld'.encode()]


def base():
    kvs = [
        kv('general.description', STR, DESCRIPTION),
        kv('general.architecture', STR, b'llama'),
        kv('general.name', STR, b'crafted-base'),
        kv('general.alignment', U32, 32),
        kv('test.u8', U8, 200),
        kv('test.i8', I8, -5),
        kv('test.u16', U16, 65000),
        kv('test.i16', I16, -1234),
        kv('test.i32', I32, -7),
        kv('test.u64', U64, 1 << 40),
        kv('test.i64', I64, -(1 << 40)),
        kv('test.f32', F32, 0.5),
        kv('test.f64', F64, 2.25),
        kv('test.bool', BOOL, 1),
        kv('test.arr_f32', ARR, arr(F32, [0.0, -1.0, -2.5, 3.25, 8.0, 0.125])),
        kv('test.arr_i32', ARR, arr(I32, [1, -2, 3, 2147483647])),
        kv('tokenizer.ggml.tokens', ARR, arr(STR, TOKENS)),
        kv('test.empty_arr', ARR, arr(U8, [])),
        kv('test.str_empty', STR, b''),
    ]
    tensors = [
        tensor('a.weight', [8, 4], T_F32, 0),
        tensor('b.weight', [64, 2], T_Q8_0, 128),
        tensor('c.bias', [8], T_F32, 288),
        tensor('d.weight', [16, 2], T_F16, 320),
    ]
    return {'magic': b'GGUF', 'version': 3, 'n_tensors': None, 'n_kv': None,
            'kvs': kvs, 'tensors': tensors, 'alignment': 32, 'data': base_data()}


def find_kv(f, key):
    for i, p in enumerate(f['kvs']):
        if p['key'] == key.encode():
            return i
    raise KeyError(key)


def find_t(f, name):
    for i, t in enumerate(f['tensors']):
        if t['name'] == name.encode():
            return i
    raise KeyError(name)


# ---------------------------------------------------------------------------
# Variants. Each returns the file description to serialise (a fresh copy).

import copy


def variant(**changes):
    f = copy.deepcopy(base())
    f.update(changes)
    return f


def with_kv(which, **raw):
    f = base()
    i = find_kv(f, which)
    f['kvs'][i].update(raw)
    return f


def with_tensor(which, **raw):
    f = base()
    i = find_t(f, which)
    f['tensors'][i].update(raw)
    return f


def set_alignment(v, vtype=U32):
    f = base()
    i = find_kv(f, 'general.alignment')
    f['kvs'][i] = kv('general.alignment', vtype, v)
    # Lay the data out as a reader honouring a valid key must find it, so
    # that the key is the only thing that changed; a 2^31 alignment cannot
    # be honoured in a small file, which is that variant's point.
    if vtype == U32 and v and v & (v - 1) == 0 and v <= 4096:
        f['alignment'] = v
    return f


def cases():
    """(file stem, expected status, description, description-or-bytes)."""
    out = []

    def add(stem, status, what, f):
        out.append((stem, status, what, f))

    add('base', 'ATTRIB_OK', 'valid GGUF v3 base file', base())
    add('ok_version2', 'ATTRIB_OK', 'GGUF v2 is accepted', variant(version=2))
    add('ok_header_only', 'ATTRIB_OK', 'no tensors and no metadata',
        variant(kvs=[], tensors=[], data=b''))
    f = base()
    del f['kvs'][find_kv(f, 'general.alignment')]
    add('ok_no_alignment_key', 'ATTRIB_OK', 'general.alignment absent: default 32', f)
    add('ok_alignment_16', 'ATTRIB_OK', 'general.alignment 16 (offsets stay multiples of 16)', set_alignment(16))
    add('ok_alignment_1', 'ATTRIB_OK', 'general.alignment 1 (2^0)', set_alignment(1))
    add('ok_name_256', 'ATTRIB_OK', 'tensor name of exactly 256 bytes', with_tensor('c.bias', name=b'n' * 256))
    add('ok_key_65535', 'ATTRIB_OK', 'key of exactly 65535 bytes', with_kv('test.u8', key=b'k' * 65535))
    add('ok_non_utf8_key', 'ATTRIB_OK',
        'key bytes that are not UTF-8 (the reader does not check key encoding)',
        with_kv('test.u8', key=b'test.\xff\xfe'))

    # Magic and version.
    add('bad_magic', 'ATTRIB_E_BAD_MAGIC', 'magic GGUX', variant(magic=b'GGUX'))
    add('bad_magic_lower', 'ATTRIB_E_BAD_MAGIC', 'magic gguf (lower case)', variant(magic=b'gguf'))
    add('bad_magic_short', 'ATTRIB_E_BAD_MAGIC', 'a 3-byte file "GGU"', b'GGU')
    add('bad_version_1', 'ATTRIB_E_BAD_VERSION', 'version 1', variant(version=1))
    add('bad_version_4', 'ATTRIB_E_BAD_VERSION', 'version 4', variant(version=4))
    add('bad_version_0', 'ATTRIB_E_BAD_VERSION', 'version 0', variant(version=0))
    add('bad_version_bigendian', 'ATTRIB_E_BAD_VERSION', 'version 3 stored big-endian', variant(version=0x03000000))

    # Counts.
    add('count_tensors_huge', 'ATTRIB_E_BAD_COUNT', 'tensor count 2^63', variant(n_tensors=1 << 63))
    add('count_tensors_1000', 'ATTRIB_E_BAD_COUNT', 'tensor count 1000 in a small file', variant(n_tensors=1000))
    add('count_kv_huge', 'ATTRIB_E_BAD_COUNT', 'metadata count 2^64-1', variant(n_kv=M64))
    add('count_kv_10000', 'ATTRIB_E_BAD_COUNT', 'metadata count 10000 in a small file', variant(n_kv=10000))

    # Keys.
    add('key_len_huge', 'ATTRIB_E_BAD_STRING', 'key length 2^64-1', with_kv('general.name', key_len=M64))
    add('key_len_65536', 'ATTRIB_E_BAD_STRING', 'key length 65536 (limit 65535)', with_kv('general.name', key_len=65536))
    add('key_len_past_eof', 'ATTRIB_E_TRUNCATED', 'key length 60000 runs past the end',
        with_kv('test.str_empty', key_len=60000))
    add('key_empty', 'ATTRIB_E_BAD_STRING', 'empty key', with_kv('test.i8', key=b''))
    add('key_nul', 'ATTRIB_E_BAD_STRING', 'key containing a NUL byte', with_kv('test.i8', key=b'test.\x00i8'))
    f = base()
    f['kvs'].append(kv('general.name', STR, b'again'))
    add('dup_key', 'ATTRIB_E_DUPLICATE', 'general.name appears twice', f)

    # Value types and strings.
    add('value_type_13', 'ATTRIB_E_BAD_TYPE', 'metadata value type 13', with_kv('test.u8', type_field=13))
    add('value_type_huge', 'ATTRIB_E_BAD_TYPE', 'metadata value type 0xffffffff',
        with_kv('test.u8', type_field=0xFFFFFFFF))
    add('str_len_huge', 'ATTRIB_E_BAD_STRING', 'string value length 2^64-1', with_kv('general.name', str_len=M64))
    add('str_len_over_limit', 'ATTRIB_E_BAD_STRING', 'string value length 2^30+1 (limit 2^30)',
        with_kv('general.name', str_len=(1 << 30) + 1))
    add('str_len_at_limit_past_eof', 'ATTRIB_E_TRUNCATED', 'string value length 2^30 runs past the end',
        with_kv('general.name', str_len=1 << 30))
    add('str_len_past_eof_by_one', 'ATTRIB_E_TRUNCATED', 'last string value one byte longer than the file',
        None)  # filled in below: needs the serialised size

    # Arrays.
    add('arr_type_13', 'ATTRIB_E_BAD_TYPE', 'array element type 13', with_kv('test.arr_i32', arr_type_field=13))
    add('arr_nested', 'ATTRIB_E_UNSUPPORTED', 'array of arrays',
        with_kv('test.arr_i32', arr_type_field=ARR))
    add('arr_n_huge_u8', 'ATTRIB_E_BAD_COUNT', 'uint8 array of 2^64-1 elements', with_kv('test.empty_arr', arr_n=M64))
    add('arr_n_mul_overflow', 'ATTRIB_E_BAD_COUNT', 'uint64 array of 2^62 elements (bytes overflow)',
        with_kv('test.empty_arr', type=ARR, value=arr(U64, []), arr_n=1 << 62))
    add('arr_n_past_eof', 'ATTRIB_E_TRUNCATED', 'int32 array whose elements run past the end (count <= bytes left)',
        None)
    add('arr_str_n_huge', 'ATTRIB_E_BAD_COUNT', 'string array of 2^63 elements',
        with_kv('tokenizer.ggml.tokens', arr_n=1 << 63))
    f = base()
    i = find_kv(f, 'tokenizer.ggml.tokens')
    f['kvs'][i]['payload'] = u32(STR) + u64(2) + gstr(b'ok') + u64(M64) + b'xx'
    add('arr_str_elem_len_huge', 'ATTRIB_E_BAD_STRING', 'string array element of length 2^64-1', f)

    # Alignment key.
    add('align_zero', 'ATTRIB_E_BAD_ALIGNMENT', 'general.alignment 0', set_alignment(0))
    add('align_48', 'ATTRIB_E_BAD_ALIGNMENT', 'general.alignment 48 (not a power of two)', set_alignment(48))
    add('align_64_misaligned', 'ATTRIB_E_BAD_ALIGNMENT', 'general.alignment 64: offset 288 is not a multiple',
        set_alignment(64))
    add('align_huge', 'ATTRIB_E_TRUNCATED', 'general.alignment 2^31: the padded data section starts past the end',
        set_alignment(1 << 31))
    add('align_type_u64', 'ATTRIB_E_METADATA_TYPE', 'general.alignment stored as uint64', set_alignment(32, U64))
    add('align_type_str', 'ATTRIB_E_METADATA_TYPE', 'general.alignment stored as a string', set_alignment(b'32', STR))
    add('align_type_i32', 'ATTRIB_E_METADATA_TYPE', 'general.alignment stored as int32', set_alignment(32, I32))

    # Tensor descriptions.
    add('tname_257', 'ATTRIB_E_BAD_STRING', 'tensor name of 257 bytes (limit 256)', with_tensor('c.bias', name=b'n' * 257))
    add('tname_len_huge', 'ATTRIB_E_BAD_STRING', 'tensor name length 2^64-1', with_tensor('c.bias', name_len=M64))
    add('tname_empty', 'ATTRIB_E_BAD_STRING', 'empty tensor name', with_tensor('c.bias', name=b''))
    add('tname_nul', 'ATTRIB_E_BAD_STRING', 'tensor name with a NUL byte', with_tensor('c.bias', name=b'c\x00bias'))
    add('dup_tensor', 'ATTRIB_E_DUPLICATE', 'two tensors named a.weight', with_tensor('d.weight', name=b'a.weight'))
    add('ndims_0', 'ATTRIB_E_BAD_DIMS', 'n_dims 0', with_tensor('c.bias', dims=[], n_dims=0))
    add('ndims_5', 'ATTRIB_E_BAD_DIMS', 'n_dims 5', with_tensor('c.bias', dims=[8, 1, 1, 1, 1]))
    add('ndims_huge', 'ATTRIB_E_BAD_DIMS', 'n_dims 0xffffffff', with_tensor('c.bias', n_dims=0xFFFFFFFF))
    add('dim_zero', 'ATTRIB_E_BAD_DIMS', 'a zero dimension', with_tensor('a.weight', dims=[8, 0]))
    add('dim_negative', 'ATTRIB_E_BAD_DIMS', 'a dimension of 2^63 (negative as int64)',
        with_tensor('a.weight', dims=[8, 1 << 63]))
    add('dims_product_wraps', 'ATTRIB_E_BAD_DIMS', 'dimensions 2^32 x 2^32 (element count wraps)',
        with_tensor('a.weight', dims=[1 << 32, 1 << 32]))
    add('dims_product_over_int64', 'ATTRIB_E_BAD_DIMS', 'dimensions 2^32 x 2^31 (2^63 elements)',
        with_tensor('a.weight', dims=[1 << 32, 1 << 31]))
    add('dims_bytes_overflow', 'ATTRIB_E_BAD_DIMS', 'F32 2^61 x 2: elements fit int64, bytes overflow',
        with_tensor('a.weight', dims=[1 << 61, 2]))
    add('dims_huge_valid', 'ATTRIB_E_BAD_OFFSET', 'F32 2^40 elements: well-formed but far larger than the file',
        with_tensor('a.weight', dims=[1 << 20, 1 << 20]))
    add('ttype_4', 'ATTRIB_E_BAD_TYPE', 'tensor type 4 (removed Q4_2)', with_tensor('c.bias', type=4))
    add('ttype_1000', 'ATTRIB_E_BAD_TYPE', 'tensor type 1000', with_tensor('c.bias', type=1000))
    add('ttype_31', 'ATTRIB_E_BAD_TYPE', 'tensor type 31 (retired Q4_0_4_4, no longer in GGUF files)',
        with_tensor('c.bias', type=31))
    add('ttype_iq2_xxs', 'ATTRIB_E_UNSUPPORTED', 'tensor type IQ2_XXS (a ggml type attrib does not read)',
        with_tensor('c.bias', type=T_IQ2_XXS, dims=[256]))
    add('ttype_q8_k', 'ATTRIB_E_UNSUPPORTED', 'tensor type Q8_K (ggml\'s internal dot-product type)',
        with_tensor('c.bias', type=T_Q8_K, dims=[256]))
    add('q8_row_48', 'ATTRIB_E_BAD_DIMS', 'Q8_0 row of 48 elements (block size 32)',
        with_tensor('b.weight', dims=[48, 2]))

    # Tensor offsets.
    add('offset_unaligned', 'ATTRIB_E_BAD_ALIGNMENT', 'c.bias at offset 292 (alignment 32)',
        with_tensor('c.bias', offset=292))
    add('offset_past_end', 'ATTRIB_E_BAD_OFFSET', 'd.weight at 384: its 64 bytes lie past the data',
        with_tensor('d.weight', offset=384))
    add('offset_far', 'ATTRIB_E_BAD_OFFSET', 'c.bias at offset 2^40', with_tensor('c.bias', offset=1 << 40))
    add('offset_wraps', 'ATTRIB_E_BAD_OFFSET', 'c.bias at offset 2^64-32 (offset + size wraps)',
        with_tensor('c.bias', offset=M64 - 31))
    add('overlap_partial', 'ATTRIB_E_OVERLAP', 'c.bias at 256 overlaps b.weight [128, 264)',
        with_tensor('c.bias', offset=256))
    add('overlap_same', 'ATTRIB_E_OVERLAP', 'd.weight at 0, the same bytes as a.weight',
        with_tensor('d.weight', offset=0))
    return out


# ---------------------------------------------------------------------------
# Model-level files: well-formed GGUF whose content is not a usable model.
# A one-layer llama: C = 8, 2 heads of 4, 1 KV head, FFN 16, vocabulary 6.

MC, MH, MHKV, MD, MF, MV = 8, 2, 1, 4, 16, 6


def fvals(n, seed):
    return [((i * 7 + seed * 3) % 11 - 5) * 0.01 for i in range(n)]


def model_tensors():
    """(name, GGUF dims (row length first), values) in file order."""
    qd, kvd = MH * MD, MHKV * MD
    specs = [
        ('token_embd.weight', [MC, MV]),
        ('output_norm.weight', [MC]),
        ('blk.0.attn_norm.weight', [MC]),
        ('blk.0.attn_q.weight', [MC, qd]),
        ('blk.0.attn_k.weight', [MC, kvd]),
        ('blk.0.attn_v.weight', [MC, kvd]),
        ('blk.0.attn_output.weight', [qd, MC]),
        ('blk.0.ffn_norm.weight', [MC]),
        ('blk.0.ffn_gate.weight', [MC, MF]),
        ('blk.0.ffn_up.weight', [MC, MF]),
        ('blk.0.ffn_down.weight', [MF, MC]),
    ]
    out = []
    for k, (name, dims) in enumerate(specs):
        n = 1
        for d in dims:
            n *= d
        vals = [1.0] * n if name.endswith('norm.weight') else fvals(n, k)
        out.append([name, dims, vals])
    return out


def model_kvs():
    return [
        kv('general.architecture', STR, b'llama'),
        kv('general.name', STR, b'crafted-model'),
        kv('llama.block_count', U32, 1),
        kv('llama.embedding_length', U32, MC),
        kv('llama.feed_forward_length', U32, MF),
        kv('llama.attention.head_count', U32, MH),
        kv('llama.attention.head_count_kv', U32, MHKV),
        kv('llama.context_length', U32, 64),
        kv('llama.attention.layer_norm_rms_epsilon', F32, 1e-5),
        kv('llama.rope.freq_base', F32, 10000.0),
    ]


def model_file(kvs, tensors):
    """Lays F32 tensors out at 32-byte aligned offsets and returns a file description."""
    data = bytearray()
    infos = []
    for name, dims, vals in tensors:
        data += b'\0' * ((32 - len(data) % 32) % 32)
        infos.append(tensor(name, dims, T_F32, len(data)))
        data += b''.join(struct.pack('<f', v) for v in vals)
    return {'magic': b'GGUF', 'version': 3, 'n_tensors': None, 'n_kv': None,
            'kvs': kvs, 'tensors': infos, 'alignment': 32, 'data': bytes(data)}


def m_set(key, vtype, value):
    kvs = [p for p in model_kvs() if p['key'] != key.encode()]
    if vtype is not None:
        kvs.append(kv(key, vtype, value))
    return model_file(kvs, model_tensors())


def m_tensors(edit):
    ts = model_tensors()
    edit(ts)
    return model_file(model_kvs(), ts)


def t_index(ts, name):
    return [t[0] for t in ts].index(name)


def drop(name):
    return lambda ts: ts.pop(t_index(ts, name))


def reshape(name, dims):
    def edit(ts):
        t = ts[t_index(ts, name)]
        n = 1
        for d in dims:
            n *= d
        t[1] = dims
        t[2] = (t[2] * n)[:n]
    return edit


def add_tensor(name, dims):
    def edit(ts):
        n = 1
        for d in dims:
            n *= d
        ts.append([name, dims, [0.5] * n])
    return edit


def with_tokenizer(n_tokens):
    toks = [b'<unk>', b'<s>', b'</s>'] + [('\u2581t%d' % i).encode() for i in range(n_tokens - 3)]
    kvs = model_kvs() + [
        kv('tokenizer.ggml.model', STR, b'llama'),
        kv('tokenizer.ggml.tokens', ARR, arr(STR, toks)),
        kv('tokenizer.ggml.scores', ARR, arr(F32, [-float(i) for i in range(n_tokens)])),
        kv('tokenizer.ggml.token_type', ARR, arr(I32, [2, 3, 3] + [1] * (n_tokens - 3))),
    ]
    return model_file(kvs, model_tensors())


def model_cases():
    """(stem, status, check_weights, description, file description)."""
    out = []

    def add(stem, status, what, f, check=0):
        out.append(('model_' + stem, status, check, what, f))

    base_m = model_file(model_kvs(), model_tensors())
    add('base', 'ATTRIB_OK', 'valid one-layer llama, no tokenizer', base_m)
    add('base_checked', 'ATTRIB_OK', 'valid model with check_weights', base_m, 1)
    add('tok_equal', 'ATTRIB_OK', 'tokenizer with as many tokens as embedding rows', with_tokenizer(MV))
    add('tok_more_than_embd', 'ATTRIB_E_SHAPE', 'tokenizer with 7 tokens, embedding matrix has 6 rows',
        with_tokenizer(MV + 1))
    add('no_arch', 'ATTRIB_E_MISSING', 'general.architecture missing', m_set('general.architecture', None, None))
    add('arch_u32', 'ATTRIB_E_METADATA_TYPE', 'general.architecture is a uint32', m_set('general.architecture', U32, 1))
    add('arch_gpt2', 'ATTRIB_E_UNSUPPORTED', 'architecture gpt2', m_set('general.architecture', STR, b'gpt2'))
    add('no_block_count', 'ATTRIB_E_MISSING', 'llama.block_count missing', m_set('llama.block_count', None, None))
    add('block_count_str', 'ATTRIB_E_METADATA_TYPE', 'llama.block_count is a string',
        m_set('llama.block_count', STR, b'1'))
    add('block_count_0', 'ATTRIB_E_BAD_VALUE', 'llama.block_count 0', m_set('llama.block_count', U32, 0))
    add('block_count_huge', 'ATTRIB_E_BAD_VALUE', 'llama.block_count 2^31 (int64 key)',
        m_set('llama.block_count', I64, 1 << 31))
    add('block_count_array', 'ATTRIB_E_UNSUPPORTED', 'llama.block_count given per layer',
        m_set('llama.block_count', ARR, arr(U32, [1])))
    add('embd_9', 'ATTRIB_E_SHAPE', 'embedding length 9, tensors have 8 columns',
        m_set('llama.embedding_length', U32, 9))
    add('embd_negative', 'ATTRIB_E_BAD_VALUE', 'embedding length -8 (int32)',
        m_set('llama.embedding_length', I32, -8))
    add('ff_17', 'ATTRIB_E_SHAPE', 'feed-forward length 17, tensors have 16',
        m_set('llama.feed_forward_length', U32, 17))
    add('no_heads', 'ATTRIB_E_MISSING', 'head count missing', m_set('llama.attention.head_count', None, None))
    add('heads_kv_3', 'ATTRIB_E_BAD_VALUE', 'KV head count 3 does not divide 2 heads',
        m_set('llama.attention.head_count_kv', U32, 3))
    add('heads_kv_0', 'ATTRIB_E_BAD_VALUE', 'KV head count 0', m_set('llama.attention.head_count_kv', U32, 0))
    add('no_eps', 'ATTRIB_E_MISSING', 'RMSNorm epsilon missing',
        m_set('llama.attention.layer_norm_rms_epsilon', None, None))
    add('eps_0', 'ATTRIB_E_BAD_VALUE', 'RMSNorm epsilon 0', m_set('llama.attention.layer_norm_rms_epsilon', F32, 0.0))
    add('eps_nan', 'ATTRIB_E_BAD_VALUE', 'RMSNorm epsilon NaN',
        m_set('llama.attention.layer_norm_rms_epsilon', F32, float('nan')))
    add('eps_str', 'ATTRIB_E_METADATA_TYPE', 'RMSNorm epsilon is a string',
        m_set('llama.attention.layer_norm_rms_epsilon', STR, b'1e-5'))
    add('theta_half', 'ATTRIB_E_BAD_VALUE', 'RoPE base 0.5', m_set('llama.rope.freq_base', F32, 0.5))
    add('theta_inf', 'ATTRIB_E_BAD_VALUE', 'RoPE base +inf', m_set('llama.rope.freq_base', F32, float('inf')))
    add('rope_dim_2', 'ATTRIB_E_UNSUPPORTED', 'rope.dimension_count 2 of head dimension 4',
        m_set('llama.rope.dimension_count', U32, 2))
    add('rope_linear_2', 'ATTRIB_E_UNSUPPORTED', 'linear RoPE scaling factor 2',
        m_set('llama.rope.scale_linear', F32, 2.0))
    add('ctx_0', 'ATTRIB_E_BAD_VALUE', 'context length 0', m_set('llama.context_length', U32, 0))
    add('no_token_embd', 'ATTRIB_E_MISSING', 'token_embd.weight missing', m_tensors(drop('token_embd.weight')))
    add('no_output_norm', 'ATTRIB_E_MISSING', 'output_norm.weight missing', m_tensors(drop('output_norm.weight')))
    add('no_ffn_up', 'ATTRIB_E_MISSING', 'blk.0.ffn_up.weight missing', m_tensors(drop('blk.0.ffn_up.weight')))
    add('no_attn_norm', 'ATTRIB_E_MISSING', 'blk.0.attn_norm.weight missing', m_tensors(drop('blk.0.attn_norm.weight')))
    add('embd_transposed', 'ATTRIB_E_SHAPE', 'token_embd.weight stored [6, 8] instead of [8, 6]',
        m_tensors(reshape('token_embd.weight', [MV, MC])))
    add('attn_k_wide', 'ATTRIB_E_SHAPE', 'attn_k has 8 rows, 1 KV head of 4 needs 4',
        m_tensors(reshape('blk.0.attn_k.weight', [MC, 8])))
    add('attn_q_3d', 'ATTRIB_E_SHAPE', 'attn_q with a third dimension',
        m_tensors(reshape('blk.0.attn_q.weight', [MC, 4, 2])))
    add('norm_9', 'ATTRIB_E_SHAPE', 'output_norm of 9 elements', m_tensors(reshape('output_norm.weight', [9])))
    add('norm_matrix', 'ATTRIB_E_SHAPE', 'attn_norm stored as an 8x1 matrix',
        m_tensors(reshape('blk.0.attn_norm.weight', [MC, 1])))
    add('output_wrong', 'ATTRIB_E_SHAPE', 'untied output.weight with 5 rows for a vocabulary of 6',
        m_tensors(add_tensor('output.weight', [MC, 5])))
    add('q_norm', 'ATTRIB_E_UNSUPPORTED', 'an unused blk.0.attn_q_norm.weight (newer architecture)',
        m_tensors(add_tensor('blk.0.attn_q_norm.weight', [MD])))
    add('layer_1_extra', 'ATTRIB_E_UNSUPPORTED', 'a tensor of layer 1 in a one-layer model',
        m_tensors(add_tensor('blk.1.attn_norm.weight', [MC])))
    def qwen2(ts):
        kvs = [kv(p['key'].replace(b'llama.', b'qwen2.'), p['type'], p['value']) for p in model_kvs()]
        kvs[0] = kv('general.architecture', STR, b'qwen2')
        return model_file(kvs, ts)
    biased = model_tensors()
    for name, n in (('blk.0.attn_q.bias', MH * MD), ('blk.0.attn_k.bias', MHKV * MD), ('blk.0.attn_v.bias', MHKV * MD)):
        add_tensor(name, [n])(biased)
    add('qwen2_ok', 'ATTRIB_OK', 'qwen2 with its Q/K/V biases', qwen2(biased))
    add('qwen2_no_bias', 'ATTRIB_E_MISSING', 'qwen2 without attention biases', qwen2(model_tensors()))
    no_v = [t for t in biased if t[0] != 'blk.0.attn_v.bias']
    add('qwen2_no_v_bias', 'ATTRIB_E_MISSING', 'qwen2 without its V bias', qwen2(no_v))
    wrong_b = copy.deepcopy(biased)
    reshape('blk.0.attn_k.bias', [8])(wrong_b)
    add('qwen2_k_bias_8', 'ATTRIB_E_SHAPE', 'qwen2 K bias of 8 elements for one KV head of 4', qwen2(wrong_b))

    def nan_up(ts):
        ts[t_index(ts, 'blk.0.ffn_up.weight')][2][37] = float('nan')
    add('nan_weight_checked', 'ATTRIB_E_NUMERIC', 'a NaN in ffn_up with check_weights', m_tensors(nan_up), 1)
    add('nan_weight_unchecked', 'ATTRIB_OK', 'the same NaN without check_weights', m_tensors(nan_up), 0)

    def inf_embd(ts):
        ts[t_index(ts, 'token_embd.weight')][2][5] = float('-inf')
    add('inf_embd_checked', 'ATTRIB_E_NUMERIC', 'a -inf in token_embd with check_weights', m_tensors(inf_embd), 1)
    return out


def truncations(full, at, f):
    """Cuts of the base file at recorded offsets: (stem, status, what, bytes)."""
    nt, nk = len(f['tensors']), len(f['kvs'])
    bound = 24 + max(33 * nt, 14 * nk)
    ti, kvs = find_t(f, 'd.weight'), f['kvs']
    k_u32 = find_kv(f, 'general.alignment')
    k_u64 = find_kv(f, 'test.u64')
    k_str = find_kv(f, 'general.name')
    k_arr = find_kv(f, 'test.arr_f32')
    k_sarr = find_kv(f, 'tokenizer.ggml.tokens')
    pts = [
        ('empty', 0, 'ATTRIB_E_BAD_MAGIC', 'empty file'),
        ('in_magic', 2, 'ATTRIB_E_BAD_MAGIC', 'inside the magic'),
        ('in_version', 6, 'ATTRIB_E_TRUNCATED', 'inside the version'),
        ('in_tensor_count', 12, 'ATTRIB_E_TRUNCATED', 'inside the tensor count'),
        ('in_kv_count', 20, 'ATTRIB_E_TRUNCATED', 'inside the metadata count'),
        ('after_header', 24, 'ATTRIB_E_BAD_COUNT', 'right after the header: the counts cannot fit'),
        ('in_first_value', at['kv0.value'] + 10, 'ATTRIB_E_BAD_COUNT',
         'inside the first value, before the bytes the metadata count needs'),
        ('in_key_len', at['kv%d.key_len' % k_u32] + 3, 'ATTRIB_E_TRUNCATED', 'inside a key length'),
        ('in_key', at['kv%d.key' % k_u32] + 5, 'ATTRIB_E_TRUNCATED', 'inside a key'),
        ('in_value_type', at['kv%d.type' % k_u32] + 1, 'ATTRIB_E_TRUNCATED', 'inside a value type'),
        ('in_u32_value', at['kv%d.value' % k_u32] + 2, 'ATTRIB_E_TRUNCATED', 'inside a uint32 value'),
        ('in_u64_value', at['kv%d.value' % k_u64] + 7, 'ATTRIB_E_TRUNCATED', 'inside a uint64 value'),
        ('in_str_len', at['kv%d.str_len' % k_str] + 4, 'ATTRIB_E_TRUNCATED', 'inside a string length'),
        ('in_str_value', at['kv%d.value' % k_str] + 3, 'ATTRIB_E_TRUNCATED', 'inside a string value'),
        ('in_arr_type', at['kv%d.arr_type' % k_arr] + 2, 'ATTRIB_E_TRUNCATED', 'inside an array element type'),
        ('in_arr_n', at['kv%d.arr_n' % k_arr] + 5, 'ATTRIB_E_TRUNCATED', 'inside an array length'),
        ('in_arr_data', at['kv%d.el2' % k_arr] + 1, 'ATTRIB_E_TRUNCATED', 'inside float32 array elements'),
        ('in_str_arr_len', at['kv%d.el3.len' % k_sarr] + 4, 'ATTRIB_E_TRUNCATED',
         'inside a string-array element length'),
        ('in_str_arr_elem', at['kv%d.el3' % k_sarr] + 2, 'ATTRIB_E_TRUNCATED', 'inside a string-array element'),
        ('in_tensor_name_len', at['ti0.name_len'] + 1, 'ATTRIB_E_TRUNCATED', 'inside a tensor name length'),
        ('in_tensor_name', at['ti0.name'] + 4, 'ATTRIB_E_TRUNCATED', 'inside a tensor name'),
        ('in_n_dims', at['ti1.n_dims'] + 3, 'ATTRIB_E_TRUNCATED', 'inside n_dims'),
        ('in_dims', at['ti1.dims'] + 12, 'ATTRIB_E_TRUNCATED', 'inside the second dimension'),
        ('in_tensor_type', at['ti%d.type' % ti] + 2, 'ATTRIB_E_TRUNCATED', 'inside a tensor type'),
        ('in_tensor_offset', at['ti%d.offset' % ti] + 7, 'ATTRIB_E_TRUNCATED', 'inside the last tensor offset'),
        ('at_tinfo_end', at['tinfo_end'], 'ATTRIB_E_TRUNCATED', 'right after the tensor descriptions, before padding'),
        ('in_padding', at['tinfo_end'] + 1, 'ATTRIB_E_TRUNCATED', 'inside the padding before the data'),
        ('at_data_start', at['data'], 'ATTRIB_E_BAD_OFFSET', 'at the start of the data: every tensor lies outside it'),
        ('in_last_tensor', at['data'] + 350, 'ATTRIB_E_BAD_OFFSET', 'inside the last tensor\'s data'),
        ('last_byte_missing', len(full) - 1, 'ATTRIB_E_BAD_OFFSET', 'the final data byte is missing'),
    ]
    out = []
    for stem, cut, status, what in pts:
        assert 0 <= cut < len(full), stem
        if status == 'ATTRIB_E_TRUNCATED' and cut >= 24:
            assert cut >= bound, (stem, cut, bound)  # the count bound must not fire first
        out.append(('trunc_' + stem, status, 'cut at %d: %s' % (cut, what), full[:cut]))
    return out


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: make_crafted.py OUTDIR\n')
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    full, at = serialise(base())
    f = base()
    assert at['tinfo_end'] % 32 != 0, 'the base must have padding before its data'
    assert len(full) == at['data'] + 384

    rows = []
    for stem, status, what, desc in cases():
        if stem == 'str_len_past_eof_by_one':
            # The last string value claims one byte more than remains in the file.
            g = base()
            i = find_kv(g, 'test.str_empty')
            _, a2 = serialise(g)
            remain = len(full) - (a2['kv%d.str_len' % i] + 8)
            g['kvs'][i]['str_len'] = remain + 1
            desc = g
        elif stem == 'arr_n_past_eof':
            g = base()
            i = find_kv(g, 'test.arr_i32')
            _, a2 = serialise(g)
            remain = len(full) - a2['kv%d.arr_data' % i]
            n = remain // 4 + 1  # needs more bytes than remain, yet n <= remain
            assert n <= remain
            g['kvs'][i]['arr_n'] = n
            desc = g
        data = desc if isinstance(desc, bytes) else serialise(desc)[0]
        rows.append((stem + '.gguf', status, what, data))
    for stem, status, what, data in truncations(full, at, f):
        rows.append((stem + '.gguf', status, what, data))

    names = set()
    with open(os.path.join(outdir, 'expected.tsv'), 'w') as m:
        m.write('# file\texpected status\tdescription\n')
        for name, status, what, data in rows:
            assert name not in names, name
            names.add(name)
            with open(os.path.join(outdir, name), 'wb') as fh:
                fh.write(data)
            m.write('%s\t%s\t%s\n' % (name, status, what))
    n_model = 0
    with open(os.path.join(outdir, 'expected-model.tsv'), 'w') as m:
        m.write('# file\texpected status\tcheck_weights\tdescription\n')
        for stem, status, check, what, desc in model_cases():
            name = stem + '.gguf'
            assert name not in names, name
            names.add(name)
            with open(os.path.join(outdir, name), 'wb') as fh:
                fh.write(serialise(desc)[0])
            m.write('%s\t%s\t%d\t%s\n' % (name, status, check, what))
            n_model += 1
    print('wrote %d parser files and %d model files to %s' % (len(rows), n_model, outdir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
