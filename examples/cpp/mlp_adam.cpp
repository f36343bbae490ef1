// mlp_adam.cpp: train a 2-layer MLP with fastopt's header-only kernels, no Python.
//
// Model: y = W2 tanh(W1 x + b1) + b2, 2 inputs, 32 hidden units, 1 output, on the regression
// target sin(3 x0) * x1 + 0.5 x0^2 with MSE loss. The tanh forward and backward are
// fastopt::Tanh (activations.hpp). The optimizer step is torch.optim.Adam's update
// (fastopt::AdamRule from optimizers.hpp) run by the multi-tensor driver (multi_tensor.hpp):
// one parallel pass over all four parameter tensors, the way fastopt.functional.adam_ runs it.
//
// Prints the loss every 100 steps; exits 1 unless the loss falls by at least 10x.
// Usage: mlp_adam [steps=600] [threads=1]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastopt/activations.hpp"
#include "fastopt/multi_tensor.hpp"
#include "fastopt/optimizers.hpp"

namespace {

constexpr int kIn = 2, kHidden = 32, kBatch = 256;

struct Param {
    std::vector<float> value, grad, exp_avg, exp_avg_sq;
    explicit Param(std::size_t n) : value(n), grad(n), exp_avg(n), exp_avg_sq(n) {}
};

// One Adam step over every parameter tensor: the multi-tensor driver cuts the tensors into
// fixed blocks and spreads them over the threads; each block runs AdamRule's update.
void adam_step(std::vector<Param*>& params, std::int64_t step, const fastopt::OptimHyper& hyper, int threads) {
    std::vector<fastopt::TensorRef> refs(params.size());
    for (std::size_t t = 0; t < params.size(); ++t) {
        refs[t].param = params[t]->value.data();
        refs[t].grad = params[t]->grad.data();
        refs[t].state[0] = params[t]->exp_avg.data();
        refs[t].state[1] = params[t]->exp_avg_sq.data();
        refs[t].n = static_cast<std::int64_t>(params[t]->value.size());
        refs[t].step = step;
    }
    const fastopt::TensorBlocks blocks(static_cast<std::int64_t>(refs.size()),
                                       [&](std::int64_t t) { return refs[t].n; });
    using Rule = fastopt::AdamRule<float, /*L2=*/false, /*amsgrad=*/false>;
    fastopt::for_each_block(blocks, threads, [&](std::int64_t b, int) {
        const fastopt::TensorRef& t = refs[blocks.tensor.data[b]];
        const Rule rule(t, hyper);
        const float* g = static_cast<const float*>(t.grad);
        FASTOPT_SIMD
        for (std::int64_t i = blocks.begin.data[b]; i < blocks.end.data[b]; ++i) rule.update(i, g[i]);
    });
}

}  // namespace

int main(int argc, char** argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 600;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 1;

    std::mt19937 gen(0);
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    std::vector<float> x(kBatch * kIn), y(kBatch);
    for (int n = 0; n < kBatch; ++n) {
        const float a = unit(gen), b = unit(gen);
        x[n * kIn] = a;
        x[n * kIn + 1] = b;
        y[n] = std::sin(3 * a) * b + 0.5f * a * a;
    }

    Param w1(kHidden * kIn), b1(kHidden), w2(kHidden), b2(1);
    {  // torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        std::uniform_real_distribution<float> u1(-1 / std::sqrt(float(kIn)), 1 / std::sqrt(float(kIn)));
        std::uniform_real_distribution<float> u2(-1 / std::sqrt(float(kHidden)), 1 / std::sqrt(float(kHidden)));
        for (auto& v : w1.value) v = u1(gen);
        for (auto& v : b1.value) v = u1(gen);
        for (auto& v : w2.value) v = u2(gen);
        for (auto& v : b2.value) v = u2(gen);
    }
    std::vector<Param*> params{&w1, &b1, &w2, &b2};

    fastopt::OptimHyper hyper;  // torch.optim.Adam(lr=1e-2) defaults otherwise
    hyper.lr = 1e-2;
    hyper.beta1 = 0.9;
    hyper.beta2 = 0.999;
    hyper.eps = 1e-8;

    const fastopt::Coef<float> coef{fastopt::ActivationParams{}};
    std::vector<float> pre(kBatch * kHidden), h(kBatch * kHidden), dh(kBatch * kHidden), out(kBatch);
    double first_loss = 0, loss = 0;
    for (int step = 1; step <= steps; ++step) {
        // forward
        for (int n = 0; n < kBatch; ++n) {
            float o = b2.value[0];
            for (int j = 0; j < kHidden; ++j) {
                float z = b1.value[j];
                for (int k = 0; k < kIn; ++k) z += w1.value[j * kIn + k] * x[n * kIn + k];
                pre[n * kHidden + j] = z;
                h[n * kHidden + j] = fastopt::Tanh::forward(z, coef);
                o += w2.value[j] * h[n * kHidden + j];
            }
            out[n] = o;
        }
        // MSE loss (mean over the batch) and its gradient
        loss = 0;
        for (int n = 0; n < kBatch; ++n) loss += double(out[n] - y[n]) * double(out[n] - y[n]);
        loss /= kBatch;
        if (step == 1) first_loss = loss;
        for (Param* p : params) std::fill(p->grad.begin(), p->grad.end(), 0.f);
        for (int n = 0; n < kBatch; ++n) {
            const float go = 2.f * (out[n] - y[n]) / kBatch;
            b2.grad[0] += go;
            for (int j = 0; j < kHidden; ++j) {
                w2.grad[j] += go * h[n * kHidden + j];
                // d tanh from the saved output, fastopt's rule
                dh[n * kHidden + j] = fastopt::Tanh::backward(go * w2.value[j], h[n * kHidden + j], coef);
            }
            for (int j = 0; j < kHidden; ++j) {
                const float d = dh[n * kHidden + j];
                b1.grad[j] += d;
                for (int k = 0; k < kIn; ++k) w1.grad[j * kIn + k] += d * x[n * kIn + k];
            }
        }
        adam_step(params, step, hyper, threads);
        if (step % 100 == 0 || step == 1) std::printf("step %4d  loss %.6f\n", step, loss);
    }
    std::printf("loss %.6f -> %.6f\n", first_loss, loss);
    if (!(loss < first_loss / 10)) {
        std::fprintf(stderr, "mlp_adam: the loss did not fall by 10x\n");
        return 1;
    }
    return 0;
}
