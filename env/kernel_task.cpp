#include "env/kernel_task.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "hdl/param_space.h"
#include "hdl/splitmix.h"

namespace chipgym::env {

namespace {

using hdl::ParamError;

const char* const kStandardPorts[] = {"clk",       "rst",      "in_valid", "in_ready", "in_data",
                                      "in_last",   "out_valid", "out_ready", "out_data", "out_last"};

}  // namespace

json StreamInterface::to_json() const {
  json p = json::object();
  for (const auto& [name, width] : ports) p[name] = width;
  return {{"module", module}, {"protocol", "stream"}, {"ports", p}, {"signed", is_signed},
          {"vector_length", vector_length}};
}

StreamInterface StreamInterface::standard(const std::string& module, int in_bits, int out_bits, bool is_signed,
                                          int vector_length) {
  StreamInterface s;
  s.module = module;
  s.is_signed = is_signed;
  s.vector_length = vector_length;
  s.ports = {{"clk", 1},       {"rst", 1},       {"in_valid", 1},        {"in_ready", -1}, {"in_data", in_bits},
             {"in_last", 1},   {"out_valid", -1}, {"out_ready", 1},      {"out_data", -out_bits},
             {"out_last", -1}};
  return s;
}

StreamInterface StreamInterface::from_json(const json& j) {
  if (!j.is_object()) throw ParamError("the interface must be a JSON object");
  StreamInterface s;
  try {
    s.module = j.at("module").get<std::string>();
    if (j.contains("protocol") && j["protocol"] != "stream")
      throw ParamError("interface protocol " + j["protocol"].dump() + " is not supported; expected \"stream\"");
    for (auto it = j.at("ports").begin(); it != j.at("ports").end(); ++it) s.ports[it.key()] = it.value().get<int>();
    s.is_signed = j.value("signed", true);
    s.vector_length = j.value("vector_length", 16);
  } catch (const json::exception& e) {
    throw ParamError(std::string("malformed interface JSON: ") + e.what());
  }
  if (s.module.empty() || !std::isalpha(static_cast<unsigned char>(s.module[0])) ||
      s.module.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
    throw ParamError("interface module name '" + s.module + "' is not a plain Verilog identifier");
  const auto standard_ports = standard(s.module, 8, 8, true, 1).ports;
  for (const char* name : kStandardPorts)
    if (!s.ports.count(name)) throw ParamError(std::string("interface has no port '") + name + "' (docs/stream.md)");
  for (const auto& [name, width] : s.ports) {
    auto it = standard_ports.find(name);
    if (it == standard_ports.end()) throw ParamError("interface port '" + name + "' is not a stream port (docs/stream.md)");
    if ((width > 0) != (it->second > 0))
      throw ParamError("interface port '" + name + "' has the wrong direction (width " + std::to_string(width) + ")");
    if (name != "in_data" && name != "out_data" && std::abs(width) != 1)
      throw ParamError("interface port '" + name + "' must be 1 bit wide");
    if (std::abs(width) < 1 || std::abs(width) > 32)
      throw ParamError("interface port '" + name + "' is " + std::to_string(std::abs(width)) + " bits; 1..32 are supported");
  }
  if (s.vector_length < 1 || s.vector_length > 4096)
    throw ParamError("interface vector_length " + std::to_string(s.vector_length) + " is out of range 1..4096");
  return s;
}

long long StreamInterface::min_in() const { return is_signed ? -(1LL << (in_bits() - 1)) : 0; }
long long StreamInterface::max_in() const {
  return is_signed ? (1LL << (in_bits() - 1)) - 1 : (1LL << in_bits()) - 1;
}

json KernelTask::to_json() const {
  return {{"name", name}, {"description", description}, {"interface", iface.to_json()}};
}

std::vector<Vector> KernelTask::edge_cases() const {
  const int n = iface.vector_length;
  const long long lo = iface.min_in(), hi = iface.max_in();
  std::vector<Vector> cases = {Vector(n, 0), Vector(n, lo), Vector(n, hi)};
  Vector alternating(n), ramp(n), one_hot(n, 0), small(n);
  for (int i = 0; i < n; ++i) {
    alternating[i] = i % 2 ? hi : lo;
    ramp[i] = n == 1 ? lo : lo + (hi - lo) * i / (n - 1);
    small[i] = std::clamp<long long>((i % 5) - 2, lo, hi);  // -2..2 around zero
  }
  one_hot[n / 2] = hi;
  cases.push_back(alternating);
  cases.push_back(ramp);
  cases.push_back(one_hot);
  cases.push_back(small);
  if (iface.is_signed) cases.push_back(Vector(n, -1));
  for (const auto& c : extra_edge_cases) cases.push_back(c);
  return cases;
}

std::vector<DirectedVector> KernelTask::coverage_vectors() const {
  std::vector<DirectedVector> out;
  if (elementwise) out = sweep_vectors(iface.min_in(), iface.max_in(), iface.vector_length);
  out.insert(out.end(), directed.begin(), directed.end());
  return out;
}

std::vector<Vector> KernelTask::random_vectors(std::uint64_t seed, int count) const {
  std::uint64_t state = seed;
  const long long lo = iface.min_in(), span = iface.max_in() - lo + 1;
  std::vector<Vector> out(count, Vector(iface.vector_length));
  for (auto& v : out)
    for (auto& x : v) x = lo + static_cast<long long>(hdl::splitmix64(state) % static_cast<std::uint64_t>(span));
  return out;
}

Vector KernelTask::expected(const Vector& in) const {
  std::vector<int> x(in.begin(), in.end());
  std::vector<int> y = golden(x);
  if (y.size() != x.size())
    throw std::logic_error("golden model of " + name + " returned " + std::to_string(y.size()) + " elements for " +
                           std::to_string(x.size()));
  const int ow = iface.out_bits();
  const long long lo = iface.is_signed ? -(1LL << (ow - 1)) : 0;
  const long long hi = iface.is_signed ? (1LL << (ow - 1)) - 1 : (1LL << ow) - 1;
  for (int v : y)
    if (v < lo || v > hi)
      throw std::logic_error("golden model of " + name + " returned " + std::to_string(v) + ", outside out_data's " +
                             std::to_string(lo) + ".." + std::to_string(hi));
  return Vector(y.begin(), y.end());
}

KernelTask stream_task(std::string name, std::string description, std::string module, GoldenModel golden,
                       std::string canonical_verilog, int in_bits, int out_bits, bool is_signed, int vector_length) {
  KernelTask t;
  t.name = std::move(name);
  t.description = std::move(description);
  t.iface = StreamInterface::standard(module, in_bits, out_bits, is_signed, vector_length);
  t.golden = std::move(golden);
  t.canonical_verilog = std::move(canonical_verilog);
  return t;
}

}  // namespace chipgym::env
