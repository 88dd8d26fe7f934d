#!/usr/bin/env python3
"""Prints the README's result tables (markdown) from the JSON documents that
scripts/xstest-compare.sh writes, so the README's figures can be re-derived
from the run's own output.   usage: scripts/results-tables.py [OUT_DIR]"""
import json
import sys

D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/attrib-xstest"


def load(name):
    with open("%s/%s.json" % (D, name)) as fh:
        return json.load(fh)


def iv(x, d=3):
    if not x or x.get("mean") is None:
        return "n/a"
    return "%.*f [%.*f, %.*f]" % (d, x["mean"], d, x["lo"], d, x["hi"])


for model in ("stories260K", "TinyStories-656K"):
    docs = {"token": load(model), "delete": load(model + "-delete")}
    t = docs["token"]
    c = t["summary"]["classifier"]
    cls = t["provenance"]["classifier"]
    print("\n#### %s (probe: layer %d, %s pooling; validation accuracy %.3f, AUROC %.3f)\n"
          % (model, cls["layer"], cls["pool"], cls["val_accuracy"], cls["val_auroc"]))
    cm = c["confusion"]
    print("XSTest (%d prompts): accuracy %.3f, AUROC %.3f, confusion [[tn %d, fp %d], [fn %d, tp %d]]\n"
          % (c["n"], c["accuracy"], c["auroc"], cm[0][0], cm[0][1], cm[1][0], cm[1][1]))
    print("| pair | masking | Spearman rho | Kendall tau-b | top-3 overlap | sign agreement |")
    print("|---|---|---|---|---|---|")
    for pair in ("occlusion|saliency", "occlusion|ig", "occlusion|shapley"):
        for name, doc in docs.items():
            a = doc["summary"]["groups"]["all"]["agreement"][pair]
            print("| %s | %s | %s | %s | %s | %s |" % (pair.replace("|", " vs "), name, iv(a["spearman"]), iv(a["kendall"]),
                                                      iv(a["top3"]), iv(a["sign"])))
    print()
    print("| method | comprehensiveness (delete) | sufficiency (delete) | deletion AUC (delete) | insertion AUC (delete) "
          "| comprehensiveness (token) | median time / prompt | model evaluations |")
    print("|---|---|---|---|---|---|---|---|")
    dl = docs["delete"]
    for m in dl["methods"] + ["random"]:
        f = dl["summary"]["groups"]["all"]["faithfulness"][m]
        ft = t["summary"]["groups"]["all"]["faithfulness"][m]
        cost = t["summary"]["cost"].get(m)
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            m, iv(f["comprehensiveness_aopc"], 2), iv(f["sufficiency_aopc"], 2), iv(f["deletion_auc"], 2),
            iv(f["insertion_auc"], 2), iv(ft["comprehensiveness_aopc"], 2),
            "%.1f ms" % (cost["median_seconds"] * 1000) if cost else "-",
            "{:,}".format(cost["model_evaluations"]) if cost else "-"))
    for name, doc in docs.items():
        p = doc["provenance"]
        print("\n%s masking: wall time %.0f s, peak memory %.0f MiB" % (name, p["wall_seconds"], p["peak_rss_mb"]), end="")
    print()
