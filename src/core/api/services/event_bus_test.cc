#include "core/api/services/event_bus.h"

#include <gtest/gtest.h>

#include <string>

namespace sg {
namespace {

struct SubjectCase {
  const char* subject;
  bool valid_for_publish;
  bool valid_for_subscribe;
};

TEST(ValidateSubjectTest, FollowsNatsSubjectRules) {
  const SubjectCase cases[] = {
      {"streamgate.file.uploaded", true, true},
      {"a", true, true},
      {"_INBOX.abc123", true, true},
      {"caf\xC3\xA9.menu", true, true},  // UTF-8 is allowed, as in NATS
      {"a*b.c>d", true, true},           // wildcards only count as whole tokens
      {"foo-bar_baz.$SYS", true, true},
      {"a.*", false, true},
      {"*", false, true},
      {">", false, true},
      {"a.>", false, true},
      {"*.*.>", false, true},
      {"a.>.b", false, false},  // '>' only last
      {">.a", false, false},
      {"", false, false},
      {".", false, false},
      {"a.", false, false},
      {".a", false, false},
      {"a..b", false, false},
      {"a b", false, false},
      {"a\tb", false, false},
      {"a\nb", false, false},
      {"a\rb", false, false},
      {"a\x7f", false, false},
      {"a.\x01", false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("subject \"") + c.subject + "\"");
    Result<> publish = ValidateSubject(c.subject, false);
    Result<> subscribe = ValidateSubject(c.subject, true);
    EXPECT_EQ(publish.has_value(), c.valid_for_publish);
    EXPECT_EQ(subscribe.has_value(), c.valid_for_subscribe);
    if (!publish) {
      EXPECT_EQ(publish.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(ValidateSubjectTest, ErrorsNameTheSubjectAndTheProblem) {
  auto empty_token = ValidateSubject("a..b", true);
  ASSERT_FALSE(empty_token);
  EXPECT_NE(empty_token.error().message.find("\"a..b\""), std::string::npos);
  EXPECT_NE(empty_token.error().message.find("empty token"), std::string::npos);

  auto wildcard = ValidateSubject("a.*", false);
  ASSERT_FALSE(wildcard);
  EXPECT_NE(wildcard.error().message.find("wildcard"), std::string::npos);

  auto misplaced = ValidateSubject("a.>.b", true);
  ASSERT_FALSE(misplaced);
  EXPECT_NE(misplaced.error().message.find("last token"), std::string::npos);
}

struct MatchCase {
  const char* pattern;
  const char* subject;
  bool matches;
};

TEST(SubjectMatchesTest, FollowsNatsWildcardSemantics) {
  const MatchCase cases[] = {
      {"a.b.c", "a.b.c", true},
      {"a.b.c", "a.b", false},
      {"a.b", "a.b.c", false},
      {"a.b.c", "a.b.d", false},
      {"a.b", "a.bc", false},
      {"a.bc", "a.b", false},
      {"*", "a", true},
      {"*", "a.b", false},
      {"a.*", "a.b", true},
      {"a.*", "a", false},
      {"a.*", "a.b.c", false},
      {"*.b", "a.b", true},
      {"*.b", "a.c", false},
      {"a.*.c", "a.x.c", true},
      {"a.*.c", "a.x.y.c", false},
      {"*.*", "a.b", true},
      {">", "a", true},
      {">", "a.b.c", true},
      {"a.>", "a.b", true},
      {"a.>", "a.b.c.d", true},
      {"a.>", "a", false},  // '>' needs at least one token
      {"a.>", "b.c", false},
      {"*.>", "a.b", true},
      {"*.>", "a", false},
      {"a.*.>", "a.b.c", true},
      {"a.*.>", "a.b", false},
      {"a*", "ab", false},  // not a wildcard inside a token
      {"a*", "a*", true},
      {"a.b>", "a.b.c", false},
      {"streamgate.transcoding.*", "streamgate.transcoding.completed", true},
      {"streamgate.>", "streamgate.file.uploaded", true},
      {"streamgate.file.uploaded", "streamgate.file.uploaded.x", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SubjectMatches(c.pattern, c.subject), c.matches)
        << "pattern \"" << c.pattern << "\" subject \"" << c.subject << "\"";
  }
}

}  // namespace
}  // namespace sg
