#include "env/coverage.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>

#include "hdl/splitmix.h"

namespace chipgym::env {

namespace {

using hdl::QuantConfig;
using hdl::QuantLookup;
using hdl::QuantOp;
using hdl::QuantTables;

std::string str(long long v) { return std::to_string(v); }

// The totals that `slots` items can reach, one item per slot from `values` (all >= 0, 0 among
// them when a slot may contribute nothing): reach_[k] is a bitset over 0..limit of the totals
// of k items. The reductions' totals are below 2^20, so this is a few megabits at most.
class Reachable {
 public:
  Reachable(std::vector<long long> values, int slots, long long limit) : values_(std::move(values)), limit_(limit) {
    std::sort(values_.rbegin(), values_.rend());
    values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
    const std::size_t words = static_cast<std::size_t>(limit / 64 + 1);
    reach_.assign(static_cast<std::size_t>(slots) + 1, std::vector<std::uint64_t>(words, 0));
    reach_[0][0] = 1;
    for (int k = 1; k <= slots; ++k)
      for (long long v : values_) or_shifted(reach_[k], reach_[k - 1], v);
  }
  bool can(int k, long long total) const {
    if (total < 0 || total > limit_) return false;
    return (reach_[static_cast<std::size_t>(k)][static_cast<std::size_t>(total / 64)] >> (total % 64)) & 1;
  }
  int slots() const { return static_cast<int>(reach_.size()) - 1; }
  // The largest reachable total <= t and the smallest >= t with every slot used; -1: none.
  long long at_or_below(long long t) const {
    for (t = std::min(t, limit_); t >= 0; --t)
      if (can(slots(), t)) return t;
    return -1;
  }
  long long at_or_above(long long t) const {
    for (t = std::max(t, 0LL); t <= limit_; ++t)
      if (can(slots(), t)) return t;
    return -1;
  }
  // One item per slot adding up to a reachable `total`, largest items first.
  std::vector<long long> items(long long total) const {
    std::vector<long long> out;
    for (int k = slots(); k >= 1; --k) {
      auto it = std::find_if(values_.begin(), values_.end(), [&](long long v) { return v <= total && can(k - 1, total - v); });
      if (it == values_.end()) throw std::logic_error("coverage: total " + str(total) + " is not reachable");
      out.push_back(*it);
      total -= *it;
    }
    return out;
  }

 private:
  std::vector<long long> values_;
  long long limit_;
  std::vector<std::vector<std::uint64_t>> reach_;

  static void or_shifted(std::vector<std::uint64_t>& dst, const std::vector<std::uint64_t>& src, long long by) {
    const std::size_t w = static_cast<std::size_t>(by / 64), b = static_cast<std::size_t>(by % 64);
    for (std::size_t i = dst.size(); i-- > w;) {
      std::uint64_t v = src[i - w] << b;
      if (b && i - w >= 1) v |= src[i - w - 1] >> (64 - b);
      dst[i] |= v;
    }
  }
};

// Where a look-up of the model changes between total-1 and total, for totals first+1..last.
template <class Lookup>
std::vector<long long> steps(long long first, long long last, Lookup lookup) {
  std::vector<long long> out;
  QuantLookup prev = lookup(first);
  for (long long total = first + 1; total <= last; ++total) {
    const QuantLookup now = lookup(total);
    if (now.shift != prev.shift || now.index != prev.index) out.push_back(total);
    prev = now;
  }
  return out;
}

// For each step, the reachable totals just below it and at (or just above) it: both sides of
// every change of shift or table index, so each table entry is used at both ends of its range.
std::vector<std::pair<long long, long long>> step_targets(const Reachable& r, long long offset,
                                                          const std::vector<long long>& step_totals) {
  std::map<long long, long long> target_step;  // reachable total (with offset) -> the step it tests
  for (long long s : step_totals)
    for (long long t : {r.at_or_below(s - 1 - offset), r.at_or_above(s - offset)})
      if (t >= 0) target_step.emplace(t + offset, s);
  return {target_step.begin(), target_step.end()};
}

// Why a vector at `total` is there, for a step of the look-up at `step` ("k 16, reciprocal
// index 0" in the words of `shift` and `index`).
template <class Lookup>
std::string step_note(const std::string& what, long long total, long long step, Lookup lookup, const std::string& shift,
                      const std::string& index) {
  auto words = [&](QuantLookup l) { return shift + " " + str(l.shift) + ", " + index + " " + str(l.index); };
  if (total < step) return what + " " + str(total) + " (" + words(lookup(total)) + "), just below the step at " + str(step);
  if (total == step)
    return what + " " + str(total) + ", exactly where the look-up steps to " + words(lookup(total)) + " (from " +
           words(lookup(total - 1)) + ")";
  return what + " " + str(total) + " (" + words(lookup(total)) + "), the nearest reachable above the step at " + str(step);
}

// Deterministic values lo..hi for the fixed vectors (splitmix64 from a constant).
std::vector<int> fixed_random(int n, int lo, int hi, std::uint64_t seed) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t z = hdl::splitmix64(seed);
    out.push_back(lo + static_cast<int>(z % static_cast<std::uint64_t>(hi - lo + 1)));
  }
  return out;
}

