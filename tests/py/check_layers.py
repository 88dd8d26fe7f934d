#!/usr/bin/python3
"""check_layers: the library's folders form layers, and every #include runs
downwards (or within a folder):

    basics < tokenizer < model < task < attribution

basics: errors, allocation, JSON, the GGUF container, numerics; tokenizer:
text to ids; model: formats, architectures, quantisation, kernels, the
layer, forward and backward; task: probes, templates, datasets; attribution:
the methods, faithfulness and metrics. Also checks that every source file
opens with a purpose comment and stays under the size limit.
"""
import os
import re
import sys

ORDER = ["basics", "tokenizer", "model", "task", "attribution"]
MAX_LINES = 1500
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")


def main():
    bad = []
    n_files = n_includes = 0
    for folder in sorted(os.listdir(SRC)):
        path = os.path.join(SRC, folder)
        if not os.path.isdir(path):
            bad.append("src/%s: files belong in a layer folder" % folder)
            continue
        if folder not in ORDER:
            bad.append("src/%s/ is not a known layer (%s)" % (folder, ", ".join(ORDER)))
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith((".c", ".h")):
                continue
            n_files += 1
            rel = "src/%s/%s" % (folder, name)
            text = open(os.path.join(path, name), encoding="utf-8").read()
            if not text.lstrip().startswith("/*"):
                bad.append("%s does not open with a purpose comment" % rel)
            lines = text.count("\n")
            if lines > MAX_LINES:
                bad.append("%s has %d lines (limit %d)" % (rel, lines, MAX_LINES))
            for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', text, re.M):
                inc = m.group(1)
                n_includes += 1
                if "/" not in inc:
                    continue  # attrib.h, generated headers
                target = inc.split("/")[0]
                if target not in ORDER:
                    bad.append("%s includes %s: unknown folder" % (rel, inc))
                elif ORDER.index(target) > ORDER.index(folder):
                    bad.append("%s (layer %s) includes %s from the higher layer %s" % (rel, folder, inc, target))
    print("%d files, %d includes checked against the layers %s" % (n_files, n_includes, " < ".join(ORDER)))
    for b in bad:
        print("FAIL " + b)
    print("%d passed, %d failed" % (n_files - len(bad) if len(bad) < n_files else 0, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
