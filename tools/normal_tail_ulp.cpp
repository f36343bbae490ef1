// The float64 normal tail (math::normal_tail(double)) against long double erfcl / expl: the
// largest error in ULP of Phi(-a) and of gauss = e^{-a^2/2} over 2e7 arguments in [0, 38.7]
// (a third of them uniform, a third in [0, 4.8], a third in the far tail [30, 38.7]), and both
// exactly 0 from 38.7 (where the argument is clamped) to 1e300.
//   g++ -O3 -march=native -fopenmp-simd -Icpp/include tools/normal_tail_ulp.cpp && ./a.out
// and with -march=x86-64 (no FMA: the Dekker products).
#include <cmath>
#include <cstdio>
#include <random>

#include "fastopt/math.hpp"

static double ulp_error(double got, long double ref) {
    const double r = static_cast<double>(ref);
    double spacing = std::nextafter(std::fabs(r), INFINITY) - std::fabs(r);
    if (std::fabs(r) < 2.2250738585072014e-308) spacing = 4.9406564584124654e-324;
    return static_cast<double>(fabsl(static_cast<long double>(got) - ref)) / spacing;
}

__attribute__((noinline)) static void tails(const double* x, double* y, double* g, long n) {
#pragma omp simd
    for (long i = 0; i < n; ++i) {
        double gauss;
        y[i] = fastopt::math::normal_tail(x[i], gauss);
        g[i] = gauss;
    }
}

int main() {
    constexpr long kBlock = 1 << 16;
    static double x[kBlock], y[kBlock], g[kBlock];
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0.0, 38.7);
    double worst = 0, worst_a = 0, worst_g = 0, worst_ga = 0;
    for (long block = 0; block < 300; ++block) {
        for (long i = 0; i < kBlock; ++i) x[i] = block % 3 == 0 ? u(rng) : block % 3 == 1 ? u(rng) / 8 : 30 + u(rng) / 4.5;
        tails(x, y, g, kBlock);
        for (long i = 0; i < kBlock; ++i) {
            const long double a = x[i];
            const double e = ulp_error(y[i], 0.5L * erfcl(a / sqrtl(2.0L)));
            const double eg = ulp_error(g[i], expl(-a * a / 2));
            if (e > worst) worst = e, worst_a = x[i];
            if (eg > worst_g) worst_g = eg, worst_ga = x[i];
        }
    }
    bool zeros = true;
    for (double a = 38.7; a < 1e300; a *= 1.001) {
        tails(&a, y, g, 1);
        zeros = zeros && y[0] == 0.0 && g[0] == 0.0;
    }
    std::printf("beyond 38.7: %s\n", zeros ? "all 0" : "NOT 0");
    std::printf("Phi(-a): %.3f ULP at a = %.17g; e^{-a^2/2}: %.3f ULP at a = %.17g\n", worst, worst_a, worst_g, worst_ga);
    return 0;
}
