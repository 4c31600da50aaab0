"""Builds ``nequip.kernels._C`` against the installed torch (see pyproject.toml)."""

import sys

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

# at::parallel_for is OpenMP in torch's Linux wheels; it runs serially unless compiled with it
openmp = ["-fopenmp"] if sys.platform.startswith("linux") else []

setup(
    ext_modules=[
        CppExtension(
            "nequip.kernels._C",
            ["csrc/tensor_product_scatter.cpp"],
            extra_compile_args=["-O3", *openmp],
            extra_link_args=openmp,
        )
    ],
    cmdclass={"build_ext": BuildExtension},
)
