#include "core/api/services/metadata_store.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

namespace sg {
namespace {

struct IdCase {
  std::string id;
  bool valid;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const IdCase& c, std::ostream* os) { *os << '"' << c.id << '"'; }
};

class IsValidIdTest : public ::testing::TestWithParam<IdCase> {};

TEST_P(IsValidIdTest, AcceptsOnlySixteenToSixtyFourLowerAlphanumerics) {
  EXPECT_EQ(IsValidId(GetParam().id), GetParam().valid) << "id: \"" << GetParam().id << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Table, IsValidIdTest,
    ::testing::Values(IdCase{"abcdefghij234567", true},                     // 16: shortest
                      IdCase{std::string(64, 'z'), true},                   // 64: longest
                      IdCase{"0123456789abcdefghijklmnopqrstuv", true},     // digits 0, 1, 8, 9 too
                      IdCase{"", false}, IdCase{"abcdefghij23456", false},  // 15: too short
                      IdCase{std::string(65, 'a'), false},                  // 65: too long
                      IdCase{"ABCDEFGHIJ234567", false},                    // upper case
                      IdCase{"abcdefghij23456-", false}, IdCase{"abcdefghij23456_", false},
                      IdCase{"abcdefgh/../2345", false}, IdCase{"../etc/passwdxxxx", false},
                      IdCase{"%2e%2e%2fabcdefghij", false}, IdCase{"abcdefghij 234567", false},
                      IdCase{std::string("abcdefghij\0"
                                         "234567",
                                         17),
                             false},
                      IdCase{"abcdefghij\xc3\xa9"
                             "23456",
                             false}));

TEST(NewIdTest, IsTwentyCharactersOfLowerCaseBase32) {
  for (int i = 0; i < 200; ++i) {
    std::string id = NewId();
    ASSERT_EQ(id.size(), 20u);
    for (char c : id) {
      ASSERT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << id;
    }
    EXPECT_TRUE(IsValidId(id)) << id;
  }
}

TEST(NewIdTest, IdsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_TRUE(seen.insert(NewId()).second);
  }
}

TEST(NewIdTest, EveryPositionUsesTheWholeAlphabet) {
  // A bit-extraction bug (e.g. always-zero bits at the end) shows as a position that only
  // ever takes a few values.
  std::array<std::set<char>, 20> seen;
  for (int i = 0; i < 4000; ++i) {
    std::string id = NewId();
    for (std::size_t p = 0; p < id.size(); ++p) {
      seen[p].insert(id[p]);
    }
  }
  for (std::size_t p = 0; p < seen.size(); ++p) {
    EXPECT_EQ(seen[p].size(), 32u) << "position " << p;
  }
}

}  // namespace
}  // namespace sg
