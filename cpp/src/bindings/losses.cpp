// Bindings of softmax, the losses and dropout: argument checks (all before any write), GIL
// release, a call through dispatch. The registrations are expanded from losses.def; a kernel
// is picked from LossKernels<T> by a `select` function object (k -> k.<row name>), so one
// binding serves every row of a shape. Docstrings and the public signatures are in
// python/fastopt/functional/_losses.py.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "dispatch.hpp"
#include "pybind.hpp"

namespace fastopt {
namespace {

std::string display(const char* name) { return std::string("fastopt.") + name; }

// x viewed as (outer, len, inner) around `axis` (negative counts from the end).
struct AxisView {
    std::int64_t outer = 1, len = 1, inner = 1;
};

AxisView axis_view(const py::array& x, std::int64_t axis, const std::string& fn) {
    const std::int64_t nd = x.ndim();
    const std::int64_t lim = nd > 0 ? nd : 1;  // a 0-d array has the one axis 0 / -1
    if (axis < -lim || axis >= lim)
        throw py::value_error(fn + ": axis " + std::to_string(axis) + " is out of bounds for an array of dimension " +
                              std::to_string(nd));
    if (axis < 0) axis += lim;
    AxisView v;
    if (nd == 0) return v;
    for (std::int64_t d = 0; d < axis; ++d) v.outer *= x.shape(d);
    v.len = x.shape(axis);
    for (std::int64_t d = axis + 1; d < nd; ++d) v.inner *= x.shape(d);
    return v;
}

template <class Select>
py::array softmax_forward(Select select, const char* name, py::handle x_obj, std::int64_t axis,
                          const py::object& out_obj) {
    const std::string fn = display(name);
    py::array x = float_input(x_obj, fn, "x");
    const AxisView v = axis_view(x, axis, fn);
    py::array out = output_for(out_obj, "out", x, fn);
    check_no_partial_overlap(out, "out", x, "x", fn);
    const int threads = num_threads();
    const void* xp = x.data();
    void* yp = out.mutable_data();
    const LossTable& t = losses();
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        select(t.get<T>())(static_cast<const T*>(xp), static_cast<T*>(yp), v.outer, v.len, v.inner, threads);
    });
    return out;
}

template <class Select>
py::array softmax_backward(Select select, const char* name, py::handle gy_obj, py::handle y_obj, std::int64_t axis,
                           const py::object& out_obj) {
    const std::string fn = display(name) + "_backward";
    py::array gy = float_input(gy_obj, fn, "grad_out");
    py::array y = float_input(y_obj, fn, "y");
    require_same_dtype(gy, "grad_out", y, "y", fn);
    require_same_shape(gy, "grad_out", y, "y", fn);
    const AxisView v = axis_view(y, axis, fn);
    py::array out = output_for(out_obj, "out", gy, fn);
    check_no_partial_overlap(out, "out", gy, "grad_out", fn);
    check_no_partial_overlap(out, "out", y, "y", fn);
    const int threads = num_threads();
    const void* gp = gy.data();
    const void* yp = y.data();
    void* op = out.mutable_data();
    const LossTable& t = losses();
    run_nogil(dtype_of(gy), [&](auto tag) {
        using T = decltype(tag);
        select(t.get<T>())(static_cast<const T*>(gp), static_cast<const T*>(yp), static_cast<T*>(op), v.outer, v.len,
                           v.inner, threads);
    });
    return out;
}