Vector to_vector(const std::vector<int>& x) { return Vector(x.begin(), x.end()); }

std::vector<DirectedVector> softmax_vectors(const QuantConfig& c) {
  const QuantTables t = hdl::quant_tables(c);
  const int N = c.vector_length;
  const int top = 127;  // the largest logit; the others are top - difference, differences 0..255
  const long long e0 = t.exp_lut[0];  // the largest logit's own exponential
  std::vector<DirectedVector> out;
  auto add = [&](const std::vector<int>& x, const std::string& why) { out.push_back({to_vector(x), why}); };
  auto with_max_at = [&](int position, const std::vector<int>& others) {
    std::vector<int> x;
    for (int i = 0, k = 0; i < N; ++i) x.push_back(i == position % N ? top : others[static_cast<std::size_t>(k++)]);
    return x;
  };

  // Every exp table index, and past the table's end: differences max - x = 0..255, N-1 a vector.
  if (N >= 2)
    for (int d0 = 0, v = 0; d0 <= 255; d0 += N - 1, ++v) {
      std::vector<int> others;
      for (int k = 0; k < N - 1; ++k) others.push_back(top - std::min(255, d0 + k));
      add(with_max_at(v, others), "exp table: differences max - x = " + str(d0) + ".." + str(std::min(255, d0 + N - 2)) +
                                      " (every table index and past its end)");
    }
  // The end of the table exactly: the last entry, and the first difference that gives 0.
  const int table_end = c.lut_entries << c.exp_shift;
  if (table_end <= 255) {
    add(with_max_at(0, std::vector<int>(static_cast<std::size_t>(N), top - (table_end - 1))),
        "every other logit at the last exp table entry (difference " + str(table_end - 1) + ")");
    add(with_max_at(0, std::vector<int>(static_cast<std::size_t>(N), top - table_end)),
        "every other logit just past the exp table (difference " + str(table_end) + ": exponential 0)");
  }

  // Sums of exponentials on both sides of every step of the reciprocal: where its table index
  // j or the shift k = floor(log2 sum) changes. The largest logit gives e0, each other one an
  // exponential of the table (or 0).
  if (N >= 2) {
    std::map<long long, int> difference_of;  // exponential -> the smallest difference giving it
    for (int d = 255; d >= 0; --d) difference_of[hdl::quant_softmax_exp(c, t, d)] = d;
    std::vector<long long> values;
    for (const auto& [e, d] : difference_of) values.push_back(e);
    const Reachable r(values, N - 1, (N - 1) * e0);
    auto lookup = [&](long long sum) { return hdl::quant_softmax_lookup(c, t, sum); };
    int placed = 0;
    for (const auto& [sum, step] : step_targets(r, e0, steps(e0, N * e0, lookup))) {
      std::vector<int> others;
      for (long long e : r.items(sum - e0)) others.push_back(top - difference_of.at(e));
      const std::vector<int> x = with_max_at(placed++, others);
      if (hdl::quant_softmax_sum(c, t, x) != sum) throw std::logic_error("coverage: softmax sum vector misses its sum");
      add(x, step_note("sum of exponentials", sum, step, lookup, "k", "reciprocal index"));
    }
  }

  // Every logit far below zero: a max register that starts at 0 (or at -100), or an unsigned
  // compare, is wrong only here; and the mirror image far above zero.
  for (std::uint64_t s = 1; s <= 3; ++s) add(fixed_random(N, -128, -100, 0x5EED0000 + s), "every logit in -128..-100");
  add(std::vector<int>(static_cast<std::size_t>(N), -100), "every logit -100");
  for (std::uint64_t s = 1; s <= 2; ++s) add(fixed_random(N, 100, 127, 0x5EED1000 + s), "every logit in 100..127");
  // One-hot: the smallest sum (e0 alone; the output saturates at 127), the maximum first and last.
  for (int position : {0, N - 1}) {
    std::vector<int> x(static_cast<std::size_t>(N), -128);
    x[static_cast<std::size_t>(position)] = top;
    add(x, "one-hot: 127 at position " + str(position) + ", -128 elsewhere (the smallest sum)");
  }
  if (N >= 2) {
    std::vector<int> x(static_cast<std::size_t>(N), -128);
    x[0] = x[static_cast<std::size_t>(N - 1)] = -1;
    add(x, "two equal maxima (-1) at the first and last position, -128 elsewhere");
  }
  // All equal: the largest sum, N * e0, whatever the value.
  for (int v : {-100, -37, 1, 64, 100})
    add(std::vector<int>(static_cast<std::size_t>(N), v), "all equal to " + str(v) + " (the largest sum)");
  return out;
}

