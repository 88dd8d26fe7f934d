"""The C API of libattrib as ctypes declarations, and where the library is found.

Every structure here mirrors one in include/attrib.h field by field; the
test python/tests/test_abi.py compiles a small C program against the header
and checks every size and offset, so a change to the header that is not
made here fails a test instead of corrupting memory.

The library is looked for, in order: the file named by ATTRIB_LIB; a
libattrib.so inside this package's directory or next to it; the build
directory named by ATTRIB_BUILD; the system's library path (libattrib.so.0,
as `cmake --install` puts it). ctypes.CDLL releases the GIL around every
call, so long computations in other threads go on while one thread is in C.
"""
import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_uint8,
                    c_uint32, c_uint64, c_void_p)

DTYPE_COUNT = 31  # ATTRIB_DTYPE_COUNT_

PROGRESS_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int64, c_int64)


class ModelOptions(Structure):
    _fields_ = [("n_threads", c_int), ("check_weights", c_int)]


class ModelInfoC(Structure):
    _fields_ = [
        ("path", c_char_p), ("format", c_int), ("arch", c_char_p), ("name", c_char_p),
        ("n_layer", c_int), ("n_embd", c_int), ("n_head", c_int), ("n_head_kv", c_int), ("head_dim", c_int),
        ("n_ff", c_int), ("n_vocab", c_int), ("n_ctx_train", c_int),
        ("rms_eps", c_float), ("rope_theta", c_float), ("rope_layout", c_int), ("rope_dim", c_int),
        ("has_rope_freqs", c_int), ("has_qkv_bias", c_int), ("tied_output", c_int),
        ("n_params", c_uint64), ("weight_bytes", c_uint64), ("dtype_counts", c_uint32 * DTYPE_COUNT),
        ("activation", c_char_p), ("has_qk_norm", c_int), ("has_post_norms", c_int),
        ("embed_scale", c_float), ("attn_scale", c_float), ("attn_softcap", c_float), ("final_softcap", c_float),
        ("sliding_window", c_int), ("n_windowed_layers", c_int), ("rope_theta_local", c_float),
    ]


class TokenC(Structure):
    _fields_ = [("id", c_int32), ("begin", c_uint32), ("end", c_uint32)]


class Target(Structure):
    _fields_ = [("kind", c_int), ("token", c_int32), ("token2", c_int32), ("probe", c_void_p)]


class ExplainOptions(Structure):
    _fields_ = [
        ("method", c_int), ("target", Target), ("span_begin", c_int), ("span_end", c_int), ("groups", POINTER(c_int32)),
        ("mask", c_int), ("mask_token", c_int32), ("baseline_ids", POINTER(c_int32)),
        ("norm", c_int), ("ig_steps", c_int), ("ig_rule", c_int), ("ig_tol", c_double), ("ig_max_steps", c_int),
        ("smooth_samples", c_int), ("smooth_noise", c_float),
        ("smooth_on_gxi", c_int), ("window", c_int), ("stride", c_int), ("samples", c_int),
        ("max_exact_features", c_int), ("lime_kernel_width", c_float), ("lime_ridge", c_float),
        ("seed", c_uint64), ("batch", c_int), ("memory_budget", c_size_t),
        ("progress", PROGRESS_FN), ("progress_user", c_void_p), ("layer_attribution", c_int), ("layer", c_int),
        ("prefix", c_void_p),
    ]


class ResultC(Structure):
    _fields_ = [
        ("method", c_int), ("n_tokens", c_int), ("n_features", c_int), ("feature_of_token", POINTER(c_int32)),
        ("scores", POINTER(c_double)), ("token_scores", POINTER(c_double)), ("std_errors", POINTER(c_double)),
        ("gradients", POINTER(c_float)), ("target_token", c_int32), ("target_token2", c_int32), ("target_kind", c_int),
        ("f_input", c_double), ("f_baseline", c_double), ("sum_scores", c_double), ("completeness_delta", c_double),
        ("completeness_relative", c_double), ("n_forward", c_int64), ("n_backward", c_int64), ("seconds", c_double),
        ("mask", c_int), ("mask_token", c_int32), ("ig_n_nodes", c_int), ("ig_nodes", POINTER(c_double)),
        ("ig_weights", POINTER(c_double)), ("ig_pieces", c_int), ("ig_cap_reached", c_int), ("ig_error_bound", c_double),
        ("layer", c_int), ("layer_values", POINTER(c_float)), ("prefix_len", c_int),
    ]


