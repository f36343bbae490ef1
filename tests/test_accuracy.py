"""float32 accuracy in ULP: every forward kernel against the float64 reference rounded to float32.

The sample is every STRIDE-th float32 in [-110, 110] (about 2 million points: all exponents,
both signs, the saturation and underflow regions of every exp-based function) plus the edge
values. Where the reference is 0 or subnormal the ULP distance means little, so there the
check is absolute: |error| <= the smallest normal float32.

ULP_BOUND holds the maximum measured on x86-64 (generic, avx2, avx512 builds, GCC 12); run
``pytest tests/test_accuracy.py -s`` to print the measurements. A kernel change that makes
one of them worse fails here; one that makes it better should lower the bound.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FORWARD, edge_values

from fastopt import functional as F

# Maximum error in ULP against the correctly rounded value, per float32 forward kernel, over
# results in the normal range (|y| >= 2^-126). Measured (GCC 12, generic/avx2/avx512 alike).
ULP_BOUND = {
    "sigmoid": 2,  # also over a dense sweep of [-110, 110] (one division, rounded once)
    "tanh": 1,
    "relu": 0,
    "leaky_relu": 0,
    "softplus": 2,
    "elu": 1,
    "gelu": 8,  # at x ~ -13.1 (Phi(x) subnormal); every float (tools/gelu_ulp.cpp): 11, 10 with FMA
    "gelu_tanh": 158,  # the float32 cubic u is rounded and exp(2u) amplifies it by |2u|; 158 at x = -10.078
    "silu": 47,  # at x < -87.3, where sigmoid(x) is subnormal and silu(x) just above 2^-126
}
# The same over results away from underflow, |y| >= 2^-100 (no subnormal intermediates).
# gelu: 5 on this sample; every float: 8 generic, 6 with FMA (test_gelu_dense below).
ULP_BOUND_AWAY_FROM_UNDERFLOW = {**ULP_BOUND, "gelu": 5, "gelu_tanh": 118, "silu": 3}
AWAY = 2.0**-100

STRIDE = 1103  # an odd stride so the low mantissa bits vary
TINY = np.finfo(np.float32).smallest_normal


def float32_sample() -> np.ndarray:
    hi = np.float32(110.0).view(np.int32)
    bits = np.arange(0, int(hi) + 1, STRIDE, dtype=np.int64).astype(np.int32)
    pos = bits.view(np.float32)
    return np.concatenate([pos, -pos, edge_values(np.float32)])


def ordered(a: np.ndarray) -> np.ndarray:
    """float32 -> int64 that orders like the floats, with -0 == +0 (sign-magnitude to
    two's complement), so that ULP distance is a subtraction."""
    i = a.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(ordered(a) - ordered(b))


@pytest.fixture(scope="module")
def sample():
    return float32_sample()


_reference_cache: dict = {}


@pytest.mark.parametrize("kernel", FORWARD, ids=repr)
def test_ulp(kernel, isa, sample):
    kw = kernel.kwargs()
    key = kernel.name
    if key not in _reference_cache:
        _reference_cache[key] = kernel.ref(sample, **kw)
    expected = _reference_cache[key]
    actual = kernel.fast(sample, **kw)
    assert actual.dtype == np.float32

    nan_e = np.isnan(expected)
    assert np.array_equal(np.isnan(actual), nan_e), sample[np.isnan(actual) != nan_e][:10]
    finite = ~nan_e
    tiny = finite & (np.abs(expected) < TINY)
    normal = finite & ~tiny

    ulps = ulp_distance(actual[normal], expected[normal])
    worst = int(ulps.max()) if ulps.size else 0
    at = sample[normal][np.argmax(ulps)] if ulps.size else None
    away = np.abs(expected[normal]) >= AWAY
    worst_away = int(ulps[away].max()) if away.any() else 0
    at_away = sample[normal][away][np.argmax(ulps[away])] if away.any() else None
    abs_err = np.abs(actual[tiny].astype(np.float64) - expected[tiny].astype(np.float64))
    worst_abs = float(abs_err.max()) if abs_err.size else 0.0
    print(
        f"\n[ULP] {kernel.name:10s} {isa:7s} max {worst:4d} ULP at x={float(at)!r}; "
        f"away from underflow {worst_away:4d} ULP at x={float(at_away)!r}; "
        f"subnormal results: max abs error {worst_abs:.3g}"
    )

    assert worst <= ULP_BOUND[kernel.name], f"{kernel.name}: {worst} ULP at x={at!r}"
    assert worst_away <= ULP_BOUND_AWAY_FROM_UNDERFLOW[kernel.name], f"{kernel.name}: {worst_away} ULP at x={at_away!r}"
    assert worst_abs <= TINY, f"{kernel.name}: absolute error {worst_abs} where the result is subnormal"


# ---- tanh, densely ---------------------------------------------------------------------------
# tools/tanh_ulp.py checks every float32 (minutes); this samples 2^24 evenly spread positive
# floats plus every float in the ranges where the algorithms change course: the ends of the 32
# intervals of AVX-512's piecewise polynomial (t = |x| is binned by the bits of 0.87 t + 0.6),
# the switch at |x| = 0.625 of the exp-based tanh (generic, avx2), where tanh(x) stops being x
# (|x| ~ 2^-12) and saturation (tanh rounds to 1 from 9.011).


def _floats_around(centres, k: int) -> np.ndarray:
    c = np.array(centres, np.float32).view(np.int32).astype(np.int64)
    bits = (c[:, None] + np.arange(-k, k + 1)[None, :]).ravel()
    return bits.astype(np.int32).view(np.float32)


def _float_range(lo: float, hi: float, step: int = 1) -> np.ndarray:
    a, b = (int(np.float32(v).view(np.int32)) for v in (lo, hi))
    return np.arange(a, b + 1, step, dtype=np.int64).astype(np.int32).view(np.float32)


def _tanh_sample() -> np.ndarray:
    top = int(np.float32(np.inf).view(np.int32))
    spread = np.arange(0, top, top // 2**24 | 1, dtype=np.int64).astype(np.int32).view(np.float32)
    octave_steps = [2.0**e * (1 + m / 8) for e in range(-1, 4) for m in range(8)]  # bits(u) >> 20 changes
    ends = [(u - 0.6) / 0.87 for u in octave_steps if 0.6 <= u <= 0.87 * 9.5 + 0.6 + 1]
    return np.concatenate([
        spread,
        _floats_around(ends + [0.625], 4096),
        _float_range(2.0**-13, 2.0**-10, 4),
        _float_range(8.9, 9.2),
        _float_range(9.2, 100.0, 997),
    ])


@pytest.fixture(scope="module")
def tanh_sample():
    x = _tanh_sample()
    return x, np.tanh(x.astype(np.float64)).astype(np.float32)


def test_tanh_dense(isa, tanh_sample):
    import fastopt

    x, expected = tanh_sample
    y = fastopt.tanh(x)
    ulps = ulp_distance(y, expected)
    assert ulps.max() <= ULP_BOUND["tanh"], f"{int(ulps.max())} ULP at x={x[np.argmax(ulps)]!r}"
    assert np.array_equal(fastopt.tanh(-x).view(np.uint32), (-y).view(np.uint32))  # odd, bitwise
    assert (y[x >= 9.02] == 1.0).all()  # tanh(x) rounds to 1 there, and we return exactly 1


def test_tanh_special_values(isa):
    import fastopt

    sub = np.arange(1, 0x00800000, 7, dtype=np.int32).view(np.float32)
    assert np.array_equal(fastopt.tanh(sub), sub) and np.array_equal(fastopt.tanh(-sub), -sub)
    y = fastopt.tanh(np.array([0.0, -0.0, np.inf, -np.inf, 3e38, -3e38], np.float32))
    assert y.tolist() == [0.0, 0.0, 1.0, -1.0, 1.0, -1.0]
    assert not np.signbit(y[0]) and np.signbit(y[1])
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7FA00000], np.uint32)
    for n in (1, 5, 16, 17, 33):  # the tail of a vector loop too
        assert np.isnan(fastopt.tanh(np.resize(nans, n).view(np.float32))).all()


