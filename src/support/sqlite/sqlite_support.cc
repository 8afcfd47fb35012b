#include "support/sqlite/sqlite_support.h"

#include <sqlite3.h>

#include <chrono>

namespace sg::sqlite {
namespace {

int CurrentVersion(SQLite::Database& db) {
  return db.execAndGet("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").getInt();
}

}  // namespace

std::int64_t ToMs(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

WallTime FromMs(std::int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
}

Error FromException(std::string_view what, std::string_view op, const SQLite::Exception& e) {
  const int primary = e.getErrorCode();
  const int extended = e.getExtendedErrorCode();
  ErrorCode code = ErrorCode::kInternal;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    code = ErrorCode::kUnavailable;  // another writer holds the lock longer than busy_timeout
  } else if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
    code = ErrorCode::kAlreadyExists;
  } else if (extended == SQLITE_CONSTRAINT_CHECK || extended == SQLITE_CONSTRAINT_NOTNULL) {
    code = ErrorCode::kInvalidArgument;
  } else if (extended == SQLITE_CONSTRAINT_FOREIGNKEY) {
    code = ErrorCode::kNotFound;
  } else if (primary == SQLITE_FULL) {
    code = ErrorCode::kResourceExhausted;
  } else if (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR) {
    code = ErrorCode::kUnavailable;
  } else if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    code = ErrorCode::kInvalidArgument;
  }
  return Error{code, fmt::format("{} {}: {}", what, op, e.what())};
}

void BindAll(SQLite::Statement& statement, const std::vector<Param>& params) {
  int index = 1;
  for (const auto& param : params) {
    std::visit([&](const auto& value) { statement.bind(index, value); }, param);
    ++index;
  }
}

Result<int> Migrate(SQLite::Database& db, const Clock& clock,
                    std::span<const std::string_view> migrations, const std::filesystem::path& path,
                    std::string_view what) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const int known = static_cast<int>(migrations.size());
  const int version = CurrentVersion(db);
  if (version > known) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} {} has schema version {} but this streamgate knows up to {}: "
                     "run the newer streamgate that wrote it, or restore a backup",
                     what, path.string(), version, known);
  }
  for (int next = version + 1; next <= known; ++next) {
    // IMMEDIATE takes the write lock first, so two processes opening the same new file
    // cannot both apply a migration; the version is re-read under the lock.
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    if (CurrentVersion(db) >= next) {
      continue;
    }
    db.exec(std::string(migrations[static_cast<std::size_t>(next - 1)]));
    SQLite::Statement record(db,
                             "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    record.bind(1, next);
    record.bind(2, ToMs(clock.WallNow()));
    record.exec();
    transaction.commit();
  }
  return CurrentVersion(db);
}

}  // namespace sg::sqlite
