#include "hdl/stream_harness.h"

#include <sstream>

#include "hdl/harness_text.h"

namespace chipgym::hdl {

namespace {

const std::string kStreamHarness = R"HARNESS(// chipgym stream harness (docs/stream.md): stdin = vectors, stdout = output vectors, cycles per pass.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "V${TOP}.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {
// hdl/splitmix.h, copied: this text is compiled in the sandbox, where the tree is not.
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
uint64_t mask_of(int bits) { return bits >= 64 ? ~0ULL : (1ULL << bits) - 1; }
}  // namespace

)HARNESS" + harness_main_prelude("V${TOP}") + R"HARNESS(  std::string magic;
  int version = 0, in_bits = 0, out_bits = 0;
  unsigned long long limit[2] = {0, 0}, pressure_seed = 0;
  std::size_t cases = 0;
  if (!(std::cin >> magic >> version >> in_bits >> out_bits >> limit[0] >> limit[1] >> pressure_seed >> cases) ||
      magic != "chipgym-stream" || version != 2 || in_bits < 1 || in_bits > 64 || out_bits < 1 || out_bits > 64) {
    std::fprintf(stderr, "harness: malformed input header\n");
    return 2;
  }
  const uint64_t in_mask = mask_of(in_bits), out_mask = mask_of(out_bits);
  std::vector<std::vector<uint64_t>> in(cases);
  std::size_t total = 0;
  for (auto& v : in) {
    std::size_t n = 0;
    if (!(std::cin >> n)) break;
    v.resize(n);
    for (auto& x : v) {
      std::string word;
      if (!(std::cin >> word)) break;
      try {  // a signed value, or an unsigned one of up to 64 bits
        x = (word[0] == '-' ? static_cast<uint64_t>(std::stoll(word)) : std::stoull(word)) & in_mask;
      } catch (...) {
        std::fprintf(stderr, "harness: malformed vectors\n");
        return 2;
      }
    }
    total += n;
  }
  if (!std::cin) {
    std::fprintf(stderr, "harness: malformed vectors\n");
    return 2;
  }

  auto tick = [&]() {
    top->clk = 1;
    top->eval();
    dump();
    top->clk = 0;
    top->eval();
    dump();
  };

  for (int pass = 0; pass < 2; ++pass) {
    uint64_t rng = pressure_seed + 0x51ED270B27EF3F5BULL * pass;
    top->clk = 0;
    top->rst = 1;
    top->in_valid = 0;
    top->in_data = 0;
    top->in_last = 0;
    top->out_ready = 0;
    top->eval();
    for (int i = 0; i < 3; ++i) tick();
    top->rst = 0;
    top->eval();

    std::size_t vec = 0, elem = 0;          // next input element to send
    bool offering = false;                  // in_valid is held until the transfer happens
    std::vector<std::vector<uint64_t>> out(1);
    std::vector<unsigned long long> first_in(cases, 0), first_out;
    std::size_t out_elements = 0, in_transfers = 0;
    bool prev_stalled = false;
    uint64_t prev_data = 0;
    int prev_last = 0;
    std::string status = "ok";
    unsigned long long cycle = 0, last_out_cycle = 0;
    for (; cycle < limit[pass]; ++cycle) {
      const bool have_input = vec < cases;
      if (!offering) offering = have_input && (pass == 0 || splitmix64(rng) % 4 != 0);
      const std::size_t at = pass == 0 ? vec : cases - 1 - vec;  // pass 1 sends the vectors in reverse
      top->in_valid = offering;
      top->in_data = offering ? in[at][elem] : 0;
      top->in_last = offering && elem + 1 == in[at].size();
      top->out_ready = pass == 0 ? 1 : (splitmix64(rng) % 3 != 0);
      top->eval();
      const bool in_fire = offering && top->in_ready;
      const bool out_valid = top->out_valid;
      const bool out_fire = out_valid && top->out_ready;
      const uint64_t data = static_cast<uint64_t>(top->out_data) & out_mask;
      const int last = top->out_last ? 1 : 0;
      if (prev_stalled && (!out_valid || data != prev_data || last != prev_last)) {
        status = "protocol out_valid dropped or out_data/out_last changed while out_ready was low (cycle " +
                 std::to_string(cycle) + ")";
        break;
      }
      prev_stalled = out_valid && !top->out_ready;
      prev_data = data;
      prev_last = last;
      if (in_fire) {
        if (elem == 0) first_in[vec] = cycle;
        ++in_transfers;
        offering = false;
        if (++elem == in[at].size()) {
          ++vec;
          elem = 0;
        }
      }
      if (out_fire) {
        if (out.back().empty()) first_out.push_back(cycle);
        out.back().push_back(data);
        ++out_elements;
        last_out_cycle = cycle;
        if (last) out.emplace_back();
      }
      tick();
      if (out.size() > cases) break;  // every output vector is complete
      if (out_elements > total) {
        status = "extra the design produced more output elements than it was given inputs";
        break;
      }
    }
    if (status == "ok" && out.size() <= cases) status = "cycle_limit";
    if (out.back().empty()) out.pop_back();  // the vector opened after the last out_last
    std::printf("pass %d\n", pass);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const long long latency = i < first_out.size() && i < cases ? static_cast<long long>(first_out[i] - first_in[i]) : -1;
      std::printf("vec %zu %lld %zu", i, latency, out[i].size());
      for (auto x : out[i]) std::printf(" %llu", static_cast<unsigned long long>(x));
      std::printf("\n");
    }
    std::printf("inputs %zu\n", in_transfers);
    std::printf("cycles %llu\n", status == "ok" ? last_out_cycle + 1 : cycle);
    std::printf("status %s\n", status.c_str());
    if (status != "ok") break;
  }
)HARNESS" + harness_main_end();

