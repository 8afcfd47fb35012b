#pragma once
/// What every SQLite adapter (metadata store, job queue) does the same way: one mapping of
/// SQLite errors to ErrorCode, exceptions stopped at the adapter's edge, parameter binding,
/// times as integer milliseconds, and versioned migrations recorded in schema_migrations.

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg::sqlite {

using Param = std::variant<std::int64_t, double, std::string>;

/// Times are stored as integer milliseconds since the Unix epoch (UTC).
std::int64_t ToMs(WallTime time);
WallTime FromMs(std::int64_t ms);

/// kUnavailable for a busy or unreachable database, kAlreadyExists for unique/primary-key
/// conflicts, kInvalidArgument for check/not-null violations and files that are not (sane)
/// databases, kNotFound for foreign-key violations, kResourceExhausted for a full disk,
/// kInternal otherwise. The message is "<what> <op>: <sqlite's message>".
Error FromException(std::string_view what, std::string_view op, const SQLite::Exception& e);

/// Runs `body`; library exceptions become errors (see FromException). Every public method
/// of an adapter runs through this, so no exception crosses the port.
template <class F>
auto Guarded(std::string_view what, std::string_view op, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const SQLite::Exception& e) {
    return tl::unexpected<Error>(FromException(what, op, e));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, "{} {}: {}", what, op, e.what());
  }
}

/// Binds `params` to ?1, ?2, ... in order.
void BindAll(SQLite::Statement& statement, const std::vector<Param>& params);

/// Applies the migrations this binary knows beyond the file's version (migration n is
/// `migrations[n - 1]`), each in an IMMEDIATE transaction so two processes opening a new
/// file cannot both apply one. Returns the resulting version; kInvalidArgument naming
/// `path` when the file's version is newer than this binary knows ("<what> <path> has
/// schema version ..."). May throw SQLite::Exception (run it inside Guarded).
Result<int> Migrate(SQLite::Database& db, const Clock& clock,
                    std::span<const std::string_view> migrations, const std::filesystem::path& path,
                    std::string_view what);

}  // namespace sg::sqlite
