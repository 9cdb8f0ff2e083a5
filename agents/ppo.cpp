// PPO, after CleanRL's ppo.py, in three modes that share one loop:
//   ppo    one agent: an actor (one categorical head per action dimension) and a critic;
//   ippo   independent PPO: every agent group has its own actor and its own critic on its
//          own observation, all trained on the one team reward;
//   mappo  every agent has its own actor on its own observation; one centralized critic
//          sees the joint observation (all agents' observations side by side).
// One Adam optimizer holds every parameter, and gradients are clipped per network: since
// Adam is elementwise, that is the same as one optimizer per actor and per critic.
// All sampling (actions, minibatch order) uses one std::mt19937_64 that checkpoints hold,
// and torch runs on one thread, so a resumed run repeats an uninterrupted one exactly.
#include <cmath>

#include "agents/agent.h"
#include "agents/rl_config.h"
#include "agents/torch_util.h"

namespace chipgym::agents::rl {

namespace {

class Ppo final : public Learner {
 public:
  Ppo(std::string mode, VecEnv& env, std::uint64_t seed, PpoConfig c)
      : mode_(std::move(mode)), env_(env), c_(std::move(c)), seed_(seed), rng_(seed) {
    torch::set_num_threads(1);
    std::lock_guard<std::mutex> lock(tu::init_lock());
    torch::manual_seed(seed);  // network initialization only
    agents_ = env_.num_agents();
    for (int a = 0; a < agents_; ++a) {
      long long choices = 0;
      for (long long n : env_.nvec(a)) choices += n;
      choices_.push_back(choices);
      actors_.push_back(tu::mlp(env_.obs_dim(a), c_.hidden, choices, 0.01));
      if (mode_ != "mappo") critics_.push_back(tu::mlp(env_.obs_dim(a), c_.hidden, 1, 1.0));
    }
    if (mode_ == "mappo") {
      int joint = 0;
      for (int a = 0; a < agents_; ++a) joint += env_.obs_dim(a);
      critics_.push_back(tu::mlp(joint, c_.hidden, 1, 1.0));
    }
    auto params = tu::parameters_of(actors_);
    for (const auto& p : tu::parameters_of(critics_)) params.push_back(p);
    optimizer_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(c_.learning_rate).eps(1e-5));
  }

  long long steps() const override { return steps_; }
  long long updates() const override { return updates_; }
  json hyper_parameters() const override { return fields_to_json(c_, ppo_fields()); }

