// fastopt/drivers.hpp: the loops that walk memory once and apply a rule per element.
//
// One `#pragma omp simd` loop per driver, with no vector width in the source: the flags of
// the ISA translation unit give 4, 8 or 16 lanes, and the compiler handles the tail.
// In-place use (out == input) is allowed: every iteration reads its inputs before it writes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>

#include "fastopt/config.hpp"
#include "fastopt/parallel.hpp"

FASTOPT_NAMESPACE_BEGIN

// Hyper-parameters reach the loop as a local copy, never through a reference. A Coef<float>
// read through a pointer may alias the float output (type-based aliasing allows it), so the
// compiler must reload it after every store; where the rule reads it on one side of a
// ternary only (leaky_relu's x * a, elu's expm1(x) * a) that reload is a conditional load,
// which GCC neither hoists nor if-converts: the loop stays scalar with a data-dependent
// branch. That is what OpenMP's outlined region saw (the lambda's captures are pointers into
// the caller's frame), an order of magnitude slower than the vector loop. A local
// whose address is never taken lives in registers and aliases nothing. Every driver that
// passes parameters to a rule keeps to this.

// A rule may also have `static void forward_array(const T* x, T* y, std::int64_t n, const Coef&)`,
// the forward of a whole chunk, where hand-written vector code beats what the compiler makes
// of the per-element rule (on AVX-512: tanh's register table lookups; the sigmoid family's
// vscalefps). unary_map then calls it for each chunk; it must give the same value for an
// element wherever the chunk starts.
template <class Rule, class T, class Coef, class = void>
struct has_forward_array : std::false_type {};
template <class Rule, class T, class Coef>
struct has_forward_array<Rule, T, Coef,
                         std::void_t<decltype(Rule::forward_array(std::declval<const T*>(), std::declval<T*>(),
                                                                  std::int64_t{}, std::declval<const Coef&>()))>>
    : std::true_type {};

// The elementwise drivers walk their chunk in blocks of kStreamBlock elements and, before
// each block, ask for the input lines of the next one (__builtin_prefetch into L1). Without
// it a compute-heavy rule over arrays in DRAM ran at about (compute time + copy time): the
// hardware prefetchers did not run far enough ahead of a loop that spends ~20 cycles per
// line, so nearly every load missed; with it such a rule runs at close to copy speed.
// Prefetching the output as well (prefetchw) was slower. kStreamBlock is a multiple of
// kAlign, so an element is computed the same way (vector lanes; a remainder loop only at
// the array's end) for any thread count. A chunk whose input fits in kStreamMinBytes (L2 on
// most x86) is one block: it gains nothing from prefetching.
constexpr std::int64_t kStreamBlock = 256;
constexpr std::int64_t kStreamMinBytes = std::int64_t{1} << 19;

template <class T>
FASTOPT_INLINE void prefetch_block(const T* p, std::int64_t lo, std::int64_t hi) {
    for (std::int64_t k = lo; k < hi; k += 64 / static_cast<std::int64_t>(sizeof(T))) __builtin_prefetch(p + k);
}

// body(lo, hi) for consecutive blocks of [begin, end), the next block of a (and of b unless
// it is null) prefetched first. Full blocks get a compile-time trip count (body is inlined
// twice), so their vector loops carry no remainder code.
template <class T, class Body>
FASTOPT_INLINE void stream_blocks(std::int64_t begin, std::int64_t end, const T* a, const T* b, const Body& body) {
    if ((end - begin) * static_cast<std::int64_t>(sizeof(T)) < kStreamMinBytes) {
        body(begin, end);
        return;
    }
    std::int64_t lo = begin;
    for (; end - lo >= kStreamBlock; lo += kStreamBlock) {
        const std::int64_t next = lo + kStreamBlock;
        const std::int64_t next_hi = end - next > kStreamBlock ? next + kStreamBlock : end;
        prefetch_block(a, next, next_hi);
        if (b) prefetch_block(b, next, next_hi);
        body(lo, lo + kStreamBlock);
    }
    if (lo < end) body(lo, end);
}

