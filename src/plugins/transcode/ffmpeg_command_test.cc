#include "plugins/transcode/ffmpeg_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sg::plugins::transcode {
namespace {

std::vector<RungSpec> DefaultRungs() {
  return ParseLadder({"360p=500k", "480p=1000k", "720p=2000k", "1080p=4000k"}).value();
}

SourceInfo Source(std::int64_t width, std::int64_t height, double fps, bool audio,
                  double duration = 60) {
  SourceInfo source;
  source.format_name = "mov,mp4,m4a,3gp,3g2,mj2";
  source.width = width;
  source.height = height;
  source.frame_rate = fps;
  source.duration_seconds = duration;
  source.has_audio = audio;
  return source;
}

const CommandPaths kPaths{.input = "/data/objects/uploads/abc/source",
                          .work_dir = "/w/abc",
                          .poster = "/w/abc/poster.jpg"};

FfmpegCommand Build(const SourceInfo& source, EncodeSettings settings = {}) {
  auto renditions = PlanLadder(DefaultRungs(), source.width, source.height, source.rotation);
  return BuildFfmpegCommand(source, renditions, settings, kPaths);
}

// Shared tail of every hls output, for readability of the goldens.
std::vector<std::string> HlsOutput(const std::string& stream_map) {
  return {"-f",
          "hls",
          "-hls_segment_type",
          "fmp4",
          "-hls_time",
          "4",
          "-hls_list_size",
          "0",
          "-hls_playlist_type",
          "event",
          "-hls_flags",
          "independent_segments",
          "-hls_fmp4_init_filename",
          "init.mp4",
          "-hls_segment_filename",
          "/w/abc/%v/segment_%d.m4s",
          "-start_number",
          "0",
          "-var_stream_map",
          stream_map,
          "/w/abc/%v/playlist.m3u8"};
}

std::vector<std::string> Concat(std::vector<std::vector<std::string>> parts) {
  std::vector<std::string> all;
  for (auto& part : parts) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

const std::vector<std::string> kHead = {
    "ffmpeg",
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostats",
    "-progress",
    "pipe:1",
    "-y",
    "-format_whitelist",
    "mov,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf,mxf,dv,m4v,h264,hevc,mpegvideo,ivf,nut",
    "-i",
    "file:/data/objects/uploads/abc/source"};

TEST(FfmpegCommandTest, FullHd30WithAudioEncodesFourRungsAndAudio) {
  auto command = Build(Source(1920, 1080, 30, true));
  // clang-format off
  auto expected = Concat(
      {kHead,
       {"-filter_complex",
        "[0:v:0]split=2[s3][sp];"
        "[s3]scale=w='if(gte(iw,ih),1920,1080)':h='if(gte(iw,ih),1080,1920)',split=2[v3][c2];"
        "[c2]scale=w='if(gte(iw,ih),1280,720)':h='if(gte(iw,ih),720,1280)',split=3[v2][c0][c1];"
        "[c1]scale=w='if(gte(iw,ih),854,480)':h='if(gte(iw,ih),480,854)'[v1];"
        "[c0]scale=w='if(gte(iw,ih),640,360)':h='if(gte(iw,ih),360,640)'[v0];"
        "[sp]trim=start=1.000,trim=end_frame=1,"
        "scale=w='if(gte(iw,ih),1920,1080)':h='if(gte(iw,ih),1080,1920)',"
        "format=yuvj420p[poster]",
        "-map", "[v0]", "-map", "[v1]", "-map", "[v2]", "-map", "[v3]", "-map", "0:a:0",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v:0", "500k", "-maxrate:v:0", "535k", "-bufsize:v:0", "750k",
        "-b:v:1", "1000k", "-maxrate:v:1", "1070k", "-bufsize:v:1", "1500k",
        "-b:v:2", "2000k", "-maxrate:v:2", "2140k", "-bufsize:v:2", "3000k",
        "-b:v:3", "4000k", "-maxrate:v:3", "4280k", "-bufsize:v:3", "6000k",
        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
        "-force_key_frames", "expr:gte(t,n_forced*2)",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2"},
       HlsOutput("v:0,name:360p v:1,name:480p v:2,name:720p v:3,name:1080p a:0,name:audio"),
       {"-map", "[poster]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-update", "1", "-f",
        "image2", "/w/abc/poster.jpg"}});
  // clang-format on
  EXPECT_EQ(command.argv, expected);
  EXPECT_EQ(command.gop_frames, 60);
  EXPECT_EQ(command.variants, (std::vector<std::string>{"360p", "480p", "720p", "1080p", "audio"}));
}

TEST(FfmpegCommandTest, Hd720WithoutAudioHasNoAudioMapNorVariant) {
  auto command = Build(Source(1280, 720, 25, false, 3));
  // clang-format off
  auto expected = Concat(
      {kHead,
       {"-filter_complex",
        "[0:v:0]split=2[s2][sp];"
        "[s2]scale=w='if(gte(iw,ih),1280,720)':h='if(gte(iw,ih),720,1280)',split=3[v2][c0][c1];"
        "[c1]scale=w='if(gte(iw,ih),854,480)':h='if(gte(iw,ih),480,854)'[v1];"
        "[c0]scale=w='if(gte(iw,ih),640,360)':h='if(gte(iw,ih),360,640)'[v0];"
        "[sp]trim=start=0.300,trim=end_frame=1,"
        "scale=w='if(gte(iw,ih),1280,720)':h='if(gte(iw,ih),720,1280)',"
        "format=yuvj420p[poster]",
        "-map", "[v0]", "-map", "[v1]", "-map", "[v2]",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v:0", "500k", "-maxrate:v:0", "535k", "-bufsize:v:0", "750k",
        "-b:v:1", "1000k", "-maxrate:v:1", "1070k", "-bufsize:v:1", "1500k",
        "-b:v:2", "2000k", "-maxrate:v:2", "2140k", "-bufsize:v:2", "3000k",
        "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-force_key_frames", "expr:gte(t,n_forced*2)"},
       HlsOutput("v:0,name:360p v:1,name:480p v:2,name:720p"),
       {"-map", "[poster]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-update", "1", "-f",
        "image2", "/w/abc/poster.jpg"}});
  // clang-format on
  EXPECT_EQ(command.argv, expected);
  EXPECT_EQ(command.variants, (std::vector<std::string>{"360p", "480p", "720p"}));
}

TEST(FfmpegCommandTest, PortraitKeepsItsOrientationInEveryRung) {
  auto command = Build(Source(1080, 1920, 30, true));
  auto graph = command.argv[13];
  EXPECT_EQ(graph,
            "[0:v:0]split=2[s3][sp];"
            "[s3]scale=w='if(gte(iw,ih),1920,1080)':h='if(gte(iw,ih),1080,1920)',split=2[v3][c2];"
            "[c2]scale=w='if(gte(iw,ih),1280,720)':h='if(gte(iw,ih),720,1280)',split=3[v2][c0][c1];"
            "[c1]scale=w='if(gte(iw,ih),854,480)':h='if(gte(iw,ih),480,854)'[v1];"
            "[c0]scale=w='if(gte(iw,ih),640,360)':h='if(gte(iw,ih),360,640)'[v0];"
            "[sp]trim=start=1.000,trim=end_frame=1,"
            "scale=w='if(gte(iw,ih),1920,1080)':h='if(gte(iw,ih),1080,1920)',"
            "format=yuvj420p[poster]");
  EXPECT_EQ(command.variants, (std::vector<std::string>{"360p", "480p", "720p", "1080p", "audio"}));
}

TEST(FfmpegCommandTest, TinySourceGetsOneRungAtItsOwnSize) {
  auto command = Build(Source(160, 120, 15, true, 0.5));
  // clang-format off
  auto expected = Concat(
      {kHead,
       {"-filter_complex",
        "[0:v:0]split=2[s0][sp];"
        "[s0]scale=w='if(gte(iw,ih),160,120)':h='if(gte(iw,ih),120,160)'[v0];"
        "[sp]trim=start=0.050,trim=end_frame=1,scale=w='if(gte(iw,ih),160,120)':h='if(gte(iw,ih),120,160)',"
        "format=yuvj420p[poster]",
        "-map", "[v0]", "-map", "0:a:0",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v:0", "125k", "-maxrate:v:0", "133750", "-bufsize:v:0", "187500",
        "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
        "-force_key_frames", "expr:gte(t,n_forced*2)",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2"},
       HlsOutput("v:0,name:120p a:0,name:audio"),
       {"-map", "[poster]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-update", "1", "-f",
        "image2", "/w/abc/poster.jpg"}});
  // clang-format on
  EXPECT_EQ(command.argv, expected);
}

TEST(FfmpegCommandTest, SettingsReachTheCommand) {
  EncodeSettings settings;
  settings.ffmpeg = "/opt/ffmpeg";
  settings.preset = "slow";
  settings.threads = 2;
  settings.segment_seconds = 6;
  settings.gop_seconds = 3;
  settings.audio_bitrate = 96'000;
  auto command = Build(Source(640, 360, 30000.0 / 1001, true), settings);
  auto has = [&](std::vector<std::string> run) {
    return std::search(command.argv.begin(), command.argv.end(), run.begin(), run.end()) !=
           command.argv.end();
  };
  EXPECT_EQ(command.argv[0], "/opt/ffmpeg");
  EXPECT_TRUE(has({"-threads", "2", "-format_whitelist"}));
  EXPECT_TRUE(has({"-preset", "slow"}));
  EXPECT_TRUE(has({"-hls_time", "6"}));
  EXPECT_TRUE(has({"-g", "90", "-keyint_min", "90"}));  // round(29.97 * 3)
  EXPECT_TRUE(has({"-force_key_frames", "expr:gte(t,n_forced*3)"}));
  EXPECT_TRUE(has({"-b:a", "96k"}));
}

TEST(FfmpegCommandTest, UnknownFrameRateAssumesThirty) {
  auto command = Build(Source(640, 360, 0, false));
  EXPECT_EQ(command.gop_frames, 60);
}

TEST(SourceInfoTest, ReadsTheUploadProbeSummary) {
  auto info = ParseSourceInfo(
      R"({"format_name":"mov,mp4","duration":2.5,"bit_rate":1000,"streams":[)"
      R"({"codec_type":"video","codec_name":"h264","width":640,"height":360,)"
      R"("r_frame_rate":"30000/1001"},)"
      R"({"codec_type":"audio","codec_name":"aac","channels":1,"sample_rate":"44100"}]})");
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->format_name, "mov,mp4");
  EXPECT_DOUBLE_EQ(info->duration_seconds, 2.5);
  EXPECT_EQ(info->width, 640);
  EXPECT_EQ(info->height, 360);
  EXPECT_NEAR(info->frame_rate, 29.97, 0.01);
  EXPECT_TRUE(info->has_audio);
  EXPECT_EQ(info->audio_sample_rate, 44100);
  EXPECT_EQ(info->audio_channels, 1);
  EXPECT_EQ(info->rotation, 0);
}

TEST(SourceInfoTest, ReadsRotationWhenTheProbeCarriesIt) {
  auto info = ParseSourceInfo(
      R"({"streams":[{"codec_type":"video","width":1920,"height":1080,"r_frame_rate":"0/0",)"
      R"("side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}]})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->rotation, -90);
  EXPECT_EQ(info->frame_rate, 0);
  EXPECT_FALSE(info->has_audio);
}

TEST(SourceInfoTest, NoVideoOrNotJsonIsAnError) {
  EXPECT_FALSE(ParseSourceInfo("not json"));
  EXPECT_FALSE(ParseSourceInfo("[]"));
  EXPECT_FALSE(ParseSourceInfo(R"({"streams":[{"codec_type":"audio"}]})"));
}

}  // namespace
}  // namespace sg::plugins::transcode
