#!/usr/bin/python3
"""llamacpp_ref: llama.cpp itself, as an independent reference for attrib.

What it is. The prebuilt libllama + ggml CPU backends that the npm package
@node-llama-cpp/linux-x64 3.22.1 ships (llama.cpp release v0.5.0,
llama_version() = "0.5.0-dev"), called through libllama's C API from Python
ctypes. Nothing here comes from attrib: the tokenizer, the chat templates and
the forward pass are llama.cpp's own. tests/llamacpp/package.json and
package-lock.json pin the package; `ensure_installed()` runs `npm ci` in this
directory when node_modules is absent (the same pattern as tests/browser).

Why ctypes and not node-llama-cpp's JavaScript API: the JS API needs the
whole node-llama-cpp package (with its many npm dependencies) and puts its
own session logic between us and llama.cpp; the C API gives every number we
compare directly, and the binary package alone has no dependencies.

The C structs. Our declarations follow include/llama.h of that release, but
llama.h changed its structs several times around it (load_mode replacing
use_mmap, new context fields), so the driver does not trust a header: it
asks the library for its default parameters into a buffer pre-filled with a
sentinel, and checks the size and the documented default value of every
field it touches (see check_layout). A library whose layout differs makes
the driver stop with a message, never run with misplaced fields.
  llama_model_params   80 bytes, passed through unchanged (defaults: mmap,
                       no GPU offload exists in this CPU-only build)
  llama_context_params 160 bytes; offsets used: n_ctx 0, n_batch 4,
                       n_ubatch 8, n_seq_max 12, n_threads 28,
                       n_threads_batch 32, flash_attn_type 52, type_k 104,
                       type_v 108, embeddings 128
  llama_model_quantize_params 64 bytes; ftype 4, allow_requantize 16,
                       quantize_output_tensor 17, pure 19
  llama_batch          {int32 n_tokens; token*, embd*, pos*, n_seq_id*,
                       seq_id**, int8 logits*} = 56 bytes

Numerics of the reference configuration (the default of every request):
F32 K/V cache (the library default is F16), flash attention off (default
auto, which turns it on for the CPU), logits F32 as the model computes them.
"defaults": true in a bench request keeps the library's own settings.

The CPU backend: ggml_backend_load_all_from_path() on the package's bins
directory loads the variant that ggml scores best for this CPU (reported by
"info"); ATTRIB_LLAMACPP_CPU=haswell (etc.) loads libggml-cpu-haswell.so
instead. ATTRIB_LLAMACPP_LIB=DIR uses libraries from DIR.

Protocol. `llamacpp_ref.py` reads one JSON request per line on stdin and
writes one JSON response per line on stdout (a long-lived process answers
many requests; models stay loaded). `llamacpp_ref.py REQ.json` answers a
file holding one request or a list of them, and prints the response(s).
Every request has "op"; errors give {"error": "..."} (the process goes on).
  {"op":"info"}
  {"op":"tokenize","model":M,"text":S | "texts":[S..],"add_special":true,"parse_special":false}
      -> {"ids":[..]} | {"ids":[[..],..]}
  {"op":"logits","model":M,"ids":[..],"all":false,"threads":2,"out":PATH?}
      -> {"n_vocab":V,"n":T,"logits":[V floats] | [[V]..T]}; with "out" the
         float32 values are written there (raw, little-endian) instead
  {"op":"generate","model":M,"ids":[..],"n":16,"threads":2}
      -> {"ids":[n ids], "gap":[top1 - top2 logit at each step]}
  {"op":"chat_template","model":M,"name":null} -> {"template": S | null}
  {"op":"chat_builtins"} -> {"names":[..]}: the template names llama.cpp knows
  {"op":"chat","model":M?,"template":S?,"messages":[{"role":..,"content":..}],
   "add_assistant":true} -> {"text":S}; "template" is a template string or
         a built-in name (e.g. "chatml", "llama3"); without it the model's own
         (GGUF tokenizer.chat_template). llama.cpp's C API recognises the
         template by its content and does not run Jinja.
  {"op":"dequantize","model":M,"out":PATH} -> {"out":PATH}: a copy of M
         with every tensor in F32, expanded by ggml's own dequantisers
         (llama_model_quantize to LLAMA_FTYPE_ALL_F32)
  {"op":"bench","model":M,"batch":[[ids]..],"threads":N,"reps":R,"defaults":false}
      -> {"seconds":[per rep], "tokens": B*T}  (prompt processing, one decode
         of all sequences per rep, cache cleared between reps)
Text is UTF-8; the tokenizer is given exactly these bytes.
"""
import ctypes as C
import glob
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = "@node-llama-cpp/linux-x64"
BINS = os.path.join(HERE, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")

MODEL_PARAMS_SIZE = 80
CTX_PARAMS_SIZE = 160
# llama_context_params: (offset, struct format, documented default)
CTX_FIELDS = {
    "n_ctx": (0, "<I", 512),
    "n_batch": (4, "<I", 2048),
    "n_ubatch": (8, "<I", 512),
    "n_seq_max": (12, "<I", 1),
    "n_threads": (28, "<i", 4),          # GGML_DEFAULT_N_THREADS
    "n_threads_batch": (32, "<i", 4),
    "flash_attn_type": (52, "<i", -1),   # LLAMA_FLASH_ATTN_TYPE_AUTO
    "type_k": (104, "<i", 1),            # GGML_TYPE_F16
    "type_v": (108, "<i", 1),
    "embeddings": (128, "<?", False),
}
GGML_TYPE_F32 = 0
FLASH_ATTN_DISABLED = 0
# llama_model_quantize_params (64 bytes): (offset, format, default)
QUANT_PARAMS_SIZE = 64
QUANT_FIELDS = {
    "ftype": (4, "<i", 7),               # LLAMA_FTYPE_MOSTLY_Q8_0
    "allow_requantize": (16, "<?", False),
    "quantize_output_tensor": (17, "<?", True),
    "pure": (19, "<?", False),
}
LLAMA_FTYPE_ALL_F32 = 0


def ensure_installed():
    """Installs the pinned package with `npm ci` when node_modules is absent.
    Returns None, or a message saying why llama.cpp is not available."""
    if os.environ.get("ATTRIB_LLAMACPP_LIB"):
        return None
    if glob.glob(os.path.join(BINS, "libllama*.so")):
        return None
    npm = subprocess.run(["sh", "-c", "command -v npm"], capture_output=True, text=True).stdout.strip()
    if not npm:
        return "npm is not installed (scripts/install-deps.sh installs it)"
    p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True)
    if p.returncode != 0:
        return "npm ci in %s failed: %s" % (HERE, (p.stderr or p.stdout).strip()[-500:])
    if not glob.glob(os.path.join(BINS, "libllama*.so")):
        return "npm ci succeeded but %s has no libllama" % BINS
    return None


