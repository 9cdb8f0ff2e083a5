#include "runs/roofline.h"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "evaluators/runner.h"
#include "hdl/gemm.h"

namespace chipgym::runs {

using json = nlohmann::json;

RooflineResult roofline(const RooflineOptions& o) {
  if (o.task.family != "gemm")
    throw hdl::ParamError("roofline knows the gemm family's schedule (tasks gemm-int8, gemm-int8-target, gemm-int8-small), not " +
                          o.task.family + " (task " + o.task.name + ")");
  if (o.dram_bytes_per_cycle && *o.dram_bytes_per_cycle <= 0)
    throw hdl::ParamError("--dram-bytes-per-cycle must be positive");
  const auto& family = o.task.design_family();
  family.space().validate(o.params);
  const hdl::GemmConfig g = hdl::GemmConfig::from(o.params);
  const auto shapes = hdl::gemm_shapes(o.task.workload);
  const json names = o.task.workload.value("layers", json::array());

  // Ceilings. The ports move one A slice, one B slice and one C row per cycle at most.
  const double peak = static_cast<double>(g.rows) * g.cols;
  const double a_port = (g.rows * g.in_bits + 7) / 8, b_port = (g.cols * g.in_bits + 7) / 8,
               c_port = (g.cols * g.acc_bits + 7) / 8, ports = a_port + b_port + c_port;
  json table = {{"task", o.task.name},
                {"workload", o.task.workload.value("source", std::string("the task's built-in shapes"))},
                {"design", o.params.to_json()},
                {"peak_macs_per_cycle", peak},
                {"port_bytes_per_cycle", {{"a", a_port}, {"b", b_port}, {"c", c_port}, {"total", ports}}},
                {"ridge_intensity", peak / ports}};
  if (o.dram_bytes_per_cycle) {
    table["dram_bytes_per_cycle"] = *o.dram_bytes_per_cycle;
    table["dram_ridge_intensity"] = peak / *o.dram_bytes_per_cycle;
  }
  json layers = json::array();
  long long total_macs = 0, total_bytes = 0, total_cycles = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const auto& sh = shapes[i];
    const long long macs = static_cast<long long>(sh.m) * sh.k * sh.n * sh.count;
    const long long bytes = hdl::gemm_model_traffic(g, sh).bytes(g) * sh.count;
    const long long cycles = hdl::gemm_model_cycles(g, sh) * sh.count;
    const double intensity = static_cast<double>(macs) / static_cast<double>(bytes);
    // The roof over this layer: the lowest of compute, the ports and (given) off-chip memory.
    double roof = peak;
    std::string bound = "compute";
    if (intensity * ports < roof) roof = intensity * ports, bound = "memory ports";
    if (o.dram_bytes_per_cycle && intensity * *o.dram_bytes_per_cycle < roof)
      roof = intensity * *o.dram_bytes_per_cycle, bound = "off-chip memory";
    layers.push_back({{"layer", i < names.size() ? names[i].get<std::string>() : "shape " + std::to_string(i)},
                      {"m", sh.m}, {"k", sh.k}, {"n", sh.n}, {"count", sh.count},
                      {"macs", macs}, {"bytes", bytes}, {"intensity", intensity},
                      {"attainable_macs_per_cycle", roof}, {"bound", bound},
                      {"cycles", cycles}, {"achieved_macs_per_cycle", static_cast<double>(macs) / static_cast<double>(cycles)}});
    total_macs += macs;
    total_bytes += bytes;
    total_cycles += cycles;
  }
  table["layers"] = layers;
  table["total"] = {{"macs", total_macs}, {"bytes", total_bytes}, {"cycles", total_cycles},
                    {"intensity", static_cast<double>(total_macs) / static_cast<double>(total_bytes)},
                    {"achieved_macs_per_cycle", static_cast<double>(total_macs) / static_cast<double>(total_cycles)}};
  table["bytes_counted"] =
      "port transfers of the schedule the cycle model describes, each at the port's full width (an A read is rows "
      "elements, a B read cols, a C write cols accumulators), padding included";
  RooflineResult result;
  result.table = table;
  if (o.out.empty()) return result;