class MethodInfoC(Structure):
    _fields_ = [("method", c_int), ("name", c_char_p), ("title", c_char_p), ("summary", c_char_p), ("family", c_int),
                ("reads", ctypes.c_uint), ("samples_unit", c_char_p), ("default_samples", c_int)]


# attrib_method_info.reads: the options a method reads (ATTRIB_READS_* in include/attrib.h)
READS = {"MASK": 1 << 0, "BASELINE": 1 << 1, "NORM": 1 << 2, "IG": 1 << 3, "SMOOTH": 1 << 4, "NOISE": 1 << 5,
         "WINDOW": 1 << 6, "SAMPLES": 1 << 7, "MAX_EXACT": 1 << 8, "LIME": 1 << 9, "SEED": 1 << 10, "LAYER": 1 << 11}
FAMILY_GRADIENT, FAMILY_PERTURBATION = 0, 1


class Batch(Structure):
    _fields_ = [
        ("n_seq", c_int), ("n_tokens", c_int), ("tokens", POINTER(c_int32)), ("embeddings", POINTER(c_float)),
        ("positions", POINTER(c_int32)), ("key_mask", POINTER(c_uint8)), ("lengths", POINTER(c_int32)),
        ("cache_seq", POINTER(c_int32)), ("prefix_len", POINTER(c_int32)), ("store", c_int), ("logits_mode", c_int),
        ("hidden_layer", c_int), ("hidden_out", POINTER(c_float)),
    ]


class PromptC(Structure):
    _fields_ = [
        ("ids", POINTER(c_int32)), ("tokens", POINTER(TokenC)), ("n", c_int), ("span_begin", c_int), ("span_end", c_int),
        ("rendered", POINTER(ctypes.c_char)), ("rendered_len", c_size_t), ("input_begin", c_size_t), ("input_end", c_size_t),
    ]


class ProbeTrainOptions(Structure):
    _fields_ = [("n_l2", c_int), ("l2", c_double * 16), ("val_fraction", c_double), ("seed", c_uint64), ("max_iter", c_int)]


class ProbeReportC(Structure):
    _fields_ = [
        ("l2", c_double), ("n_train", c_int), ("n_val", c_int), ("train_accuracy", c_double), ("val_accuracy", c_double),
        ("train_auroc", c_double), ("val_auroc", c_double), ("val_confusion", (c_int * 2) * 2), ("iterations", c_int),
    ]


class ChatFamily(Structure):
    _fields_ = [("name", c_char_p), ("title", c_char_p), ("guard", c_int), ("system", c_int), ("trims", c_int),
                ("positive", c_char_p), ("negative", c_char_p)]


class DatasetOptions(Structure):
    _fields_ = [("text_col", c_char_p), ("label_col", c_char_p), ("positive", c_char_p), ("default_label", c_int),
                ("id_col", c_char_p), ("limit", c_int64), ("sample", c_int64), ("seed", c_uint64),
                ("shard_k", c_int), ("shard_n", c_int)]


class LogitPartsC(Structure):
    _fields_ = [
        ("n_layer", c_int), ("n_head", c_int), ("n_tokens", c_int), ("token", c_int32), ("token2", c_int32),
        ("logit", c_double), ("logit_capped", c_double), ("final_rms", c_double), ("embedding", c_double),
        ("attn", POINTER(c_double)), ("heads", POINTER(c_double)), ("head_sources", POINTER(c_double)),
        ("attn_bias", POINTER(c_double)), ("ffn", POINTER(c_double)), ("sum", c_double),
    ]


FAITH_MAX_POINTS = 257  # ATTRIB_FAITH_MAX_POINTS
FAITH_MAX_RANKINGS = 64  # ATTRIB_FAITH_MAX_RANKINGS


class FaithOptionsC(Structure):
    _fields_ = [("n_fractions", c_int), ("fractions", c_double * 8), ("curve_points", c_int),
                ("random_orders", c_int), ("seed", c_uint64)]


class FaithC(Structure):
    _fields_ = [
        ("f_full", c_double), ("f_empty", c_double), ("n_features", c_int), ("k", c_int * 8),
        ("comprehensiveness", c_double * 8), ("sufficiency", c_double * 8), ("comprehensiveness_aopc", c_double),
        ("sufficiency_aopc", c_double), ("n_points", c_int), ("counts", c_int * FAITH_MAX_POINTS),
        ("deletion", c_double * FAITH_MAX_POINTS), ("insertion", c_double * FAITH_MAX_POINTS),
        ("deletion_auc", c_double), ("insertion_auc", c_double), ("random_comprehensiveness_aopc", c_double),
        ("random_sufficiency_aopc", c_double), ("random_deletion_auc", c_double), ("random_insertion_auc", c_double),
        ("n_evaluations", c_int64),
    ]


