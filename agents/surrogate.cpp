#include "agents/surrogate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <numeric>
#include <set>

#include "evaluators/sha256.h"
#include "evaluators/stage.h"

namespace chipgym::agents::surrogate {

namespace fs = std::filesystem;

namespace {

constexpr double kSqrt5 = 2.2360679774997896;

bool power_of_two(long long v) { return v > 0 && (v & (v - 1)) == 0; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Lower Cholesky factor of the n x n row-major matrix `a`, in place; false if not positive definite.
bool cholesky(std::vector<double>& a, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    double s = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) s -= a[j * n + k] * a[j * n + k];
    if (!(s > 0)) return false;
    const double l = std::sqrt(s);
    a[j * n + j] = l;
    for (std::size_t i = j + 1; i < n; ++i) {
      double t = a[i * n + j];
      const double* ri = &a[i * n];
      const double* rj = &a[j * n];
      for (std::size_t k = 0; k < j; ++k) t -= ri[k] * rj[k];
      a[i * n + j] = t / l;
    }
    for (std::size_t k = j + 1; k < n; ++k) a[j * n + k] = 0;
  }
  return true;
}

// Solves L z = b (forward) and L^T z = b (backward) for a lower factor L.
void forward(const std::vector<double>& l, std::size_t n, std::vector<double>& b) {
  for (std::size_t i = 0; i < n; ++i) {
    double s = b[i];
    for (std::size_t k = 0; k < i; ++k) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
}
void backward(const std::vector<double>& l, std::size_t n, std::vector<double>& b) {
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

// The kernel's parts on standardized inputs, with the Matern term's derivative factor.
struct KernelParts {
  double matern;  // sf2 * M(r)
  double dfac;    // sf2 * (5/3)(1 + sqrt5 r) exp(-sqrt5 r): d k / d log l_k = dfac * d_k^2 / l_k^2
  double linear;  // sl2 * a.b / d
};

KernelParts kernel_parts(const double* a, const double* b, std::size_t d, const std::vector<double>& inv_ls2, double sf2,
                         double sl2) {
  double r2 = 0, dot = 0;
  for (std::size_t k = 0; k < d; ++k) {
    const double diff = a[k] - b[k];
    r2 += diff * diff * inv_ls2[k];
    dot += a[k] * b[k];
  }
  const double r = std::sqrt(r2);
  const double e = std::exp(-kSqrt5 * r);
  return {sf2 * (1 + kSqrt5 * r + 5.0 / 3.0 * r2) * e, sf2 * 5.0 / 3.0 * (1 + kSqrt5 * r) * e,
          sl2 * dot / static_cast<double>(std::max<std::size_t>(d, 1))};
}

// The hyper-parameters as one vector: log length-scales, then log sf2, log sl2, log sn2.
struct Bounds {
  double lo, hi;
};
Bounds bounds(std::size_t i, std::size_t d) {
  if (i < d) return {std::log(0.05), std::log(50.0)};
  if (i == d) return {-6, 3};
  if (i == d + 1) return {-9, 3};
  return {std::log(1e-6), 0};
}

// Log marginal likelihood of standardized (x, y) rows `rows` and its gradient in theta.
double lml_and_grad(const std::vector<double>& x, const std::vector<double>& y, const std::vector<std::size_t>& rows,
                    std::size_t d, const std::vector<double>& theta, std::vector<double>* grad) {
  const std::size_t n = rows.size();
  std::vector<double> inv_ls2(d);
  for (std::size_t k = 0; k < d; ++k) inv_ls2[k] = std::exp(-2 * theta[k]);
  const double sf2 = std::exp(theta[d]), sl2 = std::exp(theta[d + 1]), sn2 = std::exp(theta[d + 2]);
  std::vector<double> kmat(n * n), dfac(n * n), lin(n * n), mat(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      const auto p = kernel_parts(&x[rows[i] * d], &x[rows[j] * d], d, inv_ls2, sf2, sl2);
      const double v = p.matern + p.linear + (i == j ? sn2 + 1e-8 : 0);
      kmat[i * n + j] = kmat[j * n + i] = v;
      dfac[i * n + j] = dfac[j * n + i] = p.dfac;
      lin[i * n + j] = lin[j * n + i] = p.linear;
      mat[i * n + j] = mat[j * n + i] = p.matern;
    }
  std::vector<double> l = kmat;
  if (!cholesky(l, n)) return -1e300;
  std::vector<double> alpha(n);
  for (std::size_t i = 0; i < n; ++i) alpha[i] = y[rows[i]];
  forward(l, n, alpha);
  double fit = 0;
  for (double a : alpha) fit += a * a;
  backward(l, n, alpha);
  double logdet = 0;
  for (std::size_t i = 0; i < n; ++i) logdet += std::log(l[i * n + i]);
  const double lml = -0.5 * fit - logdet - 0.5 * static_cast<double>(n) * std::log(2 * M_PI);
  if (!grad) return lml;
  // K^-1 from the factor: columns of L^-T L^-1.
  std::vector<double> kinv(n * n);
  for (std::size_t c = 0; c < n; ++c) {
    std::vector<double> e(n, 0.0);
    e[c] = 1;
    forward(l, n, e);
    backward(l, n, e);
    for (std::size_t r = 0; r < n; ++r) kinv[r * n + c] = e[r];
  }
  grad->assign(d + 3, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const double w = 0.5 * (alpha[i] * alpha[j] - kinv[i * n + j]);
      (*grad)[d] += w * mat[i * n + j];
      (*grad)[d + 1] += w * lin[i * n + j];
      if (i == j) (*grad)[d + 2] += w * sn2;
      if (j < i) continue;  // symmetric: the length-scale terms twice below the diagonal
      const double wf = (i == j ? 1.0 : 2.0) * w * dfac[i * n + j];
      if (wf == 0) continue;
      const double* a = &x[rows[i] * d];
      const double* b = &x[rows[j] * d];
      for (std::size_t k = 0; k < d; ++k) {
        const double diff = a[k] - b[k];
        (*grad)[k] += wf * diff * diff * inv_ls2[k];
      }
    }
  return lml;
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * static_cast<double>(i + j);  // ties: the mean rank
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa <= 0 || sbb <= 0) return saa == sbb ? 1.0 : 0.0;  // both constant: perfectly ordered
  return sab / std::sqrt(saa * sbb);
}

// Column means and scales of rows; a constant column gets scale 1.
void column_stats(const std::vector<std::vector<double>>& x, std::vector<double>& mean, std::vector<double>& scale) {
  const std::size_t d = x.empty() ? 0 : x[0].size();
  mean.assign(d, 0.0);
  scale.assign(d, 1.0);
  if (x.empty()) return;
  for (const auto& r : x)
    for (std::size_t k = 0; k < d; ++k) mean[k] += r[k];
  for (auto& m : mean) m /= static_cast<double>(x.size());
  std::vector<double> var(d, 0.0);
  for (const auto& r : x)
    for (std::size_t k = 0; k < d; ++k) var[k] += (r[k] - mean[k]) * (r[k] - mean[k]);
  for (std::size_t k = 0; k < d; ++k) {
    const double s = std::sqrt(var[k] / static_cast<double>(x.size()));
    scale[k] = s > 1e-12 ? s : 1.0;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------- features

Features::Features(const hdl::Family& family, json workload) : family_(family), workload_(std::move(workload)) {
  for (const auto& p : family.space().params()) {
    if (p.kind == hdl::Param::Kind::Choice && p.int_choices.empty()) {
      for (const auto& c : p.choices) names_.push_back(p.name + "=" + c);
      continue;
    }
    bool log2 = p.kind == hdl::Param::Kind::PowerOfTwo;
    if (!p.int_choices.empty()) log2 = std::all_of(p.int_choices.begin(), p.int_choices.end(), power_of_two);
    names_.push_back(log2 ? "log2(" + p.name + ")" : p.name);
  }
  param_features_ = names_.size();
  names_.push_back("log2(1+cycles)");
  try {
    const json d = family.derived(family.space().defaults(), workload_);
    for (auto it = d.begin(); it != d.end(); ++it)
      if (it->is_number()) derived_keys_.push_back(it.key());
  } catch (const std::exception&) {
    // no derived figures for this workload: the cycles alone
  }
  for (const auto& k : derived_keys_) names_.push_back("log2(1+" + k + ")");
}

std::vector<double> Features::of(const hdl::Params& p) const {
  std::vector<double> f;
  f.reserve(names_.size());
  for (const auto& param : family_.space().params()) {
    const hdl::Value& v = p.has(param.name) ? p.at(param.name) : param.default_value;
    if (param.kind == hdl::Param::Kind::Choice && param.int_choices.empty()) {
      for (const auto& c : param.choices) f.push_back(std::get<std::string>(v) == c ? 1.0 : 0.0);
      continue;
    }
    const double x = static_cast<double>(std::get<long long>(v));
    f.push_back(names_[f.size()].rfind("log2(", 0) == 0 ? std::log2(std::max(x, 1.0)) : x);
  }
  f.push_back(std::log2(1.0 + static_cast<double>(family_.model_cycles(p, workload_))));
  if (!derived_keys_.empty()) {
    const json d = family_.derived(p, workload_);
    for (const auto& k : derived_keys_) {
      const double x = d.contains(k) && d[k].is_number() ? d[k].get<double>() : 0.0;
      f.push_back(std::log2(1.0 + std::fabs(x)));
    }
  }
  return f;
}

// ---------------------------------------------------------------------------------- Gp

std::vector<double> Gp::standardize(const std::vector<double>& x) const {
  std::vector<double> z(d_);
  for (std::size_t k = 0; k < d_; ++k) z[k] = (x[k] - x_mean_[k]) / x_scale_[k];
  return z;
}

double Gp::kernel(const double* a, const double* b) const {
  std::vector<double> inv_ls2(d_);
  for (std::size_t k = 0; k < d_; ++k) inv_ls2[k] = std::exp(-2 * log_ls_[k]);
  const auto p = kernel_parts(a, b, d_, inv_ls2, std::exp(log_sf2_), std::exp(log_sl2_));
  return p.matern + p.linear;
}

void Gp::factorize() {
  std::vector<double> inv_ls2(d_);
  for (std::size_t k = 0; k < d_; ++k) inv_ls2[k] = std::exp(-2 * log_ls_[k]);
  const double sf2 = std::exp(log_sf2_), sl2 = std::exp(log_sl2_), sn2 = std::exp(log_sn2_);
  for (double jitter = 1e-8;; jitter *= 10) {
    chol_.assign(n_ * n_, 0.0);
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t j = 0; j <= i; ++j) {
        const auto p = kernel_parts(&x_[i * d_], &x_[j * d_], d_, inv_ls2, sf2, sl2);
        chol_[i * n_ + j] = chol_[j * n_ + i] = p.matern + p.linear + (i == j ? sn2 + jitter : 0);
      }
    if (cholesky(chol_, n_)) break;
    if (jitter > 1) throw std::runtime_error("Gaussian process: the kernel matrix is not positive definite");
  }
  alpha_ = y_;
  forward(chol_, n_, alpha_);
  double fit = 0;
  for (double a : alpha_) fit += a * a;
  backward(chol_, n_, alpha_);
  double logdet = 0;
  for (std::size_t i = 0; i < n_; ++i) logdet += std::log(chol_[i * n_ + i]);
  lml_ = -0.5 * fit - logdet - 0.5 * static_cast<double>(n_) * std::log(2 * M_PI);
}

void Gp::fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y, const FitOptions& o) {
  if (x.empty() || x.size() != y.size()) throw std::invalid_argument("Gaussian process: no data, or x and y differ in length");
  n_ = x.size();
  d_ = x[0].size();
  column_stats(x, x_mean_, x_scale_);
  y_mean_ = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n_);
  double var = 0;
  for (double v : y) var += (v - y_mean_) * (v - y_mean_);
  y_scale_ = std::sqrt(var / static_cast<double>(n_));
  if (y_scale_ < 1e-12) y_scale_ = 1;
  x_.assign(n_ * d_, 0.0);
  y_.assign(n_, 0.0);
  for (std::size_t i = 0; i < n_; ++i) {
    for (std::size_t k = 0; k < d_; ++k) x_[i * d_ + k] = (x[i][k] - x_mean_[k]) / x_scale_[k];
    y_[i] = (y[i] - y_mean_) / y_scale_;
  }

  // Marginal-likelihood ascent (Adam, clamped to sane ranges) from a few starts.
  std::mt19937_64 rng(o.seed);
  std::vector<std::size_t> rows(n_);
  std::iota(rows.begin(), rows.end(), 0);
  if (rows.size() > o.max_optimize) {
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(o.max_optimize);
  }
  const std::size_t p = d_ + 3;
  const bool warm = o.keep_hyper && log_ls_.size() == d_;
  std::vector<double> best_theta;
  double best = -1e300;
  const int starts = warm ? 1 : std::max(1, o.restarts);
  const int steps = warm ? std::min(o.iterations, 15) : o.iterations;
  for (int s = 0; s < starts; ++s) {
    std::vector<double> theta(p);
    if (warm) {
      for (std::size_t k = 0; k < d_; ++k) theta[k] = log_ls_[k];
      theta[d_] = log_sf2_, theta[d_ + 1] = log_sl2_, theta[d_ + 2] = log_sn2_;
    } else {
      std::normal_distribution<double> jitter(0, s == 0 ? 0.0 : 0.7);
      for (std::size_t k = 0; k < d_; ++k) theta[k] = std::log(std::sqrt(static_cast<double>(d_))) + jitter(rng);
      theta[d_] = 0 + jitter(rng), theta[d_ + 1] = -2 + jitter(rng), theta[d_ + 2] = -4 + jitter(rng);
    }
    std::vector<double> m(p, 0.0), v(p, 0.0), g;
    double value = lml_and_grad(x_, y_, rows, d_, theta, nullptr);
    std::vector<double> start_best = theta;
    double start_value = value;
    for (int t = 1; t <= steps; ++t) {
      value = lml_and_grad(x_, y_, rows, d_, theta, &g);
      if (value > start_value) start_value = value, start_best = theta;
      if (value <= -1e299) break;
      for (std::size_t i = 0; i < p; ++i) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        const double step = 0.08 * (m[i] / (1 - std::pow(0.9, t))) / (std::sqrt(v[i] / (1 - std::pow(0.999, t))) + 1e-8);
        const Bounds b = bounds(i, d_);
        theta[i] = std::clamp(theta[i] + step, b.lo, b.hi);
      }
    }
    value = lml_and_grad(x_, y_, rows, d_, theta, nullptr);
    if (value > start_value) start_value = value, start_best = theta;
    if (start_value > best) best = start_value, best_theta = start_best;
  }
  if (best_theta.empty()) {  // every start failed to factorize: defaults with more noise
    best_theta.assign(p, 0.0);
    best_theta[d_ + 1] = -2, best_theta[d_ + 2] = -1;
  }
  log_ls_.assign(best_theta.begin(), best_theta.begin() + static_cast<std::ptrdiff_t>(d_));
  log_sf2_ = best_theta[d_], log_sl2_ = best_theta[d_ + 1], log_sn2_ = best_theta[d_ + 2];
  factorize();
}

