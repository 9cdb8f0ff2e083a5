// Untrusted Verilog cannot reach the host: every escape a hostile candidate could try is either
// refused by the screen (before or after preprocessing) or contained by the bubblewrap sandbox.
// Each containment test leaves a marker file on the host if the escape worked; it must never
// appear. The sandbox tests also bypass the screen on purpose (tools run directly on hostile
// text), so that the sandbox is tested as the second wall, not only the screen as the first.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "env/kernel_task.h"
#include "evaluators/runner.h"
#include "evaluators/sandbox.h"
#include "evaluators/screen.h"
#include "env/score.h"
#include "relu_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using chipgym::evaluators::prepare_untrusted;
using chipgym::evaluators::RunRequest;
using chipgym::evaluators::RunResult;
using chipgym::evaluators::RunStatus;
using chipgym::evaluators::Sandbox;
using chipgym::env::find_kernel_task;
using chipgym::evaluators::TempDir;
using chipgym::env::score_candidate;
using chipgym::env::ScoreOptions;
using json = nlohmann::json;
using test_support::relu;
using test_support::relu_with;
using test_support::run_chipgym;

namespace {

// A path on the host, outside every directory a sandbox may write, that an escape would create.
struct Marker {
  TempDir dir{"chipgym-marker-"};
  fs::path path = dir.path() / "ESCAPED";
  bool exists() const { return fs::exists(path); }
};

RunResult sandboxed(const std::vector<std::string>& argv, const fs::path& cwd, double wall = 20,
                    const std::map<std::string, std::string>& env = {}) {
  RunRequest req;
  req.argv = argv;
  req.cwd = cwd;
  req.sandbox = Sandbox{};
  req.env_extra = env;
  req.limits.wall_seconds = wall;
  return chipgym::evaluators::run_process(req);
}

RunResult sh(const std::string& script, const fs::path& cwd, double wall = 20) {
  return sandboxed({"/bin/sh", "-c", script}, cwd, wall);
}

// Processes whose command line contains `marker`, to see that nothing a sandbox started
// outlives it (other tests run beside this one, so a total count would not do).
int processes_with(const std::string& marker) {
  int n = 0;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
      const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find(marker) != std::string::npos) ++n;
    }
    ::closedir(d);
  }
  return n;
}

// A listening TCP socket on 127.0.0.1 (ephemeral port); `connected()` says whether anyone came.
struct Listener {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int port = 0;
  Listener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  bool connected() {
    const int c = ::accept(fd, nullptr, nullptr);
    if (c >= 0) ::close(c);
    return c >= 0;
  }
};

chipgym::env::ScoreReport score_relu(const std::string& verilog, ScoreOptions o = {}) {
  o.random_vectors = 8;
  o.eval.sim_timeout = 5;
  const auto& task = find_kernel_task("relu-int8");
  return score_candidate(verilog, chipgym::env::task_golden(task, o.seed, o.random_vectors), o, task.name);
}

// Sets an environment variable for one test, and puts the old value back.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

// ------------------------------------------------------------ the sandbox, tool by tool ---

TEST_CASE("bubblewrap can start on this machine (the rest of this file needs it)", "[sandbox]") {
  const auto problem = chipgym::evaluators::sandbox_problem();
  INFO((problem ? *problem : std::string()));
  REQUIRE_FALSE(problem);
}

TEST_CASE("a sandboxed tool reads no host secret: /etc/shadow, /root, /home, other temporary files", "[sandbox]") {
  TempDir work("chipgym-box-"), secret_dir("chipgym-secret-");
  const fs::path secret = secret_dir.path() / "api-key.txt";
  std::ofstream(secret) << "sk-THE-SECRET-42\n";
  const auto r = sh("cat /etc/shadow; cat /etc/passwd; ls /root; ls /home; cat " + secret.string() +
                        "; ls " + secret_dir.path().string() + "; echo done",
                    work.path());
  INFO(r.out + r.err);
  REQUIRE(r.ok());
  CHECK_THAT(r.out, Catch::Contains("done"));
  CHECK_THAT(r.out + r.err, !Catch::Contains("sk-THE-SECRET-42"));
  CHECK_THAT(r.out + r.err, !Catch::Contains("root:"));
  CHECK_THAT(r.err, Catch::Contains("/etc/shadow: No such file"));
  CHECK_THAT(r.err, Catch::Contains("/root"));
}