# ---- gelu (erf form): a dense sample and the kernel's regime changes ----------------------
#
# tools/gelu_ulp.cpp checks gelu and gelu_backward on every float32 (minutes per ISA); this is
# its default-suite cut: 2^21 floats evenly spread over [-15, 6] (where gelu is neither x nor
# 0), 2^21 spread over the bit patterns of x in +-[2^-40, 15] (every binade), and every float
# in the windows where the float32 kernel changes regime: the subnormals, Phi(x) subnormal but
# x Phi(x) not (x in [-13.2, -13.0]), the clamp where the tail becomes exactly 0 (|x| near
# 14.4445), the points where the exp's range reduction steps (a^2 / (2 ln2) = k + 1/2), the
# saturation to x (x near 5.5) and the backward's zero crossing (x ~ -0.7518).
# Bounds: the exhaustive maxima over all ISAs (tools/gelu_ulp.cpp; the FMA ISAs are lower).
GELU_DENSE_BOUND = {"forward": 11, "forward_away": 8, "backward_terms": 6.0}


def _bits_range(lo: float, hi: float, step: int = 1) -> np.ndarray:
    b0, b1 = np.float32(lo).view(np.int32), np.float32(hi).view(np.int32)
    return np.arange(int(b0), int(b1) + 1, step, dtype=np.int64).astype(np.int32).view(np.float32)


