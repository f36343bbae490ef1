"""Runtime dispatch: info(), ``python -m fastopt info``, FASTOPT_ISA and the test-only switch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from fastopt import _core

KNOWN_ISAS = ("generic", "avx2", "avx512")


def run_python(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "FASTOPT_ISA"}
    full_env.update(env)
    return subprocess.run([sys.executable, *args], env=full_env, capture_output=True, text=True, timeout=120)


def test_info_keys_and_types():
    info = fastopt.info()
    expected = {
        "version": str,
        "isa": str,
        "isas_built": list,
        "isas_supported": list,
        "openmp": bool,
        "simd_pragmas": bool,
        "num_threads": int,
        "compiler": str,
        "flags": dict,
    }
    for key, typ in expected.items():
        assert key in info, key
        assert isinstance(info[key], typ), (key, info[key])
    assert info["version"] == fastopt.__version__
    assert info["isa"] in info["isas_supported"]
    assert set(info["isas_supported"]) <= set(info["isas_built"]) <= set(KNOWN_ISAS)
    assert info["isas_supported"][0] == "generic"
    # lowest first, in the canonical order
    order = [KNOWN_ISAS.index(i) for i in info["isas_supported"]]
    assert order == sorted(order)
    assert set(info["flags"]) == set(info["isas_built"])
    assert all(isinstance(v, str) for v in info["flags"].values())
    assert info["num_threads"] == fastopt.get_num_threads() >= 1


def test_default_isa_is_the_best_supported():
    r = run_python("-c", "import fastopt; print(fastopt.info()['isa'])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == fastopt.info()["isas_supported"][-1]


def test_python_m_fastopt_info():
    r = run_python("-m", "fastopt", "info")
    assert r.returncode == 0, r.stderr
    for key in ("version", "isa", "isas_supported", "openmp", "num_threads", "compiler"):
        assert key in r.stdout
    assert fastopt.__version__ in r.stdout


@pytest.mark.parametrize("isa", fastopt.info()["isas_supported"])
def test_env_forces_isa(isa):
    code = "import fastopt, numpy as np; print(fastopt.info()['isa']); print(fastopt.sigmoid(np.zeros(3)))"
    r = run_python("-c", code, FASTOPT_ISA=isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == isa


@pytest.mark.parametrize("bogus", ["bogus", "AVX2 ", "sse9"])
def test_env_unknown_isa_fails_clearly(bogus):
    r = run_python("-c", "import fastopt", FASTOPT_ISA=bogus)
    assert r.returncode != 0
    assert bogus.strip() in r.stderr or repr(bogus) in r.stderr
    assert "generic" in r.stderr  # names what is supported


def test_env_unsupported_isa_fails_clearly():
    lacking = [i for i in KNOWN_ISAS if i not in fastopt.info()["isas_supported"]]
    if not lacking:
        pytest.skip("this CPU and build support every ISA")
    r = run_python("-c", "import fastopt", FASTOPT_ISA=lacking[-1])
    assert r.returncode != 0
    assert lacking[-1] in r.stderr and "generic" in r.stderr


def test_set_isa_round_trip():
    before = _core._get_isa()
    try:
        for isa in fastopt.info()["isas_supported"]:
            _core._set_isa(isa)
            assert _core._get_isa() == isa
            assert fastopt.info()["isa"] == isa
            np.testing.assert_array_equal(fastopt.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
    finally:
        _core._set_isa(before)
    assert _core._get_isa() == before


@pytest.mark.parametrize("name", ["bogus", "", "AVX2", "sse2"])
def test_set_isa_unknown_name(name):
    before = _core._get_isa()
    with pytest.raises(ValueError):
        _core._set_isa(name)
    assert _core._get_isa() == before


def test_set_isa_unsupported():
    lacking = [i for i in KNOWN_ISAS if i not in fastopt.info()["isas_supported"]]
    if not lacking:
        pytest.skip("this CPU and build support every ISA")
    before = _core._get_isa()
    with pytest.raises(RuntimeError, match=lacking[-1]):
        _core._set_isa(lacking[-1])
    assert _core._get_isa() == before


def test_isas_agree():
    """Every ISA gives results within the float32 tolerance of each other (and relu exactly)."""
    x = np.linspace(-20, 20, 10007, dtype=np.float32)
    before = _core._get_isa()
    results = {}
    try:
        for isa in fastopt.info()["isas_supported"]:
            _core._set_isa(isa)
            results[isa] = (fastopt.relu(x), fastopt.sigmoid(x), fastopt.tanh(x))
    finally:
        _core._set_isa(before)
    base = results["generic"]
    for isa, r in results.items():
        np.testing.assert_array_equal(r[0], base[0])
        np.testing.assert_allclose(r[1], base[1], rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(r[2], base[2], rtol=1e-6, atol=1e-30)
