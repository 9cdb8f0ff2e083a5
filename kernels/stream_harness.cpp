// The Verilator testbench of `chipgym score`, compiled with each candidate (--prefix Vkernel).
// It streams every input vector through the handshake of docs/stream.md twice: pass 0 with in_valid
// held high whenever data is left and out_ready always high (latency and peak throughput),
// pass 1 with seeded random gaps on in_valid and back-pressure on out_ready (robustness and
// throughput under pressure), with the vectors in reverse order, so that a design carrying
// state from one vector to the next gives different results. It prints each output vector
// (in the order it was sent) and checks the output side of the
// protocol: once out_valid is high it must stay high, with the same data, until out_ready.
#include "kernels/score.h"

namespace chipgym::kernels {

const char* stream_harness_source() {
  return R"HARNESS(// chipgym stream harness: stdin = vectors, stdout = output vectors and cycles per pass.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "Vkernel.h"
#include "verilated.h"

namespace {
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

int main(int argc, char** argv) {
  auto ctx = std::make_unique<VerilatedContext>();
  ctx->commandArgs(argc, argv);
  auto top = std::make_unique<Vkernel>(ctx.get());

  std::string magic;
  int version = 0, in_bits = 0, out_bits = 0;
  unsigned long long max_cycles = 0, pressure_seed = 0;
  std::size_t cases = 0;
  if (!(std::cin >> magic >> version >> in_bits >> out_bits >> max_cycles >> pressure_seed >> cases) ||
      magic != "chipgym-stream" || version != 1) {
    std::fprintf(stderr, "harness: malformed input header\n");
    return 2;
  }
  std::vector<std::vector<uint64_t>> in(cases);
  std::size_t total = 0;
  for (auto& v : in) {
    std::size_t n = 0;
    std::cin >> n;
    v.resize(n);
    for (auto& x : v) {
      long long s = 0;
      std::cin >> s;
      x = static_cast<uint64_t>(s) & ((1ULL << in_bits) - 1);
    }
    total += n;
  }
  if (!std::cin) {
    std::fprintf(stderr, "harness: malformed vectors\n");
    return 2;
  }
  const uint64_t out_mask = out_bits >= 64 ? ~0ULL : (1ULL << out_bits) - 1;

  auto tick = [&]() {
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
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
    for (; cycle < max_cycles; ++cycle) {
      const bool have_input = vec < cases;
      if (!offering) offering = have_input && (pass == 0 || splitmix64(rng) % 4 != 0);
      top->in_valid = offering;
      const std::size_t at = pass == 0 ? vec : cases - 1 - vec;  // pass 1 sends the vectors in reverse
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
        if (++elem == in[pass == 0 ? vec : cases - 1 - vec].size()) {
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
  top->final();
  return 0;
}
)HARNESS";
}

}  // namespace chipgym::kernels
