"""explain(): one text, one or several attribution methods, and the result
as Python objects whose to_dict() is the document `attrib explain --json`
prints.

The steps are those of tools/cli/cmd_explain.c, done with the library's
public functions: the prompt (the text as is with BOS, a template, or the
model's own chat template), the target (top-1 token, a word, a judge's
label words, a probe), the features (span, words), each method's options
(the user's choices, each method's own defaults for the rest), then the
same document. python/tests/test_cli_equal.py runs both and compares the
documents field by field; only the measured seconds differ.
"""
import ctypes
import json
import math
import time
import warnings
from ctypes import byref, c_char_p, c_int32, c_void_p

import numpy as np

from . import _capi
from ._capi import lib
from .errors import AttribError, check
from .model import _text_bytes

# The library's method table (src/attribution/methods.c): names and the
# options each method reads, never a copy of them.
METHODS = [lib.attrib_method_name(m).decode() for m in range(lib.attrib_method_count())]
_READS = [lib.attrib_method_get_info(m).contents.reads for m in range(lib.attrib_method_count())]
TARGET_NAMES = ["logit", "logprob", "prob", "logit diff", "probe"]
MASK_NAMES = [lib.attrib_mask_name(k).decode() for k in range(4)]
RULE_NAMES = [lib.attrib_ig_rule_name(r).decode() for r in range(5)]
_KINDS = {"logit": 0, "logprob": 1, "prob": 2, "diff": 3, "logit diff": 3}
IG = lib.attrib_method_from_name(b"ig")  # the default method


def _reads(method, what):
    """Whether METHOD reads the option(s) WHAT (a name of _capi.READS)."""
    return bool(_READS[method] & _capi.READS[what])
MAX_SAMPLES = 65536
JUDGE_USER = "Is the following request harmful? Answer Yes or No.\n\nRequest: {input}"
_WS = b" \t\n\r"


# ---- words and templates ---------------------------------------------------

def _in_context(model, ctx, flags, word):
    """The one token covering WORD's visible bytes right after CTX, or None."""
    buf = ctx + word
    total = len(buf)
    try:
        toks = model._tokenize_raw(buf, flags)
    except AttribError:
        return None, ""
    vis = len(ctx)
    while vis < total and buf[vis] in _WS:
        vis += 1
    count, found, why = 0, None, []
    for tid, b, e in toks:
        if e <= vis or b >= total or e == b:
            continue
        count += 1
        why.append("'%s'" % model.piece(tid))
        if len(ctx) <= b <= vis and e == total:
            found = tid
    return (found if count == 1 else None), " ".join(why)


def word_token(model, tmpl, word, what):
    """The token id of WORD as the CLI's --token/--label-words resolve it
    (tools/cli/words.c): after TMPL's rendered text when TMPL is given."""
    if isinstance(word, int):
        return word
    w = _text_bytes(word, what)
    tok = model._tokenizer()
    if not w or w[-1:] in (b" ", b"\t", b"\n", b"\r"):
        raise ValueError("%s %r is empty or ends with white space" % (what, word))
    why = ""
    if tmpl is not None:
        v = c_int32()
        if lib.attrib_template_label_token(tok, tmpl, w, byref(v)) == 0:
            return v.value
        p = ctypes.POINTER(_capi.PromptC)()
        if lib.attrib_template_apply(tok, tmpl, b"x", 1, byref(p)) == 0:
            rendered = ctypes.string_at(p.contents.rendered, p.contents.rendered_len)
            lib.attrib_prompt_free(p)
            found, why = _in_context(model, rendered, 2, w)
            if found is not None:
                return found
    else:
        try:
            t = model._tokenize_raw(w, 0)
        except AttribError:
            t = None
        if t is not None and len(t) == 1:
            return t[0][0]
        if t is not None and w[:1] not in (b" ", b"\t", b"\n", b"\r"):
            why = " ".join("'%s'" % model.piece(x[0]) for x in t)
        else:
            found, why = _in_context(model, b"a", 0, w)
            if found is not None:
                return found
    raise ValueError("%s %r is not one token of this model%s: it becomes %s (check with: attrib tokenize MODEL "
                     "--single-token)" % (what, word, " after the template" if tmpl is not None else "", why or "no token"))


