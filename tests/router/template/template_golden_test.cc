// Golden tests: outputs must equal Python Jinja2's byte for byte (tools/template/make_goldens.py
// writes the goldens with Hugging Face's exact environment).
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "router/template/chat_template.h"
#include "router/template/template.h"

namespace moeserve {
namespace {

using json = nlohmann::ordered_json;

const std::string kDataDir = std::string(MOESERVE_SOURCE_DIR) + "/tests/data/template/";
constexpr std::time_t kFixedNow = 1718452800;  // make_goldens.py's FIXED_NOW.

std::vector<json> ReadJsonl(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

jinja::RenderOptions FixedClock() {
  jinja::RenderOptions r;
  r.now = [] { return kFixedNow; };
  return r;
}

std::string FirstDifference(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  auto around = [i](const std::string& s) {
    size_t b = i < 40 ? 0 : i - 40;
    return json(s.substr(b, 80)).dump();
  };
  return "first difference at byte " + std::to_string(i) + "\n  got:  " + around(got) +
         "\n  want: " + around(want);
}

// Checks one record; returns true on a match. `record` holds "expected", or "error" with
// "raised" telling whether the message is raise_exception's own (then it must match).
bool Check(const std::string& name, const absl::StatusOr<std::string>& got, const json& record) {
  if (record.contains("expected")) {
    const std::string want = record["expected"].get<std::string>();
    if (!got.ok()) {
      ADD_FAILURE() << name << ": unexpected error: " << got.status();
      return false;
    }
    if (*got != want) {
      ADD_FAILURE() << name << ": " << FirstDifference(*got, want);
      return false;
    }
    return true;
  }
  if (got.ok()) {
    ADD_FAILURE() << name << ": rendered, but Jinja2 raised " << record["error"];
    return false;
  }
  if (record["raised"].get<bool>() &&
      std::string(got.status().message()) != record["error"].get<std::string>()) {
    ADD_FAILURE() << name << ": message " << got.status().message() << " != " << record["error"];
    return false;
  }
  return true;
}

absl::StatusOr<std::string> RenderRequest(const ChatTemplate& chat, const json& req) {
  json kwargs = req.contains("chat_template_kwargs") ? req["chat_template_kwargs"] : json::object();
  if (req.contains("enable_thinking")) kwargs["enable_thinking"] = req["enable_thinking"];
  return chat.Render(req["messages"], req.contains("tools") ? req["tools"] : json(),
                     req.value("add_generation_prompt", false), kwargs, FixedClock());
}

TEST(TemplateGolden, Qwen3) {
  absl::StatusOr<ChatTemplate> chat =
      ChatTemplate::FromTokenizerConfig(kDataDir + "qwen3_tokenizer_config.json");
  ASSERT_TRUE(chat.ok()) << chat.status();
  int passed = 0, total = 0;
  for (const json& rec : ReadJsonl(kDataDir + "qwen3_goldens.jsonl")) {
    ++total;
    passed += Check(rec["name"].get<std::string>(), RenderRequest(*chat, rec["request"]), rec);
  }
  std::printf("qwen3 goldens: %d/%d passed\n", passed, total);
  EXPECT_GT(total, 150);
}

// The tokenizer fetched by scripts/setup carries the same template as the committed copy.
TEST(TemplateGolden, Qwen3FromDataCache) {
  const std::string dir = std::string(MOESERVE_DATA_CACHE) + "/qwen3-tokenizer";
  std::ifstream probe(dir + "/tokenizer_config.json");
  if (!probe.good()) GTEST_SKIP() << "no " << dir;
  absl::StatusOr<ChatTemplate> chat = ChatTemplate::FromTokenizerConfig(dir);
  ASSERT_TRUE(chat.ok()) << chat.status();
  int passed = 0, total = 0;
  for (const json& rec : ReadJsonl(kDataDir + "qwen3_goldens.jsonl")) {
    ++total;
    passed += Check(rec["name"].get<std::string>(), RenderRequest(*chat, rec["request"]), rec);
  }
  std::printf("qwen3 goldens (data cache template): %d/%d passed\n", passed, total);
}

TEST(TemplateGolden, Families) {
  std::vector<json> records = ReadJsonl(kDataDir + "families_goldens.jsonl");
  ASSERT_FALSE(records.empty());
  std::map<std::string, ChatTemplate> chats;
  for (const auto& [name, f] : records[0]["families"].items()) {
    json config = f["special_tokens"];
    config["chat_template"] = f["template"];
    absl::StatusOr<ChatTemplate> chat = ChatTemplate::FromTokenizerConfigJson(config);
    ASSERT_TRUE(chat.ok()) << name << ": " << chat.status();
    chats.emplace(name, *std::move(chat));
  }
  int passed = 0, total = 0;
  for (size_t i = 1; i < records.size(); ++i) {
    const json& rec = records[i];
    const std::string family = rec["family"].get<std::string>();
    ++total;
    passed += Check(family + ":" + rec["name"].get<std::string>(),
                    RenderRequest(chats.at(family), rec["request"]), rec);
  }
  std::printf("family goldens: %d/%d passed\n", passed, total);
  EXPECT_GT(total, 400);
}

TEST(TemplateGolden, Synthetic) {
  int passed = 0, total = 0;
  for (const json& rec : ReadJsonl(kDataDir + "synthetic_goldens.jsonl")) {
    ++total;
    const std::string name = rec["name"].get<std::string>();
    jinja::Dict vars;
    for (const auto& [k, v] : rec["context"].items()) {
      vars.Set(jinja::Value(k), jinja::Value::FromJson(v));
    }
    absl::StatusOr<jinja::Template> t =
        jinja::Template::Parse(rec["template"].get<std::string>(), jinja::TemplateOptions());
    absl::StatusOr<std::string> got =
        t.ok() ? t->Render(vars, FixedClock()) : absl::StatusOr<std::string>(t.status());
    passed += Check(name, got, rec);
  }
  std::printf("synthetic goldens: %d/%d passed\n", passed, total);
  EXPECT_GT(total, 80);
}

}  // namespace
}  // namespace moeserve
