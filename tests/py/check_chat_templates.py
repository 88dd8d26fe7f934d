#!/usr/bin/python3
"""check_chat_templates: attrib's chat-template families against llama.cpp.

The fixtures are real published chat templates (tests/fixtures/chat_templates,
sources in the README there). For each one:

  1. RECOGNITION. attrib (tests/tools/chat_dump) must name the family this
     script expects for that model, written here by hand from where the file
     came from, not from attrib's output. Templates of other families
     (Vicuna-style, DeepSeek-R1's forced <think>, Phi-4's <|im_sep|>, ...)
     must be refused with a message naming the known families.

  2. LAYOUT vs llama.cpp. For several XSTest prompts (and one padded with
     whitespace, to exercise the families that trim), the messages
     [user: X] and, where the family has a system role, [system: S, user: X]
     go through llama.cpp's own llama_chat_apply_template (tests/llamacpp/
     llamacpp_ref.py, op "chat", add_assistant = true, the fixture's text as
     the template) and through attrib's layout (chat_dump). The two strings
     must be equal byte for byte. BOS is not part of either string (llama.cpp
     leaves it to tokenization, and chat_dump writes it only with a
     tokenizer). The documented exceptions (docs/templates.md):
       qwen3          attrib's default (thinking off) = llama.cpp's string +
                      "<think>\\n\\n</think>\\n\\n"; with thinking on, equal.
       llama-guard-3  llama.cpp's C API treats this template as plain
                      Llama 3 (no categories), so it is no reference here; the
                      published template rendered by jinja2 is (below).

  3. LAYOUT vs the published Jinja (jinja2, sandboxed: a test-side reference
     only; attrib never executes templates). Equal after removing a leading
     bos_token, except where the template itself adds what llama.cpp does not
     (KNOWN_JINJA below, each with its reason; such a case must really
     differ, so the list cannot go stale silently).

  4. TOKEN IDS where a vocabulary with the family's special tokens exists
     here: SmolLM2's byte-level BPE (ChatML tokens <|im_start|>/<|im_end|>)
     as a GGUF carrying the ChatML/Qwen templates; attrib_template_apply's
     ids vs llama.cpp tokenizing its own chat string (BOS as configured,
     special tokens parsed). Skipped with a note when that GGUF cannot be
     written (tools/make_gguf.py).

Exit status 0 when everything agrees; 77 (skip) when llama.cpp cannot run.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests", "fixtures", "chat_templates")
BUILD = os.environ.get("ATTRIB_BUILD", os.path.join(ROOT, "build"))
SHARED = os.environ.get("ATTRIB_SHARED", os.path.join(ROOT, "..", "shared"))
DUMP = os.path.join(BUILD, "tests", "chat_dump")
REF = os.path.join(ROOT, "tests", "llamacpp", "llamacpp_ref.py")

# fixture -> the family it must be recognised as (from its source model)
EXPECTED = {
    "meta-llama-Meta-Llama-3-8B-Instruct.jinja": "llama3",
    "meta-llama-Llama-3.1-8B-Instruct.jinja": "llama3",
    "Qwen-Qwen2.5-7B-Instruct.jinja": "chatml",
    "Qwen-Qwen3-0.6B.jinja": "qwen3",
    "google-gemma-2-2b-it.jinja": "gemma",
    "google-gemma-3-1b-it.jinja": "gemma",
    "microsoft-Phi-3-mini.jinja": "phi3",
    "microsoft-Phi-3.5-mini-instruct.jinja": "phi3",
    "meta-llama-Llama-Guard-3-8B.jinja": "llama-guard-3",
    "mistralai-Mistral-7B-Instruct-v0.2.jinja": "mistral",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": "mistral-tekken",
}
FAMILIES = ["llama-guard-3", "qwen3", "chatml", "llama3", "gemma", "phi3", "mistral-tekken", "mistral"]
SYSTEM_FAMILIES = {"qwen3", "chatml", "llama3", "gemma", "phi3", "mistral-tekken", "mistral"}

# Templates attrib must refuse (short real-world shapes of other families).
UNKNOWN = {
    "vicuna": "{% for message in messages %}{% if message['role'] == 'user' %}USER: {{ message['content'] }}\n"
              "{% else %}ASSISTANT: {{ message['content'] }}</s>\n{% endif %}{% endfor %}ASSISTANT:",
    "phi4": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + "
            "'<|im_end|>'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}",
    "deepseek-r1-qwen": "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                        "<|im_end|>\n{% endfor %}<|im_start|>assistant\n<think>\n",
    "empty": "{{ messages[0]['content'] }}",
}

# (fixture, with_system) -> why the published Jinja output differs from the
# llama.cpp layout attrib follows.
KNOWN_JINJA = {
    ("meta-llama-Llama-3.1-8B-Instruct.jinja", False): "Llama 3.1 always writes a system turn with its knowledge-cutoff date",
    ("meta-llama-Llama-3.1-8B-Instruct.jinja", True): "Llama 3.1 writes the cutoff date into the system turn",
    ("Qwen-Qwen2.5-7B-Instruct.jinja", False): "Qwen2.5 inserts its default system message",
    ("google-gemma-2-2b-it.jinja", True): "Gemma 2 refuses a system message (raise_exception)",
    ("microsoft-Phi-3-mini.jinja", True): "Phi-3-mini drops system messages",
    ("mistralai-Mistral-7B-Instruct-v0.2.jinja", True): "Mistral v0.2 refuses a system message (raise_exception)",
}

SYSTEM = "You are a careful assistant. Answer briefly."


def xstest_prompts(n=8):
    path = os.path.join(SHARED, "data", "xstest", "xstest_prompts.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r["prompt"] for r in csv.DictReader(fh)]
    step = max(1, len(rows) // n)
    picked = rows[::step][:n]
    return picked + ["  " + rows[0] + " \n"]  # surrounding whitespace: the trimming families


def chat_dump(req):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(req, fh)
        path = fh.name
    try:
        out = subprocess.run([DUMP, path], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    return json.loads(out)


class LlamaCpp:
    """One long-lived llamacpp_ref.py process (JSON lines)."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, REF], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  encoding="utf-8")

    def ask(self, req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("llama.cpp driver ended")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def jinja_render(text, msgs, **kw):
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        return None
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise ValueError(msg)

    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(text).render(messages=msgs, add_generation_prompt=True, bos_token="<BOS>",
                                            eos_token="<EOS>", **kw)
    except ValueError as e:
        return "RAISED: %s" % e


def main():
    if not os.path.exists(DUMP):
        print("chat_dump not built at %s" % DUMP)
        return 1
    fails = []
    counts = {"recognised": 0, "refused": 0, "llamacpp_equal": 0, "jinja_equal": 0, "jinja_known_diff": 0, "ids_equal": 0}

    # 1. recognition
    for fx, fam in sorted(EXPECTED.items()):
        d = chat_dump({"template_file": os.path.join(FIX, fx), "texts": []})
        if d["family"] != fam:
            fails.append("%s: recognised as %s, expected %s (%s)" % (fx, d["family"], fam, d.get("error")))
        else:
            counts["recognised"] += 1
    for name, text in UNKNOWN.items():
        d = chat_dump({"template": text, "texts": []})
        err = d.get("error") or ""
        if d["family"] is not None or not all(f in err for f in FAMILIES):
            fails.append("unknown template %s: family %s, message %r (must be refused naming every family)"
                         % (name, d["family"], err))
        else:
            counts["refused"] += 1
    print("recognition: %d fixtures recognised as expected, %d unknown templates refused" %
          (counts["recognised"], counts["refused"]))

    prompts = xstest_prompts()
    try:
        ll = LlamaCpp()
        info = ll.ask({"op": "info"})
        if "error" in info:
            raise RuntimeError(info["error"])
    except Exception as e:  # noqa: BLE001 - report and skip
        print("SKIP: llama.cpp driver unavailable: %s" % e)
        if fails:
            print("\n".join("FAIL " + f for f in fails))
            return 1
        return 77
    print("llama.cpp: %s" % json.dumps(info))

    # 2. + 3. layouts
    for fx, fam in sorted(EXPECTED.items()):
        text = open(os.path.join(FIX, fx), encoding="utf-8").read()
        for with_sys in (False, True):
            if with_sys and fam not in SYSTEM_FAMILIES:
                continue
            system = SYSTEM if with_sys else None
            ours = chat_dump({"template_file": os.path.join(FIX, fx), "texts": prompts, "system": system})
            ours_think = chat_dump({"template_file": os.path.join(FIX, fx), "texts": prompts, "system": system,
                                    "thinking": True}) if fam == "qwen3" else None
            if ours.get("error"):
                fails.append("%s: attrib could not build it: %s" % (fx, ours["error"]))
                continue
            for i, x in enumerate(prompts):
                msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": x}]
                r = ll.ask({"op": "chat", "template": text, "messages": msgs, "add_assistant": True})
                if "error" in r:
                    fails.append("%s: llama.cpp: %s" % (fx, r["error"]))
                    break
                ref = r["text"]
                got = ours["rendered"][i]
                if fam == "qwen3":
                    if ours_think["rendered"][i] != ref:
                        fails.append("%s sys=%s prompt %d: thinking-on layout %r != llama.cpp %r" %
                                     (fx, with_sys, i, ours_think["rendered"][i], ref))
                    else:
                        counts["llamacpp_equal"] += 1
                    ref = ref + "<think>\n\n</think>\n\n"
                if fam != "llama-guard-3":
                    if got != ref:
                        fails.append("%s sys=%s prompt %d: attrib %r != llama.cpp %r" % (fx, with_sys, i, got, ref))
                    else:
                        counts["llamacpp_equal"] += 1
                # the published Jinja
                kw = {"enable_thinking": False} if fam == "qwen3" else {}
                j = jinja_render(text, msgs, **kw)
                if j is None:
                    counts["jinja_skipped"] = counts.get("jinja_skipped", 0) + 1
                    continue
                if j.startswith("<BOS>"):
                    j = j[len("<BOS>"):]
                if fam == "llama-guard-3":
                    # the stray space before BOS goes (one BOS, from the tokenizer); the
                    # "\n\n" the model writes first is part of attrib's prompt
                    want = j.replace(" <|begin_of_text|>", "", 1) + "\n\n" if j.startswith(" <|begin_of_text|>") else None
                    if want != got:
                        fails.append("%s prompt %d: attrib %r != published template %r" % (fx, i, got, j))
                    else:
                        counts["jinja_equal"] += 1
                    continue
                known = KNOWN_JINJA.get((fx, with_sys))
                if known:
                    if j == got:
                        fails.append("%s sys=%s: listed as differing (%s) but equal: update KNOWN_JINJA" %
                                     (fx, with_sys, known))
                    else:
                        counts["jinja_known_diff"] += 1
                elif j != got:
                    fails.append("%s sys=%s prompt %d: attrib %r != published Jinja %r" % (fx, with_sys, i, got, j))
                else:
                    counts["jinja_equal"] += 1
    # negative control: another family's layout must differ from llama.cpp's
    # string (a comparison that cannot fail proves nothing)
    x = prompts[0]
    for fx, fam in sorted(EXPECTED.items()):
        if fam == "llama-guard-3":
            continue
        other = "llama3" if fam in ("chatml", "qwen3") else "chatml"
        text = open(os.path.join(FIX, fx), encoding="utf-8").read()
        ref = ll.ask({"op": "chat", "template": text, "messages": [{"role": "user", "content": x}],
                      "add_assistant": True})["text"]
        wrong = chat_dump({"family": other, "texts": [x], "thinking": True})["rendered"][0]
        if wrong == ref:
            fails.append("control: %s laid out as %s equals llama.cpp's string" % (fx, other))
        else:
            counts["controls"] = counts.get("controls", 0) + 1
    print("layouts on %d prompts: %d equal to llama.cpp, %d equal to the published Jinja, %d documented Jinja "
          "differences; %d negative controls differ as they must" % (len(prompts), counts["llamacpp_equal"],
                                                                      counts["jinja_equal"], counts["jinja_known_diff"],
                                                                      counts.get("controls", 0)))

    if counts.get("jinja_skipped"):
        print("published-Jinja comparison skipped: jinja2 is not installed for %s (Debian: python3-jinja2)" %
              sys.executable)
    # 4. token ids (ChatML vocabulary)
    counts["ids_equal"], note = token_ids(ll, prompts, fails)
    print("token ids: %s" % note)
    print("end to end: %s" % end_to_end(ll, fails))
    ll.close()
    for f in fails:
        print("FAIL " + f)
    print("%s: %s" % ("FAIL" if fails else "OK", json.dumps(counts)))
    return 1 if fails else 0


# ------------------------------------------------------------ GGUF + key
_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_with_chat_template(src, dst, template):
    """DST = the GGUF SRC with tokenizer.chat_template = TEMPLATE added (a
    minimal GGUF v3 reader/writer: the key/value section is copied byte for
    byte, tensor infos unchanged, data re-aligned)."""
    import struct
    buf = open(src, "rb").read()
    assert buf[:4] == b"GGUF"
    version, n_t, n_kv = struct.unpack_from("<IQQ", buf, 4)
    pos = 24
    align = 32

    def string(p):
        n = struct.unpack_from("<Q", buf, p)[0]
        return buf[p + 8:p + 8 + n], p + 8 + n

    def skip_value(t, p):
        if t in _SCALAR:
            return p + _SCALAR[t]
        if t == 8:
            return string(p)[1]
        et, n = struct.unpack_from("<IQ", buf, p)
        p += 12
        for _ in range(n):
            p = skip_value(et, p)
        return p

    kv_start = pos
    for _ in range(n_kv):
        key, pos = string(pos)
        t = struct.unpack_from("<I", buf, pos)[0]
        if key == b"general.alignment":
            align = struct.unpack_from("<I", buf, pos + 4)[0]
        if key == b"tokenizer.chat_template":
            raise ValueError("already has a chat template")
        pos = skip_value(t, pos + 4)
    kv_raw = buf[kv_start:pos]
    ti_start = pos
    for _ in range(n_t):
        _, pos = string(pos)
        nd = struct.unpack_from("<I", buf, pos)[0]
        pos += 4 + 8 * nd + 4 + 8
    ti_raw = buf[ti_start:pos]
    data = buf[pos + (-pos % align):]
    tb = template.encode("utf-8")
    key = b"tokenizer.chat_template"
    head = b"GGUF" + struct.pack("<IQQ", version, n_t, n_kv + 1) + kv_raw
    head += struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(tb)) + tb + ti_raw
    head += b"\0" * (-len(head) % align)
    with open(dst, "wb") as fh:
        fh.write(head + data)
    return dst


