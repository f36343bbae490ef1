// fastopt/cross_entropy_rule.hpp: the per-sample softmax cross-entropy and its gradient, defined once
// for every path that computes it (cross_entropy.hpp: CE::row, rows_small, tile;
// cross_entropy_rows16.hpp on AVX-512).
//
// A sample's logits x_c, c < C, enter through its row statistics: m = max_c x_c,
// s = sum_c e_c with e_c = exp(x_c - m), ls = log s, so that lse - x_c = (m - x_c) + ls.
// eps = label_smoothing, w the class weights (ones without), wsum = sum_c w_c.
//
// Index target t (a sample with t == ignore_index has loss 0 and gradient 0):
//   loss   = (1 - eps) w_t ((m - x_t) + ls) + eps/C (acc + wsum ls),  acc = sum_c w_c (m - x_c)
//   grad_c = A e_c - sub w_c - [c == t] hit, with the gradient's scale folded in:
//            A = scale ((1 - eps) w_t + eps/C wsum) / s,  sub = scale eps/C,  hit = scale (1 - eps) w_t
// Probability target q, smoothed qs_c = (1 - eps) q_c + eps/C, S = sum_c w_c qs_c:
//   loss   = sum_c w_c qs_c ((m - x_c) + ls)
//   grad_c = A e_c - scale w_c qs_c,  A = scale S / s
//
// The paths feed these the same quantities computed in their own order, so they agree to
// rounding, not bitwise: ls is std::log(s) in row(), log_sums (float: to float precision) in
// rows_small and rows16, log_sum64 in tile; acc and the probability targets' sums run along
// the row in SIMD lanes in row() and row_prob(), class by class elsewhere; S adds w_c qs_c
// formed in double in row_prob() and tile, rounded to T in rows_small_prob(). rows16 computes
// rows_small's values bit for bit (float, C <= 16).
#pragma once

#include "fastopt/config.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Per-call constants and the per-sample formulas. Each formula is one expression in double,
// written where every path evaluates it: its roundings (and FMA contractions) are the same in
// every path that inlines it.
struct CeRule {
    double eps;    // label_smoothing
    double eps_c;  // label_smoothing / C
    double wsum;   // sum of the class weights (C without weights)
    double scale;  // gradient multiplier (grad_scale, / divisor for 'mean'), set once pass 1 is done

    // Index target: (1 - eps) w_t ((m - x_t) + ls), the target's share of the loss.
    FASTOPT_INLINE double target_loss(double wt, double m, double xt, double ls) const {
        return (1.0 - eps) * wt * ((m - xt) + ls);
    }
    // Index target: the loss with the smoothing share added (eps > 0), acc = sum_c w_c (m - x_c).
    FASTOPT_INLINE double smoothed_loss(double loss, double acc, double ls) const {
        return loss + eps_c * (acc + wsum * ls);
    }
    // Index target: A, the factor of e_c in every gradient entry. eps/C wsum comes first: where
    // both products could be contracted into an FMA (tile), GCC contracts the first one.
    FASTOPT_INLINE double factor(double wt, double s) const { return scale * (eps_c * wsum + (1.0 - eps) * wt) / s; }
    // Index target: hit, subtracted at the target's entry.
    FASTOPT_INLINE double hit(double wt) const { return scale * (1.0 - eps) * wt; }
    // Index target: sub, times w_c subtracted from every entry (the smoothing's share).
    FASTOPT_INLINE double sub() const { return scale * eps_c; }

    // Probability target: A, the factor of e_c in every gradient entry.
    FASTOPT_INLINE double prob_factor(double S, double s) const { return scale * S / s; }
};

// Probability target: qs = (1 - eps) q + eps/C, in the logits' type.
template <class T>
struct SmoothedTarget {
    T one_m, ec;
    explicit SmoothedTarget(const CeRule& r) : one_m(static_cast<T>(1.0 - r.eps)), ec(static_cast<T>(r.eps_c)) {}
    FASTOPT_INLINE T operator()(T q) const { return q * one_m + ec; }
};

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
