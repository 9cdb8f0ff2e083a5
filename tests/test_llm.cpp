// The chat-completions client against a mock OpenAI-compatible server on 127.0.0.1 that the
// test starts and scripts; and SEARCH/REPLACE edits and code extraction from model replies.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "hdl/param_space.h"
#include "agents/diff.h"
#include "agents/llm_client.h"
#include "mock_llm.h"

using chipgym::agents::ChatMessage;
using chipgym::agents::LlmClient;
using chipgym::agents::LlmConfig;
using json = nlohmann::json;

namespace {

using Step = test_support::MockStep;

// The mock server; when its script runs out it echoes the last user message (after `echo_delay`).
struct MockServer : test_support::MockLlmServer {
  explicit MockServer(std::vector<Step> script, double echo_delay = 0)
      : MockLlmServer(
            std::move(script),
            [echo_delay](const json& request) {
              return Step(200, "echo: " + request["messages"].back()["content"].get<std::string>(), echo_delay);
            },
            {{"prompt_tokens", 11}, {"completion_tokens", 7}, {"total_tokens", 18}}) {}
};

LlmConfig config_for(const MockServer& server) {
  LlmConfig c;
  c.base_url = server.url();
  c.model = "mock-coder";
  c.api_key_env = "CHIPGYM_TEST_LLM_KEY";
  c.temperature = 0.25;
  c.timeout_seconds = 2;
  c.max_retries = 2;
  c.backoff_seconds = 0.01;
  return c;
}

const std::vector<ChatMessage> kHello = {{"system", "You write Verilog."}, {"user", "relu, please"}};

}  // namespace

TEST_CASE("the LLM client posts model, temperature, messages and the key from the environment") {
  MockServer server({{200, "```verilog\nmodule relu_int8; endmodule\n```"}});
  ::setenv("CHIPGYM_TEST_LLM_KEY", "sk-test-123", 1);
  auto config = config_for(server);
  config.max_tokens = 512;
  auto r = LlmClient(config).chat(kHello);
  ::unsetenv("CHIPGYM_TEST_LLM_KEY");
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.content == "```verilog\nmodule relu_int8; endmodule\n```");
  CHECK(r.attempts == 1);
  CHECK(r.prompt_tokens == 11);
  CHECK(r.completion_tokens == 7);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0]["model"] == "mock-coder");
  CHECK(requests[0]["temperature"] == 0.25);
  CHECK(requests[0]["max_tokens"] == 512);
  CHECK(requests[0]["messages"] == json::parse(R"([{"role":"system","content":"You write Verilog."},{"role":"user","content":"relu, please"}])"));
  CHECK(server.authorization()[0] == "Bearer sk-test-123");
  // Without the variable no key is sent (local servers need none).
  auto again = LlmClient(config_for(server)).chat(kHello);
  CHECK(again.ok);
  CHECK(server.authorization()[1].empty());
}

TEST_CASE("the LLM client retries HTTP 500 with backoff and gives up with the status after its retries") {
  MockServer server({{500, ""}, {503, ""}, {200, "third time lucky"}, {500, ""}, {500, ""}, {500, ""}});
  auto config = config_for(server);
  config.backoff_seconds = 0.05;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = LlmClient(config).chat(kHello);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(r.ok);
  CHECK(r.content == "third time lucky");
  CHECK(r.attempts == 3);
  CHECK(seconds >= 0.05 + 0.1);  // waited 0.05 s, then 0.1 s

  auto failed = LlmClient(config).chat(kHello);
  CHECK_FALSE(failed.ok);
  CHECK(failed.attempts == 3);
  CHECK(failed.http_status == 500);
  CHECK(failed.error_kind == "http");
  CHECK_THAT(failed.error, Catch::Contains("answered HTTP 500") && Catch::Contains("scripted failure") &&
                               Catch::Contains("after 3 attempts"));
}

