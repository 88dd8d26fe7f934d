#!/usr/bin/python3
"""check_reference: the independent reference (tests/py/attrib_ref) and the
GGUF writer (tools/make_gguf.py) checked on their own, without the C library.

  1. GGUF reader + Llama forward (adjacent-pair RoPE, GQA): greedy decoding of
     stories260K from BOS gives the known TinyStories opening.
  2. safetensors reader + rotate-half RoPE + tied lm_head: greedy decoding of
     TinyStories-656K from its BOS gives a coherent "Once upon a time" story,
     and the same model with the other RoPE layout does not.
  3. F16 reading: llama-2-tiny-random's F16 tensors decode to exactly the
     float16 values of their bytes (decoded one by one with struct's 'e').
  4. make_gguf.py quantisers + reader dequantisers: for every weight type the
     round trip error of a random matrix is within the type's step bound
     (a layout disagreement between writer and reader gives O(1) errors),
     and a written model's metadata and tensors read back as written.
"""
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import gguf  # noqa: E402
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.model import load_model  # noqa: E402

sys.path.insert(0, os.path.join(H.REPO, "tools"))
import make_gguf  # noqa: E402

FAILS = []


def check(cond, what):
    print("%-4s %s" % ("ok" if cond else "FAIL", what))
    sys.stdout.flush()
    if not cond:
        FAILS.append(what)


def spm_text(tokens, ids):
    return "".join(tokens[i] for i in ids).replace("\u2581", " ")


def main():
    torch.set_num_threads(2)
    for p in (H.STORIES260K, H.LLAMA2_TINY, H.TINYSTORIES_HF):
        H.require(p, "shared model (set ATTRIB_SHARED)")

    # 1. stories260K
    m = load_model(H.STORIES260K)
    toks = m.tokenizer_meta["tokenizer.ggml.tokens"]
    with torch.no_grad():
        ids = m.greedy([1], 30)
    text = spm_text(toks, ids)
    print("     stories260K greedy:", repr(text))
    check(text.startswith(" Once upon a time, there was a little girl named Lily. She loved to play"),
          "stories260K greedy decoding from BOS")
    check(m.n_head == 8 and m.n_head_kv == 4 and not m.rope_half, "stories260K hyper-parameters")

    # 2. TinyStories-656K (HF)
    m = load_model(H.TINYSTORIES_HF)
    with open(os.path.join(H.TINYSTORIES_HF, "tokenizer.json"), encoding="utf-8") as fh:
        inv = {v: k for k, v in json.load(fh)["model"]["vocab"].items()}
    with torch.no_grad():
        ids = m.greedy([1], 20)
        text = spm_text(inv, ids)
        print("     TinyStories-656K greedy:", repr(text))
        check(text.strip().startswith("Once upon a time, there was a little"),
              "TinyStories-656K greedy decoding from BOS")
        check(m.tied and m.output is m.tok_embd, "TinyStories-656K embedding is lm_head.weight")
        m.rope_half = False
        wrong = spm_text(inv, m.greedy([1], 20))
    check(wrong != text, "TinyStories-656K: the wrong RoPE layout changes the output")

    # 3. F16
    f = gguf.GGUFFile(H.LLAMA2_TINY)
    n_f16 = 0
    for name, t in f.tensors.items():
        if t.type != 1:
            continue
        raw = bytes(f.raw(name)[:2 * 512])
        want = np.array([struct.unpack_from("<e", raw, 2 * i)[0] for i in range(len(raw) // 2)])
        got = f.tensor(name).reshape(-1)[:len(want)]
        check(np.array_equal(want, got), "F16 tensor %s decodes exactly" % name)
        n_f16 += 1
    check(n_f16 >= 8, "llama-2-tiny-random has F16 tensors")

    # 4. writer <-> reader
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(256 * 40) * 0.05).astype(np.float32)
    x[:256] = np.abs(x[:256]) + 0.01     # a block with no negative values
    x[256:512] -= 0.2                    # a block with no positive values
    x[512:768] = 0.0                     # an all-zero block
    bound = {"f32": 0.0, "f16": 1e-3, "bf16": 8e-3, "q8_0": 0.5 / 127 + 1e-3,
             "q4_0": 0.5 / 7.5 + 1e-2, "q5_0": 0.5 / 15.5 + 1e-2, "q4_1": 1.0 / 15 + 1e-2,
             "q5_1": 1.0 / 31 + 1e-2, "q4_k": 1.0 / 15 + 3e-2, "q5_k": 1.0 / 31 + 3e-2,
             "q6_k": 0.5 / 31.5 + 1e-2,
             # 2-bit: half of a step of (max - min)/3 <= 2max/3; Q3_K: half a step of max/4, or
             # a whole step where +max clips to level 3; IQ4: half the widest gap of the grid
             # (24/127), or 14/127 where +max meets the top level 113
             "q2_k": 1.0 / 3 + 0.1, "q3_k": 0.25 + 0.1, "iq4_nl": 14.0 / 127 + 2e-2,
             "iq4_xs": 14.0 / 127 + 4e-2}
    for name, (tid, blk, bsz, _) in make_gguf.DTYPES.items():
        raw = make_gguf.encode(x, name)
        y = gguf.dequantize(raw, tid, x.size)
        g = 256
        err = np.abs(y - x).reshape(-1, g).max(1) / np.maximum(np.abs(x).reshape(-1, g).max(1), 1e-30)
        check(raw.size == x.size // blk * bsz and err.max() <= bound[name],
              "%-5s round trip: max error %.4f of the block's max |x| (bound %.4f)"
              % (name, err.max(), bound[name]))

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.gguf")
        H.make_gguf(path, "--arch", "qwen2", "--n-embd", 256, "--n-layer", 1, "--n-head", 4,
                    "--n-head-kv", 2, "--n-ff", 512, "--dtype", "q6_k", "--untied",
                    "--rope-freqs", "--alignment", 128, "--tokenizer-from", H.STORIES260K)
        f = gguf.GGUFFile(path)
        src = gguf.GGUFFile(H.STORIES260K)
        md = f.metadata
        check(f.version == 3 and f.alignment == 128 and f.data_start % 128 == 0,
              "written file: v3, alignment 128, aligned data section")
        check(all(t.offset % 128 == 0 for t in f.tensors.values()), "written file: aligned tensor offsets")
        check(md["general.architecture"] == "qwen2" and md["qwen2.embedding_length"] == 256
              and md["qwen2.attention.head_count_kv"] == 2, "written file: hyper-parameters")
        check(all(md[k] == v and f.metadata_types[k] == src.metadata_types[k]
                  for k, v in src.metadata.items() if k.startswith("tokenizer.")),
              "written file: tokenizer metadata copied with its types")
        check(f.tensors["blk.0.attn_q.weight"].type_name == "Q6_K"
              and f.tensors["blk.0.attn_q.bias"].type_name == "F32"
              and f.tensors["token_embd.weight"].type_name == "Q6_K"
              and "output.weight" in f.tensors and "rope_freqs.weight" in f.tensors,
              "written file: tensor types and optional tensors")
        m = load_model(path)
        with torch.no_grad():
            logits = m.forward(tokens=[[1, 5, 9, 300, 17]])
        s = float(logits.std())
        check(1.0 < s < 10.0 and bool(torch.isfinite(logits).all()),
              "random model logits are well-conditioned (std %.2f)" % s)

    if FAILS:
        print("FAILED: %d checks" % len(FAILS))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
