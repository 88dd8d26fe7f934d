"""A plain Llama-family forward pass in torch float64, written from the math.

    m = load_model(path)          # .gguf file, HF directory or its config.json
    logits = m.forward(tokens=ids)                  # ids: (B, T) -> (B, T, V)
    logits = m.forward(embeddings=x, positions=p, key_mask=mask)

Per layer:  h = x + Wo . Attn(RoPE(Wq n(x) + bq), RoPE(Wk n(x) + bk), Wv n(x) + bv)
            x = h + Wdown (silu(Wgate n(h)) * Wup n(h))
with n = RMSNorm, causal grouped-query attention (query head h reads KV head
h // (n_head / n_head_kv)), then final RMSNorm and the output matrix.
"""
import math
import os

import numpy as np
import torch

from . import gguf as gguf_mod
from . import hf as hf_mod

DT = torch.float64


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


class Model:
    def __init__(self):
        self.arch = "llama"
        self.n_embd = self.n_layer = self.n_head = self.n_head_kv = 0
        self.n_ff = self.n_vocab = 0
        self.head_dim = 0
        self.eps = 1e-5
        self.rope_base = 10000.0
        self.rope_half = False          # False: adjacent pairs (GGUF llama); True: rotate halves
        self.rope_factors = None        # (head_dim/2,) divisors or None
        self.tok_embd = None            # (V, C)
        self.output = None              # (V, C)
        self.output_norm = None
        self.tied = True
        self.layers = []                # dicts of tensors
        self.tokenizer_meta = {}
        self.dtype = DT                 # float64 for correctness checks; float32 for speed peers

    def to(self, dtype):
        """Converts every weight to DTYPE (e.g. torch.float32 for benchmarks)."""
        conv = lambda t: None if t is None else t.to(dtype).contiguous()
        self.tok_embd = conv(self.tok_embd)
        self.output = self.tok_embd if self.tied else conv(self.output)
        self.output_norm = conv(self.output_norm)
        # rope_factors stay float64: RoPE angles are computed in double
        self.layers = [{k: conv(v) for k, v in L.items()} for L in self.layers]
        self.dtype = dtype
        return self

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_gguf(cls, path):
        f = gguf_mod.GGUFFile(path)
        m = cls()
        arch = f.arch
        m.arch = arch
        md = f.metadata

        def key(k, default=None):
            v = md.get("%s.%s" % (arch, k), default)
            if v is None:
                raise KeyError("%s: missing %s.%s" % (path, arch, k))
            return v

        m.n_embd = int(key("embedding_length"))
        m.n_layer = int(key("block_count"))
        m.n_ff = int(key("feed_forward_length"))
        m.n_head = int(key("attention.head_count"))
        m.n_head_kv = int(key("attention.head_count_kv", m.n_head))
        m.eps = float(key("attention.layer_norm_rms_epsilon"))
        m.rope_base = float(key("rope.freq_base", 10000.0))
        m.head_dim = m.n_embd // m.n_head
        if arch == "llama":
            m.rope_half = False
        elif arch == "qwen2":
            m.rope_half = True
        else:
            raise ValueError("unsupported arch %s" % arch)
        m.tokenizer_meta = {k: v for k, v in md.items() if k.startswith("tokenizer.")}
        T = f.tensors
        g = lambda name: _t(f.tensor(name))
        m.tok_embd = g("token_embd.weight")
        m.n_vocab = m.tok_embd.shape[0]
        m.output_norm = g("output_norm.weight")
        if "output.weight" in T:
            m.output = g("output.weight")
            m.tied = False
        else:
            m.output = m.tok_embd
            m.tied = True
        if "rope_freqs.weight" in T:
            m.rope_factors = g("rope_freqs.weight").reshape(-1)
        for i in range(m.n_layer):
            p = "blk.%d." % i
            L = {
                "attn_norm": g(p + "attn_norm.weight"),
                "wq": g(p + "attn_q.weight"),
                "wk": g(p + "attn_k.weight"),
                "wv": g(p + "attn_v.weight"),
                "wo": g(p + "attn_output.weight"),
                "ffn_norm": g(p + "ffn_norm.weight"),
                "gate": g(p + "ffn_gate.weight"),
                "up": g(p + "ffn_up.weight"),
                "down": g(p + "ffn_down.weight"),
            }
            for b, n in (("bq", "attn_q.bias"), ("bk", "attn_k.bias"), ("bv", "attn_v.bias")):
                if p + n in T:
                    L[b] = g(p + n)
            m.layers.append(L)
        m._check()
        return m

    @classmethod
    def from_hf(cls, path):
        cfg, W = hf_mod.load_dir(path)
        m = cls()
        m.arch = cfg.get("model_type", "llama")
        m.n_embd = int(cfg["hidden_size"])
        m.n_layer = int(cfg["num_hidden_layers"])
        m.n_head = int(cfg["num_attention_heads"])
        m.n_head_kv = int(cfg.get("num_key_value_heads") or m.n_head)
        m.n_ff = int(cfg["intermediate_size"])
        m.eps = float(cfg.get("rms_norm_eps", 1e-6))
        m.rope_base = float(cfg.get("rope_theta", 10000.0))
        m.head_dim = int(cfg.get("head_dim") or m.n_embd // m.n_head)
        m.rope_half = True
        rs = cfg.get("rope_scaling")
        if rs:
            rtype = rs.get("rope_type", rs.get("type"))
            if rtype == "llama3":
                m.rope_factors = _t(hf_mod.llama3_rope_factors(m.head_dim, m.rope_base, rs))
            elif rtype not in (None, "default"):
                raise ValueError("unsupported rope_scaling %r" % rs)
        g = lambda n: _t(W[n])
        tie = bool(cfg.get("tie_word_embeddings", False))
        if "model.embed_tokens.weight" in W:
            m.tok_embd = g("model.embed_tokens.weight")
        elif tie and "lm_head.weight" in W:
            m.tok_embd = g("lm_head.weight")
        else:
            raise KeyError("no embedding matrix")
        if tie or "lm_head.weight" not in W:
            m.output = m.tok_embd
            m.tied = True
        else:
            m.output = g("lm_head.weight")
            m.tied = False
        m.n_vocab = m.tok_embd.shape[0]
        m.output_norm = g("model.norm.weight")
        for i in range(m.n_layer):
            p = "model.layers.%d." % i
            L = {
                "attn_norm": g(p + "input_layernorm.weight"),
                "wq": g(p + "self_attn.q_proj.weight"),
                "wk": g(p + "self_attn.k_proj.weight"),
                "wv": g(p + "self_attn.v_proj.weight"),
                "wo": g(p + "self_attn.o_proj.weight"),
                "ffn_norm": g(p + "post_attention_layernorm.weight"),
                "gate": g(p + "mlp.gate_proj.weight"),
                "up": g(p + "mlp.up_proj.weight"),
                "down": g(p + "mlp.down_proj.weight"),
            }
            for b, n in (("bq", "self_attn.q_proj.bias"), ("bk", "self_attn.k_proj.bias"),
                         ("bv", "self_attn.v_proj.bias")):
                if p + n in W:
                    L[b] = g(p + n)
            m.layers.append(L)
        m._check()
        return m

    def _check(self):
        C, hd = self.n_embd, self.head_dim
        assert self.tok_embd.shape == (self.n_vocab, C)
        assert self.output.shape == (self.n_vocab, C)
        assert self.n_head % self.n_head_kv == 0
        for L in self.layers:
            assert L["wq"].shape == (self.n_head * hd, C)
            assert L["wk"].shape == (self.n_head_kv * hd, C)
            assert L["wv"].shape == (self.n_head_kv * hd, C)
            assert L["wo"].shape == (C, self.n_head * hd)
            assert L["gate"].shape == (self.n_ff, C)
            assert L["up"].shape == (self.n_ff, C)
            assert L["down"].shape == (C, self.n_ff)
        if self.rope_factors is not None:
            assert self.rope_factors.numel() == hd // 2

    # ---------------------------------------------------------------- pieces
    def rms_norm(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):
        """x: (B, H, T, d), pos: (B, T) -> rotated x."""
        d = x.shape[-1]
        i = torch.arange(d // 2, dtype=torch.float64)
        freq = self.rope_base ** (-2.0 * i / d)
        if self.rope_factors is not None:
            freq = freq / self.rope_factors
        ang = pos.to(torch.float64)[:, None, :, None] * freq  # (B, 1, T, d/2), angles in double
        c, s = torch.cos(ang).to(self.dtype), torch.sin(ang).to(self.dtype)
        if self.rope_half:
            a, b = x[..., : d // 2], x[..., d // 2:]
            return torch.cat([a * c - b * s, b * c + a * s], dim=-1)
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    # ---------------------------------------------------------------- forward
    def embed(self, tokens):
        tokens = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        return self.tok_embd[tokens]

    def forward(self, tokens=None, embeddings=None, positions=None, key_mask=None,
                return_hidden=False, last_only=False):
        """tokens (B, T) ints or embeddings (B, T, C); positions (B, T) (default t);
        key_mask (B, T) 0 = no query attends to that key. Returns logits (B, T, V)
        as a float64 torch tensor (rows of queries that see no key are 0-attention)."""
        if embeddings is not None:
            if torch.is_tensor(embeddings):              # keeps autograd's graph (gradient checks)
                x = embeddings.to(self.dtype)
            else:
                x = torch.as_tensor(np.asarray(embeddings, dtype=np.float64)).to(self.dtype)
        else:
            x = self.embed(tokens)
        if x.dim() == 2:
            x = x[None]
        B, T, C = x.shape
        if positions is None:
            pos = torch.arange(T, dtype=DT)[None].expand(B, T)
        else:
            pos = torch.as_tensor(np.asarray(positions), dtype=DT).reshape(B, T)
        if key_mask is None:
            km = torch.ones(B, T, dtype=torch.bool)
        else:
            km = torch.as_tensor(np.asarray(key_mask)).reshape(B, T) != 0
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = causal[None] & km[:, None, :]          # (B, Tq, Tk)
        H, Hkv, hd = self.n_head, self.n_head_kv, self.head_dim
        group = H // Hkv
        kv_of_head = torch.arange(H) // group
        hidden = [x]
        for L in self.layers:
            h = self.rms_norm(x, L["attn_norm"])
            q = h @ L["wq"].T
            k = h @ L["wk"].T
            v = h @ L["wv"].T
            if "bq" in L:
                q = q + L["bq"]
            if "bk" in L:
                k = k + L["bk"]
            if "bv" in L:
                v = v + L["bv"]
            q = q.reshape(B, T, H, hd).transpose(1, 2)        # (B, H, T, hd)
            k = k.reshape(B, T, Hkv, hd).transpose(1, 2)      # (B, Hkv, T, hd)
            v = v.reshape(B, T, Hkv, hd).transpose(1, 2)
            q = self.rope(q, pos)
            k = self.rope(k, pos)
            k = k[:, kv_of_head]                              # (B, H, T, hd)
            v = v[:, kv_of_head]
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            scores = scores.masked_fill(~allowed[:, None], float("-inf"))
            att = torch.softmax(scores, dim=-1)
            att = torch.nan_to_num(att, nan=0.0)
            o = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
            x = x + o @ L["wo"].T
            h = self.rms_norm(x, L["ffn_norm"])
            g = h @ L["gate"].T
            u = h @ L["up"].T
            x = x + (torch.nn.functional.silu(g) * u) @ L["down"].T
            hidden.append(x)
        if last_only:                                     # (B, 1, C): the last position only
            x = x[:, -1:]
        x = self.rms_norm(x, self.output_norm)
        logits = x @ self.output.T
        if return_hidden:
            return logits, hidden
        return logits

    def greedy(self, prompt_ids, n):
        """Greedy decoding of N tokens after PROMPT_IDS (full recompute)."""
        ids = list(prompt_ids)
        out = []
        for _ in range(n):
            logits = self.forward(tokens=[ids])
            nxt = int(torch.argmax(logits[0, -1]))
            out.append(nxt)
            ids.append(nxt)
        return out


def load_model(path):
    if os.path.isdir(path) or path.endswith("config.json"):
        return Model.from_hf(path)
    return Model.from_gguf(path)
