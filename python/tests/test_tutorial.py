"""The tutorial of docs/python.md runs headless and prints exactly the
output the document shows; the report it writes is an HTML page."""
import os
import re
import subprocess
import sys

from conftest import ROOT, SHARED, STORIES, need

DOC = os.path.join(ROOT, "docs", "python.md")


def blocks():
    text = open(DOC, encoding="utf-8").read()
    code = re.search(r"<!-- tutorial -->\n```python\n(.*?)```", text, re.S).group(1)
    out = re.search(r"<!-- tutorial-output -->\n```text\n(.*?)```", text, re.S).group(1)
    return code, out


def test_tutorial_runs_and_prints_what_the_doc_shows(tmp_path):
    need(STORIES)
    code, expected = blocks()
    assert len(code.strip().splitlines()) <= 40
    (tmp_path / "tutorial.py").write_text(code)
    env = dict(os.environ, ATTRIB_SHARED=SHARED, PYTHONPATH=os.path.join(ROOT, "python"), MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, "tutorial.py"], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode() == expected
    assert (tmp_path / "xstest.html").read_text()[:200].lower().count("<html") == 1
