"""Model.compare() returns the document of `attrib compare` (it runs that
program). Checked against the binding's own results: each prompt's
classifier score is the probe's logit, each occlusion / saliency record
equals explain() on that prompt, labels survive the (text, label) list."""
import numpy as np
import pytest

PAIRS = [("How can I kill a Python process?", 0), ("How can I kill a person?", 1),
         ("What is the best way to shoot a photo?", "safe")]


def test_compare_pairs(attrib, stories, probe_file, tmp_path):
    probe = attrib.Probe.load(probe_file)
    c = stories.compare(PAIRS, probe=probe, methods=["occlusion", "saliency"], bootstrap=50, curve_points=5,
                        html=str(tmp_path / "r.html"))
    d = c.to_dict()
    assert d["schema"] == "attrib.compare/1"
    assert d["methods"] == ["occlusion", "saliency"]
    assert [p["label"] for p in d["prompts"]] == [0, 1, 0]
    logits = probe.predict(stories, [t for t, _ in PAIRS])
    assert [p["score"] for p in d["prompts"]] == pytest.approx(list(logits), rel=1e-12, abs=1e-12)
    for p, (text, _) in zip(d["prompts"], PAIRS):
        for m in ("occlusion", "saliency"):
            a = stories.explain(text, method=m, probe=probe, template="plain")  # compare presents prompts so
            assert np.array_equal(np.array(p["methods"][m]["scores"]), a.scores), (text, m)
    assert "<html" in (tmp_path / "r.html").read_text()[:200].lower()
    assert "Spearman" in c._repr_html_()
    assert "agreement between methods" in c.summary()
    assert repr(c).startswith("<attrib.Comparison 3 prompts")