  void learn(long long total_steps, const Hooks& hooks) override {
    const int E = env_.num_envs(), A = agents_;
    const long long T = c_.num_steps, batch = T * E;
    if (!started_) {
      next_obs_ = env_.reset(seed_);
      next_done_.assign(static_cast<std::size_t>(E), 0);
      started_ = true;
    }
    // Learning-rate annealing runs over the rollouts that fit in the budget.
    const long long num_updates = std::max<long long>(1, total_steps / batch);

    while (steps_ < total_steps) {
      if (c_.anneal_lr) {
        const double frac = std::max(0.0, 1.0 - static_cast<double>(updates_) / static_cast<double>(num_updates));
        set_learning_rate(frac * c_.learning_rate);
      }

      // 1. Rollout: T steps of every environment with the current policy.
      std::vector<std::vector<torch::Tensor>> obs(A), actions(A), logprobs(A), masks(A);
      std::vector<std::vector<torch::Tensor>> values(critics_.size());
      std::vector<torch::Tensor> rewards, dones;
      for (long long t = 0; t < T; ++t) {
        if (steps_ >= total_steps) return;  // budget spent mid-rollout: no update on a partial batch
        auto env_masks = env_.masks();
        std::vector<std::vector<Action>> act(A);
        {
          torch::NoGradGuard no_grad;
          for (int a = 0; a < A; ++a) {
            auto o = tu::rows(next_obs_[static_cast<std::size_t>(a)], env_.obs_dim(a));
            auto m = tu::mask_tensor(env_masks.empty() ? std::vector<std::vector<char>>{} : env_masks[static_cast<std::size_t>(a)],
                                     E, choices_[static_cast<std::size_t>(a)]);
            tu::MultiCategorical dist(actors_[static_cast<std::size_t>(a)]->forward(o), m, env_.nvec(a));
            std::vector<long long> flat;
            for (int e = 0; e < E; ++e) {
              Action x;
              for (const auto& lp : dist.log_probs) x.push_back(tu::sample(lp[e], rng_));
              flat.insert(flat.end(), x.begin(), x.end());
              act[static_cast<std::size_t>(a)].push_back(std::move(x));
            }
            auto at = torch::tensor(std::vector<std::int64_t>(flat.begin(), flat.end()), torch::kInt64).view({E, static_cast<std::int64_t>(env_.nvec(a).size())});
            obs[a].push_back(o);
            masks[a].push_back(m);
            actions[a].push_back(at);
            logprobs[a].push_back(dist.log_prob(at));
          }
          for (std::size_t k = 0; k < critics_.size(); ++k)
            values[k].push_back(critics_[k]->forward(critic_input(k, next_obs_)).squeeze(1));
        }
        dones.push_back(torch::tensor(std::vector<float>(next_done_.begin(), next_done_.end())));
        VecEnv::Step s = env_.step(act);
        steps_ += E;
        rewards.push_back(torch::tensor(std::vector<float>(s.reward.begin(), s.reward.end())));
        next_obs_ = std::move(s.obs);
        next_done_ = std::move(s.done);
      }

      // 2. Generalized advantage estimation, per critic, on the team reward. An episode
      //    that ended (terminated or truncated) is not bootstrapped, as in CleanRL.
      const auto next_done = torch::tensor(std::vector<float>(next_done_.begin(), next_done_.end()));
      std::vector<torch::Tensor> advantages, returns;
      {
        torch::NoGradGuard no_grad;
        for (std::size_t k = 0; k < critics_.size(); ++k) {
          auto next_value = critics_[k]->forward(critic_input(k, next_obs_)).squeeze(1);
          std::vector<torch::Tensor> adv(static_cast<std::size_t>(T));
          torch::Tensor last = torch::zeros({E});
          for (long long t = T - 1; t >= 0; --t) {
            auto u = static_cast<std::size_t>(t);
            auto nonterminal = 1.0 - (t == T - 1 ? next_done : dones[u + 1]);
            auto next_v = t == T - 1 ? next_value : values[k][u + 1];
            auto delta = rewards[u] + c_.gamma * next_v * nonterminal - values[k][u];
            last = delta + c_.gamma * c_.gae_lambda * nonterminal * last;
            adv[u] = last;
          }
          advantages.push_back(torch::stack(adv).reshape({batch}));
          returns.push_back(advantages.back() + torch::stack(values[k]).reshape({batch}));
        }
      }

      // 3. Flatten the batch.
      std::vector<torch::Tensor> b_obs, b_actions, b_logprobs, b_masks, b_values;
      for (int a = 0; a < A; ++a) {
        b_obs.push_back(torch::cat(obs[a]));
        b_actions.push_back(torch::cat(actions[a]));
        b_logprobs.push_back(torch::cat(logprobs[a]));
        b_masks.push_back(torch::cat(masks[a]));
      }
      for (std::size_t k = 0; k < critics_.size(); ++k) b_values.push_back(torch::stack(values[k]).reshape({batch}));
      std::vector<torch::Tensor> b_critic_in;
      for (std::size_t k = 0; k < critics_.size(); ++k)
        b_critic_in.push_back(mode_ == "mappo" ? torch::cat(b_obs, 1) : b_obs[k]);

      // 4. Optimize the clipped surrogate for update_epochs epochs of minibatches.
      auto params = all_parameters();
      const auto before = tu::copy_parameters(params);
      const long long minibatch = std::max<long long>(1, batch / c_.num_minibatches);
      double pg_sum = 0, v_sum = 0, ent_sum = 0, kl = 0, clipfrac = 0;
      long long n_minibatches = 0;
      for (long long epoch = 0; epoch < c_.update_epochs; ++epoch) {
        auto order = tu::permutation(batch, rng_);
        for (long long start = 0; start < batch; start += minibatch) {
          const long long len = std::min(minibatch, batch - start);
          auto mb = torch::tensor(std::vector<std::int64_t>(order.begin() + start, order.begin() + start + len), torch::kInt64);
          torch::Tensor loss = torch::zeros({});
          for (int a = 0; a < A; ++a) {
            tu::MultiCategorical dist(actors_[static_cast<std::size_t>(a)]->forward(b_obs[a].index_select(0, mb)),
                                      b_masks[a].index_select(0, mb), env_.nvec(a));
            auto new_logprob = dist.log_prob(b_actions[a].index_select(0, mb));
            auto logratio = new_logprob - b_logprobs[a].index_select(0, mb);
            auto ratio = logratio.exp();
            {
              torch::NoGradGuard no_grad;
              kl = ((ratio - 1) - logratio).mean().item<double>();  // the k3 estimator
              clipfrac += ((ratio - 1.0).abs() > c_.clip_coef).to(torch::kFloat32).mean().item<double>() / A;
            }
            auto mb_adv = advantages[critic_of(a)].index_select(0, mb);
            if (c_.norm_adv && len > 1) mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8);
            auto pg_loss = torch::max(-mb_adv * ratio, -mb_adv * torch::clamp(ratio, 1 - c_.clip_coef, 1 + c_.clip_coef)).mean();
            auto entropy = dist.entropy().mean();
            loss = loss + pg_loss - c_.ent_coef * entropy;
            pg_sum += pg_loss.item<double>();
            ent_sum += entropy.item<double>();
          }
          for (std::size_t k = 0; k < critics_.size(); ++k) {
            auto new_value = critics_[k]->forward(b_critic_in[k].index_select(0, mb)).squeeze(1);
            auto mb_ret = returns[k].index_select(0, mb), mb_val = b_values[k].index_select(0, mb);
            torch::Tensor v_loss;
            if (c_.clip_vloss) {
              auto unclipped = (new_value - mb_ret).pow(2);
              auto clipped = mb_val + torch::clamp(new_value - mb_val, -c_.clip_coef, c_.clip_coef);
              v_loss = 0.5 * torch::max(unclipped, (clipped - mb_ret).pow(2)).mean();
            } else {
              v_loss = 0.5 * (new_value - mb_ret).pow(2).mean();
            }
            loss = loss + c_.vf_coef * v_loss;
            v_sum += v_loss.item<double>();
          }
          if (!std::isfinite(loss.item<double>())) {
            tu::restore_parameters(params, before);
            throw NanLoss("PPO loss is not finite at update " + std::to_string(updates_ + 1) + " (step " +
                          std::to_string(steps_) + "); parameters restored to before this update");
          }
          optimizer_->zero_grad();
          loss.backward();
          clip_gradients();
          optimizer_->step();
          ++n_minibatches;
        }
        if (c_.target_kl > 0 && kl > c_.target_kl) break;
      }
      ++updates_;
      if (hooks.on_update) {
        const double n = static_cast<double>(std::max<long long>(1, n_minibatches));
        hooks.on_update({{"update", updates_},
                         {"steps", steps_},
                         {"learning_rate", current_learning_rate()},
                         {"policy_loss", pg_sum / n / A},
                         {"value_loss", v_sum / n / static_cast<double>(critics_.size())},
                         {"entropy", ent_sum / n / A},
                         {"approx_kl", kl},
                         {"clipfrac", clipfrac / n},
                         {"mean_reward", torch::stack(rewards).mean().item<double>()}});
      }
    }
  }

