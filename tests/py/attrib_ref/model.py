"""A plain decoder-only transformer in torch float64, written from the math,
for the architectures attrib runs: llama (and Mistral), qwen2, qwen3, gemma2,
gemma3, phi3.

    m = load_model(path)          # .gguf file, HF directory or its config.json
    logits = m.forward(tokens=ids)                  # ids: (B, T) -> (B, T, V)
    logits = m.forward(embeddings=x, positions=p, key_mask=mask)

Per layer (n = RMSNorm x / sqrt(mean x^2 + eps) * w; the optional parts are
the architecture's):
    h = n(x)
    q, k, v = Wq h + bq, Wk h + bk, Wv h + bv        (per head; phi3: one fused Wqkv)
    q, k = n_head(q), n_head(k)                      (qwen3, gemma3: per-head RMSNorm)
    q, k = RoPE(q), RoPE(k)                          (adjacent pairs for GGUF llama, else halves;
                                                      the first n_rot dims of a head rotate)
    s = q k^T * scale                                (1/sqrt(hd); gemma 27B sizes: 1/sqrt(C/H))
    s = c tanh(s / c)                                (gemma2 attention soft-cap)
    a = Wo softmax(s + causal mask [+ window: i - j < W]) v
    a = n(a)                                         (gemma post-attention norm)
    x = x + a
    f = Wdown (act(Wgate n(x)) * Wup n(x))           (act: SiLU, or GELU-tanh for gemma)
    f = n(f)                                         (gemma post-FFN norm)
    x = x + f
then logits = Wout n(x), with the gemma2 final soft-cap c tanh(logits / c).
Gemma multiplies the input embeddings by sqrt(C). Grouped-query attention:
query head h reads KV head h // (H / Hkv).

The conventions follow llama.cpp (the final reference; see
/work/notes/arch-facts.md): GGUF gemma norm weights already hold 1 + w
(Hugging Face stores w, this loader adds 1), gemma3's windowed layers use
RoPE base 10000 and no linear scaling, phi3 long-rope factors divide the
frequencies and attn_factor multiplies cos and sin.

Embedding convention: `embed(tokens)` returns rows of the embedding table
and `forward(embeddings=...)` takes such raw rows; the gemma scale sqrt(C)
is applied inside forward in both cases.
"""
import math
import os

import numpy as np
import torch

from . import gguf as gguf_mod
from . import hf as hf_mod

DT = torch.float64