std::vector<DirectedVector> norm_vectors(const QuantConfig& c) {
  const QuantTables t = hdl::quant_tables(c);
  const bool ln = c.op == QuantOp::LayerNorm;
  const int N = c.vector_length;
  std::vector<DirectedVector> out;
  auto add = [&](const std::vector<int>& x, const std::string& why) { out.push_back({to_vector(x), why}); };
  auto square = [&](long long v) { return (v * v) >> c.pre_shift; };

  // Accumulators on both sides of every step of the 1/sqrt: where its shift k or its seed
  // table index changes. rmsnorm: each element adds its pre-shifted square. layernorm: elements
  // in pairs (a, -a) or (a, 1 - a), so that the sum is 0..N/2 and the mean 0 (checked below).
  std::map<long long, std::vector<int>> group_of;  // contribution -> the elements giving it
  const int group_size = ln ? 2 : 1, groups = N / group_size;
  if (ln) {
    for (int a = 127; a >= 0; --a) group_of[2 * square(a)] = {a, -a};
    for (int a = 127; a >= 1; --a)
      if (!group_of.count(square(a) + square(a - 1))) group_of[square(a) + square(a - 1)] = {a, 1 - a};
  } else {
    for (int a = -128; a <= 127; ++a)
      if (!group_of.count(square(a))) group_of[square(a)] = {a};
  }
  std::vector<long long> values;
  for (const auto& [v, g] : group_of) values.push_back(v);
  long long limit = 0;
  for (long long v : values) limit = std::max(limit, v);
  limit *= groups;
  if (groups >= 1) {
    const Reachable r(values, groups, limit);
    auto lookup = [&](long long acc) { return hdl::quant_rsqrt_lookup(c, t, acc); };
    for (const auto& [acc, step] : step_targets(r, 0, steps(0, std::min<long long>(limit, t.acc_max), lookup))) {
      std::vector<int> x;
      for (long long v : r.items(acc))
        for (int e : group_of.at(v)) x.push_back(e);
      while (static_cast<int>(x.size()) < N) x.push_back(0);  // odd N: a zero adds nothing
      // Alternate the signs of the rmsnorm elements: the square is the same, the output differs.
      if (!ln)
        for (std::size_t i = 1; i < x.size(); i += 2)
          if (x[i] != -128) x[i] = -x[i];
      if (hdl::quant_norm_acc(c, t, x) != acc || hdl::quant_norm_mean(c, t, x) != 0) {
        if (ln) continue;  // a mean multiplier that is not exactly 1/N may move the mean: skip
        throw std::logic_error("coverage: rmsnorm accumulator vector misses its accumulator");
      }
      add(x, step_note("sum of pre-shifted squares", acc, step, lookup, "1/sqrt shift k", "seed index"));
    }
  }

  // All equal: no spread (layernorm: the variance is 0 and the mean of squares is clamped to 1
  // before the 1/sqrt; rmsnorm: every element the same normalized value).
  for (int v : {-100, -37, 1, 64, 100})
    add(std::vector<int>(static_cast<std::size_t>(N), v), "all equal to " + str(v));
  // Almost no spread: one element 1 (its square vanishes in the pre-shift).
  {
    std::vector<int> x(static_cast<std::size_t>(N), 0);
    x[0] = 1;
    add(x, "one element 1, the others 0 (the square vanishes in the pre-shift)");
  }
  // One-hot extremes: the output saturates.
  {
    std::vector<int> x(static_cast<std::size_t>(N), 0);
    x[static_cast<std::size_t>(N - 1)] = -128;
    add(x, "one-hot: -128 at the last position, 0 elsewhere (saturates)");
    std::vector<int> y(static_cast<std::size_t>(N), -128);
    y[0] = 127;
    add(y, "one-hot: 127 first, -128 elsewhere");
  }
  if (ln) {
    // The mean is (sum * M) >> s: it rounds toward minus infinity, so sums just below, at and
    // above a multiple of N (and around 0) tell truncation and rounding apart.
    for (int s : {-N - 1, -N, -N + 1, -1, 1, N - 1, N, N + 1}) {
      std::vector<int> x;
      for (int i = 0; i < N; ++i) x.push_back(i % 2 ? -40 : 40);
      x[static_cast<std::size_t>(N - 1)] += s;
      add(x, "layernorm mean rounding: sum " + str(s) + ", mean " + str(hdl::quant_norm_mean(c, t, x)));
    }
    // A large mean with a small spread: the centring must happen before the square.
    std::vector<int> x;
    for (int i = 0; i < N; ++i) x.push_back(100 + i % 3 - 1);
    add(x, "layernorm: mean near 100, spread 1");
  }
  return out;
}

}  // namespace

std::vector<DirectedVector> sweep_vectors(long long lo, long long hi, int length) {
  const long long values = hi - lo + 1;
  std::vector<DirectedVector> out;
  if (values < 1 || values > kMaxSweepValues) return out;
  for (long long k = 0; k < values; ++k) {
    Vector v(static_cast<std::size_t>(length));
    for (int i = 0; i < length; ++i) v[static_cast<std::size_t>(i)] = lo + (k + i) % values;
    out.push_back({v, "sweep: every input value at every position (" + str(lo + k % values) + " first)"});
  }
  return out;
}

std::vector<DirectedVector> quant_directed_vectors(const QuantConfig& c) {
  switch (c.op) {
    case QuantOp::Gelu: return {};
    case QuantOp::Softmax: return softmax_vectors(c);
    case QuantOp::RmsNorm:
    case QuantOp::LayerNorm: return norm_vectors(c);
  }
  return {};
}

}  // namespace chipgym::env
