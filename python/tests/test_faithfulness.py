"""Attribution.faithfulness / Explanation.faithfulness against the metrics'
definitions (docs/metrics.md), each masked input run through a plain
forward pass (Model.next_token_logits): no code of the faithfulness path."""
import math

import numpy as np
import pytest

TEXT = "Once upon a time there was a little girl who liked cats"


def _value(model, ids, features, mask_token, keep, target):
    """The target logit with the features not in KEEP replaced by the mask token."""
    masked = [mask_token if f >= 0 and f not in keep else t for t, f in zip(ids, features)]
    return float(model.next_token_logits(masked)[target])


def _ranking(scores):
    return [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]  # ties: the lower index first


def test_faithfulness_equals_the_definitions(stories):
    ex = stories.explain(TEXT, ["occlusion", "saliency", "ig"], n_steps=16)
    got = ex.faithfulness(fractions=[0.2, 0.5], curve_points=4, random_orders=2, seed=5)
    assert list(got) == ["occlusion", "saliency", "ig"]
    a0 = ex["occlusion"]
    ids = [t.id for t in a0.tokens]
    feats = [int(f) for f in a0.features]
    n = int(max(feats)) + 1
    target = a0.target["token"]
    mask = a0._rec["mask_token"]
    v_all = _value(stories, ids, feats, mask, set(range(n)), target)
    v_none = _value(stories, ids, feats, mask, set(), target)
    for method, f in got.items():
        a = ex[method]
        rank = _ranking(a.feature_scores)
        assert f["f_full"] == pytest.approx(v_all, rel=1e-4, abs=1e-4)
        assert f["f_empty"] == pytest.approx(v_none, rel=1e-4, abs=1e-4)
        ks = [max(1, min(n, int(math.floor(q * n + 0.5)))) for q in (0.2, 0.5)]
        assert f["k"] == ks
        for j, k in enumerate(ks):
            top = set(rank[:k])
            assert f["comprehensiveness"][j] == pytest.approx(
                v_all - _value(stories, ids, feats, mask, set(range(n)) - top, target), abs=2e-4)
            assert f["sufficiency"][j] == pytest.approx(v_all - _value(stories, ids, feats, mask, top, target), abs=2e-4)
        assert f["comprehensiveness_aopc"] == pytest.approx(np.mean(f["comprehensiveness"]), abs=1e-12)
        P = min(n, 4)
        assert f["counts"] == [int(math.floor(j * n / P + 0.5)) for j in range(P + 1)]
        for j, c in enumerate(f["counts"]):
            top = set(rank[:c])
            assert f["deletion"][j] == pytest.approx(_value(stories, ids, feats, mask, set(range(n)) - top, target),
                                                     abs=2e-4)
            assert f["insertion"][j] == pytest.approx(_value(stories, ids, feats, mask, top, target), abs=2e-4)
        x = np.asarray(f["counts"]) / n
        assert f["deletion_auc"] == pytest.approx(np.trapz(f["deletion"], x), abs=1e-9)
        assert f["insertion_auc"] == pytest.approx(np.trapz(f["insertion"], x), abs=1e-9)
        assert f["random"] == got["occlusion"]["random"]  # computed once, reported in every method
        assert all(math.isfinite(v) for v in f["random"].values())


def test_one_method_equals_its_part_of_several(stories):
    ex = stories.explain(TEXT, ["occlusion", "gxi"])
    both = ex.faithfulness(random_orders=0)
    one = ex["gxi"].faithfulness(random_orders=0)
    for key in ("comprehensiveness", "sufficiency", "deletion", "insertion", "counts", "k"):
        assert one[key] == pytest.approx(both["gxi"][key], abs=1e-5)
    assert math.isnan(one["random"]["deletion_auc"])  # no random rankings asked for
    # each masked input ran once: the counts add up to the distinct inputs the two rankings need
    n = len(ex["gxi"].feature_scores)
    need = set()
    for method, f in both.items():
        rank = _ranking(ex[method].feature_scores)
        for k in f["k"] + f["counts"]:
            need.add(frozenset(rank[:k]))                     # only the top k kept
            need.add(frozenset(range(n)) - set(rank[:k]))     # the top k removed
    need -= {frozenset(), frozenset(range(n))}                # v(none) and v(all) are given, not rerun
    assert sum(f["n_evaluations"] for f in both.values()) == len(need)


def test_same_inputs_give_the_same_numbers(stories):
    a = stories.explain(TEXT, "occlusion")
    assert a.faithfulness(seed=9) == a.faithfulness(seed=9)


def test_bad_options_are_clear_errors(stories, attrib):
    a = stories.explain(TEXT, "occlusion")
    for bad in ([0.0], [1.5], [0.1] * 9, "x"):
        with pytest.raises(ValueError, match="fractions"):
            a.faithfulness(fractions=bad)
    with pytest.raises(ValueError, match="curve_points"):
        a.faithfulness(curve_points=2.5)
    with pytest.raises(ValueError, match="seed"):
        a.faithfulness(seed=-1)
    with pytest.raises(attrib.AttribError):
        a.faithfulness(curve_points=0)  # the library's bounds, its message