TEST_CASE("the LLM client does not retry a client error and reports a malformed reply") {
  MockServer server({{400, ""}, {200, "", 0, R"({"choices": []})"}});
  auto bad_request = LlmClient(config_for(server)).chat(kHello);
  CHECK_FALSE(bad_request.ok);
  CHECK(bad_request.attempts == 1);
  CHECK(bad_request.http_status == 400);
  auto config = config_for(server);
  config.max_retries = 0;
  auto malformed = LlmClient(config).chat(kHello);
  CHECK_FALSE(malformed.ok);
  CHECK(malformed.error_kind == "bad_response");
  CHECK_THAT(malformed.error, Catch::Contains("no choices[0].message.content"));
}

TEST_CASE("the LLM client times out a slow server and succeeds on the retry") {
  MockServer server({{200, "too late", 1.5}, {200, "in time"}});
  auto config = config_for(server);
  config.timeout_seconds = 0.4;
  config.max_retries = 0;
  auto slow = LlmClient(config).chat(kHello);
  CHECK_FALSE(slow.ok);
  CHECK(slow.error_kind == "timeout");
  CHECK_THAT(slow.error, Catch::Contains("within 0.4 s"));
  CHECK(slow.seconds < 1.4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // let the slow handler finish

  MockServer retrying({{200, "too late", 1.0}, {200, "in time"}});
  config = config_for(retrying);
  config.timeout_seconds = 0.4;
  auto r = LlmClient(config).chat(kHello);
  INFO(r.error);
  CHECK(r.ok);
  CHECK(r.content == "in time");
  CHECK(r.attempts == 2);
}

TEST_CASE("the LLM client reports an unreachable URL and refuses a malformed one") {
  LlmConfig c;
  c.base_url = "http://127.0.0.1:1/v1";  // nothing listens on port 1
  c.model = "m";
  c.max_retries = 1;
  c.backoff_seconds = 0.01;
  c.timeout_seconds = 2;
  auto r = LlmClient(c).chat(kHello);
  CHECK_FALSE(r.ok);
  CHECK(r.error_kind == "unreachable");
  CHECK(r.attempts == 2);
  CHECK_THAT(r.error, Catch::Contains("cannot reach http://127.0.0.1:1/v1/chat/completions"));
  c.base_url = "ftp://example.org";
  CHECK_THROWS_WITH(LlmClient(c), Catch::Contains("is not http(s)://host[:port][/path]"));
  c.base_url = "http://127.0.0.1:8000/v1";
  c.model = "";
  CHECK_THROWS_WITH(LlmClient(c), Catch::Contains("model name is empty"));
}

TEST_CASE("the LLM client keeps several requests in flight and returns them in order") {
  MockServer server({}, 0.3);  // every answer takes 0.3 s
  auto config = config_for(server);
  config.max_in_flight = 3;
  std::vector<std::vector<ChatMessage>> conversations;
  for (int i = 0; i < 6; ++i) conversations.push_back({{"user", "question " + std::to_string(i)}});
  const auto t0 = std::chrono::steady_clock::now();
  auto results = LlmClient(config).chat_many(conversations);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(results.size() == 6);
  for (int i = 0; i < 6; ++i) {
    CHECK(results[i].ok);
    CHECK(results[i].content == "echo: question " + std::to_string(i));
  }
  CHECK(server.requests().size() == 6);
  CHECK(seconds >= 0.6);  // two rounds of three
  CHECK(seconds < 1.5);   // one at a time would take 1.8 s
}

// ------------------------------------------------------------------ replies to code ---

namespace {
const std::string kParent =
    "module relu_int8 (input wire [7:0] a, output wire [7:0] y);\n"
    "  assign y = a[7] ? 8'd0 : a;\n"
    "endmodule\n";
}  // namespace

TEST_CASE("SEARCH/REPLACE blocks apply in order, exactly, whole lines only") {
  using chipgym::agents::apply_reply;
  const std::string reply =
      "Saturate instead:\n```verilog\n<<<<<<< SEARCH\n  assign y = a[7] ? 8'd0 : a;\n=======\n"
      "  assign y = a[7] ? 8'd0 : (a > 8'd100 ? 8'd100 : a);\n>>>>>>> REPLACE\n```\n"
      "<<<<<<< SEARCH\nmodule relu_int8 (input wire [7:0] a, output wire [7:0] y);   \n=======\n"
      "module relu_int8 (input wire [7:0] a, output wire [7:0] y); // clipped\n>>>>>>> REPLACE\n";
  auto r = apply_reply(kParent, reply);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.kind == "diff");
  CHECK(r.blocks == 2);
  CHECK(r.code ==
        "module relu_int8 (input wire [7:0] a, output wire [7:0] y); // clipped\n"
        "  assign y = a[7] ? 8'd0 : (a > 8'd100 ? 8'd100 : a);\nendmodule\n");
  // A block may delete lines.
  auto del = apply_reply(kParent, "<<<<<<< SEARCH\n  assign y = a[7] ? 8'd0 : a;\n=======\n>>>>>>> REPLACE\n");
  REQUIRE(del.ok);
  CHECK(del.code == "module relu_int8 (input wire [7:0] a, output wire [7:0] y);\nendmodule\n");
}

