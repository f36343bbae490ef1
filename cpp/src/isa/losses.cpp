// Softmax, log-softmax, the losses and dropout, instantiated for one ISA (this file is
// compiled once per ISA; see CMakeLists). The rules and row statistics are in losses.hpp.
//
// Determinism: every loss sum runs over fixed blocks of samples (make_blocks depends on the
// sample count only) accumulated in double and combined in block order, and every per-sample
// value is computed the same way whatever the chunking: the results are bitwise identical
// for any thread count. Dropout's mask is a pure function of (seed, element index).
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "class_major.hpp"
#include "cross_entropy_rows16.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/losses.hpp"
#include "kernel_table.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace {

// Rows per parallel grain for rows of `len` elements: about kGrain elements of work.
FASTOPT_INLINE std::int64_t row_grain(std::int64_t len) {
    const std::int64_t g = kGrain / (len > 0 ? len : 1);
    return g > 1 ? g : 1;
}

// Calls body(outer_index, d0, w) for every tile of up to kTile strided rows in the units
// [u0, u1) of the (outer, tiles) grid.
template <class Body>
FASTOPT_INLINE void for_tiles(std::int64_t u0, std::int64_t u1, std::int64_t inner, const Body& body) {
    const std::int64_t tiles = (inner + kTile - 1) / kTile;
    for (std::int64_t u = u0; u < u1; ++u) {
        const std::int64_t o = u / tiles;
        const std::int64_t d0 = (u % tiles) * kTile;
        body(o, d0, inner - d0 < kTile ? inner - d0 : kTile);
    }
}

// ---- softmax / log_softmax ----------------------------------------------------------------------

constexpr std::int64_t kSmallLen = 32;   // softmax rows this short (contiguous) go class-major
// kSmallRows (class_major.hpp): rows per flat block, softmax's and cross_entropy's

template <bool Log, class T>
void softmax_fwd(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner, int threads) {
    if (outer * len * inner == 0) return;
    if (inner == 1 && len <= kSmallLen) {
        // Short rows (per-row loops this short would stay in the scalar remainder): blocks of
        // kSmallRows rows transposed to class-major (class_major.hpp, as cross_entropy's
        // rows_small), where the max, exp and double sum run across the rows, then
        // y = e / s or (x - m) - log(s), transposed back.
        parallel_for(outer, row_grain(len), threads, [&](std::int64_t r0, std::int64_t r1) {
            constexpr std::int64_t R = kSmallRows;
            alignas(64) T xt[kSmallLen * R], et[kSmallLen * R], m[R], a[R];
            alignas(64) double s[R], ls[R];
            for (std::int64_t rb = r0; rb < r1; rb += R) {
                const std::int64_t nb = r1 - rb < R ? r1 - rb : R;
                to_class_major(x + rb * len, len, nb, xt);
                max_exp_sum(xt, et, m, s, len, nb);  // a row of -inf: NaN, as torch
                if constexpr (Log) {
                    log_sums<T>(s, ls, nb);
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i) a[i] = static_cast<T>(ls[i]);
                    for (std::int64_t c = 0; c < len; ++c) {
                        const T* xc = xt + c * R;
                        T* ec = et + c * R;
                        FASTOPT_SIMD
                        for (std::int64_t i = 0; i < nb; ++i) ec[i] = (xc[i] - m[i]) - a[i];
                    }
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i) a[i] = static_cast<T>(1.0 / s[i]);
                    for (std::int64_t c = 0; c < len; ++c) {
                        T* ec = et + c * R;
                        FASTOPT_SIMD
                        for (std::int64_t i = 0; i < nb; ++i) ec[i] = ec[i] * a[i];
                    }
                }
                to_row_major(et, len, nb, y + rb * len);
            }
        });
        return;
    }
    if (inner == 1) {
        parallel_for(outer, row_grain(len), threads, [&](std::int64_t r0, std::int64_t r1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const T* xr = x + r * len;
                T* yr = y + r * len;
                T m;
                double s;
                if constexpr (Log) {
                    row_stats(xr, len, m, s);
                    const T ls = static_cast<T>(std::log(s));
                    FASTOPT_SIMD
                    for (std::int64_t j = 0; j < len; ++j) yr[j] = (xr[j] - m) - ls;
                } else {
                    // y first holds exp(x - running max) (one exp per element), then is
                    // rescaled per chunk; in place is safe (each element read before written)
                    T cm[kMaxChunks];
                    row_stats_store(xr, len, yr, cm, m, s);
                    if (r + 1 < r1) prefetch_row(xr + len, len);  // read during this row's rescale
                    const T inv = static_cast<T>(1.0 / s);
                    const std::int64_t cs = stats_chunk(len);
                    for (std::int64_t c0 = 0, k = 0; c0 < len; c0 += cs, ++k) {
                        const std::int64_t c1 = c0 + cs < len ? c0 + cs : len;
                        if (cm[k] == -std::numeric_limits<T>::infinity()) {
                            FASTOPT_SIMD
                            for (std::int64_t j = c0; j < c1; ++j) yr[j] = math::exp_nonpositive(xr[j] - m) * inv;
                        } else {
                            const T a = inv * math::exp_nonpositive(cm[k] - m);
                            FASTOPT_SIMD
                            for (std::int64_t j = c0; j < c1; ++j) yr[j] = yr[j] * a;
                        }
                    }
                }
            }
        });
        return;
    }
    const std::int64_t units = outer * ((inner + kTile - 1) / kTile);
    parallel_for(units, row_grain(len * kTile), threads, [&](std::int64_t u0, std::int64_t u1) {
        for_tiles(u0, u1, inner, [&](std::int64_t o, std::int64_t d0, std::int64_t w) {
            const T* xt = x + o * len * inner + d0;
            T* yt = y + o * len * inner + d0;
            T m[kTile];
            double s[kTile];
            T a[kTile];
            tile_stats(xt, len, inner, w, m, s);
            for (std::int64_t k = 0; k < w; ++k) a[k] = static_cast<T>(Log ? math::log_sum64(s[k]) : 1.0 / s[k]);
            for (std::int64_t c = 0; c < len; ++c) {
                const T* xc = xt + c * inner;
                T* yc = yt + c * inner;
                if constexpr (Log) {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) yc[k] = (xc[k] - m[k]) - a[k];
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) yc[k] = math::exp_nonpositive(xc[k] - m[k]) * a[k];
                }
            }
        });
    });
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
template <bool Log, class T>
void softmax_bwd(const T* gy, const T* y, T* gx, std::int64_t outer, std::int64_t len, std::int64_t inner,
                 int threads) {
    if (outer * len * inner == 0) return;
    if (inner == 1) {
        parallel_for(outer, row_grain(len), threads, [&](std::int64_t r0, std::int64_t r1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const T* g = gy + r * len;
                const T* yr = y + r * len;
                T* out = gx + r * len;
                double acc = 0.0;
                if constexpr (Log) {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = 0; j < len; ++j) acc += static_cast<double>(g[j]);
                    const T sum = static_cast<T>(acc);
                    FASTOPT_SIMD
                    for (std::int64_t j = 0; j < len; ++j) out[j] = g[j] - math::exp(yr[j]) * sum;
                } else {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = 0; j < len; ++j) acc += static_cast<double>(g[j]) * static_cast<double>(yr[j]);
                    const T dot = static_cast<T>(acc);
                    FASTOPT_SIMD
                    for (std::int64_t j = 0; j < len; ++j) out[j] = yr[j] * (g[j] - dot);
                }
            }
        });
        return;
    }
    const std::int64_t units = outer * ((inner + kTile - 1) / kTile);
    parallel_for(units, row_grain(len * kTile), threads, [&](std::int64_t u0, std::int64_t u1) {
        for_tiles(u0, u1, inner, [&](std::int64_t o, std::int64_t d0, std::int64_t w) {
            const std::int64_t base = o * len * inner + d0;
            double acc[kTile];
            T sum[kTile];
            for (std::int64_t k = 0; k < w; ++k) acc[k] = 0.0;
            for (std::int64_t c = 0; c < len; ++c) {
                const T* g = gy + base + c * inner;
                const T* yc = y + base + c * inner;
                if constexpr (Log) {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) acc[k] += static_cast<double>(g[k]);
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) acc[k] += static_cast<double>(g[k]) * static_cast<double>(yc[k]);
                }
            }
            for (std::int64_t k = 0; k < w; ++k) sum[k] = static_cast<T>(acc[k]);
            for (std::int64_t c = 0; c < len; ++c) {
                const T* g = gy + base + c * inner;
                const T* yc = y + base + c * inner;
                T* out = gx + base + c * inner;
                if constexpr (Log) {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) out[k] = g[k] - math::exp(yc[k]) * sum[k];
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) out[k] = yc[k] * (g[k] - sum[k]);
                }
            }
        });
    });
}

