#include "router/tokenizer/stream_decoder.h"

#include "common/status.h"
#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {

absl::StatusOr<std::string> StreamDecoder::Add(int32_t id) {
  const size_t before = pending_.size();
  absl::Status status = tokenizer_->AppendTokenBytes({&id, 1}, skip_special_, &pending_);
  if (!status.ok()) {
    pending_.resize(before);
    return status;
  }
  // Everything is final except a truncated character at the very end. Such a tail starts at
  // one of the last three bytes.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    const size_t start = pending_.size() - back;
    const auto lead = static_cast<uint8_t>(pending_[start]);
    if ((lead & 0xC0) == 0x80) continue;  // A continuation byte: look further back.
    if (DecodeUtf8(std::string_view(pending_).substr(start)).kind == Utf8Step::kTruncated) {
      keep_from = start;
    }
    break;
  }
  std::string text;
  AppendUtf8Lossy(std::string_view(pending_).substr(0, keep_from), &text);
  pending_.erase(0, keep_from);
  return text;
}

std::string StreamDecoder::Finish() {
  std::string text;
  AppendUtf8Lossy(pending_, &text);
  pending_.clear();
  return text;
}

}  // namespace moeserve::tokenizer
