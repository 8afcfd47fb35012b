#include "plugins/streaming/manifests.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sg::plugins::streaming {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Seg {
  double seconds;
  std::uint64_t bytes;
};

RenditionMedia Video(std::string name, std::int64_t width, std::int64_t height, std::string codec,
                     std::uint64_t bandwidth, const std::vector<Seg>& segments) {
  RenditionMedia media;
  media.rendition.content_id = "c0ntent0000000001";
  media.rendition.name = std::move(name);
  media.rendition.kind = "video";
  media.rendition.codec = std::move(codec);
  media.rendition.bandwidth = bandwidth;
  media.rendition.width = width;
  media.rendition.height = height;
  media.rendition.frame_rate = 25;
  media.rendition.target_segment_seconds = 4;
  media.rendition.complete = true;
  std::uint32_t number = 0;
  for (const auto& seg : segments) {
    SegmentRecord record;
    record.content_id = media.rendition.content_id;
    record.rendition = media.rendition.name;
    record.number = number++;
    record.duration_seconds = seg.seconds;
    record.bytes = seg.bytes;
    media.segments.push_back(record);
  }
  return media;
}

RenditionMedia Audio(const std::vector<Seg>& segments) {
  RenditionMedia media = Video("audio", 0, 0, "mp4a.40.2", 128000, segments);
  media.rendition.kind = "audio";
  media.rendition.frame_rate = 0;
  media.rendition.sample_rate = 48000;
  media.rendition.channels = 2;
  return media;
}

/// 360p and 720p with 3 segments of 4, 4 and 2.5 s, plus audio; listed out of order on
/// purpose (video must come out by height).
ManifestInput Ladder() {
  ManifestInput input;
  input.content.id = "c0ntent0000000001";
  input.content.status = "ready";
  input.renditions.push_back(Audio({{4, 64000}, {4, 64500}, {2.5, 40000}}));
  input.renditions.push_back(
      Video("720p", 1280, 720, "avc1.64001f", 2140000, {{4, 400000}, {4, 420000}, {2.5, 250000}}));
  input.renditions.push_back(
      Video("360p", 640, 360, "avc1.64001e", 535000, {{4, 200000}, {4, 210000}, {2.5, 120000}}));
  return input;
}

ManifestInput Processing(ManifestInput input) {
  input.content.status = "processing";
  for (auto& media : input.renditions) {
    media.rendition.complete = false;
  }
  return input;
}

RenditionMedia& Find(ManifestInput& input, std::string_view name) {
  for (auto& media : input.renditions) {
    if (media.rendition.name == name) {
      return media;
    }
  }
  ADD_FAILURE() << "no rendition " << name;
  return input.renditions.front();
}

/// Runs xmllint on `xml`; empty optional when xmllint is not installed.
std::optional<int> XmllintExitCode(const std::string& xml) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) {
    return std::nullopt;
  }
  const auto path = std::filesystem::path(::testing::TempDir()) /
                    ("manifests_test_" + std::to_string(::getpid()) + ".mpd");
  {
    std::ofstream file(path, std::ios::binary);
    file << xml;
  }
  const int status = std::system(("xmllint --noout '" + path.string() + "' 2>/dev/null").c_str());
  std::filesystem::remove(path);
  return status;
}

// Peaks: 360p 210000*8/4 = 420000, 720p 840000, audio 129000.
// Averages: 360p 530000*8/10.5 = 403809.52, 720p 815238.10, audio 128380.95.
constexpr std::string_view kGoldenMaster =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,"
    "CHANNELS=\"2\",URI=\"audio/playlist.m3u8\"\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=549000,AVERAGE-BANDWIDTH=532190,RESOLUTION=640x360,"
    "FRAME-RATE=25.000,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"audio\"\n"
    "360p/playlist.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=969000,AVERAGE-BANDWIDTH=943619,RESOLUTION=1280x720,"
    "FRAME-RATE=25.000,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"audio\"\n"
    "720p/playlist.m3u8\n";

constexpr std::string_view kGoldenVodMedia =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:4\n"
    "#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-PLAYLIST-TYPE:VOD\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXTINF:4.000000,\n"
    "segment_0.m4s\n"
    "#EXTINF:4.000000,\n"
    "segment_1.m4s\n"
    "#EXTINF:2.500000,\n"
    "segment_2.m4s\n"
    "#EXT-X-ENDLIST\n";

