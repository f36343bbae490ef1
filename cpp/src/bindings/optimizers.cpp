// Bindings of the multi-tensor optimizer steps and clip_grad_norm_.
//
// Every list is checked whole (dtypes, shapes, flags, overlaps) before the GIL is released
// and anything is written; then one call runs the step over all tensors. The Python
// signatures, defaults and docstrings live in python/fastopt/functional/_optim.py.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "dispatch.hpp"
#include "pybind.hpp"

namespace fastopt {
namespace {

// NumPy's type number of float16 (NPY_HALF), which pybind11's npy_api does not name.
constexpr int kNpyHalf = 23;

// The storage type of an array, read from its descriptor without calling into Python (these
// checks run for every array of a model, every step). bfloat16 is a uint16 view, or
// ml_dtypes' bfloat16 (a user-defined dtype: its name is the only Python call, made only then).
bool elem_of(const py::array& a, Elem& e) {
    const py::dtype d = a.dtype();
    const char order = d.byteorder();
    if (order == '>') return false;  // not native on the little-endian machines we build for
    switch (d.num()) {
        case py::detail::npy_api::NPY_FLOAT_: e = Elem::f32; return true;
        case py::detail::npy_api::NPY_DOUBLE_: e = Elem::f64; return true;
        case py::detail::npy_api::NPY_USHORT_: e = Elem::bf16; return true;
        case kNpyHalf: e = Elem::f16; return true;
        default: break;
    }
    if (d.kind() == 'V' && d.itemsize() == 2 && py::str(d).cast<std::string>() == "bfloat16") {
        e = Elem::bf16;
        return true;
    }
    return false;
}

const char* elem_name(Elem e) {
    switch (e) {
        case Elem::f32: return "float32";
        case Elem::f64: return "float64";
        case Elem::bf16: return "bfloat16";
        case Elem::f16: return "float16";
    }
    return "?";
}

std::string at(const std::string& list, std::size_t i) { return list + "[" + std::to_string(i) + "]"; }

// A list argument: one ndarray is a list of one.
std::vector<py::array> as_list(py::handle obj, const std::string& fn, const std::string& name) {
    std::vector<py::array> out;
    if (py::isinstance<py::array>(obj)) {
        out.push_back(py::reinterpret_borrow<py::array>(obj));
        return out;
    }
    if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj))
        throw py::type_error(fn + ": " + name + " must be an ndarray or a list of ndarrays, got " +
                             py::str(py::type::handle_of(obj)).cast<std::string>());
    for (py::handle item : py::reinterpret_borrow<py::sequence>(obj)) {
        if (!py::isinstance<py::array>(item))
            throw py::type_error(fn + ": " + at(name, out.size()) + " must be a numpy.ndarray, got " +
                                 py::str(py::type::handle_of(item)).cast<std::string>() +
                                 " (arrays updated in place are never converted)");
        out.push_back(py::reinterpret_borrow<py::array>(item));
    }
    return out;
}

// Names like "params[3]" are built only for an error message: these checks run for every
// array of a model on every step.
void check_layout(const py::array& a, const std::string& fn, const char* list, std::size_t i, bool written) {
    const int flags = a.flags();
    constexpr int kNeed = py::array::c_style | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
    if ((flags & kNeed) == kNeed && (!written || (flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))) return;
    const std::string what = at(list, i);
    if (written && !a.writeable()) throw py::value_error(fn + ": " + what + " is read-only");
    if (!(flags & py::array::c_style))
        throw py::value_error(fn + ": " + what + " must be C-contiguous (" +
                              (written ? "it is updated in place, never copied)" : "grads are read in place)"));
    throw py::value_error(fn + ": " + what + " is not aligned to its dtype");
}

void check_shape(const py::array& p, const py::array& a, const std::string& fn, const char* list, std::size_t i) {
    if (!same_shape(p, a))
        require_same_shape(p, at("params", i).c_str(), a, at(list, i).c_str(), fn);
}

struct Span {
    const char* lo;
    const char* hi;
    const char* list;
    std::size_t index;
    std::string what() const { return at(list, index); }
};

void add_span(std::vector<Span>& spans, const py::array& a, const char* list, std::size_t i) {
    const auto* lo = static_cast<const char*>(a.data());
    if (a.nbytes() > 0) spans.push_back({lo, lo + a.nbytes(), list, i});
}