std::pair<double, double> Gp::predict(const std::vector<double>& x) const {
  const std::vector<double> z = standardize(x);
  std::vector<double> k(n_);
  for (std::size_t i = 0; i < n_; ++i) k[i] = kernel(z.data(), &x_[i * d_]);
  double mean = 0;
  for (std::size_t i = 0; i < n_; ++i) mean += k[i] * alpha_[i];
  forward(chol_, n_, k);
  double explained = 0;
  for (double v : k) explained += v * v;
  const double var = std::max(0.0, kernel(z.data(), z.data()) - explained) + std::exp(log_sn2_);
  return {y_mean_ + y_scale_ * mean, var * y_scale_ * y_scale_};
}

std::vector<double> Gp::grad_mean(const std::vector<double>& x) const {
  const std::vector<double> z = standardize(x);
  std::vector<double> inv_ls2(d_);
  for (std::size_t k = 0; k < d_; ++k) inv_ls2[k] = std::exp(-2 * log_ls_[k]);
  const double sf2 = std::exp(log_sf2_), sl2 = std::exp(log_sl2_);
  std::vector<double> g(d_, 0.0);
  for (std::size_t i = 0; i < n_; ++i) {
    const double* xi = &x_[i * d_];
    const auto p = kernel_parts(z.data(), xi, d_, inv_ls2, sf2, sl2);
    for (std::size_t k = 0; k < d_; ++k)
      g[k] += alpha_[i] * (-p.dfac * (z[k] - xi[k]) * inv_ls2[k] + sl2 * xi[k] / static_cast<double>(d_));
  }
  for (std::size_t k = 0; k < d_; ++k) g[k] *= y_scale_ / x_scale_[k];
  return g;
}

