// fastopt/math.hpp: float32 and float64 transcendentals that vectorize, with stated accuracy.
//
// std::exp and friends stay scalar libm calls inside a `#pragma omp simd` loop (unless
// -ffast-math, which fastopt never uses), so the functions here are branch-free
// polynomial code: ternaries become blends, bit casts replace frexp/ldexp, there are no
// tables (but one, tanh_array's, held in registers on AVX-512). They are written for
// `a * b + c` to be contracted to FMA where the ISA has it (-ffp-contract=fast) and are
// accurate with or without that contraction. NaN propagates through every function.
//
// The one header to include; the functions live in
//   math_bits.hpp    bit casts and abs
//   math_float.hpp   float: exp (and exp16_nonpositive, its AVX-512 form), expm1, log_sum,
//                    log1p_unit, tanh (and tanh_array), the normal tail for GELU; accuracy there
//   math_double.hpp  double: exp, expm1_nonpositive, log1p_unit, log_sum64, tanh, normal_tail
// and normal_cdf, for both, below.
#pragma once

#include <cmath>
#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/math_bits.hpp"
#include "fastopt/math_double.hpp"
#include "fastopt/math_float.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace math {

// The standard normal CDF Phi(x), float or double, with small relative error for x < 0 too
// (where torch's 0.5 * (1 + erf(x / sqrt 2)) cancels): from the tail Phi(-|x|). NaN propagates.
template <class T>
FASTOPT_INLINE T normal_cdf(T x) {
    T gauss;
    const T tail = normal_tail(x, gauss);
    const T y = x > T(0) ? T(1) - tail : tail;
    return x != x ? x : y;
}

}  // namespace math
FASTOPT_NAMESPACE_END
