// The engine against the independent float32 reference (tools/reference/): for every golden
// checkpoint under tests/data/golden/, greedy tokens must be identical and every top-20
// log-probability within tolerance of Hugging Face's float32 forward.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/local_engine.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace moeserve {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> GoldenDirs() {
  std::vector<std::string> dirs;
  const fs::path root = fs::path(MOESERVE_SOURCE_DIR) / "tests/data/golden";
  if (!fs::exists(root)) return dirs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (fs::exists(entry.path() / "golden.json")) dirs.push_back(entry.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesFloat32Reference) {
  const std::string dir = GetParam();
  std::ifstream in(dir + "/golden.json");
  const nlohmann::json golden = nlohmann::json::parse(in);
  LocalEngineOptions options;
  options.num_threads = 2;
  options.kv_cache_tokens = 1024;
  options.limits.max_context = 1024;
  options.limits.max_tokens_per_step = 256;
  auto engine = LocalEngine::Open(dir, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  double worst = 0.0;
  for (const auto& c : golden["cases"]) {
    GenerateRequest req;
    for (int64_t id : c["prompt_ids"]) req.prompt.push_back(static_cast<int32_t>(id));
    req.max_tokens = c["max_tokens"];
    req.sampling.temperature = 0.0f;
    req.logprobs = 20;
    auto result = (*engine)->generator()->Generate(req);
    ASSERT_TRUE(result.ok()) << result.status();
    std::vector<int32_t> expected;
    for (int64_t id : c["token_ids"]) expected.push_back(static_cast<int32_t>(id));
    EXPECT_EQ(result->token_ids, expected) << dir;
    const auto& steps = c["logprobs"];
    ASSERT_EQ(result->logprobs.size(), steps.size());
    for (size_t s = 0; s < steps.size(); ++s) {
      std::map<int32_t, double> ours;
      for (const auto& [id, lp] : result->logprobs[s].top) ours[id] = lp;
      const auto& top = steps[s]["top"];
      for (size_t r = 0; r < 5 && r < top.size(); ++r) {
        const int32_t id = top[r][0];
        const double ref = top[r][1];
        ASSERT_TRUE(ours.count(id)) << dir << " step " << s << ": token " << id
                                    << " missing from our top-20";
        const double diff = std::fabs(ours[id] - ref);
        worst = std::max(worst, diff);
        EXPECT_LT(diff, 0.005) << dir << " step " << s << " token " << id;
      }
    }
  }
  std::printf("%s: worst top-5 |logprob diff| = %.2e\n", fs::path(dir).filename().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, GoldenTest, ::testing::ValuesIn(GoldenDirs()),
                         [](const auto& info) {
                           std::string n = fs::path(info.param).filename().string();
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenTest);

}  // namespace
}  // namespace moeserve
