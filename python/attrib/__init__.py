"""attrib: which input tokens made a local language model say this?

A Python binding (ctypes) over libattrib, the C library of the attrib
project. No build step beyond the C library; numpy is the only dependency
(pandas optional, for to_pandas()). See docs/python.md.

    import attrib
    with attrib.Model("stories260K-f32.gguf", threads=2) as m:
        a = m.explain("Once upon a time there was a little girl named", method="ig")
        print(a.scores, a.completeness_delta)
"""
from ._capi import lib as _lib
from ._capi import path as library_path
from .compare import CommandError, Comparison
from .continuation import Continuation, explain_continuation
from .errors import AttribError, Status
from .explain import METHODS
from .inside import Attention, LayerAttribution, LogitParts
from .model import Model, ModelInfo, Token
from .probe import Probe, ProbeReport, load_dataset
from .result import Attribution, Cost, Explanation

__version__ = "0.1.0"


def library_version():
    """Version of the libattrib actually loaded (ATTRIB_VERSION_STRING)."""
    return _lib.attrib_version().decode()


class _Method:
    """Captum-style wrapper: Method(model).attribute(text, target=..., **options)."""
    method = None

    def __init__(self, model):
        self.model = model

    def attribute(self, inputs, target=None, **options):
        return self.model.explain(inputs, self.method, target=target, **options)


class Saliency(_Method):
    """captum.attr.Saliency: |gradient| per token (L2 norm over the embedding; norm="l1")."""
    method = "saliency"


class InputXGradient(_Method):
    """captum.attr.InputXGradient: gradient . embedding per token."""
    method = "gxi"


class IntegratedGradients(_Method):
    """captum.attr.(Layer)IntegratedGradients on the embeddings: n_steps, baselines (a text), rule."""
    method = "ig"


class NoiseTunnel(_Method):
    """captum.attr.NoiseTunnel(Saliency) with nt_type="smoothgrad": samples (nt_samples), noise (stdevs)."""
    method = "smoothgrad"


class Occlusion(_Method):
    """captum.attr.Occlusion / FeatureAblation over tokens: window, stride, mask."""
    method = "occlusion"


FeatureAblation = Occlusion


class ShapleyValueSampling(_Method):
    """captum.attr.ShapleyValueSampling: samples permutations (antithetic pairs)."""
    method = "shapley"


class ShapleyValues(_Method):
    """captum.attr.ShapleyValues: every coalition (at most max_exact features)."""
    method = "shapley-exact"


class KernelShap(_Method):
    """captum.attr.KernelShap: samples coalitions."""
    method = "kernelshap"


class Lime(_Method):
    """captum.attr.Lime: samples coalitions, exponential kernel (width 0.25)."""
    method = "lime"


__all__ = ["Model", "ModelInfo", "Token", "Attribution", "Explanation", "Cost", "Continuation", "explain_continuation", "Attention", "LogitParts",
           "LayerAttribution", "Probe", "ProbeReport", "Comparison",
           "AttribError", "CommandError", "Status", "METHODS", "load_dataset", "library_path", "library_version",
           "Saliency", "InputXGradient", "IntegratedGradients", "NoiseTunnel", "Occlusion", "FeatureAblation",
           "ShapleyValueSampling", "ShapleyValues", "KernelShap", "Lime"]