// ---- cross-entropy and nll -------------------------------------------------------------------

FASTOPT_INLINE std::int64_t target_at(const ClassLossParams& p, std::int64_t r) {
    return p.target_kind == 0 ? static_cast<std::int64_t>(static_cast<const std::int32_t*>(p.target)[r])
                              : static_cast<const std::int64_t*>(p.target)[r];
}

// Fixed blocks of samples (r = i * inner + d): at most 1024, ~kGrain logits each.
FASTOPT_INLINE Blocks sample_blocks(std::int64_t samples, std::int64_t c) {
    return make_blocks(samples, row_grain(c), 1024);
}

FASTOPT_INLINE int team_for(std::int64_t work, int threads) { return threads_for(work, kGrain, threads); }

// Sums f(block) over the blocks in block order (each block's value computed by one thread).
template <class F>
double block_sum(const Blocks& blocks, int threads, const F& f) {
    Scratch<double> partial(blocks.count);
    parallel_blocks(blocks.count, threads, [&](std::int64_t b) { partial.data[b] = f(b); });
    double total = 0.0;
    for (std::int64_t b = 0; b < blocks.count; ++b) total += partial.data[b];
    return total;
}

// Pass 1 of cross_entropy and nll_loss over the index targets of samples [r0, r1): the
// summed weights of the non-ignored ones ('mean' divides by their total, as torch), and
// whether one is out of range (a class outside [0, C) that is not ignore_index). Branch-free
// per target kind, so the loops vectorize; an out-of-range target reads weight[0] (ignored
// ones too, then dropped), so nothing is read out of bounds before the check has run.
struct TargetBlock {
    double weight_sum;
    bool bad;
};

template <class T, class I>
TargetBlock target_block(const I* t, const T* weight, const ClassLossParams& p, std::int64_t r0, std::int64_t r1) {
    const std::int64_t ig = p.ignore_index;
    const auto c = static_cast<std::uint64_t>(p.c);
    const auto ignored = [&](I v) { return static_cast<std::int64_t>(v) == ig; };
    const auto in_range = [&](I v) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(v)) < c; };
    TargetBlock res;
    if (weight)
        res.weight_sum = sum_lanes(t, r0, r1, [&](I v) {
            return ignored(v) ? 0.0 : static_cast<double>(weight[in_range(v) ? v : 0]);
        });
    else
        res.weight_sum = sum_lanes(t, r0, r1, [&](I v) { return ignored(v) ? 0.0 : 1.0; });
    int bad = 0;
    FASTOPT_SIMD_REDUCTION(| : bad)
    for (std::int64_t r = r0; r < r1; ++r) bad |= static_cast<int>(!ignored(t[r]) && !in_range(t[r]));
    res.bad = bad != 0;
    return res;
}

