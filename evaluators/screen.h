// Screening of untrusted Verilog before any tool reads it, in two passes around one
// preprocessing (prepare_untrusted below): the text as written, then the text as the tools
// will read it. A candidate kernel (from a user or
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

namespace chipgym::evaluators {

constexpr std::size_t kMaxVerilogBytes = 256 * 1024;
// After macro expansion: a macro that expands to more than this is refused, not run.
constexpr std::size_t kMaxExpandedBytes = 1024 * 1024;

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
// `endif (a macro may be used only if the file defines it), `` token pasting, and the names of
// tools' predefined macros (VERILATOR, YOSYS, SYNTHESIS, ...): no branch may tell the tools apart.
ScreenResult screen_verilog(const std::string& text, std::size_t max_bytes = kMaxVerilogBytes);

// The same rules on preprocessed text (no comments left): every directive but `timescale,
// `default_nettype, `resetall and `celldefine is refused, since none should survive
// preprocessing; messages quote the expanded line, since its number is not the user's.
ScreenResult screen_expanded(const std::string& text);

// Untrusted Verilog made ready for the tools: the raw text screened, preprocessed once by
// `verilator -E -P` inside the sandbox with no defines of our own, its comments stripped (no
// metacomment reaches a tool), and screened again as every tool will then read it. `text` is
// what lint, simulation and synthesis all read; `modules` the modules it defines, in order.
struct UntrustedVerilog {
  bool ok = false;
  std::string category;  // when !ok: screen, preprocess, sandbox, environment
  std::string message;
  std::string text;
  std::vector<std::string> modules;
};
struct PrepareOptions {
  std::size_t max_bytes = kMaxVerilogBytes;
  std::size_t max_expanded_bytes = kMaxExpandedBytes;
  double timeout = 30;
  std::string verilator = "verilator";
};
UntrustedVerilog prepare_untrusted(const std::string& text, const PrepareOptions& options = {});

// The modules (and macromodules) `code` defines, in order; throws std::invalid_argument
// naming a module defined twice. `code` has comments and strings blanked.
std::vector<std::string> defined_modules(const std::string& code);

// Comments replaced by spaces (newlines kept); strings and everything else as written.
std::string strip_comments(const std::string& text);

// The system functions a candidate may call.
const std::vector<std::string>& allowed_system_functions();

// Comments removed and string contents blanked (quotes kept), newlines preserved, so the
// result has the same line numbers. Unterminated comments or strings are left as they are.
std::string strip_comments_and_strings(const std::string& text);

}  // namespace chipgym::evaluators
