// Small libtorch helpers shared by agents/ppo.cpp and agents/dqn.cpp, the only translation
// units that include torch: networks with CleanRL's initialization, masked categorical
// distributions over several action dimensions, sampling from our own random-number
// generator (so that a checkpoint holds all randomness), and checkpoint archives.
#pragma once
#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <random>
#include <sstream>

#include "agents/rl.h"

namespace chipgym::agents::rl::tu {

// Network initialization draws from torch's global generator: learners built on several
// threads at once (compare runs agents side by side) take this lock around manual_seed and
// construction, so each gets the weights its seed says.
inline std::mutex& init_lock() {
  static std::mutex mu;
  return mu;
}

// Two tanh hidden layers; weights orthogonal with gain sqrt(2), the output layer's gain
// `out_gain` (CleanRL: 0.01 for policy logits, 1 for values); biases zero.
inline torch::nn::Sequential mlp(std::int64_t in, std::int64_t hidden, std::int64_t out, double out_gain) {
  auto layer = [](std::int64_t i, std::int64_t o, double gain) {
    torch::nn::Linear l(i, o);
    torch::nn::init::orthogonal_(l->weight, gain);
    torch::nn::init::constant_(l->bias, 0.0);
    return l;
  };
  torch::nn::Sequential s;
  s->push_back(layer(in, hidden, std::sqrt(2.0)));
  s->push_back(torch::nn::Tanh());
  s->push_back(layer(hidden, hidden, std::sqrt(2.0)));
  s->push_back(torch::nn::Tanh());
  s->push_back(layer(hidden, out, out_gain));
  return s;
}

inline torch::Tensor rows(const std::vector<Obs>& obs, std::int64_t dim) {
  std::vector<float> flat;
  flat.reserve(obs.size() * static_cast<std::size_t>(dim));
  for (const auto& o : obs) {
    if (static_cast<std::int64_t>(o.size()) != dim)
      throw std::invalid_argument("observation of size " + std::to_string(o.size()) + ", expected " + std::to_string(dim));
    flat.insert(flat.end(), o.begin(), o.end());
  }
  return torch::from_blob(flat.data(), {static_cast<std::int64_t>(obs.size()), dim}, torch::kFloat32).clone();
}

// Masks as a bool tensor [n, choices]; all true when `masks` is empty.
inline torch::Tensor mask_tensor(const std::vector<std::vector<char>>& masks, std::int64_t n, std::int64_t choices) {
  if (masks.empty()) return torch::ones({n, choices}, torch::kBool);
  std::vector<std::uint8_t> flat;
  for (const auto& m : masks) {
    if (static_cast<std::int64_t>(m.size()) != choices) throw std::invalid_argument("action mask of the wrong size");
    flat.insert(flat.end(), m.begin(), m.end());
  }
  return torch::from_blob(flat.data(), {n, choices}, torch::kUInt8).clone().to(torch::kBool);
}

// A product of categorical distributions, one per action dimension, over logits
// [batch, sum(nvec)] with illegal choices masked out.
struct MultiCategorical {
  std::vector<torch::Tensor> log_probs;  // per dimension, [batch, n_d]

  MultiCategorical(const torch::Tensor& logits, const torch::Tensor& mask, const std::vector<long long>& nvec) {
    auto masked = logits.masked_fill(mask.logical_not(), -1e9);  // finite: 0 * log p stays 0
    std::int64_t at = 0;
    for (long long n : nvec) {
      log_probs.push_back(torch::log_softmax(masked.narrow(1, at, n), 1));
      at += n;
    }
  }
  // actions [batch, dims] (int64) -> summed log-probability [batch]
  torch::Tensor log_prob(const torch::Tensor& actions) const {
    torch::Tensor total;
    for (std::size_t d = 0; d < log_probs.size(); ++d) {
      auto lp = log_probs[d].gather(1, actions.select(1, static_cast<std::int64_t>(d)).unsqueeze(1)).squeeze(1);
      total = d == 0 ? lp : total + lp;
    }
    return total;
  }
  torch::Tensor entropy() const {
    torch::Tensor total;
    for (std::size_t d = 0; d < log_probs.size(); ++d) {
      auto e = -(log_probs[d].exp() * log_probs[d]).sum(1);
      total = d == 0 ? e : total + e;
    }
    return total;
  }
  std::vector<long long> greedy(std::int64_t row) const {
    std::vector<long long> a;
    for (const auto& lp : log_probs) a.push_back(lp[row].argmax().item<std::int64_t>());
    return a;
  }
};

// Uniform in [0, 1) from 53 random bits: the same on every standard library.
inline double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Samples index i with probability exp(log_p[i]).
inline long long sample(const torch::Tensor& log_p, std::mt19937_64& rng) {
  auto p = log_p.exp().contiguous();
  const float* q = p.data_ptr<float>();
  const std::int64_t n = p.size(0);
  double u = uniform(rng), acc = 0;
  long long last_legal = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (q[i] > 0) last_legal = i;
    acc += q[i];
    if (u < acc && q[i] > 0) return i;
  }
  return last_legal;  // rounding: the sum came out below u
}

// Fisher-Yates with our generator.
inline std::vector<std::int64_t> permutation(std::int64_t n, std::mt19937_64& rng) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<std::size_t>(i)], p[rng() % static_cast<std::uint64_t>(i + 1)]);
  return p;
}

inline std::string rng_state(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  return os.str();
}
inline void set_rng_state(std::mt19937_64& rng, const std::string& s) {
  std::istringstream is(s);
  is >> rng;
  if (!is) throw CheckpointError("checkpoint holds an unreadable random-number state");
}

inline void write_json(torch::serialize::OutputArchive& a, const std::string& key, const json& j) {
  a.write(key, c10::IValue(j.dump()));
}
inline json read_json(torch::serialize::InputArchive& a, const std::string& key) {
  c10::IValue v;
  a.read(key, v);
  return json::parse(v.toStringRef());
}

// Copies of every parameter, to undo an update that produced a non-finite loss.
inline std::vector<torch::Tensor> copy_parameters(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}
inline void restore_parameters(std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
}

inline std::vector<torch::Tensor> parameters_of(const std::vector<torch::nn::Sequential>& nets) {
  std::vector<torch::Tensor> out;
  for (const auto& n : nets)
    for (const auto& p : n->parameters()) out.push_back(p);
  return out;
}

}  // namespace chipgym::agents::rl::tu