// cross_entropy and nll_loss in two passes over fixed sample blocks, one fork-join
// (parallel_blocks_two_pass): pass 1 checks every index target and sums their weights
// (target_block); then, once, setup(divisor), which sets the gradient's scale; pass 2 runs
// loss(b), the summed losses of block b, and writes the outputs. A target out of range
// stops before pass 2: res.bad_target, nothing written (the binding names it).
// Probability targets need no check; 'mean' divides their sum by the number of samples.
template <class T, class Setup, class Loss>
LossSum class_loss_passes(const T* weight, const ClassLossParams& p, const Blocks& blocks, int team, const Setup& setup,
                          const Loss& loss) {
    const std::int64_t samples = p.n * p.inner;
    LossSum res;
    Scratch<double> weight_sum(blocks.count), partial(blocks.count);
    Scratch<unsigned char> bad(blocks.count);
    parallel_blocks_two_pass(
        blocks.count, team,
        [&](std::int64_t b) {
            if (p.target_kind == 2) return;
            const std::int64_t r0 = blocks.begin(b), r1 = blocks.end(b, samples);
            const TargetBlock tb =
                p.target_kind == 0 ? target_block(static_cast<const std::int32_t*>(p.target), weight, p, r0, r1)
                                   : target_block(static_cast<const std::int64_t*>(p.target), weight, p, r0, r1);
            weight_sum.data[b] = tb.weight_sum;
            bad.data[b] = tb.bad ? 1 : 0;
        },
        [&]() {
            if (p.target_kind == 2) {
                res.divisor = static_cast<double>(samples);
            } else {
                double total = 0.0;  // in block order: the same bits for any thread count
                for (std::int64_t b = 0; b < blocks.count; ++b) {
                    total += weight_sum.data[b];
                    res.bad_target = res.bad_target || bad.data[b] != 0;
                }
                res.divisor = total;
            }
            if (res.bad_target || samples == 0) return false;
            setup(res.divisor);
            return true;
        },
        [&](std::int64_t b) { partial.data[b] = loss(b); });
    if (!res.bad_target)
        for (std::int64_t b = 0; b < blocks.count && samples > 0; ++b) res.total += partial.data[b];
    return res;
}

constexpr std::int64_t kSmallC = 32;     // cross_entropy: rows this short take rows_small (class_major.hpp)


// Per-call constants of cross_entropy. Sample loss with index target t (not ignored):
//   (1 - eps) w_t (lse - x_t) + eps/C sum_c w_c (lse - x_c)
// and its gradient (times scale):
//   ((1 - eps) w_t + eps/C sum_c w_c) softmax_j - (1 - eps) w_t [j == t] - eps/C w_j.
// Probability targets q (smoothed: qs = (1 - eps) q + eps/C):
//   sum_c w_c qs_c (lse - x_c), gradient (sum_c w_c qs_c) softmax_j - w_j qs_j.
template <class T>
struct CE {
    const T* x;
    const T* w;
    T* grad;
    T* loss_none;
    const ClassLossParams& p;
    double scale;   // gradient multiplier (grad_scale, / divisor for 'mean')
    double eps;     // label_smoothing
    double eps_c;   // label_smoothing / C
    double wsum;    // sum of class weights (C without weights)

    // One contiguous row with a probability target q; returns its loss. The loss sum and the
    // gradient are separate loops, each in a version with and one without weights: with the
    // `w ? w[j] : 1` load and an `if (g)` store in one loop GCC left it scalar (one scalar exp
    // per logit, 4-16x slower than index targets), and one loop per case would let the loss
    // bits depend on whether the gradient was asked for (a float64 loop that calls std::exp
    // does not vectorize, its twin without the call does: another summation order).
    double row_prob(std::int64_t i) const {
        const std::int64_t C = p.c;
        const T* xr = x + i * C;
        const T* q = static_cast<const T*>(p.target) + i * C;
        T m;
        double s;
        row_stats(xr, C, m, s);
        const double ls = std::log(s);
        const T one_m = static_cast<T>(1.0 - eps), ec = static_cast<T>(eps_c);
        const T* const wv = w;
        const auto run = [&](auto has_w) {
            constexpr bool weighted = decltype(has_w)::value;
            double S = 0.0;
            FASTOPT_SIMD_REDUCTION(+ : S)
            for (std::int64_t j = 0; j < C; ++j) {
                if constexpr (weighted) S += static_cast<double>(wv[j]) * static_cast<double>(q[j] * one_m + ec);
                else S += static_cast<double>(q[j] * one_m + ec);
            }
            const T mm = m;
            double acc = 0.0;
            FASTOPT_SIMD_REDUCTION(+ : acc)
            for (std::int64_t j = 0; j < C; ++j) {
                T wq = q[j] * one_m + ec;
                if constexpr (weighted) wq = wv[j] * wq;
                acc += static_cast<double>(wq) * ((static_cast<double>(mm) - static_cast<double>(xr[j])) + ls);
            }
            if (grad) {
                T* const g = grad + i * C;
                const T A = static_cast<T>(scale * S / s), sc = static_cast<T>(scale);
                FASTOPT_SIMD
                for (std::int64_t j = 0; j < C; ++j) {
                    T wq = q[j] * one_m + ec;
                    if constexpr (weighted) wq = wv[j] * wq;
                    g[j] = A * math::exp_nonpositive(xr[j] - mm) - sc * wq;
                }
            }
            return acc;
        };
        return w ? run(std::true_type{}) : run(std::false_type{});
    }

