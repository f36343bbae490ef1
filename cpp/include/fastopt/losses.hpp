// fastopt/losses.hpp: row kernels (online softmax statistics) and elementwise loss rules.
//
// A softmax "row" is the axis being normalised of an array viewed as (outer, len, inner):
// inner == 1 is the contiguous case (vectorised along the row), inner > 1 a strided one
// (vectorised across a tile of up to kTile neighbouring rows, which are contiguous).
//
// Row statistics: m = max of the row (NaN ignored), s = sum exp(x - m) (in double), so that
// logsumexp = m + log(s). A NaN in the row makes s NaN; a row of -inf (m = -inf) gives NaN,
// as torch's softmax does; +inf gives NaN (inf - inf). Every exp of x - m (and of -|x|) has
// a nonpositive argument or NaN, so it is math::exp_nonpositive (no overflow clamp: the same
// values as math::exp, a compare and a blend fewer per element).
//
// Elementwise loss rules: static void eval(T pred, T target, const LossCoef<T>&, T& loss,
// T& grad) with grad = d loss / d pred (unscaled). Plain scalar C++, branch-free, vectorised
// by the drivers in pointwise_losses.hpp.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "fastopt/config.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/math.hpp"

FASTOPT_NAMESPACE_BEGIN

constexpr std::int64_t kTile = 32;       // strided rows handled together (inner > 1)
constexpr std::int64_t kRowChunk = 512;  // elements of a contiguous row per max/sum step

// ---- softmax statistics -----------------------------------------------------------------------

// Elements per online chunk of a row of len: >= kRowChunk, at most kMaxChunks chunks a row.
constexpr std::int64_t kMaxChunks = 64;

// Rows are streamed with software prefetch (drivers.hpp says why): a row of at most
// kPrefetchRowBytes is asked for whole by its caller while the previous row finishes; a
// longer one asks for its next chunk at the start of each chunk (row_stats).
// cross_entropy (256, 32000) on one thread: 3.5-3.9 -> 3.0 ms with the chunk prefetch.
constexpr std::int64_t kPrefetchRowBytes = 16384;

template <class T>
FASTOPT_INLINE void prefetch_next_chunk(const T* x, std::int64_t len, std::int64_t c1, std::int64_t cs) {
    if (len * static_cast<std::int64_t>(sizeof(T)) > kPrefetchRowBytes)
        prefetch_block(x, c1, c1 + cs < len ? c1 + cs : len);
}

template <class T>
FASTOPT_INLINE void prefetch_row(const T* row, std::int64_t len) {
    if (len * static_cast<std::int64_t>(sizeof(T)) <= kPrefetchRowBytes) prefetch_block(row, 0, len);
}

FASTOPT_INLINE std::int64_t stats_chunk(std::int64_t len) {
    std::int64_t cs = (len + kMaxChunks - 1) / kMaxChunks;
    cs = (cs + 63) / 64 * 64;
    return cs > kRowChunk ? cs : kRowChunk;
}

