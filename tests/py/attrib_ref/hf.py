"""Independent reader of Hugging Face checkpoints: config.json and
safetensors (single file or sharded with model.safetensors.index.json).

safetensors layout: u64 little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the data buffer; offsets are relative to the end of the header.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


class SafetensorsError(Exception):
    pass


def read_safetensors(path, names=None):
    """Returns {name: float64 ndarray} for every tensor (or only NAMES)."""
    out = {}
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 8:
        raise SafetensorsError("%s: too short" % path)
    (n,) = struct.unpack_from("<Q", data, 0)
    if 8 + n > len(data):
        raise SafetensorsError("%s: header length %d beyond file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if names is not None and name not in names:
            continue
        b, e = info["data_offsets"]
        raw = np.frombuffer(data, dtype=np.uint8, count=e - b, offset=base + b)
        dt = info["dtype"]
        shape = tuple(info["shape"])
        if dt in _DTYPES:
            arr = raw.view(_DTYPES[dt]).astype(np.float64)
        elif dt == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise SafetensorsError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        if arr.size != int(np.prod(shape)):
            raise SafetensorsError("%s: tensor %s size mismatch" % (path, name))
        out[name] = arr.reshape(shape)
    return out


def load_dir(path):
    """Loads a HF directory (or its config.json). Returns (config dict, tensors dict)."""
    if os.path.isfile(path):
        path = os.path.dirname(os.path.abspath(path))
    with open(os.path.join(path, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    index = os.path.join(path, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index, encoding="utf-8") as fh:
            weight_map = json.load(fh)["weight_map"]
        for shard in sorted(set(weight_map.values())):
            wanted = {k for k, v in weight_map.items() if v == shard}
            tensors.update(read_safetensors(os.path.join(path, shard), wanted))
    else:
        tensors = read_safetensors(os.path.join(path, "model.safetensors"))
    return config, tensors


def llama3_rope_factors(head_dim, base, rope_scaling):
    """Per-dimension divisors of the RoPE frequencies for rope_type llama3
    (as GGUF stores them in rope_freqs.weight): theta_i / factor_i."""
    factor = float(rope_scaling.get("factor", 8.0))
    low = float(rope_scaling.get("low_freq_factor", 1.0))
    high = float(rope_scaling.get("high_freq_factor", 4.0))
    old_ctx = float(rope_scaling.get("original_max_position_embeddings", 8192))
    low_wavelen = old_ctx / low
    high_wavelen = old_ctx / high
    out = []
    for i in range(head_dim // 2):
        freq = base ** (-2.0 * i / head_dim)
        wavelen = 2.0 * np.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1.0 / ((1.0 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float64)