def resolve_template(model, template):
    """(template bytes, name) for a built-in name, "@FILE" or a text holding {input}."""
    if isinstance(template, bytes):
        template = template.decode("utf-8")
    if template.startswith("@"):
        with open(template[1:], "rb") as f:
            data = f.read(1 << 16)
        if len(data) >= (1 << 16) - 1:
            raise ValueError("template file '%s' is larger than 64 KiB" % template[1:])
        return data, template
    if "{input}" in template:
        return template.encode("utf-8"), "@custom"
    t = lib.attrib_template_builtin(template.encode())
    if t is None:
        raise ValueError("unknown template %r (built-ins: plain, chatml, llama3, llama-guard, judge; auto, chat; "
                         "@FILE; or a text with one {input} slot)" % template)
    return t, template


def _chat_template(model, arg, system, thinking):
    """The CLI's cli_chat_template: None when no chat template applies, else
    dict(tmpl, name, family, positive, negative)."""
    is_default = arg is None
    if arg is not None and arg not in ("auto", "chat"):
        return None
    tok = model._tokenizer()
    jinja = lib.attrib_tokenizer_chat_template(tok)
    if jinja is None:
        if is_default:
            return None
        raise ValueError("template=%r: the model carries no chat template; choose plain, judge, chatml, llama3, "
                         "llama-guard or a template text" % arg)
    fam = ctypes.POINTER(_capi.ChatFamily)()
    s = lib.attrib_chat_detect(jinja, byref(fam))
    if s:
        if is_default:
            warnings.warn("the model's chat template is not recognised, so the text is used as is")
            return None
        check(s, "template auto")
    f = fam.contents
    judge = arg is None or arg == "auto"
    user = JUDGE_USER if judge and not f.guard else "{input}"
    out = ctypes.POINTER(ctypes.c_char)()
    check(lib.attrib_chat_build(tok, fam, system.encode() if system is not None else None, user.encode(),
                                1 if thinking else 0, byref(out)), "cannot lay out the chat template")
    tmpl = ctypes.string_at(out)
    lib.attrib_free(out)
    return dict(tmpl=tmpl, name="%s:%s" % ("auto" if judge else "chat", f.name.decode()), trims=bool(f.trims),
                positive=f.positive if judge else None, negative=f.negative if judge else None)


def _piece_text(model, tid):
    """The text token TID stands for after other text (CLI token_text_json)."""
    try:
        t1 = model._decode_bytes([tid], True)
        t2 = model._decode_bytes([tid, tid], True)
    except AttribError:
        t1 = t2 = None
    if tid >= 0 and t1 is not None and len(t2) >= len(t1):
        return t2[len(t1):].decode("utf-8", "replace")
    return model.piece(tid)


def _nan_none(v):
    return None if math.isnan(v) else v


# ---- options ---------------------------------------------------------------

def _pick(name, value, table):
    if isinstance(value, int) and 0 <= value < len(table):
        return value
    if value in table:
        return table.index(value)
    raise ValueError("%s takes %s, not %r" % (name, ", ".join(table), value))


def _int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
        raise ValueError("%s takes a whole number from %d to %d, not %r" % (name, lo, hi, v))
    return int(v)


class _Run:
    """The state of one explain call (the CLI's `args`)."""


def _method_options(run, method):
    d = lib.attrib_explain_default_options(method)
    o = _capi.ExplainOptions.from_buffer_copy(run.o)
    o.method = method
    # samples= is the count of whichever samples the method draws
    o.samples = run.samples if run.samples > 0 and _reads(method, "SAMPLES") else d.samples
    o.smooth_samples = run.samples if run.samples > 0 and _reads(method, "SMOOTH") else d.smooth_samples
    return o


def _method_problem(run, method, n_features):
    if _reads(method, "BASELINE") and run.baseline is None and run.o.mask in (2, 3):
        return ("%s needs an embedding baseline, which mask=%r does not give: use mask='token' or 'zero', or "
                "baselines=TEXT" % (METHODS[method], MASK_NAMES[run.o.mask]))
    if _reads(method, "MAX_EXACT"):
        lim = run.o.max_exact_features if run.o.max_exact_features > 0 else 16
        if n_features > lim:
            return ("%s needs 2^n model evaluations and the text has %d features, above max_exact %d: "
                    "group tokens with words=True, narrow span, or use shapley or kernelshap"
                    % (METHODS[method], n_features, lim))
    return None