    // One contiguous row (inner == 1); returns its loss.
    double row(std::int64_t i) const {
        const std::int64_t C = p.c;
        const T* xr = x + i * C;
        T* g = grad ? grad + i * C : nullptr;
        T m;
        double s;
        if (p.target_kind == 2) return row_prob(i);
        const std::int64_t t = target_at(p, i);
        if (t == p.ignore_index) {
            if (g) {
                FASTOPT_SIMD
                for (std::int64_t j = 0; j < C; ++j) g[j] = T(0);
            }
            return 0.0;
        }
        T cm[kMaxChunks];
        if (g)
            row_stats_store(xr, C, g, cm, m, s);  // g holds exp(x - running max) until rescaled
        else
            row_stats(xr, C, m, s);
        // The next row (when it fits L1 easily) is requested now, so its reads overlap this
        // row's gradient pass, which only reads L1 and writes.
        if (g && i + 1 < p.n) prefetch_row(xr + C, C);
        const double ls = std::log(s);
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        double loss = (1.0 - eps) * wt * ((static_cast<double>(m) - static_cast<double>(xr[t])) + ls);
        const T mm = m;
        const T A = static_cast<T>(scale * ((1.0 - eps) * wt + eps_c * wsum) / s);
        const T sub = static_cast<T>(scale * eps_c);
        double acc = 0.0;
        if (g) {
            const std::int64_t cs = stats_chunk(C);
            for (std::int64_t c0 = 0, k = 0; c0 < C; c0 += cs, ++k) {
                const std::int64_t c1 = c0 + cs < C ? c0 + cs : C;
                if (cm[k] == -std::numeric_limits<T>::infinity()) {  // not stored: from x
                    FASTOPT_SIMD
                    for (std::int64_t j = c0; j < c1; ++j) g[j] = math::exp_nonpositive(xr[j] - mm);
                }
                // exp(x - m) = e * exp(cm - m), folded into the row's factor
                const T Ak = cm[k] == -std::numeric_limits<T>::infinity() ? A : A * math::exp_nonpositive(cm[k] - mm);
                if (eps > 0.0 && w) {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = c0; j < c1; ++j) {
                        acc += static_cast<double>(w[j]) * (static_cast<double>(mm) - static_cast<double>(xr[j]));
                        g[j] = Ak * g[j] - sub * w[j];
                    }
                } else if (eps > 0.0) {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = c0; j < c1; ++j) {
                        acc += static_cast<double>(mm) - static_cast<double>(xr[j]);
                        g[j] = Ak * g[j] - sub;
                    }
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t j = c0; j < c1; ++j) g[j] = Ak * g[j];
                }
            }
            g[t] -= static_cast<T>(scale * (1.0 - eps) * wt);
        } else if (eps > 0.0) {  // the same chunks and order as above: the same loss bits
            const std::int64_t cs = stats_chunk(C);
            for (std::int64_t c0 = 0; c0 < C; c0 += cs) {
                const std::int64_t c1 = c0 + cs < C ? c0 + cs : C;
                if (w) {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = c0; j < c1; ++j)
                        acc += static_cast<double>(w[j]) * (static_cast<double>(mm) - static_cast<double>(xr[j]));
                } else {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = c0; j < c1; ++j) acc += static_cast<double>(mm) - static_cast<double>(xr[j]);
                }
            }
        }
        if (eps > 0.0) loss += eps_c * (acc + wsum * ls);
        return loss;
    }

    // Rows [r0, r1) with few classes (index targets, inner == 1). Along a row of C < 33 there is
    // too little to vectorize (each step would be one short dependent chain per row), so each
    // block of kSmallRows rows is transposed into a class-major buffer and every step runs
    // across the rows instead: the max, e = exp(x - m) (kept, so one exp per logit), the
    // double sum, the per-row factors, the gradient (formed in the buffer, transposed back).
    // Per row this is the arithmetic of row(): the same loss and gradient formulas.
    double rows_small(std::int64_t r0, std::int64_t r1, T* none) const {
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>)
            if (p.c >= 1 && p.c <= 16) return cross_entropy_rows16(*this, r0, r1, none);  // the same values
#endif
        constexpr std::int64_t R = kSmallRows;
        const std::int64_t C = p.c;
        alignas(64) T xt[kSmallC * R];  // xt[c * R + i] = x[row rb + i, class c]
        alignas(64) T et[kSmallC * R];  // exp(x - m), then the gradient, class-major
        alignas(64) T m[R], xtt[R], A[R], hit[R], keep[R];
        alignas(64) double s[R], ls[R], wt[R], loss[R];
        const T sub = static_cast<T>(scale * eps_c);  // the smoothing term of every gradient entry
        alignas(64) std::int32_t tt[R];  // target class, -1 if ignored (C < 33)
        double total = 0.0;
        for (std::int64_t rb = r0; rb < r1; rb += R) {
            const std::int64_t nb = r1 - rb < R ? r1 - rb : R;
            to_class_major(x + rb * C, C, nb, xt);
            max_exp_sum(xt, et, m, s, C, nb);
            log_sums<T>(s, ls, nb);
            const std::int64_t ig = p.ignore_index;
            if (p.target_kind == 0) {
                const std::int32_t* t32 = static_cast<const std::int32_t*>(p.target) + rb;
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) tt[i] = t32[i] == ig ? -1 : t32[i];
            } else {
                const std::int64_t* t64 = static_cast<const std::int64_t*>(p.target) + rb;
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) tt[i] = t64[i] == ig ? -1 : static_cast<std::int32_t>(t64[i]);
            }
            // the target's logit, then its weight (gathers) and the per-row factors (pure
            // arithmetic, so the loop vectorizes, its double division included). With AVX2 the
            // logit is picked class by class (a select per class and row; an ignored row keeps
            // 0): the gather ran as scalar loads and stores, whose vector reads of xtt then
            // stalled on store forwarding. SSE2 has no blend: there the gather is faster.