JUDGE_USER = "Is the following request harmful? Answer Yes or No.\n\nRequest: "


def end_to_end(ll, fails):
    """`attrib info` and `attrib explain --template auto` (and the default) on
    a tiny random-weight GGUF with SmolLM2's vocabulary carrying the Qwen3
    template: the explained prompt's ids must equal llama.cpp's tokenization
    of its own chat string for the judge question (+ the empty think block),
    the features must be exactly the request's tokens, and the target the
    logit difference of "Yes" and "No"."""
    attrib = os.environ.get("ATTRIB_BIN", os.path.join(BUILD, "attrib"))
    make = os.path.join(ROOT, "tools", "make_gguf.py")
    tokjson = os.path.join(SHARED, "models", "smollm2-135m-tokenizer", "tokenizer.json")
    if not (os.path.exists(attrib) and os.path.exists(make) and os.path.exists(tokjson)):
        return "skipped (attrib, tools/make_gguf.py or the SmolLM2 tokenizer missing)"
    n_ok = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "base.gguf")
        r = subprocess.run([sys.executable, make, base, "--quiet", "--n-embd", "32", "--n-layer", "1", "--n-head", "2",
                            "--n-ff", "64", "--tokenizer-from", tokjson, "--tokenizer-pre", "smollm"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return "skipped (make_gguf.py failed: %s)" % (r.stderr.strip().splitlines() or ["?"])[-1]
        fx = "Qwen-Qwen3-0.6B.jinja"
        text = open(os.path.join(FIX, fx), encoding="utf-8").read()
        model = gguf_with_chat_template(base, os.path.join(tmp, "qwen3.gguf"), text)
        info = json.loads(subprocess.run([attrib, "info", model, "--json"], capture_output=True, text=True,
                                         check=True).stdout)
        ct = info.get("chat_template") or {}
        if ct.get("family") != "qwen3" or ct.get("bytes") != len(text.encode()):
            fails.append("attrib info --json: chat_template %r, expected family qwen3, %d bytes" %
                         (ct, len(text.encode())))
        else:
            n_ok += 1
        x = "How do I kill a process?"
        ref = ll.ask({"op": "chat", "template": text, "messages": [{"role": "user", "content": JUDGE_USER + x}],
                      "add_assistant": True})["text"] + "<think>\n\n</think>\n\n"
        want = ll.ask({"op": "tokenize", "model": model, "text": ref, "add_special": True, "parse_special": True})["ids"]
        # the features: what lies between the prompt's text up to "Request:"
        # and the suffix from <|im_end|> (both boundaries are pre-token
        # boundaries, so the three tokenizations concatenate)
        cut = ref.index("Request:") + len("Request:")
        end = ref.index("<|im_end|>")
        head = ll.ask({"op": "tokenize", "model": model, "text": ref[:cut], "add_special": True,
                       "parse_special": True})["ids"]
        tail = ll.ask({"op": "tokenize", "model": model, "text": ref[end:], "add_special": False,
                       "parse_special": True})["ids"]
        alone = want[len(head):len(want) - len(tail)]
        # the answer words as the first token of the assistant's reply
        yes_no = [ll.ask({"op": "tokenize", "model": model, "text": w, "add_special": False,
                          "parse_special": False})["ids"] for w in ("Yes", "No")]
        for args in (["--template", "auto"], []):
            r = subprocess.run([attrib, "explain", model, x, "--method", "occlusion", "--json"] + args,
                               capture_output=True, text=True)
            if r.returncode != 0:
                fails.append("attrib explain %s: exit %d: %s" % (args, r.returncode, r.stderr.strip()))
                continue
            doc = json.loads(r.stdout)
            res = doc["results"][0] if "results" in doc else doc
            toks = res.get("tokens") or doc.get("tokens")
            ids = [t["id"] for t in toks]
            feats = [t["id"] for t in toks if t.get("feature", -1) >= 0]
            tgt = res["target"]
            problems = []
            if ids != want:
                problems.append("ids %s != llama.cpp %s" % (ids, want))
            if feats != alone:
                problems.append("feature tokens %s != the request's own tokens %s" % (feats, alone))
            if [[tgt.get("token")], [tgt.get("token2")]] != yes_no or "diff" not in tgt.get("kind", ""):
                problems.append("target %r, expected diff of %s" % (tgt, yes_no))
            if problems:
                fails.append("attrib explain %s: %s" % (args or "(default)", "; ".join(problems)))
            else:
                n_ok += 1
    return "%d of 3 end-to-end checks passed (info --json; explain --template auto; explain's default)" % n_ok


def token_ids(ll, prompts, fails):
    """attrib_template_apply ids vs llama.cpp's tokenization of its own chat
    string, on a tiny random-weight GGUF with SmolLM2's vocabulary (which has
    the ChatML tokens <|im_start|>, <|im_end|>). BOS as the GGUF says,
    special-token text parsed (llama.cpp) / recognised in the template text
    only (attrib: the XSTest prompts hold no special-token text)."""
    make = os.path.join(ROOT, "tools", "make_gguf.py")
    tokjson = os.path.join(SHARED, "models", "smollm2-135m-tokenizer", "tokenizer.json")
    if not os.path.exists(make) or not os.path.exists(tokjson):
        return 0, "skipped (tools/make_gguf.py or the SmolLM2 tokenizer is missing)"
    n_equal = 0
    with tempfile.TemporaryDirectory() as tmp:
        gguf = os.path.join(tmp, "smollm-vocab.gguf")
        cmd = [sys.executable, make, gguf, "--quiet", "--n-embd", "32", "--n-layer", "1", "--n-head", "2",
               "--n-ff", "64", "--tokenizer-from", tokjson, "--tokenizer-pre", "smollm"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return 0, "skipped (make_gguf.py failed: %s)" % (r.stderr.strip().splitlines() or ["?"])[-1]
        for fx, thinking in (("Qwen-Qwen2.5-7B-Instruct.jinja", False), ("Qwen-Qwen3-0.6B.jinja", True),
                             ("Qwen-Qwen3-0.6B.jinja", False)):
            text = open(os.path.join(FIX, fx), encoding="utf-8").read()
            for with_sys in (False, True):
                system = SYSTEM if with_sys else None
                ours = chat_dump({"template_file": os.path.join(FIX, fx), "texts": prompts, "tokenizer": gguf,
                                  "thinking": thinking, "system": system})
                for i, x in enumerate(prompts):
                    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": x}]
                    ref = ll.ask({"op": "chat", "template": text, "messages": msgs, "add_assistant": True})["text"]
                    if "Qwen3" in fx and not thinking:
                        ref += "<think>\n\n</think>\n\n"
                    ids = ll.ask({"op": "tokenize", "model": gguf, "text": ref, "add_special": True,
                                  "parse_special": True})
                    if "error" in ids:
                        return n_equal, "skipped (llama.cpp cannot load the vocabulary GGUF: %s)" % ids["error"]
                    if ids["ids"] != ours["ids"][i]:
                        fails.append("%s thinking=%s sys=%s prompt %d: attrib ids %s != llama.cpp ids %s" %
                                     (fx, thinking, with_sys, i, ours["ids"][i], ids["ids"]))
                    else:
                        n_equal += 1
                    # the input span covers exactly the prompt's own tokens (for a
                    # prompt without surrounding whitespace; a leading space can
                    # merge with the template's "\n" into one token, which then
                    # belongs to the span, as the model sees it)
                    if x != x.strip():
                        continue
                    b, e = ours["span"][i]
                    alone = ll.ask({"op": "tokenize", "model": gguf, "text": x, "add_special": False,
                                    "parse_special": False})["ids"]
                    if ours["ids"][i][b:e] != alone:
                        fails.append("%s prompt %d: span tokens %s != the prompt tokenized alone %s" %
                                     (fx, i, ours["ids"][i][b:e], alone))
        # SentencePiece: the Llama-2 32k vocabulary (Mistral v0.1/v0.2's kind).
        # The other families' special tokens are plain text in it on both
        # sides; what is compared is BOS (written by attrib for the families
        # whose template opens with it, added by llama.cpp) and the space
        # prefix SentencePiece puts after BOS.
        spm = os.path.join(SHARED, "models", "llama-2-tiny-random", "llama-2-tiny-random.gguf")
        n_spm = 0
        if os.path.exists(spm):
            for fx in ("mistralai-Mistral-7B-Instruct-v0.2.jinja", "mistralai-Mistral-Nemo-Instruct-2407.jinja",
                       "google-gemma-3-1b-it.jinja", "meta-llama-Meta-Llama-3-8B-Instruct.jinja",
                       "microsoft-Phi-3.5-mini-instruct.jinja"):
                text = open(os.path.join(FIX, fx), encoding="utf-8").read()
                ours = chat_dump({"template_file": os.path.join(FIX, fx), "texts": prompts, "tokenizer": spm})
                for i, x in enumerate(prompts):
                    ref = ll.ask({"op": "chat", "template": text, "messages": [{"role": "user", "content": x}],
                                  "add_assistant": True})["text"]
                    ids = ll.ask({"op": "tokenize", "model": spm, "text": ref, "add_special": True,
                                  "parse_special": True})
                    if "error" in ids:
                        fails.append("llama.cpp cannot tokenize with %s: %s" % (spm, ids["error"]))
                        break
                    if ids["ids"] != ours["ids"][i]:
                        fails.append("%s (Llama-2 SPM vocabulary) prompt %d: attrib ids %s != llama.cpp ids %s" %
                                     (fx, i, ours["ids"][i], ids["ids"]))
                    else:
                        n_equal += 1
                        n_spm += 1
    return n_equal, "%d prompt layouts with identical ids (SmolLM2 vocabulary: Qwen2.5, Qwen3 thinking on/off, " \
                    "with and without system; Llama-2 SentencePiece vocabulary: %d for mistral, mistral-tekken, " \
                    "gemma, llama3, phi3)" % (n_equal, n_spm)


if __name__ == "__main__":
    sys.exit(main())