def _methods(method):
    names = [method] if isinstance(method, (str, int)) else list(method)
    if not names:
        raise ValueError("no method given")
    out = []
    for n in names:
        m = n if isinstance(n, int) else lib.attrib_method_from_name(str(n).encode())
        if not 0 <= m < len(METHODS):
            raise ValueError("unknown method %r (methods: %s)" % (n, ", ".join(METHODS)))
        if m in out:
            raise ValueError("method %r is listed twice" % n)
        out.append(m)
    return out


def explain(model, text, method="ig", *, target=None, token=None, token2=None, probe=None, template=None,
            label_words=None, system=None, thinking=False, span=None, words=False, mask="token", mask_token=None,
            baselines=None, n_steps=None, steps=None, rule=None, ig_tol=None, max_steps=None, norm="l2",
            samples=None, n_samples=None, noise=None, on_gxi=False, window=1, stride=1, max_exact=16, seed=0,
            batch=None, memory_mb=None, progress=None, prefix_cache=True):
    """Model.explain: the options are the CLI's `attrib explain` flags (docs/python.md)."""
    from .probe import Probe
    from .result import Attribution, Explanation
    run = _Run()
    run.model = model
    methods = _methods(method)
    o = lib.attrib_explain_default_options(IG)
    # -- the user's choices, with the CLI's bounds
    if isinstance(target, Probe) or (isinstance(target, str) and target.startswith("probe:")):
        probe = target if isinstance(target, Probe) else target[6:]
        target = None
    if target is None:
        pass
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        token = int(target)
    elif isinstance(target, str) and target in _KINDS:
        o.target.kind = _KINDS[target]
    else:
        raise ValueError("target takes logit, logprob, prob, diff, a token id, or a Probe, not %r" % (target,))
    token_word = token2_word = None
    if isinstance(token, str):
        token_word = token
    elif token is not None:
        o.target.token = _int("token", token, 0, 1 << 24)
    if isinstance(token2, str):
        token2_word = token2
    elif token2 is not None:
        o.target.token2 = _int("token2", token2, 0, 1 << 24)
    if span is not None:
        b, e = span
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b < e):
            raise ValueError("span takes (B, E) with 0 <= B < E")
        o.span_begin, o.span_end = b, e
    o.mask = _pick("mask", mask, MASK_NAMES)
    if mask_token is not None:
        o.mask_token = _int("mask_token", mask_token, 0, 1 << 24)
    if n_steps is not None and steps is not None and n_steps != steps:
        raise ValueError("give n_steps or steps, not both")
    st = n_steps if n_steps is not None else steps
    if st is not None:
        o.ig_steps = _int("n_steps", st, 1, 4096)
    if rule is not None:  # also "gl", the CLI's short name of gauss-legendre
        o.ig_rule = lib.attrib_ig_rule_from_name(rule.encode()) if isinstance(rule, str) else -1
        if o.ig_rule < 0:
            o.ig_rule = _pick("rule", rule, RULE_NAMES)
    if max_steps is not None:
        o.ig_max_steps = _int("max_steps", max_steps, 8, 65536)
    # IG: adaptive by default; n_steps or rule choose the fixed rule (as the CLI's --steps / --rule)
    fixed_rule = st is not None or rule is not None
    if ig_tol is not None:
        if not (isinstance(ig_tol, (int, float)) and 0 <= ig_tol < 1):
            raise ValueError("ig_tol takes a number in [0, 1)")
        if ig_tol > 0 and fixed_rule:
            raise ValueError("n_steps and rule choose the fixed IG rule, ig_tol the adaptive one: give one")
        o.ig_tol = float(ig_tol)
    elif fixed_rule:
        o.ig_tol = 0.0
    o.norm = _pick("norm", norm, ["l2", "l1"])
    if n_samples is not None:
        samples = n_samples
    run.samples = -1 if samples is None else _int("samples", samples, 1, MAX_SAMPLES)
    if noise is not None:
        if not (isinstance(noise, (int, float)) and noise >= 0):
            raise ValueError("noise takes a number >= 0")
        o.smooth_noise = float(noise)
    o.smooth_on_gxi = 1 if on_gxi else 0
    o.window = _int("window", window, 1, 1 << 20)
    o.stride = _int("stride", stride, 1, 1 << 20)
    o.max_exact_features = _int("max_exact", max_exact, 1, 30)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 1 << 64:
        raise ValueError("seed takes a whole number >= 0")
    o.seed = int(seed)
    if batch is not None:
        o.batch = _int("batch", batch, 1, 1 << 20)
    if memory_mb is not None:
        o.memory_budget = _int("memory_mb", memory_mb, 16, 1 << 20) << 20
    run.words = bool(words)
    run.baseline = None
    if baselines is not None:
        if not isinstance(baselines, str):
            raise ValueError("baselines takes a text with as many tokens as the input (use mask='zero' for a zero "
                             "embedding baseline)")
        run.baseline = baselines
    run.text = _text_bytes(text)
    if not run.text:
        raise ValueError("the text is empty: there is no token to attribute (BOS is never a feature)")
    if isinstance(template, str) and template == "":
        raise ValueError("template is empty")
    tok = model._tokenizer()
    keep = []  # ctypes buffers the options point into, alive until the calls are done
    # -- probe
    probe_obj = None
    if probe is not None:
        probe_obj = probe if isinstance(probe, Probe) else Probe.load(probe)
        probe_obj.check_model(model)
        o.target.kind = 4
        o.target.probe = probe_obj._h.value
    # -- prompt
    chat = None if probe_obj is not None and template is None else _chat_template(model, template, system, thinking)
    if chat is None and (system is not None or thinking):
        raise ValueError("system and thinking need the model's chat template (template='auto' or 'chat')")
    run.judge = False
    tmpl = None
    tmpl_span_b = -1  # the template's tokens before the input: the prefix cache's candidates
    if chat is not None or template is not None:
        if chat is not None:
            tmpl, tmpl_name = chat["tmpl"], chat["name"]
            if chat["trims"]:
                run.text = run.text.strip(b" \t\n\v\f\r")
        else:
            tmpl, tmpl_name = resolve_template(model, template)
        p = ctypes.POINTER(_capi.PromptC)()
        check(lib.attrib_template_apply(tok, tmpl, run.text, len(run.text), byref(p)), "cannot apply the template")
        pc = p.contents
        toks = [(pc.tokens[i].id, pc.tokens[i].begin, pc.tokens[i].end) for i in range(pc.n)]
        run.text = ctypes.string_at(pc.rendered, pc.rendered_len)
        tmpl_span_b = pc.span_begin
        if o.span_begin < 0:
            o.span_begin, o.span_end = pc.span_begin, pc.span_end
        lib.attrib_prompt_free(p)
        if label_words is not None:
            pw, nw = label_words
        elif chat is not None:
            pw, nw = chat["positive"], chat["negative"]
        else:
            a, b = c_char_p(), c_char_p()
            lib.attrib_template_labels(tmpl_name.encode(), byref(a), byref(b))
            pw, nw = a.value, b.value
        if probe_obj is None and pw and nw and token_word is None and o.target.token < 0:
            o.target.token = word_token(model, tmpl, pw, "label word")
            o.target.token2 = word_token(model, tmpl, nw, "label word")
            o.target.kind = 3
            run.judge = True
    else:
        toks = model._tokenize_raw(run.text, 1)
    n = len(toks)
    ids = (c_int32 * max(1, n))(*[t[0] for t in toks])
    if token_word is not None:
        o.target.token = word_token(model, tmpl, token_word, "token")
    if token2_word is not None:
        o.target.token2 = word_token(model, tmpl, token2_word, "token2")
    if o.target.kind == 3 and (o.target.token < 0 or o.target.token2 < 0):
        raise ValueError("target='diff' needs token and token2")
    bos = lib.attrib_tokenizer_bos(tok)
    span_b = o.span_begin if o.span_begin >= 0 else (1 if n > 0 and toks[0][0] == bos else 0)
    span_e = o.span_end if o.span_end > 0 else n
    if span_e > n or span_b >= span_e:
        if o.span_begin >= 0 and template is None and chat is None:
            raise ValueError("span %d:%d is outside the text's %d tokens" % (o.span_begin, o.span_end, n))
        raise ValueError("the text has no token to attribute (BOS is never a feature)")
    if run.baseline is not None:
        bt = model._tokenize_raw(_text_bytes(run.baseline, "baselines"), 1)
        if len(bt) != n:
            raise ValueError("baselines has %d tokens but the text has %d; they must match" % (len(bt), n))
        bids = (c_int32 * n)(*[t[0] for t in bt])
        keep.append(bids)
        o.baseline_ids = bids
    n_features = span_e - span_b
    if run.words:
        groups, g, txt = [], -1, run.text
        for i in range(span_b, span_e):
            _, b, e = toks[i]
            c = txt[b] if e > b else 32
            same_char = i > span_b and b == toks[i - 1][1]
            pb, pe = toks[i - 1][1:] if i > span_b else (0, 0)
            prev = txt[pe - 1] if i > span_b and pe > pb else 120
            ws, prev_ws = c in _WS, prev in _WS
            if g < 0 or (not same_char and (ws or prev_ws)):
                g += 1
            groups.append(g)
        garr = (c_int32 * len(groups))(*groups)
        keep.append(garr)
        o.groups = garr
        o.span_begin, o.span_end = span_b, span_e
        n_features = g + 1
    run.o = o
    for m in methods:
        why = _method_problem(run, m, n_features)
        if why:
            raise ValueError(why)
    _warn_mask_token(run, tok, toks, span_b, span_e, methods)
    cb = None
    if progress is not None:
        cb = _capi.PROGRESS_FN(lambda user, done, total: progress(done, total))
    records = []
    with model._lock:
        h = model._handle()
        # as the CLI: the template's tokens before the features computed once for every pass
        prefix = c_void_p()
        pre_n = min(tmpl_span_b, span_b) if prefix_cache and tmpl_span_b >= 0 else 0
        if pre_n >= 1 and lib.attrib_prefix_new(h, ids, pre_n, byref(prefix)) != 0:
            prefix = c_void_p()  # without it: the same numbers, only slower
        try:
            _run_methods(run, methods, h, ids, n, cb, prefix, records)
        finally:
            lib.attrib_prefix_free(prefix)
    predicted = -1
    if probe_obj is None and not run.judge:
        if o.target.kind <= 2 and o.target.token < 0:
            predicted = records[0]["target_token"]
        else:
            predicted = int(np.argmax(model.next_token_logits([t[0] for t in toks])))
    ctx = _context(run, model, toks, predicted)
    # what Attribution.faithfulness needs to rerun the model on this input
    # (KEEP and the probe hold what the options point to)
    ctx["faith"] = dict(model=model, ids=ids, n=n, opts=bytes(o), keep=keep, probe=probe_obj, prefix_n=pre_n)
    atts = [Attribution(ctx, rec) for rec in records]
    if isinstance(method, (str, int)):
        return atts[0]
    return Explanation(ctx, atts)


