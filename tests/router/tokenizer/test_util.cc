#include "tests/router/tokenizer/test_util.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace moeserve::tokenizer::testing {

std::string QwenTokenizerPath() {
  return std::string(MOESERVE_DATA_CACHE) + "/qwen3-tokenizer/tokenizer.json";
}

std::string GoldenPath(const std::string& name) {
  return std::string(MOESERVE_SOURCE_DIR) + "/tests/data/tokenizer/" + name;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const Tokenizer* Qwen() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = Tokenizer::FromFile(QwenTokenizerPath());
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return tokenizer;
}

std::vector<Golden> ReadGoldens(const std::string& name) {
  std::vector<Golden> goldens;
  std::ifstream in(GoldenPath(name));
  EXPECT_TRUE(in) << "missing " << GoldenPath(name);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    Golden g;
    g.text = j["t"].get<std::string>();
    g.ids = j["ids"].get<std::vector<int32_t>>();
    g.ids_no_special = j.contains("ns") ? j["ns"].get<std::vector<int32_t>>() : g.ids;
    g.decoded = j.contains("d") ? j["d"].get<std::string>() : g.text;
    g.decoded_skip_special = j.contains("ds") ? j["ds"].get<std::string>() : g.decoded;
    goldens.push_back(std::move(g));
  }
  return goldens;
}

}  // namespace moeserve::tokenizer::testing
