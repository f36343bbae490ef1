"""Sphinx configuration of fastopt's documentation site (built by CI with warnings as errors:
``sphinx-build -W --keep-going -b html docs <dir>``)."""

from __future__ import annotations

import importlib.util

project = "fastopt"
author = "the fastopt authors"
copyright = "the fastopt authors"

import fastopt  # noqa: E402  (the installed package is what is documented)

release = version = fastopt.__version__

extensions = [
    "myst_parser",  # the pages are Markdown
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpydoc-style sections in the docstrings
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# fastopt.torch is documented without torch installed too (its classes subclass torch.optim's).
if importlib.util.find_spec("torch") is None:
    autodoc_mock_imports = ["torch"]

html_theme = "alabaster"
html_title = f"fastopt {release}"
add_module_names = False