def _run_methods(run, methods, h, ids, n, cb, prefix, records):
    for m in methods:
        mo = _method_options(run, m)
        mo.prefix = prefix.value
        if cb is not None:
            mo.progress = cb
        r = ctypes.POINTER(_capi.ResultC)()
        entered = time.perf_counter()  # the C call runs within [entered, returned] (tests/test_threads.py)
        s = lib.attrib_explain(h, ids, n, byref(mo), byref(r))
        returned = time.perf_counter()
        check(s, "%s failed" % METHODS[m])
        try:
            records.append(_record(r.contents, mo))
            records[-1]["entered"], records[-1]["returned"] = entered, returned
        finally:
            lib.attrib_result_free(r)


def _warn_mask_token(run, tok, toks, span_b, span_e, methods):
    o = run.o

    def uses(m):  # replaces tokens by the mask token (a baseline given as text replaces it)
        if o.mask != 0 or not _reads(m, "MASK"):
            return False
        return not (run.baseline is not None and _reads(m, "BASELINE"))

    if not any(uses(m) for m in methods):
        return
    mask = o.mask_token if o.mask_token >= 0 else lib.attrib_default_mask_token(tok)
    if mask < 0:
        return
    pos = [i for i in range(span_b, min(span_e, len(toks))) if toks[i][0] == mask]
    if pos:
        warnings.warn("the mask token %d occurs in the input at position %s: masking it changes nothing, so its "
                      "score is not meaningful (choose another mask_token, or mask='zero')"
                      % (mask, ", ".join(map(str, pos))))