def gelu_dense_sample() -> np.ndarray:
    n = 1 << 20
    uniform = np.linspace(-15.0, 6.0, 2 * n).astype(np.float32)
    span = int(np.float32(15.0).view(np.int32) - np.float32(2.0**-40).view(np.int32))
    binades = _bits_range(2.0**-40, 15.0, span // n)
    steps = np.sqrt((np.arange(151) + 0.5) * 2.0 * np.log(2.0)).astype(np.float32)
    around_steps = (steps.view(np.int32)[:, None] + np.arange(-64, 64)[None, :]).astype(np.int32).view(np.float32).ravel()
    sub = np.arange(0, 1 << 14, dtype=np.int32).view(np.float32)
    windows = [sub, _bits_range(13.0, 13.2), _bits_range(14.40, 14.50), around_steps, _bits_range(5.4, 5.6, 4)]
    mag = np.concatenate([binades] + windows)
    crossing = -_bits_range(0.7517916 - 0.004, 0.7517916 + 0.004)
    return np.concatenate([uniform, mag, -mag, crossing, edge_values(np.float32)])


@pytest.fixture(scope="module")
def gelu_dense():
    import math

    x = gelu_dense_sample()
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        Phi = 0.5 * np.frompyfunc(math.erfc, 1, 1)(-x64 / math.sqrt(2.0)).astype(np.float64)
        xphi = x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi)
        fwd = np.where(np.isinf(x64), np.where(x64 > 0, x64, np.nan), x64 * Phi)
        bwd = np.where(np.isinf(x64), np.nan, Phi + xphi)
    return x, fwd, bwd, np.abs(Phi) + np.abs(xphi)


def test_gelu_dense(isa, gelu_dense):
    x, fwd, bwd, terms = gelu_dense
    y = F.gelu(x)
    g = F.gelu_backward(np.ones_like(x), x)
    for got, ref in ((y, fwd), (g, bwd)):
        assert np.array_equal(np.isnan(got), np.isnan(ref)), x[np.isnan(got) != np.isnan(ref)][:10]

    normal = np.isfinite(fwd) & (np.abs(fwd) >= TINY)
    ulps = ulp_distance(y[normal], fwd[normal])
    away = np.abs(fwd[normal]) >= AWAY
    tiny = np.isfinite(fwd) & ~normal
    abs_err = np.abs(y[tiny].astype(np.float64) - fwd[tiny])
    zero = tiny & (fwd.astype(np.float32) == 0)
    # backward: error in ULP of the terms' size, |Phi| + |x phi| (no blow-up at its zero crossing)
    fin = np.isfinite(bwd)
    term_ulp = np.spacing(np.maximum(terms[fin], TINY).astype(np.float32)).astype(np.float64)
    term_err = np.abs(g[fin].astype(np.float64) - bwd[fin]) / term_ulp
    print(
        f"\n[ULP] gelu dense {isa:7s} ({x.size} inputs): forward max {ulps.max()} ULP at "
        f"x={float(x[normal][np.argmax(ulps)])!r}, >= 2^-100 {ulps[away].max()}, zero/subnormal "
        f"abs error {abs_err.max():.3g}; backward max {term_err.max():.2f} ULP of |Phi| + |x phi| "
        f"at x={float(x[fin][np.argmax(term_err)])!r}"
    )
    assert ulps.max() <= GELU_DENSE_BOUND["forward"]
    assert ulps[away].max() <= GELU_DENSE_BOUND["forward_away"]
    assert abs_err.max() <= TINY
    assert np.array_equal(np.signbit(y[zero]), np.signbit(fwd[zero].astype(np.float32)))
    assert term_err.max() <= GELU_DENSE_BOUND["backward_terms"]


