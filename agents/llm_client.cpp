#include "agents/llm_client.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "hdl/param_space.h"

namespace chipgym::agents {

namespace {

using json = nlohmann::json;

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string clip(const std::string& s, std::size_t n = 300) {
  std::string out = s.size() > n ? s.substr(0, n) + " ..." : s;
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string seconds_text(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

}  // namespace

LlmClient::LlmClient(LlmConfig config) : config_(std::move(config)) {
  static const std::regex url_re(R"(^(https?://[A-Za-z0-9.\-\[\]:]+?(?::\d+)?)(/[^?#]*)?$)");
  std::smatch m;
  if (!std::regex_match(config_.base_url, m, url_re))
    throw hdl::ParamError("LLM base URL '" + config_.base_url + "' is not http(s)://host[:port][/path]");
  if (config_.model.empty()) throw hdl::ParamError("LLM model name is empty");
  if (config_.timeout_seconds <= 0) throw hdl::ParamError("LLM timeout must be positive");
  if (config_.max_retries < 0) throw hdl::ParamError("LLM retries must be >= 0");
  scheme_host_port_ = m[1];
  std::string path = m[2].matched ? m[2].str() : "";
  while (!path.empty() && path.back() == '/') path.pop_back();
  path_ = path + "/chat/completions";
}

ChatResult LlmClient::chat(const std::vector<ChatMessage>& messages) const {
  const auto t0 = std::chrono::steady_clock::now();
  json body = {{"model", config_.model}, {"temperature", config_.temperature}, {"messages", json::array()}};
  for (const auto& msg : messages) body["messages"].push_back({{"role", msg.role}, {"content", msg.content}});
  if (config_.max_tokens > 0) body["max_tokens"] = config_.max_tokens;
  const std::string payload = body.dump();
  httplib::Headers headers;
  if (!config_.api_key_env.empty())
    if (const char* key = std::getenv(config_.api_key_env.c_str()); key && *key)
      headers.emplace("Authorization", std::string("Bearer ") + key);

  const std::string url = scheme_host_port_ + path_;
  const auto timeout = std::chrono::microseconds(static_cast<long long>(config_.timeout_seconds * 1e6));
  ChatResult r;
  for (int attempt = 0; attempt <= config_.max_retries; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(config_.backoff_seconds * std::pow(2.0, attempt - 1)));
    r = ChatResult{};
    r.attempts = attempt + 1;
    httplib::Client client(scheme_host_port_);
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);
    const auto a0 = std::chrono::steady_clock::now();
    auto res = client.Post(path_, headers, payload, "application/json");
    bool retry = false;
    if (!res) {
      const auto err = res.error();
      const bool timed_out = err == httplib::Error::ConnectionTimeout ||
                             (err == httplib::Error::Read && since(a0) >= config_.timeout_seconds * 0.9);
      r.error_kind = timed_out ? "timeout" : "unreachable";
      r.error = timed_out ? "no answer from " + url + " within " + seconds_text(config_.timeout_seconds) + " s"
                          : "cannot reach " + url + ": " + httplib::to_string(err);
      retry = true;
    } else {
      r.http_status = res->status;
      if (res->status != 200) {
        r.error_kind = "http";
        r.error = url + " answered HTTP " + std::to_string(res->status) + ": " + clip(res->body);
        retry = res->status == 429 || res->status >= 500;
      } else {
        try {
          const json reply = json::parse(res->body);
          const json& content = reply.at("choices").at(0).at("message").at("content");
          if (!content.is_string()) throw std::runtime_error("message.content is not a string");
          r.content = content.get<std::string>();
          if (reply.contains("usage") && reply["usage"].is_object()) {
            r.prompt_tokens = reply["usage"].value("prompt_tokens", 0LL);
            r.completion_tokens = reply["usage"].value("completion_tokens", 0LL);
          }
          r.ok = true;
        } catch (const std::exception& e) {
          r.error_kind = "bad_response";
          r.error = url + " answered with no choices[0].message.content (" + clip(e.what(), 120) + "): " + clip(res->body, 200);
        }
      }
    }
    if (r.ok || !retry) break;
  }
  if (!r.ok && r.attempts > 1) r.error += " (after " + std::to_string(r.attempts) + " attempts)";
  r.seconds = since(t0);
  return r;
}

std::vector<ChatResult> LlmClient::chat_many(const std::vector<std::vector<ChatMessage>>& conversations) const {
  std::vector<ChatResult> results(conversations.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < conversations.size();) results[i] = chat(conversations[i]);
  };
  const std::size_t workers = std::min<std::size_t>(std::max(1, config_.max_in_flight), conversations.size());
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(worker);
  if (workers > 0) worker();
  for (auto& t : pool) t.join();
  return results;
}

}  // namespace chipgym::agents
