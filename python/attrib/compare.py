"""Model.compare(): every method on every prompt of a labelled dataset.

The comparison (faithfulness, agreement, bootstrap summary, provenance) is
implemented in the attrib command-line tool (tools/cli/cmd_compare.c and
compare_summary.c), not in the library, so this runs that program: the
`attrib` found through ATTRIB_BIN, next to the loaded libattrib, or on PATH.
The result is the very document `attrib compare -o FILE` writes, and
Comparison.html() is the CLI's HTML report of it. The model is loaded again
by that process; the Model object only supplies the path and thread count.
"""
import html as _html
import json
import os
import re
import shutil
import subprocess
import tempfile

from . import _capi
from .errors import AttribError


class CommandError(RuntimeError):
    """The attrib program failed without a library status (usage errors)."""

    def __init__(self, cmd, returncode, stderr):
        self.cmd, self.returncode, self.stderr = cmd, returncode, stderr
        super().__init__("attrib %s failed (exit %d): %s" % (cmd, returncode, stderr.strip()))


def find_cli():
    """Path of the attrib program, or raise FileNotFoundError."""
    env = os.environ.get("ATTRIB_BIN")
    if env:
        return env
    lib_dir = os.path.dirname(os.path.abspath(_capi.path())) if os.sep in _capi.path() else None
    for d in filter(None, [lib_dir, os.path.join(lib_dir, "..", "bin") if lib_dir else None]):
        c = os.path.join(d, "attrib")
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    c = shutil.which("attrib")
    if c:
        return c
    raise FileNotFoundError("compare() runs the attrib command-line tool and none was found: set ATTRIB_BIN, or put "
                            "attrib on PATH")


# `attrib compare` exits 3 when it wrote its document but some rows failed or
# were skipped (they are listed in the document's "failed" and "skipped").
ROWS_FAILED = 3


def run_cli(cmd, args, timeout=None, ok=(0,)):
    """Runs `attrib CMD ARGS`; raises AttribError (status parsed from the CLI's
    message) or CommandError on an exit status not in OK. Returns stdout."""
    argv = [find_cli(), cmd] + [str(a) for a in args]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode not in ok:
        m = re.search(r"attrib: error: (.*) \((ATTRIB_E_[A-Z_]+)\)\s*$", err, re.M)
        if m:
            from .errors import Status
            raise AttribError(Status[m.group(2)[7:]], m.group(1), "attrib %s" % cmd)
        raise CommandError(cmd, p.returncode, err)
    return p.stdout


def _write_rows(rows, path):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            text, label = row
            if isinstance(label, str):
                lab = label
            else:
                lab = "unsafe" if label else "safe"
            f.write(json.dumps({"prompt": text, "label": lab}) + "\n")


def compare(model, data, probe=None, methods=None, *, template=None, label_words=None, positive=None, text_col=None,
            label_col=None, limit=None, sample=None, data_seed=None, steps=None, n_steps=None, samples=None, mask=None,
            seed=None, fractions=None, curve_points=None, random_orders=None, bootstrap=None, html=None, csv=None,
            out=None, timeout=None):
    """DATA: a dataset file (CSV / JSON / JSONL, as `attrib compare --data`) or
    a list of (text, label) pairs, label 1/True/"unsafe" = harmful. PROBE: a
    Probe (saved to a temporary file if it has no path) or a probe file; or
    TEMPLATE="judge" with LABEL_WORDS. Returns a Comparison."""
    from .probe import Probe
    args = [model.path]
    tmp = tempfile.mkdtemp(prefix="attrib-compare-")
    try:
        if isinstance(data, (str, bytes, os.PathLike)):
            args += ["--data", os.fspath(data)]
        else:
            p = os.path.join(tmp, "data.jsonl")
            _write_rows(list(data), p)
            args += ["--data", p]
            if positive is None:
                positive = "unsafe"
        if isinstance(probe, Probe):
            if not probe.path:
                probe.save(os.path.join(tmp, "probe.gguf"), "saved by attrib (Python) for compare")
            args += ["--probe", probe.path]
        elif probe is not None:
            args += ["--probe", os.fspath(probe)]
        if methods is not None:
            args += ["--methods", methods if isinstance(methods, str) else ",".join(methods)]
        opts = [("--template", template), ("--positive", positive), ("--text-col", text_col),
                ("--label-col", label_col), ("--limit", limit), ("--sample", sample), ("--data-seed", data_seed),
                ("--steps", n_steps if n_steps is not None else steps), ("--samples", samples), ("--mask", mask),
                ("--seed", seed), ("--curve-points", curve_points), ("--random-orders", random_orders),
                ("--bootstrap", bootstrap), ("--html", html), ("--csv", csv)]
        for k, v in opts:
            if v is not None:
                args += [k, os.fspath(v) if isinstance(v, os.PathLike) else v]
        if fractions is not None:
            args += ["--fractions", ",".join(str(f) for f in fractions)]
        if label_words is not None:
            args += ["--label-words", label_words[0], label_words[1]]
        path = os.fspath(out) if out is not None else os.path.join(tmp, "compare.json")
        args += ["-o", path, "-q", "-t", model.threads if model.threads > 0 else os.cpu_count() or 1]
        run_cli("compare", args, timeout, ok=(0, ROWS_FAILED))
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Comparison(doc)