class LlamaBatch(C.Structure):
    _fields_ = [("n_tokens", C.c_int32), ("token", C.POINTER(C.c_int32)),
                ("embd", C.POINTER(C.c_float)), ("pos", C.POINTER(C.c_int32)),
                ("n_seq_id", C.POINTER(C.c_int32)), ("seq_id", C.POINTER(C.POINTER(C.c_int32))),
                ("logits", C.POINTER(C.c_int8))]


class ChatMessage(C.Structure):
    _fields_ = [("role", C.c_char_p), ("content", C.c_char_p)]


class ModelParams(C.Structure):
    _fields_ = [("raw", C.c_uint64 * (MODEL_PARAMS_SIZE // 8))]


class CtxParams(C.Structure):
    _fields_ = [("raw", C.c_uint64 * (CTX_PARAMS_SIZE // 8))]


LOG_CB = C.CFUNCTYPE(None, C.c_int, C.c_char_p, C.c_void_p)


def _default_params(fn, size):
    """Calls a struct-returning default-params function with our own return
    buffer (the SysV ABI returns structs over 16 bytes through a hidden
    pointer in the first argument register), pre-filled with 0xAB so that the
    struct's true extent shows. Returns (bytes, index of the last byte written)."""
    fn.restype = C.c_void_p
    fn.argtypes = [C.c_void_p]
    buf = (C.c_ubyte * 512)(*([0xAB] * 512))
    fn(C.addressof(buf))
    raw = bytes(buf)
    last = max(i for i in range(512) if raw[i] != 0xAB)
    return raw[:size], last


class Llama:
    def __init__(self):
        libdir = os.environ.get("ATTRIB_LLAMACPP_LIB") or BINS
        self.libdir = libdir
        ggml_path = (glob.glob(os.path.join(libdir, "libggml.v*.so")) or
                     glob.glob(os.path.join(libdir, "libggml.so")))
        llama_path = (glob.glob(os.path.join(libdir, "libllama.v*.so")) or
                      glob.glob(os.path.join(libdir, "libllama.so")))
        if not ggml_path or not llama_path:
            raise RuntimeError("no libggml/libllama in %s (run npm ci in %s)" % (libdir, HERE))
        self.base = C.CDLL(os.path.join(libdir, "libggml-base.so"), mode=C.RTLD_GLOBAL)
        self.ggml = C.CDLL(ggml_path[0], mode=C.RTLD_GLOBAL)
        self.L = L = C.CDLL(llama_path[0])
        self._quiet = LOG_CB(self._log)
        self.verbose = bool(os.environ.get("ATTRIB_LLAMACPP_VERBOSE"))
        L.llama_log_set.argtypes = [LOG_CB, C.c_void_p]
        L.llama_log_set(self._quiet, None)
        self.base.ggml_log_set.argtypes = [LOG_CB, C.c_void_p]
        self.base.ggml_log_set(self._quiet, None)
        # the CPU backend: ggml picks the best variant, or the one asked for
        variant = os.environ.get("ATTRIB_LLAMACPP_CPU")
        if variant:
            self.ggml.ggml_backend_load.restype = C.c_void_p
            self.ggml.ggml_backend_load.argtypes = [C.c_char_p]
            so = os.path.join(libdir, "libggml-cpu-%s.so" % variant)
            if not self.ggml.ggml_backend_load(so.encode()):
                raise RuntimeError("cannot load CPU backend %s" % so)
        else:
            self.ggml.ggml_backend_load_all_from_path.argtypes = [C.c_char_p]
            self.ggml.ggml_backend_load_all_from_path(libdir.encode())
        L.llama_backend_init()
        self.cpu_variant = self._loaded_variant()
        mraw, mlast = _default_params(L.llama_model_default_params, MODEL_PARAMS_SIZE)
        craw, clast = _default_params(L.llama_context_default_params, CTX_PARAMS_SIZE)
        qraw, qlast = _default_params(L.llama_model_quantize_default_params, QUANT_PARAMS_SIZE)
        self.check_layout(mlast, craw, clast, qraw, qlast)
        self.model_defaults, self.ctx_defaults, self.quant_defaults = mraw, craw, qraw
        self._declare()
        self.models = {}     # path -> (model, vocab, n_vocab)
        self.ctxs = {}       # (path, key) -> ctx

    def _log(self, level, text, ud):
        if self.verbose and text:
            sys.stderr.write(text.decode("utf-8", "replace"))

    def _loaded_variant(self):
        try:
            with open("/proc/self/maps") as fh:
                names = {os.path.basename(line.split()[-1]) for line in fh if "libggml-cpu" in line}
            return ",".join(sorted(n[len("libggml-cpu-"):-3] for n in names)) or "none"
        except OSError:
            return "unknown"

    @staticmethod
    def check_layout(mlast, craw, clast, qraw, qlast):
        problems = []
        if not (QUANT_PARAMS_SIZE - 8 <= qlast < QUANT_PARAMS_SIZE):
            problems.append("llama_model_quantize_params: last byte written %d, expected a %d-byte "
                            "struct" % (qlast, QUANT_PARAMS_SIZE))
        for name, (off, fmt, want) in QUANT_FIELDS.items():
            got = struct.unpack_from(fmt, qraw, off)[0]
            if got != want:
                problems.append("llama_model_quantize_params.%s at %d is %r, default should be %r"
                                % (name, off, got, want))
        if not (MODEL_PARAMS_SIZE - 8 <= mlast < MODEL_PARAMS_SIZE):
            problems.append("llama_model_params: last byte written %d, expected a %d-byte struct"
                            % (mlast, MODEL_PARAMS_SIZE))
        if not (CTX_PARAMS_SIZE - 8 <= clast < CTX_PARAMS_SIZE):
            problems.append("llama_context_params: last byte written %d, expected a %d-byte struct"
                            % (clast, CTX_PARAMS_SIZE))
        for name, (off, fmt, want) in CTX_FIELDS.items():
            got = struct.unpack_from(fmt, craw, off)[0]
            if got != want:
                problems.append("llama_context_params.%s at %d is %r, default should be %r"
                                % (name, off, got, want))
        if problems:
            raise RuntimeError("this libllama's struct layout is not the one llamacpp_ref.py was "
                               "written for (llama.cpp v0.5.0): " + "; ".join(problems))

    def _declare(self):
        L = self.L
        vp, i32, cp = C.c_void_p, C.c_int32, C.c_char_p
        sig = {
            "llama_model_load_from_file": (vp, [cp, ModelParams]),
            "llama_init_from_model": (vp, [vp, CtxParams]),
            "llama_model_get_vocab": (vp, [vp]),
            "llama_vocab_n_tokens": (i32, [vp]),
            "llama_tokenize": (i32, [vp, cp, i32, C.POINTER(i32), i32, C.c_bool, C.c_bool]),
            "llama_get_memory": (vp, [vp]),
            "llama_memory_clear": (None, [vp, C.c_bool]),
            "llama_decode": (i32, [vp, LlamaBatch]),
            "llama_get_logits_ith": (C.POINTER(C.c_float), [vp, i32]),
            "llama_chat_apply_template": (i32, [cp, C.POINTER(ChatMessage), C.c_size_t, C.c_bool,
                                                cp, i32]),
            "llama_model_chat_template": (cp, [vp, cp]),
            "llama_set_n_threads": (None, [vp, i32, i32]),
            "llama_synchronize": (None, [vp]),
            "llama_free": (None, [vp]),
            "llama_model_free": (None, [vp]),
            "llama_version": (cp, []),
            "llama_model_quantize": (C.c_uint32, [cp, cp, vp]),
            "llama_chat_builtin_templates": (i32, [C.POINTER(cp), C.c_size_t]),
        }
        for name, (res, args) in sig.items():
            f = getattr(L, name)
            f.restype, f.argtypes = res, args

    # ----------------------------------------------------------------- model
    def model(self, path):
        if path not in self.models:
            mp = ModelParams()
            C.memmove(C.addressof(mp), self.model_defaults, MODEL_PARAMS_SIZE)
            m = self.L.llama_model_load_from_file(path.encode(), mp)
            if not m:
                raise RuntimeError("llama.cpp cannot load %s" % path)
            vocab = self.L.llama_model_get_vocab(m)
            self.models[path] = (m, vocab, self.L.llama_vocab_n_tokens(vocab))
        return self.models[path]

    def context(self, path, n_ctx, threads, n_seq=1, defaults=False):
        """A context for PATH holding at least n_ctx tokens per sequence.
        Contexts are kept per (model, settings); the cache is cleared per use."""
        n_ctx = max(512, -(-n_ctx // 256) * 256)
        key = (path, n_ctx, n_seq, defaults)
        if key not in self.ctxs:
            # keep one context per model alive at a time (memory)
            for k in [k for k in self.ctxs if k[0] == path]:
                self.L.llama_free(self.ctxs.pop(k))
            raw = bytearray(self.ctx_defaults)
            total = n_ctx * n_seq

            def put(name, v):
                off, fmt, _ = CTX_FIELDS[name]
                struct.pack_into(fmt, raw, off, v)
            put("n_ctx", total)
            put("n_seq_max", n_seq)
            if not defaults:
                put("n_batch", total)
                put("n_ubatch", total)
                put("type_k", GGML_TYPE_F32)
                put("type_v", GGML_TYPE_F32)
                put("flash_attn_type", FLASH_ATTN_DISABLED)
            else:
                put("n_batch", max(total, 2048))
            cparams = CtxParams()
            C.memmove(C.addressof(cparams), bytes(raw), CTX_PARAMS_SIZE)
            ctx = self.L.llama_init_from_model(self.model(path)[0], cparams)
            if not ctx:
                raise RuntimeError("llama_init_from_model failed for %s" % path)
            self.ctxs[key] = ctx
        ctx = self.ctxs[key]
        if threads is None:
            threads = 4  # the library's default (GGML_DEFAULT_N_THREADS)
        self.L.llama_set_n_threads(ctx, threads, threads)
        self.L.llama_memory_clear(self.L.llama_get_memory(ctx), True)
        return ctx

    def _decode(self, ctx, seqs, start_pos, want_all):
        """One llama_decode of several sequences (lists of ids, seq ids 0..),
        positions from start_pos; logits for every token or each sequence's last."""
        n = sum(len(s) for s in seqs)
        tok = (C.c_int32 * n)()
        pos = (C.c_int32 * n)()
        nseq = (C.c_int32 * n)()
        sid_store = [(C.c_int32 * 1)(b) for b in range(len(seqs))]
        sid = (C.POINTER(C.c_int32) * n)()
        out = (C.c_int8 * n)()
        k = 0
        for b, s in enumerate(seqs):
            for j, t in enumerate(s):
                tok[k], pos[k], nseq[k] = int(t), start_pos + j, 1
                sid[k] = C.cast(sid_store[b], C.POINTER(C.c_int32))
                out[k] = 1 if (want_all or j == len(s) - 1) else 0
                k += 1
        batch = LlamaBatch(n, tok, None, pos, nseq, sid, out)
        rc = self.L.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError("llama_decode returned %d" % rc)
        return n

    def _row(self, ctx, i, V):
        p = self.L.llama_get_logits_ith(ctx, i)
        if not p:
            raise RuntimeError("no logits at batch index %d" % i)
        return (C.c_float * V).from_address(C.addressof(p.contents))

    # -------------------------------------------------------------- requests
    def op_info(self, req):
        return {"llama_version": self.L.llama_version().decode(), "package": PKG + "@3.22.1",
                "llama_cpp_release": "v0.5.0", "cpu_backend": self.cpu_variant,
                "libdir": self.libdir}

    def op_tokenize(self, req):
        _, vocab, _ = self.model(req["model"])
        add = bool(req.get("add_special", True))
        parse = bool(req.get("parse_special", False))

        def tok(text):
            b = text.encode("utf-8")
            cap = len(b) + 8
            buf = (C.c_int32 * cap)()
            n = self.L.llama_tokenize(vocab, b, len(b), buf, cap, add, parse)
            if n < 0:
                cap = -n
                buf = (C.c_int32 * cap)()
                n = self.L.llama_tokenize(vocab, b, len(b), buf, cap, add, parse)
                if n < 0:
                    raise RuntimeError("llama_tokenize failed (%d)" % n)
            return list(buf[:n])
        if "texts" in req:
            return {"ids": [tok(t) for t in req["texts"]]}
        return {"ids": tok(req["text"])}

    def op_logits(self, req):
        path, ids = req["model"], req["ids"]
        V = self.model(path)[2]
        want_all = bool(req.get("all", False))
        ctx = self.context(path, len(ids), req.get("threads", 2))
        self._decode(ctx, [ids], 0, want_all)
        rows = range(len(ids)) if want_all else [len(ids) - 1]
        vals = [list(self._row(ctx, i, V)) for i in rows]
        res = {"n_vocab": V, "n": len(vals)}
        if req.get("out"):
            with open(req["out"], "wb") as fh:
                for v in vals:
                    fh.write(struct.pack("<%df" % V, *v))
        else:
            res["logits"] = vals if want_all else vals[0]
        return res

    def op_generate(self, req):
        path, ids, n = req["model"], list(req["ids"]), int(req.get("n", 16))
        V = self.model(path)[2]
        ctx = self.context(path, len(ids) + n, req.get("threads", 2))
        self._decode(ctx, [ids], 0, False)
        out, gaps = [], []
        last = len(ids) - 1
        for step in range(n):
            row = self._row(ctx, last if step == 0 else 0, V)
            vals = list(row)
            best = max(range(V), key=vals.__getitem__)
            second = max((vals[i] for i in range(V) if i != best), default=vals[best])
            out.append(best)
            gaps.append(vals[best] - second)
            if step + 1 < n:
                self._decode(ctx, [[best]], len(ids) + step, True)
        return {"ids": out, "gap": gaps}

    def op_chat_template(self, req):
        m = self.model(req["model"])[0]
        name = req.get("name")
        t = self.L.llama_model_chat_template(m, name.encode() if name else None)
        return {"template": t.decode("utf-8") if t else None}

    def op_chat_builtins(self, req):
        n = self.L.llama_chat_builtin_templates(None, 0)
        arr = (C.c_char_p * max(1, n))()
        n = self.L.llama_chat_builtin_templates(arr, n)
        return {"names": [arr[i].decode() for i in range(n)]}

    def op_chat(self, req):
        tmpl = req.get("template")
        if tmpl is None:
            if not req.get("model"):
                raise RuntimeError("chat needs \"template\" or \"model\"")
            tmpl = self.op_chat_template(req)["template"]
            if tmpl is None:
                raise RuntimeError("%s has no tokenizer.chat_template" % req["model"])
        msgs = req["messages"]
        keep = [(m["role"].encode(), m["content"].encode()) for m in msgs]
        arr = (ChatMessage * max(1, len(keep)))(*[ChatMessage(r, c) for r, c in keep])
        add = bool(req.get("add_assistant", True))
        t = tmpl.encode()
        size = 1024 + 2 * sum(len(c) + len(r) for r, c in keep)
        for _ in range(2):
            buf = C.create_string_buffer(size)
            n = self.L.llama_chat_apply_template(t, arr, len(keep), add, buf, size)
            if n < 0:
                raise RuntimeError("llama_chat_apply_template: template not supported by llama.cpp")
            if n <= size:
                return {"text": buf.raw[:n].decode("utf-8")}
            size = n + 1
        raise RuntimeError("llama_chat_apply_template: output size changed")

    def op_dequantize(self, req):
        """llama_model_quantize to ALL_F32 with requantising allowed: every
        quantised tensor is expanded with ggml's own dequantiser."""
        raw = bytearray(self.quant_defaults)
        for name, v in (("ftype", LLAMA_FTYPE_ALL_F32), ("allow_requantize", True),
                        ("pure", True)):
            off, fmt, _ = QUANT_FIELDS[name]
            struct.pack_into(fmt, raw, off, v)
        buf = (C.c_ubyte * QUANT_PARAMS_SIZE).from_buffer_copy(bytes(raw))
        rc = self.L.llama_model_quantize(req["model"].encode(), req["out"].encode(),
                                         C.addressof(buf))
        if rc != 0:
            raise RuntimeError("llama_model_quantize returned %d" % rc)
        return {"out": req["out"]}

    def op_bench(self, req):
        path, batch = req["model"], req["batch"]
        T = max(len(s) for s in batch)
        defaults = bool(req.get("defaults", False))
        threads = req.get("threads")
        ctx = self.context(path, T, threads, n_seq=len(batch), defaults=defaults)
        times = []
        for _ in range(int(req.get("reps", 3))):
            self.L.llama_memory_clear(self.L.llama_get_memory(ctx), True)
            t0 = time.perf_counter()
            self._decode(ctx, batch, 0, False)
            self.L.llama_synchronize(ctx)
            times.append(time.perf_counter() - t0)
        return {"seconds": times, "tokens": sum(len(s) for s in batch)}

    def handle(self, req):
        try:
            fn = getattr(self, "op_" + str(req.get("op")), None)
            if fn is None:
                return {"error": "unknown op %r" % req.get("op")}
            return fn(req)
        except Exception as e:  # one bad request does not end the process
            return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    # llama.cpp and ggml must not write to our stdout: answers go to a
    # private copy of it, and file descriptor 1 becomes standard error.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    msg = ensure_installed()
    if msg:
        out.write(json.dumps({"error": "llama.cpp not available: " + msg}) + "\n")
        out.flush()
        sys.exit(3)
    llama = Llama()
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as fh:
            req = json.load(fh)
        res = [llama.handle(r) for r in req] if isinstance(req, list) else llama.handle(req)
        out.write(json.dumps(res) + "\n")
        out.flush()
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError as e:
            res = {"error": "bad JSON: %s" % e}
        else:
            res = llama.handle(req)
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
