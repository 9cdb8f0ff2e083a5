// A run directory: config.json, events.jsonl (one line per evaluation, appended and flushed
// as it happens), best/ (design.json, Verilog, metrics.json, report.md), verify.jsonl (the
// RTL checks of the best design), summary.json.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace chipgym::runs {

using json = nlohmann::json;

class RunDir {
 public:
  // A new run: refuses an existing non-empty directory unless `force` (which empties it).
  static RunDir create(const std::filesystem::path& dir, bool force);
  // An existing run to resume: it must hold config.json.
  static RunDir open(const std::filesystem::path& dir);

  const std::filesystem::path& path() const { return dir_; }
  void write_config(const json& config) const;
  json read_config() const;

  struct Events {
    std::vector<json> events;
    std::size_t torn_lines = 0;  // unreadable lines skipped (a line cut by a crash)
  };
  Events read_events() const;
  // Replaces events.jsonl atomically (used when a resume drops an incomplete batch).
  void rewrite_events(const std::vector<json>& events) const;
  // Appends one line and flushes it to the kernel, so a SIGKILL loses nothing written.
  void append_event(const json& event);

  // verify.jsonl: one line per RTL check of a best design (runs/recorder.h), flushed; read
  // back on resume (unreadable lines skipped).
  void append_verification(const json& line) const;
  std::vector<json> read_verifications() const;

  // best/: design.json (params and indices), the Verilog files, metrics.json, report.md.
  void export_best(const json& design, const std::map<std::string, std::string>& verilog, const json& metrics,
                   const std::string& report) const;
  void write_summary(const json& summary) const;

 private:
  explicit RunDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
  std::ofstream events_;
};

// Writes `text` to `path` through a temporary file and a rename: never half a file.
void write_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace chipgym::runs
