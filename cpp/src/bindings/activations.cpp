// Bindings of the activations: argument checks, GIL release, a call through dispatch.
// The registrations are expanded from activations.def; the Python signatures and docstrings
// with named hyper-parameters live in python/fastopt/functional/_activations.py.
#include <cstdint>
#include <string>

#include "arrays.hpp"
#include "dispatch.hpp"
#include "pybind.hpp"

namespace fastopt {
namespace {

std::string display(const char* public_name) { return std::string("fastopt.") + public_name; }

py::array forward(Act act, const char* public_name, py::handle x_obj, const py::object& out_obj, double a,
                  double b) {
    const std::string fn = display(public_name);
    py::array x = float_input(x_obj, fn, "x");
    py::array out = output_for(out_obj, "out", x, fn);
    check_no_partial_overlap(out, "out", x, "x", fn);

    const ActivationParams p{a, b};
    const std::int64_t n = x.size();
    const int threads = num_threads();
    const int k = static_cast<int>(act);
    const void* xp = x.data();
    void* yp = out.mutable_data();
    const ActivationTable& t = activations();
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().forward[k](static_cast<const T*>(xp), static_cast<T*>(yp), n, p, threads);
    });
    return out;
}

py::array backward(Act act, const char* public_name, const char* saved_name, py::handle gy_obj,
                   py::handle saved_obj, const py::object& out_obj, double a, double b) {
    const std::string fn = display(public_name) + "_backward";
    py::array gy = float_input(gy_obj, fn, "grad_out");
    py::array s = float_input(saved_obj, fn, saved_name);
    require_same_dtype(gy, "grad_out", s, saved_name, fn);
    require_same_shape(gy, "grad_out", s, saved_name, fn);
    py::array out = output_for(out_obj, "out", gy, fn);
    check_no_partial_overlap(out, "out", gy, "grad_out", fn);
    check_no_partial_overlap(out, "out", s, saved_name, fn);

    const ActivationParams p{a, b};
    const std::int64_t n = gy.size();
    const int threads = num_threads();
    const int k = static_cast<int>(act);
    const void* gp = gy.data();
    const void* sp = s.data();
    void* op = out.mutable_data();
    const ActivationTable& t = activations();
    run_nogil(dtype_of(gy), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().backward[k](static_cast<const T*>(gp), static_cast<const T*>(sp), static_cast<T*>(op), n,
                 p, threads);
    });
    return out;
}

// x viewed as (outer, channels, inner) for a weight of weight.size() elements, as torch:
// the channel axis is 1; with one weight (or x.ndim < 2) everything is one channel.
struct PreluShape {
    std::int64_t outer, channels, inner;
};

PreluShape prelu_shape(const py::array& x, const py::array& w, const std::string& fn) {
    if (w.ndim() > 1)
        throw py::value_error(fn + ": weight must be 0-d or 1-D, got shape " + shape_str(w));
    const std::int64_t x_channels = x.ndim() >= 2 ? x.shape(1) : 1;
    const std::int64_t n = x.size();
    if (w.size() == 1) return {1, 1, n};
    if (w.size() != x_channels)
        throw py::value_error(fn + ": weight has " + std::to_string(w.size()) + " elements but x of shape " +
                              shape_str(x) + " has " + std::to_string(x_channels) +
                              " channels (axis 1); expected 1 or " + std::to_string(x_channels));
    std::int64_t inner = 1;
    for (py::ssize_t d = 2; d < x.ndim(); ++d) inner *= x.shape(d);
    return {x.ndim() >= 2 ? x.shape(0) : 1, x_channels, inner};
}

py::array prelu(py::handle x_obj, py::handle w_obj, const py::object& out_obj) {
    const std::string fn = "fastopt.prelu";
    py::array x = float_input(x_obj, fn, "x");
    py::array w = float_input(w_obj, fn, "weight");
    require_same_dtype(x, "x", w, "weight", fn);
    const PreluShape sh = prelu_shape(x, w, fn);
    py::array out = output_for(out_obj, "out", x, fn);
    check_no_partial_overlap(out, "out", x, "x", fn);
    if (overlaps(out, w)) throw py::value_error(fn + ": out overlaps weight");

    const int threads = num_threads();
    const void* xp = x.data();
    const void* wp = w.data();
    void* yp = out.mutable_data();
    const ActivationTable& t = activations();
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().prelu_forward(static_cast<const T*>(xp), static_cast<const T*>(wp), static_cast<T*>(yp),
                 sh.outer, sh.channels, sh.inner, threads);
    });
    return out;
}

py::tuple prelu_backward(py::handle gy_obj, py::handle x_obj, py::handle w_obj, const py::object& out_obj) {
    const std::string fn = "fastopt.prelu_backward";
    py::array gy = float_input(gy_obj, fn, "grad_out");
    py::array x = float_input(x_obj, fn, "x");
    py::array w = float_input(w_obj, fn, "weight");
    require_same_dtype(gy, "grad_out", x, "x", fn);
    require_same_dtype(gy, "grad_out", w, "weight", fn);
    require_same_shape(gy, "grad_out", x, "x", fn);
    const PreluShape sh = prelu_shape(x, w, fn);
    py::array gx = output_for(out_obj, "out", x, fn);
    check_no_partial_overlap(gx, "out", gy, "grad_out", fn);
    check_no_partial_overlap(gx, "out", x, "x", fn);
    if (overlaps(gx, w)) throw py::value_error(fn + ": out overlaps weight");
    py::array gw = output_for(py::none(), "grad_weight", w, fn);

    const int threads = num_threads();
    const void* gp = gy.data();
    const void* xp = x.data();
    const void* wp = w.data();
    void* gxp = gx.mutable_data();
    void* gwp = gw.mutable_data();
    const ActivationTable& t = activations();
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().prelu_backward(static_cast<const T*>(gp), static_cast<const T*>(xp),
                 static_cast<const T*>(wp), static_cast<T*>(gxp), static_cast<T*>(gwp), sh.outer,
                 sh.channels, sh.inner, threads);
    });
    return py::make_tuple(gx, gw);
}

}  // namespace

void register_activations(py::module_& m) {
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name)                                                  \
    m.def(                                                                                                \
        #name,                                                                                            \
        [](py::handle x, const py::object& out, double a, double b) {                                     \
            return forward(Act::name, #public_name, x, out, a, b);                                        \
        },                                                                                                \
        "x"_a, "out"_a = py::none(), "a"_a = 0.0, "b"_a = 0.0,                                            \
        "Forward of " #public_name "; see fastopt.functional." #public_name);                           \
    m.def(                                                                                                \
        #name "_backward",                                                                                \
        [](py::handle gy, py::handle s, const py::object& out, double a, double b) {                      \
            return backward(Act::name, #public_name, #saved, gy, s, out, a, b);                           \
        },                                                                                                \
        "grad_out"_a, py::arg(#saved), "out"_a = py::none(), "a"_a = 0.0, "b"_a = 0.0,                        \
        "Backward of " #public_name " from grad_out and " #saved "; see fastopt.functional." #public_name \
        "_backward");
#define FASTOPT_PRELU(name)                                                                                  \
    m.def(#name, &name, "x"_a, "weight"_a, "out"_a = py::none(), "PReLU forward; see fastopt.functional." #name); \
    m.def(#name "_backward", &name##_backward, "grad_out"_a, "x"_a, "weight"_a, "out"_a = py::none(),       \
          "PReLU backward -> (grad_x, grad_weight), grad_x in out if given; see fastopt.functional." #name    \
          "_backward");
#include "fastopt/activations.def"
}

}  // namespace fastopt
