#!/usr/bin/python3
"""make_crafted_hf.py -- builds crafted Hugging Face checkpoint directories.

Usage: make_crafted_hf.py OUTDIR

Writes one directory per case under OUTDIR and OUTDIR/expected-hf.tsv with
one row per case:

    path<TAB>expected status<TAB>known current status<TAB>description

`path` (relative to OUTDIR) is what attrib_model_load is given: a directory,
or a directory's config.json. `expected status` is the attrib_status name
the public contract (include/attrib.h) calls for. `known current status` is
'-' normally; where the loader is known to disagree with the contract (and
the disagreement has been reported), it names what the loader returns today,
so the test can tell a known divergence from a new regression and notices
when the divergence is fixed.

The base case, ok_base/, is a valid two-layer llama with hidden size 8,
2 heads of 4, 1 key/value head, FFN 16, a 6-token vocabulary, untied
embeddings, no tokenizer, and tensors in F32, F16 and BF16 (layout below).
Every other case differs from it in one respect: the safetensors header
(length, JSON, entries, dtypes, shapes, offsets, tiling), the tensor set
(missing, misshapen, surplus), config.json (syntax, missing keys, wrong
types, out-of-range values, unsupported options) or the sharded form
(model.safetensors.index.json and its shards).

Files are written from scratch with the standard library (json, struct) so
the expectations do not depend on the loader under test. Tensor values are
multiples of 1/8 in [-0.625, 0.625], exact in F16 and BF16:
value(seed, i) = (((7 * i + 3 * seed) % 11) - 5) / 8 for element i
(row-major) of the tensor with that seed; the seeds are listed in
base_tensors().
"""
import copy
import json
import os
import struct
import sys

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 8, 16, 2, 2, 1, 4, 6
QD, KVD = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM

BASE_CONFIG = {
    'architectures': ['LlamaForCausalLM'],
    'model_type': 'llama',
    'hidden_act': 'silu',
    'hidden_size': HIDDEN,
    'intermediate_size': FFN,
    'num_hidden_layers': LAYERS,
    'num_attention_heads': HEADS,
    'num_key_value_heads': KV_HEADS,
    'max_position_embeddings': 64,
    'vocab_size': VOCAB,
    'rms_norm_eps': 1e-05,
    'rope_theta': 10000.0,
    'rope_scaling': None,
    'tie_word_embeddings': False,
    'attention_bias': False,
    'mlp_bias': False,
    '_name_or_path': 'crafted-hf',
    'torch_dtype': 'float32',
}

ITEMSIZE = {'F32': 4, 'F16': 2, 'BF16': 2}


def value(seed, i):
    return (((7 * i + 3 * seed) % 11) - 5) / 8.0


def encode(dtype, n, seed):
    vals = [value(seed, i) for i in range(n)]
    if dtype == 'F32':
        return b''.join(struct.pack('<f', v) for v in vals)
    if dtype == 'F16':
        return b''.join(struct.pack('<e', v) for v in vals)
    if dtype == 'BF16':  # the top half of the F32 pattern (exact for these values)
        return b''.join(struct.pack('<f', v)[2:] for v in vals)
    raise ValueError(dtype)


def tensor(name, dtype, shape, seed):
    n = 1
    for d in shape:
        n *= d
    return {'name': name, 'dtype': dtype, 'shape': list(shape), 'data': encode(dtype, n, seed)}


def layer_tensors(l, bias=False):
    p = 'model.layers.%d.' % l
    s = 10 + 20 * l
    ts = [
        tensor(p + 'input_layernorm.weight', 'F32', [HIDDEN], s + 0),
        tensor(p + 'self_attn.q_proj.weight', 'BF16', [QD, HIDDEN], s + 1),
        tensor(p + 'self_attn.k_proj.weight', 'F16', [KVD, HIDDEN], s + 2),
        tensor(p + 'self_attn.v_proj.weight', 'F32', [KVD, HIDDEN], s + 3),
        tensor(p + 'self_attn.o_proj.weight', 'F16', [HIDDEN, QD], s + 4),
        tensor(p + 'post_attention_layernorm.weight', 'F16', [HIDDEN], s + 5),
        tensor(p + 'mlp.gate_proj.weight', 'BF16', [FFN, HIDDEN], s + 6),
        tensor(p + 'mlp.up_proj.weight', 'F32', [FFN, HIDDEN], s + 7),
        tensor(p + 'mlp.down_proj.weight', 'F16', [HIDDEN, FFN], s + 8),
    ]
    if bias:
        ts += [tensor(p + 'self_attn.q_proj.bias', 'F32', [QD], s + 11),
               tensor(p + 'self_attn.k_proj.bias', 'F32', [KVD], s + 12),
               tensor(p + 'self_attn.v_proj.bias', 'F32', [KVD], s + 13)]
    return ts


