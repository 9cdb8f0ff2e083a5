// The offline proposer's structure-aware operators (agents/evolve.h's Subject::mutate for
// Verilog subjects). Each looks at the parent's Verilog, finds the places where it applies and
// returns one child as a SEARCH/REPLACE reply (the format apply_reply accepts), with its name
// and a line saying what it changed:
//
//   narrow      an internal reg/wire `[h:l] name` -> `[h-1:l]` (AlphaEvolve's "removed
//               unnecessary bits"); never a port, never a signal whose top bit is selected
//   table       an elementwise kernel of a small input (<= 8 bits) becomes a case table of the
//               PARENT's own outputs, tabulated by simulating it (Subject::tabulate, through the
//               sandboxed scoring pipeline), in the quant generator's stream skeleton (the same
//               register stages, valid/last chain and stall); two children: the runs of
//               one constant or of y = x at the ends of the domain as comparisons around a
//               table of the rest, and the direct table of every input
//   fold        an expression of two literals -> its value (only when the value needs no more
//               bits than its operands, so the result is the same at any context width); a
//               multiplication by a power-of-two literal -> a shift (same width, same signedness)
//   unpipeline  one register boundary of the skeleton (every `if (en) ab_x <= a_x;` of one
//               prefix) -> wires, with the valid/last chain one stage shorter; the stream
//               protocol fixes no latency (docs/stream.md), so a stage can go
//   share       two declarations computing the same multiplication -> the second reads the first
//   textual     the old one-line mutation (mutation_reply: a constant, a bit select, an
//               operator, a dropped operand, swapped ?: branches, a deleted line)
//
// No operator changes the module's header (the text up to the `);` that closes the port list
// stays byte for byte): every child is checked and one that would is never proposed. An
// operator is drawn by a seeded weighted draw among those that apply; the same parent and seed
// give the same child; a child `avoid` names (the database holds it) is not proposed.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hdl/splitmix.h"

namespace chipgym::agents {

// Text helpers of the offline proposer, shared by agents/evolve.cpp's textual mutation.
using hdl::splitmix64;
std::vector<std::string> split_lines(const std::string& text);
std::string trim(const std::string& s);           // spaces, tabs and carriage returns at both ends

// What the table operator needs about the kernel: its input and output element (from the task's
// StreamInterface) and the parent's behaviour.
struct TableDomain {
  int in_bits = 8, out_bits = 8;
  bool is_signed = true;
};

struct OpsContext {
  // The parent's output for every input value (index = value - minimum, in the interface's
  // signedness), from a simulation of the parent on all of them; nullopt when it cannot be
  // tabulated (it fails to build, loses elements, or one input value gives different outputs
  // at different positions: not elementwise). Empty: no table operator.
  std::function<std::optional<std::vector<long long>>(const std::string& code)> tabulate;
  TableDomain domain;
};

struct OperatorChild {
  std::string op;     // narrow | table | fold | unpipeline | share | textual
  std::string what;   // one line: what changed
  std::string reply;  // SEARCH/REPLACE blocks that turn the parent into `code`
  std::string code;   // the child
};

// The operators' names, in the order of their weights' table.
const std::vector<std::string>& operator_names();

// The header of the module: from the start of the text through the line that closes the port
// list (the one with the first `;` after `module`, comments aside). Empty when there is none.
std::string module_header(const std::string& code);

// Every child operator `op` makes of `code` (all its sites; table: at most two). Throws
// std::invalid_argument for an unknown name. Children whose header differs are dropped.
std::vector<OperatorChild> operator_children(const std::string& op, const std::string& code, const OpsContext& ctx,
                                             std::uint64_t seed = 1);

// One child: operators are drawn by weight (seeded), the first that has a child `avoid` does not
// refuse gives it (a seeded choice among its sites). nullopt when no operator has one.
std::optional<OperatorChild> propose_child(const std::string& code, std::uint64_t seed,
                                           const std::function<bool(const std::string&)>& avoid, const OpsContext& ctx);

// The SEARCH/REPLACE reply that turns `parent` into `child`: one block over the lines that
// differ, widened until its SEARCH text occurs once in `parent`.
std::string reply_between(const std::string& parent, const std::string& child);

}  // namespace chipgym::agents
