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

// Untrusted text (a user's or a language model's Verilog) and every model compiled from it run
// inside bubblewrap (evaluators/sandbox.h): no network, own PID/IPC/UTS/user namespaces,
// read-only /usr, no home, a scrubbed environment, and only these paths visible besides the
// system: the working directory and `writable` read-write, `readable` read-only.
struct Sandbox {
  std::vector<std::filesystem::path> writable;  // handed to the sandbox's uid (sandbox.h)
  std::vector<std::filesystem::path> shared;    // read-write through their group; left as they are
  std::vector<std::filesystem::path> readable;
  long max_processes = 256;                 // RLIMIT_NPROC inside the sandbox's user namespace
  std::size_t max_file_bytes = 2ull << 30;  // RLIMIT_FSIZE: no file written grows past this
  std::size_t tmp_bytes = 1ull << 30;       // size of the private /tmp (a tmpfs)
};

struct RunRequest {
  std::vector<std::string> argv;                 // argv[0] is looked up on PATH unless it has a '/'
  std::filesystem::path cwd;                     // must exist; the child chdirs there
  std::map<std::string, std::string> env_extra;  // added to (or replacing in) the inherited env
  std::optional<std::string> stdin_text;         // written to the child's stdin, then closed
  RunLimits limits;
  // Set: the child runs sandboxed (or, under --unsafe-no-sandbox, unsandboxed but still with
  // the scrubbed environment and the process and file limits). The environment is then
  // PATH, HOME (= cwd), TMPDIR, LC_ALL and env_extra only: no API keys reach a tool.
  std::optional<Sandbox> sandbox;
};

enum class RunStatus {
  Exited,    // the process exited by itself; see exit_code
  Signaled,  // killed by a signal it did not get from us (crash, RLIMIT_CPU's SIGXCPU/SIGKILL, ...)
  TimedOut,  // wall-clock limit reached; we killed the process group
  NotFound,  // the executable was not found or could not be executed (exec failed)
  NoSandbox, // a sandbox was asked for and bubblewrap cannot start; exec_error says why
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
  bool out_truncated = false;  // stdout was longer than limits.output_bytes
  // The tool's own words say it ran out of memory (RLIMIT_AS: bad_alloc, "Out of memory!").
  bool out_of_memory() const;
  // One line a human can act on, e.g. "yosys timed out after 5 s" or "verilator exited with code 1".
  std::string describe(const std::string& tool) const;
  // describe(), and what the limits explain: "Verilator ran out of memory (limit 8 GiB)",
  // "yosys used up its CPU time (limit 130 s)". `limits` are the ones the run had.
  std::string explain(const std::string& tool, const RunLimits& limits) const;
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
