#include "plugins/upload/upload_protocol.h"

#include <gtest/gtest.h>

#include "plugins/upload/hashing.h"
#include "plugins/upload/probe.h"

namespace sg::plugins::upload {
namespace {

TEST(ChunkLayoutTest, CountsChunksAndSizesTheLastOne) {
  struct Case {
    std::uint64_t size, chunk, total, last_bytes;
  };
  for (auto c : std::vector<Case>{{1, 8, 1, 1},
                                  {8, 8, 1, 8},
                                  {9, 8, 2, 1},
                                  {16, 8, 2, 8},
                                  {17, 8, 3, 1},
                                  {20ULL << 30, 8ULL << 20, 2560, 8ULL << 20}}) {
    ChunkLayout layout{c.size, c.chunk};
    EXPECT_EQ(layout.TotalChunks(), c.total) << c.size << "/" << c.chunk;
    EXPECT_EQ(layout.ChunkBytes(c.total - 1), c.last_bytes) << c.size << "/" << c.chunk;
    EXPECT_EQ(layout.ChunkBytes(c.total), 0u);
  }
}

TEST(ChunkLayoutTest, MapsOffsetsToChunks) {
  ChunkLayout layout{20, 8};
  EXPECT_EQ(layout.ChunkAt(0), 0u);
  EXPECT_EQ(layout.ChunkAt(7), 0u);
  EXPECT_EQ(layout.ChunkAt(8), 1u);
  EXPECT_EQ(layout.ChunkAt(19), 2u);
  EXPECT_EQ(layout.ChunkAt(20), 3u);  // the end: past every chunk
  EXPECT_EQ(layout.ChunkOffset(2), 16u);
}

TEST(ChunkRangesTest, ReceivedAndMissingRanges) {
  struct Case {
    std::vector<std::uint32_t> indices;
    std::uint32_t total;
    ChunkRanges received, missing;
    std::uint32_t prefix;
  };
  for (const auto& c : std::vector<Case>{
           {{}, 3, {}, {{0, 2}}, 0},
           {{0, 1, 2, 3, 7}, 8, {{0, 3}, {7, 7}}, {{4, 6}}, 4},
           {{1, 2, 5}, 6, {{1, 2}, {5, 5}}, {{0, 0}, {3, 4}}, 0},
           {{0, 1, 2}, 3, {{0, 2}}, {}, 3},
           {{0, 0, 1}, 3, {{0, 1}}, {{2, 2}}, 2},
       }) {
    EXPECT_EQ(ToRanges(c.indices), c.received);
    EXPECT_EQ(MissingRanges(c.indices, c.total), c.missing);
    EXPECT_EQ(ContiguousPrefix(c.indices), c.prefix);
  }
}

TEST(ParseDecimalTest, AcceptsOnlyPlainDigits) {
  EXPECT_EQ(ParseDecimal("0"), 0u);
  EXPECT_EQ(ParseDecimal("123"), 123u);
  for (auto bad : {"", "-1", "+1", " 1", "1a", "0x10", "12345678901234567890"}) {
    EXPECT_FALSE(ParseDecimal(bad)) << bad;
  }
}

// SHA-256("abc")
constexpr std::string_view kAbcHex =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kAbcBase64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

TEST(ChunkChecksumTest, ParsesEitherHeaderOrBoth) {
  struct Case {
    HttpHeaders headers;
    std::optional<std::string> expected;
  };
  std::string upper(kAbcHex);
  for (auto& ch : upper) {
    ch = static_cast<char>(std::toupper(ch));
  }
  for (const auto& c : std::vector<Case>{
           {{}, std::nullopt},
           {{{"Content-SHA256", std::string(kAbcHex)}}, std::string(kAbcHex)},
           {{{"content-sha256", upper}}, std::string(kAbcHex)},
           {{{"Repr-Digest", fmt::format("sha-256=:{}:", kAbcBase64)}}, std::string(kAbcHex)},
           {{{"Repr-Digest", fmt::format("sha-512=:AAAA:, sha-256=:{}:", kAbcBase64)}},
            std::string(kAbcHex)},
           {{{"Repr-Digest", "sha-512=:AAAA:"}}, std::nullopt},
           {{{"Content-SHA256", std::string(kAbcHex)},
             {"Repr-Digest", fmt::format("sha-256=:{}:", kAbcBase64)}},
            std::string(kAbcHex)},
       }) {
    auto parsed = ParseChunkChecksum(c.headers);
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    EXPECT_EQ(*parsed, c.expected);
  }
}

TEST(ChunkChecksumTest, MalformedOrDisagreeingHeadersAreInvalid) {
  std::string other(64, 'a');
  for (const auto& headers : std::vector<HttpHeaders>{
           {{"Content-SHA256", "abc"}},
           {{"Content-SHA256", std::string(63, 'a') + "g"}},
           {{"Repr-Digest", "sha-256=abc"}},
           {{"Repr-Digest", "sha-256=:!!!!:"}},
           {{"Repr-Digest", "sha-256=:YWJj:"}},  // base64 of 3 bytes, not 32
           {{"Repr-Digest", "nonsense"}},
           {{"Content-SHA256", other}, {"Repr-Digest", fmt::format("sha-256=:{}:", kAbcBase64)}},
       }) {
    auto parsed = ParseChunkChecksum(headers);
    ASSERT_FALSE(parsed) << headers.front().second;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Base64Test, RoundTripsAndRejectsMalformed) {
  for (std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto encoded = Base64Encode(text);
    EXPECT_EQ(Base64Decode(encoded), text) << encoded;
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  for (auto bad : {"Zm8", "Zm8=Zm8=", "Z===", "Zm 8=", "Zm9v!", "=Zm8"}) {
    EXPECT_FALSE(Base64Decode(bad)) << bad;
  }
}

TEST(UploadMetadataTest, ParsesPairsWithAndWithoutValues) {
  struct Case {
    std::string header;
    std::vector<std::pair<std::string, std::string>> expected;
  };
  for (const auto& c : std::vector<Case>{
           {"", {}},
           {"filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==",
            {{"filename", "world_domination_plan.pdf"}}},
           {"filename Y2xpcC5tcDQ=,is_confidential",
            {{"filename", "clip.mp4"}, {"is_confidential", ""}}},
           {"filename Y2xpcC5tcDQ=, filetype dmlkZW8vbXA0",
            {{"filename", "clip.mp4"}, {"filetype", "video/mp4"}}},
       }) {
    auto parsed = ParseUploadMetadata(c.header);
    ASSERT_TRUE(parsed) << c.header << ": " << parsed.error().ToString();
    EXPECT_EQ(*parsed, c.expected) << c.header;
  }
}

TEST(UploadMetadataTest, BadBase64EmptyKeysAndDuplicatesAreInvalid) {
  for (auto bad : {"filename not-base64!", "filename Zm8", ",filename Zm8=", "a Zm8=,a Zm8="}) {
    auto parsed = ParseUploadMetadata(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(UploadChecksumTest, ParsesSupportedAlgorithms) {
  auto sha256 = ParseUploadChecksum(fmt::format("sha256 {}", kAbcBase64));
  ASSERT_TRUE(sha256);
  EXPECT_EQ(sha256->algorithm, "sha256");
  EXPECT_EQ(HexEncode(sha256->digest), kAbcHex);
  // SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d
  auto sha1 = ParseUploadChecksum("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  ASSERT_TRUE(sha1);
  EXPECT_EQ(HexEncode(sha1->digest), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(UploadChecksumTest, UnsupportedOrMalformedIsInvalid) {
  for (const std::string& bad :
       std::vector<std::string>{"md5 kAFQmDzST7DWlj99KOF/cg==", "sha256", "sha256 !!!", "sha1 YWJj",
                                " sha256", "sha256 " + std::string(kAbcBase64).substr(4)}) {
    auto parsed = ParseUploadChecksum(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
  auto unsupported = ParseUploadChecksum("md5 kAFQmDzST7DWlj99KOF/cg==");
  EXPECT_NE(unsupported.error().message.find("unsupported"), std::string::npos);
}

TEST(DigestTest, StreamsSha256AndSha1) {
  auto sha = Digest::Sha256();
  sha.Update(std::string_view("a"));
  sha.Update(std::string_view("bc"));
  EXPECT_EQ(HexEncode(sha.Finish()), kAbcHex);
  auto sha1 = Digest::Create("sha1");
  ASSERT_TRUE(sha1);
  sha1->Update(std::string_view("abc"));
  EXPECT_EQ(HexEncode(sha1->Finish()), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_FALSE(Digest::Create("md5"));
}

TEST(MeteredSourceTest, StopsAtTheLimitAndHashesWhatPassed) {
  StringSource inner("abcdef");
  auto sha = Digest::Sha256();
  MeteredSource metered(inner, 3, {&sha});
  char buffer[16];
  auto first = metered.Read(buffer);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 3u);
  EXPECT_EQ(*metered.Read(buffer), 0u);
  EXPECT_EQ(metered.bytes(), 3u);
  EXPECT_FALSE(metered.inner_ended());
  EXPECT_EQ(HexEncode(sha.Finish()), kAbcHex);
  // The rest is still in the inner source.
  EXPECT_EQ(*inner.Read(buffer), 3u);
}

TEST(HttpDateTest, FormatsImfFixdate) {
  WallTime time = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + std::chrono::hours(13);
  EXPECT_EQ(FormatHttpDate(time), "Thu, 01 Jan 2026 13:00:00 GMT");
  EXPECT_EQ(FormatRfc3339(time), "2026-01-01T13:00:00.000Z");
}

TEST(ProbeSummaryTest, KeepsTheCompactFieldsAndRequiresAVideoStream) {
  auto summary = SummarizeProbe(R"({"streams":[
      {"codec_type":"video","codec_name":"h264","width":320,"height":240,
       "r_frame_rate":"25/1","pix_fmt":"yuv420p","disposition":{"attached_pic":0}},
      {"codec_type":"audio","codec_name":"aac","channels":1,"sample_rate":"44100"}],
    "format":{"format_name":"mov,mp4","duration":"2.000000","bit_rate":"123456","size":"9"}})");
  ASSERT_TRUE(summary) << summary.error().reason;
  EXPECT_EQ(summary->width, 320);
  EXPECT_EQ(summary->height, 240);
  EXPECT_DOUBLE_EQ(summary->duration_seconds, 2.0);
  EXPECT_NE(summary->json.find(R"("format_name":"mov,mp4")"), std::string::npos);
  EXPECT_NE(summary->json.find(R"("sample_rate":"44100")"), std::string::npos);
  EXPECT_EQ(summary->json.find("pix_fmt"), std::string::npos);

  auto audio_only =
      SummarizeProbe(R"({"streams":[{"codec_type":"audio","codec_name":"mp3"}],"format":{}})");
  ASSERT_FALSE(audio_only);
  EXPECT_EQ(audio_only.error().reason, "no video stream");
  auto cover_art = SummarizeProbe(R"({"streams":[{"codec_type":"video","codec_name":"mjpeg",
      "disposition":{"attached_pic":1}}],"format":{}})");
  EXPECT_FALSE(cover_art);
  EXPECT_FALSE(SummarizeProbe("not json"));
}

TEST(ProbeSummaryTest, APhoneVideoStoredLandscapeIsShownPortraitAndKeepsItsRotation) {
  auto summary = SummarizeProbe(R"({"streams":[
      {"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
       "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],
    "format":{"format_name":"mov,mp4","duration":"3.0"}})");
  ASSERT_TRUE(summary) << summary.error().reason;
  EXPECT_EQ(summary->width, 1080);
  EXPECT_EQ(summary->height, 1920);
  EXPECT_NE(summary->json.find(R"("width":1920,"height":1080)"), std::string::npos)
      << summary->json;
  EXPECT_NE(summary->json.find(R"("rotation":-90)"), std::string::npos) << summary->json;

  auto tagged = SummarizeProbe(R"({"streams":[{"codec_type":"video","width":640,"height":360,
      "tags":{"rotate":"180"}}],"format":{}})");
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->width, 640);  // upside down is still landscape
  EXPECT_NE(tagged->json.find(R"("rotation":180)"), std::string::npos) << tagged->json;
}

}  // namespace
}  // namespace sg::plugins::upload
