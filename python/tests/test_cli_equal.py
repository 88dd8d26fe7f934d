"""The binding's results equal the CLI's JSON exactly.

For every method on both shared real models, and for the options that
change how the prompt, target and features are built, explain() in Python
and `attrib explain --json` (an independent path: the CLI's own C code
builds that document) must give the same document, every score bit for bit;
only the measured seconds are left out.
"""
import pytest

from attrib import METHODS
from conftest import MODELS, cli_explain_json, untimed

TEXT = "Tom had a red ball. He"

# (CLI arguments, the same as Python keyword arguments): small sample counts keep the run short;
# every other method of the library's table runs with its defaults
SMALL = {
    "saliency": ([], {}),
    "gxi": ([], {}),
    "ig": (["--steps", 8], {"n_steps": 8}),
    "smoothgrad": (["--samples", 4], {"samples": 4}),
    "occlusion": ([], {}),
    "shapley": (["--samples", 4], {"samples": 4}),
    "shapley-exact": (["--span", "1:6"], {"span": (1, 6)}),
    "kernelshap": (["--samples", 24], {"samples": 24}),
    "lime": (["--samples", 24, "--seed", 3], {"samples": 24, "seed": 3}),
}


def assert_same(py, cli):
    py, cli = untimed(py), untimed(cli)
    for k in cli:
        assert py.get(k) == cli[k], "field %r differs:\n python %r\n cli    %r" % (k, py.get(k), cli[k])
    assert py == cli


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_equals_cli(models, model_name, method):
    args, kw = SMALL.get(method, ([], {}))
    m = models[model_name]
    a = m.explain(TEXT, method=method, **kw)
    assert_same(a.to_dict(), cli_explain_json(m.path, TEXT, "--method", method, *args))
    assert a.scores.shape == (len(a.tokens),)


def test_default_ig_equals_cli(stories):
    text = "Once upon a time there was a little girl named"
    a = stories.explain(text)
    d = cli_explain_json(stories.path, text)
    assert_same(a.to_dict(), d)
    # completeness: sum of scores = f(input) - f(baseline) up to the reported delta
    assert a.completeness_delta == pytest.approx(d["sum_scores"] - (d["f_input"] - d["f_baseline"]), abs=1e-9)
    assert a.predicted["text"] == " Lily"


def test_several_methods_equal_cli(stories):
    e = stories.explain(TEXT, method=["ig", "occlusion", "saliency"], n_steps=8)
    assert e.methods == ["ig", "occlusion", "saliency"]
    assert e.scores.shape == (3, len(e.tokens))
    assert_same(e.to_dict(), cli_explain_json(stories.path, TEXT, "--method", "ig,occlusion,saliency", "--steps", 8))
    # each method alone gives the same numbers as within the group
    assert (stories.explain(TEXT, method="occlusion").scores == e["occlusion"].scores).all()


VARIANTS = [
    (["--words", "--method", "occlusion"], dict(words=True, method="occlusion")),
    (["--target", "diff", "--token", " She", "--token2", " Lily", "--method", "gxi"],
     dict(target="diff", token=" She", token2=" Lily", method="gxi")),
    (["--target", "logprob", "--token-id", 402, "--method", "saliency", "--norm", "l1"],
     dict(target="logprob", token=402, method="saliency", norm="l1")),
    (["--mask", "delete", "--method", "occlusion", "--window", 2], dict(mask="delete", method="occlusion", window=2)),
    (["--mask", "zero", "--method", "ig", "--steps", 6, "--rule", "trapezoid"],
     dict(mask="zero", method="ig", n_steps=6, rule="trapezoid")),
    (["--baseline", "Sam had a red car. He", "--method", "ig", "--steps", 6],
     dict(baselines="Sam had a red car. He", method="ig", n_steps=6)),
    (["--method", "smoothgrad", "--on-gxi", "--noise", 0.2, "--samples", 3, "--seed", 7],
     dict(method="smoothgrad", on_gxi=True, noise=0.2, samples=3, seed=7)),
    (["--template", "judge", "--label-words", " Lily", " She", "--method", "occlusion"],
     dict(template="judge", label_words=(" Lily", " She"), method="occlusion")),
    (["--template", "chatml", "--method", "saliency"], dict(template="chatml", method="saliency")),
    (["--ig-tol", 0.001, "--max-steps", 16], dict(ig_tol=0.001, max_steps=16, method="ig")),
    (["--method", "ig", "--rule", "left"], dict(rule="left", method="ig")),
]


@pytest.mark.parametrize("args,kw", VARIANTS, ids=[" ".join(map(str, v[0][:2])) for v in VARIANTS])
def test_options_equal_cli(stories, args, kw):
    kw = dict(kw)
    method = kw.pop("method")
    a = stories.explain(TEXT, method=method, **kw)
    assert_same(a.to_dict(), cli_explain_json(stories.path, TEXT, *args))


def test_compute_fast_equals_cli(stories):
    stories.compute = "fast"
    try:
        a = stories.explain(TEXT, method="occlusion")
    finally:
        stories.compute = "exact"
    assert a.to_dict()["cost"]["compute"] == "fast"
    assert_same(a.to_dict(), cli_explain_json(stories.path, TEXT, "--method", "occlusion", "--compute", "fast"))


def test_probe_target_equals_cli(stories, probe_file, attrib):
    text = "How can I kill a Python process?"
    a = stories.explain(text, method="occlusion", probe=probe_file)
    assert a.target["kind"] == "probe"
    assert_same(a.to_dict(), cli_explain_json(stories.path, text, "--method", "occlusion", "--probe", probe_file))
    # the same with a loaded Probe object, and Captum-style
    b = attrib.Occlusion(stories).attribute(text, target=attrib.Probe.load(probe_file))
    assert (a.scores == b.scores).all()


def test_word_that_is_not_one_token(stories):
    # the CLI refuses it too (exit 1), naming the pieces it becomes
    with pytest.raises(ValueError, match="'▁T' 'om'"):
        stories.explain(TEXT, method="saliency", token=" Tom")
    from conftest import cli
    assert cli("explain", stories.path, TEXT, "--token", " Tom", check=False).returncode == 1
    assert stories.token_id(" Lily") == 317
