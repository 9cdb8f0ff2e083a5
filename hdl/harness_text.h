// Text shared by the Verilator harnesses of the families (hdl/gemm_harness.cpp,
// hdl/sha256_core_harness.cpp, hdl/quant.cpp), which are C++ sources generated as strings.
#pragma once
#include <string>

namespace chipgym::hdl {

// The start of a harness's main(): the Verilator context, the model `top` of class
// `top_class`, and `--vcd FILE`, a waveform of the whole run when the model was built with
// --trace (without it the harness refuses the flag); `dump()` records one time step and is a
// no-op when no waveform is written.
inline std::string harness_main_prelude(const std::string& top_class) {
  return "int main(int argc, char** argv) {\n"
         "  auto ctx = std::make_unique<VerilatedContext>();\n"
         "  ctx->commandArgs(argc, argv);\n"
         "  auto top = std::make_unique<" + top_class + ">(ctx.get());\n"
         "  // --vcd FILE: a waveform of the whole run (the model must be built with --trace).\n"
         "  const char* vcd_path = nullptr;\n"
         "  for (int i = 1; i + 1 < argc; ++i)\n"
         "    if (std::string(argv[i]) == \"--vcd\") vcd_path = argv[i + 1];\n"
         "#if VM_TRACE\n"
         "  std::unique_ptr<VerilatedVcdC> vcd;\n"
         "  uint64_t vcd_time = 0;\n"
         "  if (vcd_path) {\n"
         "    ctx->traceEverOn(true);\n"
         "    vcd = std::make_unique<VerilatedVcdC>();\n"
         "    top->trace(vcd.get(), 99);\n"
         "    vcd->open(vcd_path);\n"
         "  }\n"
         "  auto dump = [&]() {\n"
         "    if (vcd) vcd->dump(vcd_time++);\n"
         "  };\n"
         "#else\n"
         "  if (vcd_path) {\n"
         "    std::fprintf(stderr, \"harness: built without --trace, cannot write %s\\n\", vcd_path);\n"
         "    return 2;\n"
         "  }\n"
         "  auto dump = []() {};\n"
         "#endif\n";
}

// The end of a harness's main(), after its last output: the model's final blocks run, the
// waveform (if any) is closed, and main returns 0.
inline std::string harness_main_end() {
  return "  top->final();\n"
         "#if VM_TRACE\n"
         "  if (vcd) vcd->close();\n"
         "#endif\n"
         "  return 0;\n"
         "}\n";
}

}  // namespace chipgym::hdl
