"""fastopt.optim.LBFGS: convergence on Rosenbrock and least squares, and the same iterates as
torch.optim.LBFGS on the same closures (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import fastopt.optim as O


def _torch():
    return pytest.importorskip("torch")


def rosenbrock(x):
    """Generalised Rosenbrock in n dimensions: value and gradient."""
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * (b - a * a) - 2.0 * (1 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


def rosenbrock_torch(x):
    a, b = x[:-1], x[1:]
    return (100.0 * (b - a * a) ** 2 + (1 - a) ** 2).sum()


def _least_squares(rng, m=40, n=12, dtype=np.float64):
    A = rng.standard_normal((m, n)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    return A, b


def _run_ours(x0_parts, fg, steps, **kw):
    """LBFGS over the param list x0_parts (copies); fg(flat x) -> (f, flat g).
    Returns (params, points where the closure was evaluated, optimizer)."""
    ps = [p.copy() for p in x0_parts]
    opt = O.LBFGS(ps, **kw)
    points = []

    def closure():
        x = np.concatenate([p.ravel() for p in ps])
        points.append(x.copy())
        f, g = fg(x)
        out, k = [], 0
        for p in ps:
            out.append(g[k:k + p.size].reshape(p.shape))
            k += p.size
        return f, out

    losses = [opt.step(closure) for _ in range(steps)]
    return ps, points, opt, losses


def _run_torch(x0_parts, f_torch, steps, **kw):
    torch = _torch()
    ps = [torch.tensor(p.copy(), requires_grad=True) for p in x0_parts]
    opt = torch.optim.LBFGS(ps, **kw)
    points = []

    def closure():
        opt.zero_grad()
        x = torch.cat([p.reshape(-1) for p in ps])
        points.append(x.detach().numpy().copy())
        loss = f_torch(x)
        loss.backward()
        return loss.detach()

    losses = [float(opt.step(closure)) for _ in range(steps)]
    return [p.detach().numpy() for p in ps], points, opt, losses


LINE_SEARCH = [None, "strong_wolfe"]


@pytest.mark.parametrize("line_search_fn", LINE_SEARCH)
def test_rosenbrock_same_iterates_as_torch(line_search_fn):
    x0 = [np.array([-1.2, 1.0, -0.5]), np.array([[0.8, 1.3]])]
    kw = dict(lr=1.0 if line_search_fn else 0.05, max_iter=25, history_size=10, line_search_fn=line_search_fn)
    ps, pts, opt, losses = _run_ours(x0, rosenbrock, 8, **kw)
    tps, tpts, topt, tlosses = _run_torch(x0, rosenbrock_torch, 8, **kw)
    assert len(pts) == len(tpts)
    for k, (a, b) in enumerate(zip(pts, tpts)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, err_msg=f"evaluation {k}")
    np.testing.assert_allclose(losses, tlosses, rtol=1e-6, atol=1e-12)
    st, tst = opt.state[ps[0]], topt.state[topt.param_groups[0]["params"][0]]
    assert st["func_evals"] == tst["func_evals"] and st["n_iter"] == tst["n_iter"]
    assert len(st["old_dirs"]) == len(tst["old_dirs"])


def test_rosenbrock_converges():
    x0 = [np.full(6, -1.0)]
    ps, pts, opt, _ = _run_ours(x0, rosenbrock, 10, lr=1.0, max_iter=100, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-16)
    np.testing.assert_allclose(ps[0], np.ones(6), atol=1e-7)
    assert rosenbrock(ps[0])[0] < 1e-14


@pytest.mark.parametrize("line_search_fn", LINE_SEARCH)
@pytest.mark.parametrize("history_size", [3, 100])
def test_least_squares_same_as_torch_and_converges(line_search_fn, history_size, rng):
    torch = _torch()
    A, b = _least_squares(rng)
    At, bt = torch.tensor(A), torch.tensor(b)

    def fg(x):
        r = A @ x - b
        return 0.5 * float(r @ r), A.T @ r

    def ft(x):
        r = At @ x - bt
        return 0.5 * (r * r).sum()

    x0 = [np.zeros(5), np.zeros((7,))]
    kw = dict(lr=1.0, max_iter=30, history_size=history_size, line_search_fn=line_search_fn,
              tolerance_grad=1e-10, tolerance_change=1e-14)
    ps, pts, opt, _ = _run_ours(x0, fg, 3, **kw)
    tps, tpts, topt, _ = _run_torch(x0, ft, 3, **kw)
    assert len(pts) == len(tpts)
    for k, (p, q) in enumerate(zip(pts, tpts)):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-9, err_msg=f"evaluation {k}")
    x = np.concatenate([p.ravel() for p in ps])
    sol = np.linalg.lstsq(A, b, rcond=None)[0]
    np.testing.assert_allclose(x, sol, rtol=1e-6, atol=1e-8)


def test_least_squares_float32_converges(rng):
    A, b = _least_squares(rng, dtype=np.float32)

    def fg(x):
        r = A @ x - b
        return 0.5 * float(r @ r), (A.T @ r).astype(np.float32)

    ps, _, _, _ = _run_ours([np.zeros(12, np.float32)], fg, 5, lr=1.0, max_iter=50, line_search_fn="strong_wolfe")
    sol = np.linalg.lstsq(A.astype(np.float64), b.astype(np.float64), rcond=None)[0]
    assert ps[0].dtype == np.float32
    np.testing.assert_allclose(ps[0], sol, rtol=1e-3, atol=1e-4)


def test_stopping_rules_like_torch():
    """tolerance_grad stops at once at a minimum; max_eval caps the evaluations per step."""
    torch = _torch()
    ps, pts, opt, losses = _run_ours([np.ones(4)], rosenbrock, 1)
    assert len(pts) == 1 and losses == [0.0]
    x0 = [np.array([-1.2, 1.0])]
    for kw in [dict(max_iter=50, max_eval=7), dict(max_iter=4), dict(max_iter=50, tolerance_change=1e-2),
               dict(max_iter=50, tolerance_grad=1.0, line_search_fn="strong_wolfe")]:
        kw.setdefault("lr", 0.01 if "line_search_fn" not in kw else 1.0)
        _, pts, opt, _ = _run_ours(x0, rosenbrock, 1, **kw)
        _, tpts, topt, _ = _run_torch(x0, rosenbrock_torch, 1, **kw)
        assert len(pts) == len(tpts), kw
        assert opt.state[opt.param_groups[0]["params"][0]]["n_iter"] == topt.state[topt.param_groups[0]["params"][0]]["n_iter"]
    assert torch is not None


@pytest.mark.parametrize("via_file", [False, True], ids=["memory", "npz"])
def test_state_dict_round_trip_continues_identically(via_file, tmp_path):
    x0 = [np.array([-1.2, 1.0, 0.3])]
    ps = [x0[0].copy()]
    opt = O.LBFGS(ps, lr=1.0, max_iter=5, line_search_fn="strong_wolfe")
    closure = lambda: rosenbrock(ps[0])  # noqa: E731
    opt.step(closure)
    sd = opt.state_dict()
    if via_file:
        O.save_state_dict(tmp_path / "lbfgs.npz", sd)
        sd = O.load_state_dict_file(tmp_path / "lbfgs.npz")
        assert len(sd["state"][0]["old_dirs"]) > 0
    x1 = ps[0].copy()
    qs = [ps[0].copy()]
    opt2 = O.LBFGS(qs, lr=1.0, max_iter=5, line_search_fn="strong_wolfe")
    opt2.load_state_dict(sd)
    opt.step(closure)
    opt2.step(lambda: rosenbrock(qs[0]))
    np.testing.assert_array_equal(ps[0], qs[0])
    assert not np.array_equal(ps[0], x1)
    # the history matters: a fresh optimizer from the same point takes another path
    rs = [x1.copy()]
    fresh = O.LBFGS(rs, lr=1.0, max_iter=5, line_search_fn="strong_wolfe")
    fresh.step(lambda: rosenbrock(rs[0]))
    assert not np.allclose(rs[0], ps[0], rtol=1e-9, atol=0)


def test_errors():
    with pytest.raises(ValueError, match="per-parameter options"):
        O.LBFGS([{"params": [np.zeros(2)]}, {"params": [np.zeros(2)]}])
    with pytest.raises(ValueError, match="only 'strong_wolfe'"):
        O.LBFGS([np.zeros(2)], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="Invalid learning rate"):
        O.LBFGS([np.zeros(2)], lr=-1.0)
    opt = O.LBFGS([np.zeros(2)])
    with pytest.raises(ValueError, match="shape"):
        opt.step(lambda: (0.0, [np.zeros(3)]))