TEST_CASE("a SEARCH block that does not match exactly is an error, never skipped") {
  using chipgym::agents::apply_reply;
  // Second block is off by one space of indentation: the whole edit fails, naming block 2.
  auto r = apply_reply(kParent,
                       "<<<<<<< SEARCH\nendmodule\n=======\nendmodule // ok\n>>>>>>> REPLACE\n"
                       "<<<<<<< SEARCH\n assign y = a[7] ? 8'd0 : a;\n=======\n assign y = a;\n>>>>>>> REPLACE\n");
  CHECK_FALSE(r.ok);
  CHECK(r.code.empty());
  CHECK_THAT(r.error, Catch::Contains("SEARCH/REPLACE block 2: the SEARCH text does not match the current code exactly") &&
                          Catch::Contains("assign y = a[7]"));
  auto partial_line = apply_reply(kParent, "<<<<<<< SEARCH\n8'd0 : a;\n=======\nx\n>>>>>>> REPLACE\n");
  CHECK_FALSE(partial_line.ok);
  const std::string twice = kParent + kParent;
  auto ambiguous = apply_reply(twice, "<<<<<<< SEARCH\nendmodule\n=======\nendmodule\n>>>>>>> REPLACE\n");
  CHECK_THAT(ambiguous.error, Catch::Contains("matches 2 places"));
  auto unfinished = apply_reply(kParent, "<<<<<<< SEARCH\nendmodule\n=======\nendmodule // x\n");
  CHECK_THAT(unfinished.error, Catch::Contains("block 1 is not finished: no >>>>>>> REPLACE"));
  auto no_divider = apply_reply(kParent, "<<<<<<< SEARCH\nendmodule\n>>>>>>> REPLACE\n");
  CHECK_THAT(no_divider.error, Catch::Contains("no ======= line"));
  auto empty = apply_reply(kParent, "<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n");
  CHECK_THAT(empty.error, Catch::Contains("empty SEARCH part"));
}

TEST_CASE("a full rewrite is taken from the reply's code, and a reply with no code is an error") {
  using chipgym::agents::apply_reply;
  auto fenced = apply_reply(kParent, "Here:\n```python\nprint('module x')\n```\n```verilog\nmodule relu_int8;\nendmodule\n```\nDone.");
  REQUIRE(fenced.ok);
  CHECK(fenced.kind == "rewrite");
  CHECK(fenced.code == "module relu_int8;\nendmodule\n");
  auto bare = apply_reply(kParent, "Sure. module relu_int8; wire x; endmodule  Hope that helps.");
  REQUIRE(bare.ok);
  CHECK(bare.code == "module relu_int8; wire x; endmodule\n");
  auto none = apply_reply(kParent, "I would use a lookup table, but I cannot write it now.");
  CHECK_FALSE(none.ok);
  CHECK_THAT(none.error, Catch::Contains("the reply contains no code"));
}
