"""Writes small random-weight Hugging Face checkpoint directories
(config.json + safetensors, optionally sharded with an index) for the tests.

    write_hf_dir(path, n_embd=128, n_layer=2, n_head=4, n_head_kv=2, n_ff=256,
                 n_vocab=512, model_type="llama", dtype="F32", tied=True,
                 tied_store="embed", head_dim=None, rope_scaling=None,
                 rope_theta=10000.0, shards=1, seed=0)

tied_store says which matrix a tied checkpoint stores: "embed"
(model.embed_tokens.weight, the usual case) or "lm_head" (as the shared
TinyStories-656K does). Weights use the same scales as tools/make_gguf.py.
"""
import json
import os
import struct

import numpy as np


def _encode(a, dtype):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    if dtype == "BF16":
        u = a.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        return u.astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    """tensors: list of (name, float32 array)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        raw = _encode(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)))
        fh.write(h)
        for b in blobs:
            fh.write(b)


def write_hf_dir(path, n_embd=128, n_layer=2, n_head=4, n_head_kv=2, n_ff=256, n_vocab=512,
                 model_type="llama", dtype="F32", tied=True, tied_store="embed", head_dim=None,
                 rope_scaling=None, rope_theta=10000.0, rms_eps=1e-6, shards=1, seed=0,
                 logit_scale=3.0):
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(seed)
    C = n_embd
    hd = head_dim or C // n_head
    qd, kvd = n_head * hd, n_head_kv * hd

    def mat(o, i, std=None):
        s = 1.0 / np.sqrt(i) if std is None else std
        return rng.standard_normal((o, i), dtype=np.float32) * np.float32(s)

    def vec(n, mean, std):
        return np.float32(mean) + rng.standard_normal(n, dtype=np.float32) * np.float32(std)

    estd = logit_scale / np.sqrt(C)
    T = []
    emb = mat(n_vocab, C, estd)
    if not tied or tied_store == "embed":
        T.append(("model.embed_tokens.weight", emb))
    for i in range(n_layer):
        p = "model.layers.%d." % i
        T += [(p + "input_layernorm.weight", vec(C, 1, 0.1)),
              (p + "self_attn.q_proj.weight", mat(qd, C)),
              (p + "self_attn.k_proj.weight", mat(kvd, C)),
              (p + "self_attn.v_proj.weight", mat(kvd, C))]
        if model_type == "qwen2":
            T += [(p + "self_attn.q_proj.bias", vec(qd, 0, 0.5)),
                  (p + "self_attn.k_proj.bias", vec(kvd, 0, 0.5)),
                  (p + "self_attn.v_proj.bias", vec(kvd, 0, 0.5))]
        T += [(p + "self_attn.o_proj.weight", mat(C, qd)),
              (p + "post_attention_layernorm.weight", vec(C, 1, 0.1)),
              (p + "mlp.gate_proj.weight", mat(n_ff, C)),
              (p + "mlp.up_proj.weight", mat(n_ff, C)),
              (p + "mlp.down_proj.weight", mat(C, n_ff))]
    T.append(("model.norm.weight", vec(C, 1, 0.1)))
    if tied and tied_store == "lm_head":
        T.append(("lm_head.weight", emb))
    elif not tied:
        T.append(("lm_head.weight", mat(n_vocab, C, estd)))

    cfg = {
        "architectures": ["Qwen2ForCausalLM" if model_type == "qwen2" else "LlamaForCausalLM"],
        "model_type": model_type, "hidden_size": C, "num_hidden_layers": n_layer,
        "num_attention_heads": n_head, "num_key_value_heads": n_head_kv,
        "intermediate_size": n_ff, "vocab_size": n_vocab, "rms_norm_eps": rms_eps,
        "rope_theta": rope_theta, "tie_word_embeddings": tied, "max_position_embeddings": 2048,
        "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "rope_scaling": rope_scaling,
    }
    if head_dim:
        cfg["head_dim"] = head_dim
    if model_type == "llama":
        cfg["attention_bias"] = False
        cfg["mlp_bias"] = False
    with open(os.path.join(path, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)

    if shards <= 1:
        write_safetensors(os.path.join(path, "model.safetensors"), T, dtype)
        return path
    per = (len(T) + shards - 1) // shards
    weight_map = {}
    for s in range(shards):
        part = T[s * per:(s + 1) * per]
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        write_safetensors(os.path.join(path, fname), part, dtype)
        for name, _ in part:
            weight_map[name] = fname
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {}, "weight_map": weight_map}, fh, indent=2)
    return path
