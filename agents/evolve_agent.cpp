// The evolutionary kernel-writer as an entry of the agent registry: findable by name, with its
// settings and their defaults. Its loop (kernels/evolve.h) runs as its own command,
// `chipgym evolve --task T`, not as an agent of train or compare.
#include "agents/agent.h"
#include "kernels/evolve.h"

namespace chipgym::agents {

namespace {

Agent evolve_agent() {
  Agent a;
  a.name = "evolve";
  a.kind = AgentKind::evolve;
  a.description =
      "evolves programs (a kernel's Verilog, a design's parameters or one module) from a MAP-Elites database, "
      "with an LLM or an offline mutation proposer";
  a.defaults = kernels::EvolveConfig{}.to_json();
  a.defaults.erase("task");
  a.order = 200;
  a.command = "chipgym evolve --task T";
  return a;
}

const Registration<Agent> registered{evolve_agent()};

}  // namespace

}  // namespace chipgym::agents
