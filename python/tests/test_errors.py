"""Errors become Python exceptions carrying the library's status and
message; bad input never takes the interpreter down.

The crafted files are those of tests/crafted/make_crafted.py (the C suite's
test-gguf and test-model-crafted use them): every file whose expected
status is an error must raise AttribError with exactly that status, the
valid ones load, and every model that loads is then tokenized and explained
(errors allowed, crashes not).
"""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, STORIES, need

CRAFTED = os.path.join(ROOT, "tests", "crafted", "make_crafted.py")


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    d = tmp_path_factory.mktemp("crafted")
    subprocess.run([sys.executable, CRAFTED, str(d)], check=True, stdout=subprocess.DEVNULL)
    return d


def rows(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]


def test_model_files_give_their_status(attrib, crafted):
    loaded = 0
    for name, status, check_weights, what in rows(crafted / "expected-model.tsv"):
        path = str(crafted / name)
        if status == "ATTRIB_OK":
            with attrib.Model(path, threads=1, check_weights=check_weights == "1") as m:
                loaded += 1
                assert m.info.n_layer == 1, name
                try:  # a model without a tokenizer, or with NaN weights: an exception, never a crash
                    m.explain("ab", method="occlusion")
                    m.explain("ab", method="ig", n_steps=2)
                except (attrib.AttribError, ValueError):
                    pass
            continue
        with pytest.raises(attrib.AttribError) as e:
            attrib.Model(path, threads=1, check_weights=check_weights == "1")
        assert e.value.status_name == status, "%s (%s): %s" % (name, what, e.value)
        assert e.value.status == attrib.Status[status[7:]]
        assert e.value.message, name
    assert loaded >= 3


def test_parser_files_fail_with_their_status(attrib, crafted):
    n = 0
    for name, status, what in rows(crafted / "expected.tsv"):
        with pytest.raises(attrib.AttribError) as e:  # none of them is a model, even the valid GGUFs
            attrib.Model(str(crafted / name), threads=1)
        if status != "ATTRIB_OK":
            assert e.value.status_name == status, "%s (%s): %s" % (name, what, e.value)
        n += 1
    assert n > 50


def test_missing_file(attrib, tmp_path):
    with pytest.raises(attrib.AttribError) as e:
        attrib.Model(str(tmp_path / "nope.gguf"))
    assert e.value.status == attrib.Status.E_IO
    assert "nope.gguf" in str(e.value)


def test_bad_probe_file(attrib, tmp_path):
    p = tmp_path / "probe.gguf"
    p.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    with pytest.raises(attrib.AttribError) as e:
        attrib.Probe.load(str(p))
    assert e.value.status_name.startswith("ATTRIB_E_")


def test_bad_arguments(attrib, stories):
    m = stories
    with pytest.raises(ValueError, match="unknown method"):
        m.explain("Tom", method="gradcam")
    with pytest.raises(ValueError, match="empty"):
        m.explain("", method="saliency")
    with pytest.raises(ValueError, match="span"):
        m.explain("Tom had a ball", method="saliency", span=(2, 99))
    with pytest.raises(ValueError, match="n_steps"):
        m.explain("Tom had a ball", method="ig", n_steps=0)
    with pytest.raises(ValueError, match="shapley-exact"):
        m.explain("Tom had a red ball and a blue ball and a green ball and a cat", method="shapley-exact", max_exact=3)
    with pytest.raises(ValueError, match="ig needs an embedding baseline"):
        m.explain("Tom had a ball", method="ig", mask="delete")
    with pytest.raises(ValueError):
        m.explain("Tom had a ball", template="no-such-template")
    with pytest.raises(TypeError):
        m.tokenize(12)


def test_library_rejects_out_of_range_ids(attrib, stories):
    # ids beyond the vocabulary reach the library, which refuses them with its status
    with pytest.raises(attrib.AttribError) as e:
        stories.explain("Tom had a ball", method="saliency", token=100000)
    assert e.value.status in (attrib.Status.E_BAD_VALUE, attrib.Status.E_INVALID_ARG)
    with pytest.raises(attrib.AttribError) as e:
        stories.explain("Tom had a ball", method="occlusion", mask_token=5000)
    assert e.value.status in (attrib.Status.E_BAD_VALUE, attrib.Status.E_INVALID_ARG)


def test_probe_of_another_model(attrib, stories, tiny_hf, probe_file):
    with pytest.raises(attrib.AttribError) as e:
        tiny_hf.explain("How can I kill a Python process?", method="saliency", probe=probe_file)
    assert e.value.status == attrib.Status.E_INVALID_ARG


def test_closed_model(attrib):
    m = attrib.Model(need(STORIES), threads=1)
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.explain("Tom", method="saliency")
    m.close()  # twice is fine


def test_compare_errors_carry_the_status(attrib, stories, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('prompt,label\n"unterminated,1\n')
    with pytest.raises((attrib.AttribError, attrib.CommandError)):
        stories.compare(str(bad), probe=str(tmp_path / "missing-probe.gguf"), methods=["saliency"])


def test_closed_probe(attrib, stories, probe_file):
    p = attrib.Probe.load(probe_file)
    p.close()
    with pytest.raises(ValueError, match="closed"):
        stories.explain("Tom", method="saliency", probe=p)


def test_progress_callback(stories):
    seen = []
    stories.explain("Tom had a red ball. He", method="occlusion", batch=2, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] and all(0 <= d <= t for d, t in seen)


def test_crafted_hf_directories(attrib, tmp_path):
    """tests/crafted/make_crafted_hf.py: broken Hugging Face checkpoints give
    their status (or the known current one the C test also accepts)."""
    d = tmp_path / "hf"
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "crafted", "make_crafted_hf.py"), str(d)], check=True,
                   stdout=subprocess.DEVNULL)
    n = 0
    for path, status, current, what in rows(d / "expected-hf.tsv"):
        ok = {status} | ({current} if current != "-" else set())
        try:
            with attrib.Model(str(d / path), threads=1) as m:
                got = "ATTRIB_OK"
                try:
                    m.explain("ab", method="saliency")
                except (attrib.AttribError, ValueError):
                    pass
        except attrib.AttribError as e:
            got = e.status_name
        assert got in ok, "%s (%s): %s, expected %s" % (path, what, got, ok)
        n += 1
    assert n > 20
