// A client for OpenAI-compatible chat-completions servers (OpenAI, vLLM, llama.cpp server,
// Ollama's /v1, ...): POST {base_url}/chat/completions with the model, the messages and the
// temperature; the reply's choices[0].message.content is the answer. Transient failures
// (connection refused, timeouts, HTTP 429 and 5xx) are retried with exponential backoff;
// other HTTP errors are not. A failure is a value (ChatResult::ok == false), never an
// exception: the evolutionary loop feeds it back or counts it against its budget.
#pragma once
#include <string>
#include <vector>

namespace chipgym::agents {

struct LlmConfig {
  std::string base_url;                       // e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1
  std::string model;                          // e.g. gpt-4o-mini
  std::string api_key_env = "OPENAI_API_KEY"; // the environment variable holding the key; unset = no key sent
  double temperature = 0.7;
  int max_tokens = 0;                         // 0: not sent (the server's default)
  double timeout_seconds = 120;               // connect, read and write, per attempt
  int max_retries = 3;                        // attempts = 1 + max_retries
  double backoff_seconds = 1.0;               // wait before retry k (k = 0, 1, ...): backoff * 2^k
  int max_in_flight = 4;                      // chat_many: requests at once
};

struct ChatMessage {
  std::string role;  // system, user, assistant
  std::string content;
};

struct ChatResult {
  bool ok = false;
  std::string content;         // the model's reply when ok
  std::string error_kind;      // unreachable, timeout, http, bad_response (when !ok)
  std::string error;           // one line naming the URL and what happened
  int http_status = 0;         // of the last attempt (0: no HTTP answer)
  int attempts = 0;
  long long prompt_tokens = 0;      // from "usage", when the server reports it
  long long completion_tokens = 0;
  double seconds = 0;
};

class LlmClient {
 public:
  // Throws hdl::ParamError for a base URL that is not http(s)://host[:port][/path] or an empty model.
  explicit LlmClient(LlmConfig config);
  const LlmConfig& config() const { return config_; }
  // One conversation, retried as configured. Thread-safe.
  ChatResult chat(const std::vector<ChatMessage>& messages) const;
  // Several conversations, at most max_in_flight at once; results in the order given.
  std::vector<ChatResult> chat_many(const std::vector<std::vector<ChatMessage>>& conversations) const;

 private:
  LlmConfig config_;
  std::string scheme_host_port_;  // http://127.0.0.1:8000
  std::string path_;              // /v1/chat/completions
};

}  // namespace chipgym::agents
