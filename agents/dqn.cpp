// DQN, after CleanRL's dqn.py: epsilon-greedy exploration on a linear schedule, a replay
// buffer, a target network updated every target_network_frequency steps (soft with tau < 1),
// and double DQN as an option (the online network picks the next action, the target network
// values it). A MultiDiscrete action gets one Q head per dimension (action branching, as in
// Tavakoli et al.'s BDQ): every branch regresses on r + gamma * (mean over branches of the
// next state's best Q). Illegal choices (masks) are never taken and never bootstrapped from.
// All randomness after initialization comes from one std::mt19937_64 held by checkpoints.
#include <cmath>

#include "agents/agent.h"
#include "agents/rl_config.h"
#include "agents/torch_util.h"

namespace chipgym::agents::rl {

namespace {

class Dqn final : public Learner {
 public:
  Dqn(VecEnv& env, std::uint64_t seed, DqnConfig c) : env_(env), c_(std::move(c)), seed_(seed), rng_(seed) {
    if (env_.num_agents() != 1) throw std::invalid_argument("dqn is single-agent");
    torch::set_num_threads(1);
    nvec_ = env_.nvec(0);
    for (long long n : nvec_) choices_ += n;
    obs_dim_ = env_.obs_dim(0);
    {
      std::lock_guard<std::mutex> lock(tu::init_lock());
      torch::manual_seed(seed);
      q_ = tu::mlp(obs_dim_, c_.hidden, choices_, 1.0);
      target_ = tu::mlp(obs_dim_, c_.hidden, choices_, 1.0);
    }
    copy_target(1.0);
    optimizer_ = std::make_unique<torch::optim::Adam>(q_->parameters(), torch::optim::AdamOptions(c_.learning_rate));
  }

  long long steps() const override { return steps_; }
  long long updates() const override { return updates_; }
  json hyper_parameters() const override { return fields_to_json(c_, dqn_fields()); }

  void learn(long long total_steps, const Hooks& hooks) override {
    const int E = env_.num_envs();
    if (!started_) {
      obs_ = env_.reset(seed_)[0];
      masks_ = current_masks();
      started_ = true;
    }
    while (steps_ < total_steps) {
      // Explore with probability epsilon, else act greedily on the online network.
      const double duration = c_.exploration_fraction * static_cast<double>(total_steps);
      const double slope = duration > 0 ? (c_.end_e - c_.start_e) / duration : -1e300;
      const double epsilon = std::max(c_.end_e, c_.start_e + slope * static_cast<double>(steps_));
      std::vector<Action> actions;
      {
        torch::NoGradGuard no_grad;
        auto q = q_->forward(tu::rows(obs_, obs_dim_));
        for (int e = 0; e < E; ++e) {
          const auto& m = masks_[static_cast<std::size_t>(e)];
          Action a;
          if (tu::uniform(rng_) < epsilon) {
            long long at = 0;
            for (long long n : nvec_) {
              std::vector<long long> legal;
              for (long long i = 0; i < n; ++i)
                if (m[static_cast<std::size_t>(at + i)]) legal.push_back(i);
              a.push_back(legal.empty() ? 0 : legal[rng_() % legal.size()]);
              at += n;
            }
          } else {
            a = best(q[e], m);
          }
          actions.push_back(std::move(a));
        }
      }
      VecEnv::Step s = env_.step({actions});
      auto next_masks = current_masks();
      for (int e = 0; e < E; ++e) {
        const auto u = static_cast<std::size_t>(e);
        // After a done, s.obs is the next episode's start; the target ignores it (1 - done).
        remember(obs_[u], actions[u], s.reward[u], s.obs[0][u], next_masks[u], s.done[u]);
      }
      obs_ = std::move(s.obs[0]);
      masks_ = std::move(next_masks);
      steps_ += E;
      ++iterations_;

      if (steps_ > c_.learning_starts && iterations_ % c_.train_frequency == 0 && size_ > 0) {
        const double loss = train_step();
        ++updates_;
        if (hooks.on_update)
          hooks.on_update({{"update", updates_}, {"steps", steps_}, {"td_loss", loss}, {"epsilon", epsilon},
                           {"buffer", size_}});
      }
      if (iterations_ % c_.target_network_frequency == 0) copy_target(c_.tau);
    }
  }

  std::vector<Action> act_greedy(const std::vector<Obs>& obs, const std::vector<std::vector<char>>& masks) override {
    torch::NoGradGuard no_grad;
    auto q = q_->forward(tu::rows({obs.at(0)}, obs_dim_));
    std::vector<char> m = masks.empty() ? std::vector<char>(static_cast<std::size_t>(choices_), 1) : masks[0];
    return {best(q[0], m)};
  }

