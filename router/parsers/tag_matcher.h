// TagMatcher: incremental, byte-at-a-time recognition of one fixed ASCII tag.
//
// The streaming parsers hold back only the bytes that could still begin a tag. A TagMatcher
// owns exactly that held-back state: how many leading bytes of the tag the most recent input
// bytes spell. Every input byte is examined once, so a parser built on it is linear time.
//
// Restriction: the tag's first byte must not occur again inside the tag (true for `<think>`,
// `</think>`, `<tool_call>`, `</tool_call>`). Then on a mismatch the held prefix can never be
// the start of a match, and the only possible restart is the mismatching byte itself: no
// failure function (KMP) is needed. The constructor checks this at compile time when the
// matcher is constexpr-constructed, and at run time otherwise.
//
// A value type; not thread-safe (one owner, like the parser that holds it).
#ifndef MOESERVE_ROUTER_PARSERS_TAG_MATCHER_H_
#define MOESERVE_ROUTER_PARSERS_TAG_MATCHER_H_

#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>

namespace moeserve::parsers {

class TagMatcher {
 public:
  // `tag` must outlive the matcher (pass a string literal or a static constant), be
  // non-empty, and have a first byte that does not reoccur in it.
  explicit constexpr TagMatcher(std::string_view tag) : tag_(tag) {
    if (tag_.empty() || tag_.find(tag_[0], 1) != std::string_view::npos) std::abort();
  }

  std::string_view tag() const { return tag_; }

  // Bytes of the tag matched so far, i.e. the held-back bytes; 0 when nothing is held.
  size_t matched() const { return matched_; }
  std::string_view held() const { return tag_.substr(0, matched_); }

  // Whether `c` extends the current candidate (from an empty candidate: starts one).
  bool Continues(char c) const { return c == tag_[matched_]; }

  // Consumes a byte for which Continues() was true. Returns true when the whole tag has been
  // seen; the matcher is then empty again.
  bool Advance() {
    if (++matched_ < tag_.size()) return false;
    matched_ = 0;
    return true;
  }

  // The candidate turned out not to be the tag: appends the held bytes to `out` (verbatim,
  // they are ordinary text) and empties the matcher.
  void Release(std::string* out) {
    out->append(tag_.data(), matched_);
    matched_ = 0;
  }

  // Drops the candidate without copying it (the caller keeps the bytes elsewhere).
  void Reset() { matched_ = 0; }

 private:
  std::string_view tag_;
  size_t matched_ = 0;
};

}  // namespace moeserve::parsers

#endif  // MOESERVE_ROUTER_PARSERS_TAG_MATCHER_H_
