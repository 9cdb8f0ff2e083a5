// The Verilator testbench of the sha256 family, compiled together with each generated design.
// The stimulus (C++, hdl/sha256_core.cpp) has already padded the messages and assigned them
// to lanes; the harness only feeds each core's lanes at its step boundaries and prints every
// digest with the cycle it appeared in.
#include "hdl/harness_text.h"
#include "hdl/sha256_core.h"

namespace chipgym::hdl {

std::string sha256_harness_source() {
  return R"HARNESS(// chipgym sha256 harness: stdin = padded blocks per lane, stdout = digests and cycles.
//
// Input:  "chipgym-sha256 1", then cores, pipeline, cycles per step and a cycle limit; then
//         for each lane (core c, slot s, in order c*pipeline + s) a block count and one line
//         per block: first-flag last-flag and 16 big-endian words in hex.
// Output: "digest <core> <cycle> <64 hex digits>" per digest, then "end cycles <n> status ok".
// Cycle n is the n-th clock edge after reset; a lane's j-th block is fed at the core's
// step boundary number s + j * pipeline.
#include <array>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "Vsha256_top.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {
struct Block {
  int first = 0, last = 0;
  std::array<uint32_t, 16> words{};
};
}  // namespace

)HARNESS" + harness_main_prelude("Vsha256_top") + R"HARNESS(
  std::string magic;
  int version = 0, cores = 0, pipeline = 0, step_cycles = 0;
  long long limit = 0;
  if (!(std::cin >> magic >> version >> cores >> pipeline >> step_cycles >> limit) || magic != "chipgym-sha256" ||
      cores < 1 || cores > 8 || pipeline < 1) {
    std::fprintf(stderr, "harness: malformed input header\n");
    return 2;
  }
  std::vector<std::vector<Block>> lanes(static_cast<std::size_t>(cores * pipeline));
  std::size_t expected = 0;
  for (auto& lane : lanes) {
    std::size_t n = 0;
    if (!(std::cin >> n)) {
      std::fprintf(stderr, "harness: malformed lane\n");
      return 2;
    }
    lane.resize(n);
    for (auto& b : lane) {
      std::cin >> b.first >> b.last;
      for (auto& w : b.words) std::cin >> std::hex >> w >> std::dec;
      expected += b.last ? 1 : 0;
    }
    if (!std::cin) {
      std::fprintf(stderr, "harness: blocks are truncated\n");
      return 2;
    }
  }

  std::vector<long long> boundary(static_cast<std::size_t>(cores), 0);  // step boundaries seen per core
  auto tick = [&]() {
    top->clk = 1;
    top->eval();
    dump();
    top->clk = 0;
    top->eval();
    dump();
  };

  top->clk = 0;
  top->rst = 1;
  top->in_valid = 0;
  top->eval();
  for (int i = 0; i < 3; ++i) tick();
  top->rst = 0;
  top->eval();

  long long cycle = 0;
  std::size_t digests = 0;
  bool timed_out = false;
  while (digests < expected) {
    if (cycle >= limit) {
      timed_out = true;
      break;
    }
    uint32_t ready = top->in_ready;
    uint32_t valid = 0, first = 0, last = 0;
    for (int c = 0; c < cores; ++c) {
      if (!((ready >> c) & 1)) continue;
      const long long b = boundary[c];
      const auto& lane = lanes[static_cast<std::size_t>(c * pipeline + b % pipeline)];
      const auto j = static_cast<std::size_t>(b / pipeline);
      if (j >= lane.size()) continue;
      valid |= 1u << c;
      first |= static_cast<uint32_t>(lane[j].first) << c;
      last |= static_cast<uint32_t>(lane[j].last) << c;
      for (int i = 0; i < 16; ++i) top->in_block[c * 16 + i] = lane[j].words[i];
    }
    top->in_valid = valid;
    top->in_first = first;
    top->in_last = last;
    top->eval();
    tick();
    ++cycle;
    for (int c = 0; c < cores; ++c) {
      if ((ready >> c) & 1) ++boundary[c];
      if (!((top->out_valid >> c) & 1)) continue;
      char hex[65];
      for (int i = 0; i < 8; ++i) std::snprintf(hex + 8 * i, 9, "%08x", static_cast<unsigned>(top->out_digest[c * 8 + i]));
      std::printf("digest %d %lld %s\n", c, cycle, hex);
      ++digests;
    }
  }
  std::printf("end cycles %lld status %s\n", cycle, timed_out ? "timeout(digests-missing-at-cycle-limit)" : "ok");
)HARNESS" + harness_main_end();
}

}  // namespace chipgym::hdl
