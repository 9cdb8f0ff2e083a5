// Integer models, floating-point references, offline constants and cycle models of the
// quantized operators (hdl/quant.h). The RTL in hdl/quant.cpp computes exactly what
// quant_model() computes, with the same constants (quant_tables()).
#include <algorithm>
#include <cmath>
#include <random>

#include "hdl/quant.h"
#include "hdl/splitmix.h"

namespace chipgym::hdl {

namespace {

int clog2(long long v) {  // bits to count 0..v-1, at least 1
  int bits = 0;
  while ((1LL << bits) < v) ++bits;
  return bits < 1 ? 1 : bits;
}

// The least two's-complement width that holds every value in lo..hi.
int signed_bits(std::int64_t lo, std::int64_t hi) {
  int b = 1;
  while (lo < -(1LL << (b - 1)) || hi > (1LL << (b - 1)) - 1) ++b;
  return b;
}

int floor_log2(std::int64_t v) {  // v >= 1
  int k = 0;
  while ((v >> (k + 1)) != 0) ++k;
  return k;
}

// splitmix64: the fixed affine parameters (gamma, beta) derive from it, seed 5.
std::uint64_t splitmix(std::uint64_t x) { return splitmix64(x); }
constexpr std::uint64_t kAffineSeed = 5;

double gelu_real(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

int clamp8(std::int64_t v) { return static_cast<int>(std::clamp<std::int64_t>(v, -128, 127)); }
double clamp8(double v) { return std::clamp(v, -128.0, 127.0); }

// Least-squares polynomial of degree `order` through (d, f(d)) for d = 0..w-1.
std::vector<double> fit(const std::vector<double>& f, int order) {
  const int n = order + 1;
  std::vector<std::vector<double>> a(n, std::vector<double>(n + 1, 0.0));
  for (std::size_t d = 0; d < f.size(); ++d)
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) a[r][c] += std::pow(static_cast<double>(d), r + c);
      a[r][n] += f[d] * std::pow(static_cast<double>(d), r);
    }
  for (int col = 0; col < n; ++col) {  // Gauss-Jordan with partial pivoting
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    std::swap(a[col], a[pivot]);
    for (int r = 0; r < n; ++r) {
      if (r == col) continue;
      const double k = a[r][col] / a[col][col];
      for (int c = col; c <= n; ++c) a[r][c] -= k * a[col][c];
    }
  }
  std::vector<double> out(n);
  for (int r = 0; r < n; ++r) out[r] = a[r][n] / a[r][r];
  return out;
}

// 1/sqrt by integer Newton-Raphson (shared by rmsnorm and layernorm). `acc` is the sum of
// pre-shifted squares; returns y (Q1.14) and k such that 1/sqrt(mean square) =
// y / 2^14 * 2^-k * 2^(2 - pre_shift/2).
struct Rsqrt {
  std::int64_t y = 0;
  int k = 0;
};
// The mantissa m (Q2.14, in [1, 4)) and shift k of the mean of squares: v1 = m * 4^k.
struct RsqrtSplit {
  std::int64_t m = 0;
  int k = 0;
};
RsqrtSplit rsqrt_split(const QuantConfig& c, const QuantTables& t, std::int64_t acc) {
  std::int64_t v = (acc * t.msq_mul) >> t.msq_shift;
  std::int64_t v1 = std::max<std::int64_t>(v << (c.pre_shift & 1), 1);
  const int k = floor_log2(v1) >> 1;
  return {(v1 << c.rsqrt_frac) >> (2 * k), k};
}
int rsqrt_seed_index(const QuantConfig& c, std::int64_t m) { return static_cast<int>((m >> (c.rsqrt_frac - 2)) - 4); }

Rsqrt rsqrt_model(const QuantConfig& c, const QuantTables& t, std::int64_t acc) {
  const int F = c.rsqrt_frac;
  const auto [m, k] = rsqrt_split(c, t, acc);
  std::int64_t y = t.seed[static_cast<std::size_t>(rsqrt_seed_index(c, m))];
  for (int i = 0; i < c.iterations; ++i) {
    const std::int64_t sq = (y * y) >> F;
    const std::int64_t u = (m * sq) >> F;
    const std::int64_t w = std::max<std::int64_t>((3LL << F) - u, 0);
    y = (y * w) >> (F + 1);
  }
  return {y, k};
}

// Shift of the normalized output product x * y * gamma down to kNormOutFrac bits.
int norm_out_shift(const QuantConfig& c, int k) { return c.rsqrt_frac + k + (c.pre_shift >> 1) + kGammaFrac - kNormOutFrac - 2; }

}  // namespace

