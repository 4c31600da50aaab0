"""Sphinx configuration of the nequip workspace documentation.

Build: ``uv run sphinx-build -W --keep-going -b html docs docs/_build/html``; the code
examples of the pages run with ``-b doctest`` (both are run by ``tests/test_docs.py``).
"""

project = "nequip workspace"
author = "the nequip workspace developers"
copyright = "2026, " + author

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "README.md"]
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "nequip workspace"
html_static_path = ["_static"]

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Only the {doctest} blocks of the pages are run by the doctest builder; docstring examples
# are run by the test suite with each module's globals (tests/test_docstring_examples.py).
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import torch
torch.set_num_threads(1)
"""

# Annotations that name a builtin (``Optional[type]``) resolve against documented attributes
# of the same name (``BaseModifier.type``) and are reported as ambiguous; they are builtins.
suppress_warnings = ["ref.python"]