GEMMA = ("gemma2", "gemma3")


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class Model:
    def __init__(self):
        self.arch = "llama"
        self.n_embd = self.n_layer = self.n_head = self.n_head_kv = 0
        self.n_ff = self.n_vocab = 0
        self.head_dim = 0
        self.n_rot = 0                  # rotated dims per head (partial rotary: < head_dim)
        self.eps = 1e-5
        self.rope_base = 10000.0
        self.rope_half = False          # False: adjacent pairs (GGUF llama); True: rotate halves
        self.rope_factors = None        # (n_rot/2,) divisors or None
        self.rope_freq_scale = 1.0      # linear scaling: angles * this (1/factor)
        self.attn_factor = 1.0          # cos and sin multiplied by it (phi3 long rope)
        self.embed_scale = None         # gemma: sqrt(C)
        self.act = "silu"               # or "gelu_tanh"
        self.attn_scale = None          # default 1/sqrt(head_dim)
        self.attn_softcap = 0.0         # 0 = off
        self.final_softcap = 0.0
        self.sliding_window = 0         # W (0: none)
        self.layer_windowed = []        # per layer: uses the window
        self.layer_rope = []            # per layer: (base, freq_scale)
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
    def from_gguf(cls, path, long_rope=False):
        """LONG_ROPE: use phi3's rope_factors_long (llama.cpp does when its context
        exceeds rope.scaling.original_context_length); default the short ones."""
        f = gguf_mod.GGUFFile(path)
        m = cls()
        arch = f.arch
        if arch not in ("llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"):
            raise ValueError("unsupported arch %s" % arch)
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
        m.head_dim = int(key("attention.key_length", m.n_embd // m.n_head))
        m.n_rot = int(key("rope.dimension_count", m.head_dim))
        m.rope_half = arch != "llama"
        rtype = key("rope.scaling.type", "linear")
        rfactor = float(key("rope.scaling.factor", 0.0) or 0.0)
        if rfactor:
            if rtype != "linear":
                raise ValueError("%s: rope scaling %s not supported" % (path, rtype))
            m.rope_freq_scale = 1.0 / rfactor
        m.attn_factor = float(key("rope.scaling.attn_factor", 1.0))
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
        if arch == "phi3" and "rope_factors_short.weight" in T:
            m.rope_factors = g("rope_factors_long.weight" if long_rope else "rope_factors_short.weight").reshape(-1)

        # architecture features (llama.cpp's hparams)
        windowed = lambda l: False
        local_base = None
        if arch in GEMMA:
            m.embed_scale = math.sqrt(m.n_embd)
            m.act = "gelu_tanh"
            big = m.n_layer == (46 if arch == "gemma2" else 62)   # the 27B sizes
            m.attn_scale = 1.0 / math.sqrt(m.n_embd / m.n_head if big else m.head_dim)
        if arch == "gemma2":
            m.attn_softcap = float(key("attn_logit_softcapping", 50.0))
            m.final_softcap = float(key("final_logit_softcapping", 30.0))
            m.sliding_window = int(key("attention.sliding_window", 4096))
            windowed = lambda l: l % 2 == 0
        elif arch == "gemma3":
            m.final_softcap = float(key("final_logit_softcapping", 0.0))
            m.sliding_window = int(key("attention.sliding_window", 0))
            windowed = lambda l: l % 6 < 5
            local_base = float(key("rope.freq_base_swa", 10000.0))
        elif arch == "phi3":
            # llama.cpp runs phi3 GGUFs without their window (its phi3 graph
            # disables sliding-window attention); the file's key is ignored.
            m.sliding_window = 0
            windowed = lambda l: True
        m.layer_windowed = [m.sliding_window > 0 and windowed(l) for l in range(m.n_layer)]
        m.layer_rope = [(local_base, 1.0) if (w and local_base is not None) else (m.rope_base, m.rope_freq_scale)
                        for w in m.layer_windowed]

        H, Hkv, hd, F = m.n_head, m.n_head_kv, m.head_dim, m.n_ff
        for i in range(m.n_layer):
            p = "blk.%d." % i
            L = {"attn_norm": g(p + "attn_norm.weight")}
            if p + "attn_qkv.weight" in T:
                qkv = g(p + "attn_qkv.weight")
                L["wq"], L["wk"], L["wv"] = qkv[:H * hd], qkv[H * hd:(H + Hkv) * hd], qkv[(H + Hkv) * hd:]
            else:
                L["wq"], L["wk"], L["wv"] = g(p + "attn_q.weight"), g(p + "attn_k.weight"), g(p + "attn_v.weight")
            L["wo"] = g(p + "attn_output.weight")
            L["ffn_norm"] = g(p + "ffn_norm.weight")
            if arch == "phi3":
                up = g(p + "ffn_up.weight")          # (2F, C): gate rows, then up rows
                L["gate"], L["up"] = up[:F], up[F:]
            else:
                L["gate"], L["up"] = g(p + "ffn_gate.weight"), g(p + "ffn_up.weight")
            L["down"] = g(p + "ffn_down.weight")
            for name, tname in (("bq", "attn_q.bias"), ("bk", "attn_k.bias"), ("bv", "attn_v.bias"),
                                ("q_norm", "attn_q_norm.weight"), ("k_norm", "attn_k_norm.weight"),
                                ("post_attn_norm", "post_attention_norm.weight"),
                                ("post_ffn_norm", "post_ffw_norm.weight")):
                if p + tname in T:
                    L[name] = g(p + tname)
            m.layers.append(L)
        m._check()
        return m

    @classmethod
    def from_hf(cls, path, long_rope=False):
        cfg, W = hf_mod.load_dir(path)
        m = cls()
        mtype = cfg.get("model_type", "llama")
        prefix = "model."
        if mtype == "gemma3" and "text_config" in cfg:      # multimodal wrapper
            cfg = dict(cfg["text_config"])
            mtype = "gemma3_text"
            for pre in ("model.language_model.", "language_model.model."):
                if any(k.startswith(pre) for k in W):
                    prefix = pre
        arch = {"mistral": "llama", "gemma3_text": "gemma3"}.get(mtype, mtype)
        if arch not in ("llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"):
            raise ValueError("unsupported model_type %s" % mtype)
        m.arch = arch
        m.n_embd = int(cfg["hidden_size"])
        m.n_layer = int(cfg["num_hidden_layers"])
        m.n_head = int(cfg["num_attention_heads"])
        m.n_head_kv = int(cfg.get("num_key_value_heads") or m.n_head)
        m.n_ff = int(cfg["intermediate_size"])
        m.eps = float(cfg.get("rms_norm_eps", 1e-6))
        m.rope_base = float(cfg.get("rope_theta", 10000.0))
        m.head_dim = int(cfg.get("head_dim") or m.n_embd // m.n_head)
        m.n_rot = int(float(cfg.get("partial_rotary_factor", 1.0)) * m.head_dim)
        m.rope_half = True
        rs = cfg.get("rope_scaling")
        if rs:
            rtype = rs.get("rope_type", rs.get("type"))
            if rtype == "llama3":
                m.rope_factors = _t(hf_mod.llama3_rope_factors(m.head_dim, m.rope_base, rs))
            elif rtype == "linear":
                m.rope_freq_scale = 1.0 / float(rs["factor"])
            elif rtype in ("longrope", "su") and arch == "phi3":
                m.rope_factors = _t(np.array(rs["long_factor" if long_rope else "short_factor"], dtype=np.float64))
                orig = float(cfg.get("original_max_position_embeddings") or cfg["max_position_embeddings"])
                scale = float(cfg["max_position_embeddings"]) / orig
                af = rs.get("attention_factor")
                m.attn_factor = float(af) if af is not None else (
                    math.sqrt(1.0 + math.log(scale) / math.log(orig)) if scale > 1.0 else 1.0)
            elif rtype not in (None, "default"):
                raise ValueError("unsupported rope_scaling %r" % rs)

        windowed = lambda l: False
        local = None
        sw = cfg.get("sliding_window")
        if arch in GEMMA:
            m.embed_scale = math.sqrt(m.n_embd)
            m.act = "gelu_tanh"
            m.attn_scale = float(cfg.get("query_pre_attn_scalar") or m.head_dim) ** -0.5
            m.attn_softcap = float(cfg.get("attn_logit_softcapping") or 0.0)
            m.final_softcap = float(cfg.get("final_logit_softcapping") or 0.0)
        if arch == "gemma2":
            m.sliding_window = int(sw or 4096)
            windowed = lambda l: l % 2 == 0
        elif arch == "gemma3":
            m.sliding_window = int(sw or 0)
            types = cfg.get("layer_types")
            if types:
                windowed = lambda l: types[l] == "sliding_attention"
            else:
                period = int(cfg.get("sliding_window_pattern") or 6)
                windowed = lambda l: (l + 1) % period != 0
            local = (float(cfg.get("rope_local_base_freq", 10000.0)), 1.0)
        elif arch in ("llama", "phi3") and sw and cfg.get("use_sliding_window", True):
            m.sliding_window = int(sw)
            windowed = lambda l: True
        m.layer_windowed = [m.sliding_window > 0 and windowed(l) for l in range(m.n_layer)]
        m.layer_rope = [local if (w and local) else (m.rope_base, m.rope_freq_scale) for w in m.layer_windowed]

        off = 1.0 if arch in GEMMA else 0.0            # HF gemma norms compute (1 + w)
        g = lambda n: _t(W[n])
        gn = lambda n: _t(W[n]) + off
        tie = bool(cfg.get("tie_word_embeddings", arch in GEMMA))
        lm_head = "lm_head.weight"
        if prefix + "embed_tokens.weight" in W:
            m.tok_embd = g(prefix + "embed_tokens.weight")
        elif tie and lm_head in W:
            m.tok_embd = g(lm_head)
        else:
            raise KeyError("no embedding matrix")
        if tie or lm_head not in W:
            m.output = m.tok_embd
            m.tied = True
        else:
            m.output = g(lm_head)
            m.tied = False
        m.n_vocab = m.tok_embd.shape[0]
        m.output_norm = gn(prefix + "norm.weight")
        H, Hkv, hd, F = m.n_head, m.n_head_kv, m.head_dim, m.n_ff
        for i in range(m.n_layer):
            p = prefix + "layers.%d." % i
            L = {"attn_norm": gn(p + "input_layernorm.weight")}
            if arch == "phi3":
                qkv = g(p + "self_attn.qkv_proj.weight")
                L["wq"], L["wk"], L["wv"] = qkv[:H * hd], qkv[H * hd:(H + Hkv) * hd], qkv[(H + Hkv) * hd:]
                gu = g(p + "mlp.gate_up_proj.weight")
                L["gate"], L["up"] = gu[:F], gu[F:]
            else:
                L["wq"] = g(p + "self_attn.q_proj.weight")
                L["wk"] = g(p + "self_attn.k_proj.weight")
                L["wv"] = g(p + "self_attn.v_proj.weight")
                L["gate"] = g(p + "mlp.gate_proj.weight")
                L["up"] = g(p + "mlp.up_proj.weight")
            L["wo"] = g(p + "self_attn.o_proj.weight")
            L["down"] = g(p + "mlp.down_proj.weight")
            if arch in GEMMA:
                L["post_attn_norm"] = gn(p + "post_attention_layernorm.weight")
                L["ffn_norm"] = gn(p + "pre_feedforward_layernorm.weight")
                L["post_ffn_norm"] = gn(p + "post_feedforward_layernorm.weight")
            else:
                L["ffn_norm"] = g(p + "post_attention_layernorm.weight")
            for b, n in (("bq", "self_attn.q_proj.bias"), ("bk", "self_attn.k_proj.bias"),
                         ("bv", "self_attn.v_proj.bias")):
                if p + n in W:
                    L[b] = g(p + n)
            for b, n in (("q_norm", "self_attn.q_norm.weight"), ("k_norm", "self_attn.k_norm.weight")):
                if p + n in W:
                    L[b] = gn(p + n)
            m.layers.append(L)
        m._check()
        return m

    def _check(self):
        C, hd = self.n_embd, self.head_dim
        assert self.tok_embd.shape == (self.n_vocab, C)
        assert self.output.shape == (self.n_vocab, C)
        assert self.n_head % self.n_head_kv == 0
        assert 0 < self.n_rot <= hd and self.n_rot % 2 == 0
        assert self.arch not in ("qwen3", "gemma3") or all("q_norm" in L and "k_norm" in L for L in self.layers)
        assert self.arch not in GEMMA or all("post_attn_norm" in L and "post_ffn_norm" in L for L in self.layers)
        for L in self.layers:
            assert L["wq"].shape == (self.n_head * hd, C)
            assert L["wk"].shape == (self.n_head_kv * hd, C)
            assert L["wv"].shape == (self.n_head_kv * hd, C)
            assert L["wo"].shape == (C, self.n_head * hd)
            assert L["gate"].shape == (self.n_ff, C)
            assert L["up"].shape == (self.n_ff, C)
            assert L["down"].shape == (C, self.n_ff)
            for n in ("q_norm", "k_norm"):
                assert n not in L or L[n].shape == (hd,)
        if self.rope_factors is not None:
            assert self.rope_factors.numel() == self.n_rot // 2
        if not self.layer_rope:
            self.layer_rope = [(self.rope_base, self.rope_freq_scale)] * self.n_layer
        if not self.layer_windowed:
            self.layer_windowed = [False] * self.n_layer

    # ---------------------------------------------------------------- pieces
    def rms_norm(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos, base=None, freq_scale=None):
        """x: (B, H, T, d), pos: (B, T) -> rotated x (the first n_rot dims of each head)."""
        base = self.rope_base if base is None else base
        freq_scale = self.rope_freq_scale if freq_scale is None else freq_scale
        d = x.shape[-1]
        r = self.n_rot or d
        i = torch.arange(r // 2, dtype=torch.float64)
        freq = base ** (-2.0 * i / r) * freq_scale
        if self.rope_factors is not None:
            freq = freq / self.rope_factors
        ang = pos.to(torch.float64)[:, None, :, None] * freq  # (B, 1, T, r/2), angles in double
        c = (torch.cos(ang) * self.attn_factor).to(self.dtype)
        s = (torch.sin(ang) * self.attn_factor).to(self.dtype)
        xr, rest = x[..., :r], x[..., r:]
        if self.rope_half:
            a, b = xr[..., : r // 2], xr[..., r // 2:]
            out = torch.cat([a * c - b * s, b * c + a * s], dim=-1)
        else:
            a, b = xr[..., 0::2], xr[..., 1::2]
            out = torch.stack([a * c - b * s, a * s + b * c], dim=-1).flatten(-2)
        return out if r == d else torch.cat([out, rest], dim=-1)

    def activation(self, g):
        return gelu_tanh(g) if self.act == "gelu_tanh" else torch.nn.functional.silu(g)

    # ---------------------------------------------------------------- forward
    def embed(self, tokens):
        """Rows of the embedding table (without gemma's sqrt(C) scale)."""
        tokens = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        return self.tok_embd[tokens]

    def forward(self, tokens=None, embeddings=None, positions=None, key_mask=None,
                return_hidden=False, last_only=False, hidden_in=None, start_layer=0, capture=None):
        """tokens (B, T) ints or embeddings (B, T, C) (raw table rows); positions (B, T)
        (default t); key_mask (B, T) 0 = no query attends to that key. Returns logits
        (B, T, V) as a float64 torch tensor (rows of queries that see no key are
        0-attention). return_hidden also gives the residual stream before each layer
        and after the last (gemma: after the embedding scale).

        hidden_in (B, T, C): start from this residual stream after START_LAYER
        layers instead of from embeddings (no embedding scale; layer
        attribution). capture: a dict that receives per layer lists "probs"
        (B, H, T, T) softmax weights, "v" (B, H, T, hd) the values each query
        head reads (biases included), "head_out" (B, T, H, hd) each head's
        weighted values (before Wo), "attn_pre" / "attn" the attention output
        before / after its post-norm, "ffn_pre" / "ffn" the same for the FFN."""
        if hidden_in is not None:
            x = hidden_in if torch.is_tensor(hidden_in) else torch.as_tensor(np.asarray(hidden_in, dtype=np.float64))
            x = x.to(self.dtype)
            if x.dim() == 2:
                x = x[None]
        elif embeddings is not None:
            if torch.is_tensor(embeddings):              # keeps autograd's graph (gradient checks)
                x = embeddings.to(self.dtype)
            else:
                x = torch.as_tensor(np.asarray(embeddings, dtype=np.float64)).to(self.dtype)
        else:
            x = self.embed(tokens)
        if x.dim() == 2:
            x = x[None]
        if self.embed_scale is not None and hidden_in is None:
            x = x * self.embed_scale
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
        if self.sliding_window > 0 and any(self.layer_windowed):
            # a query at position i sees keys at j with i - j < W (llama.cpp's is_masked_swa)
            near = (pos[:, :, None] - pos[:, None, :]) < self.sliding_window
            allowed_w = allowed & near
        H, Hkv, hd = self.n_head, self.n_head_kv, self.head_dim
        group = H // Hkv
        kv_of_head = torch.arange(H) // group
        scale = self.attn_scale if self.attn_scale is not None else 1.0 / math.sqrt(hd)
        hidden = [x]
        for li, L in enumerate(self.layers):
            if li < start_layer:
                continue
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
            if "q_norm" in L:
                q = self.rms_norm(q, L["q_norm"])
                k = self.rms_norm(k, L["k_norm"])
            base, fscale = self.layer_rope[li]
            q = self.rope(q, pos, base, fscale)
            k = self.rope(k, pos, base, fscale)
            k = k[:, kv_of_head]                              # (B, H, T, hd)
            v = v[:, kv_of_head]
            scores = (q @ k.transpose(-1, -2)) * scale
            if self.attn_softcap:
                scores = self.attn_softcap * torch.tanh(scores / self.attn_softcap)
            mask = allowed_w if self.layer_windowed[li] and self.sliding_window > 0 else allowed
            scores = scores.masked_fill(~mask[:, None], float("-inf"))
            att = torch.softmax(scores, dim=-1)
            att = torch.nan_to_num(att, nan=0.0)
            heads = (att @ v).transpose(1, 2)                 # (B, T, H, hd)
            o = heads.reshape(B, T, H * hd) @ L["wo"].T
            o_pre = o
            if "post_attn_norm" in L:
                o = self.rms_norm(o, L["post_attn_norm"])
            if capture is not None:
                for key, val in (("probs", att), ("v", v), ("head_out", heads), ("attn_pre", o_pre), ("attn", o)):
                    capture.setdefault(key, []).append(val)
            x = x + o
            h = self.rms_norm(x, L["ffn_norm"])
            f = (self.activation(h @ L["gate"].T) * (h @ L["up"].T)) @ L["down"].T
            f_pre = f
            if "post_ffn_norm" in L:
                f = self.rms_norm(f, L["post_ffn_norm"])
            if capture is not None:
                capture.setdefault("ffn_pre", []).append(f_pre)
                capture.setdefault("ffn", []).append(f)
            x = x + f
            hidden.append(x)
        if last_only:                                     # (B, 1, C): the last position only
            x = x[:, -1:]
        x = self.rms_norm(x, self.output_norm)
        logits = x @ self.output.T
        if self.final_softcap:
            logits = self.final_softcap * torch.tanh(logits / self.final_softcap)
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


def load_model(path, long_rope=False):
    if os.path.isdir(path) or path.endswith("config.json"):
        return Model.from_hf(path, long_rope=long_rope)
    return Model.from_gguf(path, long_rope=long_rope)
