"""Shared fixtures of the Python binding's tests.

The tests run against the libattrib.so and the attrib program of one build:
ATTRIB_LIB / ATTRIB_BIN when set (ctest sets both), else ATTRIB_BUILD, else
the repository's build/. The real models come from ATTRIB_SHARED (default
../shared beside the repository).
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))  # the source tree, unless an installed copy comes first

_build = os.environ.get("ATTRIB_BUILD", os.path.join(ROOT, "build"))
os.environ.setdefault("ATTRIB_LIB", os.path.join(_build, "libattrib.so"))
os.environ.setdefault("ATTRIB_BIN", os.path.join(_build, "attrib"))

SHARED = os.environ.get("ATTRIB_SHARED", os.path.join(ROOT, "..", "shared"))
STORIES = os.path.join(SHARED, "models", "stories260K", "stories260K-f32.gguf")
TINY_HF = os.path.join(SHARED, "models", "TinyStories-656K")
MODELS = {"stories260K": STORIES, "TinyStories-656K": TINY_HF}
THREADS = 2


def need(path):
    if not os.path.exists(path):
        pytest.skip("missing %s (set ATTRIB_SHARED)" % path)
    return path


def cli(*args, check=True):
    """Runs the attrib program; returns CompletedProcess."""
    p = subprocess.run([os.environ["ATTRIB_BIN"]] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise AssertionError("attrib %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode, p.stderr.decode()))
    return p


def cli_explain_json(model, text, *args):
    return json.loads(cli("explain", model, text, "--json", "-t", THREADS, *args).stdout)


def untimed(doc):
    """DOC without the measured seconds (the only fields two runs may differ in)."""
    doc = json.loads(json.dumps(doc))
    doc["cost"]["seconds"] = None
    for m in doc.get("methods", []):
        m["cost"]["seconds"] = None
    return doc


@pytest.fixture(scope="session")
def attrib():
    import attrib as a
    return a


@pytest.fixture(scope="session")
def stories(attrib):
    m = attrib.Model(need(STORIES), threads=THREADS)
    yield m
    m.close()


@pytest.fixture(scope="session")
def tiny_hf(attrib):
    m = attrib.Model(need(TINY_HF), threads=THREADS)
    yield m
    m.close()


@pytest.fixture(scope="session")
def models(stories, tiny_hf):
    return {"stories260K": stories, "TinyStories-656K": tiny_hf}


@pytest.fixture(scope="session")
def probe_file(tmp_path_factory):
    """A small probe for stories260K trained by the CLI (30 + 30 prompts)."""
    need(STORIES)
    p = tmp_path_factory.mktemp("probe") / "probe.gguf"
    d = os.path.join(SHARED, "data", "refusal_direction")
    cli("probe", "train", STORIES, "--out", p, "--harmful", os.path.join(d, "harmful_train.json"), "--harmless",
        os.path.join(d, "harmless_train.json"), "--sample", 30, "--layer", 3, "-t", THREADS)
    return str(p)