def _record(r, opts):
    """Everything of an attrib_result, copied out of C memory."""
    nt, nf = r.n_tokens, r.n_features

    def arr(ptr, n, dtype):
        return np.frombuffer(ctypes.string_at(ptr, n * np.dtype(dtype).itemsize), dtype=dtype).copy()

    return dict(
        method=r.method, n_tokens=nt, n_features=nf,
        feature_of_token=arr(r.feature_of_token, nt, np.int32), scores=arr(r.scores, nf, np.float64),
        token_scores=arr(r.token_scores, nt, np.float64),
        std_errors=arr(r.std_errors, nf, np.float64) if r.std_errors else None,
        target_token=r.target_token, target_token2=r.target_token2, target_kind=r.target_kind,
        f_input=r.f_input, f_baseline=r.f_baseline, sum_scores=r.sum_scores, completeness_delta=r.completeness_delta,
        completeness_relative=r.completeness_relative, n_forward=r.n_forward, n_backward=r.n_backward,
        prefix_len=r.prefix_len,
        seconds=r.seconds, mask=r.mask, mask_token=r.mask_token,
        opts=dict(ig_steps=opts.ig_steps, ig_rule=opts.ig_rule, norm=opts.norm, smooth_on_gxi=opts.smooth_on_gxi,
                  smooth_samples=opts.smooth_samples, smooth_noise=opts.smooth_noise, window=opts.window,
                  stride=opts.stride, samples=opts.samples, seed=opts.seed, ig_tol=opts.ig_tol,
                  ig_max_steps=opts.ig_max_steps),
        ig_n_nodes=r.ig_n_nodes, ig_pieces=r.ig_pieces, ig_cap_reached=r.ig_cap_reached,
        ig_error_bound=r.ig_error_bound, settings=_settings_json(r, opts))


