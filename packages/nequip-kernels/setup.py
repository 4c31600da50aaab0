"""Builds the operator library ``nequip/kernels/_ops*.so`` against the installed torch (see pyproject.toml).

It is a plain shared library that registers torch operators (loaded with
``torch.ops.load_library``, not imported), linked to torch's C++ libraries only, so that
programs without Python (LAMMPS with an exported model) can load it as well. It finds those
libraries already loaded: Python imports torch first, the LAMMPS plugin links them.
"""

import sys

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

# at::parallel_for is OpenMP in torch's Linux wheels; it runs serially unless compiled with it
openmp = ["-fopenmp"] if sys.platform.startswith("linux") else []

operators = CppExtension(
    "nequip.kernels._ops",
    ["csrc/tensor_product_scatter.cpp"],
    extra_compile_args=["-O3", *openmp],
    extra_link_args=openmp,
)
operators.libraries = [name for name in operators.libraries if name != "torch_python"]

setup(ext_modules=[operators], cmdclass={"build_ext": BuildExtension})