json Gp::to_json() const {
  return {{"n", n_}, {"d", d_}, {"x", x_}, {"y", y_}, {"x_mean", x_mean_}, {"x_scale", x_scale_}, {"y_mean", y_mean_},
          {"y_scale", y_scale_}, {"log_lengthscales", log_ls_}, {"log_matern_variance", log_sf2_},
          {"log_linear_variance", log_sl2_}, {"log_noise_variance", log_sn2_}, {"log_marginal_likelihood", lml_}};
}

Gp Gp::from_json(const json& j) {
  Gp g;
  g.n_ = j.at("n").get<std::size_t>();
  g.d_ = j.at("d").get<std::size_t>();
  g.x_ = j.at("x").get<std::vector<double>>();
  g.y_ = j.at("y").get<std::vector<double>>();
  g.x_mean_ = j.at("x_mean").get<std::vector<double>>();
  g.x_scale_ = j.at("x_scale").get<std::vector<double>>();
  g.y_mean_ = j.at("y_mean").get<double>();
  g.y_scale_ = j.at("y_scale").get<double>();
  g.log_ls_ = j.at("log_lengthscales").get<std::vector<double>>();
  g.log_sf2_ = j.at("log_matern_variance").get<double>();
  g.log_sl2_ = j.at("log_linear_variance").get<double>();
  g.log_sn2_ = j.at("log_noise_variance").get<double>();
  if (g.x_.size() != g.n_ * g.d_ || g.y_.size() != g.n_ || g.log_ls_.size() != g.d_ || g.x_mean_.size() != g.d_ ||
      g.x_scale_.size() != g.d_)
    throw std::invalid_argument("inconsistent sizes");
  g.factorize();
  return g;
}

