// The sha256 family: SHA-256 hashing cores (FIPS 180-4) as a resource-allocation problem,
// the classic "SHA-256 miner under an FPGA budget".
//
// A design is `cores` identical cores side by side. Each core is a pipeline of `pipeline`
// stages over the 64 rounds; a stage computes `unroll` rounds per cycle, so it holds a block
// for R = 64 / (pipeline * unroll) cycles (a "step"). All stages of a core advance together
// at the end of each step. A block that is not the first of its message takes its chaining
// value from the digest leaving the last stage at the same clock edge, so one core is
// `pipeline` interleaved lanes, each hashing one block every 64 / unroll cycles.
//
// Padding is done in C++ (sha256_pad, FIPS 180-4 section 5.1.1): the harness feeds padded
// 512-bit blocks, flagged first/last, and the core chains them.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "hdl/family.h"

namespace chipgym::hdl {

struct Sha256CoreConfig {
  int unroll = 1;    // rounds per cycle in each stage
  int pipeline = 1;  // stages over the 64 rounds
  int cores = 1;

  static Sha256CoreConfig from(const Params& p);
  int cycles_per_step() const { return 64 / (pipeline * unroll); }  // R
  int lanes() const { return cores * pipeline; }
};

using Sha256Block = std::array<std::uint32_t, 16>;  // big-endian words of one padded block

// FIPS 180-4 padding: the message, a 1 bit, zeros, and the 64-bit bit length.
std::vector<Sha256Block> sha256_pad(const std::string& message);
long long sha256_block_count(long long message_bytes);  // (bytes + 9 + 63) / 64
// The reference model: lower-case hex digest (FIPS 180-4 section 6.2).
std::string sha256_reference(const std::string& message);

// Workload JSON, every field optional (at least one message in all):
//   "texts":   ["abc", ...]      messages hashed verbatim (the FIPS 180-4 examples)
//   "lengths": [0, 55, 64, ...]  random messages of these byte lengths (0..4096)
//   "messages": N, "min_length": A, "max_length": B   N random messages, lengths uniform in A..B
//   "seed": S                    random bytes and lengths
std::vector<std::string> sha256_messages(const json& workload);

// Which lane hashes each message: messages in workload order go to the lane that is free
// first (ties: lower core, then lower slot). Lane (core c, slot s) takes blocks at step
// boundaries s, s + P, s + 2P, ...; a message's digest leaves at boundary `done_step`,
// which is clock edge done_step * R + 1 after reset (cycle 1 is a step boundary).
struct Sha256Placement {
  int core = 0, slot = 0;
  long long first_step = 0, done_step = 0;
  long long done_cycle = 0;
};
std::vector<Sha256Placement> sha256_schedule(const Sha256CoreConfig& cfg, const std::vector<long long>& blocks);
// Cycles from reset release until the last digest is out: max over messages of done_cycle.
long long sha256_model_cycles(const Sha256CoreConfig& cfg, const std::vector<long long>& blocks);

const Family& sha256_family();

// Verilator testbench source for the family (hdl/sha256_core_harness.cpp).
std::string sha256_harness_source();

}  // namespace chipgym::hdl
