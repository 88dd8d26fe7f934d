"""Notebook display: _repr_html_ paints the tokens with the colours of the
CLI's HTML report (checked against `attrib explain --html`, token by
token), a comparison shows its summary, to_pandas() works when pandas is
installed and says what is missing when it is not."""
import re

import pytest

from conftest import cli

TEXT = "Tom had a red ball. He"


def cli_colours(html):
    row = re.search(r"<div class=tk [^>]*>(.*?)</div>", html).group(1)
    return [("fixed" if m.group(1) else m.group(2)) for m in
            re.finditer(r"<span tabindex=0 (?:(class=f)|style=background:#([0-9a-f]{6}))", row)]


def our_colours(html):
    return [("fixed" if m.group(1) else m.group(2)) for m in
            re.finditer(r'<span title="[^"]*" style="(?:(color:#888)|background:#([0-9a-f]{6}))', html)]


@pytest.mark.parametrize("method", ["occlusion", "gxi"])
def test_heat_map_matches_the_html_report(stories, tmp_path, method):
    a = stories.explain(TEXT, method=method)
    cli("explain", stories.path, TEXT, "--method", method, "--html", tmp_path / "r.html", "-t", 2)
    theirs = cli_colours((tmp_path / "r.html").read_text())
    mine = our_colours(a._repr_html_())
    assert len(mine) == len(a.tokens)
    assert mine == theirs
    assert "ff0000" in mine or "0000ff" in mine  # the largest |score| is full colour


def test_explanation_html_and_repr(stories):
    e = stories.explain(TEXT, method=["saliency", "occlusion"])
    h = e._repr_html_()
    assert h.count("<b>saliency</b>") == 1 and h.count("<b>occlusion</b>") == 1
    assert "Explanation" in repr(e) and "occlusion" in repr(e["occlusion"])
    assert [t for t, _ in e["occlusion"].top(2)] and len(e["saliency"].top(50)) == len(e.tokens) - 1


def test_to_pandas(stories):
    e = stories.explain(TEXT, method=["saliency", "occlusion"])
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            e.to_pandas()
        return
    df = e.to_pandas()
    assert list(df.columns[-2:]) == ["saliency", "occlusion"] and len(df) == len(e.tokens)