// No array may share memory with another: a param twice in the list, a grad aliasing its
// param or a state buffer aliasing anything would make the in-place update ill-defined.
void check_disjoint(std::vector<Span>& spans, const std::string& fn) {
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.lo < b.lo; });
    for (std::size_t i = 1; i < spans.size(); ++i)
        if (spans[i].lo < spans[i - 1].hi)
            throw py::value_error(fn + ": " + spans[i - 1].what() + " and " + spans[i].what() +
                                  " share memory; every param, grad and state buffer must be a separate array");
}

// A scalar argument as T; a value pybind11 cannot convert (a str, None, 1.5 for an int, an int
// beyond 64 bits) is a TypeError naming the argument, not pybind11's RuntimeError.
template <class T>
T scalar_as(py::handle obj, const std::string& fn, const char* name) {
    try {
        return obj.cast<T>();
    } catch (const py::cast_error&) {
        const char* what = std::is_same<T, bool>::value       ? "a bool"
                           : std::is_integral<T>::value ? "an int (64-bit)"
                                                        : "a real number";
        throw py::type_error(fn + ": " + name + " must be " + what + ", got " +
                             py::str(py::type::handle_of(obj)).cast<std::string>() + " " +
                             py::repr(obj).cast<std::string>());
    }
}

template <class T>
std::vector<T> per_tensor(py::handle obj, std::size_t count, const std::string& fn, const char* name) {
    std::vector<T> v;
    if (py::isinstance<py::sequence>(obj) || py::isinstance<py::array>(obj)) {
        if (py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).ndim() == 0) {
            v.assign(count, scalar_as<T>(obj, fn, name));
            return v;
        }
        for (py::handle item : obj) v.push_back(scalar_as<T>(item, fn, name));
        if (v.size() != count)
            throw py::value_error(fn + ": " + name + " has " + std::to_string(v.size()) + " entries for " +
                                  std::to_string(count) + " params");
    } else {
        v.assign(count, scalar_as<T>(obj, fn, name));
    }
    return v;
}

OptimHyper parse_hyper(const py::dict& d, const std::string& fn) {
    OptimHyper h;
    auto num = [&](const char* k, double& f) { if (d.contains(k)) f = scalar_as<double>(d[k], fn, k); };
    auto flag = [&](const char* k, bool& f) { if (d.contains(k)) f = scalar_as<bool>(d[k], fn, k); };
    num("lr", h.lr); num("beta1", h.beta1); num("beta2", h.beta2); num("eps", h.eps);
    num("weight_decay", h.weight_decay); num("momentum", h.momentum); num("dampening", h.dampening);
    num("alpha", h.alpha); num("lr_decay", h.lr_decay);
    flag("nesterov", h.nesterov); flag("amsgrad", h.amsgrad); flag("centered", h.centered);
    flag("decoupled", h.decoupled); flag("bias_correction", h.bias_correction); flag("maximize", h.maximize);
    return h;
}