// y[i] = Rule::forward(x[i], coef)
template <class Rule, class T, class Coef>
void unary_map(const T* x, T* y, std::int64_t n, const Coef& coef, int threads) {
    parallel_for_aligned(y, sizeof(T), n, kGrain, threads, [x, y, coef](std::int64_t begin, std::int64_t end) {
        const Coef c = coef;  // see above: a local, not a reference into the caller's frame
        // The block body is called from three places in stream_blocks and GCC may keep it out
        // of line; it then reads its captures through `this`, so it takes its own local copy
        // too (with the copy only in the caller, GCC can leave elu's loop scalar).
        stream_blocks(begin, end, x, static_cast<const T*>(nullptr), [x, y, c](std::int64_t lo, std::int64_t hi) {
            const Coef cb = c;
            if constexpr (has_forward_array<Rule, T, Coef>::value) {
                Rule::forward_array(x + lo, y + lo, hi - lo, cb);
            } else {
                FASTOPT_SIMD
                for (std::int64_t i = lo; i < hi; ++i) y[i] = Rule::forward(x[i], cb);
            }
        });
    });
}

// A rule whose backward is a few multiplies says `static constexpr bool kLightBackward =
// true;`: that pass runs at memory speed on the hardware prefetchers alone, and the software
// prefetch cost it 5-10% (sigmoid, tanh, relu backward at 2^24 floats, 1 and 2 threads).
template <class Rule, class = void>
struct has_light_backward : std::false_type {};
template <class Rule>
struct has_light_backward<Rule, std::void_t<decltype(Rule::kLightBackward)>>
    : std::integral_constant<bool, Rule::kLightBackward> {};

// And `static void backward_array(const T* a, const T* b, T* out, std::int64_t n, const Coef&)`,
// the same for the backward, under the same rule.
template <class Rule, class T, class Coef, class = void>
struct has_backward_array : std::false_type {};
template <class Rule, class T, class Coef>
struct has_backward_array<
    Rule, T, Coef,
    std::void_t<decltype(Rule::backward_array(std::declval<const T*>(), std::declval<const T*>(), std::declval<T*>(),
                                              std::int64_t{}, std::declval<const Coef&>()))>> : std::true_type {};

// out[i] = Rule::backward(a[i], b[i], coef)
template <class Rule, class T, class Coef>
void binary_map(const T* a, const T* b, T* out, std::int64_t n, const Coef& coef, int threads) {
    parallel_for_aligned(out, sizeof(T), n, kGrain, threads, [a, b, out, coef](std::int64_t begin, std::int64_t end) {
        const Coef c = coef;
        const auto body = [a, b, out, c](std::int64_t lo, std::int64_t hi) {
            const Coef cb = c;  // as in unary_map
            if constexpr (has_backward_array<Rule, T, Coef>::value) {
                Rule::backward_array(a + lo, b + lo, out + lo, hi - lo, cb);
            } else {
                FASTOPT_SIMD
                for (std::int64_t i = lo; i < hi; ++i) out[i] = Rule::backward(a[i], b[i], cb);
            }
        };
        if constexpr (has_light_backward<Rule>::value)
            body(begin, end);
        else
            stream_blocks(begin, end, a, b, body);
    });
}

// Fixed-size blocks for deterministic reductions: the number of blocks and their bounds
// depend only on n, never on the thread count, so per-block partial sums combined in
// block order give bitwise identical results for any number of threads.
struct Blocks {
    std::int64_t count;  // >= 1 when n > 0
    std::int64_t size;   // multiple of kAlign
    std::int64_t begin(std::int64_t b) const { return b * size; }
    std::int64_t end(std::int64_t b, std::int64_t n) const { return b * size + size < n ? b * size + size : n; }
};

FASTOPT_INLINE Blocks make_blocks(std::int64_t n, std::int64_t min_block, std::int64_t max_blocks) {
    std::int64_t count = (n + min_block - 1) / min_block;
    if (count > max_blocks) count = max_blocks;
    if (count < 1) count = 1;
    std::int64_t size = (n + count - 1) / count;
    size = (size + kAlign - 1) / kAlign * kAlign;
    if (size < kAlign) size = kAlign;
    return Blocks{(n + size - 1) / size > 0 ? (n + size - 1) / size : 1, size};
}

// sum of f(x[i]) for i in [lo, hi), in double, in a fixed order that depends on neither the
// ISA nor the thread count: kSumLanes running sums (lane j takes i = j mod kSumLanes), added
// up at the end, then the tail. Written out instead of an `omp simd reduction`, which GCC 12
// leaves scalar when the loop sits in a lambda run by an OpenMP region.
constexpr int kSumLanes = 16;

