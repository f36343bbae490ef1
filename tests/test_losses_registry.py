"""The losses family across the layers, as test_registry.py does for the activations: every
public loss/softmax/dropout function is bound in _core, has a reference twin with the same
signature (minus ``out``), docstrings, a top-level export and a stub."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import fastopt
from fastopt import _core, functional, reference
from fastopt.functional import _losses

NAMES = list(_losses.__all__)


def test_names_unique_and_registered():
    """The public loss functions are exactly the registry's softmax, loss and dropout rows."""
    assert len(NAMES) == len(set(NAMES))
    assert set(NAMES) == {n for n, family in _core.kernels() if family in ("softmax", "loss", "dropout")}


@pytest.mark.parametrize("name", NAMES)
def test_every_layer(name):
    assert callable(getattr(_core, name, None)), f"_core.{name} missing"
    assert callable(getattr(reference, name, None)), f"fastopt.reference.{name} missing"
    assert getattr(fastopt, name) is getattr(functional, name)
    assert name in fastopt.__all__ and name in reference.__all__ and name in dir(fastopt)
    assert (getattr(functional, name).__doc__ or "").strip()
    assert (getattr(reference, name).__doc__ or "").strip()


@pytest.mark.parametrize("name", NAMES)
def test_signatures_match(name):
    fparams = list(inspect.signature(getattr(functional, name)).parameters.values())
    assert fparams[-1].name == "out" and fparams[-1].default is None
    rparams = list(inspect.signature(getattr(reference, name)).parameters.values())
    fparams = fparams[:-1]
    assert [(p.name, p.default, p.kind) for p in fparams] == [(p.name, p.default, p.kind) for p in rparams]


def test_stub_lists_every_function():
    stub = Path(fastopt.__file__).with_name("_core.pyi")
    if not stub.exists():
        pytest.skip("no _core.pyi next to the package")
    text = stub.read_text()
    assert not [n for n in NAMES if f"def {n}(" not in text]
