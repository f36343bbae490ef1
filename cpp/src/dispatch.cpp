// dispatch.cpp: CPU detection and the pointer tables of each ISA build.
#include "dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FASTOPT_HAVE_ATFORK 1
#endif

#if defined(FASTOPT_HAVE_OPENMP)
#include <omp.h>
#endif

FASTOPT_DECLARE_ISA_TABLES(generic)  // every build has the baseline
#if defined(FASTOPT_BUILT_AVX2)
FASTOPT_DECLARE_ISA_TABLES(avx2)
#endif
#if defined(FASTOPT_BUILT_AVX512)
FASTOPT_DECLARE_ISA_TABLES(avx512)
#endif

namespace fastopt {
namespace {

struct IsaEntry {
    const char* name;
    bool (*supported)();
    const ActivationTable& (*activations)();
    const RooflineTable& (*roofline)();
    const LossTable& (*losses)();
    const OptimTable& (*optimizers)();
    bool (*simd_pragmas)();
};

bool always() { return true; }

#if defined(FASTOPT_BUILT_AVX2)
bool cpu_has_avx2() {
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif
#if defined(FASTOPT_BUILT_AVX512)
bool cpu_has_avx512() {  // x86-64-v4: AVX-512 F, BW, CD, DQ, VL
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
}
#endif

// Lowest first. Every build has generic.
const IsaEntry kIsas[] = {
    {"generic", &always, &generic::activation_table, &generic::roofline_table, &generic::loss_table,
     &generic::optim_table, &generic::simd_pragmas},
#if defined(FASTOPT_BUILT_AVX2)
    {"avx2", &cpu_has_avx2, &avx2::activation_table, &avx2::roofline_table, &avx2::loss_table,
     &avx2::optim_table, &avx2::simd_pragmas},
#endif
#if defined(FASTOPT_BUILT_AVX512)
    {"avx512", &cpu_has_avx512, &avx512::activation_table, &avx512::roofline_table, &avx512::loss_table,
     &avx512::optim_table, &avx512::simd_pragmas},
#endif
};
constexpr int kNumIsas = static_cast<int>(sizeof(kIsas) / sizeof(kIsas[0]));
const char* const kKnownIsas[] = {"generic", "avx2", "avx512"};

int best_supported() {
    int best = 0;
    for (int i = 0; i < kNumIsas; ++i)
        if (kIsas[i].supported()) best = i;
    return best;
}

std::atomic<int> g_isa{best_supported()};

int default_threads() {
#if defined(FASTOPT_HAVE_OPENMP)
    const int n = omp_get_max_threads();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

std::atomic<int> g_threads{default_threads()};

// Fork safety. GNU libgomp's thread pool does not survive fork(): a child that enters a
// parallel region after the parent ran one waits forever for workers that do not exist in
// it. So a forked child (os.fork, multiprocessing's "fork" start method) runs every kernel on
// the calling thread: the thread count is pinned to 1 there, and set_num_threads cannot raise
// it. This flag is part of the thread-count state (set only by the pthread_atfork handler).
std::atomic<bool> g_forked_child{false};

#if defined(FASTOPT_HAVE_ATFORK)
void on_fork_child() {
    g_forked_child.store(true);
    g_threads.store(1);
}
[[maybe_unused]] const bool g_atfork_registered = pthread_atfork(nullptr, nullptr, &on_fork_child) == 0;
#endif

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

}  // namespace

const ActivationTable& activations() { return kIsas[g_isa.load(std::memory_order_relaxed)].activations(); }
const RooflineTable& roofline() { return kIsas[g_isa.load(std::memory_order_relaxed)].roofline(); }
const LossTable& losses() { return kIsas[g_isa.load(std::memory_order_relaxed)].losses(); }
const OptimTable& optimizers() { return kIsas[g_isa.load(std::memory_order_relaxed)].optimizers(); }

std::string current_isa() { return kIsas[g_isa.load()].name; }

std::vector<std::string> isas_built() {
    std::vector<std::string> v;
    for (const auto& e : kIsas) v.emplace_back(e.name);
    return v;
}

std::vector<std::string> isas_supported() {
    std::vector<std::string> v;
    for (const auto& e : kIsas)
        if (e.supported()) v.emplace_back(e.name);
    return v;
}

std::vector<std::pair<std::string, std::string>> isa_flags() {
    static const std::pair<const char*, const char*> flags[] = FASTOPT_ISA_FLAGS;
    std::vector<std::pair<std::string, std::string>> v;
    for (const auto& f : flags) v.emplace_back(f.first, f.second);
    return v;
}

void set_isa(const std::string& name) {
    bool known = false;
    for (const char* k : kKnownIsas) known = known || name == k;
    if (!known)
        throw std::invalid_argument("unknown ISA '" + name + "'; expected one of generic, avx2, avx512");
    for (int i = 0; i < kNumIsas; ++i) {
        if (name != kIsas[i].name) continue;
        if (!kIsas[i].supported()) break;
        g_isa.store(i);
        return;
    }
    throw std::runtime_error("ISA '" + name + "' is not available: this CPU and build support " +
                             join(isas_supported()));
}

void init_isa_from_env() {
    const char* env = std::getenv("FASTOPT_ISA");
    if (env == nullptr || *env == '\0') return;
    try {
        set_isa(env);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("FASTOPT_ISA=") + env + ": " + e.what());
    }
}

namespace {

// The rows of activations.def and losses.def whose kernel is missing from these tables, as
// "isa:name " entries.
template <class T>
std::string missing_kernels(const ActivationKernels<T>& a, const LossKernels<T>& l, const std::string& isa) {
    std::string missing;
    auto need = [&](auto kernel, const char* name) {
        if (kernel == nullptr) missing += isa + ":" + name + " ";
    };
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name) \
    need(a.forward[static_cast<int>(Act::name)], #name);    \
    need(a.backward[static_cast<int>(Act::name)], #name "_backward");
#define FASTOPT_PRELU(name)        \
    need(a.name##_forward, #name); \
    need(a.name##_backward, #name "_backward");
#include "fastopt/activations.def"
#define FASTOPT_SOFTMAX(name) \
    need(l.name, #name);      \
    need(l.name##_backward, #name "_backward");
#define FASTOPT_CLASS_LOSS(name, public_name, input) need(l.name, #public_name);
#define FASTOPT_POINTWISE_LOSS(name, public_name, args) \
    need(l.pointwise[static_cast<int>(PointwiseLoss::name)], #public_name);
#define FASTOPT_DROPOUT(name) \
    need(l.name, #name);      \
    need(l.name##_backward, #name "_backward");
#include "fastopt/losses.def"
    return missing;
}

}  // namespace

void check_kernel_tables() {
    std::string missing;
    for (int i = 0; i < kNumIsas; ++i) {
        const ActivationTable& a = kIsas[i].activations();
        const LossTable& l = kIsas[i].losses();
        missing += missing_kernels(a.f32, l.f32, std::string(kIsas[i].name) + "/float32");
        missing += missing_kernels(a.f64, l.f64, std::string(kIsas[i].name) + "/float64");
    }
    if (!missing.empty())
        throw std::logic_error("fastopt: registry rows without a kernel in the ISA tables: " + missing);
}

int num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
    if (n < 1) throw std::invalid_argument("set_num_threads: n must be >= 1, got " + std::to_string(n));
#if defined(FASTOPT_HAVE_OPENMP)
    g_threads.store(g_forked_child.load() ? 1 : n);  // see on_fork_child
#else
    g_threads.store(1);  // a serial build runs everything on the calling thread
#endif
}

bool forked_child() { return g_forked_child.load(); }

bool simd_pragmas() {
    bool all = true;
    for (const auto& e : kIsas) all = all && e.simd_pragmas();
    return all;
}

bool openmp_enabled() {
#if defined(FASTOPT_HAVE_OPENMP)
    return true;
#else
    return false;
#endif
}

}  // namespace fastopt
