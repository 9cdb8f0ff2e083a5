#include "hdl/family.h"

#include "hdl/codesign_gemm.h"
#include "hdl/gemm.h"
#include "hdl/sha256_core.h"
#include "hdl/quant.h"

namespace chipgym::hdl {

std::string Rtl::source() const {
  std::string out;
  // Names and lengths are part of the text: tools' results depend on file names, and moving
  // text between files must not look like the same design.
  for (const auto& [name, text] : files) out += "// file " + name + " (" + std::to_string(text.size()) + " bytes)\n" + text;
  return out;
}

const std::vector<const Family*>& families() {
  // Explicit list (not static self-registration): static libraries drop unreferenced objects.
  static const std::vector<const Family*> all = {
      &gemm_family(),
      &codesign_family(),
      &sha256_family(),
      &quant_family(QuantOp::Gelu), &quant_family(QuantOp::Softmax), &quant_family(QuantOp::RmsNorm), &quant_family(QuantOp::LayerNorm),
  };
  return all;
}

const Family& family(const std::string& name) {
  std::string known;
  for (const Family* f : families()) {
    if (f->name() == name) return *f;
    known += (known.empty() ? "" : ", ") + f->name();
  }
  throw ParamError("unknown design family '" + name + "'; known families: " + known);
}

}  // namespace chipgym::hdl
