"""attrib_ref: an independent numpy/torch reference for attrib's tests.

It parses GGUF and safetensors files itself and implements the Llama-family
forward pass from the math; it shares no code with the C library.
"""
from .model import Model, load_model  # noqa: F401