// ---------------------------------------------------------------------------------- data

std::vector<Sample> cached_designs(const env::Task& task, evaluators::Pipeline& pipeline) {
  const hdl::Family& family = task.design_family();
  const auto& cache = pipeline.cache();
  if (!cache) return {};
  std::map<std::string, Sample> by_key;
  auto add = [&](const hdl::Params& p, const json& value) {
    const evaluators::Metrics m = evaluators::Metrics::from_json(value);
    if (m.error || m.transistors <= 0) return;
    Sample s{p, {}, m.seconds};
    s.figures = {{"transistors", double(m.transistors)}, {"cells", double(m.cells)}, {"depth", double(m.depth)}};
    // iCE40 figures where the design was synthesized for it too (inside the synthesize stage;
    // every such design has LUTs).
    if (m.luts > 0)
      s.figures.insert({{"luts", double(m.luts)}, {"ffs", double(m.ffs)}, {"dsps", double(m.dsps)}});
    auto [it, fresh] = by_key.try_emplace(family.space().key(p), s);
    if (!fresh)
      for (const auto& [t, v] : s.figures) it->second.figures.insert({t, v});  // iCE40 figures from another entry
  };

  // The task's search space, under the keys the pipeline uses: entries from before the cache
  // kept the design are found so.
  const auto domains = task.search_domains();
  double points = 1;
  for (const auto& [name, values] : domains) points *= static_cast<double>(values.size());
  if (points <= 250000) {
    std::vector<evaluators::EvalOptions> variants;
    for (const char* fidelity : {"synth", "rtl"})
      for (bool fpga : {false, true}) {
        evaluators::EvalOptions o;
        o.fidelity = fidelity;
        o.fpga = fpga;
        variants.push_back(o);
      }
    std::vector<std::size_t> index(domains.size(), 0);
    for (bool more = true; more;) {
      hdl::Params p = family.space().defaults();
      for (std::size_t i = 0; i < domains.size(); ++i) p.set(domains[i].first, domains[i].second[index[i]]);
      bool valid = true;
      try {
        family.space().validate(p);
      } catch (const hdl::ParamError&) {
        valid = false;
      }
      if (valid)
        for (const auto& o : variants)
          if (auto v = cache->get("eval", pipeline.design_key(family, p, task.workload, o))) try {
              add(p, json::parse(*v));
            } catch (const json::exception&) {
            }
      std::size_t d = 0;
      for (; d < index.size(); ++d) {
        if (++index[d] < domains[d].second.size()) break;
        index[d] = 0;
      }
      more = d < index.size();
    }
  }

  // Every entry that names its design, of this family and version, any workload.
  cache->for_each("eval", [&](const std::string&, const std::string& text) {
    if (text.find("\"design\"") == std::string::npos) return;
    try {
      const json v = json::parse(text);
      const json& d = v.at("design");
      if (d.value("family", "") != family.name() || d.value("version", -1) != family.version()) return;
      const hdl::Params p = family.space().from_json(d.at("params"));
      add(p, v);
    } catch (const std::exception&) {
      // an entry of another layout, or parameters this version no longer takes
    }
  });
  std::vector<Sample> out;
  for (auto& [key, s] : by_key) out.push_back(std::move(s));
  return out;
}

