// The "llm" searcher: a language model behind an OpenAI-compatible chat-completions endpoint
// proposes designs of a parametric task. Each ask() builds a prompt (the task, its objective,
// the searched parameters with their values, the best and the last evaluated designs with
// their rewards, feedback on the previous answer) and parses the reply, a JSON list of
// {parameter: value} objects. Invalid or missing proposals become seeded random designs not
// evaluated yet, and the reason goes into the next prompt.
//
// Hyper-parameters: url (default $CHIPGYM_LLM_URL), model ($CHIPGYM_LLM_MODEL, else
// "default"), temperature (0.2), timeout (60 s per attempt), retries (2, the client's); the
// key comes from $CHIPGYM_LLM_KEY or $OPENAI_API_KEY. `chipgym train` adds "task" (the
// Task as JSON) and "transcript" (<run>/llm.jsonl); those two are not recorded in config.json.
//
// Resume: every model call is a line of the transcript with the SHA-256 of its prompt. A new
// searcher answers a prompt whose hash matches the next recorded call from the file, so a
// killed run replays to the same designs without calling the model. A failed call (after the
// client's retries) gives random designs and a warning line; three failed calls in a row throw.
#pragma once
#include "agents/searcher.h"

namespace chipgym::agents {

AgentInfo llm_agent_info();

}  // namespace chipgym::agents