def _fmt(v, d=3):
    return "n/a" if v is None else ("%.*f" % (d, v))


class Comparison:
    """The document of `attrib compare` (schema attrib.compare/1, see
    docs/compare.md). to_dict() is that document; summary() the CLI's table
    (`attrib report`); html(path) the CLI's HTML report."""

    def __init__(self, doc):
        self.doc = doc
        self.methods = doc.get("methods", [])
        self.prompts = doc.get("prompts", [])
        self.summary_dict = doc.get("summary", {})
        self.skipped = doc.get("skipped", [])  # rows over the context, with their reasons
        self.failed = doc.get("failed", [])    # rows a method failed on, with the library's message

    def to_dict(self):
        return self.doc

    def _with_file(self, fn):
        d = tempfile.mkdtemp(prefix="attrib-report-")
        try:
            p = os.path.join(d, "compare.json")
            with open(p, "w", encoding="utf-8") as f:
                json.dump(self.doc, f)
            return fn(p)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def summary(self):
        """The summary table as `attrib report DOC.json` prints it."""
        return self._with_file(lambda p: run_cli("report", [p]).decode("utf-8", "replace"))

    def html(self, path):
        """Writes the CLI's self-contained HTML report to PATH."""
        self._with_file(lambda p: run_cli("report", [p, "--html", os.fspath(path)]))
        return os.fspath(path)

    def to_pandas(self):
        """One row per prompt x method: index, id, label, score, predicted, method, and that method's
        faithfulness figures (comprehensiveness, sufficiency, deletion/insertion AUC) and cost."""
        import pandas as pd
        rows = []
        for p in self.prompts:
            for name, r in (p.get("methods") or {}).items():
                row = {k: p.get(k) for k in ("index", "id", "label", "score", "predicted")}
                row["method"] = name
                for k in ("seconds", "n_forward", "n_backward", "f_input", "f_baseline"):
                    row[k] = r.get(k)
                for k, v in (r.get("faithfulness") or {}).items():
                    if not isinstance(v, list):
                        row[k] = v
                rows.append(row)
        return pd.DataFrame(rows)

    def _repr_html_(self):
        s = self.summary_dict
        c = s.get("classifier", {})
        out = ["<div class=attrib-compare><b>attrib compare</b>: %d prompts, methods %s<br>" % (
            len(self.prompts), _html.escape(", ".join(self.methods)))]
        out.append("classifier: accuracy %s, AUROC %s, confusion %s" % (
            _fmt(c.get("accuracy")), _fmt(c.get("auroc")), _html.escape(json.dumps(c.get("confusion")))))
        g = s.get("groups", {}).get("all", {})
        agr = g.get("agreement", {})
        if agr:
            out.append("<table><tr><th>pair</th><th>Spearman</th><th>Kendall</th><th>sign agreement</th></tr>")
            for pair, v in agr.items():
                cells = []
                for k in ("spearman", "kendall", "sign"):
                    x = v.get(k) or {}
                    cells.append("%s [%s, %s]" % (_fmt(x.get("mean")), _fmt(x.get("lo")), _fmt(x.get("hi"))))
                out.append("<tr><td>%s</td><td>%s</td></tr>" % (_html.escape(pair.replace("|", " vs ")),
                                                                "</td><td>".join(cells)))
            out.append("</table>")
        fa = g.get("faithfulness", {})
        if fa:
            out.append("<table><tr><th>method</th>%s</tr>" % "".join(
                "<th>%s</th>" % _html.escape(k) for k in next(iter(fa.values())).keys()))
            for m, v in fa.items():
                out.append("<tr><td>%s</td>%s</tr>" % (_html.escape(m), "".join(
                    "<td>%s</td>" % (_fmt(x.get("mean")) if isinstance(x, dict) else _html.escape(str(x)))
                    for x in v.values())))
            out.append("</table>")
        out.append("</div>")
        return "".join(out)

    def __repr__(self):
        c = self.summary_dict.get("classifier", {})
        return "<attrib.Comparison %d prompts x %s; classifier accuracy %s, AUROC %s>" % (
            len(self.prompts), ",".join(self.methods), _fmt(c.get("accuracy")), _fmt(c.get("auroc")))