Accuracy accuracy(const std::vector<double>& predicted, const std::vector<double>& measured) {
  Accuracy a;
  a.n = predicted.size();
  if (a.n == 0) return a;
  double ape = 0, se = 0;
  for (std::size_t i = 0; i < a.n; ++i) {
    ape += std::fabs(predicted[i] - measured[i]) / std::max(std::fabs(measured[i]), 1.0);
    const double dl = std::log1p(std::max(predicted[i], 0.0)) - std::log1p(std::max(measured[i], 0.0));
    se += dl * dl;
  }
  a.mape = 100 * ape / static_cast<double>(a.n);
  a.rmse_log = std::sqrt(se / static_cast<double>(a.n));
  a.spearman = pearson(ranks(predicted), ranks(measured));
  return a;
}

// ---------------------------------------------------------------------------------- model

CostModel CostModel::fit(const env::Task& task, const std::vector<Sample>& samples, const Gp::FitOptions& o) {
  CostModel model;
  const hdl::Family& family = task.design_family();
  model.task_ = task.name;
  model.family_ = family.name();
  model.family_version_ = family.version();
  model.workload_ = task.workload;
  model.designs_ = samples.size();
  model.features_ = std::make_shared<Features>(family, task.workload);
  std::vector<std::vector<double>> all_x;
  for (const auto& s : samples) all_x.push_back(model.features_->of(s.params));
  json counts = json::object();
  for (const auto& t : targets()) {
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    for (std::size_t i = 0; i < samples.size(); ++i)
      if (auto it = samples[i].figures.find(t); it != samples[i].figures.end()) {
        x.push_back(all_x[i]);
        y.push_back(std::log1p(it->second));
      }
    counts[t] = x.size();
    if (x.size() < 3) continue;  // a constant target (one distinct value) is learned as that constant
    Gp gp;
    gp.fit(x, y, o);
    model.gps_.emplace(t, std::move(gp));
    model.learned_.push_back(t);
  }
  model.info_["measured"] = counts;
  return model;
}

Prediction CostModel::predict(const hdl::Params& p) const {
  Prediction out;
  const auto x = features_->of(p);
  for (const auto& t : learned_) {
    const auto [mean, var] = gps_.at(t).predict(x);
    out.mean[t] = std::max(0.0, std::expm1(mean));
    out.log_std[t] = std::sqrt(var);
  }
  return out;
}