  std::vector<Action> act_greedy(const std::vector<Obs>& obs, const std::vector<std::vector<char>>& masks) override {
    torch::NoGradGuard no_grad;
    std::vector<Action> out;
    for (int a = 0; a < agents_; ++a) {
      auto o = tu::rows({obs.at(static_cast<std::size_t>(a))}, env_.obs_dim(a));
      auto m = tu::mask_tensor(masks.empty() ? std::vector<std::vector<char>>{} : std::vector<std::vector<char>>{masks[static_cast<std::size_t>(a)]},
                               1, choices_[static_cast<std::size_t>(a)]);
      tu::MultiCategorical dist(actors_[static_cast<std::size_t>(a)]->forward(o), m, env_.nvec(a));
      out.push_back(dist.greedy(0));
    }
    return out;
  }

  void save(const std::filesystem::path& file) const override {
    torch::serialize::OutputArchive archive;
    for (std::size_t i = 0; i < actors_.size(); ++i) {
      torch::serialize::OutputArchive sub;
      actors_[i]->save(sub);
      archive.write("actor" + std::to_string(i), sub);
    }
    for (std::size_t i = 0; i < critics_.size(); ++i) {
      torch::serialize::OutputArchive sub;
      critics_[i]->save(sub);
      archive.write("critic" + std::to_string(i), sub);
    }
    torch::serialize::OutputArchive opt;
    optimizer_->save(opt);
    archive.write("optimizer", opt);
    tu::write_json(archive, "state", state());
    archive.save_to(file.string());
  }

