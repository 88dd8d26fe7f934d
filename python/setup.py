"""The attrib Python package: pure Python (ctypes) over libattrib.

No pyproject.toml on purpose: with Debian bookworm's pip (23.0) a
setup.py-only project installs through the Debian-packaged setuptools and
wheel, offline (`pip install ./python`); a pyproject.toml would make pip
fetch setuptools into an isolated build environment, which needs the
network (there, add --no-build-isolation). See docs/python.md.
"""
from setuptools import setup

setup(
    name="attrib",
    version="0.1.0",
    description="Token attributions for local language models: a ctypes binding over libattrib",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=["attrib"],
    package_data={"attrib": ["libattrib.so*"]},  # a copy of the library placed beside the package, if any
    python_requires=">=3.9",
    install_requires=["numpy"],
    extras_require={"pandas": ["pandas"]},
)