evaluators::Metrics CostModel::predicted_metrics(const hdl::Params& p) const {
  const hdl::Family& family = hdl::family(family_);
  evaluators::Metrics m;
  m.fidelity = "surrogate";
  m.cycles_model = m.cycles = family.model_cycles(p, workload_);
  m.derived = family.derived(p, workload_);
  const Prediction pr = predict(p);
  auto fill = [&](const char* t, long long& field) {
    if (auto it = pr.mean.find(t); it != pr.mean.end()) field = std::llround(it->second);
  };
  fill("transistors", m.transistors);
  fill("cells", m.cells);
  fill("depth", m.depth);
  fill("luts", m.luts);
  fill("ffs", m.ffs);
  fill("dsps", m.dsps);
  json not_predicted = json::array();
  for (const auto& t : targets())
    if (!pr.mean.count(t)) not_predicted.push_back(t);
  m.stages["surrogate"] = {{"predicted", true}, {"model", task_}, {"log_std", pr.log_std}, {"not_predicted", not_predicted}};
  return m;
}

void CostModel::save(const fs::path& file) const {
  json targets_json = json::object();
  for (const auto& t : learned_) targets_json[t] = gps_.at(t).to_json();
  const json j = {{"format", "chipgym-surrogate"}, {"chipgym", kChipgymVersion}, {"family", family_},
                  {"family_version", family_version_}, {"task", task_}, {"workload", workload_},
                  {"designs", designs_}, {"features", features_->names()}, {"targets", targets_json}, {"info", info_}};
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump();
    if (!out) throw hdl::ParamError("cannot write the model file " + file.string());
  }
  fs::rename(tmp, file, ec);
  if (ec) throw hdl::ParamError("cannot write the model file " + file.string() + ": " + ec.message());
}

CostModel CostModel::load(const fs::path& file, const hdl::Family& family) {
  json j;
  {
    std::ifstream in(file);
    if (!in) throw hdl::ParamError("no model file " + file.string());
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      throw hdl::ParamError("model file " + file.string() + " is not JSON (" + e.what() + "): refit it");
    }
  }
  const std::string refit = "; refit it with `chipgym surrogate fit --task " + j.value("task", std::string("TASK")) + "`";
  if (j.value("format", "") != "chipgym-surrogate")
    throw hdl::ParamError("model file " + file.string() + " is not a chipgym surrogate model");
  if (j.value("family", "") != family.name())
    throw hdl::ParamError("model file " + file.string() + " is a model of family '" + j.value("family", "") +
                          "', not '" + family.name() + "'" + refit);
  if (j.value("family_version", -1) != family.version())
    throw hdl::ParamError("model file " + file.string() + " was fitted on family " + family.name() + " version " +
                          std::to_string(j.value("family_version", -1)) + "; this chipgym's " + family.name() +
                          " is version " + std::to_string(family.version()) + refit);
  if (j.value("chipgym", "") != kChipgymVersion)
    throw hdl::ParamError("model file " + file.string() + " was written by chipgym " + j.value("chipgym", "?") +
                          ", not " + kChipgymVersion + refit);
  CostModel m;
  try {
    m.task_ = j.at("task").get<std::string>();
    m.family_ = family.name();
    m.family_version_ = family.version();
    m.workload_ = j.at("workload");
    m.designs_ = j.at("designs").get<std::size_t>();
    m.features_ = std::make_shared<Features>(family, m.workload_);
    if (j.at("features").get<std::vector<std::string>>() != m.features_->names())
      throw hdl::ParamError("model file " + file.string() + " has other features than family " + family.name() +
                            " gives" + refit);
    for (auto it = j.at("targets").begin(); it != j.at("targets").end(); ++it) {
      m.gps_.emplace(it.key(), Gp::from_json(it.value()));
      m.learned_.push_back(it.key());
    }
    m.info_ = j.value("info", json::object());
  } catch (const hdl::ParamError&) {
    throw;
  } catch (const std::exception& e) {
    throw hdl::ParamError("model file " + file.string() + " is incomplete (" + e.what() + ")" + refit);
  }
  return m;
}

fs::path model_file(const evaluators::Cache& cache, const env::Task& task) {
  return cache.file().parent_path() / "surrogates" / (task.name + "." + task.family + ".json");
}

std::shared_ptr<const CostModel> find_model(const fs::path& cache_file, const hdl::Family& family, const json& workload) {
  struct Loaded {
    fs::file_time_type time;
    std::shared_ptr<const CostModel> model;
  };
  static std::mutex mu;
  static std::map<fs::path, Loaded> loaded;
  const fs::path dir = cache_file.parent_path() / "surrogates";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return nullptr;
  std::vector<fs::path> files;
  const std::string suffix = "." + family.name() + ".json";
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::shared_ptr<const CostModel> any;
  std::lock_guard lock(mu);
  for (const auto& f : files) {
    const auto time = fs::last_write_time(f, ec);
    auto it = loaded.find(f);
    if (it == loaded.end() || it->second.time != time)
      it = loaded.insert_or_assign(f, Loaded{time, std::make_shared<const CostModel>(CostModel::load(f, family))}).first;
    if (it->second.model->workload() == workload) return it->second.model;
    if (!any) any = it->second.model;
  }
  return any;
}

