// tools/gelu_ulp.cpp: exhaustive float32 accuracy of gelu (erf form), forward and backward,
// and of math::normal_cdf that they are built on.
//
// Runs Gelu::forward(x), Gelu::backward(1, x) and math::normal_cdf(x) over every float32 bit
// pattern (2^32 inputs) inside `#pragma omp simd` loops, as the kernels do, and compares each
// result with the float64 reference rounded to float32:
//   forward   x * Phi(x),            Phi(x) = erfc(-x / sqrt 2) / 2
//   backward  Phi(x) + x * phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
//   cdf       Phi(x)
// (libm's double erfc/exp: within an ULP or two of double, far below float32's half ULP;
// -x / sqrt 2 rounds in double, a relative 2^-53 x^2 in Phi's left tail, < 2^-45 here).
//
// Reports per function: the max ULP distance over normal results (|ref| >= 2^-126) and over
// results >= 2^-100, with the input where it occurs; the max absolute error where the
// reference is zero or subnormal; mismatches of NaN-ness or of the sign of zero (both count
// as failures). Backward results near its zero crossing (x ~ -0.7518) have no relative
// accuracy (Phi(x) + x phi(x) cancels), so the backward also gets a measure that does not
// blow up there: the error in ULP of |Phi(x)| + |x phi(x)| (the terms' size, "term ULP").
//
// Build it with the flags of the ISA to check (CMakeLists.txt's FASTOPT_KERNEL_FLAGS plus the
// ISA's), e.g. for avx512:
//   g++ -std=c++17 -O3 -fopenmp -fno-math-errno -ffp-contract=fast -fno-trapping-math
//       -march=x86-64-v4 -mtune=generic -mprefer-vector-width=512 -DFASTOPT_ISA=avx512
//       -Icpp/include tools/gelu_ulp.cpp -o /tmp/gelu_ulp && /tmp/gelu_ulp
// (one command line)
// generic: no -m flags (and -DFASTOPT_ISA=generic); avx2: -mavx2 -mfma -mf16c.
// `gelu_ulp LO HI` checks the bit patterns [LO, HI) only (hex or decimal), e.g. a range of
// interest; the default is all of them. Takes a few minutes per ISA on 2 cores.
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fastopt/activations.hpp"

