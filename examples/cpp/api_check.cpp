// api_check.cpp: calls every function of fastopt/api.hpp, in float and double, on small inputs
// and compares each result with the torch formula it documents, evaluated here in long double.
// Prints one line per failed check and "api_check: N checks passed"; exits 1 on any failure.
// Usage: api_check [threads=1]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastopt/api.hpp"

// Every activation and optimizer row of the registries has its API call: a row added to
// activations.def or optimizers.def without one makes this file fail to compile (a
// using-declaration of a name fastopt/api.hpp does not declare).
namespace registry_rows {
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name) \
    using fastopt::name;                                    \
    using fastopt::name##_backward;
#define FASTOPT_PRELU(name) \
    using fastopt::name;    \
    using fastopt::name##_backward;
#include "fastopt/activations.def"
#define FASTOPT_OPTIMIZER(name, pass) using fastopt::name##_step;
#include "fastopt/optimizers.def"
}  // namespace registry_rows

namespace {

using LD = long double;
int checks = 0, failures = 0;

template <class T>
LD tolerance() {
    return std::is_same_v<T, float> ? 2e-6L : 1e-13L;  // relative, plus the same absolute
}

template <class T>
void expect(const std::string& what, T got, LD want, LD scale = 1) {
    ++checks;
    const LD err = std::fabs(static_cast<LD>(got) - want);
    if (!(err <= tolerance<T>() * scale * (1 + std::fabs(want)))) {
        ++failures;
        std::printf("FAIL %s (%s): got %.17Lg, want %.17Lg\n", what.c_str(),
                    std::is_same_v<T, float> ? "float" : "double", static_cast<LD>(got), want);
    }
}

template <class T>
void expect_all(const std::string& what, const std::vector<T>& got, const std::vector<LD>& want, LD scale = 1) {
    for (std::size_t i = 0; i < got.size(); ++i) expect(what + "[" + std::to_string(i) + "]", got[i], want[i], scale);
}

LD sigmoid(LD x) { return 1 / (1 + std::exp(-x)); }

template <class T>
void check_activations(int threads) {
    const std::vector<T> x{-3.5, -1, -0.25, 0, 0.5, 2, 7};
    const std::vector<T> g{0.5, -1, 2, 1, -0.75, 0.25, 3};
    const std::size_t n = x.size();
    std::vector<T> y(n), gi(n);
    std::vector<LD> want(n), dwant(n);
    const auto run = [&](const char* name, auto fwd, auto bwd, auto f, auto df, bool from_y) {
        fwd(x.data(), y.data(), static_cast<std::int64_t>(n));
        for (std::size_t i = 0; i < n; ++i) want[i] = f(static_cast<LD>(x[i]));
        expect_all<T>(name, y, want, 4);
        bwd(g.data(), from_y ? y.data() : x.data(), gi.data(), static_cast<std::int64_t>(n));
        for (std::size_t i = 0; i < n; ++i) dwant[i] = static_cast<LD>(g[i]) * df(static_cast<LD>(x[i]));
        expect_all<T>(std::string(name) + "_backward", gi, dwant, 8);
    };
    const int t = threads;
    run("sigmoid", [&](auto a, auto b, auto m) { fastopt::sigmoid(a, b, m, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::sigmoid_backward(a, b, c, m, t); },
        [](LD v) { return sigmoid(v); }, [](LD v) { return sigmoid(v) * (1 - sigmoid(v)); }, true);
    run("tanh", [&](auto a, auto b, auto m) { fastopt::tanh(a, b, m, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::tanh_backward(a, b, c, m, t); },
        [](LD v) { return std::tanh(v); }, [](LD v) { return 1 - std::tanh(v) * std::tanh(v); }, true);
    run("relu", [&](auto a, auto b, auto m) { fastopt::relu(a, b, m, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::relu_backward(a, b, c, m, t); },
        [](LD v) { return v > 0 ? v : 0; }, [](LD v) -> LD { return v > 0 ? 1 : 0; }, false);
    run("leaky_relu", [&](auto a, auto b, auto m) { fastopt::leaky_relu(a, b, m, 0.2, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::leaky_relu_backward(a, b, c, m, 0.2, t); },
        [](LD v) { return v > 0 ? v : static_cast<LD>(T(0.2)) * v; },
        [](LD v) -> LD { return v > 0 ? 1 : static_cast<LD>(T(0.2)); }, false);
    // softplus(beta = 2, threshold = 3): x = 2 and 7 are past the threshold (beta x > 3)
    run("softplus", [&](auto a, auto b, auto m) { fastopt::softplus(a, b, m, 2.0, 3.0, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::softplus_backward(a, b, c, m, 2.0, 3.0, t); },
        [](LD v) { return 2 * v > 3 ? v : std::log1p(std::exp(2 * v)) / 2; },
        [](LD v) { return 2 * v > 3 ? 1 : sigmoid(2 * v); }, false);
    run("elu", [&](auto a, auto b, auto m) { fastopt::elu(a, b, m, 1.5, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::elu_backward(a, b, c, m, 1.5, t); },
        [](LD v) { return v > 0 ? v : 1.5L * std::expm1(v); }, [](LD v) { return v > 0 ? 1 : 1.5L * std::exp(v); },
        false);
    const LD rsqrt2 = 1 / std::sqrt(LD(2)), rsqrt2pi = 1 / std::sqrt(2 * LD(3.14159265358979323846264338327950288L));
    run("gelu", [&](auto a, auto b, auto m) { fastopt::gelu(a, b, m, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::gelu_backward(a, b, c, m, t); },
        [&](LD v) { return v * 0.5L * (1 + std::erf(v * rsqrt2)); },
        [&](LD v) { return 0.5L * (1 + std::erf(v * rsqrt2)) + v * rsqrt2pi * std::exp(-v * v / 2); }, false);
    const LD k = std::sqrt(2 / LD(3.14159265358979323846264338327950288L));
    run("gelu_tanh", [&](auto a, auto b, auto m) { fastopt::gelu_tanh(a, b, m, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::gelu_tanh_backward(a, b, c, m, t); },
        [&](LD v) { return 0.5L * v * (1 + std::tanh(k * (v + 0.044715L * v * v * v))); },
        [&](LD v) {
            const LD th = std::tanh(k * (v + 0.044715L * v * v * v));
            return 0.5L * (1 + th) + 0.5L * v * (1 - th * th) * k * (1 + 3 * 0.044715L * v * v);
        },
        false);
    run("silu", [&](auto a, auto b, auto m) { fastopt::silu(a, b, m, t); },
        [&](auto a, auto b, auto c, auto m) { fastopt::silu_backward(a, b, c, m, t); },
        [](LD v) { return v * sigmoid(v); }, [](LD v) { return sigmoid(v) * (1 + v * (1 - sigmoid(v))); }, false);

    // prelu over (outer 2, channels 3, inner 2): slope per channel
    const std::vector<T> px{-1, 2, -3, 4, 5, -6, 0.5, -0.5, -2, -1, 3, 1};
    const std::vector<T> w{0.1, 0.2, 0.3};
    std::vector<T> py(12), gx(12), gw(3);
    fastopt::prelu(px.data(), w.data(), py.data(), 2, 3, 2, threads);
    std::vector<LD> pw(12), gxw(12), gww(3, 0);
    for (int i = 0; i < 12; ++i) {
        const int c = (i / 2) % 3;
        pw[i] = px[i] > 0 ? px[i] : static_cast<LD>(w[c]) * px[i];
        gxw[i] = px[i] > 0 ? 1 : static_cast<LD>(w[c]);  // grad_out = 1
        if (px[i] <= 0) gww[c] += px[i];
    }
    expect_all<T>("prelu", py, pw);
    const std::vector<T> ones(12, T(1));
    fastopt::prelu_backward(ones.data(), px.data(), w.data(), gx.data(), gw.data(), 2, 3, 2, threads);
    expect_all<T>("prelu_backward grad_x", gx, gxw);
    expect_all<T>("prelu_backward grad_weight", gw, gww);
}

// Softmax over the rows of (2, 3) and along the middle axis of (1, 3, 2).
template <class T>
void check_softmax(int threads) {
    const std::vector<T> x{1, 2, 3, -1, 0, 4};
    const std::vector<T> g{0.5, -1, 2, 1, 0, -3};
    std::vector<T> y(6), ly(6), gi(6);
    std::vector<LD> sm(6), lsm(6), gsm(6), glsm(6);
    for (int r = 0; r < 2; ++r) {
        LD s = 0, dot = 0, gs = 0;
        for (int j = 0; j < 3; ++j) s += std::exp(static_cast<LD>(x[r * 3 + j]));
        for (int j = 0; j < 3; ++j) {
            sm[r * 3 + j] = std::exp(static_cast<LD>(x[r * 3 + j])) / s;
            lsm[r * 3 + j] = x[r * 3 + j] - std::log(s);
            dot += g[r * 3 + j] * sm[r * 3 + j];
            gs += g[r * 3 + j];
        }
        for (int j = 0; j < 3; ++j) {
            gsm[r * 3 + j] = sm[r * 3 + j] * (g[r * 3 + j] - dot);
            glsm[r * 3 + j] = g[r * 3 + j] - sm[r * 3 + j] * gs;
        }
    }
    fastopt::softmax(x.data(), y.data(), 2, 3, 1, threads);
    expect_all<T>("softmax", y, sm, 4);
    fastopt::softmax_backward(g.data(), y.data(), gi.data(), 2, 3, 1, threads);
    expect_all<T>("softmax_backward", gi, gsm, 8);
    fastopt::log_softmax(x.data(), ly.data(), 2, 3, 1, threads);
    expect_all<T>("log_softmax", ly, lsm, 4);
    fastopt::log_softmax_backward(g.data(), ly.data(), gi.data(), 2, 3, 1, threads);
    expect_all<T>("log_softmax_backward", gi, glsm, 8);
    // the same rows stored class-major: x viewed as (1, 3, 2), softmax along the 3
    std::vector<T> xt(6), yt(6);
    std::vector<LD> smt(6);
    for (int r = 0; r < 2; ++r)
        for (int j = 0; j < 3; ++j) {
            xt[j * 2 + r] = x[r * 3 + j];
            smt[j * 2 + r] = sm[r * 3 + j];
        }
    fastopt::softmax(xt.data(), yt.data(), 1, 3, 2, threads);
    expect_all<T>("softmax strided", yt, smt, 4);
}

template <class T>
void check_losses(int threads) {
    // cross_entropy and nll_loss over (3, 4) logits; the last target is ignored
    const std::vector<T> x{1, 2, 0.5, -1, 0, 0, 3, 1, -2, 1, 1, 0.25};
    const std::vector<std::int64_t> t{1, 2, -100};
    const std::vector<std::int32_t> t32{1, 2, -100};
    const std::vector<T> w{1, 2, 0.5, 1};
    std::vector<T> grad(12);
    LD lse[3];
    for (int i = 0; i < 3; ++i) {
        LD s = 0;
        for (int j = 0; j < 4; ++j) s += std::exp(static_cast<LD>(x[i * 4 + j]));
        lse[i] = std::log(s);
    }
    // mean with weights: sum_i w[t_i] (lse_i - x_i[t_i]) / sum_i w[t_i]
    const LD l0 = lse[0] - x[1], l1 = lse[1] - x[6];
    const LD want_mean = (w[1] * l0 + w[2] * l1) / (LD(w[1]) + w[2]);
    fastopt::LossOptions<T> o;
    o.weight = w.data();
    expect<T>("cross_entropy weighted mean", fastopt::cross_entropy(x.data(), 3, 4, t.data(), grad.data(), o, threads),
              want_mean, 4);
    std::vector<LD> gw(12, 0);
    for (int i = 0; i < 2; ++i) {
        const int ti = static_cast<int>(t[i]);
        for (int j = 0; j < 4; ++j)
            gw[i * 4 + j] = w[ti] * (std::exp(static_cast<LD>(x[i * 4 + j]) - lse[i]) - (j == ti)) / (LD(w[1]) + w[2]);
    }
    expect_all<T>("cross_entropy grad", grad, gw, 8);
    // label smoothing 0.1, int32 targets, sum: (1 - eps) nll + eps * mean_j (lse - x_j)
    fastopt::LossOptions<T> ls;
    ls.label_smoothing = 0.1;
    ls.reduction = fastopt::Reduction::sum;
    LD want_ls = 0;
    for (int i = 0; i < 2; ++i) {
        LD smooth = 0;
        for (int j = 0; j < 4; ++j) smooth += lse[i] - x[i * 4 + j];
        want_ls += 0.9L * (lse[i] - x[i * 4 + static_cast<int>(t[i])]) + 0.1L * smooth / 4;
    }
    expect<T>("cross_entropy label_smoothing sum",
              fastopt::cross_entropy(x.data(), 3, 4, t32.data(), nullptr, ls, threads), want_ls, 4);
    // probability targets, 'none': the per-sample losses
    const std::vector<T> p{0.25, 0.25, 0.5, 0, 1, 0, 0, 0, 0.5, 0.125, 0.125, 0.25};
    std::vector<T> per(3);
    fastopt::LossOptions<T> none;
    none.reduction = fastopt::Reduction::none;
    none.losses = per.data();
    fastopt::cross_entropy(x.data(), 3, 4, p.data(), nullptr, none, threads);
    std::vector<LD> pw(3, 0);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) pw[i] += p[i * 4 + j] * (lse[i] - x[i * 4 + j]);
    expect_all<T>("cross_entropy probabilities none", per, pw, 4);
    // an out-of-range target throws and writes nothing
    const std::vector<std::int64_t> bad{1, 4, 0};
    grad.assign(12, T(7));
    bool threw = false;
    try {
        fastopt::cross_entropy(x.data(), 3, 4, bad.data(), grad.data(), {}, threads);
    } catch (const std::out_of_range&) {
        threw = true;
    }
    ++checks;
    if (!threw || grad[0] != T(7)) {
        ++failures;
        std::printf("FAIL cross_entropy: an out-of-range target did not throw, or wrote the gradient\n");
    }
    // nll_loss over the same scores (taken as log-probabilities), unweighted mean
    expect<T>("nll_loss", fastopt::nll_loss(x.data(), 3, 4, t.data(), grad.data(), {}, threads),
              -(LD(x[1]) + x[6]) / 2);
    ++checks;
    if (grad[1] != T(-0.5) || grad[6] != T(-0.5) || grad[0] != T(0) || grad[8] != T(0)) {
        ++failures;
        std::printf("FAIL nll_loss grad\n");
    }

    // the pointwise losses over 5 elements
    const std::vector<T> a{-2, -0.5, 0, 0.25, 3};
    const std::vector<T> b{0, 0.5, 0, 1, 0.5};
    std::vector<T> gr(5);
    std::vector<LD> gwant(5);
    const auto pointwise = [&](const char* name, T got, auto loss, auto dloss, LD divide) {
        LD sum = 0;
        for (int i = 0; i < 5; ++i) {
            const LD d = static_cast<LD>(a[i]) - b[i];
            sum += loss(d);
            gwant[i] = dloss(d) / divide;
        }
        expect<T>(name, got, sum / divide, 4);
        expect_all<T>(std::string(name) + " grad", gr, gwant, 4);
    };
    pointwise("mse_loss", fastopt::mse_loss(a.data(), b.data(), 5, gr.data(), {}, threads), [](LD d) { return d * d; },
              [](LD d) { return 2 * d; }, 5);
    fastopt::LossOptions<T> sum;
    sum.reduction = fastopt::Reduction::sum;
    pointwise("l1_loss", fastopt::l1_loss(a.data(), b.data(), 5, gr.data(), sum, threads),
              [](LD d) { return std::fabs(d); }, [](LD d) -> LD { return d > 0 ? 1 : d < 0 ? -1 : 0; }, 1);
    fastopt::LossOptions<T> beta;
    beta.beta = 0.75;
    pointwise("smooth_l1_loss", fastopt::smooth_l1_loss(a.data(), b.data(), 5, gr.data(), beta, threads),
              [](LD d) { return std::fabs(d) < 0.75L ? 0.5L * d * d / 0.75L : std::fabs(d) - 0.375L; },
              [](LD d) -> LD { return std::fabs(d) < 0.75L ? d / 0.75L : (d > 0 ? 1 : -1); }, 5);
    pointwise("huber_loss", fastopt::huber_loss(a.data(), b.data(), 5, gr.data(), beta, threads),
              [](LD d) { return std::fabs(d) <= 0.75L ? 0.5L * d * d : 0.75L * (std::fabs(d) - 0.375L); },
              [](LD d) -> LD { return std::fabs(d) <= 0.75L ? d : (d > 0 ? 0.75L : -0.75L); }, 5);
    // bce_with_logits with weight and pos_weight, mean
    const std::vector<T> bw{1, 2, 0.5, 1, 1}, pos{1, 1, 3, 2, 0.5};
    fastopt::LossOptions<T> bo;
    bo.weight = bw.data();
    bo.pos_weight = pos.data();
    const T bce = fastopt::binary_cross_entropy_with_logits(a.data(), b.data(), 5, gr.data(), bo, threads);
    LD bsum = 0;
    for (int i = 0; i < 5; ++i) {
        const LD xi = a[i], ti = b[i];
        const LD ls1 = std::log(sigmoid(xi)), ls0 = std::log(sigmoid(-xi));
        bsum += -static_cast<LD>(bw[i]) * (pos[i] * ti * ls1 + (1 - ti) * ls0);
        gwant[i] = bw[i] * ((pos[i] * ti + 1 - ti) * sigmoid(xi) - pos[i] * ti) / 5;
    }
    expect<T>("binary_cross_entropy_with_logits", bce, bsum / 5, 4);
    expect_all<T>("binary_cross_entropy_with_logits grad", gr, gwant, 4);

    // dropout: p = 0.25; kept elements scaled by 1 / 0.75, dropped zero; same mask every call
    std::vector<T> dx(1000, T(3)), dy(1000), dg(1000);
    std::vector<std::uint8_t> mask(1000), mask2(1000);
    fastopt::dropout(dx.data(), dy.data(), mask.data(), 1000, 0.25, 42, threads);
    fastopt::dropout(dx.data(), dy.data(), mask2.data(), 1000, 0.25, 42, 1);
    int kept = 0, wrong = 0;
    for (int i = 0; i < 1000; ++i) {
        kept += mask[i];
        wrong += mask[i] != mask2[i] || dy[i] != (mask[i] ? T(3) / T(0.75) : T(0));
    }
    fastopt::dropout_backward(dx.data(), mask.data(), dg.data(), 1000, 0.25, threads);
    for (int i = 0; i < 1000; ++i) wrong += dg[i] != dy[i];
    ++checks;
    if (wrong || kept < 700 || kept > 800) {
        ++failures;
        std::printf("FAIL dropout: %d kept of 1000, %d wrong\n", kept, wrong);
    }
}

// One step of each optimizer over two tensors (3 and 2 elements), against its formula.
template <class T>
void check_optimizers(int threads) {
    const std::vector<T> p0{1, -2, 0.5, 3, -0.25};
    const std::vector<T> g0{0.5, 0.25, -1, 2, -0.125};
    struct Run {
        std::vector<T> p, s0, s1, s2;
        std::vector<fastopt::OptimTensor<T>> tensors;
        Run(const std::vector<T>& p_init, const std::vector<T>& g, T s0_init)
            : p(p_init), s0(p_init.size(), s0_init), s1(p_init.size()), s2(p_init.size()), tensors(2) {
            for (int t = 0; t < 2; ++t) {
                const std::int64_t off = t == 0 ? 0 : 3;
                tensors[t].param = p.data() + off;
                tensors[t].grad = g.data() + off;
                tensors[t].n = t == 0 ? 3 : 2;
                tensors[t].state[0] = s0.data() + off;
                tensors[t].state[1] = s1.data() + off;
                tensors[t].state[2] = s2.data() + off;
            }
        }
    };
    std::vector<LD> want(5);
    {
        Run r(p0, g0, 0);
        fastopt::SgdOptions o;
        o.lr = 0.1;
        o.momentum = 0.9;
        o.weight_decay = 0.01;
        o.nesterov = true;
        o.first_step = true;
        fastopt::sgd_step(r.tensors.data(), 2, o, threads);
        for (int i = 0; i < 5; ++i) {
            const LD g = g0[i] + 0.01L * p0[i];  // buf = g on the first step; nesterov: g + momentum * buf
            want[i] = p0[i] - 0.1L * (g + 0.9L * g);
        }
        expect_all<T>("sgd_step", r.p, want, 8);
    }
    {
        Run r(p0, g0, 0.5);  // initial_accumulator_value 0.5
        fastopt::AdagradOptions o;
        o.lr = 0.1;
        o.lr_decay = 0.5;
        o.step = 3;
        fastopt::adagrad_step(r.tensors.data(), 2, o, threads);
        for (int i = 0; i < 5; ++i) {
            const LD clr = 0.1L / (1 + 2 * 0.5L), s = 0.5L + LD(g0[i]) * g0[i];
            want[i] = p0[i] - clr * g0[i] / (std::sqrt(s) + 1e-10L);
        }
        expect_all<T>("adagrad_step", r.p, want, 8);
    }
    {
        Run r(p0, g0, 0);
        fastopt::RmspropOptions o;
        o.lr = 0.01;
        o.centered = true;
        o.momentum = 0.5;
        fastopt::rmsprop_step(r.tensors.data(), 2, o, threads);
        for (int i = 0; i < 5; ++i) {
            const LD g = g0[i], sq = 0.01L * g * g, ga = 0.01L * g;
            want[i] = p0[i] - 0.01L * (g / (std::sqrt(sq - ga * ga) + 1e-8L));
        }
        expect_all<T>("rmsprop_step", r.p, want, 8);
    }
    const auto adam_want = [&](LD lr, LD wd, bool decoupled, std::int64_t step, const Run& r0) {
        for (int i = 0; i < 5; ++i) {
            LD g = g0[i], p = p0[i];
            if (decoupled) p *= 1 - lr * wd; else g += wd * p0[i];
            const LD m = 0.9L * r0.s0[i] + 0.1L * g, v = 0.999L * r0.s1[i] + 0.001L * g * g;
            const LD bc1 = 1 - std::pow(0.9L, step), bc2 = 1 - std::pow(0.999L, step);
            want[i] = p - lr / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + 1e-8L);
        }
    };
    {
        Run r(p0, g0, 0.125);  // exp_avg 0.125, exp_avg_sq 0.5: a third step
        for (auto& v : r.s1) v = T(0.5);
        const Run before = r;
        fastopt::AdamOptions o;
        o.lr = 0.01;
        o.weight_decay = 0.1;
        o.step = 3;
        fastopt::adam_step(r.tensors.data(), 2, o, threads);
        adam_want(0.01L, 0.1L, false, 3, before);
        expect_all<T>("adam_step", r.p, want, 8);
    }
    {
        Run r(p0, g0, 0);
        const Run before = r;
        fastopt::AdamWOptions o;
        o.lr = 0.01;
        fastopt::adamw_step(r.tensors.data(), 2, o, threads);
        adam_want(0.01L, 0.01L, true, 1, before);
        expect_all<T>("adamw_step", r.p, want, 8);
    }
    {
        Run r(p0, g0, 0.125);  // exp_avg 0.125, exp_inf 0.125: a second step
        for (auto& v : r.s1) v = T(0.125);
        fastopt::AdamaxOptions o;
        o.lr = 0.01;
        o.weight_decay = 0.1;
        o.step = 2;
        fastopt::adamax_step(r.tensors.data(), 2, o, threads);
        for (int i = 0; i < 5; ++i) {
            const LD g = g0[i] + 0.1L * p0[i], m = 0.9L * 0.125L + 0.1L * g;
            const LD u = std::max(0.999L * 0.125L, std::abs(g) + 1e-8L);
            want[i] = p0[i] - 0.01L / (1 - 0.81L) * m / u;
        }
        expect_all<T>("adamax_step", r.p, want, 8);
    }
    {
        Run r(p0, g0, 0.25);
        fastopt::LionOptions o;
        o.lr = 0.01;
        o.weight_decay = 0.5;
        fastopt::lion_step(r.tensors.data(), 2, o, threads);
        for (int i = 0; i < 5; ++i) {
            const LD c = 0.9L * 0.25L + 0.1L * g0[i];
            want[i] = p0[i] * (1 - 0.01L * 0.5L) - 0.01L * (c > 0 ? 1 : c < 0 ? -1 : 0);
        }
        expect_all<T>("lion_step", r.p, want, 8);
    }
    {
        Run r(p0, g0, 0);
        fastopt::LambOptions o;
        o.lr = 0.01;
        o.weight_decay = 0.1;
        fastopt::lamb_step(r.tensors.data(), 2, o, threads);
        for (int t = 0; t < 2; ++t) {  // per tensor: u = m_hat / (sqrt(v_hat) + eps) + wd p, ratio ||p|| / ||u||
            const int lo = t == 0 ? 0 : 3, hi = t == 0 ? 3 : 5;
            LD pn = 0, un = 0, u[5];
            for (int i = lo; i < hi; ++i) {
                const LD g = g0[i];
                u[i] = g / (std::sqrt(g * g) + 1e-6L) + 0.1L * p0[i];  // m_hat = g, v_hat = g^2 at step 1
                pn += LD(p0[i]) * p0[i];
                un += u[i] * u[i];
            }
            const LD ratio = std::sqrt(pn) / std::sqrt(un);
            for (int i = lo; i < hi; ++i) want[i] = p0[i] - 0.01L * ratio * u[i];
        }
        expect_all<T>("lamb_step", r.p, want, 8);
    }
    {
        std::vector<T> g1{3, 4}, g2{12};  // norm 13
        T* grads[2] = {g1.data(), g2.data()};
        const std::int64_t sizes[2] = {2, 1};
        const double norm = fastopt::clip_grad_norm(grads, sizes, 2, 1.0, 2.0, threads);
        expect<T>("clip_grad_norm norm", static_cast<T>(norm), 13);
        const LD c = 1 / (13 + 1e-6L);
        expect_all<T>("clip_grad_norm grads", g1, {3 * c, 4 * c}, 4);
        expect<T>("clip_grad_norm grads", g2[0], 12 * c, 4);
        const double inf_norm = fastopt::clip_grad_norm(grads, sizes, 2, 10.0, std::numeric_limits<double>::infinity(),
                                                        threads);  // below max_norm: nothing scaled
        expect<T>("clip_grad_norm inf norm", static_cast<T>(inf_norm), 12 * c, 4);
        expect<T>("clip_grad_norm inf norm grads", g2[0], 12 * c, 4);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    check_activations<float>(threads);
    check_activations<double>(threads);
    check_softmax<float>(threads);
    check_softmax<double>(threads);
    check_losses<float>(threads);
    check_losses<double>(threads);
    check_optimizers<float>(threads);
    check_optimizers<double>(threads);
    if (failures) {
        std::printf("api_check: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    std::printf("api_check: %d checks passed\n", checks);
    return 0;
}
