#include "router/api/openai_format.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "router/api/api_error.h"

namespace moeserve::router::api {
namespace {

using json = nlohmann::json;

std::string TypeName(const json& v) { return std::string(v.type_name()); }

absl::Status WrongType(const std::string& field, const std::string& expected, const json& v) {
  return InvalidParam(field,
                      absl::StrCat("'", field, "' must be ", expected, ", not ", TypeName(v)));
}

// Reads an optional boolean field (absent or null keeps *out).
absl::Status GetBool(const json& obj, const char* field, bool* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return WrongType(field, "a boolean", *it);
  *out = it->get<bool>();
  return absl::OkStatus();
}

// An integer within [lo, hi]: a JSON integer, or a float with an integral value.
absl::Status ToInt(const json& v, const std::string& field, int64_t lo, int64_t hi, int64_t* out) {
  const std::string range = absl::StrCat("an integer in [", lo, ", ", hi, "]");
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) {
      return InvalidParam(field, absl::StrCat("'", field, "' must be ", range, ", got ", u));
    }
    *out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    *out = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(std::trunc(d) == d) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      return InvalidParam(field, absl::StrCat("'", field, "' must be ", range, ", got ", d));
    }
    *out = static_cast<int64_t>(d);
  } else {
    return WrongType(field, "an integer", v);
  }
  if (*out < lo || *out > hi) {
    return InvalidParam(field, absl::StrCat("'", field, "' must be ", range, ", got ", *out));
  }
  return absl::OkStatus();
}

absl::Status GetInt(const json& obj, const char* field, int64_t lo, int64_t hi, int64_t* out,
                    bool* present = nullptr) {
  auto it = obj.find(field);
  if (present != nullptr) *present = false;
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (present != nullptr) *present = true;
  return ToInt(*it, field, lo, hi, out);
}

// A number in [lo, hi] (lo_open: excluding lo).
absl::Status GetNumber(const json& obj, const char* field, double lo, double hi, bool lo_open,
                       float* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) return WrongType(field, "a number", *it);
  const double d = it->get<double>();
  if (!(lo_open ? d > lo : d >= lo) || !(d <= hi)) {
    return InvalidParam(field, absl::StrCat("'", field, "' must be in ", lo_open ? "(" : "[", lo,
                                            ", ", hi, "], got ", d));
  }
  *out = static_cast<float>(d);
  return absl::OkStatus();
}

absl::Status GetIdArray(const json& v, const std::string& field, std::vector<int32_t>* out) {
  out->clear();
  out->reserve(v.size());
  for (const json& e : v) {
    if (!e.is_number_integer()) {
      return InvalidParam(
          field, absl::StrCat("'", field, "' must hold token ids (integers), not ", TypeName(e)));
    }
    int64_t id = 0;
    absl::Status s = ToInt(e, field, 0, std::numeric_limits<int32_t>::max(), &id);
    if (!s.ok()) return s;
    out->push_back(static_cast<int32_t>(id));
  }
  return absl::OkStatus();
}

absl::Status ParsePrompt(const json& obj, CompletionRequest* r) {
  auto it = obj.find("prompt");
  if (it == obj.end() || it->is_null()) return InvalidParam("prompt", "'prompt' is required");
  const json& p = *it;
  if (p.is_string()) {
    r->prompt_text = p.get<std::string>();
    return absl::OkStatus();
  }
  if (!p.is_array()) return WrongType("prompt", "a string or an array", p);
  if (p.empty()) return InvalidParam("prompt", "'prompt' must not be empty");
  if (p[0].is_number()) return GetIdArray(p, "prompt", &r->prompt_ids);
  if (p.size() > 1) {
    return InvalidParam("prompt", absl::StrCat("batched prompts are not supported: 'prompt' holds ",
                                               p.size(), " prompts; send one per request"));
  }
  if (p[0].is_string()) {
    r->prompt_text = p[0].get<std::string>();
    return absl::OkStatus();
  }
  if (p[0].is_array()) {
    if (p[0].empty()) return InvalidParam("prompt", "'prompt' must not be empty");
    return GetIdArray(p[0], "prompt", &r->prompt_ids);
  }
  return WrongType("prompt", "a string, an array of token ids or an array of one of either", p[0]);
}

}  // namespace