// ---------------------------------------------------------------------------------- baselines

std::vector<double> knn_predict(const std::vector<std::vector<double>>& train_x, const std::vector<double>& train_y,
                                const std::vector<std::vector<double>>& test_x, int k) {
  std::vector<double> mean, scale;
  column_stats(train_x, mean, scale);
  std::vector<double> out;
  for (const auto& x : test_x) {
    std::vector<std::pair<double, double>> dist;
    for (std::size_t i = 0; i < train_x.size(); ++i) {
      double d2 = 0;
      for (std::size_t c = 0; c < x.size(); ++c) {
        const double diff = (x[c] - train_x[i][c]) / scale[c];
        d2 += diff * diff;
      }
      dist.emplace_back(d2, train_y[i]);
    }
    const std::size_t kk = std::min<std::size_t>(static_cast<std::size_t>(k), dist.size());
    std::partial_sort(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(kk), dist.end());
    double wsum = 0, ysum = 0;
    for (std::size_t i = 0; i < kk; ++i) {
      const double w = 1.0 / (std::sqrt(dist[i].first) + 1e-6);  // inverse distance
      wsum += w;
      ysum += w * dist[i].second;
    }
    out.push_back(ysum / wsum);
  }
  return out;
}

std::vector<double> ridge_predict(const std::vector<std::vector<double>>& train_x, const std::vector<double>& train_y,
                                  const std::vector<std::vector<double>>& test_x, double lambda) {
  std::vector<double> mean, scale;
  column_stats(train_x, mean, scale);
  const std::size_t d = mean.size() + 1;  // with a bias
  auto row = [&](const std::vector<double>& x) {
    std::vector<double> r(d, 1.0);
    for (std::size_t c = 0; c + 1 < d; ++c) r[c] = (x[c] - mean[c]) / scale[c];
    return r;
  };
  std::vector<double> a(d * d, 0.0), b(d, 0.0);
  for (std::size_t i = 0; i < train_x.size(); ++i) {
    const auto r = row(train_x[i]);
    for (std::size_t p = 0; p < d; ++p) {
      b[p] += r[p] * train_y[i];
      for (std::size_t q = 0; q < d; ++q) a[p * d + q] += r[p] * r[q];
    }
  }
  for (std::size_t p = 0; p < d; ++p) a[p * d + p] += lambda * static_cast<double>(train_x.size());
  if (!cholesky(a, d)) return std::vector<double>(test_x.size(), 0.0);
  forward(a, d, b);
  backward(a, d, b);
  std::vector<double> out;
  for (const auto& x : test_x) {
    const auto r = row(x);
    out.push_back(std::inner_product(r.begin(), r.end(), b.begin(), 0.0));
  }
  return out;
}

std::pair<std::vector<Sample>, std::vector<Sample>> seeded_split(const std::vector<Sample>& samples, std::size_t n_first,
                                                                 std::uint64_t seed) {
  std::vector<std::size_t> idx(samples.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  std::pair<std::vector<Sample>, std::vector<Sample>> out;
  for (std::size_t i = 0; i < idx.size(); ++i) (i < n_first ? out.first : out.second).push_back(samples[idx[i]]);
  return out;
}

SplitReport split_report(const env::Task& task, const std::vector<Sample>& train, const std::vector<Sample>& test,
                         const Gp::FitOptions& o) {
  SplitReport r;
  auto t0 = std::chrono::steady_clock::now();
  const CostModel model = CostModel::fit(task, train, o);
  r.fit_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (const auto& s : test) r.predictions.push_back(model.predict(s.params));
  r.predict_seconds_per_design = seconds_since(t0) / static_cast<double>(std::max<std::size_t>(test.size(), 1));

  const Features& features = model.features();
  for (const auto& t : model.learned_targets()) {
    std::vector<std::vector<double>> tx, sx;
    std::vector<double> ty, measured, gp;
    for (const auto& s : train)
      if (auto it = s.figures.find(t); it != s.figures.end()) tx.push_back(features.of(s.params)), ty.push_back(std::log1p(it->second));
    for (std::size_t i = 0; i < test.size(); ++i)
      if (auto it = test[i].figures.find(t); it != test[i].figures.end()) {
        sx.push_back(features.of(test[i].params));
        measured.push_back(it->second);
        gp.push_back(r.predictions[i].mean.at(t));
      }
    if (measured.empty()) continue;
    auto natural = [](std::vector<double> v) {
      for (auto& x : v) x = std::max(0.0, std::expm1(x));
      return v;
    };
    r.targets[t] = {{"gp", accuracy(gp, measured).to_json()},
                    {"knn", accuracy(natural(knn_predict(tx, ty, sx)), measured).to_json()},
                    {"ridge", accuracy(natural(ridge_predict(tx, ty, sx)), measured).to_json()}};
  }
  return r;
}

json holdout_report(const env::Task& task, const std::vector<Sample>& samples, double test_fraction, std::uint64_t seed,
                    const Gp::FitOptions& o) {
  const std::size_t n_test =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::lround(test_fraction * double(samples.size()))), 2,
                              samples.size() > 4 ? samples.size() - 3 : 1);
  const auto [test, train] = seeded_split(samples, n_test, seed);
  const SplitReport r = split_report(task, train, test, o);
  double synth_seconds = 0;
  for (const auto& s : samples) synth_seconds += s.seconds;
  synth_seconds /= static_cast<double>(std::max<std::size_t>(samples.size(), 1));
  const double predict_seconds = r.predict_seconds_per_design;
  return {{"task", task.name},
          {"family", task.family},
          {"designs", samples.size()},
          {"train", train.size()},
          {"test", test.size()},
          {"seed", seed},
          {"fit_seconds", r.fit_seconds},
          {"predict_seconds_per_design", predict_seconds},
          {"synthesis_seconds_per_design", synth_seconds},
          {"speedup", predict_seconds > 0 ? synth_seconds / predict_seconds : 0.0},
          {"targets", r.targets}};
}