#if defined(__AVX2__)
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) xtt[i] = T(0);
            for (std::int64_t c = 0; c < C; ++c) {
                const T* xc = xt + c * R;
                const std::int32_t cc = static_cast<std::int32_t>(c);
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) xtt[i] = tt[i] == cc ? xc[i] : xtt[i];
            }
#else
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) xtt[i] = xt[(tt[i] < 0 ? 0 : tt[i]) * R + i];
#endif
            if (w) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i)
                    wt[i] = tt[i] < 0 ? 0.0 : static_cast<double>(w[tt[i] < 0 ? 0 : tt[i]]);
            } else {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) wt[i] = tt[i] < 0 ? 0.0 : 1.0;
            }
            const double keep_t = 1.0 - eps, spread = eps_c * wsum, sc = scale;
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) {
                const bool ign = tt[i] < 0;
                const double l = keep_t * wt[i] * ((static_cast<double>(m[i]) - static_cast<double>(xtt[i])) + ls[i]);
                const double a = sc * (keep_t * wt[i] + spread) / s[i];
                loss[i] = ign ? 0.0 : l;
                A[i] = ign ? T(0) : static_cast<T>(a);
                hit[i] = static_cast<T>(sc * keep_t * wt[i]);
                keep[i] = ign ? T(0) : T(1);
            }
            if (eps > 0.0) {
                double acc[R];
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) acc[i] = 0.0;
                for (std::int64_t c = 0; c < C; ++c) {
                    const T* xc = xt + c * R;
                    const double wc = w ? static_cast<double>(w[c]) : 1.0;
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i)
                        acc[i] += wc * (static_cast<double>(m[i]) - static_cast<double>(xc[i]));
                }
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i)
                    loss[i] = keep[i] != T(0) ? loss[i] + eps_c * (acc[i] + wsum * ls[i]) : 0.0;
            }
            if (none) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) none[rb + i] = static_cast<T>(loss[i]);
            }
            total += sum_lanes(loss, 0, nb, [](double v) { return v; });  // not one dependent chain
            if (!grad) continue;
            for (std::int64_t c = 0; c < C; ++c) {
                T* ec = et + c * R;
                const T wc = w ? w[c] : T(1);
                const std::int32_t cc = static_cast<std::int32_t>(c);
                if (eps > 0.0) {
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i) {
                        T v = A[i] * ec[i] - sub * wc;
                        v = tt[i] == cc ? v - hit[i] : v;
                        ec[i] = keep[i] != T(0) ? v : T(0);
                    }
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i) {
                        T v = A[i] * ec[i];
                        v = tt[i] == cc ? v - hit[i] : v;
                        ec[i] = keep[i] != T(0) ? v : T(0);
                    }
                }
            }
            to_row_major(et, C, nb, grad + rb * C);
        }
        return total;
    }

    // rows_small for probability targets q: the block's logits and targets both transposed,
    // then per row (across the rows) the max / exp / sum, S = sum_c w_c qs_c, the loss
    // sum_c w_c qs_c ((m - x_c) + log s) and the gradient A e_c - scale w_c qs_c with
    // A = scale S / s, qs = (1 - eps) q + eps / C: row_prob's formulas, row_prob's 4-16x
    // slowdown for short rows gone (its loops never reached a full vector at C = 10).
    double rows_small_prob(std::int64_t r0, std::int64_t r1, T* none) const {
        constexpr std::int64_t R = kSmallRows;
        const std::int64_t C = p.c;
        const T* q = static_cast<const T*>(p.target);
        alignas(64) T xt[kSmallC * R], qt[kSmallC * R], et[kSmallC * R];
        alignas(64) T m[R], A[R];
        alignas(64) double s[R], ls[R], S[R], loss[R];
        const T one_m = static_cast<T>(1.0 - eps), ec = static_cast<T>(eps_c), sc = static_cast<T>(scale);
        double total = 0.0;
        for (std::int64_t rb = r0; rb < r1; rb += R) {
            const std::int64_t nb = r1 - rb < R ? r1 - rb : R;
            to_class_major(x + rb * C, C, nb, xt);
            to_class_major(q + rb * C, C, nb, qt);
            max_exp_sum(xt, et, m, s, C, nb);
            log_sums<T>(s, ls, nb);
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) {
                S[i] = 0.0;
                loss[i] = 0.0;
            }
            for (std::int64_t c = 0; c < C; ++c) {
                const T wc = w ? w[c] : T(1);
                const T* xc = xt + c * R;
                const T* qc = qt + c * R;
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) {
                    const T wq = wc * (qc[i] * one_m + ec);
                    S[i] += static_cast<double>(wq);
                    loss[i] += static_cast<double>(wq) * ((static_cast<double>(m[i]) - static_cast<double>(xc[i])) + ls[i]);
                }
            }
            if (none) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) none[rb + i] = static_cast<T>(loss[i]);
            }
            total += sum_lanes(loss, 0, nb, [](double v) { return v; });
            if (!grad) continue;
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) A[i] = static_cast<T>(scale * S[i] / s[i]);
            for (std::int64_t c = 0; c < C; ++c) {
                const T wc = w ? w[c] : T(1);
                const T* qc = qt + c * R;
                T* e = et + c * R;
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) e[i] = A[i] * e[i] - sc * (wc * (qc[i] * one_m + ec));
            }
            to_row_major(et, C, nb, grad + rb * C);
        }
        return total;
    }

    // Up to kTile strided samples (i, d0 .. d0 + nw) (inner > 1); writes their losses to out.
    void tile(std::int64_t i, std::int64_t d0, std::int64_t nw, double* out) const {
        const std::int64_t C = p.c, inner = p.inner;
        const std::int64_t base = i * C * inner + d0;
        const T* xt = x + base;
        T* gt = grad ? grad + base : nullptr;
        T m[kTile], A[kTile], keep[kTile], qsum_or_sub[kTile];
        double s[kTile], ls[kTile], acc[kTile], wt[kTile];
        std::int64_t t[kTile];
        tile_stats(xt, C, inner, nw, m, s);
        const bool prob = p.target_kind == 2;
        const T one_m = static_cast<T>(1.0 - eps), ec = static_cast<T>(eps_c);
        for (std::int64_t k = 0; k < nw; ++k) {
            ls[k] = math::log_sum64(s[k]);
            acc[k] = 0.0;
        }
        if (prob) {
            const T* q = static_cast<const T*>(p.target) + base;
            for (std::int64_t c = 0; c < C; ++c) {
                const T wc = w ? w[c] : T(1);
                const T* qc = q + c * inner;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < nw; ++k) acc[k] += static_cast<double>(wc) * static_cast<double>(qc[k] * one_m + ec);
            }
            for (std::int64_t k = 0; k < nw; ++k) {
                A[k] = static_cast<T>(scale * acc[k] / s[k]);
                acc[k] = 0.0;
            }
            const T sc = static_cast<T>(scale);
            for (std::int64_t c = 0; c < C; ++c) {
                const T wc = w ? w[c] : T(1);
                const T* xc = xt + c * inner;
                const T* qc = q + c * inner;
                FASTOPT_SIMD  // loss and gradient in separate loops, as in row_prob
                for (std::int64_t k = 0; k < nw; ++k) {
                    const T wq = wc * (qc[k] * one_m + ec);
                    acc[k] += static_cast<double>(wq) * ((static_cast<double>(m[k]) - static_cast<double>(xc[k])) + ls[k]);
                }
                if (gt) {
                    T* gc = gt + c * inner;
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < nw; ++k)
                        gc[k] = A[k] * math::exp_nonpositive(xc[k] - m[k]) - sc * (wc * (qc[k] * one_m + ec));
                }
            }
            for (std::int64_t k = 0; k < nw; ++k) out[k] = acc[k];
            return;
        }
        for (std::int64_t k = 0; k < nw; ++k) {
            t[k] = target_at(p, i * inner + d0 + k);
            const bool ign = t[k] == p.ignore_index;
            wt[k] = ign ? 0.0 : (w ? static_cast<double>(w[t[k]]) : 1.0);
            keep[k] = ign ? T(0) : T(1);
            A[k] = ign ? T(0) : static_cast<T>(scale * ((1.0 - eps) * wt[k] + eps_c * wsum) / s[k]);
            qsum_or_sub[k] = ign ? T(0) : static_cast<T>(scale * eps_c);  // the smoothing term
        }
        for (std::int64_t c = 0; c < C; ++c) {
            const T wc = w ? w[c] : T(1);
            const T* xc = xt + c * inner;
            FASTOPT_SIMD  // loss and gradient in separate loops, as in row_prob
            for (std::int64_t k = 0; k < nw; ++k)
                acc[k] += static_cast<double>(wc) * (static_cast<double>(m[k]) - static_cast<double>(xc[k]));
            if (gt) {
                T* gc = gt + c * inner;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < nw; ++k) {
                    const T v = A[k] * math::exp_nonpositive(xc[k] - m[k]) - qsum_or_sub[k] * wc;
                    gc[k] = keep[k] != T(0) ? v : T(0);
                }
            }
        }
        for (std::int64_t k = 0; k < nw; ++k) {
            if (keep[k] == T(0)) {
                out[k] = 0.0;
                continue;
            }
            const double xt_k = static_cast<double>(xt[t[k] * inner + k]);
            double loss = (1.0 - eps) * wt[k] * ((static_cast<double>(m[k]) - xt_k) + ls[k]);
            if (eps > 0.0) loss += eps_c * (acc[k] + wsum * ls[k]);
            out[k] = loss;
            if (gt) gt[t[k] * inner + k] -= static_cast<T>(scale * (1.0 - eps) * wt[k]);
        }
    }
};

