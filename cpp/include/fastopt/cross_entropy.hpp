// fastopt/cross_entropy.hpp: cross_entropy's per-row paths (class_losses.hpp runs them over
// its sample blocks). Every path computes the formulas of cross_entropy_rule.hpp:
//   row, row_prob      one contiguous row (inner == 1), vectorized along it
//   rows_small(_prob)  blocks of rows of at most kSmallC classes (inner == 1), class-major
//                      (class_major.hpp), vectorized across the rows; float with C <= 16 on
//                      AVX-512: cross_entropy_rows16.hpp
//   tile               up to kTile strided samples (inner > 1), vectorized across them
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "fastopt/class_major.hpp"
#include "fastopt/class_major_stats.hpp"
#include "fastopt/cross_entropy_rows16.hpp"
#include "fastopt/cross_entropy_rule.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/losses.hpp"
#include "fastopt/loss_params.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

FASTOPT_INLINE std::int64_t target_at(const ClassLossParams& p, std::int64_t r) {
    return p.target_kind == 0 ? static_cast<std::int64_t>(static_cast<const std::int32_t*>(p.target)[r])
                              : static_cast<const std::int64_t*>(p.target)[r];
}

constexpr std::int64_t kSmallC = 32;  // rows this short take rows_small

template <class T>
struct CE {
    const T* x;
    const T* w;
    T* grad;
    T* loss_none;
    const ClassLossParams& p;
    CeRule rule;

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
        const SmoothedTarget<T> qs(rule);
        const T* const wv = w;
        const auto run = [&](auto has_w) {
            constexpr bool weighted = decltype(has_w)::value;
            double S = 0.0;
            FASTOPT_SIMD_REDUCTION(+ : S)
            for (std::int64_t j = 0; j < C; ++j) {
                if constexpr (weighted) S += static_cast<double>(wv[j]) * static_cast<double>(qs(q[j]));
                else S += static_cast<double>(qs(q[j]));
            }
            const T mm = m;
            double acc = 0.0;
            FASTOPT_SIMD_REDUCTION(+ : acc)
            for (std::int64_t j = 0; j < C; ++j) {
                T wq = qs(q[j]);
                if constexpr (weighted) wq = wv[j] * wq;
                acc += static_cast<double>(wq) * ((static_cast<double>(mm) - static_cast<double>(xr[j])) + ls);
            }
            if (grad) {
                T* const g = grad + i * C;
                const T A = static_cast<T>(rule.prob_factor(S, s)), sc = static_cast<T>(rule.scale);
                FASTOPT_SIMD
                for (std::int64_t j = 0; j < C; ++j) {
                    T wq = qs(q[j]);
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
            row_stats(xr, C, m, s, g, cm);  // g holds exp(x - running max) until rescaled
        else
            row_stats(xr, C, m, s);
        // The next row (when it fits L1 easily) is requested now, so its reads overlap this
        // row's gradient pass, which only reads L1 and writes.
        if (g && i + 1 < p.n) prefetch_row(xr + C, C);
        const double ls = std::log(s);
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        double loss = rule.target_loss(wt, static_cast<double>(m), static_cast<double>(xr[t]), ls);
        const T A = static_cast<T>(rule.factor(wt, s));
        const double acc = g ? row_grad(xr, g, cm, m, A, t, wt) : row_smoothing(xr, m);
        if (rule.eps > 0.0) loss = rule.smoothed_loss(loss, acc, ls);
        return loss;
    }

    // row()'s gradient pass: g (holding e = exp(x - cm[k]) per chunk k, row_stats) becomes
    // A e - sub w, then hit is subtracted at t. Returns acc = sum_c w_c (m - x_c) when
    // smoothing (0 otherwise), summed in the same chunks and order as row_smoothing.
    FASTOPT_INLINE double row_grad(const T* xr, T* g, const T* cm, T mm, T A, std::int64_t t, double wt) const {
        const std::int64_t C = p.c;
        const double eps = rule.eps;
        const T sub = static_cast<T>(rule.sub());
        double acc = 0.0;
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
        g[t] -= static_cast<T>(rule.hit(wt));
        return acc;
    }

    // row()'s acc = sum_c w_c (m - x_c) without a gradient (0 without smoothing): the same
    // chunks and order as row_grad, so the loss has the same bits either way.
    FASTOPT_INLINE double row_smoothing(const T* xr, T mm) const {
        const std::int64_t C = p.c;
        double acc = 0.0;
        if (!(rule.eps > 0.0)) return acc;
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
        return acc;
    }

    // rows_small's class-major buffers for one block of up to kSmallRows rows.
    struct SmallBlock {
        static constexpr std::int64_t R = kSmallRows;
        alignas(64) T xt[kSmallC * R];  // xt[c * R + i] = x[row rb + i, class c]
        alignas(64) T et[kSmallC * R];  // exp(x - m), then the gradient, class-major
        alignas(64) T m[R], xtt[R], A[R], hit[R], keep[R];
        alignas(64) double s[R], ls[R], wt[R], loss[R], acc[R];
        alignas(64) std::int32_t tt[R];  // target class, -1 if ignored (C < 33)
    };

    // Rows [r0, r1) with few classes (index targets, inner == 1). Along a row of C < 33 there is
    // too little to vectorize (each step would be one short dependent chain per row), so each
    // block of kSmallRows rows is transposed into a class-major buffer and every step runs
    // across the rows instead: the max, e = exp(x - m) (kept, so one exp per logit), the
    // double sum, the per-row factors, the gradient (formed in the buffer, transposed back).
    double rows_small(std::int64_t r0, std::int64_t r1, T* none) const {
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>)
            if (p.c >= 1 && p.c <= 16) return cross_entropy_rows16(*this, r0, r1, none);  // the same values
#endif
        constexpr std::int64_t R = SmallBlock::R;
        const std::int64_t C = p.c;
        SmallBlock b;
        double total = 0.0;
        for (std::int64_t rb = r0; rb < r1; rb += R) {
            const std::int64_t nb = r1 - rb < R ? r1 - rb : R;
            to_class_major(x + rb * C, C, nb, b.xt);
            max_exp_sum(b.xt, b.et, b.m, b.s, C, nb);
            log_sums<T>(b.s, b.ls, nb);
            small_targets(b, rb, nb);
            small_losses(b, nb);
            if (none) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) none[rb + i] = static_cast<T>(b.loss[i]);
            }
            total += sum_lanes(b.loss, 0, nb, [](double v) { return v; });  // not one dependent chain
            if (!grad) continue;
            small_grad(b, nb);
            to_row_major(b.et, C, nb, grad + rb * C);
        }
        return total;
    }

    // rows_small: the block's targets tt (-1 if ignored), their logits xtt (0 if ignored) and
    // weights wt (0 if ignored).
    FASTOPT_INLINE void small_targets(SmallBlock& b, std::int64_t rb, std::int64_t nb) const {
        constexpr std::int64_t R = SmallBlock::R;
        const std::int64_t ig = p.ignore_index;
        if (p.target_kind == 0) {
            const std::int32_t* t32 = static_cast<const std::int32_t*>(p.target) + rb;
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) b.tt[i] = t32[i] == ig ? -1 : t32[i];
        } else {
            const std::int64_t* t64 = static_cast<const std::int64_t*>(p.target) + rb;
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) b.tt[i] = t64[i] == ig ? -1 : static_cast<std::int32_t>(t64[i]);
        }
        // With AVX2 the logit is picked class by class (a select per class and row): the
        // gather ran as scalar loads and stores, whose vector reads of xtt then stalled on
        // store forwarding. SSE2 has no blend: there the gather is faster.