QuantTables quant_tables(const QuantConfig& c) {
  QuantTables t;
  const int N = c.vector_length;
  switch (c.op) {
    case QuantOp::Gelu: {
      const int t16 = c.threshold << kQuantInFrac;
      if (c.impl != GeluImpl::Poly) {
        // Direct table: every input of [-T, T); interp: the knots x_i = -16T + i w, i = 0..E-1.
        const bool interp = c.impl == GeluImpl::Interp;
        const int count = interp ? c.interp_entries : 2 * t16, w = interp ? 2 * t16 / std::max(1, c.interp_entries - 1) : 1;
        const double one = std::ldexp(1.0, interp ? c.table_frac : 0);
        for (int i = 0; i < count; ++i) t.table.push_back(std::llround(one * 16.0 * gelu_real((-t16 + i * w) / 16.0)));
        const auto [lo, hi] = std::minmax_element(t.table.begin(), t.table.end());
        t.table_width = signed_bits(*lo, *hi);
        break;
      }
      const int w = 2 * t16 / c.segments;
      for (int s = 0; s < c.segments; ++s) {
        std::vector<double> f(static_cast<std::size_t>(w));
        for (int d = 0; d < w; ++d) f[d] = 16.0 * gelu_real((-t16 + s * w + d) / 16.0);
        auto coef = fit(f, c.order);
        const double one = std::ldexp(1.0, kGeluCoefFrac);
        t.c0.push_back(std::llround(coef[0] * one));
        t.c1.push_back(std::llround(coef[1] * one));
        t.c2.push_back(c.order >= 2 ? std::llround(coef[2] * one) : 0);
      }
      break;
    }
    case QuantOp::Softmax: {
      const double center = ((1 << c.exp_shift) - 1) / 2.0;
      for (int i = 0; i < c.lut_entries; ++i)
        t.exp_lut.push_back(std::llround(std::ldexp(1.0, c.exp_bits) * std::exp(-((i << c.exp_shift) + center) / 16.0)));
      for (int j = 0; j < (1 << c.recip_bits); ++j)
        t.recip.push_back(std::llround(std::ldexp(1.0, c.recip_frac) / (1.0 + (j + 0.5) / (1 << c.recip_bits))));
      break;
    }
    case QuantOp::RmsNorm:
    case QuantOp::LayerNorm: {
      for (int i = 0; i < 12; ++i) t.seed.push_back(std::llround(std::ldexp(1.0, c.rsqrt_frac) / std::sqrt(1.0 + (i + 0.5) / 4.0)));
      for (int i = 0; i < N; ++i) {
        const std::uint64_t h = splitmix(kAffineSeed * 1000003ULL + static_cast<std::uint64_t>(i));
        t.gamma.push_back(32 + static_cast<std::int64_t>(h % 65));                              // 0.5 .. 1.5
        if (c.op == QuantOp::LayerNorm) t.beta.push_back(static_cast<std::int64_t>((h >> 20) % 33) - 16);  // -0.5 .. 0.5
      }
      // Division by N as multiply-and-shift, multipliers in (2^15, 2^16].
      t.mean_shift = 15 + clog2(N);
      t.mean_mul = std::llround(std::ldexp(1.0, t.mean_shift) / N);
      t.msq_shift = 15 + clog2(N) - kNormGuard;
      t.msq_mul = std::llround(std::ldexp(1.0, t.msq_shift + kNormGuard) / N);
      t.max_square = c.op == QuantOp::RmsNorm ? 128 * 128 : 256 * 256;
      t.acc_max = static_cast<std::int64_t>(N) * (t.max_square >> c.pre_shift);
      break;
    }
  }
  return t;
}

