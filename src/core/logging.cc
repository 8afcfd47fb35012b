#include "core/logging.h"

#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <ctime>
#include <mutex>
#include <vector>

#include "core/api/request_context.h"

namespace sg::core {
namespace {

struct LevelName {
  std::string_view name;
  spdlog::level::level_enum level;
};

constexpr std::array<LevelName, 7> kLevels = {{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
}};

std::string_view LevelToName(spdlog::level::level_enum level) {
  for (const LevelName& entry : kLevels) {
    if (entry.level == level) {
      return entry.name;
    }
  }
  return "info";
}

// Appends "2026-11-26T23:14:22.123Z" (iso) or "2026-11-26 23:14:22.123" (text), UTC.
void AppendTime(spdlog::log_clock::time_point time, bool iso, spdlog::memory_buf_t& dest) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(dest), "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}.{:03}{}",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, iso ? 'T' : ' ', tm.tm_hour,
                 tm.tm_min, tm.tm_sec, millis.count(), iso ? "Z" : "");
}

void Append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

void AppendJsonField(spdlog::memory_buf_t& dest, std::string_view key, std::string_view value) {
  Append(dest, ",\"");
  Append(dest, key);
  Append(dest, "\":\"");
  Append(dest, JsonEscape(value));
  dest.push_back('"');
}

class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append(dest, "{\"time\":\"");
    AppendTime(msg.time, true, dest);
    dest.push_back('"');
    AppendJsonField(dest, "level", LevelToName(msg.level));
    AppendJsonField(dest, "plugin",
                    std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    // Formatting runs on the logging thread (synchronous loggers), so the thread's request
    // context is the one of the code that logged.
    if (const RequestContext* context = CurrentRequestContext()) {
      if (!context->request_id.empty()) {
        AppendJsonField(dest, "request_id", context->request_id);
      }
      if (!context->trace.trace_id.empty()) {
        AppendJsonField(dest, "trace_id", context->trace.trace_id);
      }
    }
    AppendJsonField(dest, "msg", std::string_view(msg.payload.data(), msg.payload.size()));
    Append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

// Text lines are for a terminal, but a message must still stay on one line (log injection):
// control characters are escaped the same way as in JSON.
std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else {
        out += fmt::format("\\x{:02x}", byte);
      }
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class TextLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    AppendTime(msg.time, false, dest);
    dest.push_back(' ');
    Append(dest, LevelToName(msg.level));
    Append(dest, " [");
    Append(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    Append(dest, "] ");
    if (const RequestContext* context = CurrentRequestContext()) {
      if (!context->request_id.empty()) {
        Append(dest, "[req=");
        Append(dest, EscapeControl(context->request_id));
        Append(dest, "] ");
      }
    }
    Append(dest, EscapeControl(std::string_view(msg.payload.data(), msg.payload.size())));
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextLineFormatter>();
  }
};

std::unique_ptr<spdlog::formatter> MakeFormatter(LogFormat format) {
  if (format == LogFormat::kText) {
    return std::make_unique<TextLineFormatter>();
  }
  return std::make_unique<JsonLineFormatter>();
}

// Process-wide by nature (there is one stderr). Every logger shares one sink, so the format
// lives on the sink; the level lives on each logger and is pushed to all of them.
struct LoggingState {
  std::mutex mutex;
  spdlog::level::level_enum level = spdlog::level::info;
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> sink;
  std::vector<std::weak_ptr<spdlog::logger>> loggers;

  LoggingState() : sink(std::make_shared<spdlog::sinks::stderr_sink_mt>()) {
    sink->set_formatter(MakeFormatter(LogFormat::kJson));
  }

  // Caller holds `mutex`.
  void ApplyLevel() {
    std::vector<std::weak_ptr<spdlog::logger>> alive;
    alive.reserve(loggers.size());
    for (auto& weak : loggers) {
      if (auto logger = weak.lock()) {
        logger->set_level(level);
        alive.push_back(std::move(weak));
      }
    }
    loggers = std::move(alive);
  }
};

LoggingState& State() {
  // Never destroyed: loggers held by static objects may still log during exit.
  static auto* state = new LoggingState();
  return *state;
}

// Length of the valid UTF-8 sequence at `text[i]`, or 0 with `skip` set to the length of
// the maximal invalid subpart (Unicode's recommendation for U+FFFD substitution).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i, std::size_t& skip) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) {
      second_min = 0xa0;  // no overlong forms
    } else if (lead == 0xed) {
      second_max = 0x9f;  // no surrogates
    }
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) {
      second_min = 0x90;
    } else if (lead == 0xf4) {
      second_max = 0x8f;  // nothing above U+10FFFF
    }
  } else {
    skip = 1;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    unsigned char min = k == 1 ? second_min : 0x80;
    unsigned char max = k == 1 ? second_max : 0xbf;
    if (i + k >= text.size() || byte(i + k) < min || byte(i + k) > max) {
      skip = k;
      return 0;
    }
  }
  return length;
}

}  // namespace

std::string JsonEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x80) {
      std::size_t skip = 0;
      std::size_t length = Utf8SequenceLength(text, i, skip);
      if (length == 0) {
        out += "\\ufffd";
        i += skip;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (byte) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0x0f]);
        } else {
          out.push_back(static_cast<char>(byte));
        }
    }
    ++i;
  }
  return out;
}

void ConfigureLogging(LogFormat format, spdlog::level::level_enum level) {
  LoggingState& state = State();
  std::shared_ptr<spdlog::logger> default_logger;
  {
    std::lock_guard lock(state.mutex);
    state.sink->set_formatter(MakeFormatter(format));
    state.level = level;
    state.ApplyLevel();
  }
  // Libraries and stray `spdlog::info(...)` calls go through the same sink and format.
  default_logger = MakeLogger("streamgate");
  spdlog::set_default_logger(std::move(default_logger));
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  for (const LevelName& entry : kLevels) {
    if (entry.name == name) {
      return entry.level;
    }
  }
  if (name == "warning") {
    return spdlog::level::warn;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown log level \"{}\" (use trace|debug|info|warn|error|critical|off)", name);
}

void SetLogLevel(spdlog::level::level_enum level) {
  LoggingState& state = State();
  std::lock_guard lock(state.mutex);
  state.level = level;
  state.ApplyLevel();
}

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name) {
  LoggingState& state = State();
  std::lock_guard lock(state.mutex);
  auto logger = std::make_shared<spdlog::logger>(name, state.sink);
  logger->set_level(state.level);
  // Drop loggers that are gone so the list does not grow with every short-lived kernel.
  std::erase_if(state.loggers, [](const auto& weak) { return weak.expired(); });
  state.loggers.push_back(logger);
  return logger;
}

}  // namespace sg::core
