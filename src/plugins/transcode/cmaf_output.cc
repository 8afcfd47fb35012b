#include "plugins/transcode/cmaf_output.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sg::plugins::transcode {
namespace {

std::string ReadWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint32_t U32(std::string_view bytes, std::size_t at) {
  auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i]));
  };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::uint32_t U16(std::string_view bytes, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 8) |
         static_cast<unsigned char>(bytes[at + 1]);
}

std::uint8_t U8(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint8_t>(bytes[at]);
}

// The payload of the first child box of type `type` among the boxes in `bytes`.
std::optional<std::string_view> FindBox(std::string_view bytes, std::string_view type) {
  std::size_t at = 0;
  while (at + 8 <= bytes.size()) {
    std::uint64_t size = U32(bytes, at);
    std::size_t header = 8;
    if (size == 1) {
      if (at + 16 > bytes.size()) {
        return std::nullopt;
      }
      size = (static_cast<std::uint64_t>(U32(bytes, at + 8)) << 32) | U32(bytes, at + 12);
      header = 16;
    } else if (size == 0) {
      size = bytes.size() - at;
    }
    if (size < header || size > bytes.size() - at) {
      return std::nullopt;
    }
    if (bytes.substr(at + 4, 4) == type) {
      return bytes.substr(at + header, size - header);
    }
    at += size;
  }
  return std::nullopt;
}

// MPEG-4 descriptor: tag, then a size in up to 4 bytes of 7 bits each.
std::optional<std::string_view> FindDescriptor(std::string_view bytes, std::uint8_t tag,
                                               std::size_t skip_after_header) {
  if (bytes.size() < 2 || U8(bytes, 0) != tag) {
    return std::nullopt;
  }
  std::size_t at = 1;
  std::size_t size = 0;
  for (int i = 0; i < 4 && at < bytes.size(); ++i) {
    auto byte = U8(bytes, at++);
    size = (size << 7) | (byte & 0x7f);
    if ((byte & 0x80) == 0) {
      break;
    }
  }
  if (at + size > bytes.size() || skip_after_header > size) {
    return std::nullopt;
  }
  return bytes.substr(at + skip_after_header, size - skip_after_header);
}

Result<TrackInfo> ReadAvc(std::string_view entry) {
  constexpr std::size_t kVisualSampleEntry = 78;
  if (entry.size() < kVisualSampleEntry) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: short avc1 entry");
  }
  TrackInfo info;
  info.kind = "video";
  info.width = U16(entry, 24);
  info.height = U16(entry, 26);
  auto avcc = FindBox(entry.substr(kVisualSampleEntry), "avcC");
  if (!avcc || avcc->size() < 4) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: avc1 without avcC");
  }
  info.codec = fmt::format("avc1.{:02x}{:02x}{:02x}", U8(*avcc, 1), U8(*avcc, 2), U8(*avcc, 3));
  return info;
}

Result<TrackInfo> ReadMp4a(std::string_view entry) {
  constexpr std::size_t kAudioSampleEntry = 28;
  if (entry.size() < kAudioSampleEntry) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: short mp4a entry");
  }
  TrackInfo info;
  info.kind = "audio";
  info.channels = U16(entry, 16);
  info.sample_rate = U32(entry, 24) >> 16;
  auto esds = FindBox(entry.substr(kAudioSampleEntry), "esds");
  if (!esds || esds->size() < 4) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: mp4a without esds");
  }
  // ES_Descriptor (ES_ID, flags) -> DecoderConfigDescriptor -> DecoderSpecificInfo.
  auto es = FindDescriptor(esds->substr(4), 0x03, 0);
  if (!es || es->size() < 3) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: bad esds");
  }
  std::uint8_t flags = U8(*es, 2);
  std::size_t skip = 3;
  if ((flags & 0x80) != 0) {
    skip += 2;
  }
  if ((flags & 0x40) != 0) {
    skip += 1 + (es->size() > skip ? U8(*es, skip) : 0);
  }
  if ((flags & 0x20) != 0) {
    skip += 2;
  }
  if (skip > es->size()) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: bad esds");
  }
  auto config = FindDescriptor(es->substr(skip), 0x04, 0);
  if (!config || config->size() < 13) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: esds without decoder config");
  }
  std::uint8_t object_type = U8(*config, 0);
  auto specific = FindDescriptor(config->substr(13), 0x05, 0);
  if (!specific || specific->empty()) {
    info.codec = fmt::format("mp4a.{:02x}", object_type);
    return info;
  }
  unsigned audio_object_type = U8(*specific, 0) >> 3;
  if (audio_object_type == 31 && specific->size() >= 2) {
    audio_object_type = 32 + (((U8(*specific, 0) & 0x07) << 3) | (U8(*specific, 1) >> 5));
  }
  info.codec = fmt::format("mp4a.{:02x}.{}", object_type, audio_object_type);
  return info;
}

}  // namespace