  void load(const std::filesystem::path& file) override { read(file, true); }
  void load_weights(const std::filesystem::path& file) override { read(file, false); }

 private:
  // The networks of `file` (after checking they are this learner's shapes), and with `all` the
  // optimizer and the loop state too.
  void read(const std::filesystem::path& file, bool all) {
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(file.string());
      json s = tu::read_json(archive, "state");
      const json mine = identity();
      if (s.value("identity", json()) != mine)
        throw CheckpointError("checkpoint " + file.string() + " is for " + s.value("identity", json()).dump() +
                              ", not for this learner " + mine.dump());
      for (std::size_t i = 0; i < actors_.size(); ++i) {
        torch::serialize::InputArchive sub;
        archive.read("actor" + std::to_string(i), sub);
        actors_[i]->load(sub);
      }
      for (std::size_t i = 0; i < critics_.size(); ++i) {
        torch::serialize::InputArchive sub;
        archive.read("critic" + std::to_string(i), sub);
        critics_[i]->load(sub);
      }
      if (!all) return;
      torch::serialize::InputArchive opt;
      archive.read("optimizer", opt);
      optimizer_->load(opt);
      steps_ = s.at("steps");
      updates_ = s.at("updates");
      started_ = s.at("started");
      tu::set_rng_state(rng_, s.at("rng"));
      next_obs_ = s.at("next_obs").get<std::vector<std::vector<Obs>>>();
      next_done_ = s.at("next_done").get<std::vector<char>>();
    } catch (const CheckpointError&) {
      throw;
    } catch (const std::exception& e) {  // c10::Error, json errors
      std::string what = e.what();
      throw CheckpointError("cannot read checkpoint " + file.string() + ": " + what.substr(0, what.find('\n')));
    }
  }

  std::size_t critic_of(int agent) const { return mode_ == "mappo" ? 0 : static_cast<std::size_t>(agent); }

  torch::Tensor critic_input(std::size_t k, const std::vector<std::vector<Obs>>& obs) const {
    if (mode_ != "mappo") return tu::rows(obs[k], env_.obs_dim(static_cast<int>(k)));
    std::vector<torch::Tensor> parts;
    for (int a = 0; a < agents_; ++a) parts.push_back(tu::rows(obs[static_cast<std::size_t>(a)], env_.obs_dim(a)));
    return torch::cat(parts, 1);
  }

  std::vector<torch::Tensor> all_parameters() const {
    auto params = tu::parameters_of(actors_);
    for (const auto& p : tu::parameters_of(critics_)) params.push_back(p);
    return params;
  }

  // Every actor and every critic is clipped on its own. (CleanRL clips actor and critic
  // together; with unnormalized design rewards the critic's gradient is orders of magnitude
  // larger, and a joint clip would all but stop the actor.)
  void clip_gradients() {
    if (c_.max_grad_norm <= 0) return;
    for (auto& net : actors_) torch::nn::utils::clip_grad_norm_(net->parameters(), c_.max_grad_norm);
    for (auto& net : critics_) torch::nn::utils::clip_grad_norm_(net->parameters(), c_.max_grad_norm);
  }

  void set_learning_rate(double lr) {
    for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
  double current_learning_rate() const {
    return static_cast<const torch::optim::AdamOptions&>(optimizer_->param_groups()[0].options()).lr();
  }

  json identity() const {
    json dims = json::array();
    for (int a = 0; a < agents_; ++a) dims.push_back({{"obs", env_.obs_dim(a)}, {"nvec", env_.nvec(a)}});
    return {{"algorithm", mode_}, {"agents", dims}, {"hidden", c_.hidden}};
  }
  json state() const {
    return {{"identity", identity()}, {"steps", steps_},       {"updates", updates_},     {"started", started_},
            {"rng", tu::rng_state(rng_)}, {"next_obs", next_obs_}, {"next_done", next_done_}, {"config", hyper_parameters()}};
  }

  std::string mode_;
  VecEnv& env_;
  PpoConfig c_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  int agents_ = 1;
  std::vector<long long> choices_;
  std::vector<torch::nn::Sequential> actors_, critics_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  long long steps_ = 0, updates_ = 0;
  bool started_ = false;
  std::vector<std::vector<Obs>> next_obs_;
  std::vector<char> next_done_;
};

}  // namespace