TEST_CASE("a sandboxed tool writes nowhere but its own directory (and a private /tmp)", "[sandbox]") {
  TempDir work("chipgym-box-");
  Marker marker;
  const auto r = sh("echo x > " + marker.path.string() + "; echo x > /usr/ESCAPED; echo x > /ESCAPED; "
                    "echo mine > own.txt; echo t > /tmp/scratch && cat /tmp/scratch",
                    work.path());
  INFO(r.out + r.err);
  CHECK(r.ok());
  CHECK_FALSE(marker.exists());
  CHECK_FALSE(fs::exists("/usr/ESCAPED"));
  CHECK_FALSE(fs::exists("/ESCAPED"));
  CHECK_FALSE(fs::exists("/tmp/scratch"));  // the sandbox's /tmp is its own
  CHECK(fs::exists(work.path() / "own.txt"));
  CHECK_THAT(r.err, Catch::Contains("Read-only file system"));
}

TEST_CASE("a sandboxed tool has no network: a TCP connection to 127.0.0.1 fails", "[sandbox]") {
  TempDir work("chipgym-box-");
  Listener listener;
  const std::string connect = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(listener.port) + " && echo CONNECTED";
  // The control: the same command outside the sandbox reaches the listener.
  RunRequest open_req;
  open_req.argv = {"/bin/bash", "-c", connect};
  open_req.cwd = work.path();
  const auto control = chipgym::evaluators::run_process(open_req);
  REQUIRE_THAT(control.out, Catch::Contains("CONNECTED"));
  REQUIRE(listener.connected());

  const auto r = sandboxed({"/bin/bash", "-c", connect}, work.path());
  INFO(r.out + r.err);
  CHECK_THAT(r.out, !Catch::Contains("CONNECTED"));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(listener.connected());
}

TEST_CASE("a sandboxed tool sees no API key: its environment is scrubbed", "[sandbox]") {
  TempDir work("chipgym-box-");
  ScopedEnv a("CHIPGYM_LLM_KEY", "sk-chipgym-key-123"), b("OPENAI_API_KEY", "sk-openai-key-456"),
      c("AWS_SECRET_ACCESS_KEY", "aws-789");
  const auto r = sandboxed({"/usr/bin/env"}, work.path(), 20, {{"OBJCACHE", "ccache"}});
  INFO(r.out);
  REQUIRE(r.ok());
  CHECK_THAT(r.out, !Catch::Contains("sk-chipgym-key-123"));
  CHECK_THAT(r.out, !Catch::Contains("sk-openai-key-456"));
  CHECK_THAT(r.out, !Catch::Contains("aws-789"));
  CHECK_THAT(r.out, Catch::Contains("OBJCACHE=ccache"));  // what the tool needs is passed
  CHECK_THAT(r.out, Catch::Contains("PATH=/usr/local/bin:/usr/bin:/bin"));
}

TEST_CASE("a fork bomb and a tool that runs forever are stopped, and leave no process behind", "[sandbox]") {
  TempDir work("chipgym-box-");
  // $0 of every shell the bomb forks: how its processes are found on the host.
  const std::string marker = "chipgym-bomb-" + std::to_string(::getpid());
  const auto bomb = sandboxed({"/bin/bash", "-c", "bomb() { bomb | bomb & }; bomb; sleep 100", marker}, work.path(), 4);
  INFO(bomb.out + bomb.err.substr(0, 300));
  CHECK(bomb.seconds < 10);
  // The process limit held: bash says so, and the machine was never flooded.
  CHECK_THAT(bomb.err, Catch::Contains("Resource temporarily unavailable"));
  const auto forever = sandboxed({"/bin/sh", "-c", "while :; do :; done", marker}, work.path(), 2);
  CHECK(forever.status == RunStatus::TimedOut);
  CHECK(forever.seconds < 5);
  // Everything in the sandbox's PID namespace dies with it.
  int left = processes_with(marker);
  for (int i = 0; i < 50 && left > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = processes_with(marker);
  }
  CHECK(left == 0);
}

