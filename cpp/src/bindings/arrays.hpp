// arrays.hpp: the array contract at the binding boundary.
//
// - Read-only inputs: any array-like; converted to a C-contiguous, aligned ndarray *without
//   changing its dtype* (a strided or misaligned input is copied, which the docs say).
// - Arrays written in place (out=, optimizer state): must already be an ndarray of the right
//   dtype and shape, C-contiguous, aligned and writeable. Never a silent copy: the update
//   would land in a temporary and be lost.
// - Every check runs before any kernel writes, so a call that raises has changed nothing.
#pragma once

#include <cstdint>
#include <string>

#include "fastopt/parallel.hpp"  // FpEnvScope
#include "pybind.hpp"

namespace fastopt {

enum class Dtype { f32, f64 };

// "(3, 4)", "(5,)", "()"
inline std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// A read-only float input, converted as described above. `fn` and `arg` name the call.
inline py::array float_input(py::handle obj, const std::string& fn, const char* arg) {
    py::array a = py::array::ensure(obj);
    if (!a) {
        const std::string type = py::str(py::type::handle_of(obj).attr("__qualname__")).cast<std::string>();
        const std::string module = py::str(py::type::handle_of(obj).attr("__module__")).cast<std::string>();
        if (module.rfind("torch", 0) == 0)  // NumPy cannot view it: it requires grad, or is not on the CPU
            throw py::type_error(fn + ": " + arg + " is a " + module + "." + type +
                                 " that NumPy cannot view (it requires grad, or is not on the CPU); pass " + arg +
                                 ".detach().cpu().numpy() (the same memory for a CPU tensor)");
        throw py::type_error(fn + ": " + arg + " must be an array-like of float32 or float64 (an ndarray, or "
                             "anything numpy.asarray accepts), got " + module + "." + type);
    }
    const char kind = a.dtype().kind();
    const auto size = a.itemsize();
    if (kind != 'f' || (size != 4 && size != 8))
        throw py::type_error(fn + ": " + arg + " has unsupported dtype " + dtype_str(a) +
                             "; fastopt computes in float32 or float64 and never changes a dtype silently "
                             "(array-likes are converted to arrays, a list of Python floats to float64): pass "
                             "numpy.asarray(" + arg + ", numpy.float32) or float64");
    constexpr int kFlags = py::array::c_style | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
    if ((a.flags() & kFlags) != kFlags) a = py::array::ensure(a, kFlags);
    if (!a.dtype().attr("isnative").cast<bool>())  // e.g. big-endian data: a native C-order copy
        // (not ascontiguousarray: it turns a 0-d array into shape (1,))
        a = a.attr("astype")(a.dtype().attr("newbyteorder")("="), "order"_a = "C");
    return a;
}

inline Dtype dtype_of(const py::array& a) { return a.itemsize() == 4 ? Dtype::f32 : Dtype::f64; }

// Runs body(T{}) with T the C++ type of `dt`, with the GIL released, in the IEEE default
// floating-point environment (restored afterwards; see parallel.hpp). The body gets raw
// pointers taken beforehand and must not touch any Python object.
template <class Body>
void run_nogil(Dtype dt, const Body& body) {
    py::gil_scoped_release release;
    FpEnvScope fp;  // the caller's FTZ/DAZ/rounding neither leak in nor get changed
    if (dt == Dtype::f32)
        body(float{});
    else
        body(double{});
}

inline void require_same_dtype(const py::array& a, const char* an, const py::array& b, const char* bn,
                               const std::string& fn) {
    if (!a.dtype().is(b.dtype()) && !a.dtype().equal(b.dtype()))
        throw py::type_error(fn + ": " + bn + " has dtype " + dtype_str(b) + " but " + an + " has dtype " +
                             dtype_str(a) + "; all operands must have the same dtype");
}

inline bool same_shape(const py::array& a, const py::array& b) {
    if (a.ndim() != b.ndim()) return false;
    for (py::ssize_t d = 0; d < a.ndim(); ++d)
        if (a.shape(d) != b.shape(d)) return false;
    return true;
}

inline void require_same_shape(const py::array& a, const char* an, const py::array& b, const char* bn,
                               const std::string& fn) {
    if (!same_shape(a, b))
        throw py::value_error(fn + ": " + an + " has shape " + shape_str(a) + " but " + bn + " has shape " +
                              shape_str(b));
}

inline bool overlaps(const py::array& a, const py::array& b) {
    const auto* a0 = static_cast<const char*>(a.data());
    const auto* b0 = static_cast<const char*>(b.data());
    return a.nbytes() > 0 && b.nbytes() > 0 && a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

// Checks an array the kernel writes; `like` gives the dtype and shape it must have.
inline void check_output(const py::array& out, const char* name, const py::array& like, const std::string& fn) {
    if (!out.dtype().equal(like.dtype()) || !out.dtype().attr("isnative").cast<bool>())
        throw py::type_error(fn + ": " + name + " has dtype " + dtype_str(out) + " but the result is " +
                             dtype_str(like) + "; " + name + " is written in place and is never cast");
    if (!same_shape(out, like))
        throw py::value_error(fn + ": " + name + " has shape " + shape_str(out) + " but the result has shape " +
                              shape_str(like));
    if (!out.writeable()) throw py::value_error(fn + ": " + name + " is read-only");
    if (!(out.flags() & py::array::c_style))
        throw py::value_error(fn + ": " + name + " must be C-contiguous (it is written in place, never copied)");
    if (!(out.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(fn + ": " + name + " is not aligned to its dtype");
}

// `out` may be exactly an input (in place) but must not partially overlap one.
inline void check_no_partial_overlap(const py::array& out, const char* oname, const py::array& in,
                                     const char* iname, const std::string& fn) {
    if (overlaps(out, in) && !(out.data() == in.data() && out.nbytes() == in.nbytes()))
        throw py::value_error(fn + ": " + oname + " partially overlaps " + iname +
                              "; pass the same array for in-place use, or non-overlapping memory");
}

// `out` when given (checked), else a new array like `like`.
inline py::array output_for(const py::object& out, const char* name, const py::array& like, const std::string& fn) {
    if (out.is_none()) return py::array(like.dtype(), std::vector<py::ssize_t>(like.shape(), like.shape() + like.ndim()));
    if (!py::isinstance<py::array>(out))
        throw py::type_error(fn + ": " + name + " must be a numpy.ndarray, got " +
                             py::str(py::type::handle_of(out)).cast<std::string>());
    py::array o = py::reinterpret_borrow<py::array>(out);
    check_output(o, name, like, fn);
    return o;
}

}  // namespace fastopt