  void save(const std::filesystem::path& file) const override {
    torch::serialize::OutputArchive archive, q, target, opt, buffer;
    q_->save(q);
    target_->save(target);
    optimizer_->save(opt);
    archive.write("q", q);
    archive.write("target", target);
    archive.write("optimizer", opt);
    buffer.write("obs", buf_obs_.narrow(0, 0, size_));
    buffer.write("next_obs", buf_next_.narrow(0, 0, size_));
    buffer.write("actions", buf_act_.narrow(0, 0, size_));
    buffer.write("rewards", buf_rew_.narrow(0, 0, size_));
    buffer.write("dones", buf_done_.narrow(0, 0, size_));
    buffer.write("next_masks", buf_mask_.narrow(0, 0, size_));
    archive.write("buffer", buffer);
    tu::write_json(archive, "state",
                   {{"identity", identity()}, {"steps", steps_}, {"updates", updates_}, {"iterations", iterations_},
                    {"started", started_}, {"rng", tu::rng_state(rng_)}, {"obs", obs_}, {"masks", masks_},
                    {"buffer_pos", pos_}, {"buffer_size", size_}, {"config", hyper_parameters()}});
    archive.save_to(file.string());
  }

  void load(const std::filesystem::path& file) override {
    try {
      torch::serialize::InputArchive archive, q, target, opt, buffer;
      archive.load_from(file.string());
      json s = tu::read_json(archive, "state");
      if (s.value("identity", json()) != identity())
        throw CheckpointError("checkpoint " + file.string() + " is for " + s.value("identity", json()).dump() +
                              ", not for this learner " + identity().dump());
      archive.read("q", q);
      archive.read("target", target);
      archive.read("optimizer", opt);
      archive.read("buffer", buffer);
      q_->load(q);
      target_->load(target);
      optimizer_->load(opt);
      size_ = s.at("buffer_size");
      pos_ = s.at("buffer_pos");
      allocate();
      const std::pair<const char*, torch::Tensor*> parts[] = {{"obs", &buf_obs_},       {"next_obs", &buf_next_},
                                                              {"actions", &buf_act_},   {"rewards", &buf_rew_},
                                                              {"dones", &buf_done_},    {"next_masks", &buf_mask_}};
      for (const auto& [name, dst] : parts) {
        torch::Tensor t;  // a fresh tensor each time: read() into a defined tensor replaces its storage
        buffer.read(name, t);
        if (t.size(0) != size_) throw CheckpointError("checkpoint " + file.string() + ": replay buffer of the wrong size");
        dst->narrow(0, 0, size_).copy_(t);
      }
      steps_ = s.at("steps");
      updates_ = s.at("updates");
      iterations_ = s.at("iterations");
      started_ = s.at("started");
      tu::set_rng_state(rng_, s.at("rng"));
      obs_ = s.at("obs").get<std::vector<Obs>>();
      masks_ = s.at("masks").get<std::vector<std::vector<char>>>();
    } catch (const CheckpointError&) {
      throw;
    } catch (const std::exception& e) {
      std::string what = e.what();
      throw CheckpointError("cannot read checkpoint " + file.string() + ": " + what.substr(0, what.find('\n')));
    }
  }

 private:
  json identity() const { return {{"algorithm", "dqn"}, {"obs", obs_dim_}, {"nvec", nvec_}, {"hidden", c_.hidden}}; }

  std::vector<std::vector<char>> current_masks() const {
    auto m = env_.masks();
    if (m.empty()) return std::vector<std::vector<char>>(static_cast<std::size_t>(env_.num_envs()),
                                                         std::vector<char>(static_cast<std::size_t>(choices_), 1));
    return m[0];
  }

  // The best legal choice of every branch.
  Action best(const torch::Tensor& q, const std::vector<char>& mask) const {
    auto m = tu::mask_tensor({mask}, 1, choices_)[0];
    auto masked = q.masked_fill(m.logical_not(), -1e30);
    Action a;
    std::int64_t at = 0;
    for (long long n : nvec_) {
      a.push_back(masked.narrow(0, at, n).argmax().item<std::int64_t>());
      at += n;
    }
    return a;
  }

  void allocate() {
    const std::int64_t cap = c_.buffer_size, dims = static_cast<std::int64_t>(nvec_.size());
    if (buf_obs_.defined()) return;
    buf_obs_ = torch::zeros({cap, obs_dim_});
    buf_next_ = torch::zeros({cap, obs_dim_});
    buf_act_ = torch::zeros({cap, dims}, torch::kInt64);
    buf_rew_ = torch::zeros({cap});
    buf_done_ = torch::zeros({cap});
    buf_mask_ = torch::zeros({cap, choices_}, torch::kBool);
  }

  void remember(const Obs& o, const Action& a, double r, const Obs& next, const std::vector<char>& next_mask, bool done) {
    allocate();
    buf_obs_[pos_].copy_(tu::rows({o}, obs_dim_)[0]);
    buf_next_[pos_].copy_(tu::rows({next}, obs_dim_)[0]);
    buf_act_[pos_].copy_(torch::tensor(std::vector<std::int64_t>(a.begin(), a.end()), torch::kInt64));
    buf_rew_[pos_] = static_cast<float>(r);
    buf_done_[pos_] = done ? 1.0f : 0.0f;
    buf_mask_[pos_].copy_(tu::mask_tensor({next_mask}, 1, choices_)[0]);
    pos_ = (pos_ + 1) % c_.buffer_size;
    size_ = std::min(size_ + 1, c_.buffer_size);
  }

