"""Shared plumbing of the tests/py/check_*.py scripts: where things are,
generated models, and a small table printer. No attrib code is used here."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SHARED = os.environ.get("ATTRIB_SHARED") or os.path.join(REPO, "..", "shared")
BUILD = os.environ.get("ATTRIB_BUILD") or os.path.join(REPO, "build")
MAKE_GGUF = os.path.join(REPO, "tools", "make_gguf.py")

STORIES260K = os.path.join(SHARED, "models", "stories260K", "stories260K-f32.gguf")
LLAMA2_TINY = os.path.join(SHARED, "models", "llama-2-tiny-random", "llama-2-tiny-random.gguf")
TINYSTORIES_HF = os.path.join(SHARED, "models", "TinyStories-656K")


def attrib_bin():
    b = os.environ.get("ATTRIB_BIN") or os.path.join(BUILD, "attrib")
    return b


def test_tool(name):
    return os.path.join(BUILD, "tests", name)


def make_gguf(path, *args):
    """Runs tools/make_gguf.py (the same interpreter) to write PATH."""
    cmd = [sys.executable, MAKE_GGUF, path, "--quiet"] + [str(a) for a in args]
    subprocess.run(cmd, check=True)
    return path


def require(path, what):
    if not os.path.exists(path):
        print("FAIL: %s not found: %s" % (what, path))
        sys.exit(1)


def print_table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    sys.stdout.flush()


LLAMACPP_DRIVER = os.path.join(REPO, "tests", "llamacpp", "llamacpp_ref.py")


class LlamaCpp:
    """tests/llamacpp/llamacpp_ref.py (llama.cpp, the independent reference) as
    a long-lived subprocess: one JSON request per line in, one answer out."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, LLAMACPP_DRIVER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def __call__(self, **req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("llamacpp_ref.py exited (code %s)" % self.p.wait())
        res = json.loads(line)
        if "error" in res:
            raise RuntimeError("llama.cpp: " + res["error"])
        return res

    def close(self):
        self.p.stdin.close()
        self.p.wait()
