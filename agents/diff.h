// Turning a model's reply into a new candidate: SEARCH/REPLACE blocks applied to the parent's
// code, or a full rewrite taken from a fenced code block. A block whose SEARCH text does not
// occur exactly once is an error with a message for the model, never skipped: a silently
// dropped edit would score the parent again under the child's name.
//
//   <<<<<<< SEARCH
//   exact lines of the current code
//   =======
//   their replacement
//   >>>>>>> REPLACE
#pragma once
#include <string>

namespace chipgym::agents {

struct EditResult {
  bool ok = false;
  std::string code;      // the new candidate when ok
  std::string error;     // what to tell the model when !ok
  std::string kind;      // "diff" or "rewrite"
  int blocks = 0;        // SEARCH/REPLACE blocks applied
};

// Applies every block in order to `code` (each to the result of the previous ones).
EditResult apply_search_replace(const std::string& code, const std::string& reply);
// The code of a full rewrite: the last fenced block that contains a module (```verilog,
// ```systemverilog, ```v or a bare ```), else the text from the first `module` to the last
// `endmodule`; an error when there is neither.
EditResult extract_code(const std::string& reply);
// SEARCH/REPLACE when the reply has a block marker, else a full rewrite.
EditResult apply_reply(const std::string& code, const std::string& reply);

}  // namespace chipgym::agents