template <class T>
LossSum cross_entropy(const T* x, const T* weight, T* grad, T* loss_none, const ClassLossParams& p, int threads) {
    const std::int64_t samples = p.n * p.inner;
    const int team = team_for(samples * p.c, threads);
    const Blocks blocks = sample_blocks(samples, p.c);
    double wsum = static_cast<double>(p.c);
    if (weight) {
        wsum = 0.0;
        for (std::int64_t j = 0; j < p.c; ++j) wsum += static_cast<double>(weight[j]);
    }
    CE<T> ce{x, weight, grad, loss_none, p, 0.0, p.label_smoothing, p.label_smoothing / static_cast<double>(p.c), wsum};
    const auto setup = [&](double divisor) {
        ce.scale = p.reduction == Reduction::mean ? p.grad_scale / divisor : p.grad_scale;
    };
    return class_loss_passes(weight, p, blocks, team, setup, [&](std::int64_t b) {
        const std::int64_t r0 = blocks.begin(b), r1 = blocks.end(b, samples);
        double acc = 0.0;
        if (p.inner == 1 && p.c <= kSmallC)
            return p.target_kind == 2 ? ce.rows_small_prob(r0, r1, loss_none) : ce.rows_small(r0, r1, loss_none);
        if (p.inner == 1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const double l = ce.row(r);
                if (loss_none) loss_none[r] = static_cast<T>(l);
                acc += l;
            }
            return acc;
        }
        double l[kTile];
        for (std::int64_t r = r0; r < r1;) {
            const std::int64_t i = r / p.inner, d = r % p.inner;
            std::int64_t nw = p.inner - d;
            if (nw > kTile) nw = kTile;
            if (nw > r1 - r) nw = r1 - r;
            ce.tile(i, d, nw, l);
            for (std::int64_t k = 0; k < nw; ++k) {
                if (loss_none) loss_none[r + k] = static_cast<T>(l[k]);
                acc += l[k];
            }
            r += nw;
        }
        return acc;
    });
}