Reduction parse_reduction(const std::string& r, const std::string& fn) {
    if (r == "mean") return Reduction::mean;
    if (r == "sum") return Reduction::sum;
    if (r == "none") return Reduction::none;
    throw py::value_error(fn + ": reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

// The loss as returned: a scalar of the input dtype ('mean', 'sum') or the 'none' array.
py::object loss_value(const py::array& like, Reduction red, const LossSum& s, const py::array& none) {
    if (red == Reduction::none) return none;
    // The division and NumPy's rounding to the dtype run in the IEEE default environment and
    // leave the caller's MXCSR as it was, status flags included (tests/test_fp_environment.py).
    FpEnvScope fp;
    const double v = reduced_loss(s, red);
    return like.dtype().attr("type")(v);
}

std::vector<py::ssize_t> dims(const py::array& a) { return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()); }

std::string shape_of(const std::vector<py::ssize_t>& s) {
    std::string r = "(";
    for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + (s.size() == 1 ? ",)" : ")");
}

// "[2, 1]" for flat index r in `shape`.
std::string position(std::int64_t r, const std::vector<py::ssize_t>& shape) {
    if (shape.empty()) return "";
    std::vector<std::int64_t> idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        idx[d] = shape[d] > 0 ? r % shape[d] : 0;
        r = shape[d] > 0 ? r / shape[d] : 0;
    }
    std::string s = "[";
    for (std::size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
    return s + "]";
}

struct ClassProblem {
    py::array x, target, weight;  // weight: none when absent
    bool has_weight = false;
    ClassLossParams p;
    std::vector<py::ssize_t> sample_shape;  // shape of one loss per sample
};

// Checks logits / target / weight / options of cross_entropy and nll_loss (in that order)
// (index targets are checked by the kernel, in its first pass: check_targets). Writes nothing.
ClassProblem class_problem(const std::string& fn, const char* xname, py::handle x_obj, py::handle t_obj,
                           py::handle w_obj, std::int64_t ignore_index, const std::string& reduction,
                           double label_smoothing, bool allow_prob) {
    ClassProblem cp;
    cp.x = float_input(x_obj, fn, xname);
    const py::array& x = cp.x;
    if (x.ndim() < 1)
        throw py::value_error(fn + ": " + xname + " must have shape (C,), (N, C) or (N, C, d1, ...), got " +
                              shape_str(x));
    ClassLossParams& p = cp.p;
    std::vector<py::ssize_t> xs = dims(x);
    if (x.ndim() == 1) {
        p.n = 1;
        p.c = xs[0];
        p.inner = 1;
    } else {
        p.n = xs[0];
        p.c = xs[1];
        p.inner = 1;
        for (std::size_t d = 2; d < xs.size(); ++d) p.inner *= xs[d];
        cp.sample_shape.push_back(xs[0]);
        for (std::size_t d = 2; d < xs.size(); ++d) cp.sample_shape.push_back(xs[d]);
    }
    py::array t = py::array::ensure(t_obj);
    if (!t) throw py::type_error(fn + ": target must be an array");
    const char kind = t.dtype().kind();
    if (kind == 'f') {
        if (!allow_prob)
            throw py::type_error(fn + ": target has dtype " + dtype_str(t) +
                                 "; class indices must be int32 or int64");
        if (!same_shape(t, x))
            throw py::type_error(fn + ": target has dtype " + dtype_str(t) + " and shape " + shape_str(t) +
                                 "; class indices must be int32 or int64 of shape " + shape_of(cp.sample_shape) +
                                 ", and class probabilities must have the " + xname + "' shape " + shape_str(x));
        t = float_input(t, fn, "target");
        require_same_dtype(x, xname, t, "target", fn);
        p.target_kind = 2;
    } else {
        if (!(kind == 'i' && (t.itemsize() == 4 || t.itemsize() == 8)))
            throw py::type_error(fn + ": target has unsupported dtype " + dtype_str(t) +
                                 "; expected int32 or int64 class indices" +
                                 (allow_prob ? " or float class probabilities" : ""));
        if (dims(t) != cp.sample_shape)
            throw py::value_error(fn + ": target has shape " + shape_str(t) + " but " + xname + " of shape " +
                                  shape_str(x) + " needs class indices of shape " + shape_of(cp.sample_shape));
        // Read as int32_t / int64_t: a native, aligned, C-contiguous copy where needed (not
        // ascontiguousarray: it returns a misaligned C-contiguous array as it is).
        constexpr int kFlags = py::array::c_style | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
        if (!t.dtype().attr("isnative").cast<bool>())
            t = t.attr("astype")(t.dtype().attr("newbyteorder")("="), "order"_a = "C");
        else if ((t.flags() & kFlags) != kFlags)
            t = py::array::ensure(t, kFlags);
        p.target_kind = t.itemsize() == 4 ? 0 : 1;
    }
    cp.target = t;
    p.target = t.data();
    if (!w_obj.is_none()) {
        cp.weight = float_input(w_obj, fn, "weight");
        require_same_dtype(x, xname, cp.weight, "weight", fn);
        if (cp.weight.ndim() != 1 || cp.weight.shape(0) != p.c)
            throw py::value_error(fn + ": weight has shape " + shape_str(cp.weight) + " but " + xname + " has " +
                                  std::to_string(p.c) + " classes; expected shape (" + std::to_string(p.c) + ",)");
        cp.has_weight = true;
    }
    p.reduction = parse_reduction(reduction, fn);
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw py::value_error(fn + ": label_smoothing must be in [0, 1], got " + std::to_string(label_smoothing));
    p.label_smoothing = label_smoothing;
    p.ignore_index = ignore_index;
    if (p.target_kind == 2 && ignore_index != -100)  // as torch
        throw py::value_error(fn + ": ignore_index is not supported for class-probability (float) targets");
    return cp;
}

// The first index target out of range (a class outside [0, C), not ignore_index), or -1.
// Run only on an error path: the kernel checks the targets in its first pass, before it
// writes anything (LossSum::bad_target).
std::int64_t first_bad_target(const ClassLossParams& p) {
    if (p.target_kind == 2) return -1;
    const std::int64_t samples = p.n * p.inner;
    for (std::int64_t r = 0; r < samples; ++r) {
        const std::int64_t v = p.target_kind == 0 ? static_cast<const std::int32_t*>(p.target)[r]
                                                  : static_cast<const std::int64_t*>(p.target)[r];
        if (v != p.ignore_index && (v < 0 || v >= p.c)) return r;
    }
    return -1;
}

// Raises the IndexError naming the first bad target, if there is one.
void check_targets(const std::string& fn, const ClassProblem& cp) {
    const ClassLossParams& p = cp.p;
    const std::int64_t r = first_bad_target(p);
    if (r < 0) return;
    const std::int64_t v = p.target_kind == 0 ? static_cast<const std::int32_t*>(p.target)[r]
                                              : static_cast<const std::int64_t*>(p.target)[r];
    throw py::index_error(fn + ": target" + position(r, cp.sample_shape) + " = " + std::to_string(v) +
                          " is out of range for " + std::to_string(p.c) + " classes (expected 0 <= target < " +
                          std::to_string(p.c) + " or ignore_index = " + std::to_string(p.ignore_index) + ")");
}

// The gradient's array: `out` (checked: logits' shape and dtype, C-contiguous, writeable, no
// overlap with any input) or a new one; None without a gradient.
py::array grad_output(const py::object& out_obj, bool want_grad, const py::array& like, const std::string& fn,
                      std::initializer_list<py::handle> inputs) {
    if (!want_grad) {
        if (!out_obj.is_none()) throw py::value_error(fn + ": out is given but grad=False");
        return py::array();
    }
    py::array out = output_for(out_obj, "out", like, fn);
    if (!out_obj.is_none())
        for (py::handle h : inputs)
            if (!h.is_none() && overlaps(out, py::reinterpret_borrow<py::array>(h)))
                throw py::value_error(fn + ": out overlaps an input; the gradient needs its own memory");
    return out;
}

// xname: what the scores are, "logits" or "log_probs"; probabilities: whether float targets
// (class probabilities) are accepted.
template <class Select>
py::tuple class_loss(Select select, const char* name, const char* xname, bool probabilities, py::handle x_obj,
                     py::handle t_obj, py::handle w_obj, std::int64_t ignore_index, const std::string& reduction,
                     double label_smoothing, double grad_scale, bool want_grad, const py::object& out_obj) {
    const std::string fn = display(name);
    ClassProblem cp = class_problem(fn, xname, x_obj, t_obj, w_obj, ignore_index, reduction, label_smoothing,
                                    probabilities);
    cp.p.grad_scale = grad_scale;
    py::array grad;
    try {
        grad = grad_output(out_obj, want_grad, cp.x, fn,
                           {cp.x, cp.target, cp.has_weight ? py::handle(cp.weight) : py::handle(py::none())});
    } catch (...) {
        check_targets(fn, cp);  // a bad target is reported first, as when the inputs are checked before out
        throw;
    }
    py::array none;
    if (cp.p.reduction == Reduction::none) none = py::array(cp.x.dtype(), cp.sample_shape);
    const int threads = num_threads();
    const void* xp = cp.x.data();
    const void* wp = cp.has_weight ? cp.weight.data() : nullptr;
    void* gp = want_grad ? grad.mutable_data() : nullptr;
    void* np_ = cp.p.reduction == Reduction::none ? none.mutable_data() : nullptr;
    const ClassLossParams p = cp.p;
    LossSum s;
    const LossTable& t = losses();
    run_nogil(dtype_of(cp.x), [&](auto tag) {
        using T = decltype(tag);
        s = select(t.get<T>())(static_cast<const T*>(xp), static_cast<const T*>(wp), static_cast<T*>(gp),
                               static_cast<T*>(np_), p, threads);
    });
    if (s.bad_target) {
        check_targets(fn, cp);
        throw std::logic_error(fn + ": a target was reported out of range but none is");
    }
    py::object loss = loss_value(cp.x, p.reduction, s, none);
    return py::make_tuple(loss, want_grad ? py::object(grad) : py::object(py::none()));
}

py::tuple pointwise_loss(PointwiseLoss which, const char* name, py::handle a_obj, py::handle b_obj, const char* aname,
                         py::handle w_obj, py::handle pw_obj, const std::string& reduction, double beta, double grad_scale,
                         bool want_grad, const py::object& out_obj) {
    const std::string fn = display(name);
    py::array a = float_input(a_obj, fn, aname);
    py::array b = float_input(b_obj, fn, "target");
    require_same_dtype(a, aname, b, "target", fn);
    require_same_shape(a, aname, b, "target", fn);
    // The weight broadcast to a's shape (a C-contiguous copy), or None.
    auto broadcast = [&](py::handle obj, const char* wname) -> py::object {
        if (obj.is_none()) return py::none();
        py::array w = float_input(obj, fn, wname);
        require_same_dtype(a, aname, w, wname, fn);
        try {
            py::object bw = py::module_::import("numpy").attr("broadcast_to")(w, py::tuple(py::cast(dims(a))));
            return float_input(bw, fn, wname);
        } catch (py::error_already_set&) {
            throw py::value_error(fn + ": " + wname + " of shape " + shape_str(w) + " does not broadcast to " + aname +
                                  "'s shape " + shape_str(a));
        }
    };
    const py::object w = broadcast(w_obj, "weight");
    const py::object pw = broadcast(pw_obj, "pos_weight");
    PointwiseParams pp;
    pp.reduction = parse_reduction(reduction, fn);
    pp.grad_scale = grad_scale;
    pp.beta = beta;
    if (which == PointwiseLoss::smooth_l1) {
        if (!(beta >= 0.0)) throw py::value_error(fn + ": beta must be >= 0, got " + std::to_string(beta));
        if (beta == 0.0) which = PointwiseLoss::l1;  // torch: smooth_l1 with beta 0 is l1
    }
    if (which == PointwiseLoss::huber && !(beta > 0.0))
        throw py::value_error(fn + ": delta must be > 0, got " + std::to_string(beta));
    py::array grad = grad_output(out_obj, want_grad, a, fn, {a, b, w, pw});
    py::array none;
    if (pp.reduction == Reduction::none) none = py::array(a.dtype(), dims(a));
    const std::int64_t n = a.size();
    const int threads = num_threads();
    const void* ap = a.data();
    const void* bp = b.data();
    const void* wp = w.is_none() ? nullptr : py::reinterpret_borrow<py::array>(w).data();
    const void* pwp = pw.is_none() ? nullptr : py::reinterpret_borrow<py::array>(pw).data();
    void* gp = want_grad ? grad.mutable_data() : nullptr;
    void* np_ = pp.reduction == Reduction::none ? none.mutable_data() : nullptr;
    const int k = static_cast<int>(which);
    LossSum s;
    const LossTable& t = losses();
    run_nogil(dtype_of(a), [&](auto tag) {
        using T = decltype(tag);
        s = t.get<T>().pointwise[k](static_cast<const T*>(ap), static_cast<const T*>(bp), static_cast<const T*>(wp),
                                    static_cast<const T*>(pwp), static_cast<T*>(gp), static_cast<T*>(np_), n, pp,
                                    threads);
    });
    py::object loss = loss_value(a, pp.reduction, s, none);
    return py::make_tuple(loss, want_grad ? py::object(grad) : py::object(py::none()));
}

void check_p(double p, const std::string& fn) {
    if (!(p >= 0.0 && p <= 1.0)) throw py::value_error(fn + ": p must be in [0, 1], got " + std::to_string(p));
}

// The seed as an integer in [0, 2^64): TypeError for a non-integer, ValueError outside.
std::uint64_t seed_of(const py::object& seed, const std::string& fn) {
    if (!py::isinstance<py::int_>(seed) || py::isinstance<py::bool_>(seed))
        throw py::type_error(fn + ": seed must be an int, got " + py::str(py::type::handle_of(seed)).cast<std::string>());
    const py::int_ v = py::reinterpret_borrow<py::int_>(seed);
    if (v < py::int_(0) || v >= py::int_(py::module_::import("builtins").attr("pow")(2, 64)))
        throw py::value_error(fn + ": seed must be in [0, 2**64), got " + py::str(seed).cast<std::string>());
    return v.cast<std::uint64_t>();
}

py::tuple dropout(py::handle x_obj, double p, const py::object& seed_obj, bool training, const py::object& out_obj) {
    const std::string fn = "fastopt.dropout";
    py::array x = float_input(x_obj, fn, "x");
    check_p(p, fn);
    const std::uint64_t seed = seed_of(seed_obj, fn);
    py::array out = output_for(out_obj, "out", x, fn);
    check_no_partial_overlap(out, "out", x, "x", fn);
    py::array mask(py::dtype("bool"), dims(x));
    const double pe = training ? p : 0.0;  // eval mode: the identity, every element kept
    const std::int64_t n = x.size();
    const int threads = num_threads();
    const void* xp = x.data();
    void* yp = out.mutable_data();
    auto* mp = static_cast<std::uint8_t*>(mask.mutable_data());
    const LossTable& t = losses();
    run_nogil(dtype_of(x), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().dropout(static_cast<const T*>(xp), static_cast<T*>(yp), mp, n, pe, seed, threads);
    });
    return py::make_tuple(out, mask);
}

