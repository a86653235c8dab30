// libFuzzer entry for the parsers (built only with clang). Run from the build directory:
//   bin/parsers_fuzzer -dict=../tests/router/parsers/parsers_fuzzer.dict -max_len=512
// A property violation prints what differed and aborts, which libFuzzer reports as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/router/parsers/parsers_fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Status status = moeserve::parsers::testing::CheckParsersOnFuzzInput(data, size);
  if (!status.ok()) {
    std::fprintf(stderr, "parsers property violated: %s\n", status.ToString().c_str());
    std::abort();
  }
  return 0;
}
