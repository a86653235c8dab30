// Incremental detokenization for streamed generation.
//
// Fed token ids one at a time, a StreamDecoder returns the text that has become final: it holds
// back only a trailing proper prefix of a UTF-8 character (which the next token may complete),
// so a multi-byte character is never split across deltas. Ill-formed bytes become U+FFFD as
// soon as they are known to be ill-formed. The concatenation of all deltas and Finish() equals
// Tokenizer::Decode() of the same ids.
//
// Not thread-safe (one decoder per stream); the tokenizer must outlive it.
#ifndef MOESERVE_ROUTER_TOKENIZER_STREAM_DECODER_H_
#define MOESERVE_ROUTER_TOKENIZER_STREAM_DECODER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::tokenizer {

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer* tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // Adds one token; returns the new final text (possibly empty). InvalidArgument on an unknown
  // id, which leaves the decoder as it was.
  absl::StatusOr<std::string> Add(int32_t id);

  // Ends the stream: returns the held-back bytes, a truncated character as one U+FFFD (Python's
  // errors='replace'), and resets the decoder for a new stream.
  std::string Finish();

  // Bytes held back, waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;  // Bytes not yet returned: at most a 3-byte truncated character.
};

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_STREAM_DECODER_H_