py::array dropout_backward(py::handle gy_obj, py::handle mask_obj, double p, const py::object& out_obj) {
    const std::string fn = "fastopt.dropout_backward";
    py::array gy = float_input(gy_obj, fn, "grad_out");
    py::array mask = py::array::ensure(mask_obj);
    if (!mask) throw py::type_error(fn + ": mask must be an array of bool or uint8");
    const char kind = mask.dtype().kind();
    if (!(kind == 'b' || (kind == 'u' && mask.itemsize() == 1)))
        throw py::type_error(fn + ": mask has dtype " + dtype_str(mask) + "; expected bool or uint8 (dropout's mask)");
    require_same_shape(gy, "grad_out", mask, "mask", fn);
    check_p(p, fn);
    constexpr int kFlags = py::array::c_style | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
    if ((mask.flags() & kFlags) != kFlags) mask = py::array::ensure(mask, kFlags);
    py::array out = output_for(out_obj, "out", gy, fn);
    check_no_partial_overlap(out, "out", gy, "grad_out", fn);
    if (overlaps(out, mask)) throw py::value_error(fn + ": out overlaps mask");
    const std::int64_t n = gy.size();
    const int threads = num_threads();
    const void* gp = gy.data();
    const auto* mp = static_cast<const std::uint8_t*>(mask.data());
    void* op = out.mutable_data();
    const LossTable& t = losses();
    run_nogil(dtype_of(gy), [&](auto tag) {
        using T = decltype(tag);
        t.get<T>().dropout_backward(static_cast<const T*>(gp), mp, static_cast<T*>(op), n, p, threads);
    });
    return out;
}

