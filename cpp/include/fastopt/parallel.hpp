// fastopt/parallel.hpp: the only place that talks to OpenMP.
//
// parallel_for(n, grain, threads, body) splits [0, n) into contiguous chunks and calls
// body(begin, end) once per chunk. Chunk boundaries are multiples of kAlign elements, so the
// way an element is computed (vector lanes vs. loop remainder) does not depend on the
// thread count: results are bitwise identical for any number of threads. Below 2 * grain
// elements, or with threads <= 1, the body runs on the calling thread with no fork-join.
//
// Inside the team, body runs in OpenMP's outlined function, where whatever the lambda
// captured by reference is read through pointers into the caller's frame. A scalar
// parameter read that way inside a loop that stores T may alias the output (a float field
// and a float store, by type), so it is reloaded every iteration, and when it is read on one
// side of a ternary only, the loop does not vectorize at all. Capture parameters by value and
// copy them into a local in the body before the loop (drivers.hpp does this for every rule).
//
// `threads` is passed in explicitly (fastopt's runtime keeps the process-wide setting);
// kernels never read OpenMP's per-thread ICVs, so a Python thread that never called
// set_num_threads still gets the configured count.
//
// The floating-point environment: every thread that runs a kernel body (the caller and each
// OpenMP worker) does so inside an FpEnvScope, which switches to the IEEE default (round to
// nearest, no flush-to-zero, no denormals-are-zero, all exceptions masked) and restores the
// thread's own state afterwards, status flags included. So results do not depend on a mode
// the caller set (torch.set_flush_denormal, fesetround) nor on the thread count (OpenMP
// workers keep the MXCSR they were created with, not the caller's current one), and the
// caller's environment is the same after every call as before.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "fastopt/config.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define FASTOPT_HAVE_MXCSR 1
#else
#include <cfenv>
#endif

FASTOPT_NAMESPACE_BEGIN

#if defined(FASTOPT_HAVE_MXCSR)
// MXCSR at process start: all six exceptions masked, round to nearest, FTZ and DAZ off.
constexpr unsigned kDefaultMxcsr = 0x1F80u;

class FpEnvScope {
   public:
    FpEnvScope() : saved_(_mm_getcsr()) {
        if (saved_ != kDefaultMxcsr) _mm_setcsr(kDefaultMxcsr);
    }
    ~FpEnvScope() {
        if (_mm_getcsr() != saved_) _mm_setcsr(saved_);  // also drops the kernel's status flags
    }
    FpEnvScope(const FpEnvScope&) = delete;
    FpEnvScope& operator=(const FpEnvScope&) = delete;

   private:
    unsigned saved_;
};
#else
class FpEnvScope {
   public:
    FpEnvScope() {
        std::fegetenv(&saved_);
        std::fesetenv(FE_DFL_ENV);
    }
    ~FpEnvScope() { std::fesetenv(&saved_); }
    FpEnvScope(const FpEnvScope&) = delete;
    FpEnvScope& operator=(const FpEnvScope&) = delete;

   private:
    std::fenv_t saved_;
};
#endif

// Elements per chunk-boundary unit: a multiple of every vector width we compile for.
constexpr std::int64_t kAlign = 64;

// Default grain for elementwise kernels: below about 2 * kGrain elements a fork-join costs
// more than it saves.
constexpr std::int64_t kGrain = 32768;

// What a fork-join costs depends on how the OpenMP pool waits between regions. A pool that
// spins (libgomp's default) forks in a few microseconds. One that sleeps (OMP_WAIT_POLICY=
// passive, or GOMP_SPINCOUNT below 10000, the setting that keeps 2-vCPU VMs usable: see
// fastopt.bench) pays a futex wake-up per region: ~25 us on this project's VMs, as long as an
// Adam step over 2^16 floats takes on one thread, so such a step would be slower on 2 threads.
// So with a sleeping pool every grain is kSleepingPoolFactor times larger. Read once from the
// environment, as libgomp itself reads it; fastopt.info() reports the factor.
constexpr std::int64_t kSleepingPoolFactor = 4;

inline std::int64_t pool_grain_factor() {
    static const std::int64_t factor = [] {
        const char* policy = std::getenv("OMP_WAIT_POLICY");
        if (policy && (std::strcmp(policy, "passive") == 0 || std::strcmp(policy, "PASSIVE") == 0))
            return kSleepingPoolFactor;
        const char* spin = std::getenv("GOMP_SPINCOUNT");
        if (spin && *spin) {
            char* end = nullptr;
            const double count = std::strtod(spin, &end);  // libgomp also accepts "infinite"
            if (end != spin && count < 10000.0) return kSleepingPoolFactor;
        }
        return std::int64_t{1};
    }();
    return factor;
}

FASTOPT_INLINE int threads_for(std::int64_t n, std::int64_t grain, int threads) {
    if (threads <= 1) return 1;
    grain *= pool_grain_factor();
    if (n < 2 * grain) return 1;
    const std::int64_t by_size = n / grain;
    return by_size < threads ? static_cast<int>(by_size) : threads;
}

template <class Body>
void parallel_for(std::int64_t n, std::int64_t grain, int threads, const Body& body) {
    if (n <= 0) return;
    const int team = threads_for(n, grain, threads);
    if (team <= 1) {
        FpEnvScope fp;
        body(std::int64_t{0}, n);
        return;
    }
#if defined(_OPENMP)
    // Equal shares rounded up to kAlign; the last chunk takes the remainder.
    const std::int64_t units = (n + kAlign - 1) / kAlign;
    const std::int64_t per = (units + team - 1) / team;
#pragma omp parallel num_threads(team)
    {
        FpEnvScope fp;
        const std::int64_t t = omp_get_thread_num();
        const std::int64_t begin = t * per * kAlign;
        std::int64_t end = begin + per * kAlign;
        if (end > n) end = n;
        if (begin < end) body(begin, end);
    }
#else
    FpEnvScope fp;
    body(std::int64_t{0}, n);
#endif
}

// parallel_for with its chunks aligned in memory. NumPy's data pointers are 16 bytes past a
// 64-byte boundary, so every 64-byte vector store of a kernel writing from element 0 spans
// two cache lines (up to ~25% of a light kernel's time at DRAM sizes). So the first `head` elements, those before anchor + head is
// 64-byte aligned (fewer than one vector: anchor points at elements of elem_size bytes, the
// array the kernel writes), go to body(0, head) on their own, and [head, n) is split as
// parallel_for splits [0, n). An element's code path (vector lanes, or the loop remainder at
// either end) depends on its index and the anchor's address, never on the thread count.
template <class Body>
void parallel_for_aligned(const void* anchor, std::int64_t elem_size, std::int64_t n, std::int64_t grain, int threads,
                          const Body& body) {
    const auto mis = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(anchor) % 64);
    std::int64_t head = (mis == 0 || mis % elem_size != 0) ? 0 : (64 - mis) / elem_size;
    if (head > n) head = n;
    if (head > 0) {
        FpEnvScope fp;
        body(std::int64_t{0}, head);
    }
    parallel_for(n - head, grain, threads,
                 [&body, head](std::int64_t begin, std::int64_t end) { body(head + begin, head + end); });
}

FASTOPT_NAMESPACE_END
