"""L-BFGS over NumPy arrays, with torch.optim.LBFGS's algorithm and options.

``step(closure)`` runs up to ``max_iter`` iterations; ``closure()`` evaluates the objective
at the current params and returns ``(loss, grads)`` (grads: one array per param, in order).
Per iteration:

1. direction: ``d = -g`` on the first iteration; afterwards the two-loop recursion over the
   last ``history_size`` pairs ``s = t*d`` (the step taken), ``y = g - g_prev``, a pair being
   kept only when ``y.s > 1e-10``, with the initial Hessian scale ``H0 = y.s / y.y`` of the
   newest pair;
2. step length: ``t = min(1, 1/sum|g|) * lr`` on the very first iteration, else ``lr``; stop
   if the directional derivative ``g.d > -tolerance_change``;
3. with ``line_search_fn=None``: ``x += t*d`` and one evaluation; with ``'strong_wolfe'``:
   a bracketing + zoom line search with cubic interpolation for the strong Wolfe conditions
   (``c1=1e-4``, ``c2=0.9``, at most 25 evaluations), then ``x += t*d``;
4. stop when ``max_iter`` iterations or ``max_eval`` evaluations are spent, when
   ``max|g| <= tolerance_grad``, when ``max|t*d| <= tolerance_change``, or when the loss
   changed by less than ``tolerance_change``.

The params are treated as one flat vector (concatenated in order) in the params' dtype;
the scalars (dot products, ``t``) are Python floats. The history carries over between
``step`` calls, as torch's state does. Only one param group, as torch.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .._hyper import check_lr
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clipped to ``bounds``
    (default: the interval between x1 and x2); the interval's midpoint when the cubic has no
    real minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc >= 0:
        d2 = math.sqrt(disc)
        if x1 <= x2:
            x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        else:
            x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        return min(max(x, lo), hi)
    return (lo + hi) / 2.0


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along ``d`` from the current point (loss ``f``, grad ``g``, slope ``gtd``)
    for a step ``t`` meeting the strong Wolfe conditions. ``evaluate(t)`` -> (loss, flat grad)
    at ``x + t*d``. Returns (loss, grad, t, evaluations)."""
    d_norm = float(np.max(np.abs(d)))
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    # bracketing phase: find an interval containing a point that satisfies the conditions
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: the cubic's minimiser within [t + 0.01 (t - t_prev), 10 t]
        lo, hi = t + 0.01 * (t - t_prev), t * 10.0
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(lo, hi))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
        bracket_gtd = [gtd, gtd_new]
    # zoom phase: shrink the bracket until a point satisfies the conditions
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        b_lo, b_hi = min(bracket), max(bracket)
        margin = 0.1 * (b_hi - b_lo)
        if min(b_hi - t, t - b_lo) < margin:
            # too close to an end: move away from it, unless the last try was fine
            if insufficient or t >= b_hi or t <= b_lo:
                t = b_hi - margin if abs(t - b_hi) < abs(t - b_lo) else b_lo + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new.copy(), gtd_new
    t = bracket[low] if len(bracket) > 1 else bracket[0]
    f_new = bracket_f[low] if len(bracket) > 1 else bracket_f[0]
    g_new = bracket_g[low] if len(bracket) > 1 else bracket_g[0]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """torch.optim.LBFGS over NumPy arrays: limited-memory BFGS with torch's algorithm and options.

    Each ``step(closure)`` runs up to ``max_iter`` iterations of: a direction from the two-loop
    recursion over the last ``history_size`` pairs ``(s, y)``, a step length (fixed, or a
    strong Wolfe line search), then the move; the algorithm is written out in the module
    docstring above. ``step(closure)`` returns the loss of the first evaluation, as torch's.

    Parameters
    ----------
    params : iterable of ndarray
        The arrays to optimize, updated in place: float32 or float64, all of one dtype; one
        param group only (as torch).
    lr : float, default 1
        The step length (the first iteration of the first step scales it by
        ``min(1, 1 / sum|g|)``).
    max_iter : int, default 20
        Iterations per ``step``.
    max_eval : int, optional
        Closure evaluations per ``step``; None: ``max_iter * 5 // 4``.
    tolerance_grad : float, default 1e-7
        Stop when ``max|g| <= tolerance_grad``.
    tolerance_change : float, default 1e-9
        Stop when the step ``max|t * d|`` or the change of the loss is below it.
    history_size : int, default 100
        How many ``(s, y)`` pairs the two-loop recursion keeps.
    line_search_fn : {None, 'strong_wolfe'}, default None
        None: a fixed step ``lr``; ``'strong_wolfe'``: a line search for the strong Wolfe
        conditions (``c1=1e-4``, ``c2=0.9``, at most 25 evaluations).

    Raises
    ------
    ValueError
        An lr out of range, an unknown ``line_search_fn``, or more than one param group.
    TypeError
        Params that are not float32/float64 or not all of one dtype.

    Notes
    -----
    The params are one flat vector in their dtype; dot products and ``t`` are Python floats.
    State (``state[params[0]]``): ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
    ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``; the history carries
    over between ``step`` calls.

    Examples
    --------
    The Rosenbrock function, from (-1.5, 2):

    >>> import numpy as np
    >>> from fastopt.optim import LBFGS
    >>> x = np.array([-1.5, 2.0])
    >>> opt = LBFGS([x], line_search_fn="strong_wolfe")
    >>> def closure():  # the loss and one grad per param
    ...     a, b = x
    ...     loss = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    ...     return loss, [np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])]
    >>> for _ in range(5):
    ...     loss = opt.step(closure)
    >>> x.round(3)
    array([1., 1.])
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        check_lr("", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError("only 'strong_wolfe' is supported")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        for p in self._params:
            if p.dtype not in (np.float32, np.float64):
                raise TypeError(f"LBFGS takes float32 or float64 params, got {p.dtype}")
        dts = {p.dtype for p in self._params}
        if len(dts) != 1:
            raise TypeError(f"LBFGS needs all params of one dtype, got {sorted(str(d) for d in dts)}")
        self._dtype = self._params[0].dtype

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ---------------------------------------------------------------------------- flat view

    def _flat(self, arrays) -> np.ndarray:
        if len(arrays) != len(self._params):
            raise ValueError(f"closure returned {len(arrays)} grads for {len(self._params)} params")
        parts = []
        for i, (a, p) in enumerate(zip(arrays, self._params)):
            a = np.asarray(a)
            if a.shape != p.shape:
                raise ValueError(f"closure's grads[{i}] has shape {a.shape}, the param has {p.shape}")
            parts.append(a.astype(self._dtype, copy=False).ravel())
        return np.concatenate(parts) if parts else np.zeros(0, self._dtype)

    def _get_x(self) -> np.ndarray:
        return np.concatenate([p.ravel() for p in self._params]).copy()

    def _set_x(self, x: np.ndarray) -> None:
        k = 0
        for p in self._params:
            p[...] = x[k:k + p.size].reshape(p.shape)
            k += p.size

    def _add_x(self, t: float, d: np.ndarray) -> None:
        k = 0
        for p in self._params:
            p[...] = p + self._dtype.type(t) * d[k:k + p.size].reshape(p.shape)
            k += p.size

    def _evaluate(self, closure):
        loss, grads = closure()
        if isinstance(grads, np.ndarray) and len(self._params) == 1:
            grads = [grads]
        return float(loss), self._flat(list(grads))

    # ---------------------------------------------------------------------------- step

    def step(self, closure: Callable[[], Any]):  # type: ignore[override]
        """Run up to ``max_iter`` iterations.

        Parameters
        ----------
        closure : callable
            ``closure()`` evaluates the objective at the current params and returns
            ``(loss, grads)``: a float and one array per param, in order.

        Returns
        -------
        float
            The loss of the first evaluation (at the params on entry), as torch's.
        """
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step needs a closure returning (loss, grads)")
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        loss, flat_grad = self._evaluate(closure)
        orig_loss = loss
        current_evals = 1
        state["func_evals"] += 1
        if float(np.max(np.abs(flat_grad), initial=0.0)) <= group["tolerance_grad"]:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs: List[np.ndarray] = state.get("old_dirs", [])
        old_stps: List[np.ndarray] = state.get("old_stps", [])
        ro: List[float] = state.get("ro", [])
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < group["max_iter"]:
            n_iter += 1
            state["n_iter"] += 1

            # 1. the direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                H_diag = self._remember(flat_grad - prev_flat_grad, d * self._dtype.type(t), old_dirs, old_stps,
                                        ro, H_diag, group["history_size"])
                d = self._two_loop(flat_grad, old_dirs, old_stps, ro, H_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # 2. the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * group["lr"]
            else:
                t = group["lr"]
            gtd = _dot(flat_grad, d)
            if gtd > -group["tolerance_change"]:
                break

            # 3. the move
            loss, flat_grad, t, ls_evals = self._move(closure, group, loss, flat_grad, t, d, gtd,
                                                      last=n_iter == group["max_iter"])
            current_evals += ls_evals
            state["func_evals"] += ls_evals

            # 4. the stopping rules
            if self._stop(group, n_iter, current_evals, flat_grad, ls_evals, d, t, loss, prev_loss):
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _remember(y, s, old_dirs, old_stps, ro, H_diag, history_size) -> float:
        """Keep the pair (y, s) when ``y.s > 1e-10`` (dropping the oldest beyond
        ``history_size``); return the initial Hessian scale ``y.s / y.y`` of the newest pair."""
        ys = _dot(y, s)
        if ys > 1e-10:
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            H_diag = ys / _dot(y, y)
        return H_diag

    def _two_loop(self, flat_grad, old_dirs, old_stps, ro, H_diag) -> np.ndarray:
        """The two-loop recursion: the quasi-Newton direction ``-H g`` over the kept pairs."""
        k = len(old_dirs)
        alpha = [0.0] * k
        q = -flat_grad
        for i in range(k - 1, -1, -1):
            alpha[i] = _dot(old_stps[i], q) * ro[i]
            q = q + self._dtype.type(-alpha[i]) * old_dirs[i]
        r = q * self._dtype.type(H_diag)
        for i in range(k):
            beta_i = _dot(old_dirs[i], r) * ro[i]
            r = r + self._dtype.type(alpha[i] - beta_i) * old_stps[i]
        return r

    def _move(self, closure, group, loss, flat_grad, t, d, gtd, last: bool):
        """``x += t*d``, with the strong Wolfe line search choosing ``t`` when asked for; then
        (unless this is the ``last`` iteration without a line search) the loss and grad there.
        Returns ``(loss, flat_grad, t, evaluations)``."""
        if group["line_search_fn"] is not None:
            x0 = self._get_x()

            def evaluate(step_t, x0=x0, d=d):
                self._add_x(step_t, d)
                out = self._evaluate(closure)
                self._set_x(x0)
                return out

            loss, flat_grad, t, ls_evals = _strong_wolfe(evaluate, t, d, loss, flat_grad, gtd)
            self._add_x(t, d)
            return loss, flat_grad, t, ls_evals
        self._add_x(t, d)
        if last:
            return loss, flat_grad, t, 0
        loss, flat_grad = self._evaluate(closure)
        return loss, flat_grad, t, 1

    def _stop(self, group, n_iter, current_evals, flat_grad, ls_evals, d, t, loss, prev_loss) -> bool:
        """torch's stopping rules after a move: iterations or evaluations spent, the grad small
        (when it was evaluated), the step or the change of the loss below ``tolerance_change``."""
        if n_iter == group["max_iter"] or current_evals >= group["max_eval"]:
            return True
        evaluated = group["line_search_fn"] is not None or ls_evals == 1
        if evaluated and float(np.max(np.abs(flat_grad))) <= group["tolerance_grad"]:
            return True
        if float(np.max(np.abs(d * self._dtype.type(t)))) <= group["tolerance_change"]:
            return True
        return abs(loss - prev_loss) < group["tolerance_change"]

    # ---------------------------------------------------------------------------- state_dict

    def state_dict(self) -> Dict[str, Any]:
        sd = super().state_dict()
        for st in sd["state"].values():
            for k in ("old_dirs", "old_stps"):
                if k in st:
                    st[k] = [a.copy() for a in st[k]]
            if "ro" in st:
                st["ro"] = list(st["ro"])
        return sd

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        sd = {"param_groups": state_dict["param_groups"], "state": {}}
        super().load_state_dict(sd)
        state = self.state[self._params[0]]
        for idx, st in state_dict["state"].items():
            for k, v in st.items():
                if isinstance(v, np.ndarray):
                    state[k] = np.array(v, dtype=self._dtype, copy=True)
                elif isinstance(v, list):
                    state[k] = [np.array(a, dtype=self._dtype, copy=True) if isinstance(a, np.ndarray) else a for a in v]
                else:
                    state[k] = v