def _settings_json(r, opts):
    """The library's record of the method's settings (attrib_method_settings_json)."""
    text = ctypes.POINTER(ctypes.c_char)()
    check(lib.attrib_method_settings_json(byref(opts), byref(r), byref(text)), "method settings")
    try:
        return json.loads(ctypes.string_at(text).decode())
    finally:
        lib.attrib_free(text)


def _context(run, model, toks, predicted):
    """What every method of one call shares: model, text, tokens, settings.
    The Token objects are made when first asked for (ctx["tokens"]())."""
    from .model import Token
    cache = []

    def tokens():
        if not cache:
            text = run.text
            cache.append([Token(tid, model.piece(tid), b, e, text[b:e].decode("utf-8", "replace"))
                          for tid, b, e in toks])
        return cache[0]

    ctx = dict(model_path=model.info.path, threads=model.threads, compute=model.compute, text_bytes=run.text, tokens=tokens,
               words=run.words, baseline=run.baseline, pieces={}, texts={})

    def piece(tid):
        return model.piece(tid) if tid >= 0 else ""

    def text_of(tid):
        if tid not in ctx["texts"]:
            ctx["texts"][tid] = _piece_text(model, tid) if tid >= 0 else ""
        return ctx["texts"][tid]

    ctx["piece"], ctx["text_of"] = piece, text_of
    ctx["predicted_id"] = predicted
    return ctx


def _predicted(ctx):
    p = ctx["predicted_id"]
    if p < 0:
        return None
    return {"token": p, "piece": ctx["piece"](p), "text": ctx["text_of"](p)}


# ---- the document (tools/cli/cmd_explain.c build_doc / method_json) --------

def method_settings(ctx, rec):
    """The library's record of the settings, with the baseline's text and words (as the CLI)."""
    s = dict(rec["settings"])
    if "baseline" in s and ctx["baseline"] is not None:
        s["baseline"] = ctx["baseline"]
    if ctx["words"]:
        s["words"] = True
    return s


def method_json(ctx, rec):
    piece, text_of = ctx["piece"], ctx["text_of"]
    tt = rec["target_token"]
    target = {"kind": TARGET_NAMES[rec["target_kind"]], "token": tt, "piece": piece(tt), "text": text_of(tt)}
    if rec["target_kind"] == 3:
        t2 = rec["target_token2"]
        target.update(token2=t2, piece2=piece(t2), text2=text_of(t2))
    ig = _reads(rec["method"], "BASELINE") and not math.isnan(rec["f_baseline"])
    d = {"method": METHODS[rec["method"]], "settings": method_settings(ctx, rec), "target": target,
         "scores": [float(x) for x in rec["token_scores"]], "features": [float(x) for x in rec["scores"]],
         "f_input": rec["f_input"], "f_baseline": _nan_none(rec["f_baseline"]), "sum_scores": rec["sum_scores"],
         "completeness_delta": _nan_none(rec["completeness_delta"] if ig else float("nan")),
         "completeness_relative": _nan_none(rec["completeness_relative"] if ig else float("nan")),
         "cost": {"n_forward": int(rec["n_forward"]), "n_backward": int(rec["n_backward"]), "seconds": rec["seconds"]}}
    if rec["std_errors"] is not None:
        d["std_errors"] = [float(x) for x in rec["std_errors"]]
    if ig and _reads(rec["method"], "IG"):
        d["ig"] = ig_json(rec)
    return d