/// The SegmentTemplate of every rendition of the ladder (4 s, 4 s, 2.5 s).
constexpr std::string_view kGoldenTemplate =
    "        <SegmentTemplate timescale=\"1000\" initialization=\"$RepresentationID$/"
    "init.mp4\" media=\"$RepresentationID$/segment_$Number$.m4s\" startNumber=\"0\">\n"
    "          <SegmentTimeline>\n"
    "            <S t=\"0\" d=\"4000\" r=\"1\"/>\n"
    "            <S t=\"8000\" d=\"2500\"/>\n"
    "          </SegmentTimeline>\n"
    "        </SegmentTemplate>\n";

std::string GoldenMpd() {
  const std::string segment_template(kGoldenTemplate);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
         "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" "
         "mediaPresentationDuration=\"PT10.500S\" minBufferTime=\"PT8.000S\">\n"
         "  <Period id=\"0\" start=\"PT0S\">\n"
         "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" "
         "segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1280\" maxHeight=\"720\" "
         "maxFrameRate=\"25\">\n"
         "      <Representation id=\"360p\" bandwidth=\"420000\" width=\"640\" height=\"360\" "
         "frameRate=\"25\" codecs=\"avc1.64001e\" sar=\"1:1\">\n" +
         segment_template +
         "      </Representation>\n"
         "      <Representation id=\"720p\" bandwidth=\"840000\" width=\"1280\" height=\"720\" "
         "frameRate=\"25\" codecs=\"avc1.64001f\" sar=\"1:1\">\n" +
         segment_template +
         "      </Representation>\n"
         "    </AdaptationSet>\n"
         "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"und\" "
         "segmentAlignment=\"true\">\n"
         "      <Representation id=\"audio\" codecs=\"mp4a.40.2\" bandwidth=\"129000\" "
         "audioSamplingRate=\"48000\">\n"
         "        <AudioChannelConfiguration "
         "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"2\"/>\n" +
         segment_template +
         "      </Representation>\n"
         "    </AdaptationSet>\n"
         "  </Period>\n"
         "</MPD>\n";
}

TEST(HlsMasterTest, LadderMatchesGolden) { EXPECT_EQ(BuildHlsMaster(Ladder()), kGoldenMaster); }

TEST(HlsMediaTest, ReadyRenditionIsAVodPlaylistMatchingGolden) {
  auto playlist = BuildHlsMedia(Ladder(), "360p");

  ASSERT_TRUE(playlist.has_value()) << playlist.error().ToString();
  EXPECT_EQ(*playlist, kGoldenVodMedia);
}

TEST(DashMpdTest, ReadyLadderMatchesGoldenAndIsWellFormedXml) {
  auto mpd = BuildDashMpd(Ladder());

  ASSERT_TRUE(mpd.has_value()) << mpd.error().ToString();
  EXPECT_EQ(*mpd, GoldenMpd());
  if (auto code = XmllintExitCode(*mpd); code.has_value()) {
    EXPECT_EQ(*code, 0) << "xmllint rejected the MPD";
  }
}

// Playback tokens ride in the path: every URI of the master gets the prefix; the media
// playlists are fetched under it, so their relative URIs need none.
TEST(HlsMasterTest, AUriPrefixGoesInFrontOfEveryPlaylistUriAndNothingElse) {
  std::string plain = BuildHlsMaster(Ladder());
  std::string tokened = BuildHlsMaster(Ladder(), "t/abc/");
  std::string expected = plain;
  for (std::string name : {"audio", "360p", "720p"}) {
    std::string uri = name + "/playlist.m3u8";
    auto at = expected.find(uri);
    ASSERT_NE(at, std::string::npos) << uri;
    expected.insert(at, "t/abc/");
  }
  EXPECT_EQ(tokened, expected);
}

TEST(DashMpdTest, AUriPrefixBecomesTheBaseUrlBeforeThePeriod) {
  auto plain = BuildDashMpd(Ladder());
  auto tokened = BuildDashMpd(Ladder(), "t/abc/");
  ASSERT_TRUE(plain && tokened);
  EXPECT_EQ(plain->find("<BaseURL>"), std::string::npos);
  auto base = tokened->find("  <BaseURL>t/abc/</BaseURL>\n");
  ASSERT_NE(base, std::string::npos);
  EXPECT_LT(base, tokened->find("<Period"));
  std::string without = *tokened;
  without.erase(base, std::string("  <BaseURL>t/abc/</BaseURL>\n").size());
  EXPECT_EQ(without, *plain);
}