MediaPlaylist ParseMediaPlaylist(std::string_view text) {
  MediaPlaylist playlist;
  // A flag and a value rather than std::optional<double>: g++ 12 -O2 warns (falsely) that
  // the optional's value may be read uninitialized.
  bool have_pending = false;
  double pending = 0;
  while (!text.empty()) {
    auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    if (line.starts_with("#EXTINF:")) {
      std::string value(line.substr(8, line.find(',') == std::string_view::npos
                                           ? std::string_view::npos
                                           : line.find(',') - 8));
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      pending = end != value.c_str() && seconds >= 0 ? seconds : 0.0;
      have_pending = true;
    } else if (line.starts_with("#EXT-X-MAP:")) {
      auto uri = line.find("URI=\"");
      if (uri != std::string_view::npos) {
        auto start = uri + 5;
        auto stop = line.find('"', start);
        if (stop != std::string_view::npos) {
          playlist.init_uri = std::string(line.substr(start, stop - start));
        }
      }
    } else if (line == "#EXT-X-ENDLIST") {
      playlist.ended = true;
    } else if (line.front() != '#' && have_pending) {
      playlist.segments.push_back({std::string(line), pending});
      have_pending = false;
    }
  }
  return playlist;
}

SegmentScanner::SegmentScanner(std::filesystem::path work_dir, std::vector<std::string> variants)
    : work_dir_(std::move(work_dir)) {
  for (auto& name : variants) {
    variants_.push_back({std::move(name)});
  }
}

std::vector<ScannedItem> SegmentScanner::Poll() {
  std::vector<ScannedItem> items;
  for (auto& variant : variants_) {
    auto dir = work_dir_ / variant.name;
    auto text = ReadWhole(dir / "playlist.m3u8");
    if (text.empty()) {
      continue;
    }
    auto playlist = ParseMediaPlaylist(text);
    variant.ended = playlist.ended;
    if (!variant.init_reported) {
      if (playlist.init_uri.empty()) {
        continue;  // segments are useless without their init segment
      }
      items.push_back({.variant = variant.name, .is_init = true, .path = dir / playlist.init_uri});
      variant.init_reported = true;
    }
    for (auto i = static_cast<std::size_t>(variant.reported); i < playlist.segments.size(); ++i) {
      const auto& segment = playlist.segments[i];
      items.push_back({.variant = variant.name,
                       .is_init = false,
                       .number = static_cast<std::uint32_t>(i),
                       .duration_seconds = segment.duration_seconds,
                       .path = dir / segment.uri});
      variant.seconds += segment.duration_seconds;
    }
    variant.reported = static_cast<std::uint32_t>(
        std::max<std::size_t>(variant.reported, playlist.segments.size()));
  }
  return items;
}

bool SegmentScanner::AllEnded() const {
  for (const auto& variant : variants_) {
    if (!variant.ended) {
      return false;
    }
  }
  return true;
}

std::uint32_t SegmentScanner::SegmentCount(std::string_view name) const {
  for (const auto& variant : variants_) {
    if (variant.name == name) {
      return variant.reported;
    }
  }
  return 0;
}

double SegmentScanner::TotalSeconds(std::string_view name) const {
  for (const auto& variant : variants_) {
    if (variant.name == name) {
      return variant.seconds;
    }
  }
  return 0;
}

Result<TrackInfo> ReadInitSegment(std::string_view bytes) {
  std::string_view box = bytes;
  for (std::string_view type : {"moov", "trak", "mdia", "minf", "stbl", "stsd"}) {
    auto found = FindBox(box, type);
    if (!found) {
      return MakeError(ErrorCode::kInvalidArgument, "init segment: no {} box", type);
    }
    box = *found;
  }
  // stsd: version/flags, entry count, then the first sample entry.
  if (box.size() < 16) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: empty stsd");
  }
  auto entries = box.substr(8);
  auto size = U32(entries, 0);
  if (size < 8 || size > entries.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "init segment: bad sample entry");
  }
  auto type = entries.substr(4, 4);
  auto entry = entries.substr(8, size - 8);
  if (type == "avc1" || type == "avc3") {
    return ReadAvc(entry);
  }
  if (type == "mp4a") {
    return ReadMp4a(entry);
  }
  return MakeError(ErrorCode::kInvalidArgument, "init segment: unsupported sample entry {}", type);
}

}  // namespace sg::plugins::transcode
