// libFuzzer entry point for the tokenizer (built as `tokenizer_fuzzer` with clang;
// tokenizer_fuzzer_test.cc runs the same entry point over the golden corpus in every build).
//
// Properties: Encode never crashes on any bytes; for well-formed UTF-8, Decode(Encode(s)) is
// NFC(s) (the reference's NFC, whose tables predate some new characters) when no added token was
// recognized, and canonically equivalent to s always (added tokens are cut out before
// normalization, so NFC does not act across them); the stream decoder
// agrees with Decode. The tokenizer comes from $MOESERVE_TOKENIZER or the data cache.
#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "router/tokenizer/normalizer.h"
#include "router/tokenizer/stream_decoder.h"
#include "router/tokenizer/tokenizer.h"
#include "router/tokenizer/unicode.h"

namespace {

using moeserve::tokenizer::Tokenizer;

const Tokenizer* FuzzTokenizer() {
  static const Tokenizer* tokenizer = [] {
    const char* env = std::getenv("MOESERVE_TOKENIZER");
    std::string path = env ? env : std::string(MOESERVE_DATA_CACHE) + "/qwen3-tokenizer";
    auto loaded = Tokenizer::FromFile(path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "tokenizer_fuzzer: %s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    return loaded->release();
  }();
  return tokenizer;
}

// The normalizer under test: NFC as the reference computes it.
std::string ReferenceNfc(const std::string& s) {
  std::string out;
  moeserve::tokenizer::AppendNfc(s, &out);
  return out;
}

// Full, current NFC (utf8proc): an independent check of canonical equivalence.
std::string Nfc(const std::string& s) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::string r = n >= 0 ? std::string(reinterpret_cast<char*>(out), n) : s;
  std::free(out);
  return r;
}

void Check(bool ok, const char* what, const std::string& input) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzzer: property failed: %s; input bytes:", what);
    for (unsigned char c : input) std::fprintf(stderr, " %02x", c);
    std::fprintf(stderr, "\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tokenizer* tok = FuzzTokenizer();
  const std::string input(reinterpret_cast<const char*>(data), size);
  for (bool allow_special : {true, false}) {
    std::vector<int32_t> ids = tok->Encode(input, allow_special);
    absl::StatusOr<std::string> text = tok->Decode(ids);
    Check(text.ok(), "decode of encode succeeds", input);
    Check(moeserve::tokenizer::IsValidUtf8(*text), "decoded text is UTF-8", input);
    if (moeserve::tokenizer::IsValidUtf8(input)) {
      // Any recognized added token (special or not) disables the exact check below.
      bool added = false;
      for (const auto& token : tok->added_tokens()) {
        for (int32_t id : ids) added |= id == token.id;
      }
      if (!added) Check(*text == ReferenceNfc(input), "decode(encode(s)) == NFC(s)", input);
      Check(Nfc(*text) == Nfc(input), "decode(encode(s)) is canonically equivalent to s", input);
    }
    moeserve::tokenizer::StreamDecoder stream(tok);
    std::string streamed;
    for (int32_t id : ids) {
      absl::StatusOr<std::string> delta = stream.Add(id);
      Check(delta.ok(), "stream add succeeds", input);
      streamed += *delta;
    }
    streamed += stream.Finish();
    Check(streamed == *text, "stream decode equals one-shot decode", input);
  }
  return 0;
}
