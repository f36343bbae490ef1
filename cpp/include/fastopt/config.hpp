// fastopt/config.hpp: the per-ISA namespace every kernel header lives in.
//
// The files under cpp/src/isa/ are compiled once per instruction set (generic, avx2,
// avx512), each with its own -m flags and -DFASTOPT_ISA=<name>. Every inline function and
// template they instantiate must be distinct per ISA, or the linker may keep an AVX-512 copy
// of an inline function for the baseline path and crash older CPUs. So every kernel header
// opens FASTOPT_NAMESPACE_BEGIN, which is `namespace fastopt { inline namespace <isa> {`.
//
// A C++ trainer that includes these headers directly (no dispatch) gets
// fastopt::native::..., reachable as fastopt::... through the inline namespace.
#pragma once

#ifdef FASTOPT_ISA  // defined by CMake for fastopt's own per-ISA translation units only
#define FASTOPT_DISPATCH_TU 1
#else
#define FASTOPT_ISA native
#endif

#define FASTOPT_NAMESPACE_BEGIN \
    namespace fastopt {         \
    inline namespace FASTOPT_ISA {
#define FASTOPT_NAMESPACE_END \
    }                         \
    }

// The kernels' internals (the templates behind api.hpp's functions) sit in namespace detail,
// opened with FASTOPT_DETAIL_BEGIN. In fastopt's own per-ISA translation units
// (FASTOPT_DISPATCH_TU), which only take the kernels' addresses for the dispatch tables, detail
// is also an unnamed namespace: every kernel has internal linkage, so no ISA build exports a
// kernel symbol another could be merged with, and the compiler is free to specialize and
// inline each kernel for its one use. Anywhere else these are ordinary inline templates, one
// definition across a program.
#ifdef FASTOPT_DISPATCH_TU
#define FASTOPT_DETAIL_BEGIN \
    namespace detail {       \
    namespace {
#define FASTOPT_DETAIL_END \
    }                      \
    }
#else
#define FASTOPT_DETAIL_BEGIN namespace detail {
#define FASTOPT_DETAIL_END }
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FASTOPT_INLINE inline __attribute__((always_inline))
#define FASTOPT_RESTRICT __restrict__
#else
#define FASTOPT_INLINE inline
#define FASTOPT_RESTRICT
#endif

// `#pragma omp simd` when the compiler understands it: with -fopenmp (which defines _OPENMP),
// or with -fopenmp-simd plus -DFASTOPT_OPENMP_SIMD (GCC and Clang define no macro for
// -fopenmp-simd). Without either, every kernel loop is left to the auto-vectorizer, which
// takes the plain elementwise ones but not the reductions and row statistics: softmax,
// cross_entropy, several losses and the gradient norm then run scalar, several times slower. So a C++
// build of these headers without OpenMP should pass `-fopenmp-simd -DFASTOPT_OPENMP_SIMD`
// (GCC, Clang); fastopt's own serial build does, and so does the CMake target fastopt::kernels.
// FASTOPT_SIMD_PRAGMAS says which way this translation unit went (fastopt.info()).
#if defined(_OPENMP) || defined(FASTOPT_OPENMP_SIMD)
#define FASTOPT_SIMD_PRAGMAS 1
#define FASTOPT_SIMD _Pragma("omp simd")
#define FASTOPT_PRAGMA(x) _Pragma(#x)
#define FASTOPT_SIMD_REDUCTION(op_var) FASTOPT_PRAGMA(omp simd reduction(op_var))
#define FASTOPT_SIMD_REDUCTION2(op_var1, op_var2) FASTOPT_PRAGMA(omp simd reduction(op_var1) reduction(op_var2))
#else
#define FASTOPT_SIMD_PRAGMAS 0
#define FASTOPT_SIMD
#define FASTOPT_PRAGMA(x)
#define FASTOPT_SIMD_REDUCTION(op_var)
#define FASTOPT_SIMD_REDUCTION2(op_var1, op_var2)
#endif
