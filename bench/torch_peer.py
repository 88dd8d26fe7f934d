"""The PyTorch peer for attrib's benchmarks: the independent reference model
(tests/py/attrib_ref, which reads GGUF/safetensors itself) converted to
float32 and run the way a Python user would run it, with torch's and
OpenBLAS's thread counts set to the same number attrib uses.

    /usr/bin/python3 bench/torch_peer.py forward MODEL --ids-file F -b B -t T --threads N --reps R

prints one JSON line (seconds per pass: median and best, peak RSS, and the
first sequence's last-position logits written to --logits-file).
"""
import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "py"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("job", choices=["forward"])
    ap.add_argument("model")
    ap.add_argument("--ids-file", required=True)
    ap.add_argument("-b", type=int, default=1)
    ap.add_argument("-t", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--logits-file")
    a = ap.parse_args()

    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    from attrib_ref.model import load_model

    t0 = time.perf_counter()
    m = load_model(a.model).to(torch.float32)
    load_s = time.perf_counter() - t0
    ids = np.fromfile(a.ids_file, dtype=np.int32).reshape(a.b, a.t)
    times = []
    with torch.no_grad():
        logits = m.forward(tokens=ids, last_only=True)           # warm-up
        for _ in range(a.reps):
            t0 = time.perf_counter()
            logits = m.forward(tokens=ids, last_only=True)
            times.append(time.perf_counter() - t0)
    times.sort()
    if a.logits_file:
        logits[0, -1].numpy().astype(np.float32).tofile(a.logits_file)
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "B": a.b, "T": a.t, "threads": a.threads,
                      "seconds": times[len(times) // 2], "best_seconds": times[0], "load_seconds": load_s,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
