// `moeserve validate-config` end to end.
#include <sys/wait.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/subprocess.h"
#include "tests/common/temp_dir.h"

namespace moeserve {
namespace {

using ::testing::HasSubstr;
using testutil::Subprocess;

const std::string kModel = std::string(MOESERVE_SOURCE_DIR) + "/tests/data/golden/sharded";

struct Result {
  int exit_code;
  std::string out, err;
};

Result Validate(const std::string& yaml, std::vector<std::string> extra = {}) {
  testutil::TempDir dir;
  const std::string path = dir.Join("cluster.yaml");
  testutil::WriteFile(path, yaml);
  std::vector<std::string> argv = {MOESERVE_BIN, "validate-config", path};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Subprocess p(argv, {}, dir.Join("stderr"));
  const int status = p.Wait(absl::Seconds(20));
  EXPECT_TRUE(WIFEXITED(status));
  Result r{WEXITSTATUS(status), p.stdout_text(), p.stderr_text()};
  // Paths vary per run; tests compare what follows them.
  for (std::string* s : {&r.out, &r.err}) {
    for (size_t at; (at = s->find(path)) != std::string::npos;) s->replace(at, path.size(), "FILE");
  }
  return r;
}

TEST(ValidateConfig, OkWithSummary) {
  Result r = Validate("model: " + kModel +
                      "\nworkers: {count: 2, kv_cache_bytes: 1MiB}\n"
                      "expert_shards: {count: 3}\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("ok: FILE\n"));
  EXPECT_THAT(r.out, HasSubstr("(qwen3_moe, 3 layers, 8 experts, top-2)"));
  // 3 layers x 3 KV heads x 16 dims x K,V x 4 bytes = 1152 bytes a token; 1MiB / (1152 x 16).
  EXPECT_THAT(r.out, HasSubstr("workers: 2 on ports 50052-50053; kv cache 1MiB = 56 blocks = 896 "
                               "tokens each (block 16)"));
  EXPECT_THAT(r.out, HasSubstr("max_model_len 4096"));
  EXPECT_THAT(r.out, HasSubstr("expert shards: 3 on ports 50054-50056, threads one per core; "
                               "placement even: shard 0: experts 0-2; shard 1: experts 3-5; "
                               "shard 2: experts 6-7"));
}

TEST(ValidateConfig, EveryProblemOnItsOwnLineAndExit2) {
  Result r = Validate("model: " + kModel + "\nworkers:\n  count: 0\n  blocksize: 16\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "moeserve validate-config: FILE: workers.blocksize: unknown key; did you mean "
            "'block_size'? (line 4)\n");
  r = Validate("model: " + kModel + "\nworkers: {count: 0, block_size: 3}\n");
  EXPECT_EQ(r.err,
            "moeserve validate-config: FILE: workers.count: must be in 1..1024, got 0\n"
            "moeserve validate-config: FILE: workers.block_size: must be a power of two in "
            "1..1024, got 3\n");
}

TEST(ValidateConfig, PlacementAgainstTheModel) {
  Result r = Validate("model: " + kModel +
                      "\nexpert_shards:\n  count: 2\n  placement: {0: [0-3], 1: [4, 5, 7]}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "moeserve validate-config: FILE: expert_shards.placement: expert 6 is assigned to no "
            "shard\n");
  // --no-model skips it; --set fixes it.
  EXPECT_EQ(Validate("model: " + kModel +
                         "\nexpert_shards:\n  count: 2\n  placement: {0: [0-3], 1: [4, 5, 7]}\n",
                     {"--no-model"})
                .exit_code,
            0);
  EXPECT_EQ(Validate("model: " + kModel + "\nexpert_shards: {count: 2}\n",
                     {"--set", "expert_shards.placement={0: [0-3], 1: [4-7]}"})
                .exit_code,
            0);
}

TEST(ValidateConfig, UnreadableModel) {
  Result r = Validate("model: /nonexistent/model\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("FILE: model: "));
  EXPECT_THAT(r.err, HasSubstr("(--no-model skips the model checks)"));
}

TEST(ValidateConfig, PrintWritesTheEffectiveYaml) {
  Result r = Validate("model: " + kModel + "\n", {"--set", "workers.count=3", "--print"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("workers:\n  count: 3\n"));
  EXPECT_THAT(r.out, HasSubstr("placement: even\n"));
}

TEST(ValidateConfig, UsageErrors) {
  testutil::TempDir dir;
  Subprocess none({MOESERVE_BIN, "validate-config"}, {}, dir.Join("e1"));
  EXPECT_EQ(WEXITSTATUS(none.Wait(absl::Seconds(10))), 2);
  EXPECT_THAT(none.stderr_text(), HasSubstr("usage: moeserve validate-config FILE"));
  Subprocess missing({MOESERVE_BIN, "validate-config", dir.Join("nope.yaml")}, {}, dir.Join("e2"));
  EXPECT_EQ(WEXITSTATUS(missing.Wait(absl::Seconds(10))), 2);
  EXPECT_THAT(missing.stderr_text(), HasSubstr("nope.yaml: cannot read the file"));
  Subprocess dangling({MOESERVE_BIN, "validate-config", "x.yaml", "--set"}, {}, dir.Join("e3"));
  EXPECT_EQ(WEXITSTATUS(dangling.Wait(absl::Seconds(10))), 2);
  EXPECT_THAT(dangling.stderr_text(), HasSubstr("--set needs a value"));
}

}  // namespace
}  // namespace moeserve