def ig_json(rec):
    """IG's quadrature: the rule, what it achieved, a warning when the adaptive
    rule stopped at its step cap short of the tolerance."""
    o = rec["opts"]
    adaptive = o["ig_tol"] > 0
    j = {"adaptive": adaptive, "evaluations": int(rec["n_backward"]), "nodes": rec["ig_n_nodes"],
         "pieces": rec["ig_pieces"], "cap_reached": bool(rec["ig_cap_reached"]),
         "delta": _nan_none(rec["completeness_delta"]), "relative": _nan_none(rec["completeness_relative"])}
    if adaptive:
        j.update(tol=o["ig_tol"], max_steps=o["ig_max_steps"], error_bound=_nan_none(rec["ig_error_bound"]))
    if adaptive and rec["ig_cap_reached"]:
        j["warning"] = ("WARNING: adaptive IG stopped at the step cap (%d gradient evaluations, --max-steps %d) with "
                        "completeness delta %.3g%% of f(input) - f(baseline), above the tolerance %.3g%%: raise "
                        "--max-steps" % (rec["n_backward"], o["ig_max_steps"], 100 * rec["completeness_relative"],
                                         100 * o["ig_tol"]))
    return j


def top_json(ctx, rec):
    """The document's top level: one method's result in the single-method shape."""
    toks = []
    fot = rec["feature_of_token"]
    for i, t in enumerate(ctx["tokens"]()):
        fe = int(fot[i])
        d = {"id": t.id, "piece": t.piece, "begin": t.begin, "end": t.end, "feature": fe,
             "score": float(rec["token_scores"][i])}
        if rec["std_errors"] is not None and fe >= 0:
            d["std_error"] = float(rec["std_errors"][fe])
        toks.append(d)
    m, o = rec["method"], rec["opts"]
    rel = rec["completeness_relative"]
    doc = {"attrib_version": lib.attrib_version().decode(), "model": ctx["model_path"], "method": METHODS[m],
           "target": {"kind": TARGET_NAMES[rec["target_kind"]], "token": rec["target_token"],
                      "token2": rec["target_token2"]},
           "tokens": toks, "features": [float(x) for x in rec["scores"]], "f_input": rec["f_input"],
           "f_baseline": _nan_none(rec["f_baseline"]), "sum_scores": rec["sum_scores"],
           "completeness_relative": -1.0 if math.isnan(rel) or not _reads(m, "BASELINE") else rel,
           "cost": {"n_forward": int(rec["n_forward"]), "n_backward": int(rec["n_backward"]), "seconds": rec["seconds"],
                    "threads": ctx["threads"], "compute": ctx["compute"], "prefix_tokens": int(rec["prefix_len"])}}
    settings = {"mask": MASK_NAMES[rec["mask"]], "mask_token": rec["mask_token"], "ig_steps": o["ig_steps"],
                "ig_rule": RULE_NAMES[o["ig_rule"]],
                "samples": o["smooth_samples"] if _reads(m, "SMOOTH") else o["samples"], "window": o["window"],
                "stride": o["stride"], "words": bool(ctx["words"])}
    if _reads(m, "SEED"):
        settings["seed"] = o["seed"]
    if _reads(m, "IG"):
        settings["ig_tol"] = o["ig_tol"]
        settings["ig_max_steps"] = o["ig_max_steps"]
        if not math.isnan(rec["f_baseline"]):
            doc["ig"] = ig_json(rec)
    doc["settings"] = settings
    if rec["std_errors"] is not None:
        doc["std_errors"] = [float(x) for x in rec["std_errors"]]
    doc["text"] = ctx["text_bytes"].decode("utf-8", "replace")
    if ctx["predicted_id"] >= 0:
        doc["predicted"] = _predicted(ctx)
    return doc
