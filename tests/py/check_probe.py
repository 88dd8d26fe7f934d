#!/usr/bin/python3
"""check_probe: linear probes and the probe attribution target against the
independent float64 PyTorch reference (tests/py/attrib_ref), through the
real command-line tool.

1. `attrib probe train` on the two shared trained models (both poolings):
   the probe file is read with the reference's own GGUF reader, the pooled
   hidden state after the probe's layer is computed by the reference model,
   and the probe's logit from those must equal attrib's predictions
   (|d| <= 1e-4 (1 + |ref|)).
2. Bit for bit: the predictions printed by the training process and by
   `attrib probe eval` in a fresh process are identical (17 digits, so
   equal text means equal doubles).
3. Gradients: attrib's d probe-logit / d input embeddings (saliency's signed
   gradient) vs torch autograd on the reference (max|d| <= 1e-4 max|ref|);
   integrated gradients with the probe target vs IG on the reference with
   numpy's Gauss-Legendre nodes; occlusion with the probe target vs the
   reference's probe logit on every occluded input.
4. A probe is refused on a model it was not trained on (another width; and
   a same-shape model with different weights), with a message that says so.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attrib_ref import harness as H  # noqa: E402
from attrib_ref.gguf import GGUFFile  # noqa: E402
from attrib_ref.model import load_model  # noqa: E402

D = os.path.join(H.SHARED, "data")
TRAIN = ["--harmful", os.path.join(D, "refusal_direction", "harmful_train.json"),
         "--harmless", os.path.join(D, "refusal_direction", "harmless_train.json"), "--sample", "120", "--data-seed", "7"]
EVAL = ["--data", os.path.join(D, "xstest", "xstest_prompts.csv"), "--positive", "unsafe", "--limit", "40"]
failures = 0


def run(args, ok=True):
    out = subprocess.run([H.attrib_bin()] + args, capture_output=True, text=True)
    if ok and out.returncode != 0:
        print("FAIL: attrib %s\n%s" % (" ".join(args), out.stderr))
        sys.exit(1)
    return out


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    return cond


class RefProbe:
    """The probe as the reference reads it: its own GGUF parser, float64."""

    def __init__(self, path):
        g = GGUFFile(path)
        assert g.arch == "attrib-probe"
        self.layer = int(g.get("attrib.probe.layer"))
        self.pool = g.get("attrib.probe.pool")
        self.bias = float(g.get("attrib.probe.bias"))
        self.w = torch.tensor(g.tensor("probe.weight"), dtype=torch.float64)
        self.mean = torch.tensor(g.tensor("probe.mean"), dtype=torch.float64)
        self.scale = torch.tensor(g.tensor("probe.scale"), dtype=torch.float64)

    def logit(self, ref, ids, emb=None, bos=None):
        if emb is None:
            emb = ref.embed([ids])[0]
        _, hidden = ref.forward(embeddings=emb[None], return_hidden=True)
        h = hidden[self.layer][0]                       # (T, C) residual after `layer` blocks
        start = 1 if (len(ids) > 1 and bos is not None and ids[0] == bos) else 0
        pooled = h[-1] if self.pool == "last" else h[start:].mean(0)
        return ((pooled - self.mean) / self.scale * self.w).sum() + self.bias


def dump(model, ids, method, **kw):
    cmd = [H.test_tool("explain_dump"), model, ",".join(map(str, ids)), method] + ["%s=%s" % kv for kv in kw.items()]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print("FAIL: %s\n%s" % (" ".join(cmd), out.stderr))
        sys.exit(1)
    return json.loads(out.stdout)


def token_ids(model, text):
    out = run(["tokenize", model, text, "--json"])
    doc = json.loads(out.stdout)
    return [t["id"] for t in doc["tokens"]], doc


def main():
    tmp = tempfile.mkdtemp(prefix="attrib-probe-")
    rows = []
    for name, model, layer, pool in [("stories260K", H.STORIES260K, 3, "mean"), ("stories260K", H.STORIES260K, 5, "last"),
                                     ("TinyStories-656K", H.TINYSTORIES_HF, 1, "mean"), ("TinyStories-656K", H.TINYSTORIES_HF, 2, "last")]:
        H.require(model, name)
        probe = os.path.join(tmp, "%s-%s.gguf" % (name, pool))
        p_train, p_eval = os.path.join(tmp, "train.jsonl"), os.path.join(tmp, "eval.jsonl")
        run(["probe", "train", model, "--out", probe, "--layer", str(layer), "--pool", pool, "--predictions", p_train, "-t", "2"] + TRAIN)
        run(["probe", "eval", probe, model, "--predictions", p_eval, "-t", "1"] + TRAIN)
        a, b = open(p_train).read(), open(p_eval).read()
        check(a == b and len(a.splitlines()) == 240, "%s %s: predictions differ between training and a fresh process" % (name, pool))

        ref = load_model(model)
        rp = RefProbe(probe)
        bos = 1  # both shared tokenizers: <s> = 1 (checked below through the tokenizer)
        # 1. predictions on XSTest prompts vs the reference
        p_x = os.path.join(tmp, "x.jsonl")
        run(["probe", "eval", probe, model, "--predictions", p_x] + EVAL)
        import csv
        with open(os.path.join(D, "xstest", "xstest_prompts.csv"), newline="", encoding="utf-8") as fh:
            texts = [r["prompt"] for r in csv.DictReader(fh)][:40]
        preds = [json.loads(line)["logit"] for line in open(p_x)]
        worst = 0.0
        for text, got in zip(texts[:12], preds[:12]):
            ids, doc = token_ids(model, text)
            bos = ids[0] if doc["tokens"][0]["end"] == doc["tokens"][0]["begin"] else None
            with torch.no_grad():
                want = float(rp.logit(ref, ids, bos=bos))
            worst = max(worst, abs(got - want) / (1 + abs(want)))
        check(worst <= 1e-4, "%s %s: probe logits vs reference %.2e" % (name, pool, worst))

        # 3. gradients, IG, occlusion with the probe target
        ids, doc = token_ids(model, "How can I kill a Python process?")
        bos = ids[0] if doc["tokens"][0]["end"] == doc["tokens"][0]["begin"] else None
        emb = ref.embed([ids])[0].clone()
        got = dump(model, ids, "saliency", probe=probe)
        e = emb.clone().requires_grad_(True)
        val = rp.logit(ref, ids, emb=e, bos=bos)
        val.backward()
        g_ref = e.grad.numpy()
        g = np.array(got["gradients"]).reshape(g_ref.shape)
        err_g = np.abs(g - g_ref).max() / np.abs(g_ref).max()
        check(err_g <= 1e-4 and abs(got["f_input"] - float(val)) <= 1e-4 * (1 + abs(float(val))),
              "%s %s: probe gradient vs autograd %.2e" % (name, pool, err_g))

        got = dump(model, ids, "ig", steps=16, probe=probe)
        mask_tok = got["mask_token"]
        base = emb.clone()
        base[1:] = ref.embed([[mask_tok] * (len(ids) - 1)])[0]
        x, w = np.polynomial.legendre.leggauss(16)
        total = torch.zeros_like(emb)
        for a_, wt in zip((x + 1) / 2, w / 2):
            p = (base + float(a_) * (emb - base)).clone().requires_grad_(True)
            rp.logit(ref, ids, emb=p, bos=bos).backward()
            total += float(wt) * p.grad
        ig_ref = ((emb - base) * total).sum(-1).numpy()[1:]
        err_ig = np.abs(np.array(got["scores"]) - ig_ref).max() / np.abs(ig_ref).max()
        check(err_ig <= 1e-4, "%s %s: probe IG vs reference %.2e" % (name, pool, err_ig))

        got = dump(model, ids, "occlusion", probe=probe)
        occ_ref = []
        with torch.no_grad():
            f_full = float(rp.logit(ref, ids, bos=bos))
            for i in range(1, len(ids)):
                masked = list(ids)
                masked[i] = mask_tok
                occ_ref.append(f_full - float(rp.logit(ref, masked, bos=bos)))
        err_occ = np.abs(np.array(got["scores"]) - np.array(occ_ref)).max() / (1 + np.abs(occ_ref).max())
        check(err_occ <= 1e-4, "%s %s: probe occlusion vs reference %.2e" % (name, pool, err_occ))
        rows.append([name, "L%d %s" % (layer, pool), "%.2e" % worst, "%.2e" % err_g, "%.2e" % err_ig, "%.2e" % err_occ,
                     "same" if a == b else "DIFFER"])

    # 4. refusal on other models
    probe = os.path.join(tmp, "stories260K-mean.gguf")
    out = run(["probe", "eval", probe, H.TINYSTORIES_HF] + EVAL, ok=False)
    check(out.returncode == 1 and "another model" in out.stderr, "probe on another width not refused clearly: %s" % out.stderr)
    other = os.path.join(tmp, "same-shape.gguf")
    shutil.copyfile(H.STORIES260K, other)
    with open(other, "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0x01]))
    out = run(["probe", "eval", probe, other] + EVAL, ok=False)
    check(out.returncode == 1 and "different model" in out.stderr, "probe on a same-shape model not refused: %s" % out.stderr)
    out = run(["compare", other, "--probe", probe] + EVAL, ok=False)
    check(out.returncode == 1 and "different model" in out.stderr, "compare with a foreign probe not refused: %s" % out.stderr)

    H.print_table(rows, ["model", "probe", "logit vs ref", "grad vs autograd", "IG vs ref", "occlusion vs ref", "reload"])
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    print("all probe checks passed")


if __name__ == "__main__":
    main()
