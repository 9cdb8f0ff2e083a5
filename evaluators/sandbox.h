// The sandbox for tools that read untrusted Verilog, and for every model compiled from it:
// bubblewrap (Debian's `bubblewrap`). A sandboxed child sees a read-only /usr (and the /bin,
// /lib symlinks into it), the loader cache and /etc/alternatives, a private /proc, a minimal
// /dev, a private size-limited /tmp, its working directory and the paths its Sandbox names;
// nothing else of the host: no /root or /home, no /etc/shadow, no other temporary files. It has
// no network (own network namespace: not even 127.0.0.1), its own PID, IPC, UTS and user
// namespaces (it cannot create more), no capabilities, a new session (no controlling terminal
// to inject input into), and dies with its parent. Its environment is scrubbed (PATH, HOME,
// TMPDIR, LC_ALL and what the caller adds), so API keys never reach it, and rlimits bound its
// processes, memory, CPU time and file sizes.
//
// Where bubblewrap cannot start (not installed, or a container without user namespaces), a
// sandboxed run does not fall back: it ends with RunStatus::NoSandbox and a message that says
// why and how to fix it. `--unsafe-no-sandbox` (allow_unsandboxed) is the one way around, is
// never the default, and says so loudly.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "evaluators/runner.h"
#include "evaluators/tools.h"

namespace chipgym::evaluators {

// Process-wide: run sandboxed requests without bubblewrap (environment still scrubbed, limits
// still applied). Prints a warning to stderr when turned on.
void allow_unsandboxed(bool allow);
bool unsandboxed_allowed();

// The bubblewrap executable: $CHIPGYM_BWRAP if set, else `bwrap` on PATH; "" when none.
std::string bwrap_executable();

// Empty when sandboxed runs can start on this machine; otherwise one message naming the cause
// and the fix. Probed once per process (a tiny bwrap run), then remembered.
std::optional<std::string> sandbox_problem();

// Who runs bubblewrap. As root, bwrap would run privileged, and the kernel does not count a
// root-mapped user's processes against RLIMIT_NPROC (a fork bomb grew to 15,000 processes in
// a test): so root drops to an unprivileged uid before exec (one per run, from 100000 up, group
// nogroup), bwrap runs as an ordinary user would, and the directories the sandbox writes are
// opened to that group first.
// Any other user runs bwrap as itself, with its process limit raised by the processes it
// already has (RLIMIT_NPROC counts all of a user's processes).
struct SandboxIdentity {
  bool drop = false;  // setgid/setuid to uid/gid in the child before exec
  unsigned uid = 0, gid = 0;
  long max_processes = 256;
};
SandboxIdentity sandbox_identity(const RunRequest& req);
// Opens the sandbox's working directory and writable paths to the identity's group (root only).
void hand_over_paths(const RunRequest& req, const SandboxIdentity& who);

// The command line that runs req.argv inside bubblewrap `bwrap` with req.sandbox's paths.
std::vector<std::string> sandbox_command(const RunRequest& req, const std::string& bwrap);

// The whole environment of a sandboxed child ("NAME=value" entries).
std::vector<std::string> sandbox_environment(const RunRequest& req);

// The sandbox every run on untrusted text gets (the defaults of Sandbox).
Sandbox untrusted_sandbox();

// A sandboxed Verilator build shares object files through a ccache of its own
// ($CHIPGYM_SANDBOX_CCACHE, else ~/.cache/chipgym/ccache-sandbox, or /var/cache/chipgym/
// ccache-sandbox-shared for root, whose home the sandbox uids cannot enter; shared by them
// through the group nogroup), bound read-write; never the
// user's ccache, which trusted builds read. Without ccache, or a place for it, builds go
// without. The simulation that runs the model never sees this directory.
void sandbox_ccache(const Toolchain& tools, RunRequest& req);

}  // namespace chipgym::evaluators