void quant_validate(const QuantConfig& c) {
  if (c.vector_length < 1) throw ParamError("vector_length must be at least 1");
  if (c.stages < 1 || c.stages > 3) throw ParamError("stages must be in 1..3");
  if (c.op == QuantOp::Gelu && c.impl != GeluImpl::Poly) {
    if (c.impl == GeluImpl::Interp) {
      if (c.interp_entries < 2)
        throw ParamError("gelu: interp_entries = " + std::to_string(c.interp_entries) +
                         ": an interpolating table needs two entries per segment (the knots at its ends), so at least 2");
      const int segments = c.interp_entries - 1;
      if ((segments & (segments - 1)) != 0)
        throw ParamError("gelu: interp_entries - 1 must be a power of two (segments of 2^k input steps), got interp_entries = " +
                         std::to_string(c.interp_entries));
      if (segments > 16 * c.threshold)
        throw ParamError("gelu: interp_entries - 1 <= 16 * threshold (each segment spans at least two input steps), got interp_entries = " +
                         std::to_string(c.interp_entries) + " with threshold = " + std::to_string(c.threshold));
    }
    const QuantTables t = quant_tables(c);
    const auto [lo, hi] = std::minmax_element(t.table.begin(), t.table.end());
    if (c.table_bits != 0 && c.table_bits < t.table_width)
      throw ParamError("gelu: table_bits = " + std::to_string(c.table_bits) + " cannot hold the range " + std::to_string(*lo) + ".." +
                       std::to_string(*hi) + " of the " + (c.impl == GeluImpl::Interp ? "interpolation knots" : "direct table") + " (GELU on [-" + std::to_string(c.threshold) + ", " +
                       std::to_string(c.threshold) + "]" + (c.impl == GeluImpl::Interp ? " times 2^table_frac" : "") +
                       "): it needs " + std::to_string(t.table_width) + " bits; use table_bits >= " +
                       std::to_string(t.table_width) + " or 0 (derived)");
  }
  if (c.op == QuantOp::Gelu && c.impl == GeluImpl::Poly) {
    if (32 * c.threshold / c.segments <= c.order)
      throw ParamError("gelu: each segment must span more input steps than the polynomial order: 32 * threshold / segments > order (threshold=" +
                       std::to_string(c.threshold) + ", segments=" + std::to_string(c.segments) + ", order=" + std::to_string(c.order) + ")");
  }
  if (c.op == QuantOp::Softmax && c.exp_bits < c.recip_bits + 1)
    throw ParamError("softmax: exp_bits >= recip_bits + 1 (the sum's leading one must have recip_bits bits below it), got exp_bits = " +
                     std::to_string(c.exp_bits) + ", recip_bits = " + std::to_string(c.recip_bits));
  if (c.op == QuantOp::Softmax && (static_cast<long long>(c.lut_entries) << c.exp_shift) > 256)
    throw ParamError("softmax: lut_entries * 2^exp_shift <= 256 (the table covers at most the 256 differences max - x), got " +
                     std::to_string(c.lut_entries) + " * 2^" + std::to_string(c.exp_shift));
  if (c.op == QuantOp::RmsNorm || c.op == QuantOp::LayerNorm) {
    QuantTables t = quant_tables(c);
    if (t.acc_max > (1LL << c.acc_bits) - 1)
      throw ParamError(std::string(c.op == QuantOp::RmsNorm ? "rmsnorm" : "layernorm") +
                       ": the accumulator can overflow: vector_length * (" + std::to_string(t.max_square) +
                       " >> pre_shift) <= 2^acc_bits - 1 is required, got " + std::to_string(c.vector_length) + " * (" +
                       std::to_string(t.max_square) + " >> " + std::to_string(c.pre_shift) + ") = " + std::to_string(t.acc_max) +
                       " > " + std::to_string((1LL << c.acc_bits) - 1) + "; raise acc_bits or pre_shift");
  }
}

