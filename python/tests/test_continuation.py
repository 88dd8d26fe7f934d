"""Model.explain_continuation (attrib.explain_continuation) against the CLI's
`attrib explain TEXT --generate N / --continuation ANS --json`: the same
answer tokens, the same matrix bit for bit, the same per-step values; IG
rows complete; wrong arguments raise ValueError naming the problem. (The
matrices themselves are checked against the float64 PyTorch reference by
tests/py/check_continuation.py.)"""
import json
import math

import numpy as np
import pytest

import attrib
from conftest import STORIES, THREADS, cli, need

LILY = "Once upon a time there was a little girl named"


@pytest.fixture(scope="module")
def model():
    with attrib.Model(need(STORIES), threads=THREADS) as m:
        yield m


def cli_doc(*args):
    return json.loads(cli("explain", STORIES, LILY, "--threads", THREADS, "--json", *args).stdout)


def same_matrix(c, doc):
    want = np.array([[np.nan if v is None else v for v in row] for row in doc["matrix"]])
    assert c.matrix.shape == want.shape
    assert np.array_equal(np.isnan(c.matrix), np.isnan(want))
    assert np.array_equal(np.nan_to_num(c.matrix), np.nan_to_num(want))


def test_generate_equals_cli(model):
    c = model.explain_continuation(LILY, generate=8, method="gxi")
    doc = cli_doc("--generate", "8", "-m", "gxi")
    assert c.ids == [t["id"] for t in doc["tokens"]] and c.n_prompt == doc["n_prompt"]
    assert len(c.answer_ids) == 8 and c.answer_text == doc["answer_text"] and c.target == "logprob"
    same_matrix(c, doc)
    d = c.to_dict()
    for mine, theirs in zip(d["steps"], doc["steps"]):
        for k in ("position", "token", "text", "f", "sum", "prompt_share", "answer_share"):
            assert mine[k] == pytest.approx(theirs[k], rel=1e-12, abs=0) if isinstance(theirs[k], float) else mine[k] == theirs[k], k
    assert [t["text"] for t in d["tokens"]] == [t["text"] for t in doc["tokens"]]
    # sources: the prompt without BOS and the answer tokens before each step
    P = c.n_prompt
    for j in range(8):
        row = c.matrix[j]
        assert math.isnan(row[0]) and not np.isnan(row[1:P + j]).any() and np.isnan(row[P + j:]).all()


def test_continuation_ig_and_contrast_equal_cli(model):
    c = attrib.explain_continuation(model, LILY, continuation=" Sue. She had", method="ig", n_steps=16)
    doc = cli_doc("--continuation", " Sue. She had", "--steps", "16")
    same_matrix(c, doc)
    assert c.mode == "continuation" and all(len(n) == 16 for n in c.ig_nodes)
    gap = c.f - c.f_baseline
    assert np.all(np.abs(c.sum - gap) == np.abs(c.completeness_delta))
    tim = model.token_id(" Tim")
    c = model.explain_continuation(LILY, generate=3, method="saliency", contrast_token=" Tim")
    doc = cli_doc("--generate", "3", "-m", "saliency", "--contrast-token", " Tim")
    assert c.target == "logit diff" and c.contrast == [tim] * 3
    same_matrix(c, doc)


@pytest.mark.parametrize("kw, msg", [
    (dict(), "give generate=N or continuation=TEXT"),
    (dict(generate=2, continuation=" Lily"), "give generate=N or continuation=TEXT"),
    (dict(generate=0), "generate takes a whole number"),
    (dict(generate=600), "exceed the model's context of 512"),
    (dict(continuation=""), "continuation is empty"),
    (dict(generate=2, target="diff"), "needs contrast"),
    (dict(generate=2, contrast_token=" Tim", target="logit"), "logit difference"),
    (dict(generate=5, contrast=" Tim"), "contrast has 1 tokens but the answer has 5"),
    (dict(generate=2, method=["ig", "gxi"]), "one method at a time"),
    (dict(continuation=" Lily", ignore_eos=True), "ignore_eos goes with generate"),
])
def test_bad_arguments(model, kw, msg):
    with pytest.raises(ValueError, match=msg):
        model.explain_continuation(LILY, **kw)


def test_answer_inside_a_token_is_refused(model):
    with pytest.raises(ValueError, match="merges with the end of the text"):
        model.explain_continuation("Once upon a ti", continuation="me there")
