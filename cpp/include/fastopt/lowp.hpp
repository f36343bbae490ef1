// fastopt/lowp.hpp: bfloat16 and float16 <-> float32, branch-free so loops vectorize.
//
// Both directions are exact IEEE conversions: widening is exact, narrowing rounds to nearest
// even, overflows to +-inf, keeps NaN a (quiet) NaN and handles subnormals without relying
// on the FPU's denormal mode. Half values travel as their uint16 bit patterns.
#pragma once

#include <cstdint>
#include <cstring>

#include "fastopt/config.hpp"

FASTOPT_NAMESPACE_BEGIN

FASTOPT_INLINE std::uint32_t bits_of(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
FASTOPT_INLINE float float_of(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

FASTOPT_INLINE float bf16_to_float(std::uint16_t h) { return float_of(std::uint32_t{h} << 16); }

FASTOPT_INLINE std::uint16_t float_to_bf16(float f) {
    const std::uint32_t u = bits_of(f);
    const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
    return static_cast<std::uint16_t>(nan ? ((u >> 16) | 0x40u) : rounded);
}

FASTOPT_INLINE float f16_to_float(std::uint16_t h) {
    const std::uint32_t sign = (std::uint32_t{h} & 0x8000u) << 16;
    const std::uint32_t em = std::uint32_t{h} & 0x7FFFu;
    // Normal: move the fields and rebias the exponent by 127 - 15.
    const std::uint32_t normal = (em << 13) + ((127u - 15u) << 23);
    // Subnormal (and zero): m * 2^-24, exact in float.
    const std::uint32_t subnormal = bits_of(static_cast<float>(static_cast<std::int32_t>(em)) * 0x1p-24f);
    const std::uint32_t special = (em << 13) | 0x7F800000u;  // inf / NaN keep their payload
    const std::uint32_t mag = em >= 0x7C00u ? special : (em < 0x0400u ? subnormal : normal);
    return float_of(sign | mag);
}

FASTOPT_INLINE std::uint16_t float_to_f16(float f) {
    const std::uint32_t u = bits_of(f);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    const std::uint32_t a = u & 0x7FFFFFFFu;
    // Normal range: drop 13 mantissa bits with round-to-nearest-even, then rebias.
    const std::uint32_t normal = (a - ((127u - 15u) << 23) + 0xFFFu + ((a >> 13) & 1u)) >> 13;
    // Below 2^-14: adding 0.5 lines the half's subnormal ulp (2^-24) up with float's last
    // mantissa bit, so the FPU does the rounding; the result's low bits are the half's.
    const std::uint32_t subnormal = bits_of(float_of(a) + 0.5f) - bits_of(0.5f);
    std::uint32_t h = a < 0x38800000u ? subnormal : normal;
    h = a >= 0x477FF000u ? 0x7C00u : h;                  // rounds to >= 65520: inf
    h = a > 0x7F800000u ? (0x7E00u | ((a >> 13) & 0x3FFu)) : h;    // NaN stays a quiet NaN
    return static_cast<std::uint16_t>(sign | h);
}

FASTOPT_NAMESPACE_END
