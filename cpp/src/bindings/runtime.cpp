// Runtime bindings: threads, ISA selection, build information, the kernel registry, and the
// memory kernels the benchmark's roofline uses.
#include <string>

#include "arrays.hpp"
#include "dispatch.hpp"
#include "pybind.hpp"

#ifndef FASTOPT_VERSION
#define FASTOPT_VERSION "unknown"
#endif
#ifndef FASTOPT_COMPILER
#define FASTOPT_COMPILER "unknown"
#endif

namespace fastopt {
namespace {

py::list kernel_names() {
    py::list names;
    auto add = [&](const std::string& s) {
        if (!names.contains(s)) names.append(s);
    };
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name) \
    add(#public_name);                                      \
    add(#public_name "_backward");
#include "fastopt/kernels.def"
    add("prelu");
    add("prelu_backward");
    return names;
}

py::dict build_info() {
    py::dict d;
    d["version"] = FASTOPT_VERSION;
    d["compiler"] = FASTOPT_COMPILER;
    d["openmp"] = openmp_enabled();
    py::dict flags;
    for (const auto& f : isa_flags()) flags[py::str(f.first)] = f.second;
    d["flags"] = flags;
    d["isas_built"] = isas_built();
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
    m.def("_build_info", &build_info);
    m.def("kernels", &kernel_names, "Names of the public kernels registered in C++ (kernels.def).");
    m.def("_copy", &copy, "x"_a, "out"_a = py::none(),
          "out = x with fastopt's threads and plain stores: the copy-bandwidth ceiling.");
}

}  // namespace fastopt