std::vector<int> quant_model(const QuantConfig& c, const std::vector<int>& x) {
  quant_validate(c);  // a config built by hand (not through the space) is checked too
  const QuantTables t = quant_tables(c);
  std::vector<int> y(x.size());
  for (int v : x)
    if (v < -128 || v > 127) throw ParamError("quantized operator input " + std::to_string(v) + " is outside int8 (-128..127)");
  switch (c.op) {
    case QuantOp::Gelu: {
      const int t16 = c.threshold << kQuantInFrac;
      const int wbits = c.impl == GeluImpl::Poly     ? floor_log2(2 * t16 / c.segments)
                        : c.impl == GeluImpl::Interp ? floor_log2(2 * t16 / (c.interp_entries - 1))
                                                     : 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (x[i] < -t16) y[i] = 0;
        else if (x[i] >= t16) y[i] = x[i];
        else if (c.impl == GeluImpl::Table) y[i] = clamp8(t.table[static_cast<std::size_t>(x[i] + t16)]);
        else if (c.impl == GeluImpl::Interp) {
          // y = k[s] + (k[s+1] - k[s]) d / w, rounded once: ((k[s] w + (k[s+1] - k[s]) d) + half) >> (log2 w + frac).
          const std::int64_t off = x[i] + t16, seg = off >> wbits, d = off & ((1 << wbits) - 1);
          const std::int64_t k0 = t.table[static_cast<std::size_t>(seg)], k1 = t.table[static_cast<std::size_t>(seg + 1)];
          const int sh = wbits + c.table_frac;
          y[i] = clamp8(static_cast<std::int64_t>(((k0 << wbits) + (k1 - k0) * d + (1LL << (sh - 1))) >> sh));
        } else {
          const std::int64_t off = x[i] + t16, seg = off >> wbits, d = off & ((1 << wbits) - 1);
          const std::int64_t acc = t.c0[seg] + t.c1[seg] * d + t.c2[seg] * d * d + (1LL << (kGeluCoefFrac - 1));
          y[i] = clamp8(acc >> kGeluCoefFrac);
        }
      }
      break;
    }
    case QuantOp::Softmax: {
      if (x.empty()) break;
      const int mx = *std::max_element(x.begin(), x.end());
      auto e = [&](int v) -> std::int64_t { return quant_softmax_exp(c, t, mx - v); };
      const std::int64_t sum = quant_softmax_sum(c, t, x);
      const auto [k, j] = quant_softmax_lookup(c, t, sum);
      const std::int64_t m = t.recip[static_cast<std::size_t>(j)];
      const int sh = c.recip_frac + k - kSoftmaxOutFrac;
      for (std::size_t i = 0; i < x.size(); ++i)
        y[i] = static_cast<int>(std::min<std::int64_t>(127, (e(x[i]) * m + (1LL << (sh - 1))) >> sh));
      break;
    }
    case QuantOp::RmsNorm:
    case QuantOp::LayerNorm: {
      const bool ln = c.op == QuantOp::LayerNorm;
      const std::int64_t mu = quant_norm_mean(c, t, x);
      const Rsqrt r = rsqrt_model(c, t, quant_norm_acc(c, t, x));
      const int sh = norm_out_shift(c, r.k);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::int64_t prod = (x[i] - mu) * r.y * t.gamma[i];
        std::int64_t out = (prod + (1LL << (sh - 1))) >> sh;
        if (ln) out += t.beta[i];
        y[i] = clamp8(out);
      }
      break;
    }
  }
  return y;
}

std::int64_t quant_softmax_exp(const QuantConfig& c, const QuantTables& t, int difference) {
  const int idx = difference >> c.exp_shift;
  return idx < c.lut_entries ? t.exp_lut[static_cast<std::size_t>(idx)] : 0;
}

std::int64_t quant_softmax_sum(const QuantConfig& c, const QuantTables& t, const std::vector<int>& x) {
  if (x.empty()) return 0;
  const int mx = *std::max_element(x.begin(), x.end());
  std::int64_t sum = 0;
  for (int v : x) sum += quant_softmax_exp(c, t, mx - v);
  return sum;
}

QuantLookup quant_softmax_lookup(const QuantConfig& c, const QuantTables&, std::int64_t sum) {
  const int k = floor_log2(sum);
  return {k, static_cast<int>((sum >> (k - c.recip_bits)) & ((1 << c.recip_bits) - 1))};
}

