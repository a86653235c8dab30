// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (Qwen2/Qwen3 family), equal
// to the reference `tokenizers` library on every input.
//
// Encode: added tokens are cut out of the raw text, the rest is NFC-normalized (if configured),
// split by the pre-tokenizer, and each piece is BPE-encoded over its UTF-8 bytes. Input that is
// not well-formed UTF-8 is first repaired by replacing each maximal ill-formed subpart with
// U+FFFD (what the reference sees after String::from_utf8_lossy / Python errors='replace'), so
// invalid bytes never crash and always encode as the replacement character.
//
// Decode: token bytes are concatenated (the byte-level alphabet undone; an added token whose
// text is outside the alphabet contributes its UTF-8 text) and converted to text with the same
// U+FFFD policy. Unknown ids are an error (the reference drops them silently).
//
// Supported configuration: model BPE (no dropout, byte fallback, unk, prefixes or suffixes),
// normalizer null or NFC, pre-tokenizer Split(regex, Isolated) + ByteLevel(use_regex=false) or
// ByteLevel(use_regex=true) alone, decoder ByteLevel, post-processor null or ByteLevel. Anything
// else fails to load with Unimplemented rather than tokenizing differently.
//
// Added tokens get their ids the way the reference assigns them on load (model id when the text
// is in the vocabulary, else the next free id, in file order); the ids in the file are checked
// and a mismatch is logged. A normalized added token's text is kept in NFC form, as the
// reference does (it is matched, looked up and decoded in that form).
//
// Thread-safety: immutable after loading, except an internal word cache guarded by sharded
// mutexes; all const methods may be called concurrently.
#ifndef MOESERVE_ROUTER_TOKENIZER_TOKENIZER_H_
#define MOESERVE_ROUTER_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "router/tokenizer/added_vocabulary.h"
#include "router/tokenizer/bpe_model.h"
#include "router/tokenizer/pre_tokenizer.h"

namespace moeserve::tokenizer {

class Tokenizer {
 public:
  // Loads `path`: a tokenizer.json file, or a directory that holds one.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  // Loads from the text of a tokenizer.json.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json);

  // Token ids of `text`. With allow_special=false, special added tokens (special: true, such as
  // <|im_start|>) are not recognized and their text is encoded as ordinary text; non-special
  // added tokens (<think>) are recognized either way, as in the reference.
  std::vector<int32_t> Encode(std::string_view text, bool allow_special = true) const;

  // Text of `ids`; special tokens are dropped with skip_special. InvalidArgument on an unknown id.
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special = false) const;

  // Appends the raw bytes of `ids` (before the conversion to text, so possibly a partial UTF-8
  // character at either end) to `bytes`. InvalidArgument on an unknown id, with `bytes` holding
  // the bytes of the ids before it.
  absl::Status AppendTokenBytes(absl::Span<const int32_t> ids, bool skip_special,
                                std::string* bytes) const;

  // Id of a token given as it appears in the vocabulary (byte-level text such as "Ġhello", or an
  // added token's content).
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The vocabulary text of `id`, nullopt for an unknown id. Valid while the tokenizer lives.
  std::optional<std::string_view> IdToToken(int32_t id) const;
  // True for added tokens flagged special.
  bool IsSpecial(int32_t id) const;
  // One past the largest id (model vocabulary and added tokens together).
  int32_t vocab_size() const { return static_cast<int32_t>(decode_.size()); }
  const std::vector<AddedToken>& added_tokens() const { return added_->tokens(); }

 private:
  // How one id decodes.
  struct DecodeEntry {
    enum Kind : uint8_t { kUnknown, kModel, kAdded, kSpecial };
    Kind kind = kUnknown;
    int32_t added_index = -1;  // For kAdded and kSpecial.
  };

  Tokenizer() = default;
  void EncodeNormalizable(std::string_view text, bool allow_special,
                          std::vector<int32_t>* ids) const;
  void EncodePlain(std::string_view text, std::vector<int32_t>* ids) const;

  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<AddedVocabulary> added_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  bool nfc_ = false;
  std::vector<DecodeEntry> decode_;       // By id.
  std::vector<std::string> added_bytes_;  // By added token index: decoded bytes.
};

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_TOKENIZER_H_
