// sha256-miner: the classic SHA-256 miner under an FPGA budget: 32 independent 80-byte
// messages (the size of a block header, two compressions each) on an iCE40 UltraPlus 5K.
#include "env/task.h"

namespace chipgym::env {

namespace {

Task sha256_miner() {
  Task sha;
  sha.name = "sha256-miner";
  sha.family = "sha256";
  sha.description = "SHA-256 hashing cores on an iCE40 UP5K: 32 independent 80-byte headers";
  sha.workload = {{"messages", 32}, {"min_length", 80}, {"max_length", 80}, {"seed", 1}};
  sha.objective =
      "hashes (compressed blocks) per second per iCE40 LUT, clock = 1 / (0.25 ns x logic depth + 1 ns) "
      "(0 if incorrect or over the LUT/FF budget)";
  sha.budget = {{"fpga", "iCE40 UP5K"}, {"max_luts", 5280}, {"max_ffs", 5280}};
  // 4 x 4 x 3 = 48 designs.
  sha.search = {{"unroll", {1, 2, 4, 8}}, {"pipeline", {1, 2, 4, 8}}, {"cores", {1, 2, 4}}};
  sha.agents = {{"core", {"unroll", "pipeline"}}, {"parallel", {"cores"}}};
  sha.fidelity = "synth";  // the cycle model equals the RTL exactly (tests); eval --fidelity rtl simulates
  sha.order = 50;
  return sha;
}

const Registration<Task> registered{sha256_miner()};

}  // namespace

}  // namespace chipgym::env