namespace {

using fastopt::Gelu;

float from_bits(std::uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
std::uint32_t bits_of(float f) { std::uint32_t b; std::memcpy(&b, &f, 4); return b; }

// float -> integer that orders like the floats, -0 == +0: ULP distance is a subtraction.
std::int64_t ordered(float f) {
    const std::int32_t i = static_cast<std::int32_t>(bits_of(f));
    return i < 0 ? -static_cast<std::int64_t>(i & 0x7fffffff) : i;
}

double ref_forward(float xf) {
    const double x = xf;
    if (std::isnan(x)) return x;
    if (std::isinf(x)) return x > 0 ? x : NAN;  // -inf * 0
    return x * (0.5 * std::erfc(-x * 0.70710678118654752440));
}

double ref_cdf(float xf) {
    const double x = xf;
    return 0.5 * std::erfc(-x * 0.70710678118654752440);  // NaN -> NaN, +-inf -> 1, 0
}

double ref_backward(float xf, double* terms = nullptr) {
    const double x = xf;
    if (std::isnan(x)) return x;
    if (std::isinf(x)) return NAN;  // Phi + x phi: inf * 0 (as torch)
    const double Phi = 0.5 * std::erfc(-x * 0.70710678118654752440);
    const double phi = std::exp(-0.5 * x * x) * 0.39894228040143267794;
    if (terms) *terms = std::fabs(Phi) + std::fabs(x * phi);
    return Phi + x * phi;
}

// ULP of float32 at magnitude m (normal range), as a double.
double ulp_at(double m) {
    int e;
    std::frexp(m, &e);  // m = f 2^e, f in [0.5, 1)
    return std::ldexp(1.0, (e - 1 < -126 ? -126 : e - 1) - 23);
}

struct Stats {
    std::int64_t max_ulp = 0, max_ulp_away = 0, max_ulp_big = 0;
    float at = 0, at_away = 0, at_big = 0;
    double max_abs_tiny = 0;
    float at_tiny = 0;
    std::int64_t nan_mismatch = 0, zero_sign_mismatch = 0, count = 0;
    float first_bad = 0;
    double max_term_ulp = 0;  // backward: error in ULP of the terms' size
    float at_term = 0;

    void add(float x, float got, double ref, double terms = 0) {
        ++count;
        if (terms > 0 && std::isfinite(got) && std::isfinite(ref)) {
            const double e = std::fabs(static_cast<double>(got) - ref) / ulp_at(terms);
            if (e > max_term_ulp) { max_term_ulp = e; at_term = x; }
        }
        const float r = static_cast<float>(ref);
        if (std::isnan(ref) || std::isnan(got)) {
            if (std::isnan(ref) != std::isnan(got)) {
                if (nan_mismatch++ == 0) first_bad = x;
            }
            return;
        }
        if (std::fabs(ref) < 0x1p-126) {  // zero or subnormal: absolute error
            const double e = std::fabs(static_cast<double>(got) - ref);
            if (e > max_abs_tiny) { max_abs_tiny = e; at_tiny = x; }
            if (r == 0.0f && got == 0.0f && std::signbit(r) != std::signbit(got)) ++zero_sign_mismatch;
            return;
        }
        std::int64_t u = ordered(got) - ordered(r);
        if (u < 0) u = -u;
        if (u > max_ulp) { max_ulp = u; at = x; }
        if (std::fabs(ref) >= 0x1p-100 && u > max_ulp_away) { max_ulp_away = u; at_away = x; }
        if (std::fabs(ref) >= 0x1p-10 && u > max_ulp_big) { max_ulp_big = u; at_big = x; }
    }

    void merge(const Stats& o) {
        if (o.max_ulp > max_ulp) { max_ulp = o.max_ulp; at = o.at; }
        if (o.max_ulp_away > max_ulp_away) { max_ulp_away = o.max_ulp_away; at_away = o.at_away; }
        if (o.max_ulp_big > max_ulp_big) { max_ulp_big = o.max_ulp_big; at_big = o.at_big; }
        if (o.max_term_ulp > max_term_ulp) { max_term_ulp = o.max_term_ulp; at_term = o.at_term; }
        if (o.max_abs_tiny > max_abs_tiny) { max_abs_tiny = o.max_abs_tiny; at_tiny = o.at_tiny; }
        if (o.nan_mismatch && !nan_mismatch) first_bad = o.first_bad;
        nan_mismatch += o.nan_mismatch;
        zero_sign_mismatch += o.zero_sign_mismatch;
        count += o.count;
    }

    void print(const char* name) const {
        std::printf("%-8s %" PRId64 " inputs: max %" PRId64 " ULP at x=%.9g; results >= 2^-100: %" PRId64
                    " ULP at x=%.9g; >= 2^-10: %" PRId64 " ULP at x=%.9g; zero/subnormal results: max abs error %.3g at x=%.9g;"
                    " NaN mismatches %" PRId64 " (first x=%.9g); zero sign mismatches %" PRId64 "\n",
                    name, count, max_ulp, at, max_ulp_away, at_away, max_ulp_big, at_big, max_abs_tiny,
                    at_tiny, nan_mismatch, first_bad, zero_sign_mismatch);
        if (max_term_ulp > 0) std::printf("         max error in ULP of |Phi| + |x phi|: %.2f at x=%.9g\n", max_term_ulp, at_term);
    }
};

constexpr std::int64_t kBlock = 1 << 16;

}  // namespace

int main(int argc, char** argv) {
    std::int64_t lo = 0, hi = std::int64_t{1} << 32;
    if (argc == 3) {
        lo = std::strtoll(argv[1], nullptr, 0);
        hi = std::strtoll(argv[2], nullptr, 0);
    }
    const fastopt::Coef<float> coef(fastopt::ActivationParams{});
    Stats fwd, bwd, cdf;
    const std::int64_t nblocks = (hi - lo + kBlock - 1) / kBlock;
#pragma omp parallel
    {
        std::vector<float> x(kBlock), y(kBlock), g(kBlock), p(kBlock);
        Stats f_local, b_local, c_local;
#pragma omp for schedule(dynamic, 16)
        for (std::int64_t b = 0; b < nblocks; ++b) {
            const std::int64_t begin = lo + b * kBlock;
            const std::int64_t n = begin + kBlock <= hi ? kBlock : hi - begin;
            for (std::int64_t i = 0; i < n; ++i) x[i] = from_bits(static_cast<std::uint32_t>(begin + i));
            const float* xs = x.data();
            float* ys = y.data();
            float* gs = g.data();
            float* ps = p.data();
            const fastopt::Coef<float> c = coef;
#pragma omp simd
            for (std::int64_t i = 0; i < n; ++i) ys[i] = Gelu::forward(xs[i], c);
#pragma omp simd
            for (std::int64_t i = 0; i < n; ++i) gs[i] = Gelu::backward(1.0f, xs[i], c);
#pragma omp simd
            for (std::int64_t i = 0; i < n; ++i) ps[i] = fastopt::math::normal_cdf(xs[i]);
            for (std::int64_t i = 0; i < n; ++i) {
                f_local.add(xs[i], ys[i], ref_forward(xs[i]));
                double terms = 0;
                const double rb = ref_backward(xs[i], &terms);
                b_local.add(xs[i], gs[i], rb, terms);
                c_local.add(xs[i], ps[i], ref_cdf(xs[i]));
            }
        }
#pragma omp critical
        {
            fwd.merge(f_local);
            bwd.merge(b_local);
            cdf.merge(c_local);
        }
    }
    std::printf("gelu float32, bit patterns [0x%" PRIx64 ", 0x%" PRIx64 "), ISA %s\n", lo, hi,
#if defined(__AVX512F__)
                "avx512"
#elif defined(__AVX2__)
                "avx2"
#else
                "generic"
#endif
    );
    fwd.print("forward");
    bwd.print("backward");
    cdf.print("cdf");
    return fwd.nan_mismatch || bwd.nan_mismatch || cdf.nan_mismatch || fwd.zero_sign_mismatch ? 1 : 0;
}