# The structures test_abi.py checks against the header, by C name.
STRUCTS = {
    "attrib_model_options": ModelOptions, "attrib_model_info": ModelInfoC, "attrib_token": TokenC,
    "attrib_target": Target, "attrib_explain_options": ExplainOptions, "attrib_result": ResultC,
    "attrib_batch": Batch, "attrib_prompt": PromptC, "attrib_probe_train_options": ProbeTrainOptions,
    "attrib_probe_report": ProbeReportC, "attrib_chat_family": ChatFamily, "attrib_dataset_options": DatasetOptions,
    "attrib_method_info": MethodInfoC, "attrib_logit_parts": LogitPartsC,
    "attrib_faithfulness_options": FaithOptionsC, "attrib_faithfulness": FaithC,
}

_P = c_void_p  # opaque handles
_SIGNATURES = {
    "attrib_version": (c_char_p, []),
    "attrib_commit": (c_char_p, []),
    "attrib_status_name": (c_char_p, [c_int]),
    "attrib_last_error": (c_char_p, []),
    "attrib_free": (None, [c_void_p]),
    "attrib_model_default_options": (ModelOptions, []),
    "attrib_model_load": (c_int, [c_char_p, POINTER(ModelOptions), POINTER(_P)]),
    "attrib_model_free": (None, [_P]),
    "attrib_model_share": (c_int, [_P, POINTER(_P)]),
    "attrib_model_get_info": (POINTER(ModelInfoC), [_P]),
    "attrib_model_tokenizer": (_P, [_P]),
    "attrib_model_set_threads": (None, [_P, c_int]),
    "attrib_model_sha256": (c_char_p, [_P]),
    "attrib_model_set_compute": (None, [_P, c_int]),
    "attrib_model_get_compute": (c_int, [_P]),
    "attrib_forward": (c_int, [_P, POINTER(Batch), _P, POINTER(c_float)]),
    "attrib_tokenizer_bos": (c_int, [_P]),
    "attrib_tokenizer_n_vocab": (c_int, [_P]),
    "attrib_tokenizer_chat_template": (c_char_p, [_P]),
    "attrib_tokenizer_piece": (ctypes.POINTER(ctypes.c_char), [_P, c_int32, POINTER(c_size_t)]),
    "attrib_tokenize": (c_int, [_P, c_char_p, c_size_t, ctypes.c_uint, POINTER(POINTER(TokenC)), POINTER(c_size_t)]),
    "attrib_detokenize": (c_int, [_P, POINTER(c_int32), c_size_t, c_int, POINTER(POINTER(ctypes.c_char)), POINTER(c_size_t)]),
    "attrib_method_name": (c_char_p, [c_int]),
    "attrib_method_from_name": (c_int, [c_char_p]),
    "attrib_method_count": (c_int, []),
    "attrib_method_get_info": (POINTER(MethodInfoC), [c_int]),
    "attrib_mask_name": (c_char_p, [c_int]),
    "attrib_ig_rule_name": (c_char_p, [c_int]),
    "attrib_ig_rule_from_name": (c_int, [c_char_p]),
    "attrib_method_settings_json": (c_int, [POINTER(ExplainOptions), POINTER(ResultC), POINTER(POINTER(ctypes.c_char))]),
    "attrib_explain_default_options": (ExplainOptions, [c_int]),
    "attrib_default_mask_token": (c_int32, [_P]),
    "attrib_explain": (c_int, [_P, POINTER(c_int32), c_int, POINTER(ExplainOptions), POINTER(POINTER(ResultC))]),
    "attrib_result_free": (None, [POINTER(ResultC)]),
    "attrib_faithfulness_default_options": (FaithOptionsC, []),
    "attrib_faithfulness_eval_many": (c_int, [_P, POINTER(c_int32), c_int, POINTER(ExplainOptions), c_int,
                                              POINTER(POINTER(c_double)), c_int, POINTER(FaithOptionsC),
                                              POINTER(FaithC)]),
    "attrib_prefix_new": (c_int, [_P, POINTER(c_int32), c_int, POINTER(_P)]),
    "attrib_prefix_free": (None, [_P]),
    "attrib_attention": (c_int, [_P, POINTER(c_int32), c_int, POINTER(c_float)]),
    "attrib_attention_rollout": (c_int, [POINTER(c_float), c_int, c_int, c_int, POINTER(c_double)]),
    "attrib_logit_attribution": (c_int, [_P, POINTER(c_int32), c_int, c_int32, c_int32, POINTER(POINTER(LogitPartsC))]),
    "attrib_logit_parts_free": (None, [POINTER(LogitPartsC)]),
    "attrib_pool_from_name": (c_int, [c_char_p]),
    "attrib_pool_name": (c_char_p, [c_int]),
    "attrib_model_features": (c_int, [_P, POINTER(POINTER(c_int32)), POINTER(c_int), c_int, c_int, c_int, POINTER(c_float)]),
    "attrib_probe_default_train_options": (ProbeTrainOptions, []),
    "attrib_probe_train": (c_int, [_P, c_int, c_int, POINTER(c_float), POINTER(c_int), c_int, POINTER(ProbeTrainOptions),
                                   POINTER(_P), POINTER(ProbeReportC)]),
    "attrib_probe_free": (None, [_P]),
    "attrib_probe_save": (c_int, [_P, c_char_p, c_char_p]),
    "attrib_probe_load": (c_int, [c_char_p, POINTER(_P)]),
    "attrib_probe_check_model": (c_int, [_P, _P]),
    "attrib_probe_layer": (c_int, [_P]),
    "attrib_probe_pool": (c_int, [_P]),
    "attrib_probe_dim": (c_int, [_P]),
    "attrib_probe_model_sha256": (c_char_p, [_P]),
    "attrib_probe_get_report": (POINTER(ProbeReportC), [_P]),
    "attrib_probe_predict": (c_int, [_P, _P, POINTER(POINTER(c_int32)), POINTER(c_int), c_int, POINTER(c_double)]),
    "attrib_template_builtin": (c_char_p, [c_char_p]),
    "attrib_template_labels": (None, [c_char_p, POINTER(c_char_p), POINTER(c_char_p)]),
    "attrib_template_apply": (c_int, [_P, c_char_p, c_char_p, c_size_t, POINTER(POINTER(PromptC))]),
    "attrib_prompt_free": (None, [POINTER(PromptC)]),
    "attrib_template_label_token": (c_int, [_P, c_char_p, c_char_p, POINTER(c_int32)]),
    "attrib_chat_detect": (c_int, [c_char_p, POINTER(POINTER(ChatFamily))]),
    "attrib_chat_build": (c_int, [_P, POINTER(ChatFamily), c_char_p, c_char_p, ctypes.c_uint, POINTER(POINTER(ctypes.c_char))]),
    "attrib_dataset_default_options": (DatasetOptions, []),
    "attrib_dataset_load": (c_int, [c_char_p, POINTER(DatasetOptions), POINTER(_P)]),
    "attrib_dataset_free": (None, [_P]),
    "attrib_dataset_size": (c_int64, [_P]),
    "attrib_dataset_text": (ctypes.POINTER(ctypes.c_char), [_P, c_int64, POINTER(c_size_t)]),
    "attrib_dataset_label": (c_int, [_P, c_int64]),
}