// m and s of a contiguous row, reading it once from memory: per chunk (in L1) the chunk max,
// a rescale of s when the max grows, then the chunk's sum of exp.
// With e (the caller's gradient or output memory, len elements) and cm (kMaxChunks entries),
// it also stores e_j = exp(x_j - mk), mk the running max when chunk k was summed (cm[k];
// -inf: chunk not stored, recompute from x): a later pass gets exp(x_j - m) as
// e_j * exp(cm[k] - m), one exp per chunk instead of one per element. m and s are the same
// bits either way (the same chunks, the same sums).
template <class T>
FASTOPT_INLINE void row_stats(const T* FASTOPT_RESTRICT x, std::int64_t len, T& m_out, double& s_out,
                              T* FASTOPT_RESTRICT e = nullptr, T* FASTOPT_RESTRICT cm = nullptr) {
    const std::int64_t cs = stats_chunk(len);
    T m = -std::numeric_limits<T>::infinity();
    double s = 0.0;
    for (std::int64_t c0 = 0, k = 0; c0 < len; c0 += cs, ++k) {
        const std::int64_t c1 = c0 + cs < len ? c0 + cs : len;
        prefetch_next_chunk(x, len, c1, cs);
        T cmx = -std::numeric_limits<T>::infinity();
        FASTOPT_SIMD_REDUCTION(max : cmx)
        for (std::int64_t j = c0; j < c1; ++j) cmx = x[j] > cmx ? x[j] : cmx;
        if (cmx > m) {
            if (m != -std::numeric_limits<T>::infinity()) s *= math::exp(static_cast<double>(m) - static_cast<double>(cmx));
            m = cmx;
        }
        if (e) cm[k] = m;
        if (m == -std::numeric_limits<T>::infinity()) {
            // all -inf so far: they add 0 once a finite max appears; NaN still must poison s.
            double nan_flag = 0.0;
            FASTOPT_SIMD_REDUCTION(+ : nan_flag)
            for (std::int64_t j = c0; j < c1; ++j) nan_flag += x[j] != x[j] ? 1.0 : 0.0;
            if (nan_flag != 0.0) s = std::numeric_limits<double>::quiet_NaN();
            continue;
        }
        // float: at most kRowChunk terms <= 1 per chunk, so a float partial sum is exact
        // enough (1e-7 relative); a store under `if (e)` inside one loop would keep it scalar.
        using Part = std::conditional_t<sizeof(T) == 4, float, double>;
        const T mm = m;
        Part part = 0;
        if (e) {
            FASTOPT_SIMD_REDUCTION(+ : part)
            for (std::int64_t j = c0; j < c1; ++j) {
                const T v = math::exp_nonpositive(x[j] - mm);
                e[j] = v;
                part += v;
            }
        } else {
            FASTOPT_SIMD_REDUCTION(+ : part)
            for (std::int64_t j = c0; j < c1; ++j) part += math::exp_nonpositive(x[j] - mm);
        }
        s += static_cast<double>(part);
    }
    if (m == -std::numeric_limits<T>::infinity()) s = std::numeric_limits<double>::quiet_NaN();
    m_out = m;
    s_out = s;
}

// m[k], s[k] for w strided rows starting at x (row k is x[k + c * inner], c < len; w <= kTile
// here, up to 64 for the class-major blocks of class_major_stats.hpp). With e, also e[k + c * inner] = exp(x - m).
template <class T>
FASTOPT_INLINE void tile_stats(const T* FASTOPT_RESTRICT x, std::int64_t len, std::int64_t inner, std::int64_t w,
                               T* FASTOPT_RESTRICT m, double* FASTOPT_RESTRICT s, T* FASTOPT_RESTRICT e = nullptr) {
    for (std::int64_t k = 0; k < w; ++k) {
        m[k] = -std::numeric_limits<T>::infinity();
        s[k] = 0.0;
    }
    for (std::int64_t c = 0; c < len; ++c) {
        const T* xc = x + c * inner;
        FASTOPT_SIMD
        for (std::int64_t k = 0; k < w; ++k) m[k] = xc[k] > m[k] ? xc[k] : m[k];
    }
    for (std::int64_t c = 0; c < len; ++c) {
        const T* xc = x + c * inner;
        if (e) {  // two loops: a store under `if` inside one would keep it scalar
            T* ec = e + c * inner;
            FASTOPT_SIMD
            for (std::int64_t k = 0; k < w; ++k) {
                const T v = math::exp_nonpositive(xc[k] - m[k]);  // -inf row: NaN
                ec[k] = v;
                s[k] += static_cast<double>(v);
            }
        } else {
            FASTOPT_SIMD
            for (std::int64_t k = 0; k < w; ++k)
                s[k] += static_cast<double>(math::exp_nonpositive(xc[k] - m[k]));  // -inf row: NaN
        }
    }
}

// ---- Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC11) -----

struct Philox4x32 {
    std::uint32_t v[4];
};

