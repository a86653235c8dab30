// `moeserve generate`: one request on the in-process engine (worker + all experts).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/status_exit.h"
#include "engine/local_engine.h"
#include "nlohmann/json.hpp"
#include "router/template/chat_template.h"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::cli {
namespace {

constexpr char kName[] = "generate";

}  // namespace

int RunGenerate(const std::vector<std::string>& args) {
  auto flags = Flags::Parse(args,
                            {"model", "prompt", "prompt-ids", "messages", "max-tokens", "temperature", "top-k",
                             "top-p", "min-p", "seed", "logprobs", "format", "threads",
                             "prefill-chunk", "repetition-penalty", "presence-penalty",
                             "frequency-penalty"},
                            {"ignore-eos", "quiet", "no-thinking"});
  if (!flags.ok()) return UsageError(kName, std::string(flags.status().message()));
  auto model = flags->GetString("model");
  if (!model.ok()) return UsageError(kName, std::string(model.status().message()));
  if (flags->Has("prompt") + flags->Has("prompt-ids") + flags->Has("messages") != 1) {
    return UsageError(kName, "give exactly one of --prompt, --prompt-ids or --messages");
  }
  const std::string format = flags->GetString("format", "text");
  if (format != "json" && format != "text") {
    return UsageError(kName, "--format must be json or text, got '" + format + "'");
  }

  GenerateRequest req;
  auto max_tokens = flags->GetInt("max-tokens", 16);
  auto logprobs = flags->GetInt("logprobs", 0);
  auto threads = flags->GetInt("threads", 0);
  auto chunk = flags->GetInt("prefill-chunk", 0);
  auto temperature = flags->GetDouble("temperature", std::nullopt);
  auto top_k = flags->GetInt("top-k", std::nullopt);
  auto top_p = flags->GetDouble("top-p", std::nullopt);
  auto min_p = flags->GetDouble("min-p", std::nullopt);
  auto seed = flags->GetInt("seed", 0);
  auto rep = flags->GetDouble("repetition-penalty", 1.0);
  auto pres = flags->GetDouble("presence-penalty", 0.0);
  auto freq = flags->GetDouble("frequency-penalty", 0.0);
  for (const absl::Status& s :
       {max_tokens.status(), logprobs.status(), threads.status(), chunk.status(), seed.status(),
        rep.status(), pres.status(), freq.status()}) {
    if (!s.ok()) return UsageError(kName, std::string(s.message()));
  }
  req.max_tokens = *max_tokens;
  req.logprobs = static_cast<int>(*logprobs);
  req.prefill_chunk = *chunk;
  if (*threads < 0) return UsageError(kName, "--threads must be >= 0");

  // Everything about the request is checked against config.json before the weights load.
  auto config = LoadModelConfig(*model);
  if (!config.ok()) return StatusExit(kName, config.status());
  auto gen_or = LoadGenerationConfig(*model);
  if (!gen_or.ok()) return StatusExit(kName, gen_or.status());
  const GenerationConfig& gen = *gen_or;
  if (req.max_tokens <= 0) return UsageError(kName, "--max-tokens must be > 0");
  if (req.logprobs < 0 || req.logprobs > 20) return UsageError(kName, "--logprobs must be in [0, 20]");

  // Sampling: flags override generation_config.json, which overrides the neutral defaults.
  SamplingParams& sp = req.sampling;
  auto pick = [&](const char* flag, const absl::StatusOr<double>& v, std::optional<double> cfg,
                  double fallback) -> absl::StatusOr<double> {
    if (flags->Has(flag)) return v;
    return cfg.value_or(fallback);
  };
  auto t = pick("temperature", temperature, gen.temperature, 1.0);
  auto p = pick("top-p", top_p, gen.top_p, 1.0);
  auto m = pick("min-p", min_p, gen.min_p, 0.0);
  for (const absl::Status& s : {t.status(), p.status(), m.status()}) {
    if (!s.ok()) return UsageError(kName, std::string(s.message()));
  }
  sp.temperature = static_cast<float>(*t);
  sp.top_p = static_cast<float>(*p);
  sp.min_p = static_cast<float>(*m);
  if (flags->Has("top-k")) {
    if (!top_k.ok()) return UsageError(kName, std::string(top_k.status().message()));
    sp.top_k = static_cast<int32_t>(*top_k);
  } else {
    sp.top_k = static_cast<int32_t>(gen.top_k.value_or(0));
  }
  sp.seed = static_cast<uint64_t>(*seed);
  sp.repetition_penalty = static_cast<float>(*rep);
  sp.presence_penalty = static_cast<float>(*pres);
  sp.frequency_penalty = static_cast<float>(*freq);
  if (absl::Status s = sp.Validate(); !s.ok()) return UsageError(kName, std::string(s.message()));
  if (!flags->GetBool("ignore-eos")) req.stop_ids = gen.eos_token_ids;

  // The model directory's own tokenizer, when it has one: --prompt needs it, text output uses it.
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (std::filesystem::exists(*model + "/tokenizer.json")) {
    auto t = tokenizer::Tokenizer::FromFile(*model + "/tokenizer.json");
    if (!t.ok()) return StatusExit(kName, t.status());
    tok = std::move(*t);
  }
  std::vector<int64_t> ids;
  if (flags->Has("prompt-ids")) {
    auto parsed = flags->GetIntList("prompt-ids");
    if (!parsed.ok()) return UsageError(kName, std::string(parsed.status().message()));
    ids = *parsed;
  } else {
    if (!tok) return UsageError(kName, "--prompt and --messages need tokenizer.json in the model directory");
    std::string text;
    if (flags->Has("prompt")) {
      text = *flags->GetString("prompt");
    } else {
      // --messages: a JSON array of chat messages, rendered by the model's own chat template.
      nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
          *flags->GetString("messages"), nullptr, /*allow_exceptions=*/false);
      if (!messages.is_array()) return UsageError(kName, "--messages must be a JSON array of messages");
      auto chat = ChatTemplate::FromTokenizerConfig(*model);
      if (!chat.ok()) return StatusExit(kName, chat.status());
      nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
      if (flags->GetBool("no-thinking")) kwargs["enable_thinking"] = false;
      auto rendered = chat->Render(messages, nullptr, /*add_generation_prompt=*/true, kwargs);
      if (!rendered.ok()) return StatusExit(kName, rendered.status());
      text = *rendered;
    }
    for (int32_t id : tok->Encode(text)) ids.push_back(id);
  }
  for (int64_t id : ids) {
    if (id < 0 || id >= config->vocab_size) {
      return UsageError(kName, absl::StrCat("prompt token id ", id,
                                            " is outside the vocabulary [0, ",
                                            config->vocab_size, ")"));
    }
    req.prompt.push_back(static_cast<int32_t>(id));
  }

  const int64_t total = static_cast<int64_t>(req.prompt.size()) + req.max_tokens;
  if (total > config->max_position_embeddings) {
    return UsageError(kName, absl::StrCat("prompt (", req.prompt.size(), " tokens) + --max-tokens (",
                                          req.max_tokens, ") exceeds max_position_embeddings ",
                                          config->max_position_embeddings));
  }
  LocalEngineOptions options;
  options.num_threads = static_cast<int>(*threads);
  options.progress = !flags->GetBool("quiet");  // on stderr: a bar on a TTY, else log lines
  options.kv_cache_tokens = total;
  options.limits.max_context = total;
  auto engine_or = LocalEngine::Open(*model, options);
  if (!engine_or.ok()) return StatusExit(kName, engine_or.status());
  LocalEngine& engine = **engine_or;
  auto result = engine.generator()->Generate(req);
  if (!result.ok()) return StatusExit(kName, result.status());

  std::string text;
  if (tok) {
    // Ids the tokenizer lacks (the model's vocabulary may be padded past it) decode to nothing.
    std::vector<int32_t> known;
    for (int32_t id : result->token_ids)
      if (id < tok->vocab_size()) known.push_back(id);
    auto decoded = tok->Decode(known);
    if (decoded.ok()) text = *decoded;
  }
  if (format == "text") {
    if (tok) {
      std::printf("%s\n", text.c_str());
    } else {
      for (size_t i = 0; i < result->token_ids.size(); ++i) {
        std::printf("%s%d", i ? "," : "", result->token_ids[i]);
      }
      std::printf("\n");
    }
    return 0;
  }
  nlohmann::json out;
  out["token_ids"] = result->token_ids;
  out["text"] = text;
  nlohmann::json lps = nlohmann::json::array();
  for (const TokenLogprob& lp : result->logprobs) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, v] : lp.top) top.push_back({id, v});
    lps.push_back({{"token_id", lp.token_id}, {"logprob", lp.logprob}, {"top", top}});
  }
  out["logprobs"] = lps;
  out["finish_reason"] = result->finish_reason;
  out["timings"] = {{"prompt_tokens", result->prompt_tokens},
                    {"prefill_seconds", result->prefill_seconds},
                    {"generated_tokens", result->token_ids.size()},
                    {"decode_seconds", result->decode_seconds}};
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  return 0;
}

}  // namespace moeserve::cli
