"""The benchmark runs (quick mode, tiny sizes) and its JSON has every column and family.

No timing is asserted: speed goals live in the bench output, not in tests."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from fastopt import bench
from fastopt.bench import _env

COLUMNS = {"kernel", "family", "size", "dtype", "threads", "fastopt_s", "numpy_s", "torch_s",
           "speedup_numpy", "speedup_torch", "bytes", "gbps", "ceiling", "ceiling_gbps",
           "ceiling_size", "ceiling_threads", "roofline_fraction", "in_cache",
           "ceiling_gbps_samples", "spread", "disturbed", "attempts", "fastopt_code", "numpy_code",
           "torch_code", "note"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The command line as a user runs it: no wait policy set, an OpenBLAS override set."""
    path = tmp_path_factory.mktemp("bench") / "quick.json"
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", _env.ARRANGED)}
    env["OPENBLAS_CORETYPE"] = "Haswell"
    proc = subprocess.run(
        [sys.executable, "-m", "fastopt", "bench", "--quick", "--sizes", "2^15", "--repeat", "1",
         "--min-time", "0.05", "--json", str(path)],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr, json.loads(path.read_text())


def test_environment_arranged(quick_run):
    """The bench ran itself again with the wait policy set and the OpenBLAS override unset,
    and its header says so."""
    stdout, _, data = quick_run
    header = data["header"]
    assert header["env"].get("GOMP_SPINCOUNT") == "1000" and "OPENBLAS_CORETYPE" not in header["env"]
    assert header["env_arranged"] == ["GOMP_SPINCOUNT=1000 set", "OPENBLAS_CORETYPE unset"]
    first = stdout.splitlines()[0]
    assert "GOMP_SPINCOUNT=1000 (set by the bench)" in first and "OPENBLAS_CORETYPE unset by the bench" in first


def test_progress_and_summary(quick_run):
    """With stderr not a terminal: the estimate up front and a line per family; the summary
    before the table, the roof explained there."""
    stdout, stderr, data = quick_run
    lines = stderr.splitlines()
    assert "roughly" in lines[0]
    for i, family in enumerate(bench.FAMILIES, 1):
        assert any(l.startswith(f"[{i}/{len(bench.FAMILIES)}] {family} at 2^15: ") for l in lines), stderr
    assert stdout.index("Summary") < stdout.index("The roof:") < stdout.index("% roof")
    for family in bench.FAMILIES:
        assert f"  {family} (" in stdout


def test_arranged_respects_the_users_choice():
    arranged = _env.arranged({"PATH": "/bin"})
    assert arranged["GOMP_SPINCOUNT"] == "1000" and arranged["PATH"] == "/bin"
    for mine in ({"GOMP_SPINCOUNT": "300000"}, {"OMP_WAIT_POLICY": "active"}):
        assert _env.arranged(mine) is None
    arranged = _env.arranged({"GOMP_SPINCOUNT": "5", "OPENBLAS_L2_SIZE": "1"})
    assert arranged["GOMP_SPINCOUNT"] == "5" and "OPENBLAS_L2_SIZE" not in arranged
    assert _env.changes(arranged) == ["OPENBLAS_L2_SIZE unset"]
    assert _env.arranged(arranged) is None  # once only: never a loop of re-executions


def _case(size: int = 1 << 10, ceiling: str = "copy") -> bench.Case:
    noop = lambda: None  # noqa: E731
    return bench.Case(name="relu", family="activations", size=size, dtype="float32",
                      bytes=2 * 4 * size, fastopt=noop, numpy=noop, torch=None, numpy_code="",
                      torch_code="", fastopt_code="", ceiling=ceiling, check=False)


def test_result_disturbed():
    case = _case()
    steady = {"fastopt": [1e-6] * 5, "numpy": [4e-6] * 5, "ceiling": [1e-6] * 5, "ceiling_1t": [2e-6] * 5}
    row = bench._result(case, steady, 2)
    assert not row["disturbed"] and row["speedup_numpy"] == pytest.approx(4)
    assert row["roofline_fraction"] == pytest.approx(1) and row["ceiling_threads"] == 2
    # the roof is the faster of the N-thread and 1-thread loops
    row = bench._result(case, dict(steady, ceiling=[4e-6] * 5), 2)
    assert row["ceiling_threads"] == 1 and row["roofline_fraction"] == pytest.approx(2)
    # one slow sample does not move the median: a result; half of them slow: disturbed
    assert not bench._result(case, dict(steady, numpy=[4e-6, 4e-6, 4e-5]), 2)["disturbed"]
    row = bench._result(case, dict(steady, numpy=[4e-6, 1e-5, 1e-5]), 2)
    assert row["disturbed"] == "numpy's median sample 2.5x its fastest"
    # only the loop that is the roof counts
    assert not bench._result(case, dict(steady, ceiling_1t=[2e-6, 9e-6, 9e-6]), 2)["disturbed"]
    # a kernel 4x faster than a plain loop over the same bytes: the loop was slowed
    row = bench._result(case, dict(steady, ceiling=[4e-6] * 5, ceiling_1t=[4e-6] * 5), 2)
    assert "of the roof" in row["disturbed"]


def test_disturbed_case_is_measured_again(monkeypatch):
    steady = {"fastopt": [1e-6] * 3, "numpy": [2e-6] * 3, "ceiling": [1e-6] * 3, "ceiling_1t": [1e-6] * 3}
    shaky = dict(steady, fastopt=[1e-6, 1e-5, 1e-5])
    attempts = []

    def fake_sample(fns, inner, rounds, repeat):
        attempts.append(1)
        return shaky if len(attempts) == 1 else steady
    monkeypatch.setattr(bench, "_sample", fake_sample)
    (row,) = bench.measure([_case()], 3, 1e-5, 2)
    assert row["attempts"] == 2 and not row["disturbed"] and row["fastopt_s"] == 1e-6
    attempts.clear()
    monkeypatch.setattr(bench, "_sample", lambda *a: shaky)
    (row,) = bench.measure([_case()], 3, 1e-5, 2)
    assert row["attempts"] == bench.ATTEMPTS and row["disturbed"]
    summary = bench.format_summary([row])
    assert "every case was disturbed" in summary and "Left out: 1 disturbed case" in summary
    assert "! relu" in bench.format_table([row])


def test_summary():
    rows = [dict(kernel=k, family="optimizers", size=1 << 20, dtype="float32", threads=2,
                 speedup_numpy=x, speedup_torch=None, roofline_fraction=f, disturbed=d)
            for k, x, f, d in (("adam", 8.0, 0.9, ""), ("sgd_momentum", 2.0, 0.5, ""),
                               ("lion", 4.0, 0.7, ""), ("lamb", 0.1, 0.1, "numpy samples varied 9x"))]
    text = bench.format_summary(rows)
    assert "vs NumPy 4.00x median, worst 2.00x (sgd_momentum 2^20)" in text
    assert "vs PyTorch: not measured" in text
    assert "70% of the bandwidth roof median, lowest 50% (sgd_momentum 2^20)" in text
    assert "lamb" not in text.split("Left out")[0]


def test_json_shape(quick_run):
    stdout, _, data = quick_run
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
        # the roof moves the same bytes as the kernel
        assert abs(c["ceiling_size"] * bench.CEILINGS[c["ceiling"]][0] * 4 - c["bytes"]) <= 8
    assert "fastopt" in stdout.splitlines()[0] and "% roof" in stdout


def test_compare_and_plot(quick_run, tmp_path, capsys):
    _, _, data = quick_run
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