// One registration function per row shape of losses.def; `name` is the row's public name (a
// string literal: the bindings keep it). pybind11 copies the docstrings.

std::string see(const std::string& name) { return "see fastopt.functional." + name; }

template <class Forward, class Backward>
void def_softmax(py::module_& m, const char* name, Forward forward, Backward backward) {
    m.def(
        name,
        [forward, name](py::handle x, std::int64_t axis, const py::object& out) {
            return softmax_forward(forward, name, x, axis, out);
        },
        "x"_a, "axis"_a = -1, "out"_a = py::none(), see(name).c_str());
    const std::string backward_name = std::string(name) + "_backward";
    m.def(
        backward_name.c_str(),
        [backward, name](py::handle gy, py::handle y, std::int64_t axis, const py::object& out) {
            return softmax_backward(backward, name, gy, y, axis, out);
        },
        "grad_out"_a, "y"_a, "axis"_a = -1, "out"_a = py::none(), see(backward_name).c_str());
}

// Softmax cross-entropy: index or class-probability targets, label smoothing.
template <class Select>
void def_class_loss_logits(py::module_& m, const char* name, Select select) {
    m.def(
        name,
        [select, name](py::handle x, py::handle t, py::handle w, std::int64_t ignore_index, const std::string& reduction,
                       double label_smoothing, double grad_scale, bool grad, const py::object& out) {
            return class_loss(select, name, "logits", true, x, t, w, ignore_index, reduction, label_smoothing,
                              grad_scale, grad, out);
        },
        "logits"_a, "target"_a, "weight"_a = py::none(), "ignore_index"_a = -100, "reduction"_a = "mean",
        "label_smoothing"_a = 0.0, "grad_scale"_a = 1.0, "grad"_a = true, "out"_a = py::none(),
        ("(loss, grad_logits or None); " + see(name)).c_str());
}