// The four 32-bit outputs for counter (lo, hi, 0, 0) and key (k0, k1).
FASTOPT_INLINE void philox4x32_10(std::uint32_t c0, std::uint32_t c1, std::uint32_t k0, std::uint32_t k1,
                                  std::uint32_t& r0, std::uint32_t& r1, std::uint32_t& r2, std::uint32_t& r3) {
    std::uint32_t x0 = c0, x1 = c1, x2 = 0u, x3 = 0u;
    for (int round = 0; round < 10; ++round) {
        const std::uint64_t p0 = static_cast<std::uint64_t>(0xD2511F53u) * x0;
        const std::uint64_t p1 = static_cast<std::uint64_t>(0xCD9E8D57u) * x2;
        const std::uint32_t y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1 ^ k0;
        const std::uint32_t y1 = static_cast<std::uint32_t>(p1);
        const std::uint32_t y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3 ^ k1;
        const std::uint32_t y3 = static_cast<std::uint32_t>(p0);
        x0 = y0;
        x1 = y1;
        x2 = y2;
        x3 = y3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    r0 = x0;
    r1 = x1;
    r2 = x2;
    r3 = x3;
}

// ---- elementwise losses ------------------------------------------------------------------------

template <class T>
struct LossCoef {
    T beta;  // smooth_l1: beta; huber: delta
};

// sign(d) with sign(0) = 0 and NaN -> NaN (torch's sgn for real numbers).
template <class T>
FASTOPT_INLINE T sign_of(T d) {
    const T s = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
    return d != d ? d : s;
}

struct MseRule {
    template <class T>
    static FASTOPT_INLINE void eval(T p, T t, const LossCoef<T>&, double& loss, T& grad) {
        const T d = p - t;
        loss = static_cast<double>(d) * static_cast<double>(d);
        grad = T(2) * d;
    }
};

struct L1Rule {
    template <class T>
    static FASTOPT_INLINE void eval(T p, T t, const LossCoef<T>&, double& loss, T& grad) {
        const T d = p - t;
        loss = static_cast<double>(math::abs(d));
        grad = sign_of(d);
    }
};

// torch: |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta; beta == 0 is L1 (handled by the caller).
struct SmoothL1Rule {
    template <class T>
    static FASTOPT_INLINE void eval(T p, T t, const LossCoef<T>& c, double& loss, T& grad) {
        const T d = p - t;
        const T a = math::abs(d);
        const bool quad = a < c.beta;
        const double dd = static_cast<double>(d);
        const double b = static_cast<double>(c.beta);
        loss = quad ? 0.5 * dd * dd / b : static_cast<double>(a) - 0.5 * b;
        grad = quad ? d / c.beta : sign_of(d);
    }
};

// torch: |d| < delta ? 0.5 d^2 : delta (|d| - 0.5 delta); grad clamp(d, -delta, delta).
struct HuberRule {
    template <class T>
    static FASTOPT_INLINE void eval(T p, T t, const LossCoef<T>& c, double& loss, T& grad) {
        const T d = p - t;
        const T a = math::abs(d);
        const bool quad = a < c.beta;
        const double dd = static_cast<double>(d);
        const double b = static_cast<double>(c.beta);
        loss = quad ? 0.5 * dd * dd : b * (static_cast<double>(a) - 0.5 * b);
        const T g = d < -c.beta ? -c.beta : (d > c.beta ? c.beta : d);
        grad = d != d ? d : g;
    }
};

// Binary cross-entropy with logits x, target t, pos_weight pw (1 if none):
//   loss = (1 - t) x + lw * (log1p(exp(-|x|)) + max(-x, 0)),  lw = (pw - 1) t + 1
//   grad = lw * sigmoid(x) - pw t   (torch's form)
// stable for any x (exp(-|x|) <= 1). The loss is assembled in double: for x << 0 and t ~ 0
// the terms (1 - t) x and lw * (-x) cancel, exactly in double; only log1p is rounded.
template <class T>
FASTOPT_INLINE void bce_with_logits(T x, T t, T pw, double& loss, T& grad) {
    const T e = math::exp_nonpositive(-math::abs(x));
    const T r = T(1) / (T(1) + e);
    const T sig = x >= T(0) ? r : e * r;
    const T lw = (pw - T(1)) * t + T(1);
    const double xd = static_cast<double>(x), td = static_cast<double>(t);
    const double lwd = (static_cast<double>(pw) - 1.0) * td + 1.0;
    // softplus(-x); e is in [0, 1], log1p_unit's range: it vectorizes, where log1p does not
    // (float: range checks GCC 12 cannot vectorize; double: a scalar libm call per element).
    const double sp = static_cast<double>(math::log1p_unit(e)) + (xd < 0.0 ? -xd : 0.0);
    loss = (1.0 - td) * xd + lwd * sp;
    grad = lw * sig - pw * t;
}

FASTOPT_NAMESPACE_END