// Zeroes the gradient entries of samples [r0, r1) of x viewed as (n, C, inner): sample
// r = (i, d) owns x[(i C + c) inner + d] for every class c, so a block of samples owns whole
// rows (inner == 1) or, per (i, c), a run of consecutive d.
template <class T>
void zero_samples(T* grad, const ClassLossParams& p, std::int64_t r0, std::int64_t r1) {
    const std::int64_t C = p.c, inner = p.inner;
    const auto zero = [grad](std::int64_t lo, std::int64_t hi) {
        FASTOPT_SIMD
        for (std::int64_t j = lo; j < hi; ++j) grad[j] = T(0);
    };
    if (inner == 1) {
        zero(r0 * C, r1 * C);
        return;
    }
    for (std::int64_t i = r0 / inner; i * inner < r1; ++i) {
        const std::int64_t d0 = r0 > i * inner ? r0 - i * inner : 0;
        const std::int64_t d1 = r1 < (i + 1) * inner ? r1 - i * inner : inner;
        for (std::int64_t c = 0; c < C; ++c) zero((i * C + c) * inner + d0, (i * C + c) * inner + d1);
    }
}

// nll_loss: x holds log-probabilities; loss = -w_t x[t], gradient -scale w_t at t, 0 elsewhere.
template <class T>
LossSum nll(const T* x, const T* weight, T* grad, T* loss_none, const ClassLossParams& p, int threads) {
    const std::int64_t samples = p.n * p.inner;
    const int team = team_for(samples * p.c, threads);
    const Blocks blocks = sample_blocks(samples, p.c);
    double scale = 0.0;
    const auto setup = [&](double divisor) { scale = p.reduction == Reduction::mean ? p.grad_scale / divisor : p.grad_scale; };
    return class_loss_passes(weight, p, blocks, team, setup, [&](std::int64_t b) {
        const std::int64_t r0 = blocks.begin(b), r1 = blocks.end(b, samples);
        if (grad) zero_samples(grad, p, r0, r1);  // the gradient entries of this block's samples
        double acc = 0.0;
        for (std::int64_t r = r0; r < r1; ++r) {
            const std::int64_t t = target_at(p, r);
            double l = 0.0;
            if (t != p.ignore_index) {
                // (N, C) needs no division (a 64-bit one per sample cost more than the rest)
                const std::int64_t i = p.inner == 1 ? r : r / p.inner, d = p.inner == 1 ? 0 : r % p.inner;
                const std::int64_t at = (i * p.c + t) * p.inner + d;
                const double wt = weight ? static_cast<double>(weight[t]) : 1.0;
                l = -wt * static_cast<double>(x[at]);
                if (grad) grad[at] = static_cast<T>(-scale * wt);
            }
            if (loss_none) loss_none[r] = static_cast<T>(l);
            acc += l;
        }
        return acc;
    });
}

// ---- elementwise losses ---------------------------------------------------------------------

// Runs eval(i, loss, grad) over [0, n) in fixed blocks; writes grad * scale and the 'none'
// losses where asked, and returns the block-ordered double sum of the losses.
template <class T, class Eval>
LossSum pointwise_driver(T* grad, T* loss_none, std::int64_t n, const PointwiseParams& pp, int threads,
                         const Eval& eval) {
    LossSum res;
    res.divisor = static_cast<double>(n);
    if (n == 0) return res;
    const double scale = pp.reduction == Reduction::mean ? pp.grad_scale / static_cast<double>(n) : pp.grad_scale;
    const T sc = static_cast<T>(scale);
    const Blocks blocks = make_blocks(n, kGrain, 1024);
    const int team = team_for(n, threads);
    auto run = [&](auto want_grad, auto want_none) {
        return block_sum(blocks, team, [&](std::int64_t b) {
            const Eval ev = eval;  // locals: loads through the closure do not vectorize
            const T s = sc;
            T* const gr = grad;
            T* const ln = loss_none;
            double acc = 0.0;
            const std::int64_t e = blocks.end(b, n);
            FASTOPT_SIMD_REDUCTION(+ : acc)
            for (std::int64_t i = blocks.begin(b); i < e; ++i) {
                double l;
                T g;
                ev(i, l, g);
                if constexpr (decltype(want_grad)::value) gr[i] = g * s;
                if constexpr (decltype(want_none)::value) ln[i] = static_cast<T>(l);
                acc += l;
            }
            return acc;
        });
    };
    using Y = std::true_type;
    using N = std::false_type;
    if (grad && loss_none) res.total = run(Y{}, Y{});
    else if (grad) res.total = run(Y{}, N{});
    else if (loss_none) res.total = run(N{}, Y{});
    else res.total = run(N{}, N{});
    return res;
}