std::int64_t quant_norm_mean(const QuantConfig& c, const QuantTables& t, const std::vector<int>& x) {
  if (c.op != QuantOp::LayerNorm) return 0;
  std::int64_t sum = 0;
  for (int v : x) sum += v;
  return (sum * t.mean_mul) >> t.mean_shift;
}

std::int64_t quant_norm_acc(const QuantConfig& c, const QuantTables& t, const std::vector<int>& x) {
  const std::int64_t mu = quant_norm_mean(c, t, x);
  std::int64_t acc = 0;
  for (int v : x) acc += ((v - mu) * (v - mu)) >> c.pre_shift;
  return acc;
}

QuantLookup quant_rsqrt_lookup(const QuantConfig& c, const QuantTables& t, std::int64_t acc) {
  const auto [m, k] = rsqrt_split(c, t, acc);
  return {k, rsqrt_seed_index(c, m)};
}

std::vector<double> quant_reference(const QuantConfig& c, const std::vector<int>& x) {
  const QuantTables t = quant_tables(c);
  std::vector<double> y(x.size());
  const double n = static_cast<double>(x.size());
  switch (c.op) {
    case QuantOp::Gelu:
      for (std::size_t i = 0; i < x.size(); ++i) y[i] = clamp8(16.0 * gelu_real(x[i] / 16.0));
      break;
    case QuantOp::Softmax: {
      if (x.empty()) break;
      const int mx = *std::max_element(x.begin(), x.end());
      double sum = 0;
      for (int v : x) sum += std::exp((v - mx) / 16.0);
      for (std::size_t i = 0; i < x.size(); ++i) y[i] = clamp8(128.0 * std::exp((x[i] - mx) / 16.0) / sum);
      break;
    }
    case QuantOp::RmsNorm:
    case QuantOp::LayerNorm: {
      const bool ln = c.op == QuantOp::LayerNorm;
      double mu = 0, ms = 0;
      if (ln) {
        for (int v : x) mu += v;
        mu /= n;
      }
      for (int v : x) ms += (v - mu) * (v - mu);
      ms /= n;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double g = static_cast<double>(t.gamma[i]) / (1 << kGammaFrac);
        const double normed = ms > 0 ? (x[i] - mu) / std::sqrt(ms) : 0.0;
        y[i] = clamp8(normed * g * (1 << kNormOutFrac) + (ln ? static_cast<double>(t.beta[i]) : 0.0));
      }
      break;
    }
  }
  return y;
}

QuantError quant_error(const QuantConfig& c, const std::vector<std::vector<int>>& vectors) {
  QuantError e;
  double total = 0;
  for (const auto& x : vectors) {
    auto got = quant_model(c, x);
    auto want = quant_reference(c, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double err = std::abs(got[i] - want[i]);
      total += err;
      ++e.values;
      if (err > e.max_abs || e.worst_input.empty()) {
        if (err > e.max_abs) e.max_abs = err;
        if (err >= e.max_abs) e.worst_input = x;
      }
    }
  }
  e.mean_abs = e.values ? total / static_cast<double>(e.values) : 0.0;
  return e;
}