def test_float64_exp_through_sigmoid(isa):
    """float64 kernels use math::exp(double) and exp_nonpositive (the same values for x <= 0),
    written out so their loops vectorize (0.93 ULP with FMA, 1.21 without, against long double
    expl). For x <= 0, sigmoid(x) = e / (1 + e)
    with e = exp(x), so its relative error there is exp's plus one division: within 3 ULP of
    np.exp(x) / (1 + np.exp(x)) (glibc's exp: 0.51 ULP) over all of [-745, 0], and within two
    subnormal steps where the result is subnormal."""
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.uniform(0, 746, 300_000), rng.uniform(0, 1, 20_000), np.arange(0.0, 746.0, 0.0371)])
    e = np.exp(x)
    ref = e / (1 + e)
    y = F.sigmoid(x)
    normal = ref >= np.finfo(np.float64).smallest_normal
    ulp = np.abs(y[normal] - ref[normal]) / np.spacing(ref[normal])
    assert ulp.max() <= 3, (ulp.max(), x[normal][np.argmax(ulp)])
    assert np.all(np.abs(y[~normal] - ref[~normal]) <= 2 * np.finfo(np.float64).smallest_subnormal)
    special = F.sigmoid(np.array([-np.inf, -746.0, -1e300, -0.0, 0.0, np.inf, np.nan]))
    assert np.array_equal(special, [0.0, 0.0, 0.0, 0.5, 0.5, 1.0, np.nan], equal_nan=True)


