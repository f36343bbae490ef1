"""The benchmark runs (quick mode, tiny sizes) and its JSON has every column and family.

No timing is asserted: speed goals live in the bench output, not in tests."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from fastopt import bench

COLUMNS = {"kernel", "family", "size", "dtype", "threads", "fastopt_s", "numpy_s", "torch_s",
           "speedup_numpy", "speedup_torch", "bytes", "gbps", "ceiling", "ceiling_gbps",
           "roofline_fraction", "in_cache", "ceiling_gbps_samples", "fastopt_code", "numpy_code",
           "torch_code", "note"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastopt", "bench", "--quick", "--sizes", "2^15", "--repeat", "1",
         "--min-time", "0.05", "--json", str(path)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(path.read_text())


def test_json_shape(quick_run):
    stdout, data = quick_run
    assert set(data) == {"header", "cases"}
    header = data["header"]
    for key in ("cpu", "isa", "threads", "versions", "date"):
        assert key in header
    cases = data["cases"]
    assert {c["family"] for c in cases} == set(bench.FAMILIES)  # every family covered
    assert {c["kernel"] for c in cases} == set(bench.resolve_kernels(None))
    for c in cases:
        assert COLUMNS <= set(c), COLUMNS - set(c)
        assert c["fastopt_s"] > 0 and c["ceiling_gbps"] > 0 and c["gbps"] > 0
        assert c["ceiling"] in bench.CEILINGS
        for k in ("numpy_s", "torch_s"):
            assert c[k] is None or c[k] > 0
    assert "fastopt" in stdout.splitlines()[0] and "% roof" in stdout


def test_compare_and_plot(quick_run, tmp_path, capsys):
    _, data = quick_run
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    text = bench.format_comparison(data["cases"], data["cases"])
    assert "(1.00x)" in text and data["cases"][0]["kernel"] in text
    pytest.importorskip("matplotlib")
    out = tmp_path / "plot.png"
    bench.plot(data["cases"], data["header"], str(out))
    assert out.stat().st_size > 1000


def test_bad_arguments(capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["--kernels", "nope"])) == 2
    assert "unknown kernel" in capsys.readouterr().err
    assert bench.run(parser.parse_args(["--sizes", "0"])) == 2
    assert bench.run(parser.parse_args(["--compare", "/nonexistent.json"])) == 2


def test_resolve_kernels():
    assert bench.resolve_kernels("optimizers") == list(bench.FAMILIES["optimizers"][0])
    assert bench.resolve_kernels("sigmoid,adam") == ["sigmoid", "adam"]
    assert bench.parse_sizes("2^4,100,2**3") == [16, 100, 8]