def _candidates():
    env = os.environ.get("ATTRIB_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (here, os.path.dirname(here)):
        for name in ("libattrib.so", "libattrib.so.0", "libattrib.dylib"):
            yield os.path.join(d, name)
    build = os.environ.get("ATTRIB_BUILD")
    if build:
        yield os.path.join(build, "libattrib.so")
    for name in ("libattrib.so.0", "libattrib.so"):
        yield name  # the dynamic linker's search path
    found = ctypes.util.find_library("attrib")
    if found:
        yield found


def _load():
    tried = []
    for c in _candidates():
        if os.sep in c and not os.path.exists(c):
            tried.append(c)
            continue
        try:
            lib = ctypes.CDLL(c)
        except OSError as e:
            tried.append("%s (%s)" % (c, e))
            continue
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        lib._attrib_path = c
        return lib
    raise ImportError("attrib: cannot find libattrib (set ATTRIB_LIB to the path of libattrib.so, built by cmake; "
                      "tried: %s)" % "; ".join(tried))


lib = _load()


def path():
    """The file libattrib was loaded from."""
    return lib._attrib_path


def take_string(ptr, n):
    """Bytes of a library-owned (caller frees) char buffer, then frees it."""
    try:
        return ctypes.string_at(ptr, n)
    finally:
        lib.attrib_free(ptr)
