# Only here because cffi's build hook needs setup(); metadata is in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["bindings/python/pfw_build.py:ffi"])