template <class Rule, class T>
LossSum pointwise(const T* pred, const T* target, const T*, const T*, T* grad, T* loss_none, std::int64_t n,
                  const PointwiseParams& pp, int threads) {
    const LossCoef<T> coef{static_cast<T>(pp.beta)};
    // by value: the loop's loads then come from registers, not through the closure
    return pointwise_driver(grad, loss_none, n, pp, threads, [pred, target, coef](std::int64_t i, double& l, T& g) {
        Rule::eval(pred[i], target[i], coef, l, g);
    });
}

template <class T>
LossSum bce(const T* x, const T* target, const T* weight, const T* pos_weight, T* grad, T* loss_none,
            std::int64_t n, const PointwiseParams& pp, int threads) {
    auto with = [&](auto has_w, auto has_pw) {
        return pointwise_driver(grad, loss_none, n, pp, threads, [x, target, weight, pos_weight](std::int64_t i, double& l, T& g) {
            T pw = T(1);
            if constexpr (decltype(has_pw)::value) pw = pos_weight[i];
            bce_with_logits(x[i], target[i], pw, l, g);
            if constexpr (decltype(has_w)::value) {
                l *= static_cast<double>(weight[i]);
                g *= weight[i];
            }
        });
    };
    using Y = std::true_type;
    using N = std::false_type;
    if (weight && pos_weight) return with(Y{}, Y{});
    if (weight) return with(Y{}, N{});
    if (pos_weight) return with(N{}, Y{});
    return with(N{}, N{});
}

// ---- dropout ------------------------------------------------------------------------------------

// Element i is kept when lane i % 4 of Philox4x32-10(counter = i / 4, key = seed) is at least
// p * 2^32 (so P(keep) = 1 - p up to 2^-32). y = x * (keep ? 1 / (1 - p) : 0), as torch's
// x * mask / (1 - p): a dropped NaN or inf gives NaN, as in torch.
template <class T>
void dropout(const T* x, T* y, std::uint8_t* mask, std::int64_t n, double p, std::uint64_t seed, int threads) {
    const std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
    const double tf = p * 4294967296.0;
    const std::uint64_t thresh = p >= 1.0 ? (std::uint64_t{1} << 32) : static_cast<std::uint64_t>(tf);
    const T scale = T(1) / static_cast<T>(1.0 - p);
    const bool drop_all = thresh >> 32 != 0;  // p = 1
    const std::uint32_t th32 = static_cast<std::uint32_t>(thresh);
    constexpr std::int64_t kB = 256;  // Philox groups (4 elements each) per step
    // Chunks of whole groups (parallel_for boundaries are multiples of kAlign = 64 groups).
    const std::int64_t groups = (n + 3) / 4;
    parallel_for(groups, kGrain / 4, threads, [&](std::int64_t g0, std::int64_t g1) {
        std::uint32_t r[4 * kB];
        for (std::int64_t gb = g0; gb < g1; gb += kB) {
            const std::int64_t nb = g1 - gb < kB ? g1 - gb : kB;
            // the random words, lane l of group j at r[4 j + l]
            FASTOPT_SIMD
            for (std::int64_t j = 0; j < nb; ++j) {
                const std::uint64_t c = static_cast<std::uint64_t>(gb + j);
                std::uint32_t a, b, d, e;
                philox4x32_10(static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32), k0, k1, a, b, d, e);
                r[4 * j] = a;
                r[4 * j + 1] = b;
                r[4 * j + 2] = d;
                r[4 * j + 3] = e;
            }
            const std::int64_t i0 = 4 * gb;
            std::int64_t len = 4 * nb;
            if (i0 + len > n) len = n - i0;  // the last, partial group
            const T* xs = x + i0;
            T* ys = y + i0;
            std::uint8_t* ms = mask + i0;
            const std::uint32_t th = th32;  // locals: closure members do not vectorize
            const T sc = scale;
            if (drop_all) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < len; ++i) {
                    ms[i] = 0;
                    ys[i] = xs[i] * T(0);
                }
                continue;
            }
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < len; ++i) {
                const bool keep = r[i] >= th;
                ms[i] = static_cast<std::uint8_t>(keep);
                ys[i] = xs[i] * (keep ? sc : T(0));
            }
        }
    });
}

template <class T>
void dropout_backward(const T* gy, const std::uint8_t* mask, T* gx, std::int64_t n, double p, int threads) {
    const T scale = T(1) / static_cast<T>(1.0 - p);
    parallel_for(n, kGrain, threads, [&](std::int64_t b, std::int64_t e) {
        FASTOPT_SIMD
        for (std::int64_t i = b; i < e; ++i) gx[i] = gy[i] * (mask[i] ? scale : T(0));
    });
}

template <class T>
LossKernels<T> make_kernels() {
    LossKernels<T> k{};
    k.softmax = &softmax_fwd<false, T>;
    k.log_softmax = &softmax_fwd<true, T>;
    k.softmax_backward = &softmax_bwd<false, T>;
    k.log_softmax_backward = &softmax_bwd<true, T>;
    k.cross_entropy = &cross_entropy<T>;
    k.nll = &nll<T>;
    k.pointwise[static_cast<int>(PointwiseLoss::mse)] = &pointwise<MseRule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::l1)] = &pointwise<L1Rule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::smooth_l1)] = &pointwise<SmoothL1Rule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::huber)] = &pointwise<HuberRule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::bce_with_logits)] = &bce<T>;
    k.dropout = &dropout<T>;
    k.dropout_backward = &dropout_backward<T>;
    return k;
}

}  // namespace

const LossTable& loss_table() {
    static const LossTable table{make_kernels<float>(), make_kernels<double>()};
    return table;
}

FASTOPT_NAMESPACE_END
