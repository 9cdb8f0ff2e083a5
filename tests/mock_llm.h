// The stand-in LLM of the tests: an OpenAI-compatible server on 127.0.0.1 that the test starts
// and stops, answering POST /v1/chat/completions from a script. It records every request.
#pragma once
#include <httplib.h>

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace test_support {

// One scripted answer: a reply text, an HTTP error, or a delay before answering.
struct MockStep {
  MockStep(int status_ = 200, std::string content_ = "", double delay = 0, std::string raw = "")
      : status(status_), content(std::move(content_)), delay_seconds(delay), raw_body(std::move(raw)) {}
  int status;
  std::string content;   // for 200: choices[0].message.content
  double delay_seconds;  // before answering
  std::string raw_body;  // sent as is when not empty
};

class MockLlmServer {
 public:
  using json = nlohmann::json;
  // What is answered once the script has run out, given the request (default: HTTP 400).
  using After = std::function<MockStep(const json& request)>;
  // `usage` is reported with every 200 answer (null: none).
  explicit MockLlmServer(std::vector<MockStep> script, After after = {},
                         json usage = {{"prompt_tokens", 100}, {"completion_tokens", 20}, {"total_tokens", 120}})
      : script_(script.begin(), script.end()), after_(std::move(after)), usage_(std::move(usage)) {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      MockStep step(400, "");
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(json::parse(req.body));
        authorization_.push_back(req.get_header_value("Authorization"));
        if (!script_.empty()) {
          step = script_.front();
          script_.pop_front();
        } else if (after_) {
          step = after_(requests_.back());
        }
      }
      if (step.delay_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(step.delay_seconds));
      res.status = step.status;
      if (!step.raw_body.empty()) {
        res.set_content(step.raw_body, "application/json");
      } else if (step.status == 200) {
        json reply = {{"id", "chatcmpl-test"}, {"object", "chat.completion"},
                      {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", step.content}}},
                                    {"finish_reason", "stop"}}}}};
        if (!usage_.is_null()) reply["usage"] = usage_;
        res.set_content(reply.dump(), "application/json");
      } else {
        res.set_content(R"({"error": {"message": "scripted failure"}})", "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 200 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~MockLlmServer() { stop(); }
  MockLlmServer(const MockLlmServer&) = delete;
  MockLlmServer& operator=(const MockLlmServer&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<json> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::string> authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  // The last message of every request (the user prompt), in order.
  std::vector<std::string> prompts() {
    std::vector<std::string> out;
    for (const auto& r : requests()) out.push_back(r["messages"].back()["content"].get<std::string>());
    return out;
  }
  std::string prompt(std::size_t k) { return prompts().at(k); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::deque<MockStep> script_;
  After after_;
  json usage_;
  std::vector<json> requests_;
  std::vector<std::string> authorization_;
};

}  // namespace test_support
