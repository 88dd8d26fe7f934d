"""Writes small random-weight Hugging Face checkpoint directories
(config.json + safetensors, optionally sharded with an index) for the tests.

    write_hf_dir(path, n_embd=128, n_layer=2, n_head=4, n_head_kv=2, n_ff=256,
                 n_vocab=512, model_type="llama", dtype="F32", tied=True,
                 tied_store="embed", head_dim=None, rope_scaling=None,
                 rope_theta=10000.0, shards=1, seed=0)

tied_store says which matrix a tied checkpoint stores: "embed"
(model.embed_tokens.weight, the usual case) or "lm_head" (as the shared
TinyStories-656K does). Weights use the same scales as tools/make_gguf.py.

model_type also takes "qwen3" (per-head q_norm/k_norm), "gemma3_text"
(Gemma3ForCausalLM: q/k norms, pre/post feed-forward norms, norms stored as
w with the model computing 1 + w, always tied), "gemma2" and "phi3" (fused
qkv_proj and gate_up_proj). Their extra config fields come from keyword
arguments: multimodal (gemma3_text only: write a Gemma3ForConditionalGeneration
directory, text config nested), sliding_window, layer_types (True: write gemma3's explicit
"layer_types" list; False: "sliding_window_pattern": 6), query_pre_attn_scalar,
attn_softcap, final_softcap, rope_local_base, partial_rotary_factor,
longrope=(original_max_position_embeddings, max_position_embeddings).

hf_to_gguf(hf_dir, out, tokenizer_from) converts such a directory to GGUF
the way llama.cpp's convert_hf_to_gguf.py does for these families (adds 1 to
gemma norm weights, keeps phi3's fused tensors, writes the same keys), so the
Hugging Face reading of the reference can be checked against llama.cpp.
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


ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM", "gemma2": "Gemma2ForCausalLM",
                 "gemma3_text": "Gemma3ForCausalLM", "phi3": "Phi3ForCausalLM"}


def write_hf_dir(path, n_embd=128, n_layer=2, n_head=4, n_head_kv=2, n_ff=256, n_vocab=512,
                 model_type="llama", dtype="F32", tied=True, tied_store="embed", head_dim=None,
                 rope_scaling=None, rope_theta=10000.0, rms_eps=1e-6, shards=1, seed=0,
                 logit_scale=3.0, **extra):
    if model_type in ("qwen3", "gemma2", "gemma3_text", "phi3"):
        return _write_new_arch(path, n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, model_type, dtype,
                               tied, head_dim, rope_scaling, rope_theta, rms_eps, shards, seed, logit_scale,
                               **extra)
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
    if extra.get("sliding_window"):
        cfg["sliding_window"] = int(extra["sliding_window"])
    return _write_files(path, cfg, T, dtype, shards)


def _write_files(path, cfg, T, dtype, shards):
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


def _write_new_arch(path, C, n_layer, n_head, n_head_kv, n_ff, n_vocab, model_type, dtype, tied, head_dim,
                    rope_scaling, rope_theta, rms_eps, shards, seed, logit_scale, sliding_window=None,
                    layer_types=True, query_pre_attn_scalar=None, attn_softcap=None, final_softcap=None,
                    rope_local_base=10000.0, partial_rotary_factor=None, longrope=None, multimodal=False):
    """qwen3, gemma2, gemma3_text and phi3 checkpoints (Hugging Face tensor names)."""
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(seed)
    hd = head_dim or C // n_head
    qd, kvd = n_head * hd, n_head_kv * hd
    gemma = model_type in ("gemma2", "gemma3_text")
    if gemma:
        tied = True                     # Gemma checkpoints have no lm_head

    def mat(o, i, std=None):
        s = 1.0 / np.sqrt(i) if std is None else std
        return rng.standard_normal((o, i), dtype=np.float32) * np.float32(s)

    def vec(n, mean, std):
        return np.float32(mean) + rng.standard_normal(n, dtype=np.float32) * np.float32(std)

    # gemma stores w of (1 + w): draw w ~ N(0, 0.1^2), the same distribution as the GGUF 1 + w
    norm = (lambda n: vec(n, 0, 0.1)) if gemma else (lambda n: vec(n, 1, 0.1))
    estd = logit_scale / np.sqrt(C)
    T = [("model.embed_tokens.weight", mat(n_vocab, C, estd))]
    for i in range(n_layer):
        p = "model.layers.%d." % i
        T.append((p + "input_layernorm.weight", norm(C)))
        if model_type == "phi3":
            T.append((p + "self_attn.qkv_proj.weight", mat(qd + 2 * kvd, C)))
        else:
            T += [(p + "self_attn.q_proj.weight", mat(qd, C)),
                  (p + "self_attn.k_proj.weight", mat(kvd, C)),
                  (p + "self_attn.v_proj.weight", mat(kvd, C))]
        T.append((p + "self_attn.o_proj.weight", mat(C, qd)))
        if model_type in ("qwen3", "gemma3_text"):
            T += [(p + "self_attn.q_norm.weight", norm(hd)), (p + "self_attn.k_norm.weight", norm(hd))]
        T.append((p + "post_attention_layernorm.weight", norm(C)))
        if gemma:
            T.append((p + "pre_feedforward_layernorm.weight", norm(C)))
        if model_type == "phi3":
            T.append((p + "mlp.gate_up_proj.weight", mat(2 * n_ff, C)))
        else:
            T += [(p + "mlp.gate_proj.weight", mat(n_ff, C)), (p + "mlp.up_proj.weight", mat(n_ff, C))]
        T.append((p + "mlp.down_proj.weight", mat(C, n_ff)))
        if gemma:
            T.append((p + "post_feedforward_layernorm.weight", norm(C)))
    T.append(("model.norm.weight", norm(C)))
    if not tied:
        T.append(("lm_head.weight", mat(n_vocab, C, estd)))

    cfg = {
        "architectures": [ARCHITECTURES[model_type]], "model_type": model_type,
        "hidden_size": C, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
        "num_key_value_heads": n_head_kv, "intermediate_size": n_ff, "vocab_size": n_vocab,
        "rms_norm_eps": rms_eps, "rope_theta": rope_theta, "tie_word_embeddings": tied,
        "max_position_embeddings": 2048, "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "rope_scaling": rope_scaling, "head_dim": hd,
    }
    if model_type == "qwen3":
        cfg.update(hidden_act="silu", attention_bias=False, use_sliding_window=False,
                   sliding_window=None, max_window_layers=n_layer)
    if gemma:
        g2 = model_type == "gemma2"         # gemma2's caps default to the published 50 / 30
        cfg.update(hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=query_pre_attn_scalar or hd,
                   sliding_window=sliding_window or (4096 if g2 else 512),
                   attn_logit_softcapping=attn_softcap if attn_softcap or not g2 else 50.0,
                   final_logit_softcapping=final_softcap if final_softcap or not g2 else 30.0)
        if not g2:
            cfg["rope_local_base_freq"] = rope_local_base
            if layer_types:
                cfg["layer_types"] = ["full_attention" if (l + 1) % 6 == 0 else "sliding_attention"
                                      for l in range(n_layer)]
            else:
                cfg["sliding_window_pattern"] = 6
    if model_type == "phi3":
        cfg.update(hidden_act="silu", sliding_window=sliding_window,
                   original_max_position_embeddings=2048)
        if partial_rotary_factor is not None:
            cfg["partial_rotary_factor"] = partial_rotary_factor
        if longrope:
            orig, total = longrope
            n = int((partial_rotary_factor or 1.0) * hd) // 2
            t = np.arange(n) / max(n - 1, 1)
            cfg.update(original_max_position_embeddings=orig, max_position_embeddings=total)
            cfg["rope_scaling"] = {"type": "longrope",
                                   "short_factor": [float(1.0 + 0.25 * x * x) for x in t],
                                   "long_factor": [float(1.0 + 29.0 * x ** 3) for x in t]}
    if multimodal and model_type == "gemma3_text":
        # Gemma3ForConditionalGeneration as published (gemma-3-4b-it): the text model's
        # config nested in text_config, its weights under language_model.model., plus
        # vision tensors a text-only reader skips (two tiny stand-ins here)
        T = [("language_model." + n, a) for n, a in T]
        T += [("vision_tower.vision_model.embeddings.patch_embedding.weight", mat(8, 12)),
              ("multi_modal_projector.mm_input_projection_weight", mat(8, C))]
        cfg = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
               "text_config": cfg, "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 8},
               "mm_tokens_per_image": 256, "torch_dtype": cfg["torch_dtype"]}
    return _write_files(path, cfg, T, dtype, shards)


def hf_to_gguf(hf_dir, out, tokenizer_from=None):
    """Converts a directory written above (qwen3, gemma2, gemma3_text, phi3; F32) to an F32
    GGUF with llama.cpp's converter conventions. Returns OUT."""
    import math
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
    import make_gguf as M
    from . import hf as hf_mod
    cfg, W = hf_mod.load_dir(hf_dir)
    if "text_config" in cfg:                # multimodal Gemma 3: the converter keeps the text model
        cfg = cfg["text_config"]
        W = {n[len("language_model."):]: a for n, a in W.items() if n.startswith("language_model.")}
    mt = cfg["model_type"]
    arch = {"gemma3_text": "gemma3"}.get(mt, mt)
    gemma = arch in ("gemma2", "gemma3")
    C, n_head = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = cfg.get("head_dim") or C // n_head
    n_rot = int(float(cfg.get("partial_rotary_factor", 1.0)) * C) // n_head if arch == "phi3" else hd
    meta = [M.kv("general.architecture", M.V_STRING, arch), M.kv("general.file_type", M.V_UINT32, 0)]
    u32 = lambda k, v: meta.append(M.kv(arch + "." + k, M.V_UINT32, int(v)))
    f32 = lambda k, v: meta.append(M.kv(arch + "." + k, M.V_FLOAT32, float(v)))
    u32("context_length", cfg["max_position_embeddings"])
    u32("embedding_length", C)
    u32("block_count", cfg["num_hidden_layers"])
    u32("feed_forward_length", cfg["intermediate_size"])
    u32("attention.head_count", n_head)
    u32("attention.head_count_kv", cfg["num_key_value_heads"])
    f32("attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"])
    f32("rope.freq_base", cfg["rope_theta"])
    if arch != "phi3":
        u32("attention.key_length", hd)
        u32("attention.value_length", hd)
    else:
        u32("rope.dimension_count", n_rot)
    if gemma:
        u32("attention.sliding_window", cfg["sliding_window"])
    if arch == "gemma2":
        f32("attn_logit_softcapping", cfg["attn_logit_softcapping"])
        f32("final_logit_softcapping", cfg["final_logit_softcapping"])
    rs = cfg.get("rope_scaling") or {}
    if arch == "gemma3" and rs.get("rope_type", rs.get("type")) == "linear":
        meta.append(M.kv(arch + ".rope.scaling.type", M.V_STRING, "linear"))
        f32("rope.scaling.factor", rs["factor"])
    tensors = []
    if arch == "phi3":
        orig = cfg["original_max_position_embeddings"]
        u32("rope.scaling.original_context_length", orig)
        u32("attention.sliding_window", cfg.get("sliding_window") or 0)
        if rs:
            scale = cfg["max_position_embeddings"] / orig
            f32("rope.scaling.attn_factor", math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0)
            tensors += [("rope_factors_long.weight", np.array(rs["long_factor"], np.float32)),
                        ("rope_factors_short.weight", np.array(rs["short_factor"], np.float32))]
    tok = {}
    if tokenizer_from:
        tok, _ = M.copy_gguf_tokenizer(tokenizer_from)
        if arch == "phi3":
            M.ensure_tokens(tok, ["<|endoftext|>", "<|end|>"])
    meta += list(tok.values())
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.qkv_proj": "attn_qkv",
             "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
             "post_attention_layernorm": "post_attention_norm" if gemma else "ffn_norm",
             "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.gate_up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    for name, a in W.items():
        a = a.astype(np.float32)
        if gemma and name.endswith("norm.weight"):
            a = a + np.float32(1.0)                 # the converter folds Gemma's (1 + w)
        if name == "model.embed_tokens.weight":
            gname = "token_embd.weight"
        elif name == "model.norm.weight":
            gname = "output_norm.weight"
        elif name == "lm_head.weight":
            gname = "output.weight"
        else:
            parts = name.split(".")                 # model.layers.N.<module...>.weight
            gname = "blk.%s.%s.weight" % (parts[2], names[".".join(parts[3:-1])])
        tensors.append((gname, a))
    align = 32
    infos, offset, blobs = [], 0, []
    for gname, a in tensors:
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        offset = (offset + align - 1) // align * align
        dims = list(reversed(a.shape))
        infos.append(M._s(gname) + M.struct.pack("<I", len(dims)) +
                     b"".join(M.struct.pack("<Q", d) for d in dims) + M.struct.pack("<IQ", 0, offset))
        blobs.append((offset, raw))
        offset += len(raw)
    with open(out, "wb") as fh:
        fh.write(M.GGUF_MAGIC + M.struct.pack("<IQQ", 3, len(tensors), len(meta)))
        for m_ in meta:
            fh.write(m_)
        for info in infos:
            fh.write(info)
        pos = fh.tell()
        start = (pos + align - 1) // align * align
        fh.write(b"\0" * (start - pos))
        for off, raw in blobs:
            fh.write(b"\0" * (off - (fh.tell() - start)))
            fh.write(raw)
    return out