def test_float64_tanh_and_softplus(isa):
    """float64 tanh (Cephes' rational below |x| = 0.625, 1 - 2e / (1 + e) with e = e^{-2|x|}
    above) and softplus's log1p(exp(-|x|)) (2 atanh(e / (2 + e)), a series) are written out as
    well (1.45 and 1.6 ULP against long double libm). NumPy's float64 tanh and the sums of the
    reference are off by up to 2 ULP themselves (the libm-based fastopt measured 3 here), so
    the bound is 4: odd, saturating and special values as libm's."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-25, 25, 200_000), rng.uniform(-0.7, 0.7, 100_000), np.exp2(-rng.uniform(0, 60, 10_000))])
    y, ref = F.tanh(x), np.tanh(x)
    assert (np.abs(y - ref) / np.spacing(np.abs(ref))).max() <= 4
    assert np.array_equal(F.tanh(-x), -y)
    special = F.tanh(np.array([0.0, -0.0, 30.0, -30.0, np.inf, -np.inf, np.nan, 1e-310]))
    assert np.array_equal(special, [0.0, -0.0, 1.0, -1.0, 1.0, -1.0, np.nan, 1e-310], equal_nan=True)
    assert np.signbit(special[1])
    x = rng.uniform(-30, 30, 300_000)
    ref = np.where(x > 20, x, np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))  # torch's threshold 20
    y = F.softplus(x)
    assert (np.abs(y - ref) / np.spacing(ref)).max() <= 4


def test_float64_elu(isa):
    """float64 elu takes math::expm1_nonpositive, written out (1.13 ULP against long double
    expm1l): within 2 ULP of np.expm1 (glibc) for x < 0, -1 from x = -40 down, zeros and NaN
    passed through."""
    rng = np.random.default_rng(2)
    x = -np.concatenate([rng.uniform(0, 45, 200_000), rng.uniform(0, 1, 100_000), np.exp2(-rng.uniform(0, 60, 10_000))])
    y, ref = F.elu(x), np.expm1(x)
    assert (np.abs(y - ref) / np.spacing(np.abs(ref))).max() <= 2
    special = F.elu(np.array([-0.0, 0.0, -40.0, -1e300, -np.inf, np.nan, 2.5, -1e-310]))
    assert np.array_equal(special, [-0.0, 0.0, -1.0, -1.0, -1.0, np.nan, 2.5, -1e-310], equal_nan=True)
    assert np.signbit(special[0])


def test_float64_gelu_against_mpmath(isa):
    """float64 gelu takes math::normal_tail(double), written out (tools/normal_tail_fit.py;
    Phi(-a) within 3.0 ULP and e^{-a^2/2} within 1.03 against long double over 2e7 arguments,
    tools/normal_tail_ulp.cpp), where it called libm's erfc on a rounded a / sqrt 2 (up to
    ~1000 ULP off in the far left tail) and rounded x^2 before exp (25 ULP at x = -10).
    Against mpmath at 40 digits: gelu within 3 ULP and gelu_backward within 4 ULP of its
    larger term (Phi(x) or x phi(x); they cancel near x = -0.75) wherever Phi(x) is a normal
    number; below x = -37.4 Phi(x) is subnormal and rounds to a multiple of the smallest
    subnormal before the product with x: there |x| + 2 such steps more are allowed."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-39.0, 39.0, 1500), rng.uniform(-3.0, 3.0, 1000), -rng.uniform(30.0, 38.7, 500),
                        [0.0, -0.75, -0.7517916, 5.0, -5.0, -37.4, -38.48, -38.49, -38.6, -38.7]])
    y, dy = F.gelu(x), F.gelu_backward(np.ones_like(x), x)
    tiny = np.finfo(np.float64).smallest_subnormal
    for xi, yi, dyi in zip(x, y, dy):
        X = mp.mpf(float(xi))
        cdf = mp.erfc(-X / mp.sqrt(2)) / 2
        term = X * mp.exp(-X * X / 2) / mp.sqrt(2 * mp.pi)
        want, want_d = float(X * cdf), float(cdf + term)
        err, err_d = abs(mp.mpf(float(yi)) - X * cdf), abs(mp.mpf(float(dyi)) - (cdf + term))
        steps = (abs(xi) + 2) * tiny if xi < -37.4 else 0.0
        assert err <= 3 * np.spacing(abs(want)) + steps, (xi, yi, want)
        assert err_d <= 4 * np.spacing(max(abs(float(cdf)), abs(float(term)))) + steps, (xi, dyi, want_d)
    special = F.gelu(np.array([np.nan, np.inf, -np.inf, -0.0, -40.0, -1e300, 1e300]))
    assert np.array_equal(special, [np.nan, np.inf, np.nan, -0.0, -0.0, -0.0, 1e300], equal_nan=True)


@pytest.mark.parametrize("inner", [1, 3])
def test_float64_log_softmax_row_log(inner, isa):
    """float64 log_softmax over short (inner 1) or strided (inner 3) rows takes the row sums'
    log from math::log_sum64 (1.6 ULP against long double, vectorized; std::log was a scalar
    call per row). Rows of k zeros and 32 - k -inf have the exact sum k, so at a zero the
    output is -log(k): within 2 ULP of np.log(k) for every k in 1..32."""
    rng = np.random.default_rng(3)
    k = np.tile(np.arange(1, 33), 40)
    x = np.where(np.arange(32)[None, :] < k[:, None], 0.0, -np.inf)
    x = rng.permuted(x, axis=1)
    x = np.repeat(x[:, :, None], inner, axis=2) if inner > 1 else x
    y = F.log_softmax(x, axis=1)
    at_zero = np.take_along_axis(y, np.argmax(x, axis=1)[:, None], axis=1)[:, 0]
    at_zero = at_zero.reshape(len(k), -1)
    ref = np.log(k.astype(np.float64))[:, None]
    assert np.all(np.abs(-at_zero - ref) <= 2 * np.spacing(np.maximum(ref, np.finfo(np.float64).tiny))), k