TEST(HlsMediaTest, WhileProcessingItIsAnEventPlaylistOfTheContiguousPrefixOnly) {
  auto input = Processing(Ladder());
  auto& video = Find(input, "360p");
  video.segments.erase(video.segments.begin() + 1);  // 0 and 2 recorded, 1 not yet

  auto playlist = BuildHlsMedia(input, "360p");

  ASSERT_TRUE(playlist.has_value());
  EXPECT_EQ(*playlist,
            "#EXTM3U\n"
            "#EXT-X-VERSION:7\n"
            "#EXT-X-TARGETDURATION:4\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-PLAYLIST-TYPE:EVENT\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-MAP:URI=\"init.mp4\"\n"
            "#EXTINF:4.000000,\n"
            "segment_0.m4s\n");
}

TEST(HlsMediaTest, ProcessingWithoutAnySegmentIsAnEmptyEventPlaylist) {
  auto input = Processing(Ladder());
  Find(input, "720p").segments.clear();

  auto playlist = BuildHlsMedia(input, "720p");

  ASSERT_TRUE(playlist.has_value());
  EXPECT_THAT(*playlist, HasSubstr("#EXT-X-TARGETDURATION:4\n"));
  EXPECT_THAT(*playlist, HasSubstr("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
  EXPECT_THAT(*playlist, Not(HasSubstr("#EXTINF")));
  EXPECT_THAT(*playlist, Not(HasSubstr("ENDLIST")));
}

TEST(HlsMediaTest, SegmentsAreListedByNumberAndADuplicateOnlyOnce) {
  auto input = Ladder();
  auto& segments = Find(input, "360p").segments;
  std::swap(segments[0], segments[2]);
  segments.push_back(segments[1]);  // segment 1 recorded twice (a re-run job)

  auto playlist = BuildHlsMedia(input, "360p");

  ASSERT_TRUE(playlist.has_value());
  EXPECT_EQ(*playlist, kGoldenVodMedia);
}

TEST(IsCompleteTest, NeedsReadyContentAndEveryRenditionCompleteWithoutGaps) {
  EXPECT_TRUE(IsComplete(Ladder()));
  EXPECT_FALSE(IsComplete(Processing(Ladder())));

  auto processing_content = Ladder();
  processing_content.content.status = "processing";
  EXPECT_FALSE(IsComplete(processing_content));

  auto one_incomplete = Ladder();
  Find(one_incomplete, "audio").rendition.complete = false;
  EXPECT_FALSE(IsComplete(one_incomplete));

  auto gap = Ladder();
  Find(gap, "720p").segments.erase(Find(gap, "720p").segments.begin() + 1);
  EXPECT_FALSE(IsComplete(gap));

  auto no_segments = Ladder();
  Find(no_segments, "720p").segments.clear();
  EXPECT_FALSE(IsComplete(no_segments));

  auto nothing = Ladder();
  nothing.renditions.clear();
  EXPECT_FALSE(IsComplete(nothing));
}

TEST(HlsMediaTest, UnknownRenditionIsNotFound) {
  for (std::string_view name : {"1080p", "", "../360p"}) {
    auto playlist = BuildHlsMedia(Ladder(), name);

    ASSERT_FALSE(playlist.has_value()) << name;
    EXPECT_EQ(playlist.error().code, ErrorCode::kNotFound);
  }
}

TEST(HlsMediaTest, RenditionWithAnUnsafeNameIsIgnoredEverywhere) {
  auto input = Ladder();
  input.renditions.push_back(Video("bad\nname", 1920, 1080, "avc1.640028", 4280000, {{4, 1}}));

  EXPECT_EQ(BuildHlsMedia(input, "bad\nname").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(BuildHlsMaster(input), kGoldenMaster);
}

TEST(HlsMediaTest, TargetDurationIsTheCeilingOfTheLongestSegment) {
  auto input = Ladder();
  auto& segments = Find(input, "360p").segments;
  segments[1].duration_seconds = 4.2;
  EXPECT_THAT(*BuildHlsMedia(input, "360p"), HasSubstr("#EXT-X-TARGETDURATION:5\n"));

  // Floating-point noise below EXTINF's 6 decimals does not raise it.
  segments[1].duration_seconds = 4.0 + 1e-9;
  EXPECT_THAT(*BuildHlsMedia(input, "360p"), HasSubstr("#EXT-X-TARGETDURATION:4\n"));

  segments[1].duration_seconds = 0.4;
  segments[0].duration_seconds = 0.3;
  segments[2].duration_seconds = 0.2;
  EXPECT_THAT(*BuildHlsMedia(input, "360p"), HasSubstr("#EXT-X-TARGETDURATION:1\n"));
}

TEST(HlsMediaTest, WithoutSegmentsTargetDurationComesFromTheConfiguredLength) {
  auto input = Processing(Ladder());
  auto& video = Find(input, "360p");
  video.segments.clear();
  video.rendition.target_segment_seconds = 3.5;
  EXPECT_THAT(*BuildHlsMedia(input, "360p"), HasSubstr("#EXT-X-TARGETDURATION:4\n"));

  video.rendition.target_segment_seconds = 0;
  EXPECT_THAT(*BuildHlsMedia(input, "360p"), HasSubstr("#EXT-X-TARGETDURATION:1\n"));
}

TEST(HlsMasterTest, ContentWithoutAudioHasNoAudioGroupAndVideoOnlyCodecs) {
  auto input = Ladder();
  input.renditions.erase(input.renditions.begin());  // the audio rendition

  EXPECT_EQ(BuildHlsMaster(input),
            "#EXTM3U\n"
            "#EXT-X-VERSION:7\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=420000,AVERAGE-BANDWIDTH=403810,RESOLUTION=640x360,"
            "FRAME-RATE=25.000,CODECS=\"avc1.64001e\"\n"
            "360p/playlist.m3u8\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=840000,AVERAGE-BANDWIDTH=815238,RESOLUTION=1280x720,"
            "FRAME-RATE=25.000,CODECS=\"avc1.64001f\"\n"
            "720p/playlist.m3u8\n");
}

TEST(DashMpdTest, ContentWithoutAudioHasNoAudioAdaptationSet) {
  auto input = Ladder();
  input.renditions.erase(input.renditions.begin());

  auto mpd = BuildDashMpd(input);

  ASSERT_TRUE(mpd.has_value());
  EXPECT_THAT(*mpd, Not(HasSubstr("contentType=\"audio\"")));
  EXPECT_THAT(*mpd, Not(HasSubstr("AudioChannelConfiguration")));
  EXPECT_THAT(*mpd, HasSubstr("contentType=\"video\""));
}

TEST(HlsMasterTest, AudioOnlyContentHasTheAudioRenditionAsItsOneVariant) {
  ManifestInput input;
  input.content.status = "ready";
  input.renditions.push_back(Audio({{4, 64000}, {4, 64500}, {2.5, 40000}}));

  EXPECT_EQ(BuildHlsMaster(input),
            "#EXTM3U\n"
            "#EXT-X-VERSION:7\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=129000,AVERAGE-BANDWIDTH=128381,CODECS=\"mp4a.40.2\"\n"
            "audio/playlist.m3u8\n");
}

TEST(HlsMasterTest, RenditionWithoutSegmentsYetUsesItsTargetBandwidth) {
  auto input = Processing(Ladder());
  Find(input, "720p").segments.clear();
  Find(input, "audio").segments.clear();

  const std::string master = BuildHlsMaster(input);

  // 720p: 2140000 + audio 128000, for both peak and average.
  EXPECT_THAT(master, HasSubstr("BANDWIDTH=2268000,AVERAGE-BANDWIDTH=2268000,"));
  // 360p measured (peak 420000, average 403809.52) plus the audio's target.
  EXPECT_THAT(master, HasSubstr("BANDWIDTH=548000,AVERAGE-BANDWIDTH=531810,"));
}

TEST(HlsMasterTest, PeakBandwidthRoundsUpAndAverageRoundsToNearest) {
  auto input = Ladder();
  input.renditions.erase(input.renditions.begin());
  auto& segments = Find(input, "360p").segments;
  segments = {segments[0]};
  segments[0].duration_seconds = 3;
  segments[0].bytes = 100001;  // 266669.33 bit/s

  EXPECT_THAT(BuildHlsMaster(input), HasSubstr("BANDWIDTH=266670,AVERAGE-BANDWIDTH=266669,"));
}

TEST(HlsMasterTest, ATinyLastSegmentDoesNotSetThePeak) {
  auto input = Ladder();
  input.renditions.erase(input.renditions.begin());
  auto& segments = Find(input, "360p").segments;
  segments = {segments[0], segments[1]};
  segments[0].duration_seconds = 4;
  segments[0].bytes = 250'000;  // 500 kbit/s
  segments[1].duration_seconds = 0.023;
  segments[1].bytes = 3'000;  // one frame plus headers: "1043 kbit/s"

  EXPECT_THAT(BuildHlsMaster(input), HasSubstr("BANDWIDTH=500000,"));
}

TEST(DashMpdTest, WhileProcessingItIsUnavailable) {
  auto mpd = BuildDashMpd(Processing(Ladder()));

  ASSERT_FALSE(mpd.has_value());
  EXPECT_EQ(mpd.error().code, ErrorCode::kUnavailable);
}

TEST(FrameRateTest, NtscRateIsAFractionInDashAndThreeDecimalsInHls) {
  auto input = Ladder();
  for (auto& media : input.renditions) {
    if (media.rendition.kind == "video") {
      media.rendition.frame_rate = 30000.0 / 1001.0;
    }
  }

  EXPECT_THAT(BuildHlsMaster(input), HasSubstr(",FRAME-RATE=29.970,"));
  auto mpd = BuildDashMpd(input);
  ASSERT_TRUE(mpd.has_value());
  EXPECT_THAT(*mpd, HasSubstr(" frameRate=\"30000/1001\" "));
  EXPECT_THAT(*mpd, HasSubstr(" maxFrameRate=\"30000/1001\">"));
}

TEST(FrameRateTest, DashFrameRateIsTheClosestWholeOrNtscRate) {
  EXPECT_EQ(DashFrameRate(25), "25");
  EXPECT_EQ(DashFrameRate(24.999), "25");
  EXPECT_EQ(DashFrameRate(29.97), "30000/1001");
  EXPECT_EQ(DashFrameRate(23.976), "24000/1001");
  EXPECT_EQ(DashFrameRate(59.94), "60000/1001");
  EXPECT_EQ(DashFrameRate(60), "60");
  EXPECT_EQ(DashFrameRate(12.5), "25/2");
  EXPECT_EQ(DashFrameRate(0), "");
  EXPECT_EQ(DashFrameRate(-30), "");
}

TEST(DashMpdTest, TimelineRunLengthEncodesEqualDurationsWithoutDrift) {
  ManifestInput input;
  input.content.status = "ready";
  // Thirds of 10 s: each rounds to 3333 ms alone; cumulative rounding keeps the sum 10000.
  const double third = 10.0 / 3.0;
  input.renditions.push_back(
      Video("360p", 640, 360, "avc1.64001e", 535000,
            {{2, 1}, {2, 1}, {2, 1}, {third, 1}, {third, 1}, {third, 1}, {2, 1}}));

  auto mpd = BuildDashMpd(input);

  ASSERT_TRUE(mpd.has_value());
  EXPECT_THAT(*mpd, HasSubstr("          <SegmentTimeline>\n"
                              "            <S t=\"0\" d=\"2000\" r=\"2\"/>\n"
                              "            <S t=\"6000\" d=\"3333\"/>\n"
                              "            <S t=\"9333\" d=\"3334\"/>\n"
                              "            <S t=\"12667\" d=\"3333\"/>\n"
                              "            <S t=\"16000\" d=\"2000\"/>\n"
                              "          </SegmentTimeline>\n"));
  EXPECT_THAT(*mpd, HasSubstr("mediaPresentationDuration=\"PT18.000S\""));
}

TEST(DashMpdTest, PresentationDurationIsTheLongestVideoRendition) {
  auto input = Ladder();
  Find(input, "720p").segments[2].duration_seconds = 2.6;

  EXPECT_THAT(*BuildDashMpd(input), HasSubstr("mediaPresentationDuration=\"PT10.600S\""));
}

TEST(DashMpdTest, HostileCodecIsEscapedInTheMpdAndCannotBreakTheHlsMaster) {
  auto input = Ladder();
  Find(input, "360p").rendition.codec = "avc1\"/><x a='1'>&amp;\n\x01";

  auto mpd = BuildDashMpd(input);

  ASSERT_TRUE(mpd.has_value());
  EXPECT_THAT(*mpd,
              HasSubstr(" codecs=\"avc1&quot;/&gt;&lt;x a=&apos;1&apos;&gt;&amp;amp;&#10;\" "));
  if (auto code = XmllintExitCode(*mpd); code.has_value()) {
    EXPECT_EQ(*code, 0) << "xmllint rejected the MPD";
  }
  EXPECT_THAT(BuildHlsMaster(input),
              HasSubstr(",CODECS=\"avc1/><x a='1'>&amp;\x01,mp4a.40.2\",AUDIO=\"audio\"\n"
                        "360p/playlist.m3u8\n"));
}

TEST(XmlEscapeTest, EscapesMarkupAndDropsCharactersXmlCannotCarry) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlEscape("tab\tcr\rlf\n"), "tab&#9;cr&#13;lf&#10;");
  EXPECT_EQ(XmlEscape(std::string("x\x00y\x1fz\x7f", 6)), "xyz");
  EXPECT_EQ(XmlEscape("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

}  // namespace
}  // namespace sg::plugins::streaming