#if defined(__AVX2__)
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) b.xtt[i] = T(0);
        for (std::int64_t c = 0; c < p.c; ++c) {
            const T* xc = b.xt + c * R;
            const std::int32_t cc = static_cast<std::int32_t>(c);
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) b.xtt[i] = b.tt[i] == cc ? xc[i] : b.xtt[i];
        }
#else
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) b.xtt[i] = b.xt[(b.tt[i] < 0 ? 0 : b.tt[i]) * R + i];
#endif
        if (w) {
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i)
                b.wt[i] = b.tt[i] < 0 ? 0.0 : static_cast<double>(w[b.tt[i] < 0 ? 0 : b.tt[i]]);
        } else {
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i) b.wt[i] = b.tt[i] < 0 ? 0.0 : 1.0;
        }
    }

    // rows_small: the block's losses and gradient factors (pure arithmetic across the rows, so
    // the loops vectorize, the double division included).
    FASTOPT_INLINE void small_losses(SmallBlock& b, std::int64_t nb) const {
        constexpr std::int64_t R = SmallBlock::R;
        const CeRule r = rule;
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) {
            const bool ign = b.tt[i] < 0;
            const double l = r.target_loss(b.wt[i], static_cast<double>(b.m[i]), static_cast<double>(b.xtt[i]), b.ls[i]);
            const double a = r.factor(b.wt[i], b.s[i]);
            b.loss[i] = ign ? 0.0 : l;
            b.A[i] = ign ? T(0) : static_cast<T>(a);
            b.hit[i] = static_cast<T>(r.hit(b.wt[i]));
            b.keep[i] = ign ? T(0) : T(1);
        }
        if (!(r.eps > 0.0)) return;
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) b.acc[i] = 0.0;
        for (std::int64_t c = 0; c < p.c; ++c) {
            const T* xc = b.xt + c * R;
            const double wc = w ? static_cast<double>(w[c]) : 1.0;
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < nb; ++i)
                b.acc[i] += wc * (static_cast<double>(b.m[i]) - static_cast<double>(xc[i]));
        }
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i)
            b.loss[i] = b.keep[i] != T(0) ? r.smoothed_loss(b.loss[i], b.acc[i], b.ls[i]) : 0.0;
    }

    // rows_small: the gradient A e_c - sub w_c - [c == t] hit, 0 for ignored rows, in b.et.
    FASTOPT_INLINE void small_grad(SmallBlock& b, std::int64_t nb) const {
        constexpr std::int64_t R = SmallBlock::R;
        const T sub = static_cast<T>(rule.sub());
        for (std::int64_t c = 0; c < p.c; ++c) {
            T* ec = b.et + c * R;
            const T wc = w ? w[c] : T(1);
            const std::int32_t cc = static_cast<std::int32_t>(c);
            if (rule.eps > 0.0) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) {
                    T v = b.A[i] * ec[i] - sub * wc;
                    v = b.tt[i] == cc ? v - b.hit[i] : v;
                    ec[i] = b.keep[i] != T(0) ? v : T(0);
                }
            } else {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) {
                    T v = b.A[i] * ec[i];
                    v = b.tt[i] == cc ? v - b.hit[i] : v;
                    ec[i] = b.keep[i] != T(0) ? v : T(0);
                }
            }
        }
    }

    // rows_small for probability targets q: the block's logits and targets both transposed,
    // then per row (across the rows) the max / exp / sum, S, the loss and the gradient:
    // row_prob's formulas, row_prob's 4-16x slowdown for short rows gone (its loops never
    // reached a full vector at C = 10).
    double rows_small_prob(std::int64_t r0, std::int64_t r1, T* none) const {
        constexpr std::int64_t R = kSmallRows;
        const std::int64_t C = p.c;
        const T* q = static_cast<const T*>(p.target);
        alignas(64) T xt[kSmallC * R], qt[kSmallC * R], et[kSmallC * R];
        alignas(64) T m[R], A[R];
        alignas(64) double s[R], ls[R], S[R], loss[R];
        const SmoothedTarget<T> qs(rule);
        const T sc = static_cast<T>(rule.scale);
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
                    const T wq = wc * qs(qc[i]);
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
            for (std::int64_t i = 0; i < nb; ++i) A[i] = static_cast<T>(rule.prob_factor(S[i], s[i]));
            for (std::int64_t c = 0; c < C; ++c) {
                const T wc = w ? w[c] : T(1);
                const T* qc = qt + c * R;
                T* e = et + c * R;
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) e[i] = A[i] * e[i] - sc * (wc * qs(qc[i]));
            }
            to_row_major(et, C, nb, grad + rb * C);
        }
        return total;
    }

    // Up to kTile strided samples (i, d0 .. d0 + nw) (inner > 1); writes their losses to out.
    void tile(std::int64_t i, std::int64_t d0, std::int64_t nw, double* out) const {
        const std::int64_t base = i * p.c * p.inner + d0;
        T m[kTile];
        double s[kTile], ls[kTile], acc[kTile];
        tile_stats(x + base, p.c, p.inner, nw, m, s);
        for (std::int64_t k = 0; k < nw; ++k) {
            ls[k] = math::log_sum64(s[k]);
            acc[k] = 0.0;
        }
        if (p.target_kind == 2)
            tile_prob(base, nw, m, s, ls, acc, out);
        else
            tile_index(i * p.inner + d0, base, nw, m, s, ls, acc, out);
    }

    // tile() with probability targets; acc: nw zeros to sum in.
    FASTOPT_INLINE void tile_prob(std::int64_t base, std::int64_t nw, const T* m, const double* s, const double* ls,
                                  double* acc, double* out) const {
        const std::int64_t C = p.c, inner = p.inner;
        const T* xt = x + base;
        T* gt = grad ? grad + base : nullptr;
        const T* q = static_cast<const T*>(p.target) + base;
        const SmoothedTarget<T> qs(rule);
        T A[kTile];
        for (std::int64_t c = 0; c < C; ++c) {
            const T wc = w ? w[c] : T(1);
            const T* qc = q + c * inner;
            FASTOPT_SIMD
            for (std::int64_t k = 0; k < nw; ++k) acc[k] += static_cast<double>(wc) * static_cast<double>(qs(qc[k]));
        }
        for (std::int64_t k = 0; k < nw; ++k) {
            A[k] = static_cast<T>(rule.prob_factor(acc[k], s[k]));
            acc[k] = 0.0;
        }
        const T sc = static_cast<T>(rule.scale);
        for (std::int64_t c = 0; c < C; ++c) {
            const T wc = w ? w[c] : T(1);
            const T* xc = xt + c * inner;
            const T* qc = q + c * inner;
            FASTOPT_SIMD  // loss and gradient in separate loops, as in row_prob
            for (std::int64_t k = 0; k < nw; ++k) {
                const T wq = wc * qs(qc[k]);
                acc[k] += static_cast<double>(wq) * ((static_cast<double>(m[k]) - static_cast<double>(xc[k])) + ls[k]);
            }
            if (gt) {
                T* gc = gt + c * inner;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < nw; ++k)
                    gc[k] = A[k] * math::exp_nonpositive(xc[k] - m[k]) - sc * (wc * qs(qc[k]));
            }
        }
        for (std::int64_t k = 0; k < nw; ++k) out[k] = acc[k];
    }

    // tile() with index targets; r0 is the first sample's index, acc: nw zeros to sum in.
    FASTOPT_INLINE void tile_index(std::int64_t r0, std::int64_t base, std::int64_t nw, const T* m, const double* s,
                                   const double* ls, double* acc, double* out) const {
        const std::int64_t C = p.c, inner = p.inner;
        const T* xt = x + base;
        T* gt = grad ? grad + base : nullptr;
        T A[kTile], keep[kTile], sub[kTile];
        double wt[kTile];
        std::int64_t t[kTile];
        for (std::int64_t k = 0; k < nw; ++k) {
            t[k] = target_at(p, r0 + k);
            const bool ign = t[k] == p.ignore_index;
            wt[k] = ign ? 0.0 : (w ? static_cast<double>(w[t[k]]) : 1.0);
            keep[k] = ign ? T(0) : T(1);
            A[k] = ign ? T(0) : static_cast<T>(rule.factor(wt[k], s[k]));
            sub[k] = ign ? T(0) : static_cast<T>(rule.sub());
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
                    const T v = A[k] * math::exp_nonpositive(xc[k] - m[k]) - sub[k] * wc;
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
            double loss = rule.target_loss(wt[k], static_cast<double>(m[k]), xt_k, ls[k]);
            if (rule.eps > 0.0) loss = rule.smoothed_loss(loss, acc[k], ls[k]);
            out[k] = loss;
            if (gt) gt[t[k] * inner + k] -= static_cast<T>(rule.hit(wt[k]));
        }
    }
};

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