// The optimizers.def row named `name` (adamw included: see the row).
Optimizer parse_optimizer(const std::string& name) {
#define FASTOPT_OPTIMIZER(opt, pass) \
    if (name == #opt) return Optimizer::opt;
#include "fastopt/optimizers.def"
    throw py::value_error("unknown optimizer " + name);
}

// The arrays of one step call, as lists of one length: masters only with low-precision params
// (mixed), a state list empty when the call does not use its slot.
struct StepLists {
    std::vector<py::array> params, grads, masters;
    std::vector<std::pair<std::string, std::vector<py::array>>> states;
    bool mixed = false;
    std::size_t count() const { return params.size(); }
};

// states: a list of (name, list-or-None); a None slot is not used by this call.
StepLists parse_lists(const std::string& fn, py::handle params_obj, py::handle grads_obj, py::handle masters_obj,
                      const py::list& states) {
    StepLists l;
    l.params = as_list(params_obj, fn, "params");
    l.grads = as_list(grads_obj, fn, "grads");
    const std::size_t count = l.count();
    if (l.grads.size() != count)
        throw py::value_error(fn + ": " + std::to_string(l.grads.size()) + " grads for " + std::to_string(count) +
                              " params");
    l.mixed = !masters_obj.is_none();
    if (l.mixed) {
        l.masters = as_list(masters_obj, fn, "master_params");
        if (l.masters.size() != count)
            throw py::value_error(fn + ": " + std::to_string(l.masters.size()) + " master_params for " +
                                  std::to_string(count) + " params");
    }
    for (py::handle entry : states) {
        auto pair = entry.cast<py::tuple>();
        const std::string sname = pair[0].cast<std::string>();
        if (pair[1].is_none()) {
            l.states.emplace_back(sname, std::vector<py::array>{});
            continue;
        }
        auto list = as_list(pair[1], fn, sname);
        if (list.size() != count)
            throw py::value_error(fn + ": " + std::to_string(list.size()) + " " + sname + " for " +
                                  std::to_string(count) + " params");
        l.states.emplace_back(sname, std::move(list));
    }
    if (l.states.size() > 3) throw py::value_error(fn + ": at most 3 state lists");
    return l;
}

// Each step must be >= 1 (the 1-based update count of its tensor).
void check_steps(const std::vector<std::int64_t>& steps, const std::string& fn) {
    for (std::size_t i = 0; i < steps.size(); ++i)
        if (steps[i] < 1) throw py::value_error(fn + ": step must be >= 1 (the 1-based update count), got " +
                                                std::to_string(steps[i]) + " for params[" + std::to_string(i) + "]");
}

// The storage types of one call: one param type and one grad type over the whole list (set
// from tensor 0). check_dtypes checks tensor i against them and returns the compute type.
struct StepTypes {
    Elem param = Elem::f32, grad = Elem::f32;
};

Elem check_dtypes(const StepLists& l, std::size_t i, StepTypes& types, const std::string& fn) {
    const py::array& p = l.params[i];
    const py::array& g = l.grads[i];
    Elem pe, ge;
    if (!elem_of(p, pe))
        throw py::type_error(fn + ": " + at("params", i) + " has unsupported dtype " + dtype_str(p) +
                             "; expected float32 or float64 (or bfloat16/float16 with master_params)");
    if (!elem_of(g, ge)) throw py::type_error(fn + ": " + at("grads", i) + " has unsupported dtype " + dtype_str(g));
    if (i == 0) types = {pe, ge};
    if (pe != types.param)
        throw py::type_error(fn + ": " + at("params", i) + " is " + elem_name(pe) + " but params[0] is " +
                             elem_name(types.param) + "; one call takes one dtype");
    if (ge != types.grad)
        throw py::type_error(fn + ": " + at("grads", i) + " is " + elem_name(ge) + " but grads[0] is " +
                             elem_name(types.grad) + "; one call takes one dtype");
    const bool lowp = pe == Elem::bf16 || pe == Elem::f16;
    if (lowp && !l.mixed)
        throw py::type_error(fn + ": " + at("params", i) + " is " + elem_name(pe) +
                             "; low-precision params need master_params (float32 copies to update)");
    if (!lowp && l.mixed)
        throw py::type_error(fn + ": master_params are for bfloat16/float16 params, but " + at("params", i) + " is " +
                             elem_name(pe));
    const Elem compute = l.mixed ? Elem::f32 : pe;
    if (compute == Elem::f64 ? ge != Elem::f64 : ge == Elem::f64)
        throw py::type_error(fn + ": " + at("grads", i) + " is " + elem_name(ge) + " but the params are " +
                             elem_name(pe) + (compute == Elem::f64 ? "; float64 params need float64 grads"
                                                                    : "; grads must be float32, bfloat16 or float16"));
    return compute;
}

// Tensor i's arrays, checked (shape, layout, master and state dtypes) and recorded in `spans`
// for the overlap check, as the kernel's TensorRef. Its dtypes were checked by check_dtypes.
TensorRef tensor_ref(StepLists& l, std::size_t i, Elem compute, std::int64_t step, bool first,
                     std::vector<Span>& spans, const std::string& fn) {
    py::array& p = l.params[i];
    const py::array& g = l.grads[i];
    check_shape(p, g, fn, "grads", i);
    check_layout(p, fn, "params", i, true);
    check_layout(g, fn, "grads", i, false);
    TensorRef r;
    r.n = p.size();
    r.step = step;
    r.first = first;
    r.grad = g.data();
    add_span(spans, p, "params", i);
    add_span(spans, g, "grads", i);
    if (l.mixed) {
        py::array& m = l.masters[i];
        Elem me;
        if (!elem_of(m, me) || me != Elem::f32)
            throw py::type_error(fn + ": " + at("master_params", i) + " has dtype " + dtype_str(m) +
                                 "; master copies are float32");
        check_shape(p, m, fn, "master_params", i);
        check_layout(m, fn, "master_params", i, true);
        r.param = m.mutable_data();
        r.param_lowp = p.mutable_data();
        add_span(spans, m, "master_params", i);
    } else {
        r.param = p.mutable_data();
    }
    for (std::size_t s = 0; s < l.states.size(); ++s) {
        auto& [sname, list] = l.states[s];
        if (list.empty()) continue;
        py::array& a = list[i];
        Elem se;
        if (!elem_of(a, se) || se != compute)
            throw py::type_error(fn + ": " + at(sname, i) + " has dtype " + dtype_str(a) + " but must be " +
                                 elem_name(compute) + (l.mixed ? " (state of low-precision params is float32)" : ""));
        check_shape(p, a, fn, sname.c_str(), i);
        check_layout(a, fn, sname.c_str(), i, true);
        r.state[s] = a.mutable_data();
        add_span(spans, a, sname.c_str(), i);
    }
    return r;
}

// grad_scale and max_grad_norm, checked, into the request.
void set_grad_scaling(StepRequest& rq, double grad_scale, const py::object& max_grad_norm, const std::string& fn) {
    if (!(grad_scale > 0) || !std::isfinite(grad_scale))
        throw py::value_error(fn + ": grad_scale must be a positive finite number, got " + std::to_string(grad_scale));
    rq.grad_scale = grad_scale;
    if (!max_grad_norm.is_none()) {
        rq.max_grad_norm = scalar_as<double>(max_grad_norm, fn, "max_grad_norm");
        if (!(rq.max_grad_norm > 0))
            throw py::value_error(fn + ": max_grad_norm must be > 0, got " + std::to_string(rq.max_grad_norm));
    }
}

// The found_inf flag (a float32 array of one element, written with 1 when a grad is not
// finite), checked; null when not given.
float* found_inf_flag(const py::object& found_inf_obj, const std::vector<Span>& spans, const std::string& fn) {
    if (found_inf_obj.is_none()) return nullptr;
    if (!py::isinstance<py::array>(found_inf_obj))
        throw py::type_error(fn + ": found_inf must be a float32 ndarray of one element");
    py::array f = py::reinterpret_borrow<py::array>(found_inf_obj);
    Elem fe;
    if (!elem_of(f, fe) || fe != Elem::f32 || f.size() != 1)
        throw py::type_error(fn + ": found_inf must be a float32 ndarray of one element, got dtype " + dtype_str(f) +
                             " and shape " + shape_str(f));
    if (!f.writeable() || !(f.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(fn + ": found_inf must be writeable and aligned");
    auto* flag = static_cast<float*>(f.mutable_data());
    const char* fp = reinterpret_cast<const char*>(flag);
    for (const Span& sp : spans)  // it is written too: it may not lie in another array
        if (fp < sp.hi && sp.lo < fp + sizeof(float))
            throw py::value_error(fn + ": found_inf and " + sp.what() +
                                  " share memory; found_inf must be a separate array");
    return flag;
}

// Runs the checked request without the GIL; returns (grad_norm or None, found_inf, skipped).
py::tuple run_step(StepRequest& rq, float* found_inf) {
    rq.threads = num_threads();
    StepReport report;
    {
        py::gil_scoped_release release;
        FpEnvScope fp;
        report = optimizers().step(rq);
    }
    if (found_inf && report.found_inf) *found_inf = 1.0f;
    const py::object norm = rq.max_grad_norm > 0 && !report.skipped ? py::object(py::float_(report.grad_norm))
                                                                      : py::object(py::none());
    return py::make_tuple(norm, report.found_inf, report.skipped);
}

// _core.optimizer_step: every check in order (the lists, the per-tensor scalars, each tensor's
// arrays, overlaps, the scaling arguments, found_inf), then one kernel call over all tensors.
py::tuple optimizer_step(const std::string& name, py::handle params_obj, py::handle grads_obj, const py::list& states,
                         py::handle masters_obj, py::handle step_obj, py::handle first_obj, const py::dict& hyper,
                         double grad_scale, py::object max_grad_norm, py::object found_inf_obj) {
    const std::string fn = "fastopt.functional." + name + "_";
    StepRequest rq;
    rq.opt = parse_optimizer(name);
    rq.hyper = parse_hyper(hyper, fn);
    StepLists lists = parse_lists(fn, params_obj, grads_obj, masters_obj, states);
    const std::size_t count = lists.count();
    const std::vector<std::int64_t> steps = per_tensor<std::int64_t>(step_obj, count, fn, "step");
    const std::vector<bool> firsts = per_tensor<bool>(first_obj, count, fn, "first_step");
    check_steps(steps, fn);

    StepTypes types;
    std::vector<Span> spans;
    std::vector<TensorRef> refs(count);
    for (std::size_t i = 0; i < count; ++i) {
        const Elem compute = check_dtypes(lists, i, types, fn);
        refs[i] = tensor_ref(lists, i, compute, steps[i], firsts[i], spans, fn);
    }
    check_disjoint(spans, fn);

    rq.compute = lists.mixed ? Elem::f32 : types.param;
    rq.grad = types.grad;
    rq.lowp = lists.mixed ? types.param : Elem::f32;
    rq.tensors = refs.data();
    rq.count = static_cast<std::int64_t>(count);
    set_grad_scaling(rq, grad_scale, max_grad_norm, fn);
    float* found_inf = found_inf_flag(found_inf_obj, spans, fn);
    if (found_inf) {
        rq.skip_if_nonfinite = true;
        // Set on entry (a GradScaler found inf): skip, as torch does; the grads were not read.
        if (*found_inf != 0.0f) return py::make_tuple(py::none(), false, true);
    }
    return run_step(rq, found_inf);
}

// clip_grad_norm_(grads, max_norm, norm_type, error_if_nonfinite) -> total norm
double clip_grad_norm(py::handle grads_obj, double max_norm, double norm_type, bool error_if_nonfinite) {
    const std::string fn = "fastopt.functional.clip_grad_norm_";
    std::vector<py::array> grads = as_list(grads_obj, fn, "grads");
    if (!(norm_type > 0)) throw py::value_error(fn + ": norm_type must be > 0 or inf, got " + std::to_string(norm_type));
    Elem elem = Elem::f32;
    std::vector<void*> ptrs;
    std::vector<std::int64_t> sizes;
    std::vector<Span> spans;
    for (std::size_t i = 0; i < grads.size(); ++i) {
        Elem e;
        if (!elem_of(grads[i], e) || (e != Elem::f32 && e != Elem::f64))
            throw py::type_error(fn + ": " + at("grads", i) + " has unsupported dtype " + dtype_str(grads[i]) +
                                 "; expected float32 or float64");
        if (i == 0) elem = e;
        if (e != elem)
            throw py::type_error(fn + ": " + at("grads", i) + " is " + elem_name(e) + " but grads[0] is " +
                                 elem_name(elem) + "; one call takes one dtype");
        check_layout(grads[i], fn, "grads", i, true);
        ptrs.push_back(grads[i].mutable_data());
        sizes.push_back(grads[i].size());
        add_span(spans, grads[i], "grads", i);
    }
    check_disjoint(spans, fn);
    if (grads.empty()) return 0.0;
    NormRequest rq;
    rq.elem = elem;
    rq.grads = ptrs.data();
    rq.sizes = sizes.data();
    rq.count = static_cast<std::int64_t>(grads.size());
    rq.norm_type = norm_type;
    rq.threads = num_threads();
    double norm;
    {
        py::gil_scoped_release release;
        FpEnvScope fp;
        norm = optimizers().grad_norm(rq);
    }
    // The norm and the coefficient in the grads' precision, as torch computes them.
    double coef;
    FpEnvScope fp;  // rounded as in the default environment whatever the caller's mode
    if (elem == Elem::f32) {
        const float n = static_cast<float>(norm);
        norm = n;
        const float c = (1.0f / (n + static_cast<float>(kClipEps))) * static_cast<float>(max_norm);
        coef = c < 1.0f || c != c ? c : 1.0f;
    } else {
        const double c = (1.0 / (norm + kClipEps)) * max_norm;
        coef = c < 1.0 || c != c ? c : 1.0;
    }
    if (error_if_nonfinite && !std::isfinite(norm))
        throw std::runtime_error("The total norm of order " + py::str(py::float_(norm_type)).cast<std::string>() +
                              " for gradients from `parameters` is non-finite, so it cannot be clipped. To "
                              "disable this error and scale the gradients by the non-finite norm anyway, set "
                              "`error_if_nonfinite=False`");
    if (!(coef >= 1.0)) {
        py::gil_scoped_release release;
        FpEnvScope fp;
        optimizers().scale(rq, coef);
    }
    return norm;
}

}  // namespace

void register_optimizers(py::module_& m) {
    m.def("optimizer_step", &optimizer_step, "name"_a, "params"_a, "grads"_a, "states"_a, "master_params"_a,
          "step"_a, "first"_a, "hyper"_a, "grad_scale"_a, "max_grad_norm"_a, "found_inf"_a,
          "One multi-tensor optimizer step (see fastopt.functional); returns (grad_norm, found_inf, skipped).");
#define FASTOPT_CLIP(name)                                                                  \
    m.def(#name, &clip_grad_norm, "grads"_a, "max_norm"_a, "norm_type"_a = 2.0,            \
          "error_if_nonfinite"_a = false, "Global gradient norm and in-place clipping (see fastopt.functional).");
#include "fastopt/optimizers.def"
}

}  // namespace fastopt