std::unique_ptr<Learner> make_ppo(const std::string& mode, VecEnv& env, std::uint64_t seed, const PpoConfig& config) {
  if (mode != "ppo" && mode != "ippo" && mode != "mappo") throw std::invalid_argument("unknown PPO mode '" + mode + "'");
  return std::make_unique<Ppo>(mode, env, seed, config);
}

namespace {

// The three modes are three agents of the registry (agents/agent.h), one hyper-parameter table.
Agent ppo_agent(const std::string& mode, std::string description, bool multi_agent, int order) {
  Agent a;
  // For a design search, chosen on gemm-int8 at a budget of 135 evaluations (5% of its space)
  // over seeds 0..9: docs/results.md has the figures.
  a.search_defaults = {{"num_envs", 8},        {"num_steps", 1},     {"learning_rate", mode == "ppo" ? 0.001 : 0.003},
                       {"num_minibatches", 1}, {"update_epochs", 8}, {"ent_coef", 0.0},
                       {"anneal_lr", true}};
  a.name = mode;
  a.kind = AgentKind::rl;
  a.description = std::move(description);
  a.defaults = fields_to_json(PpoConfig{}, ppo_fields());
  a.order = order;
  a.multi_agent = multi_agent;
  a.resolve_hyper = [mode](const json& hyper) {
    return fields_to_json(fields_from_json(hyper, ppo_fields(), mode), ppo_fields());
  };
  a.make_learner = [mode](VecEnv& env, std::uint64_t seed, const json& resolved) {
    return make_ppo(mode, env, seed, fields_from_json(resolved, ppo_fields(), mode));
  };
  return a;
}

const Registration<Agent> ppo{
    ppo_agent("ppo", "proximal policy optimization (clipped surrogate, GAE), one policy over every parameter", false, 100)};
const Registration<Agent> ippo{
    ppo_agent("ippo", "independent PPO: one actor and one critic per agent group, one team reward", true, 120)};
const Registration<Agent> mappo{ppo_agent(
    "mappo", "multi-agent PPO: one actor per agent group, one centralized critic over the joint observation", true, 130)};

}  // namespace

}  // namespace chipgym::agents::rl
