"""`pip install ./python` works offline with Debian's python3 and pip: in a
venv that sees the system's packages (numpy, setuptools, wheel), with
--no-index so that nothing can come from the network. The installed package
then finds the library through ATTRIB_LIB and tokenizes."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, STORIES, need


def test_pip_install_offline(tmp_path):
    if sys.executable != "/usr/bin/python3" and not os.environ.get("ATTRIB_TEST_ANY_PYTHON"):
        pytest.skip("checks Debian's /usr/bin/python3")
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "python"), src, ignore=shutil.ignore_patterns(
        "tests", "build", "*.egg-info", "__pycache__", "libattrib.so*"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index", str(src)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    assert pip.returncode == 0, pip.stdout.decode()
    code = ("import attrib, sys; m = attrib.Model(sys.argv[1], threads=1); "
            "print(attrib.__file__.startswith(sys.prefix), [t.id for t in m.tokenize('Once upon a time')])")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code, need(STORIES)], cwd=str(tmp_path), check=True,
                         stdout=subprocess.PIPE).stdout.decode().strip()
    assert out == "True [1, 403, 407, 261, 378]"
