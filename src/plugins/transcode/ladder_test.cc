#include "plugins/transcode/ladder.h"

#include <gtest/gtest.h>

namespace sg::plugins::transcode {
namespace {

std::vector<RungSpec> DefaultRungs() {
  auto rungs = ParseLadder({"360p=500k", "480p=1000k", "720p=2000k", "1080p=4000k"});
  EXPECT_TRUE(rungs);
  return rungs.value_or(std::vector<RungSpec>{});
}

std::string Describe(const std::vector<PlannedRendition>& planned) {
  std::string text;
  for (const auto& r : planned) {
    text += fmt::format("{}:{}x{}@{} ", r.name, r.width, r.height, r.bitrate);
  }
  return text;
}

TEST(ParseBitrateTest, AcceptsSuffixesAndPlainNumbers) {
  EXPECT_EQ(ParseBitrate("128k").value(), 128'000u);
  EXPECT_EQ(ParseBitrate("4M").value(), 4'000'000u);
  EXPECT_EQ(ParseBitrate("96000").value(), 96'000u);
}

TEST(ParseBitrateTest, RejectsGarbageZeroAndNegative) {
  for (auto bad : {"", "k", "0k", "-5k", "12x", "1.5M", "abc"}) {
    EXPECT_FALSE(ParseBitrate(bad)) << bad;
  }
}

TEST(ParseLadderTest, SortsRungsByShortSide) {
  auto rungs = ParseLadder({"720p=2M", "360p=500k"});
  ASSERT_TRUE(rungs);
  ASSERT_EQ(rungs->size(), 2u);
  EXPECT_EQ((*rungs)[0].name, "360p");
  EXPECT_EQ((*rungs)[0].short_side, 360);
  EXPECT_EQ((*rungs)[1].bitrate, 2'000'000u);
}

TEST(ParseLadderTest, BadEntryIsAnErrorThatNamesIt) {
  auto rungs = ParseLadder({"360p=500k", "720=2M"});
  ASSERT_FALSE(rungs);
  EXPECT_NE(rungs.error().message.find("720=2M"), std::string::npos);
  EXPECT_FALSE(ParseLadder({}));
  EXPECT_FALSE(ParseLadder({"360p=500k", "360p=600k"}));
  EXPECT_FALSE(ParseLadder({"360p"}));
  EXPECT_FALSE(ParseLadder({"360p=fast"}));
}

TEST(PlanLadderTest, FullHdLandscapeGetsEveryRung) {
  EXPECT_EQ(Describe(PlanLadder(DefaultRungs(), 1920, 1080)),
            "360p:640x360@500000 480p:854x480@1000000 720p:1280x720@2000000 "
            "1080p:1920x1080@4000000 ");
}

TEST(PlanLadderTest, NeverUpscales) {
  EXPECT_EQ(Describe(PlanLadder(DefaultRungs(), 1280, 720)),
            "360p:640x360@500000 480p:854x480@1000000 720p:1280x720@2000000 ");
  // 719 lines: 720p would be an upscale.
  EXPECT_EQ(Describe(PlanLadder(DefaultRungs(), 1278, 719)),
            "360p:640x360@500000 480p:854x480@1000000 ");
}

TEST(PlanLadderTest, PortraitAppliesTheNominalSizeToTheShorterSide) {
  EXPECT_EQ(Describe(PlanLadder(DefaultRungs(), 1080, 1920)),
            "360p:360x640@500000 480p:480x854@1000000 720p:720x1280@2000000 "
            "1080p:1080x1920@4000000 ");
}

TEST(PlanLadderTest, RotatedPhoneVideoIsPlannedInDisplayOrientation) {
  auto planned = PlanLadder(DefaultRungs(), 1920, 1080, 90);
  ASSERT_EQ(planned.size(), 4u);
  EXPECT_EQ(planned[0].width, 360);
  EXPECT_EQ(planned[0].height, 640);
  EXPECT_EQ(PlanLadder(DefaultRungs(), 1920, 1080, -90)[0].width, 360);
  EXPECT_EQ(PlanLadder(DefaultRungs(), 1920, 1080, 180)[0].width, 640);
  EXPECT_EQ(PlanLadder(DefaultRungs(), 1920, 1080, 12345).size(), 4u);  // no crash
}

TEST(PlanLadderTest, OddSizesKeepTheAspectRatioWithEvenDimensions) {
  auto planned = PlanLadder(DefaultRungs(), 1001, 563);
  ASSERT_EQ(planned.size(), 2u);
  for (const auto& r : planned) {
    EXPECT_EQ(r.width % 2, 0) << r.name;
    EXPECT_EQ(r.height % 2, 0) << r.name;
  }
  EXPECT_EQ(planned[0].width, 640);  // 1001 * 360 / 563 = 640.07
  EXPECT_EQ(planned[1].width, 854);  // 853.4 -> nearest even
}

TEST(PlanLadderTest, SourceSmallerThanTheLowestRungGetsOneRungAtItsOwnSize) {
  auto planned = PlanLadder(DefaultRungs(), 160, 120);
  ASSERT_EQ(planned.size(), 1u);
  EXPECT_EQ(planned[0].name, "120p");
  EXPECT_EQ(planned[0].width, 160);
  EXPECT_EQ(planned[0].height, 120);
  EXPECT_EQ(planned[0].bitrate, 125'000u);  // a quarter of 500k at least
}

TEST(PlanLadderTest, TinyOddSourceIsRoundedDownNotUp) {
  auto planned = PlanLadder(DefaultRungs(), 161, 121);
  ASSERT_EQ(planned.size(), 1u);
  EXPECT_EQ(planned[0].width, 160);
  EXPECT_EQ(planned[0].height, 120);
}

TEST(PlanLadderTest, UnknownSizeGivesNothing) {
  EXPECT_TRUE(PlanLadder(DefaultRungs(), 0, 0).empty());
  EXPECT_TRUE(PlanLadder({}, 1920, 1080).empty());
}

}  // namespace
}  // namespace sg::plugins::transcode