template <class T, class F>
FASTOPT_INLINE double sum_lanes(const T* x, std::int64_t lo, std::int64_t hi, const F& f) {
    double lane[kSumLanes] = {};
    std::int64_t i = lo;
    for (; i + kSumLanes <= hi; i += kSumLanes)
        for (int j = 0; j < kSumLanes; ++j) lane[j] += f(x[i + j]);
    double acc = 0;
    for (int j = 0; j < kSumLanes; ++j) acc += lane[j];
    for (; i < hi; ++i) acc += f(x[i]);
    return acc;
}

// A zero-initialised scratch array. Plain new[]/delete[] rather than std::vector: a
// std::vector instantiated in an ISA translation unit is a weak symbol the linker may share
// between the ISA builds (see config.hpp); this struct lives in the ISA namespace.
template <class T>
struct Scratch {
    explicit Scratch(std::int64_t n) : data(new T[static_cast<std::size_t>(n)]()) {}
    ~Scratch() { delete[] data; }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    T* data;
};

// body(block) for block in [0, count): thread t of the team takes a contiguous run of blocks
// (as for_each_block does). Reductions inside a body: use sum_lanes, not an `omp simd
// reduction`, which GCC 12 compiles as scalar code once the body is inlined into the
// OpenMP region.
template <class Body>
void parallel_blocks(std::int64_t count, int threads, const Body& body) {
    const int team = threads < count ? threads : static_cast<int>(count);
    if (team <= 1) {
        FpEnvScope fp;
        for (std::int64_t b = 0; b < count; ++b) body(b);
        return;
    }
#if defined(_OPENMP)
#pragma omp parallel num_threads(team)
    {
        FpEnvScope fp;  // each worker computes in the IEEE default environment (parallel.hpp)
        const std::int64_t t = omp_get_thread_num();
        const std::int64_t lo = count * t / team, hi = count * (t + 1) / team;
        for (std::int64_t b = lo; b < hi; ++b) body(b);
    }
#else
    FpEnvScope fp;
    for (std::int64_t b = 0; b < count; ++b) body(b);
#endif
}

// first(b) for every block; then join() once, after every first(b) has returned; then, if
// join() returned true, second(b) for every block: what parallel_blocks(first), join(),
// parallel_blocks(second) would do, in one fork-join. Within it the threads claim blocks one
// at a time (an atomic counter per pass) instead of taking fixed shares, and whoever finishes
// the last first(b) runs join(): nobody waits at a barrier for a thread that is not there yet.
// That is the point. With a sleeping OpenMP pool (parallel.hpp) a worker starts 25-50 us after
// the fork on this project's VMs; with fixed shares and a barrier between the passes the caller
// slept there and needed waking in turn, which cost a small cross_entropy about a third of
// its time. Which thread runs a block never changes what it computes,
// so results stay bitwise identical for any thread count (callers combine per-block values in
// block order).
template <class First, class Join, class Second>
void parallel_blocks_two_pass(std::int64_t count, int threads, const First& first, const Join& join,
                              const Second& second) {
#if defined(_OPENMP)
    const int team = threads < count ? threads : static_cast<int>(count);
    if (team > 1) {
        std::atomic<std::int64_t> next_first{0}, done_first{0}, next_second{0};
        std::atomic<int> state{0};  // 0: pass 1 running; 1: stop; 2: run pass 2
#pragma omp parallel num_threads(team)
        {
            FpEnvScope fp;
            for (std::int64_t b; (b = next_first.fetch_add(1, std::memory_order_relaxed)) < count;) {
                first(b);
                // the last first(b) to finish sees every other's writes (a release sequence of RMWs)
                if (done_first.fetch_add(1, std::memory_order_acq_rel) + 1 == count)
                    state.store(join() ? 2 : 1, std::memory_order_release);
            }
            // at most the rest of one first(b) to wait for
            for (int spin = 0; state.load(std::memory_order_acquire) == 0; ++spin)
                if (spin > 64) std::this_thread::yield();
            if (state.load(std::memory_order_acquire) == 2)
                for (std::int64_t b; (b = next_second.fetch_add(1, std::memory_order_relaxed)) < count;) second(b);
        }
        return;
    }
#else
    (void)threads;
#endif
    FpEnvScope fp;  // one thread: the passes in block order
    for (std::int64_t b = 0; b < count; ++b) first(b);
    if (!join()) return;
    for (std::int64_t b = 0; b < count; ++b) second(b);
}

FASTOPT_NAMESPACE_END