// Negative log-likelihood of log-probabilities: index targets only.
template <class Select>
void def_class_loss_log_probs(py::module_& m, const char* name, Select select) {
    m.def(
        name,
        [select, name](py::handle x, py::handle t, py::handle w, std::int64_t ignore_index, const std::string& reduction,
                       double grad_scale, bool grad, const py::object& out) {
            return class_loss(select, name, "log_probs", false, x, t, w, ignore_index, reduction, 0.0, grad_scale,
                              grad, out);
        },
        "log_probs"_a, "target"_a, "weight"_a = py::none(), "ignore_index"_a = -100, "reduction"_a = "mean",
        "grad_scale"_a = 1.0, "grad"_a = true, "out"_a = py::none(),
        ("(loss, grad_log_probs or None); " + see(name)).c_str());
}

void def_pointwise_loss_pred_beta(py::module_& m, const char* name, PointwiseLoss which) {
    m.def(
        name,
        [which, name](py::handle pred, py::handle target, const std::string& reduction, double beta, double grad_scale,
                      bool grad, const py::object& out) {
            return pointwise_loss(which, name, pred, target, "pred", py::none(), py::none(), reduction, beta,
                                  grad_scale, grad, out);
        },
        "pred"_a, "target"_a, "reduction"_a = "mean", "beta"_a = 1.0, "grad_scale"_a = 1.0, "grad"_a = true,
        "out"_a = py::none(),
        ("(loss, grad_pred or None); beta is smooth_l1's beta or huber's delta; " + see(name)).c_str());
}

