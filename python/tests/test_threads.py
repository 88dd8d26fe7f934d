"""explain() runs from two threads at once on two Model objects.

ctypes releases the GIL for the length of each C call. The proof does not
rely on speed (the test machine is shared). The binding notes the clock
just before and just after each C call, so the library's computation (its
own `seconds`) lies somewhere inside [entered, returned]; the test requires
the two computations to overlap however they are placed inside those
windows, which cannot happen if either call held the GIL (checked by
running the same test over ctypes.PyDLL, which keeps the GIL: it fails).
The results must equal those of the same calls made one after the other.
"""
import threading
import time

from conftest import STORIES, need

TEXT = ("Once upon a time there was a little girl named Lily. She loved to play outside in the park. "
        "One day, she saw a big red ball")


def certain_overlap(a, b):
    """The computations of Attributions A and B overlap wherever they lie in their call windows."""
    latest_start = lambda x: x._rec["returned"] - x.cost.seconds
    earliest_end = lambda x: x._rec["entered"] + x.cost.seconds
    return latest_start(a) < earliest_end(b) and latest_start(b) < earliest_end(a)


def explain_at_once(models, texts):
    """explain(texts[k]) on models[k] from two threads started together; retried when they did not overlap."""
    barrier = threading.Barrier(2)
    out = [None, None]

    def work(k):
        barrier.wait()
        out[k] = models[k].explain(texts[k], method="ig", n_steps=48)

    for _ in range(3):  # a thread may be descheduled long enough for one call to finish before the other starts
        ts = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if certain_overlap(out[0], out[1]):
            break
    assert certain_overlap(out[0], out[1]), "the two explain calls never ran at the same time: %r" % (
        [(a._rec["entered"], a._rec["returned"], a.cost.seconds) for a in out],)
    return out


def test_two_threads_two_models(attrib):
    need(STORIES)
    models = [attrib.Model(STORIES, threads=1), attrib.Model(STORIES, threads=1)]
    expected = [m.explain(TEXT, method="ig", n_steps=48) for m in models]
    out = explain_at_once(models, [TEXT, TEXT])
    for k in range(2):
        assert (out[k].scores == expected[k].scores).all()
    for m in models:
        m.close()


def test_two_threads_one_model_shared(attrib):
    """Model.share(): a second handle on the same weights explains at the same
    time as the first, with the same results; closing the owner closes it."""
    need(STORIES)
    base = attrib.Model(STORIES, threads=1)
    other = base.share()
    assert other.info == base.info and other.threads == 1
    texts = [TEXT, TEXT[:60]]
    expected = [base.explain(t, method="ig", n_steps=48) for t in texts]
    out = explain_at_once([base, other], texts)
    for k in range(2):
        assert (out[k].scores == expected[k].scores).all()
    base.close()
    try:
        other.explain(TEXT, method="saliency")
    except ValueError as e:
        assert "closed" in str(e)
    else:
        raise AssertionError("a share of a closed model still ran")


def test_python_runs_while_c_computes(attrib):
    """A pure-Python loop keeps running in the main thread during a C call."""
    m = attrib.Model(need(STORIES), threads=1)
    done = threading.Event()
    res = {}

    def work():
        res["a"] = m.explain(TEXT, method="ig", n_steps=48)
        done.set()

    t = threading.Thread(target=work)
    ticks = []
    t.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    a = res["a"]
    inside = [x for x in ticks if a._rec["returned"] - a.cost.seconds < x < a._rec["entered"] + a.cost.seconds]
    assert len(inside) >= 3, "the main thread was blocked during the C call"
    m.close()
