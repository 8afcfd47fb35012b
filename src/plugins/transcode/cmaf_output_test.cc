#include "plugins/transcode/cmaf_output.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/api/subprocess.h"
#include "plugins/transcode/ffmpeg_command.h"
#include "plugins/transcode/test_media.h"

namespace sg::plugins::transcode {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ParseMediaPlaylistTest, ReadsMapSegmentsAndEnd) {
  auto playlist = ParseMediaPlaylist(
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:4.000000,\n"
      "segment_0.m4s\n#EXTINF:1.480000,\nsegment_1.m4s\n#EXT-X-ENDLIST");
  EXPECT_EQ(playlist.init_uri, "init_0.mp4");
  ASSERT_EQ(playlist.segments.size(), 2u);
  EXPECT_EQ(playlist.segments[0].uri, "segment_0.m4s");
  EXPECT_DOUBLE_EQ(playlist.segments[0].duration_seconds, 4);
  EXPECT_DOUBLE_EQ(playlist.segments[1].duration_seconds, 1.48);
  EXPECT_TRUE(playlist.ended);
}

TEST(ParseMediaPlaylistTest, AnOpenPlaylistIsNotEndedAndStrayUrisAreIgnored) {
  auto playlist = ParseMediaPlaylist("#EXTM3U\r\nstray.m4s\r\n#EXTINF:2.5,\r\nsegment_0.m4s\r\n");
  EXPECT_TRUE(playlist.init_uri.empty());
  ASSERT_EQ(playlist.segments.size(), 1u);
  EXPECT_EQ(playlist.segments[0].uri, "segment_0.m4s");
  EXPECT_FALSE(playlist.ended);
  EXPECT_TRUE(ParseMediaPlaylist("").segments.empty());
}

TEST(ReadInitSegmentTest, GarbageIsAnError) {
  EXPECT_FALSE(ReadInitSegment(""));
  EXPECT_FALSE(ReadInitSegment(std::string(100, '\x07')));
  EXPECT_FALSE(ReadInitSegment(std::string("\0\0\0\x08moov", 8)));
}

TEST(SegmentScannerTest, MissingPlaylistsAreNothingYet) {
  testing::TempDir dir;
  SegmentScanner scanner(dir.path(), {"144p"});
  EXPECT_TRUE(scanner.Poll().empty());
  EXPECT_FALSE(scanner.AllEnded());
}

TEST(SegmentScannerTest, ReportsEachItemOnceInOrderAsThePlaylistGrows) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "v");
  SegmentScanner scanner(dir.path(), {"v"});
  auto write = [&](const std::string& text) {
    std::ofstream(dir.path() / "v" / "playlist.m3u8") << text;
  };
  write("#EXTM3U\n#EXTINF:4.0,\nsegment_0.m4s\n");
  EXPECT_TRUE(scanner.Poll().empty());  // no init segment yet: nothing is usable
  write("#EXTM3U\n#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:4.0,\nsegment_0.m4s\n");
  auto first = scanner.Poll();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(first[0].is_init);
  EXPECT_EQ(first[0].path, dir.path() / "v" / "init_0.mp4");
  EXPECT_FALSE(first[1].is_init);
  EXPECT_EQ(first[1].number, 0u);
  EXPECT_TRUE(scanner.Poll().empty());
  write(
      "#EXTM3U\n#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:4.0,\nsegment_0.m4s\n#EXTINF:1.5,\n"
      "segment_1.m4s\n#EXT-X-ENDLIST\n");
  auto second = scanner.Poll();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].number, 1u);
  EXPECT_DOUBLE_EQ(second[0].duration_seconds, 1.5);
  EXPECT_EQ(second[0].path, dir.path() / "v" / "segment_1.m4s");
  EXPECT_TRUE(scanner.AllEnded());
  EXPECT_EQ(scanner.SegmentCount("v"), 2u);
  EXPECT_DOUBLE_EQ(scanner.TotalSeconds("v"), 5.5);
}

// The real thing: ffmpeg's hls muxer output for a small ladder.
TEST(CmafOutputTest, RealFfmpegOutputGivesFinalSegmentsAndCodecStrings) {
  testing::TempDir dir;
  auto clip = dir.path() / "clip.mp4";
  ASSERT_EQ(testing::MakeClip(clip, {.width = 640, .height = 360, .seconds = 6, .audio = true}),
            "");
  SourceInfo source{
      .duration_seconds = 6, .width = 640, .height = 360, .frame_rate = 25, .has_audio = true};
  auto renditions = PlanLadder(ParseLadder({"144p=100k", "240p=200k"}).value(), 640, 360);
  auto work = dir.path() / "work";
  for (auto name : {"144p", "240p", "audio"}) {
    std::filesystem::create_directories(work / name);
  }
  auto command = BuildFfmpegCommand(source, renditions, {.threads = 2},
                                    {.input = clip, .work_dir = work, .poster = work / "p.jpg"});
  SubprocessOptions options;
  options.argv = command.argv;
  options.timeout = std::chrono::seconds(60);
  auto run = RunSubprocess(options);
  ASSERT_TRUE(run);
  ASSERT_TRUE(run->Succeeded()) << run->Describe() << run->stderr_tail;
  EXPECT_TRUE(std::filesystem::file_size(work / "p.jpg") > 0);

  SegmentScanner scanner(work, command.variants);
  auto items = scanner.Poll();
  EXPECT_TRUE(scanner.AllEnded());
  for (auto name : {"144p", "240p", "audio"}) {
    // 6 s in 4 s segments with keyframes every 2 s: 4 + 2.
    EXPECT_EQ(scanner.SegmentCount(name), 2u) << name;
    EXPECT_NEAR(scanner.TotalSeconds(name), 6, 0.1) << name;
  }
  std::map<std::string, TrackInfo> tracks;
  for (const auto& item : items) {
    EXPECT_TRUE(std::filesystem::exists(item.path)) << item.path;
    if (item.is_init) {
      auto track = ReadInitSegment(ReadFile(item.path));
      ASSERT_TRUE(track) << track.error().ToString();
      tracks[item.variant] = *track;
    }
  }
  ASSERT_EQ(tracks.size(), 3u);
  EXPECT_EQ(tracks["144p"].kind, "video");
  EXPECT_EQ(tracks["144p"].codec.substr(0, 9), "avc1.6400");  // High profile
  EXPECT_EQ(tracks["144p"].width, 256);
  EXPECT_EQ(tracks["144p"].height, 144);
  EXPECT_EQ(tracks["240p"].width, 426);
  EXPECT_EQ(tracks["audio"].kind, "audio");
  EXPECT_EQ(tracks["audio"].codec, "mp4a.40.2");
  EXPECT_EQ(tracks["audio"].channels, 2);
  EXPECT_EQ(tracks["audio"].sample_rate, 44100);
}

}  // namespace
}  // namespace sg::plugins::transcode