std::vector<std::vector<int>> quant_vectors(const QuantConfig& c, const json& workload) {
  static const std::vector<std::string> known = {"random", "min", "max", "zero", "onehot", "ramp", "sweep"};
  if (!workload.is_object()) throw ParamError("quantized-operator workload must be a JSON object");
  const long long count = workload.value("vectors", 8LL);
  if (!workload.value("vectors", json(8)).is_number_integer() || count < 0 || count > 100000)
    throw ParamError("quantized-operator workload \"vectors\" must be an integer in 0..100000");
  if (workload.contains("seed") && (!workload["seed"].is_number_integer() || workload["seed"].get<long long>() < 0))
    throw ParamError("quantized-operator workload \"seed\" must be a non-negative integer");
  std::vector<std::string> patterns;
  if (workload.contains("patterns")) {
    if (!workload["patterns"].is_array()) throw ParamError("quantized-operator workload \"patterns\" must be a list of names");
    for (const auto& p : workload["patterns"]) {
      if (!p.is_string() || std::find(known.begin(), known.end(), p.get<std::string>()) == known.end())
        throw ParamError("unknown data pattern " + p.dump() + "; known: random, min, max, zero, onehot, ramp, sweep");
      patterns.push_back(p.get<std::string>());
    }
  }
  std::mt19937_64 rng(workload.value("seed", 1ULL));
  std::uniform_int_distribution<int> dist(-128, 127);
  const int N = c.vector_length;
  std::vector<std::vector<int>> out;
  for (const auto& p : patterns) {
    if (p == "sweep") {  // every int8 value once, in order, over ceil(256 / N) vectors (the last one wraps)
      for (int first = 0; first < 256; first += N) {
        std::vector<int> v(static_cast<std::size_t>(N));
        for (int i = 0; i < N; ++i) v[i] = (first + i) % 256 - 128;
        out.push_back(v);
      }
      continue;
    }
    std::vector<int> v(static_cast<std::size_t>(N), 0);
    for (int i = 0; i < N; ++i) {
      if (p == "random") v[i] = dist(rng);
      else if (p == "min") v[i] = -128;
      else if (p == "max") v[i] = 127;
      else if (p == "onehot") v[i] = i == N / 2 ? 127 : -128;
      else if (p == "ramp") v[i] = -128 + static_cast<int>((255LL * i) / std::max(1, N - 1));
    }
    out.push_back(v);
  }
  for (long long k = 0; k < count; ++k) {
    std::vector<int> v(static_cast<std::size_t>(N));
    for (auto& e : v) e = dist(rng);
    out.push_back(v);
  }
  if (out.empty()) throw ParamError("quantized-operator workload has no vectors (set \"vectors\" or \"patterns\")");
  return out;
}

// Phases of one vector in the RTL (hdl/quant.cpp), with no stalls: load N, a second pass over
// the buffer (softmax: sum of exponentials; layernorm: sum of centred squares), solve
// (softmax: reciprocal, 1; rmsnorm: seed + iterations; layernorm: mean, seed + iterations),
// then N outputs through `stages` registers.
long long quant_cycles_per_vector(const QuantConfig& c) {
  const long long N = c.vector_length;
  switch (c.op) {
    case QuantOp::Gelu: return N;
    case QuantOp::Softmax: return N + N + 1 + N + c.stages;
    case QuantOp::RmsNorm: return N + 1 + c.iterations + N + c.stages;
    case QuantOp::LayerNorm: return N + 1 + N + 1 + c.iterations + N + c.stages;
  }
  return 0;
}

long long quant_latency(const QuantConfig& c) {
  if (c.op == QuantOp::Gelu) return c.stages;
  return quant_cycles_per_vector(c) - c.vector_length;
}

long long quant_model_cycles(const QuantConfig& c, long long vectors) {
  if (vectors <= 0) return 0;
  if (c.op == QuantOp::Gelu) return vectors * c.vector_length + c.stages;
  return vectors * quant_cycles_per_vector(c);
}

std::string gelu_impl_name(GeluImpl impl) {
  switch (impl) {
    case GeluImpl::Poly: return "poly";
    case GeluImpl::Table: return "table";
    case GeluImpl::Interp: return "interp";
  }
  return "";
}

std::string quant_family_name(QuantOp op) {
  switch (op) {
    case QuantOp::Gelu: return "gelu";
    case QuantOp::Softmax: return "softmax";
    case QuantOp::RmsNorm: return "rmsnorm";
    case QuantOp::LayerNorm: return "layernorm";
  }
  return "";
}

std::string quant_module_name(QuantOp op) { return quant_family_name(op) + "_int8"; }

QuantOp quant_op(const std::string& name) {
  for (QuantOp op : {QuantOp::Gelu, QuantOp::Softmax, QuantOp::RmsNorm, QuantOp::LayerNorm}) {
    const std::string f = quant_family_name(op);
    if (name == f || name == f + "_int8" || name == f + "-int8") return op;
  }
  throw ParamError("unknown quantized operator '" + name + "'; known: gelu, softmax, rmsnorm, layernorm (or gelu-int8, ...)");
}

}  // namespace chipgym::hdl
