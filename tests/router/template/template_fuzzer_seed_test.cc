// Drives the libFuzzer entry over seeds in the normal build: every golden template, Qwen3's
// template, and mutations of them (truncations, byte flips, duplications), so error paths are
// exercised without libFuzzer.
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds;
  const std::string dir = std::string(MOESERVE_SOURCE_DIR) + "/tests/data/template/";
  std::ifstream synthetic(dir + "synthetic_goldens.jsonl");
  std::string line;
  while (std::getline(synthetic, line)) {
    seeds.push_back(nlohmann::json::parse(line)["template"].get<std::string>());
  }
  std::ifstream families(dir + "families_goldens.jsonl");
  if (std::getline(families, line)) {
    for (const auto& [name, f] : nlohmann::json::parse(line)["families"].items()) {
      seeds.push_back(f["template"].get<std::string>());
    }
  }
  std::ifstream config(dir + "qwen3_tokenizer_config.json");
  seeds.push_back(nlohmann::json::parse(config)["chat_template"].get<std::string>());
  return seeds;
}

void Fuzz(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(TemplateFuzzerSeeds, SeedsRunClean) {
  std::vector<std::string> seeds = Seeds();
  ASSERT_GT(seeds.size(), 50u);
  for (const std::string& s : seeds) Fuzz(s);
}

TEST(TemplateFuzzerSeeds, MutationsRunClean) {
  uint32_t rng = 12345;
  auto next = [&rng]() {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
  };
  static const char* const kTokens[] = {
      "{{", "}}",   "{%", "%}",         "{#", "#}",   "-",       "(",      ")",
      "[",  "]",    "'",  "\"",         "|",  ".",    "for",     "endfor", "if",
      "\n", "loop", "**", "9999999999", "\\", "\xff", "\xe2\x82"};
  for (const std::string& seed : Seeds()) {
    for (size_t cut = 0; cut < seed.size(); cut += 1 + seed.size() / 40) {
      Fuzz(seed.substr(0, cut));
    }
    for (int i = 0; i < 40; ++i) {
      std::string m = seed;
      int edits = 1 + static_cast<int>(next() % 4);
      for (int e = 0; e < edits && !m.empty(); ++e) {
        size_t pos = next() % m.size();
        switch (next() % 3) {
          case 0:
            m.insert(pos, kTokens[next() % (sizeof(kTokens) / sizeof(kTokens[0]))]);
            break;
          case 1:
            m.erase(pos, 1 + next() % 8);
            break;
          default:
            m[pos] = static_cast<char>(next() & 0xFF);
            break;
        }
      }
      Fuzz(m);
    }
  }
}

TEST(TemplateFuzzerSeeds, Pathological) {
  Fuzz(std::string(100000, '('));
  Fuzz("{{ " + std::string(5000, '[') + " }}");
  Fuzz(std::string(3000, '{') + std::string(3000, '%'));
  Fuzz("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}");
  Fuzz("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}");
  Fuzz(
      "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}");
  Fuzz("{{ 'x' * 100000000 }}{{ [1] * 100000000 }}{{ 2 ** 1000 }}");
  Fuzz("{{ " + std::string(10000, '-') + "1 }}");
  Fuzz("{% if true %}" + std::string(0, ' '));
}

}  // namespace