  double train_step() {
    std::vector<std::int64_t> pick;
    for (long long i = 0; i < c_.batch_size; ++i) pick.push_back(static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(size_)));
    auto idx = torch::tensor(pick, torch::kInt64);
    auto obs = buf_obs_.index_select(0, idx), next = buf_next_.index_select(0, idx);
    auto act = buf_act_.index_select(0, idx), rew = buf_rew_.index_select(0, idx), done = buf_done_.index_select(0, idx);
    auto next_mask = buf_mask_.index_select(0, idx);
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      auto q_next_target = target_->forward(next).masked_fill(next_mask.logical_not(), -1e30);
      auto q_next_online = c_.double_dqn ? q_->forward(next).masked_fill(next_mask.logical_not(), -1e30) : torch::Tensor();
      torch::Tensor next_value = torch::zeros({c_.batch_size});
      std::int64_t at = 0;
      for (long long n : nvec_) {
        auto branch_target = q_next_target.narrow(1, at, n);
        torch::Tensor v = c_.double_dqn
                              ? branch_target.gather(1, q_next_online.narrow(1, at, n).argmax(1, true)).squeeze(1)
                              : std::get<0>(branch_target.max(1));
        next_value = next_value + v;
        at += n;
      }
      next_value = next_value / static_cast<double>(nvec_.size());
      // A state with no legal choice (never in our environments) would bootstrap -1e30.
      next_value = torch::where(next_value < -1e29, torch::zeros_like(next_value), next_value);
      target = rew + c_.gamma * next_value * (1.0 - done);
    }
    auto q = q_->forward(obs);
    torch::Tensor loss = torch::zeros({});
    std::int64_t at = 0;
    for (std::size_t d = 0; d < nvec_.size(); ++d) {
      auto chosen = q.narrow(1, at, nvec_[d]).gather(1, act.select(1, static_cast<std::int64_t>(d)).unsqueeze(1)).squeeze(1);
      loss = loss + torch::mse_loss(chosen, target);
      at += nvec_[d];
    }
    loss = loss / static_cast<double>(nvec_.size());
    const double value = loss.item<double>();
    if (!std::isfinite(value))
      throw NanLoss("DQN loss is not finite at update " + std::to_string(updates_ + 1) + " (step " + std::to_string(steps_) +
                    "); the network was not changed by it");
    optimizer_->zero_grad();
    loss.backward();
    if (c_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(q_->parameters(), c_.max_grad_norm);
    optimizer_->step();
    return value;
  }

  void copy_target(double tau) {
    torch::NoGradGuard no_grad;
    auto src = q_->parameters(), dst = target_->parameters();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(tau * src[i] + (1.0 - tau) * dst[i]);
  }

  VecEnv& env_;
  DqnConfig c_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<long long> nvec_;
  long long choices_ = 0;
  int obs_dim_ = 0;
  torch::nn::Sequential q_, target_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  torch::Tensor buf_obs_, buf_next_, buf_act_, buf_rew_, buf_done_, buf_mask_;
  long long pos_ = 0, size_ = 0;
  long long steps_ = 0, updates_ = 0, iterations_ = 0;
  bool started_ = false;
  std::vector<Obs> obs_;
  std::vector<std::vector<char>> masks_;
};

}  // namespace

std::unique_ptr<Learner> make_dqn(VecEnv& env, std::uint64_t seed, const DqnConfig& config) {
  return std::make_unique<Dqn>(env, seed, config);
}

namespace {

Agent dqn_agent() {
  Agent a;
  a.name = "dqn";
  a.kind = AgentKind::rl;
  a.description = "deep Q-learning with replay and a target network (double DQN as an option), one Q head per parameter";
  a.defaults = fields_to_json(DqnConfig{}, dqn_fields());
  a.order = 110;
  // For a design search, chosen as PPO's (agents/ppo.cpp).
  a.search_defaults = {{"num_envs", 8},    {"learning_rate", 0.003},        {"learning_starts", 16},
                       {"train_frequency", 1}, {"batch_size", 32},         {"target_network_frequency", 8},
                       {"exploration_fraction", 0.5}, {"buffer_size", 10000}};
  a.resolve_hyper = [](const json& hyper) {
    DqnConfig c = fields_from_json(hyper, dqn_fields(), "dqn");
    if (c.end_e > c.start_e) throw std::invalid_argument("dqn end_e must not exceed start_e");
    return fields_to_json(c, dqn_fields());
  };
  a.make_learner = [](VecEnv& env, std::uint64_t seed, const json& resolved) {
    return make_dqn(env, seed, fields_from_json(resolved, dqn_fields(), "dqn"));
  };
  return a;
}

const Registration<Agent> registered{dqn_agent()};

}  // namespace

}  // namespace chipgym::agents::rl