long long sign_extend(unsigned long long v, int bits, bool is_signed) {
  v &= bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
  if (!is_signed || bits >= 64) return static_cast<long long>(v);
  const unsigned long long m = 1ULL << (bits - 1);
  return static_cast<long long>((v ^ m) - m);
}

}  // namespace

std::string stream_harness_source(const std::string& top) {
  std::string text = kStreamHarness;
  for (std::size_t at; (at = text.find("${TOP}")) != std::string::npos;) text.replace(at, 6, top);
  return text;
}

std::string StreamStimulus::text() const {
  std::ostringstream out;
  out << "chipgym-stream 2 " << in_bits << ' ' << out_bits << ' ' << cycle_limit[0] << ' ' << cycle_limit[1] << ' '
      << pressure_seed << ' ' << vectors.size() << '\n';
  for (const auto& v : vectors) {
    out << v.size();
    for (auto x : v) out << ' ' << x;
    out << '\n';
  }
  return out.str();
}

std::vector<StreamPass> parse_stream_output(const std::string& text, int out_bits, bool is_signed) {
  std::vector<StreamPass> passes;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string word;
    ls >> word;
    if (word == "pass") {
      passes.emplace_back();
    } else if (passes.empty()) {
      continue;
    } else if (word == "vec") {
      std::size_t index = 0, n = 0;
      long long latency = 0;
      ls >> index >> latency >> n;
      std::vector<long long> v(n);
      for (auto& x : v) {
        unsigned long long raw = 0;
        ls >> raw;
        x = sign_extend(raw, out_bits, is_signed);
      }
      passes.back().out.push_back(v);
      passes.back().latency.push_back(latency);
    } else if (word == "inputs") {
      ls >> passes.back().inputs;
    } else if (word == "cycles") {
      ls >> passes.back().cycles;
    } else if (word == "status") {
      std::getline(ls >> std::ws, passes.back().status);
    }
  }
  return passes;
}

}  // namespace chipgym::hdl