absl::StatusOr<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                         std::string_view served_model,
                                                         int32_t default_max_tokens) {
  const json obj = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) {
    return absl::InvalidArgumentError("the request body is not valid JSON (or not valid UTF-8)");
  }
  if (!obj.is_object()) {
    return absl::InvalidArgumentError("the request body must be a JSON object");
  }
  CompletionRequest r;
  r.max_tokens = default_max_tokens;

  if (auto it = obj.find("model"); it != obj.end() && !it->is_null()) {
    if (!it->is_string()) return WrongType("model", "a string", *it);
    r.model = it->get<std::string>();
    if (!r.model.empty() && r.model != served_model) {
      return WithParam(
          absl::NotFoundError(absl::StrCat("The model `", r.model, "` does not exist.")), "model");
    }
  }
  absl::Status s = ParsePrompt(obj, &r);
  if (!s.ok()) return s;

  int64_t v = 0;
  bool present = false;
  if (s = GetInt(obj, "max_tokens", 1, std::numeric_limits<int32_t>::max(), &v, &present);
      !s.ok()) {
    return s;
  }
  if (present) r.max_tokens = static_cast<int32_t>(v);

  SamplingParams& sp = r.sampling;
  if (s = GetNumber(obj, "temperature", 0, 100, false, &sp.temperature); !s.ok()) return s;
  if (s = GetNumber(obj, "top_p", 0, 1, true, &sp.top_p); !s.ok()) return s;
  if (s = GetNumber(obj, "min_p", 0, 1, false, &sp.min_p); !s.ok()) return s;
  if (s = GetNumber(obj, "presence_penalty", -2, 2, false, &sp.presence_penalty); !s.ok()) {
    return s;
  }
  if (s = GetNumber(obj, "frequency_penalty", -2, 2, false, &sp.frequency_penalty); !s.ok()) {
    return s;
  }
  if (s = GetNumber(obj, "repetition_penalty", 0, 100, true, &sp.repetition_penalty); !s.ok()) {
    return s;
  }
  if (s = GetInt(obj, "top_k", -1, std::numeric_limits<int32_t>::max(), &v, &present); !s.ok()) {
    return s;
  }
  if (present) sp.top_k = static_cast<int32_t>(v);
  if (auto it = obj.find("seed"); it != obj.end() && !it->is_null()) {
    if (it->is_number_unsigned()) {
      sp.seed = it->get<uint64_t>();
    } else if (it->is_number_integer()) {
      sp.seed = static_cast<uint64_t>(it->get<int64_t>());
    } else {
      return WrongType("seed", "an integer", *it);
    }
  }

  if (auto it = obj.find("stop_token_ids"); it != obj.end() && !it->is_null()) {
    if (!it->is_array()) return WrongType("stop_token_ids", "an array of token ids", *it);
    if (s = GetIdArray(*it, "stop_token_ids", &r.stop_token_ids); !s.ok()) return s;
  }
  if (auto it = obj.find("stop"); it != obj.end() && !it->is_null()) {
    const bool empty =
        (it->is_string() && it->get<std::string>().empty()) || (it->is_array() && it->empty());
    if (!empty) {
      if (!it->is_string() && !it->is_array()) {
        return WrongType("stop", "a string or an array of strings", *it);
      }
      return InvalidParam("stop", "stop strings are not supported; use 'stop_token_ids'");
    }
  }
  if (s = GetBool(obj, "ignore_eos", &r.ignore_eos); !s.ok()) return s;
  if (s = GetInt(obj, "logprobs", 0, kMaxLogprobs, &v, &present); !s.ok()) return s;
  if (present) {
    if (obj["logprobs"].is_boolean()) return WrongType("logprobs", "an integer", obj["logprobs"]);
    r.logprobs = static_cast<int32_t>(v);
  }
  if (s = GetBool(obj, "return_tokens_as_token_ids", &r.return_tokens_as_token_ids); !s.ok()) {
    return s;
  }
  if (s = GetBool(obj, "skip_special_tokens", &r.skip_special_tokens); !s.ok()) return s;
  if (s = GetBool(obj, "stream", &r.stream); !s.ok()) return s;
  if (auto it = obj.find("stream_options"); it != obj.end() && !it->is_null()) {
    if (!it->is_object()) return WrongType("stream_options", "an object", *it);
    if (!r.stream) {
      return InvalidParam("stream_options", "'stream_options' is only allowed with 'stream': true");
    }
    if (s = GetBool(*it, "include_usage", &r.include_usage); !s.ok()) {
      return WithParam(s, "stream_options");
    }
  }

  // Options this server does not implement: refused rather than ignored.
  bool echo = false;
  if (s = GetBool(obj, "echo", &echo); !s.ok()) return s;
  if (echo) return InvalidParam("echo", "'echo': true is not supported");
  if (s = GetInt(obj, "n", 1, std::numeric_limits<int32_t>::max(), &v, &present); !s.ok()) {
    return s;
  }
  if (present && v != 1) return InvalidParam("n", "only 'n': 1 is supported");
  if (s = GetInt(obj, "best_of", 1, std::numeric_limits<int32_t>::max(), &v, &present); !s.ok()) {
    return s;
  }
  if (present && v != 1) return InvalidParam("best_of", "only 'best_of': 1 is supported");
  if (auto it = obj.find("suffix"); it != obj.end() && !it->is_null()) {
    if (!it->is_string() || !it->get<std::string>().empty()) {
      return InvalidParam("suffix", "'suffix' is not supported");
    }
  }
  if (auto it = obj.find("logit_bias"); it != obj.end() && !it->is_null()) {
    if (!it->is_object()) return WrongType("logit_bias", "an object", *it);
    if (!it->empty()) return InvalidParam("logit_bias", "'logit_bias' is not supported");
  }
  return r;
}

