// The Verilator testbench of the gemm and codesign families, compiled together with each
// generated design. It plays the accelerator's memories (one-cycle read latency; for
// codesign, a C memory that can add on write), runs each problem from a start pulse to
// `done`, and prints the cycle count and every element of C.
#include "hdl/harness_text.h"
#include "hdl/gemm.h"

namespace chipgym::hdl {

namespace {

const std::string kHarness = R"HARNESS(// chipgym gemm harness: stdin = problems, stdout = cycles and C per problem.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include CHIPGYM_TOP_HEADER
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {

// Ports are CData/SData/IData/QData or VlWide<N> depending on width; these helpers pack
// and unpack element `index` of `width` bits for any of them.
template <class T>
typename std::enable_if<std::is_integral<T>::value>::type put(T& port, int index, int width, uint64_t v) {
  const int lsb = index * width;
  const uint64_t mask = width >= 64 ? ~0ULL : ((1ULL << width) - 1);
  uint64_t p = static_cast<uint64_t>(port);
  p = (p & ~(mask << lsb)) | ((v & mask) << lsb);
  port = static_cast<T>(p);
}
template <std::size_t N>
void put(VlWide<N>& port, int index, int width, uint64_t v) {
  for (int i = 0; i < width; ++i) {
    const int bit = index * width + i;
    const uint32_t m = 1u << (bit % 32);
    if ((v >> i) & 1) port[bit / 32] |= m;
    else port[bit / 32] &= ~m;
  }
}
template <class T>
typename std::enable_if<std::is_integral<T>::value, uint64_t>::type get(const T& port, int index, int width) {
  const uint64_t mask = width >= 64 ? ~0ULL : ((1ULL << width) - 1);
  return (static_cast<uint64_t>(port) >> (index * width)) & mask;
}
template <std::size_t N>
uint64_t get(const VlWide<N>& port, int index, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    const int bit = index * width + i;
    v |= static_cast<uint64_t>((port[bit / 32] >> (bit % 32)) & 1u) << i;
  }
  return v;
}
int64_t sign_extend(uint64_t v, int bits) {
  if (bits >= 64) return static_cast<int64_t>(v);
  const uint64_t m = 1ULL << (bits - 1);
  v &= (1ULL << bits) - 1;
  return static_cast<int64_t>((v ^ m) - m);
}
// What a memory holds past the end of a matrix, and what a port carries when nothing was
// read: non-zero garbage, so a design that forgets to mask is caught.
uint64_t junk(uint64_t addr) { return (addr * 0x9E3779B97F4A7C15ULL) >> 17 | 1; }

}  // namespace

)HARNESS" + harness_main_prelude("CHIPGYM_TOP") + R"HARNESS(
  std::string magic;
  int version = 0, rows = 0, cols = 0, in_bits = 0, acc_bits = 0;
  std::size_t problems = 0;
  if (!(std::cin >> magic >> version >> rows >> cols >> in_bits >> acc_bits >> problems) || magic != "chipgym-gemm") {
    std::fprintf(stderr, "harness: malformed input header\n");
    return 2;
  }

  std::vector<int64_t> a, b, c;
  std::vector<char> written;
  uint64_t m = 0, k = 0, n = 0;

  // One clock cycle: the design samples its inputs at the rising edge; the memories answer
  // the requests it made during the cycle, visible to it in the next cycle.
  auto tick = [&]() {
    const bool a_en = top->a_rd_en, b_en = top->b_rd_en, c_en = top->c_wr_en;
#if CHIPGYM_ACCUMULATING_C
    const bool c_acc = top->c_wr_acc;
#else
    const bool c_acc = false;
#endif
    const uint64_t a_addr = top->a_rd_addr, a_stride = top->a_rd_stride, b_addr = top->b_rd_addr;
    const uint64_t c_addr = top->c_wr_addr;
    if (c_en) {
      for (int i = 0; i < cols; ++i) {
        if (!get(top->c_wr_mask, i, 1)) continue;
        const uint64_t at = c_addr + i;
        if (at < m * n) {
          const uint64_t v = get(top->c_wr_data, i, acc_bits);
          c[at] = sign_extend(c_acc ? static_cast<uint64_t>(c[at]) + v : v, acc_bits);
          written[at] = 1;
        }
      }
    }
    top->clk = 1;
    top->eval();
    dump();
    for (int i = 0; i < rows; ++i) {
      const uint64_t at = a_addr + i * a_stride;
      put(top->a_rd_data, i, in_bits, a_en ? (at < m * k ? static_cast<uint64_t>(a[at]) : junk(at)) : junk(i));
    }
    for (int i = 0; i < cols; ++i) {
      const uint64_t at = b_addr + i;
      put(top->b_rd_data, i, in_bits, b_en ? (at < k * n ? static_cast<uint64_t>(b[at]) : junk(at)) : junk(i + 7));
    }
    top->clk = 0;
    top->eval();
    dump();
  };

  top->clk = 0;
  top->rst = 1;
  top->start = 0;
  top->eval();
  for (int i = 0; i < 3; ++i) tick();
  top->rst = 0;
  tick();

  for (std::size_t p = 0; p < problems; ++p) {
    long long limit = 0;
    if (!(std::cin >> m >> k >> n >> limit)) {
      std::fprintf(stderr, "harness: malformed problem %zu\n", p);
      return 2;
    }
    a.assign(m * k, 0);
    b.assign(k * n, 0);
    for (auto& v : a) std::cin >> v;
    for (auto& v : b) std::cin >> v;
    if (!std::cin) {
      std::fprintf(stderr, "harness: matrices of problem %zu are truncated\n", p);
      return 2;
    }
    c.assign(m * n, 0);
    written.assign(m * n, 0);

    top->cfg_m = static_cast<uint16_t>(m);
    top->cfg_k = static_cast<uint16_t>(k);
    top->cfg_n = static_cast<uint16_t>(n);
    top->start = 1;
    tick();
    top->start = 0;
    long long cycles = 0;
    bool timed_out = false;
    while (!top->done) {
      tick();
      if (++cycles > limit) {
        timed_out = true;
        break;
      }
    }
    std::printf("problem %zu cycles %lld status %s\n", p, cycles,
                timed_out ? "timeout(no-done-within-cycle-limit)" : "ok");
    if (timed_out) break;
    std::string line;
    for (std::size_t i = 0; i < c.size(); ++i) {
      line += written[i] ? std::to_string(c[i]) : std::string("x");
      line += (i + 1) % n == 0 ? '\n' : ' ';
    }
    std::fputs(line.c_str(), stdout);
  }
)HARNESS" + harness_main_end();

}  // namespace

std::string gemm_harness_source(const std::string& top, bool accumulating_c) {
  // The top's model class, and whether the C memory adds on writes with c_wr_acc set (the
  // codesign family's partial sums meet in memory), go in as macros before the shared text.
  return "#define CHIPGYM_TOP V" + top + "\n#define CHIPGYM_TOP_HEADER \"V" + top + ".h\"\n#define CHIPGYM_ACCUMULATING_C " +
         (accumulating_c ? "1" : "0") + "\n" + kHarness;
}

}  // namespace chipgym::hdl
