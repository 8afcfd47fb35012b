#pragma once
/// Process-wide logging set-up (spdlog). JSON lines by default:
/// {"time":"2026-11-26T23:14:22.123Z","level":"info","plugin":"gateway",
///  "request_id":"...","trace_id":"...","msg":"..."}
/// request_id and trace_id come from the thread's RequestContext when one is installed.
/// `text` format is for people at a terminal.

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/api/result.h"

namespace sg::core {

enum class LogFormat { kJson, kText };

/// Sets the sink (stderr), the format and the level for every logger made by MakeLogger,
/// existing ones included. Thread-safe.
void ConfigureLogging(LogFormat format, spdlog::level::level_enum level);
/// kInvalidArgument for an unknown level name ("trace|debug|info|warn|error|critical|off").
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);
/// Changes the level of every logger (SIGHUP reload).
void SetLogLevel(spdlog::level::level_enum level);
/// A logger whose lines carry `plugin: <name>`; registered so level changes reach it.
std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name);

/// Escapes `text` for inclusion in a JSON string (no surrounding quotes).
std::string JsonEscape(std::string_view text);

}  // namespace sg::core