void def_pointwise_loss_logits_weights(py::module_& m, const char* name, PointwiseLoss which) {
    m.def(
        name,
        [which, name](py::handle x, py::handle target, py::handle w, py::handle pw, const std::string& reduction,
                      double grad_scale, bool grad, const py::object& out) {
            return pointwise_loss(which, name, x, target, "logits", w, pw, reduction, 1.0, grad_scale, grad, out);
        },
        "logits"_a, "target"_a, "weight"_a = py::none(), "pos_weight"_a = py::none(), "reduction"_a = "mean",
        "grad_scale"_a = 1.0, "grad"_a = true, "out"_a = py::none(),
        ("(loss, grad_logits or None); " + see(name)).c_str());
}

}  // namespace

void register_losses(py::module_& m) {
#define FASTOPT_SOFTMAX(name) \
    def_softmax(m, #name, [](const auto& k) { return k.name; }, [](const auto& k) { return k.name##_backward; });
#define FASTOPT_CLASS_LOSS(name, public_name, input) \
    def_class_loss_##input(m, #public_name, [](const auto& k) { return k.name; });
#define FASTOPT_POINTWISE_LOSS(name, public_name, args) \
    def_pointwise_loss_##args(m, #public_name, PointwiseLoss::name);
#define FASTOPT_DROPOUT(name)                                                                 \
    m.def(#name, &name, "x"_a, "p"_a, "seed"_a, "training"_a = true, "out"_a = py::none(),      \
          "(y, mask); see fastopt.functional." #name);                                         \
    m.def(#name "_backward", &name##_backward, "grad_out"_a, "mask"_a, "p"_a, "out"_a = py::none(), \
          "see fastopt.functional." #name "_backward");
#include "fastopt/losses.def"
}

}  // namespace fastopt
