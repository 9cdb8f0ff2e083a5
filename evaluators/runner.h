// Tools run as child processes: own temporary directory, wall-clock timeout, CPU and memory
// limits, own process group (killed by group id, never by name). A failure is a result.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chipgym::evaluators {

struct RunLimits {
  double wall_seconds = 300;           // SIGKILL to the whole process group after this
  double cpu_seconds = 600;            // RLIMIT_CPU (per process)
  std::size_t memory_bytes = 8ull << 30;  // RLIMIT_AS (per process); 0 = unlimited
  std::size_t output_bytes = 4u << 20;    // stdout/stderr kept in memory are cut to this many bytes
};

struct RunRequest {
  std::vector<std::string> argv;                 // argv[0] is looked up on PATH unless it has a '/'
  std::filesystem::path cwd;                     // must exist; the child chdirs there
  std::map<std::string, std::string> env_extra;  // added to (or replacing in) the inherited env
  std::optional<std::string> stdin_text;         // written to the child's stdin, then closed
  RunLimits limits;
};

enum class RunStatus {
  Exited,    // the process exited by itself; see exit_code
  Signaled,  // killed by a signal it did not get from us (crash, RLIMIT_CPU's SIGXCPU/SIGKILL, ...)
  TimedOut,  // wall-clock limit reached; we killed the process group
  NotFound,  // the executable was not found or could not be executed (exec failed)
};

struct RunResult {
  RunStatus status = RunStatus::Exited;
  int exit_code = -1;       // valid when status == Exited
  int signal = 0;           // valid when status == Signaled
  std::string out;          // captured stdout (cut to limits.output_bytes)
  std::string err;          // captured stderr (cut to limits.output_bytes)
  std::string exec_error;   // for NotFound: strerror of the failed exec, e.g. "No such file or directory"
  double seconds = 0;       // wall time
  bool ok() const { return status == RunStatus::Exited && exit_code == 0; }
  // One line a human can act on, e.g. "yosys timed out after 5 s" or "verilator exited with code 1".
  std::string describe(const std::string& tool) const;
};

// Runs the child to completion (or kill). Never throws for child failures; throws
// std::system_error only if the parent cannot create pipes or fork.
RunResult run_process(const RunRequest& req);

// A fresh private temporary directory (mkdtemp under $TMPDIR or /tmp), removed with its
// contents on destruction unless keep() was called. Never throws from the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "chipgym-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// Writes `text` to `path` as is; throws std::runtime_error naming the path when it cannot.
void write_file(const std::filesystem::path& path, const std::string& text);
// The whole file, or "" when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// The executable's full path if `name` is found on PATH (or is a path to an executable).
std::optional<std::filesystem::path> find_executable(const std::string& name);

}  // namespace chipgym::evaluators
