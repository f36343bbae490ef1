// fastopt/math_bits.hpp: bit casts and |x| for float and double, the building blocks of the
// transcendentals in math_float.hpp and math_double.hpp (include fastopt/math.hpp).
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace math {

FASTOPT_INLINE std::uint32_t bits(float x) { return __builtin_bit_cast(std::uint32_t, x); }
FASTOPT_INLINE float from_bits(std::uint32_t b) { return __builtin_bit_cast(float, b); }
FASTOPT_INLINE std::uint64_t bits(double x) { return __builtin_bit_cast(std::uint64_t, x); }
FASTOPT_INLINE double from_bits(std::uint64_t b) { return __builtin_bit_cast(double, b); }

FASTOPT_INLINE float abs(float x) { return from_bits(bits(x) & 0x7fffffffu); }
FASTOPT_INLINE double abs(double x) { return __builtin_fabs(x); }

}  // namespace math
FASTOPT_NAMESPACE_END