nlohmann::json CompletionLogprobs::ToJson() const {
  json top = json::array();
  for (const auto& entries : top_logprobs) {
    json o = json::object();
    for (const auto& [token, lp] : entries) o[token] = lp;
    top.push_back(std::move(o));
  }
  return json{{"tokens", tokens},
              {"token_logprobs", token_logprobs},
              {"top_logprobs", std::move(top)},
              {"text_offset", text_offset}};
}

std::string TokenDisplay(const tokenizer::Tokenizer& tokenizer, int32_t token_id,
                         bool as_token_id) {
  if (as_token_id) return absl::StrCat("token_id:", token_id);
  absl::StatusOr<std::string> text = tokenizer.Decode({&token_id, 1});
  return text.ok() ? *std::move(text) : absl::StrCat("token_id:", token_id);
}

nlohmann::json Usage::ToJson() const {
  return json{{"prompt_tokens", prompt_tokens},
              {"completion_tokens", completion_tokens},
              {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {

json Choice(const std::string& text, const CompletionLogprobs* logprobs, FinishReason finish,
            std::optional<int32_t> stop_reason) {
  json choice = {{"index", 0}, {"text", text}};
  choice["logprobs"] = logprobs != nullptr ? logprobs->ToJson() : json(nullptr);
  choice["finish_reason"] =
      finish == FinishReason::kNone ? json(nullptr) : json(std::string(FinishReasonName(finish)));
  choice["stop_reason"] = stop_reason.has_value() ? json(*stop_reason) : json(nullptr);
  return choice;
}

json Head(const CompletionMeta& meta) {
  return json{{"id", meta.id},
              {"object", "text_completion"},
              {"created", meta.created},
              {"model", meta.model}};
}

}  // namespace

nlohmann::json CompletionJson(const CompletionMeta& meta, const std::string& text,
                              const CompletionLogprobs* logprobs, FinishReason finish,
                              std::optional<int32_t> stop_reason, const Usage& usage) {
  json out = Head(meta);
  out["choices"] = json::array({Choice(text, logprobs, finish, stop_reason)});
  out["usage"] = usage.ToJson();
  return out;
}

nlohmann::json CompletionChunkJson(const CompletionMeta& meta, const std::string& text,
                                   const CompletionLogprobs* logprobs, FinishReason finish,
                                   std::optional<int32_t> stop_reason) {
  json out = Head(meta);
  out["choices"] = json::array({Choice(text, logprobs, finish, stop_reason)});
  return out;
}

nlohmann::json UsageChunkJson(const CompletionMeta& meta, const Usage& usage) {
  json out = Head(meta);
  out["choices"] = json::array();
  out["usage"] = usage.ToJson();
  return out;
}

nlohmann::json ModelsJson(std::string_view model, int64_t created, std::string_view owned_by,
                          int32_t max_model_len) {
  json card = {
      {"id", std::string(model)},          {"object", "model"},          {"created", created},
      {"owned_by", std::string(owned_by)}, {"root", std::string(model)}, {"parent", nullptr},
      {"max_model_len", max_model_len}};
  return json{{"object", "list"}, {"data", json::array({std::move(card)})}};
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string SseData(const nlohmann::json& j) { return absl::StrCat("data: ", Dump(j), "\n\n"); }

namespace {

int64_t CodePoints(std::string_view utf8) {
  int64_t n = 0;
  for (char c : utf8) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

CompletionOutput::CompletionOutput(const tokenizer::Tokenizer* tokenizer,
                                   const CompletionRequest& request)
    : tokenizer_(tokenizer),
      decoder_(tokenizer, request.skip_special_tokens),
      stop_token_ids_(request.stop_token_ids),
      logprobs_(request.logprobs),
      as_token_ids_(request.return_tokens_as_token_ids) {}

absl::StatusOr<CompletionOutput::Delta> CompletionOutput::Add(const WorkerEvent& event) {
  Delta delta;
  const size_t n = event.token_ids.size();
  const bool want_logprobs = logprobs_ >= 0 && event.logprobs.size() == n;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = event.token_ids[i];
    const bool is_stop_token = event.finish_reason == FinishReason::kStop && i + 1 == n;
    ++completion_tokens_;
    if (want_logprobs) {
      const TokenLogprob& lp = event.logprobs[i];
      CompletionLogprobs& out = delta.logprobs;
      std::string display = TokenDisplay(*tokenizer_, id, as_token_ids_);
      out.tokens.push_back(display);
      out.token_logprobs.push_back(std::max(lp.logprob, -9999.0));
      out.text_offset.push_back(text_chars_);
      std::vector<std::pair<std::string, double>> top;
      bool sampled_listed = false;
      for (size_t k = 0; k < lp.top.size() && k < static_cast<size_t>(logprobs_); ++k) {
        sampled_listed |= lp.top[k].first == id;
        top.emplace_back(TokenDisplay(*tokenizer_, lp.top[k].first, as_token_ids_),
                         std::max(lp.top[k].second, -9999.0));
      }
      if (!sampled_listed)
        top.insert(top.begin(), {std::move(display), std::max(lp.logprob, -9999.0)});
      out.top_logprobs.push_back(std::move(top));
    }
    if (is_stop_token) {
      if (std::find(stop_token_ids_.begin(), stop_token_ids_.end(), id) != stop_token_ids_.end()) {
        stop_reason_ = id;
      }
      continue;
    }
    // Ids past the tokenizer (a model vocabulary padded beyond it) carry no text, as in HF.
    if (id >= tokenizer_->vocab_size()) continue;
    absl::StatusOr<std::string> text = decoder_.Add(id);
    if (!text.ok()) return text.status();
    text_chars_ += CodePoints(*text);
    delta.text += *text;
  }
  if (event.terminal()) {
    std::string rest = decoder_.Finish();
    text_chars_ += CodePoints(rest);
    delta.text += rest;
  }
  return delta;
}

}  // namespace moeserve::router::api