  std::filesystem::create_directories(o.out);
  {
    std::ofstream data(o.out / "roofline.dat");
    data << "# layer intensity achieved_macs_per_cycle attainable bound\n";
    for (const auto& l : layers)
      data << '"' << l["layer"].get<std::string>() << "\" " << l["intensity"].get<double>() << " "
           << l["achieved_macs_per_cycle"].get<double>() << " " << l["attainable_macs_per_cycle"].get<double>() << " \""
           << l["bound"].get<std::string>() << "\"\n";
  }
  double lo = 1e300, hi = 0;
  for (const auto& l : layers) lo = std::min(lo, l["intensity"].get<double>()), hi = std::max(hi, l["intensity"].get<double>());
  lo = std::min(lo, peak / ports) / 4;
  hi = std::max(hi, o.dram_bytes_per_cycle ? peak / *o.dram_bytes_per_cycle : peak / ports) * 4;
  double lowest = peak;
  for (const auto& l : layers) lowest = std::min(lowest, l["achieved_macs_per_cycle"].get<double>());
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  std::ostringstream gp;
  // noenhanced: layer and parameter names keep their underscores.
  gp << "set termoption noenhanced\nset logscale xy\nset grid\nset key bottom right\n"
     << "set xlabel 'arithmetic intensity under this schedule (MACs per byte of port traffic)'\n"
     << "set ylabel 'MACs per cycle'\n"
     << "set title \"" << o.task.name << ": " << g.rows << "x" << g.cols << " " << (g.weight_stationary ? "ws" : "os")
     << " array on " << table["workload"].get<std::string>() << "\\npoints: the cycle model per layer; lines: the ceilings\"\n"
     << "peak = " << peak << "\nports = " << ports << "\n"
     << "set xrange [" << lo << ":" << hi << "]\nset yrange [" << lowest / 4 << ":" << peak * 2 << "]\n";
  std::string plot = "(ports * x < peak ? ports * x : peak) with lines lw 2 title sprintf('peak %g MACs/cycle, ports %g B/cycle', peak, ports)";
  if (o.dram_bytes_per_cycle) {
    const std::string d = num(*o.dram_bytes_per_cycle);
    plot += ", (" + d + " * x < peak ? " + d + " * x : peak) with lines lw 2 dt 2 title 'off-chip " + d + " B/cycle'";
  }
  plot += ", 'roofline.dat' using 2:3 with points pt 7 ps 1.2 title 'layers, achieved'";
  if (layers.size() <= 16) plot += ", 'roofline.dat' using 2:3:1 with labels offset 0,1 font ',8' notitle";
  const std::string script = gp.str() + "set terminal svg size 900,600 dynamic\nset output 'roofline.svg'\nplot " + plot +
                             "\nset terminal pngcairo size 900,600\nset output 'roofline.png'\nplot " + plot + "\n";
  std::ofstream(o.out / "roofline.gp") << script;
  std::ofstream(o.out / "roofline.json") << table.dump(2) << "\n";
  result.files = {(o.out / "roofline.json").string(), (o.out / "roofline.dat").string(), (o.out / "roofline.gp").string()};
  evaluators::RunRequest req;
  req.argv = {"gnuplot", "roofline.gp"};
  req.cwd = o.out;
  req.limits.wall_seconds = 60;
  auto r = evaluators::run_process(req);
  if (r.ok()) {
    result.files.push_back((o.out / "roofline.svg").string());
    result.files.push_back((o.out / "roofline.png").string());
  } else {
    result.notices.push_back("no plot: " + r.describe("gnuplot") + " " + r.err +
                             " (install gnuplot-nox; the data is in roofline.dat, the script in roofline.gp)");
  }
  return result;
}

std::string RooflineResult::to_text() const {
  const json& t = table;
  std::ostringstream os;
  os << "roofline of " << t["task"].get<std::string>() << " " << t["design"].dump() << " on " << t["workload"].get<std::string>() << "\n"
     << "  peak " << t["peak_macs_per_cycle"].get<double>() << " MACs/cycle; memory ports "
     << t["port_bytes_per_cycle"]["total"].get<double>() << " bytes/cycle (A " << t["port_bytes_per_cycle"]["a"].get<double>()
     << ", B " << t["port_bytes_per_cycle"]["b"].get<double>() << ", C " << t["port_bytes_per_cycle"]["c"].get<double>()
     << "); ridge at " << std::setprecision(3) << t["ridge_intensity"].get<double>() << " MACs/byte";
  if (t.contains("dram_bytes_per_cycle"))
    os << "; off-chip " << t["dram_bytes_per_cycle"].get<double>() << " bytes/cycle, ridge at "
       << t["dram_ridge_intensity"].get<double>() << " MACs/byte";
  os << "\n";
  std::size_t w = 5;
  for (const auto& l : t["layers"]) w = std::max(w, std::min<std::size_t>(l["layer"].get<std::string>().size(), 30));
  os << "  " << std::left << std::setw(static_cast<int>(w)) << "layer" << std::right << std::setw(10) << "MACs/B"
     << std::setw(12) << "attainable" << std::setw(10) << "achieved" << std::setw(8) << "of roof" << "  bound\n";
  for (const auto& l : t["layers"]) {
    std::string name = l["layer"].get<std::string>();
    if (name.size() > 30) name = "..." + name.substr(name.size() - 27);
    const double roof = l["attainable_macs_per_cycle"].get<double>(), got = l["achieved_macs_per_cycle"].get<double>();
    os << "  " << std::left << std::setw(static_cast<int>(w)) << name << std::right << std::fixed << std::setprecision(2)
       << std::setw(10) << l["intensity"].get<double>() << std::setw(12) << roof << std::setw(10) << got << std::setw(7)
       << std::setprecision(0) << 100 * got / roof << "%  " << l["bound"].get<std::string>() << "\n";
  }
  os << std::fixed << std::setprecision(2) << "total: " << t["total"]["macs"] << " MACs in " << t["total"]["cycles"]
     << " cycles (cycle model), " << t["total"]["achieved_macs_per_cycle"].get<double>() << " MACs/cycle, intensity "
     << t["total"]["intensity"].get<double>() << " MACs/byte of port traffic\n";
  return os.str();
}

}  // namespace chipgym::runs
