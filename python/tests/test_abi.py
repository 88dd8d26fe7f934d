"""The ctypes structures match include/attrib.h: a C program compiled
against the header prints every structure's size and every field's offset,
and they must equal what ctypes computes. Skipped without a C compiler."""
import ctypes
import os
import shutil
import subprocess

import pytest

from conftest import ROOT


def test_struct_layouts_match_the_header(tmp_path):
    from attrib import _capi
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "attrib.h"', "int main(void) {"]
    expected = []
    for cname, cls in sorted(_capi.STRUCTS.items()):
        lines.append('printf("%%zu\\n", sizeof(%s));' % cname)
        expected.append("%s size %d" % (cname, ctypes.sizeof(cls)))
        for fname, _ in cls._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (cname, fname))
            expected.append("%s.%s offset %d" % (cname, fname, getattr(cls, fname).offset))
    lines.append("return 0; }")
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "abi"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, stdout=subprocess.PIPE).stdout.decode().split()
    assert len(got) == len(expected)
    bad = ["%s, C says %s" % (e, g) for e, g in zip(expected, got) if int(e.rsplit(" ", 1)[1]) != int(g)]
    assert not bad, "ctypes layouts differ from include/attrib.h:\n" + "\n".join(bad)


def test_library_version_matches_package():
    import attrib
    assert attrib.library_version() == attrib.__version__


def test_method_option_bits_match_the_header(tmp_path):
    """_capi.READS (the options a method reads) equals the header's ATTRIB_READS_* values."""
    from attrib import _capi
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    names = sorted(_capi.READS)
    body = "".join('printf("%%u\\n", (unsigned)ATTRIB_READS_%s);' % n for n in names)
    src = tmp_path / "reads.c"
    src.write_text('#include <stdio.h>\n#include "attrib.h"\nint main(void) { %s return 0; }\n' % body)
    exe = tmp_path / "reads"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), str(src), "-o", str(exe)], check=True)
    got = [int(x) for x in subprocess.run([str(exe)], check=True, stdout=subprocess.PIPE).stdout.decode().split()]
    assert got == [_capi.READS[n] for n in names]