TEST_CASE("without bubblewrap a sandboxed run does not fall back: it says why and how to fix it", "[sandbox]") {
  TempDir work("chipgym-box-");
  {
    ScopedEnv missing("CHIPGYM_BWRAP", "/nonexistent/bwrap");
    const auto r = sh("echo ran", work.path());
    CHECK(r.status == RunStatus::NoSandbox);
    CHECK_THAT(r.out, !Catch::Contains("ran"));
    CHECK_THAT(r.exec_error, Catch::Contains("bubblewrap is not installed"));
    CHECK_THAT(r.exec_error, Catch::Contains("apt-get install bubblewrap"));
    CHECK_THAT(r.exec_error, Catch::Contains("--unsafe-no-sandbox"));
  }
  {
    // A bwrap that cannot create namespaces (as in a container without them).
    const fs::path fake = work.path() / "bwrap";
    std::ofstream(fake) << "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n";
    // Run by the sandbox user, as bwrap is when chipgym runs as root.
    fs::permissions(fake, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(work.path(), fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
    ScopedEnv broken("CHIPGYM_BWRAP", fake.string());
    const auto r = sh("echo ran", work.path());
    CHECK(r.status == RunStatus::NoSandbox);
    CHECK_THAT(r.exec_error, Catch::Contains("cannot create its sandbox here: bwrap: No permissions"));
    CHECK_THAT(r.exec_error, Catch::Contains("user namespaces"));
  }
}

// ------------------------------------------- DPI, contained even if a screen let it pass ---

TEST_CASE("a Verilator model whose DPI calls system() is contained by the sandbox", "[sandbox][tools]") {
  // The screen refuses this text (see below); here it is built and run anyway, sandboxed, as
  // the second wall: the C code tries every escape at once.
  TempDir work("chipgym-box-");
  Marker marker;
  Listener listener;
  std::ofstream(work.path() / "top.v") << "module top(input wire clk);\n"
                                          "  import \"DPI-C\" function int escape();\n"
                                          "  initial begin $display(\"escape=%0d\", escape()); $finish; end\n"
                                          "endmodule\n";
  std::ofstream(work.path() / "escape.cpp")
      << "#include <cstdio>\n#include <cstdlib>\n#include <arpa/inet.h>\n#include <sys/socket.h>\n#include <unistd.h>\n"
         "extern \"C\" int escape() {\n"
         "  std::system(\"touch " << marker.path.string() << "; cat /etc/shadow > shadow.txt 2>&1\");\n"
         "  const char* key = std::getenv(\"CHIPGYM_LLM_KEY\");\n"
         "  std::printf(\"key=%s\\n\", key ? key : \"none\");\n"
         "  int s = socket(AF_INET, SOCK_STREAM, 0); sockaddr_in a{}; a.sin_family = AF_INET;\n"
         "  a.sin_port = htons(" << listener.port << "); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);\n"
         "  std::printf(\"connect=%d\\n\", connect(s, (sockaddr*)&a, sizeof a));\n"
         "  return 7;\n}\n";
  std::ofstream(work.path() / "main.cpp") << "#include \"Vtop.h\"\n#include \"verilated.h\"\n"
                                             "int main() { Vtop t; while (!Verilated::gotFinish()) t.eval(); }\n";
  ScopedEnv key("CHIPGYM_LLM_KEY", "sk-chipgym-key-123");
  RunRequest build;
  build.argv = {"verilator", "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "--top-module", "top", "-Mdir", "obj",
                "-o", "sim", "top.v", "escape.cpp", "main.cpp"};
  build.cwd = work.path();
  build.sandbox = Sandbox{};
  build.limits.wall_seconds = 300;
  const auto built = chipgym::evaluators::run_process(build);
  INFO(built.err);
  REQUIRE(built.ok());
  const auto ran = sandboxed({(work.path() / "obj" / "sim").string()}, work.path());
  INFO(ran.out + ran.err);
  CHECK_THAT(ran.out, Catch::Contains("escape=7"));  // the DPI call did run ...
  CHECK_FALSE(marker.exists());                     // ... and touched nothing on the host
  CHECK_THAT(ran.out, Catch::Contains("key=none"));
  CHECK_THAT(ran.out, Catch::Contains("connect=-1"));
  CHECK_FALSE(listener.connected());
  std::ifstream shadow(work.path() / "shadow.txt");
  const std::string text((std::istreambuf_iterator<char>(shadow)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, !Catch::Contains("root:"));
}

TEST_CASE("Yosys reads untrusted text with -nodpi: a constant function that calls DPI is not run", "[sandbox][tools]") {
  TempDir work("chipgym-box-");
  Marker marker;
  std::ofstream(work.path() / "k.v") << "module k(output wire [31:0] y);\n"
                                        "  import \"DPI-C\" function int system(input string cmd);\n"
                                        "  function automatic int f(input int x); f = system(\"touch "
                                     << marker.path.string() << "\"); endfunction\n"
                                        "  localparam int P = f(0);\n  assign y = P;\nendmodule\n";
  // With -nodpi Yosys refuses the import; without it (the sandbox as the only wall) the shell
  // command runs inside the sandbox and the host marker still never appears.
  for (const std::string flags : {"-sv -nodpi", "-sv"}) {
    const auto r = sandboxed({"yosys", "-q", "-p", "read_verilog " + flags + " k.v; hierarchy -top k"}, work.path(), 60);
    INFO(flags << ": " << r.out << r.err);
    CHECK_FALSE(marker.exists());
    if (flags == "-sv -nodpi") CHECK_FALSE(r.ok());
  }
}

// --------------------------------------------------------- the screen, every spelling ---

TEST_CASE("DPI and tool branches are refused in every spelling, before or after preprocessing", "[sandbox][screen]") {
  struct Case {
    std::string what, text, expect;
  };
  const std::string body = "module m(input wire clk);\n";
  const std::vector<Case> cases = {
      {"literal DPI", body + "import \"DPI-C\" function int system(input string c);\nendmodule\n",
       "line 2: DPI import is not allowed"},
      {"DPI from macros", "`define IMP import\n`define STR \"DPI-C\"\n" + body +
                              "`IMP `STR function int system(input string c);\nendmodule\n",
       "after macro expansion, in \"import \"DPI-C\" function int system"},
      {"export from a macro", "`define EXP export \"DPI-C\"\n" + body + "`EXP task t;\nendmodule\n",
       "DPI export is not allowed"},
      {"DPI by token pasting", "`define J(a,b) a``b\n" + body + "`J(imp,ort) \"DPI-C\" function int f();\nendmodule\n",
       "line 1: `` token pasting"},
      {"DPI behind `ifdef VERILATOR", body + "`ifdef VERILATOR\nimport \"DPI-C\" function int f();\n`endif\nendmodule\n",
       "DPI import is not allowed"},
      {"DPI from macros behind `ifdef VERILATOR",
       "`define IMP import\n`define STR \"DPI-C\"\n" + body + "`ifdef VERILATOR\n`IMP `STR function int f();\n`endif\nendmodule\n",
       "line 4: 'VERILATOR' is not allowed: it names a tool's predefined macro"},
      {"a design behind `ifdef YOSYS", body + "`ifndef YOSYS\nwire a;\n`endif\nendmodule\n", "'YOSYS' is not allowed"},
      {"`ifdef SYNTHESIS", body + "`ifdef SYNTHESIS\n`else\n`endif\nendmodule\n", "'SYNTHESIS' is not allowed"},
      {"an attribute written in a macro", "`define K (* keep *)\n" + body + "`K wire k;\nendmodule\n",
       "line 1: attributes (* ... *) are not allowed"},
      {"an attribute built from a macro", "`define OPEN (\n" + body + "`OPEN* keep *) wire k;\nendmodule\n",
       "after macro expansion, in \"(* keep *) wire k;\": attributes (* ... *) are not allowed"},
      {"public_flat_rw on a lint_off comment's second line",
       body + "/* verilator lint_off UNUSED\n   verilator public_flat_rw */\nendmodule\n", "tool directives in comments"},
      {"$system from a macro", "`define S $sys\n" + body + "initial `S;\nendmodule\n", "line 1: $sys is not allowed"},
      {"Verilator's C++ blocks", body + "`systemc_implementation\nendmodule\n", "`systemc_implementation is not allowed"},
      {"a module defined twice", body + "endmodule\nmodule m(input wire clk);\nendmodule\n",
       "module m is defined twice (lines 1 and 3)"},
      {"a module defined twice through a macro", "`define MOD(name) module name; endmodule\n`MOD(m)\n`MOD(m)\n",
       "after preprocessing: module m is defined twice"},
      {"bind", body + "endmodule\nbind m other u();\n", "'bind' is not allowed"},
  };
  for (const auto& c : cases) {
    INFO(c.what << "\n" << c.text);
    const auto u = prepare_untrusted(c.text);
    CHECK_FALSE(u.ok);
    CHECK(u.category == "screen");
    CHECK_THAT(u.message, Catch::Contains(c.expect));
  }
}

TEST_CASE("preprocessing happens once: every tool reads the expanded text, with no comment left", "[sandbox][screen]") {
  const std::string text =
      "`define W 8\n// verilator lint_off WIDTH\n`define DOUBLE(x) ((x) << 1)\n"
      "module m(input wire [`W-1:0] a, output wire [`W:0] y /* a comment */);\n"
      "  assign y = `DOUBLE(a);  // verilator lint_on WIDTH\nendmodule\n";
  const auto u = prepare_untrusted(text);
  INFO(u.message);
  REQUIRE(u.ok);
  CHECK(u.modules == std::vector<std::string>{"m"});
  CHECK_THAT(u.text, Catch::Contains("input wire [8-1:0] a"));
  CHECK_THAT(u.text, Catch::Contains("((a) << 1)"));
  CHECK_THAT(u.text, !Catch::Contains("`"));
  CHECK_THAT(u.text, !Catch::Contains("verilator"));
  CHECK_THAT(u.text, !Catch::Contains("/*"));
  CHECK_THAT(u.text, !Catch::Contains("//"));
  // Preparing the prepared text again changes nothing: one text for every tool.
  const auto again = prepare_untrusted(u.text);
  REQUIRE(again.ok);
  CHECK(again.text.find("((a) << 1)") != std::string::npos);
}

TEST_CASE("bad input: preprocessing that fails, a macro that expands to something huge", "[sandbox][screen]") {
  const auto unclosed = prepare_untrusted("`ifdef W\nmodule m; endmodule\n");
  CHECK_FALSE(unclosed.ok);
  CHECK(unclosed.category == "preprocess");
  CHECK_THAT(unclosed.message, Catch::Contains("the preprocessor (verilator -E) rejected the file"));
  CHECK_THAT(unclosed.message, Catch::Contains("`ifdef"));

  // Each level doubles: 2^13 copies of a 200-character name (1.6 MiB, in fewer tokens than
  // Verilator's own limit per line), past the 1 MiB limit.
  std::string huge = "`define L0 " + std::string(200, 'w') + "\n";
  for (int i = 1; i <= 13; ++i)
    huge += "`define L" + std::to_string(i) + " `L" + std::to_string(i - 1) + " `L" + std::to_string(i - 1) + "\n";
  huge += "module m;\n`L13\nendmodule\n";
  const auto big = prepare_untrusted(huge);
  CHECK_FALSE(big.ok);
  CHECK(big.category == "screen");
  CHECK_THAT(big.message, Catch::Contains("after macro expansion the text is larger than 1048576 bytes"));
  // Many small tokens instead: Verilator's own limit, reported as the same refusal.
  std::string many = "`define M0 w\n";
  for (int i = 1; i <= 20; ++i)
    many += "`define M" + std::to_string(i) + " `M" + std::to_string(i - 1) + " `M" + std::to_string(i - 1) + "\n";
  many += "module m;\n`M20\nendmodule\n";
  const auto tokens = prepare_untrusted(many);
  CHECK_FALSE(tokens.ok);
  CHECK_THAT(tokens.message, Catch::Contains("a macro that expands to something huge is refused"));
}

// ------------------------------------------------------------------- score, end to end ---

TEST_CASE("score: a candidate that uses a module it does not define is refused by name", "[sandbox][tools]") {
  const auto r = score_relu(relu_with("  assign out_valid = valid_q;", "  helper u_h();\n  assign out_valid = valid_q;"));
  INFO(r.message);
  CHECK(r.exit_code() == 2);
  CHECK(r.category == "undefined_module");
  CHECK_THAT(r.message, Catch::Contains("instantiates module 'helper', which it does not define"));
}

TEST_CASE("score: an asynchronous reset is synthesized and costed, a latch is refused by name", "[sandbox][tools]") {
  // The canonical relu with its valid flag reset asynchronously.
  const auto async = score_relu(relu_with("  always @(posedge clk) begin\n    if (rst) valid_q <= 1'b0;",
                                          "  always @(posedge clk or posedge rst) begin\n    if (rst) valid_q <= 1'b0;"));
  INFO(async.message);
  REQUIRE(async.passed());
  const auto sync = score_relu(relu());
  REQUIRE(sync.passed());
  const long long t_async = async.result["synthesis"]["transistors"], t_sync = sync.result["synthesis"]["transistors"];
  CHECK(t_async > 0);
  CHECK(t_async >= t_sync - 16);  // an async flip-flop costs at least what a sync one does, roughly

  const std::string latch_comb = relu_with("  assign out_data  = data_q;",
                                           "  logic [7:0] held;\n  always_comb if (valid_q) held = data_q;\n"
                                           "  assign out_data  = held;");
  const auto comb = score_relu(latch_comb);
  INFO(comb.message);
  CHECK(comb.category == "latch");
  CHECK_THAT(comb.message, Catch::Contains("latch"));
  const auto star = score_relu(relu_with("  assign out_data  = data_q;",
                                         "  reg [7:0] held;\n  always @* if (valid_q) held = data_q;\n"
                                         "  assign out_data  = held;"));
  INFO(star.message);
  CHECK(star.category == "latch");
  CHECK_THAT(star.message, Catch::Contains("latch bit"));
}

TEST_CASE("a tool out of memory says so, with the limit", "[sandbox][tools]") {
  // Verilator (a perl script first) under an 8 MiB address space: "Out of memory!".
  ScoreOptions o;
  o.eval.tool_memory = 8ull << 20;
  const auto r = score_relu(relu(), o);
  INFO(r.stage << ": " << r.message);
  CHECK(r.category == "tool_memory");
  CHECK_THAT(r.message, Catch::Contains("Verilator (--lint-only) ran out of memory (limit 8 MiB)"));
  // Yosys unrolling a two-billion-iteration loop under 256 MiB: bad_alloc, then abort.
  TempDir work("chipgym-box-");
  std::ofstream(work.path() / "loop.v")
      << "module k(input wire clk, output reg [31:0] acc);\n  integer spin;\n"
         "  always @(posedge clk) for (spin = 0; spin < 2000000000; spin = spin + 1) acc = acc + spin;\nendmodule\n";
  RunRequest req;
  req.argv = {"yosys", "-q", "-p", "read_verilog -sv -nodpi loop.v; synth -top k"};
  req.cwd = work.path();
  req.sandbox = Sandbox{};
  req.limits.memory_bytes = 256ull << 20;
  req.limits.wall_seconds = 120;
  const auto y = chipgym::evaluators::run_process(req);
  INFO(y.err);
  CHECK(y.out_of_memory());
  CHECK(y.explain("Yosys", req.limits) == "Yosys ran out of memory (limit 256 MiB)");
}

TEST_CASE("score: a model that never finishes is stopped at its time limit", "[sandbox][tools]") {
  ScoreOptions o;
  o.eval.sim_timeout = 2;
  // Two billion additions per clock edge, and the sum reaches the output.
  const auto r = score_relu(relu_with("  assign out_data  = data_q;",
                                      "  integer spin;\n  reg [31:0] acc;\n"
                                      "  always @(posedge clk) for (spin = 0; spin < 2000000000; spin = spin + 1) acc = acc + spin;\n"
                                      "  assign out_data  = data_q ^ {7'd0, acc[31]};"),
                            o);
  INFO(r.message);
  CHECK(r.category == "sim_timeout");
  CHECK_THAT(r.message, Catch::Contains("time limit"));
}

TEST_CASE("chipgym score without bubblewrap stops with the fix, and --unsafe-no-sandbox is loud", "[sandbox][cli]") {
  TempDir dir("chipgym-box-");
  const fs::path cand = dir.path() / "relu.v";
  std::ofstream(cand) << relu();
  const auto refused = run_chipgym({"score", "--task", "relu-int8", "--no-synth", cand.string()},
                                   {{"CHIPGYM_BWRAP", "/nonexistent/bwrap"}});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("cannot score untrusted Verilog: bubblewrap is not installed"));
  CHECK(refused.out.empty());
  const auto unsafe = run_chipgym({"score", "--task", "relu-int8", "--no-synth", "--unsafe-no-sandbox", cand.string()},
                                  {{"CHIPGYM_BWRAP", "/nonexistent/bwrap"}});
  INFO(unsafe.out + unsafe.err);
  CHECK(unsafe.exit_code == 0);
  CHECK_THAT(unsafe.err, Catch::Contains("WARNING: --unsafe-no-sandbox"));
  CHECK_THAT(unsafe.out, Catch::Contains("PASS"));
}
