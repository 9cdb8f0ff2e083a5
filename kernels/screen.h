// Screening of untrusted Verilog before any tool reads it. A candidate kernel (from a user or
// a language model) must not reach the host: Verilator and Yosys execute system tasks and
// directives that read and write files ($fopen, $readmemh, `include), run processes
// ($system) or link C code (DPI, Verilator's $c). The rule is a whitelist: the only system
// functions allowed are the constant/elaboration ones a kernel needs ($signed, $unsigned,
// $clog2, $bits); $display and $finish are refused too, since a streaming kernel has no use
// for them. Matching runs on the text with comments and string contents removed, so a
// "$system" inside a comment is harmless, and one inside a string is not a call either.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace chipgym::kernels {

constexpr std::size_t kMaxVerilogBytes = 256 * 1024;

struct ScreenResult {
  bool ok = true;
  int line = 0;          // 1-based line of the first problem (0: the file as a whole)
  std::string message;   // "line 12: $system is not allowed: ..." when !ok
  std::string code;      // the text with comments and string contents blanked (same lines)
};

// Refuses: empty or whitespace-only text, more than max_bytes, binary data (NUL and other
// control bytes), non-ASCII characters outside comments, unterminated comments or strings,
// system tasks/functions outside the whitelist, DPI import/export, `include and every
// directive but `timescale, `default_nettype, `define/`undef/`ifdef/`ifndef/`elsif/`else/
// `endif (a macro may be used only if the file defines it), and `` token pasting.
ScreenResult screen_verilog(const std::string& text, std::size_t max_bytes = kMaxVerilogBytes);

// The system functions a candidate may call.
const std::vector<std::string>& allowed_system_functions();

// Comments removed and string contents blanked (quotes kept), newlines preserved, so the
// result has the same line numbers. Unterminated comments or strings are left as they are.
std::string strip_comments_and_strings(const std::string& text);

}  // namespace chipgym::kernels