def base_tensors(bias=False):
    """Embedding BF16 (seed 0), lm_head F16 (seed 1), final norm F32 (seed 2),
    then per layer l seeds 10+20l+k in the order of layer_tensors."""
    ts = [tensor('model.embed_tokens.weight', 'BF16', [VOCAB, HIDDEN], 0),
          tensor('lm_head.weight', 'F16', [VOCAB, HIDDEN], 1),
          tensor('model.norm.weight', 'F32', [HIDDEN], 2)]
    for l in range(LAYERS):
        ts += layer_tensors(l, bias)
    return ts


def find(ts, name):
    for i, t in enumerate(ts):
        if t['name'] == name:
            return i
    raise KeyError(name)


# ---------------------------------------------------------------------------
# Serialisation. Data is laid out in list order; header keys are written in
# sorted order (as the reference writer does), so the reader must sort by
# offset itself. Per-entry overrides: 'entry' replaces the whole JSON value,
# 'offsets' replaces data_offsets, 'drop' removes a field, 'set' sets fields.

def safetensors(ts, metadata=True, pad_to=8, hlen=None, header_text=None, trailing=b'', gap_before=None,
                data_override=None):
    """Returns the file bytes. gap_before: {name: n} inserts n zero bytes
    before that tensor's data (offsets follow). hlen overrides the length
    field; header_text replaces the JSON text (bytes)."""
    header = {}
    if metadata:
        header['__metadata__'] = {'format': 'pt'}
    data = bytearray()
    entries = {}
    for t in ts:
        if gap_before and t['name'] in gap_before:
            data += b'\0' * gap_before[t['name']]
        begin = len(data)
        data += t['data']
        e = {'dtype': t['dtype'], 'shape': t['shape'], 'data_offsets': [begin, len(data)]}
        if 'offsets' in t:
            e['data_offsets'] = t['offsets']
        for k in t.get('drop', ()):
            del e[k]
        e.update(t.get('set', {}))
        entries[t['name']] = t.get('entry', e)
    for k in sorted(entries):
        header[k] = entries[k]
    text = header_text if header_text is not None else json.dumps(header, separators=(',', ':')).encode()
    if pad_to:
        text += b' ' * ((pad_to - len(text) % pad_to) % pad_to)
    if data_override is not None:
        data = data_override
    n = len(text) if hlen is None else hlen
    return struct.pack('<Q', n) + text + bytes(data) + trailing


def config_bytes(cfg):
    return (json.dumps(cfg, indent=2) + '\n').encode()


def hf(cfg_edit=None, ts=None, st=None, files=None, drop=()):
    """A case's files: {relative name: bytes or None (a directory)}."""
    cfg = copy.deepcopy(BASE_CONFIG)
    if cfg_edit:
        for k, v in cfg_edit.items():
            if v is DELETE:
                cfg.pop(k, None)
            else:
                cfg[k] = v
    out = {'config.json': config_bytes(cfg),
           'model.safetensors': safetensors(ts if ts is not None else base_tensors(), **(st or {}))}
    out.update(files or {})
    for d in drop:
        out.pop(d, None)
    return out


DELETE = object()


def edit_tensor(name, **changes):
    ts = base_tensors()
    ts[find(ts, name)].update(changes)
    return ts


def without(*names):
    return [t for t in base_tensors() if t['name'] not in names]


def with_raw_config(text):
    f = hf()
    f['config.json'] = text
    return f


def with_header(text):
    """A safetensors file whose header is TEXT (bytes) followed by the base data."""
    return hf(st={'header_text': text})


def sharded(split_at_layer=1, index_edit=None, shard_edit=None, ts=None):
    """Two shards: everything before layer SPLIT_AT_LAYER, then the rest.
    index_edit(weight_map) may change the map; shard_edit(files) the files."""
    ts = ts if ts is not None else base_tensors()
    cut = next(i for i, t in enumerate(ts) if t['name'].startswith('model.layers.%d.' % split_at_layer))
    names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
    parts = [ts[:cut], ts[cut:]]
    files = {'config.json': config_bytes(BASE_CONFIG)}
    wm = {}
    for n, part in zip(names, parts):
        files[n] = safetensors(part)
        for t in part:
            wm[t['name']] = n
    if index_edit:
        index_edit(wm)
    files['model.safetensors.index.json'] = json.dumps(
        {'metadata': {'total_size': sum(len(t['data']) for t in ts)}, 'weight_map': wm}, indent=2).encode()
    if shard_edit:
        shard_edit(files)
    return files


# ---------------------------------------------------------------------------
# Cases: (path, expected, known current status or '-', description, files).

