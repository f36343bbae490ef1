// Runtime bindings: threads, ISA selection, build information, the kernel registry, and the
// memory kernels the benchmark's roofline uses.
#include <string>

#include "arrays.hpp"
#include "dispatch.hpp"
#include "fastopt/parallel.hpp"
#include "pybind.hpp"

#ifndef FASTOPT_VERSION
#define FASTOPT_VERSION "unknown"
#endif
#ifndef FASTOPT_COMPILER
#define FASTOPT_COMPILER "unknown"
#endif

namespace fastopt {
namespace {

// Every public kernel as (name, family), in registry order: the rows of activations.def,
// losses.def and optimizers.def under the names the fastopt functions reaching them have
// (gelu_tanh is reached through gelu, so gelu is listed once).
py::list kernel_list() {
    py::list kernels;
    py::set seen;
    auto add = [&](const char* name, const char* family) {
        if (seen.contains(name)) return;
        seen.add(name);
        kernels.append(py::make_tuple(name, family));
    };
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name) \
    add(#public_name, "activation");                        \
    add(#public_name "_backward", "activation");
#define FASTOPT_PRELU(name)     \
    add(#name, "activation"); \
    add(#name "_backward", "activation");
#include "fastopt/activations.def"
#define FASTOPT_SOFTMAX(name) \
    add(#name, "softmax");    \
    add(#name "_backward", "softmax");
#define FASTOPT_CLASS_LOSS(name, public_name, input) add(#public_name, "loss");
#define FASTOPT_POINTWISE_LOSS(name, public_name, args) add(#public_name, "loss");
#define FASTOPT_DROPOUT(name) \
    add(#name, "dropout");    \
    add(#name "_backward", "dropout");
#include "fastopt/losses.def"
#define FASTOPT_OPTIMIZER(name, pass) add(#name "_", "optimizer");
#define FASTOPT_CLIP(name) add(#name, "clip");
#include "fastopt/optimizers.def"
    return kernels;
}

py::dict build_info() {
    py::dict d;
    d["version"] = FASTOPT_VERSION;
    d["compiler"] = FASTOPT_COMPILER;
    d["openmp"] = openmp_enabled();
    d["simd_pragmas"] = simd_pragmas();
    py::dict flags;
    for (const auto& f : isa_flags()) flags[py::str(f.first)] = f.second;
    d["flags"] = flags;
    d["isas_built"] = isas_built();
    d["parallel_grain_factor"] = pool_grain_factor();
    return d;
}

py::array copy(py::handle x_obj, const py::object& out_obj) {
    const std::string fn = "fastopt._core._copy";
    py::array x = float_input(x_obj, fn, "x");
    py::array out = output_for(out_obj, "out", x, fn);
    check_no_partial_overlap(out, "out", x, "x", fn);
    const std::int64_t n = x.size();
    const int threads = num_threads();
    const void* xp = x.data();
    void* yp = out.mutable_data();
    const RooflineTable& t = roofline();
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().copy(static_cast<const T*>(xp), static_cast<T*>(yp), n, threads);
    });
    return out;
}

// a += s * b in place: the in-place-update ceiling.
void axpy(const py::array& a_obj, py::handle b_obj, double s) {
    const std::string fn = "fastopt._core._axpy";
    py::array a = a_obj;
    py::array b = float_input(b_obj, fn, "b");
    check_output(a, "a", b, fn);
    check_no_partial_overlap(a, "a", b, "b", fn);
    const std::int64_t n = a.size();
    const int threads = num_threads();
    void* ap = a.mutable_data();
    const void* bp = b.data();
    const RooflineTable& t = roofline();
    run_nogil(dtype_of(b), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().axpy(static_cast<T*>(ap), static_cast<const T*>(bp), static_cast<T>(s), n, threads);
    });
}

// sum(x): the read-only ceiling.
double sum(py::handle x_obj) {
    py::array x = float_input(x_obj, "fastopt._core._sum", "x");
    const std::int64_t n = x.size();
    const int threads = num_threads();
    const void* xp = x.data();
    const RooflineTable& t = roofline();
    double total = 0;
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        total = t.get<T>().sum(static_cast<const T*>(xp), n, threads);
    });
    return total;
}

// Test-only access to the calling thread's MXCSR (x86-64), so the tests can check that no
// kernel changes the caller's floating-point environment. -1 where there is no MXCSR.
long long get_mxcsr() {
#if defined(FASTOPT_HAVE_MXCSR)
    return static_cast<long long>(_mm_getcsr());
#else
    return -1;
#endif
}

void set_mxcsr(unsigned value) {
#if defined(FASTOPT_HAVE_MXCSR)
    if (value > 0xFFFFu) throw py::value_error("_set_mxcsr: MXCSR is 16 bits");
    _mm_setcsr(value);
#else
    (void)value;
    throw py::value_error("_set_mxcsr: this CPU has no MXCSR");
#endif
}

}  // namespace

void register_runtime(py::module_& m) {
    m.def("get_num_threads", &num_threads, "Number of threads fastopt's kernels use.");
    m.def(
        "set_num_threads",
        [](int n) {
            if (n < 1) throw py::value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
            set_num_threads(n);
        },
        "n"_a, "Set the number of threads fastopt's kernels use (n >= 1).");
    m.def("_get_isa", &current_isa, "The ISA whose kernels run now.");
    m.def(
        "_set_isa",
        [](const std::string& name) {
            try {
                set_isa(name);
            } catch (const std::invalid_argument& e) {
                throw py::value_error(e.what());
            }
        },
        "name"_a, "Test-only: run the kernels of another ISA this CPU supports.");
    m.def("_isas_supported", &isas_supported);
    m.def("_mxcsr", &get_mxcsr, "Test-only: the calling thread's MXCSR (-1 without one).");
    m.def("_set_mxcsr", &set_mxcsr, "value"_a, "Test-only: set the calling thread's MXCSR.");
    m.def("_build_info", &build_info);
    m.def("kernels", &kernel_list,
          "Every public kernel as (name, family), family one of activation, softmax, loss, dropout, "
          "optimizer, clip: the rows of the C++ registry (activations.def, losses.def, optimizers.def).");
    m.def("_copy", &copy, "x"_a, "out"_a = py::none(),
          "out = x with fastopt's threads and plain stores: the copy-bandwidth ceiling.");
    m.def("_axpy", &axpy, "a"_a, "b"_a, "s"_a, "a += s * b in place: the in-place-update bandwidth ceiling.");
    m.def("_sum", &sum, "x"_a, "Sum of x: the read-only bandwidth ceiling.");
}

}  // namespace fastopt