RewardModel::RewardModel(const env::Env& env, bool param_features_only)
    : env_(env), features_(env.task().design_family(), env.task().workload) {
  dims_ = param_features_only ? features_.param_features() : features_.size();
}

hdl::Params RewardModel::params(const std::vector<long long>& design) const { return env_.decode(design); }

bool RewardModel::valid(const std::vector<long long>& design) const {
  try {
    env_.task().design_family().space().validate(env_.decode(design));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

const std::vector<double>& RewardModel::features(const std::vector<long long>& design) const {
  auto it = memo_.find(design);
  if (it != memo_.end()) return it->second;
  std::vector<double> f;
  try {
    f = features_.of(env_.decode(design));
  } catch (const std::exception&) {
    f.assign(features_.size(), 0.0);  // a design the cycle model refuses: it is never a candidate
  }
  f.resize(dims_);
  return memo_.emplace(design, std::move(f)).first->second;
}

void RewardModel::fit(const std::vector<std::pair<std::vector<long long>, double>>& told, std::uint64_t seed) {
  double worst = 1e300;
  bool any = false;
  for (const auto& [d, r] : told)
    if (r > 0) worst = std::min(worst, std::log(r)), any = true;
  if (!any || told.size() < 2) return;
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  best_ = -1e300;
  for (const auto& [d, r] : told) {
    x.push_back(features(d));
    y.push_back(r > 0 ? std::log(r) : worst - 1);
    best_ = std::max(best_, y.back());
  }
  Gp::FitOptions o;
  o.restarts = 2;
  o.iterations = 50;
  o.seed = seed;
  gp_.fit(x, y, o);
}

std::pair<double, double> RewardModel::predict(const std::vector<long long>& design) const {
  return gp_.predict(features(design));
}

json fidelity_counts(long long screened, long long real, const std::string& real_fidelity) {
  return {{"designs_by_fidelity", {{"surrogate", screened}, {real_fidelity, real}}},
          {"real_evaluations", real}};
}

namespace {

// The surrogate fidelity's predictions (evaluators/stages/surrogate.cpp): the model beside the
// pipeline's cache, of the evaluated family, on its workload if one was fitted there.
bool predict_stage(evaluators::Evaluation& e) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& cache = e.pipeline.cache();
  if (!cache) {
    e.metrics.error = evaluators::ErrorInfo{
        "input", "the surrogate fidelity reads its cost model from beside the cache: run without --no-cache"};
    return false;
  }
  std::shared_ptr<const CostModel> model;
  try {
    model = find_model(cache->file(), e.family, e.workload);
  } catch (const std::exception& ex) {
    e.metrics.error = evaluators::ErrorInfo{"input", ex.what()};
    return false;
  }
  if (!model) {
    e.metrics.error = evaluators::ErrorInfo{
        "input", "no cost model of family " + e.family.name() + " in " + (cache->file().parent_path() / "surrogates").string() +
                     ": fit one with `chipgym surrogate fit --task TASK` (a task of that family)"};
    return false;
  }
  const evaluators::Metrics p = model->predicted_metrics(e.params);
  evaluators::Metrics& m = e.metrics;
  m.transistors = p.transistors, m.cells = p.cells, m.depth = p.depth;
  m.luts = p.luts, m.ffs = p.ffs, m.dsps = p.dsps;
  m.stages["surrogate"] = p.stages["surrogate"];
  m.stages["surrogate"]["seconds"] = seconds_since(t0);
  return true;
}

[[maybe_unused]] const bool predictor_installed = [] {
  evaluators::set_predictor(predict_stage);
  return true;
}();

}  // namespace

}  // namespace chipgym::agents::surrogate
