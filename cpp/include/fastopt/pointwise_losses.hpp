// fastopt/pointwise_losses.hpp: the elementwise losses (mse, l1, smooth_l1, huber,
// bce_with_logits), value and gradient in one pass (fastopt::mse_loss and friends in api.hpp;
// the extension's tables, cpp/src/isa/pointwise_losses.cpp, point at the same templates). The
// rules are in fastopt/losses.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fastopt/config.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/loss_grain.hpp"
#include "fastopt/loss_params.hpp"
#include "fastopt/losses.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Sums f(block) over the blocks in block order (each block's value computed by one thread).
template <class F>
double block_sum(const Blocks& blocks, int threads, const F& f) {
    Scratch<double> partial(blocks.count);
    parallel_blocks(blocks.count, threads, [&](std::int64_t b) { partial.data[b] = f(b); });
    double total = 0.0;
    for (std::int64_t b = 0; b < blocks.count; ++b) total += partial.data[b];
    return total;
}

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

// The per-element evaluations pointwise_driver runs: structs whose call is always inlined, so
// the driver's loop is the same code whatever else the translation unit holds (as lambdas, GCC
// kept an out-of-line copy here and there, which changed the loop's code and a sum's bits).
template <class Rule, class T>
struct PointwiseEval {
    const T* pred;
    const T* target;
    LossCoef<T> coef;
    FASTOPT_INLINE void operator()(std::int64_t i, double& l, T& g) const { Rule::eval(pred[i], target[i], coef, l, g); }
};

// bce_with_logits, times weight[i] when Weighted, with pos_weight[i] when PosWeighted.
template <bool Weighted, bool PosWeighted, class T>
struct BceEval {
    const T* x;
    const T* target;
    const T* weight;
    const T* pos_weight;
    FASTOPT_INLINE void operator()(std::int64_t i, double& l, T& g) const {
        T pw = T(1);
        if constexpr (PosWeighted) pw = pos_weight[i];
        bce_with_logits(x[i], target[i], pw, l, g);
        if constexpr (Weighted) {
            l *= static_cast<double>(weight[i]);
            g *= weight[i];
        }
    }
};

template <class Rule, class T>
LossSum pointwise(const T* pred, const T* target, const T*, const T*, T* grad, T* loss_none, std::int64_t n,
                  const PointwiseParams& pp, int threads) {
    const LossCoef<T> coef{static_cast<T>(pp.beta)};
    // by value: the loop's loads then come from registers, not through the evaluation's pointer
    return pointwise_driver(grad, loss_none, n, pp, threads, PointwiseEval<Rule, T>{pred, target, coef});
}

template <class T>
LossSum bce(const T* x, const T* target, const T* weight, const T* pos_weight, T* grad, T* loss_none,
            std::int64_t n, const PointwiseParams& pp, int threads) {
    auto with = [&](auto has_w, auto has_pw) {
        using Eval = BceEval<decltype(has_w)::value, decltype(has_pw)::value, T>;
        return pointwise_driver(grad, loss_none, n, pp, threads, Eval{x, target, weight, pos_weight});
    };
    using Y = std::true_type;
    using N = std::false_type;
    if (weight && pos_weight) return with(Y{}, Y{});
    if (weight) return with(Y{}, N{});
    if (pos_weight) return with(N{}, Y{});
    return with(N{}, N{});
}

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
