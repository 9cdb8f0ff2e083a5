#include "runs/run_dir.h"

#include <unistd.h>

#include <sstream>

#include "hdl/param_space.h"

namespace chipgym::runs {

namespace fs = std::filesystem;

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

RunDir RunDir::create(const fs::path& dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    if (!force)
      throw hdl::ParamError("run directory " + dir.string() +
                            " exists; use --resume to continue it or --force to start it over");
    if (!fs::exists(dir / "config.json", ec) && !fs::exists(dir / "events.jsonl", ec))
      throw hdl::ParamError("--force refuses to empty " + dir.string() +
                            ": it is not a run directory (no config.json or events.jsonl)");
    fs::remove_all(dir, ec);
    if (ec) throw std::runtime_error("cannot remove " + dir.string() + ": " + ec.message());
  }
  fs::create_directories(dir / "best", ec);
  if (!ec) fs::create_directories(dir / "checkpoints", ec);
  if (ec) throw std::runtime_error("cannot create run directory " + dir.string() + ": " + ec.message());
  return RunDir(dir);
}

RunDir RunDir::open(const fs::path& dir) {
  if (!fs::exists(dir / "config.json"))
    throw hdl::ParamError("cannot resume " + dir.string() + ": it has no config.json (not a run directory?)");
  return RunDir(dir);
}

void RunDir::write_config(const json& config) const { write_atomically(dir_ / "config.json", config.dump(2) + "\n"); }

json RunDir::read_config() const {
  std::ifstream in(dir_ / "config.json");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw hdl::ParamError("config.json of " + dir_.string() + " is not valid JSON: " + e.what());
  }
}

RunDir::Events RunDir::read_events() const {
  Events out;
  std::ifstream in(dir_ / "events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      out.events.push_back(json::parse(line));
    } catch (const json::parse_error&) {
      ++out.torn_lines;
    }
  }
  return out;
}

void RunDir::rewrite_events(const std::vector<json>& events) const {
  std::string text;
  for (const auto& e : events) text += e.dump() + "\n";
  write_atomically(dir_ / "events.jsonl", text);
}

void RunDir::append_verification(const json& line) const {
  std::ofstream out(dir_ / "verify.jsonl", std::ios::app | std::ios::binary);
  out << line.dump() << '\n';
  out.flush();
  if (!out) throw std::runtime_error("cannot append to " + (dir_ / "verify.jsonl").string());
}

std::vector<json> RunDir::read_verifications() const {
  std::vector<json> out;
  std::ifstream in(dir_ / "verify.jsonl");
  for (std::string line; std::getline(in, line);) {
    try {
      if (!line.empty()) out.push_back(json::parse(line));
    } catch (const json::parse_error&) {
    }
  }
  return out;
}

void RunDir::append_event(const json& event) {
  if (!events_.is_open()) {
    // A crash can leave a last line without its newline: start on a fresh line.
    std::error_code ec;
    const auto size = fs::file_size(dir_ / "events.jsonl", ec);
    events_.open(dir_ / "events.jsonl", std::ios::app | std::ios::binary);
    if (!ec && size > 0) {
      std::ifstream check(dir_ / "events.jsonl", std::ios::binary);
      check.seekg(static_cast<std::streamoff>(size) - 1);
      if (check.get() != '\n') events_ << '\n';
    }
  }
  events_ << event.dump() << '\n';
  events_.flush();
  if (!events_) throw std::runtime_error("cannot append to " + (dir_ / "events.jsonl").string());
}

void RunDir::export_best(const json& design, const std::map<std::string, std::string>& verilog, const json& metrics,
                         const std::string& report) const {
  // Written into best.tmp/, then swapped in: a crash leaves the old export or the new one,
  // never a mix (a leftover best.tmp/ or best.old/ is cleared by the next export).
  std::error_code ec;
  const fs::path tmp = dir_ / "best.tmp", old = dir_ / "best.old";
  fs::remove_all(tmp, ec);
  fs::remove_all(old, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw std::runtime_error("cannot create " + tmp.string() + ": " + ec.message());
  for (const auto& [name, text] : verilog) write_atomically(tmp / name, text);
  write_atomically(tmp / "metrics.json", metrics.dump(2) + "\n");
  write_atomically(tmp / "report.md", report);
  write_atomically(tmp / "design.json", design.dump(2) + "\n");
  if (fs::exists(dir_ / "best", ec)) fs::rename(dir_ / "best", old, ec);
  fs::rename(tmp, dir_ / "best", ec);
  if (ec) throw std::runtime_error("cannot move the best design into " + (dir_ / "best").string() + ": " + ec.message());
  fs::remove_all(old, ec);
}

void RunDir::write_summary(const json& summary) const { write_atomically(dir_ / "summary.json", summary.dump(2) + "\n"); }

}  // namespace chipgym::runs
