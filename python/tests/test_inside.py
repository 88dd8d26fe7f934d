"""Model.attention, Model.logit_parts and Model.explain_layer (inside.py)
against the attrib program's JSON for the same input (`attrib attention
--json --rollout`, `attrib explain --layer-summary --json`, `attrib explain
--layer L --json`), and their identities (rows sum to 1, parts sum to the
logit, values sum to the scores)."""
import json

import numpy as np
import pytest

import attrib
from conftest import STORIES, THREADS, cli, need

TEXT = "Once upon a time there was a little girl named"


@pytest.fixture(scope="module")
def model():
    with attrib.Model(need(STORIES), threads=THREADS) as m:
        yield m


def test_attention_equals_the_cli(model):
    a = model.attention(TEXT, rollout=True)
    doc = json.loads(cli("attention", STORIES, TEXT, "--json", "--rollout", "-t", THREADS).stdout)
    T = len(doc["tokens"])
    assert a.weights.shape == (model.info.n_layer, model.info.n_head, T, T) and [t.id for t in a.tokens] == [
        t["id"] for t in doc["tokens"]]
    assert np.abs(a.weights - np.array(doc["attention"])).max() < 1e-7  # the CLI prints 8 digits
    assert np.abs(a.rollout - np.array(doc["rollout"]["values"])).max() < 1e-9
    assert np.abs(a.weights.sum(-1) - 1).max() < 1e-5
    assert np.all(np.triu(a.weights, 1) == 0)
    d = a.to_dict()
    assert d["shape"] == doc["shape"] and d["n_head"] == doc["n_head"]
    # token ids work as input too
    b = model.attention([t.id for t in a.tokens])
    assert np.array_equal(a.weights, b.weights) and b.rollout is None


def test_logit_parts_equal_the_cli(model):
    p = model.logit_parts(TEXT)
    doc = json.loads(cli("explain", STORIES, TEXT, "--layer-summary", "--json", "-t", THREADS).stdout)
    assert p.token == doc["target"]["token"]
    assert p.logit == pytest.approx(doc["logit"], abs=1e-12) and p.sum == pytest.approx(doc["sum"], abs=1e-12)
    assert np.allclose(p.attn, [b["attn"] for b in doc["blocks"]], atol=1e-12)
    assert np.allclose(p.heads, [b["heads"] for b in doc["blocks"]], atol=1e-12)
    assert np.allclose(p.by_source, doc["by_source"], atol=1e-12)
    assert abs(p.embedding + p.attn.sum() + p.ffn.sum() - p.logit) <= 1e-5 * max(1, abs(p.logit))
    assert np.allclose(p.heads.sum(1) + p.attn_bias, p.attn, atol=1e-12)
    d = model.logit_parts(TEXT, token=" Lily", token2=" little")
    assert d.token == model.token_id(" Lily") and d.token2 == model.token_id(" little")


def test_explain_layer_equals_the_cli(model):
    r = model.explain_layer(TEXT, 3, "gxi")
    doc = json.loads(cli("explain", STORIES, TEXT, "--layer", "3", "-m", "gxi", "--json", "-t", THREADS).stdout)
    assert r.layer == 3 and r.values.shape == (len(r.tokens), model.info.n_embd)
    assert np.allclose(r.scores, [t["score"] for t in doc["tokens"]], atol=1e-12)
    assert np.allclose(r.values.ravel(), doc["layer_values"]["values"], atol=1e-7)
    assert np.abs(r.values.sum(1) - r.scores).max() <= 1e-5 * np.abs(r.scores).max()
    ig = model.explain_layer(TEXT, 2, "ig", steps=16)
    assert ig.scores[0] == 0.0 and ig.gradients is None and ig.completeness_relative < 0.01
    with pytest.raises(attrib.AttribError):
        model.explain_layer(TEXT, model.info.n_layer + 1, "gxi")
