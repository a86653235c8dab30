#include "router/parsers/tag_matcher.h"

#include <string>

#include "gtest/gtest.h"

namespace moeserve::parsers {
namespace {

// Feeds text the way the parsers do; returns released text, counts complete matches.
std::string FeedAll(TagMatcher& m, std::string_view text, int* matches) {
  std::string out;
  for (char c : text) {
    if (m.Continues(c)) {
      if (m.Advance()) ++*matches;
      continue;
    }
    m.Release(&out);
    if (m.Continues(c)) {
      m.Advance();
    } else {
      out.push_back(c);
    }
  }
  return out;
}

TEST(TagMatcher, FindsEveryOccurrenceAndReleasesTheRest) {
  TagMatcher m("<think>");
  int matches = 0;
  EXPECT_EQ(FeedAll(m, "a<think>b<<thinkk<think><think", &matches), "ab<<thinkk");
  EXPECT_EQ(matches, 2);
  EXPECT_EQ(m.held(), "<think");
  EXPECT_EQ(m.matched(), 6u);
}

TEST(TagMatcher, ReleaseAndResetEmptyTheCandidate) {
  TagMatcher m("</tool_call>");
  int matches = 0;
  EXPECT_EQ(FeedAll(m, "</tool", &matches), "");
  std::string out = "x";
  m.Release(&out);
  EXPECT_EQ(out, "x</tool");
  EXPECT_EQ(m.matched(), 0u);
  FeedAll(m, "</to", &matches);
  m.Reset();
  EXPECT_TRUE(m.held().empty());
  EXPECT_EQ(matches, 0);
}

TEST(TagMatcherDeathTest, RejectsTagsWhoseFirstByteRecurs) {
  EXPECT_DEATH(TagMatcher(std::string_view("abca")), "");
  EXPECT_DEATH(TagMatcher(std::string_view("")), "");
}

}  // namespace
}  // namespace moeserve::parsers