def cases():
    out = []

    def add(name, status, what, files, path=None, known='-'):
        out.append((path or name, status, known, what, name, files))

    OK = 'ATTRIB_OK'
    # ---- valid directories
    add('ok_base', OK, 'the base: untied llama, F32/F16/BF16 tensors', hf())
    add('ok_config_path', OK, 'the base loaded through its config.json path', hf(), path='ok_config_path/config.json')
    add('ok_sharded', OK, 'the base split over two shards with model.safetensors.index.json', sharded())
    add('ok_tied_lm_head_only', OK, 'tied, only lm_head.weight stored (as TinyStories-656K)',
        hf({'tie_word_embeddings': True}, ts=without('model.embed_tokens.weight')))
    add('ok_tied_embed_only', OK, 'tied, only model.embed_tokens.weight stored',
        hf({'tie_word_embeddings': True}, ts=without('lm_head.weight')))
    add('ok_unaligned', OK, 'header length 8k+1: every tensor starts at an odd address', unaligned())
    add('ok_no_metadata', OK, 'header without __metadata__', hf(st={'metadata': False}))
    add('ok_llama3_rope', OK, 'rope_scaling llama3 with valid factors',
        hf({'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                             'original_max_position_embeddings': 32}}))
    add('ok_qwen2', OK, 'model_type qwen2 with q/k/v biases', hf({'model_type': 'qwen2'}, ts=base_tensors(bias=True)))
    add('ok_mistral', OK, 'model_type mistral (a llama)', hf({'model_type': 'mistral'}))
    add('ok_inv_freq', OK, 'old checkpoint storing model.layers.N.self_attn.rotary_emb.inv_freq (ignored)',
        hf(ts=base_tensors() + [tensor('model.layers.%d.self_attn.rotary_emb.inv_freq' % l, 'F32', [HEAD_DIM // 2], 9)
                                for l in range(LAYERS)]))
    add('ok_defaults', OK, 'optional keys absent: HF defaults (2048 positions, eps 1e-6, theta 10000, silu)',
        hf({'max_position_embeddings': DELETE, 'rms_norm_eps': DELETE, 'rope_theta': DELETE, 'hidden_act': DELETE,
            'rope_scaling': DELETE, 'tie_word_embeddings': DELETE, 'attention_bias': DELETE, 'mlp_bias': DELETE}))

    # ---- safetensors header framing
    add('st_empty', 'ATTRIB_E_TRUNCATED', 'model.safetensors is empty', hf(files={'model.safetensors': b''}))
    add('st_7_bytes', 'ATTRIB_E_TRUNCATED', 'model.safetensors shorter than the 8-byte length',
        hf(files={'model.safetensors': b'\x10\0\0\0\0\0\0'}))
    full = safetensors(base_tensors())
    add('st_hlen_past_eof', 'ATTRIB_E_TRUNCATED', 'header length one byte more than the file holds',
        hf(files={'model.safetensors': struct.pack('<Q', len(full) - 8 + 1) + full[8:]}))
    add('st_hlen_over_limit', 'ATTRIB_E_LIMIT', 'header length 100 MiB + 1 (over the limit)',
        hf(st={'hlen': (100 << 20) + 1}))
    add('st_hlen_max', 'ATTRIB_E_LIMIT', 'header length 2^64-1', hf(st={'hlen': (1 << 64) - 1}))
    add('st_header_zero', 'ATTRIB_E_BAD_JSON', 'header length 0', hf(st={'header_text': b'', 'pad_to': 0}))
    add('st_header_not_json', 'ATTRIB_E_BAD_JSON', 'header is not JSON', with_header(b'{"a": [1, 2'))
    add('st_header_array', 'ATTRIB_E_BAD_JSON', 'header is a JSON array', with_header(b'[]'))
    add('st_header_nul', 'ATTRIB_E_BAD_JSON', 'header contains a NUL byte', with_header(b'{"a\x00b": 1}'))
    base_hdr = safetensors(base_tensors())
    n0 = struct.unpack('<Q', base_hdr[:8])[0]
    text = base_hdr[8:8 + n0].rstrip()
    i = text.index(b'"model.norm.weight":')
    j = text.index(b'}', i) + 1
    dup_text = text[:j] + b',' + text[i:j] + text[j:]
    add('st_duplicate_tensor', 'ATTRIB_E_DUPLICATE', 'header names model.norm.weight twice',
        with_header(dup_text))

    # ---- safetensors entries
    norm = 'model.norm.weight'
    add('st_entry_not_object', 'ATTRIB_E_BAD_JSON', 'an entry is a number', hf(ts=edit_tensor(norm, entry=5)))
    add('st_no_dtype', 'ATTRIB_E_BAD_JSON', 'entry without dtype', hf(ts=edit_tensor(norm, drop=['dtype'])))
    add('st_no_shape', 'ATTRIB_E_BAD_JSON', 'entry without shape', hf(ts=edit_tensor(norm, drop=['shape'])))
    add('st_no_offsets', 'ATTRIB_E_BAD_JSON', 'entry without data_offsets', hf(ts=edit_tensor(norm, drop=['data_offsets'])))
    add('st_offsets_one', 'ATTRIB_E_BAD_JSON', 'data_offsets with one element',
        hf(ts=edit_tensor(norm, set={'data_offsets': [0]})))
    add('st_offsets_float', 'ATTRIB_E_BAD_JSON', 'data_offsets given as floats', hf(ts=float_offsets(base_tensors(), norm)))
    add('st_dtype_number', 'ATTRIB_E_BAD_JSON', 'dtype is a number', hf(ts=edit_tensor(norm, set={'dtype': 0})))
    add('st_dtype_i64', 'ATTRIB_E_UNSUPPORTED', 'dtype I64', hf(ts=edit_tensor(norm, set={'dtype': 'I64'})))
    add('st_dtype_f64', 'ATTRIB_E_UNSUPPORTED', 'dtype F64 (8-byte floats)', hf(ts=edit_tensor(norm, set={'dtype': 'F64'})))
    add('st_dtype_lowercase', 'ATTRIB_E_UNSUPPORTED', 'dtype "f32" (names are upper case)',
        hf(ts=edit_tensor(norm, set={'dtype': 'f32'})))
    add('st_dims_0', 'ATTRIB_E_BAD_DIMS', 'shape [] (0 dimensions)', hf(ts=edit_tensor(norm, set={'shape': []})))
    add('st_dims_5', 'ATTRIB_E_BAD_DIMS', 'shape with 5 dimensions',
        hf(ts=edit_tensor(norm, set={'shape': [1, 1, 1, 1, 8]})))
    add('st_dim_zero', 'ATTRIB_E_BAD_DIMS', 'a zero dimension', hf(ts=edit_tensor(norm, set={'shape': [0]})))
    add('st_dim_negative', 'ATTRIB_E_BAD_DIMS', 'a negative dimension',
        hf(ts=edit_tensor('lm_head.weight', set={'shape': [-6, 8]})))
    add('st_dim_string', 'ATTRIB_E_BAD_DIMS', 'a dimension given as a string', hf(ts=edit_tensor(norm, set={'shape': ['8']})))
    add('st_dim_float', 'ATTRIB_E_BAD_DIMS', 'a dimension given as 8.0', hf(ts=edit_tensor(norm, set={'shape': [8.0]})))
    add('st_dims_overflow', 'ATTRIB_E_BAD_DIMS', 'shape [2^32, 2^32, 2^32]: element count overflows',
        hf(ts=edit_tensor(norm, set={'shape': [1 << 32, 1 << 32, 1 << 32]})))

    # ---- offsets and tiling (data_size = bytes after the header)
    add('st_begin_negative', 'ATTRIB_E_BAD_OFFSET', 'data_offsets [-4, 28] (span right for F32 [8])',
        hf(ts=edit_tensor(norm, offsets=[-4, 28])))
    total = sum(len(t['data']) for t in base_tensors())
    last = base_tensors()[-1]['name']
    add('st_end_past_data', 'ATTRIB_E_BAD_OFFSET', 'the last tensor ends 2 bytes past the data',
        hf(ts=edit_tensor(last, offsets=[total - len(base_tensors()[-1]['data']) + 2, total + 2])))
    add('st_begin_after_end', 'ATTRIB_E_BAD_OFFSET', 'data_offsets [64, 32]', hf(ts=edit_tensor(norm, offsets=[64, 32])))
    add('st_offsets_huge', 'ATTRIB_E_BAD_OFFSET', 'data_offsets [0, 2^62]', hf(ts=edit_tensor(norm, offsets=[0, 1 << 62])))
    add('st_size_mismatch', 'ATTRIB_E_SHAPE', 'model.norm.weight spans 30 bytes, F32 [8] needs 32 (tiling kept)',
        hf(ts=shrink(norm, 2)))
    add('st_overlap_partial', 'ATTRIB_E_OVERLAP', 'a tensor starts 4 bytes inside the previous one',
        hf(ts=overlap_partial()))
    add('st_overlap_alias', 'ATTRIB_E_OVERLAP', 'two tensors with the same offsets (rest tiles exactly)',
        hf(ts=overlap_alias()))
    add('st_gap', 'ATTRIB_E_BAD_OFFSET', '4 unused bytes between two tensors (offsets do not tile)',
        hf(st={'gap_before': {norm: 4}}))
    add('st_leading_gap', 'ATTRIB_E_BAD_OFFSET', 'the first tensor starts at 4 (offsets do not tile)',
        hf(st={'gap_before': {'model.embed_tokens.weight': 4}}))
    add('st_trailing_bytes', 'ATTRIB_E_BAD_OFFSET', '4 bytes after the last tensor (offsets do not tile)',
        hf(st={'trailing': b'\0' * 4}))
    add('st_is_directory', 'ATTRIB_E_IO', 'model.safetensors is a directory', hf(files={'model.safetensors': None}))

    # ---- tensor set and shapes against config.json
    add('t_missing_k_proj', 'ATTRIB_E_MISSING', 'layer 1 k_proj missing', hf(ts=without('model.layers.1.self_attn.k_proj.weight')))
    add('t_missing_norm', 'ATTRIB_E_MISSING', 'model.norm.weight missing', hf(ts=without(norm)))
    add('t_missing_ffn_norm', 'ATTRIB_E_MISSING', 'layer 0 post_attention_layernorm missing',
        hf(ts=without('model.layers.0.post_attention_layernorm.weight')))
    add('t_missing_embed_and_head', 'ATTRIB_E_MISSING', 'neither embed_tokens nor lm_head (tied)',
        hf({'tie_word_embeddings': True}, ts=without('model.embed_tokens.weight', 'lm_head.weight')))
    add('t_untied_no_lm_head', 'ATTRIB_E_MISSING', 'untied without lm_head.weight', hf(ts=without('lm_head.weight')))
    add('t_untied_no_embed', 'ATTRIB_E_MISSING', 'untied without model.embed_tokens.weight',
        hf(ts=without('model.embed_tokens.weight')))
    add('t_up_transposed', 'ATTRIB_E_SHAPE', 'layer 0 up_proj stored as [8, 16] instead of [16, 8]',
        hf(ts=edit_tensor('model.layers.0.mlp.up_proj.weight', shape=[HIDDEN, FFN])))
    add('t_q_proj_3d', 'ATTRIB_E_SHAPE', 'layer 0 q_proj with shape [1, 8, 8]',
        hf(ts=edit_tensor('model.layers.0.self_attn.q_proj.weight', shape=[1, QD, HIDDEN])))
    add('t_norm_2d', 'ATTRIB_E_SHAPE', 'model.norm.weight with shape [1, 8]', hf(ts=edit_tensor(norm, shape=[1, HIDDEN])))
    add('t_vocab_mismatch', 'ATTRIB_E_SHAPE', 'vocab_size 7 but 6 embedding rows', hf({'vocab_size': 7}))
    add('t_kv_heads_mismatch', 'ATTRIB_E_SHAPE', 'num_key_value_heads 2 but k_proj has 4 rows', hf({'num_key_value_heads': 2}))
    add('t_qwen2_no_bias', 'ATTRIB_E_MISSING', 'model_type qwen2 without q/k/v biases', hf({'model_type': 'qwen2'}))
    add('t_attention_bias_missing', 'ATTRIB_E_MISSING', 'attention_bias true without bias tensors',
        hf({'attention_bias': True}))
    bt = base_tensors(bias=True)
    bt[find(bt, 'model.layers.1.self_attn.v_proj.bias')] = tensor('model.layers.1.self_attn.v_proj.bias', 'F32', [KVD + 1], 7)
    add('t_bias_length', 'ATTRIB_E_SHAPE', 'qwen2 v_proj bias of 5 elements (4 expected)', hf({'model_type': 'qwen2'}, ts=bt))
    add('t_extra_tensor', 'ATTRIB_E_UNSUPPORTED', 'a q_norm tensor the llama graph would silently ignore',
        hf(ts=base_tensors() + [tensor('model.layers.0.self_attn.q_norm.weight', 'F32', [HEAD_DIM], 9)]))
    add('t_extra_layer', 'ATTRIB_E_UNSUPPORTED', 'tensors of a third layer while num_hidden_layers is 2',
        hf(ts=base_tensors() + layer_tensors(2)))
    add('t_layer_leading_zero', 'ATTRIB_E_UNSUPPORTED', 'an extra model.layers.01.input_layernorm.weight (not layer 1)',
        hf(ts=base_tensors() + [tensor('model.layers.01.input_layernorm.weight', 'F32', [HIDDEN], 9)]))
    add('t_extra_top_level', 'ATTRIB_E_UNSUPPORTED', 'an extra model.bias tensor outside the layers',
        hf(ts=base_tensors() + [tensor('model.bias', 'F32', [HIDDEN], 9)]))
    add('t_inv_freq_extra_layer', 'ATTRIB_E_UNSUPPORTED', 'rotary_emb.inv_freq of a third layer',
        hf(ts=base_tensors() + [tensor('model.layers.2.self_attn.rotary_emb.inv_freq', 'F32', [HEAD_DIM // 2], 9)]))

    # ---- config.json
    add('cfg_missing', 'ATTRIB_E_MISSING', 'no config.json', hf(drop=['config.json']))
    add('cfg_is_directory', 'ATTRIB_E_IO', 'config.json is a directory (exists but cannot be read)',
        hf(files={'config.json': None}))
    add('cfg_not_json', 'ATTRIB_E_BAD_JSON', 'config.json is not JSON', with_raw_config(b'{"model_type": "llama",'))
    add('cfg_array', 'ATTRIB_E_BAD_JSON', 'config.json is an array', with_raw_config(b'[1, 2]'))
    add('cfg_duplicate_key', 'ATTRIB_E_DUPLICATE', 'config.json names hidden_size twice',
        with_raw_config(replace_once(config_bytes(BASE_CONFIG), b'"hidden_size": 8,', b'"hidden_size": 8, "hidden_size": 8,')))
    add('cfg_duplicate_nested', 'ATTRIB_E_DUPLICATE', 'config.json rope_scaling names factor twice',
        with_raw_config(replace_once(config_bytes(BASE_CONFIG), b'"rope_scaling": null',
                                     b'"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "factor": 8.0}')))
    add('cfg_too_large', 'ATTRIB_E_LIMIT', 'config.json of 4 MiB + 1 bytes (valid JSON padded with spaces)',
        with_raw_config(pad_json(config_bytes(BASE_CONFIG), (4 << 20) + 1)))
    add('cfg_no_model_type', 'ATTRIB_E_MISSING', 'model_type absent', hf({'model_type': DELETE}))
    add('cfg_model_type_number', 'ATTRIB_E_METADATA_TYPE', 'model_type is a number', hf({'model_type': 7}))
    add('cfg_model_type_null', 'ATTRIB_E_MISSING', 'model_type is null', hf({'model_type': None}))
    add('cfg_model_type_gpt2', 'ATTRIB_E_UNSUPPORTED', 'model_type gpt2', hf({'model_type': 'gpt2'}))
    add('cfg_hidden_act_gelu', 'ATTRIB_E_UNSUPPORTED', 'hidden_act gelu', hf({'hidden_act': 'gelu'}))
    add('cfg_hidden_act_number', 'ATTRIB_E_METADATA_TYPE', 'hidden_act is a number', hf({'hidden_act': 1}))
    add('cfg_hidden_act_list', 'ATTRIB_E_METADATA_TYPE', 'hidden_act is ["silu"]', hf({'hidden_act': ['silu']}))
    add('cfg_no_layers', 'ATTRIB_E_MISSING', 'num_hidden_layers absent', hf({'num_hidden_layers': DELETE}))
    add('cfg_no_hidden', 'ATTRIB_E_MISSING', 'hidden_size absent', hf({'hidden_size': DELETE}))
    add('cfg_no_ffn', 'ATTRIB_E_MISSING', 'intermediate_size absent', hf({'intermediate_size': DELETE}))
    add('cfg_no_heads', 'ATTRIB_E_MISSING', 'num_attention_heads absent', hf({'num_attention_heads': DELETE}))
    add('cfg_no_vocab', 'ATTRIB_E_MISSING', 'vocab_size absent', hf({'vocab_size': DELETE}))
    add('cfg_hidden_string', 'ATTRIB_E_METADATA_TYPE', 'hidden_size is "8"', hf({'hidden_size': '8'}))
    add('cfg_hidden_float', 'ATTRIB_E_METADATA_TYPE', 'hidden_size is 8.0', hf({'hidden_size': 8.0}))
    add('cfg_layers_bool', 'ATTRIB_E_METADATA_TYPE', 'num_hidden_layers is true', hf({'num_hidden_layers': True}))
    add('cfg_eps_string', 'ATTRIB_E_METADATA_TYPE', 'rms_norm_eps is a string', hf({'rms_norm_eps': '1e-5'}))
    add('cfg_theta_string', 'ATTRIB_E_METADATA_TYPE', 'rope_theta is a string', hf({'rope_theta': '10000'}))
    add('cfg_tie_string', 'ATTRIB_E_METADATA_TYPE', 'tie_word_embeddings is "yes"', hf({'tie_word_embeddings': 'yes'}))
    add('cfg_tie_number', 'ATTRIB_E_METADATA_TYPE', 'tie_word_embeddings is 1', hf({'tie_word_embeddings': 1}))
    add('cfg_attention_bias_string', 'ATTRIB_E_METADATA_TYPE', 'attention_bias is "false"',
        hf({'attention_bias': 'false'}))
    add('cfg_mlp_bias_number', 'ATTRIB_E_METADATA_TYPE', 'mlp_bias is 0', hf({'mlp_bias': 0}))
    add('cfg_rope_interleaved_string', 'ATTRIB_E_METADATA_TYPE', 'rope_interleaved is "true"',
        hf({'rope_interleaved': 'true'}))
    add('cfg_name_number', 'ATTRIB_E_METADATA_TYPE', '_name_or_path is a number', hf({'_name_or_path': 5}))
    add('cfg_rope_scaling_string', 'ATTRIB_E_METADATA_TYPE', 'rope_scaling is the string "llama3"',
        hf({'rope_scaling': 'llama3'}))
    add('cfg_rope_type_number', 'ATTRIB_E_METADATA_TYPE', 'rope_scaling rope_type is a number',
        hf({'rope_scaling': {'rope_type': 3, 'factor': 8.0}}))
    add('cfg_rope_llama3_factor_string', 'ATTRIB_E_METADATA_TYPE', 'rope_scaling llama3 with factor "8"',
        hf({'rope_scaling': {'rope_type': 'llama3', 'factor': '8', 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                             'original_max_position_embeddings': 32}}))
    add('cfg_rope_llama3_no_orig', 'ATTRIB_E_MISSING', 'rope_scaling llama3 without original_max_position_embeddings',
        hf({'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0}}))
    add('cfg_heads_zero', 'ATTRIB_E_BAD_VALUE', 'num_attention_heads 0', hf({'num_attention_heads': 0}))
    add('cfg_layers_5000', 'ATTRIB_E_BAD_VALUE', 'num_hidden_layers 5000', hf({'num_hidden_layers': 5000}))
    add('cfg_vocab_negative', 'ATTRIB_E_BAD_VALUE', 'vocab_size -6', hf({'vocab_size': -6}))
    add('cfg_hidden_2e31', 'ATTRIB_E_BAD_VALUE', 'hidden_size 2^31', hf({'hidden_size': 1 << 31}))
    add('cfg_kv_heads_over', 'ATTRIB_E_BAD_VALUE', 'num_key_value_heads 3 with 2 heads', hf({'num_key_value_heads': 3}))
    add('cfg_head_dim_odd', 'ATTRIB_E_BAD_VALUE', 'head_dim 3 (RoPE needs an even dimension)', hf({'head_dim': 3}))
    add('cfg_positions_zero', 'ATTRIB_E_BAD_VALUE', 'max_position_embeddings 0', hf({'max_position_embeddings': 0}))
    add('cfg_eps_zero', 'ATTRIB_E_BAD_VALUE', 'rms_norm_eps 0', hf({'rms_norm_eps': 0.0}))
    add('cfg_eps_negative', 'ATTRIB_E_BAD_VALUE', 'rms_norm_eps -1e-5', hf({'rms_norm_eps': -1e-5}))
    add('cfg_theta_half', 'ATTRIB_E_BAD_VALUE', 'rope_theta 0.5', hf({'rope_theta': 0.5}))
    add('cfg_theta_1e300', 'ATTRIB_E_BAD_VALUE', 'rope_theta 1e300 (infinite as float)', hf({'rope_theta': 1e300}))
    add('cfg_rope_linear', 'ATTRIB_E_UNSUPPORTED', 'rope_scaling linear', hf({'rope_scaling': {'type': 'linear', 'factor': 2.0}}))
    add('cfg_rope_llama3_factor', 'ATTRIB_E_BAD_VALUE', 'rope_scaling llama3 with factor 0.5',
        hf({'rope_scaling': {'rope_type': 'llama3', 'factor': 0.5, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                             'original_max_position_embeddings': 32}}))
    add('cfg_rope_llama3_hi_lo', 'ATTRIB_E_BAD_VALUE', 'rope_scaling llama3 with high_freq_factor < low_freq_factor',
        hf({'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 4.0, 'high_freq_factor': 1.0,
                             'original_max_position_embeddings': 32}}))
    add('cfg_mlp_bias', 'ATTRIB_E_UNSUPPORTED', 'mlp_bias true', hf({'mlp_bias': True}))

    # ---- sharded checkpoints
    add('idx_not_json', 'ATTRIB_E_BAD_JSON', 'index.json is not JSON',
        sharded(shard_edit=lambda f: f.update({'model.safetensors.index.json': b'{"weight_map": {'})))
    add('idx_no_weight_map', 'ATTRIB_E_BAD_JSON', 'index.json without weight_map',
        sharded(shard_edit=lambda f: f.update({'model.safetensors.index.json': b'{"metadata": {}}'})))
    add('idx_shard_slash', 'ATTRIB_E_BAD_JSON', 'a shard name with a slash (../ escape)',
        sharded(index_edit=lambda wm: wm.update({norm: '../ok_base/model.safetensors'})))
    add('idx_shard_dotdot', 'ATTRIB_E_BAD_JSON', 'a shard named ".."', sharded(index_edit=lambda wm: wm.update({norm: '..'})))
    add('idx_shard_empty', 'ATTRIB_E_BAD_JSON', 'an empty shard name', sharded(index_edit=lambda wm: wm.update({norm: ''})))
    add('idx_shard_number', 'ATTRIB_E_BAD_JSON', 'a shard name that is a number',
        sharded(index_edit=lambda wm: wm.update({norm: 3})))
    add('idx_missing_shard', 'ATTRIB_E_MISSING', 'the index names a shard that does not exist',
        sharded(shard_edit=lambda f: f.pop('model-00002-of-00002.safetensors')))
    add('idx_shard_is_directory', 'ATTRIB_E_IO', 'the second shard is a directory (exists but cannot be read)',
        sharded(shard_edit=lambda f: f.update({'model-00002-of-00002.safetensors': None})))
    add('idx_duplicate_key', 'ATTRIB_E_DUPLICATE', 'index.json names model.norm.weight twice in weight_map',
        sharded(shard_edit=lambda f: f.update({'model.safetensors.index.json': replace_once(
            f['model.safetensors.index.json'], b'"model.norm.weight": "model-00001-of-00002.safetensors",',
            b'"model.norm.weight": "model-00001-of-00002.safetensors", '
            b'"model.norm.weight": "model-00001-of-00002.safetensors",')})))
    add('idx_bad_shard', 'ATTRIB_E_TRUNCATED', 'the second shard\'s header length runs past its end',
        sharded(shard_edit=lambda f: f.update({'model-00002-of-00002.safetensors':
                                              struct.pack('<Q', 1 << 20) + f['model-00002-of-00002.safetensors'][8:]})))
    add('idx_tensor_twice', 'ATTRIB_E_DUPLICATE', 'model.norm.weight stored in both shards',
        sharded(ts=base_tensors() + [tensor(norm, 'F32', [HIDDEN], 2)]))
    add('no_weights', 'ATTRIB_E_MISSING', 'config.json but neither model.safetensors nor an index',
        hf(drop=['model.safetensors']))
    return out


def unaligned():
    """The base with a header of 8k+1 bytes, so all data is at odd addresses."""
    st = safetensors(base_tensors(), pad_to=0)
    raw = st[8:8 + struct.unpack('<Q', st[:8])[0]]
    raw += b' ' * ((8 - len(raw) % 8) % 8 + 1)
    return hf(st={'header_text': raw, 'pad_to': 0})


def float_offsets(ts, name):
    ts = copy.deepcopy(ts)
    begin = 0
    for t in ts:
        if t['name'] == name:
            t['offsets'] = [float(begin), float(begin + len(t['data']))]
        begin += len(t['data'])
    return ts


def shrink(name, nbytes):
    """NAME's data NBYTES shorter; every offset stays consistent."""
    ts = base_tensors()
    i = find(ts, name)
    ts[i]['data'] = ts[i]['data'][:-nbytes]
    return ts


def overlap_partial():
    """model.norm.weight starts 4 bytes before the end of lm_head."""
    ts = base_tensors()
    begin = 0
    for t in ts:
        if t['name'] == 'model.norm.weight':
            t['offsets'] = [begin - 4, begin - 4 + len(t['data'])]
        begin += len(t['data'])
    return ts


def overlap_alias():
    """Layer 1's input_layernorm (F32 [8]) has no bytes of its own: its
    offsets are model.norm.weight's (same dtype and shape), so apart from
    the shared span the data still tiles exactly."""
    ts = base_tensors()
    out, begin, norm_at = [], 0, None
    for t in ts:
        if t['name'] == 'model.norm.weight':
            norm_at = [begin, begin + len(t['data'])]
        if t['name'] == 'model.layers.1.input_layernorm.weight':
            t = dict(t, data=b'', offsets=norm_at)
        out.append(t)
        begin += len(t['data'])
    return out


def replace_once(text, old, new):
    """TEXT with its single occurrence of OLD replaced (so an edit cannot
    silently miss and leave a valid file)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def pad_json(text, size):
    text = text.rstrip()
    assert text.endswith(b'}')
    return text[:-1] + b' ' * (size - len(text)) + b'}'


def write_case(outdir, name, files):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    for rel, data in files.items():
        p = os.path.join(d, rel)
        if data is None:
            os.makedirs(p, exist_ok=True)
            continue
        with open(p, 'wb') as fh:
            fh.write(data)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: make_crafted_hf.py OUTDIR\n')
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rows = cases()
    names = set()
    with open(os.path.join(outdir, 'expected-hf.tsv'), 'w') as m:
        m.write('# path\texpected status\tknown current status\tdescription\n')
        for path, status, known, what, name, files in rows:
            assert name not in names, name
            names.add(name)
            write_case(outdir, name, files)
            m.write('%s\t%s\t%s\t%s\n' % (path, status, known, what))
    print('wrote %d Hugging Face cases to %s' % (len(rows), outdir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
