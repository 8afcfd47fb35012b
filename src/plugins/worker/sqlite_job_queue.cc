#include "plugins/worker/sqlite_job_queue.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include <array>
#include <charconv>
#include <variant>
#include <vector>

#include "core/api/services/metadata_store.h"
#include "support/sqlite/sqlite_support.h"

namespace sg::plugins::worker {
namespace {

using Db = SQLite::Database;
using sqlite::BindAll;
using sqlite::FromMs;
using sqlite::Param;
using sqlite::ToMs;

constexpr std::string_view kWhat = "job queue";

constexpr std::size_t kMaxLimit = 200;
constexpr int kPingBusyTimeoutMs = 250;
constexpr std::size_t kMaxTypeChars = 64;

// Version 1. Times are integer milliseconds since the Unix epoch (UTC).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY,          -- insertion order: ties of created_at
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT,             -- NULL when none (NULLs never collide)
  content_id TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  expired_leases INTEGER NOT NULL DEFAULT 0,
  lease_seq INTEGER NOT NULL DEFAULT 0,   -- never reset: tokens stay unique across Retry
  last_error TEXT NOT NULL DEFAULT '',
  progress REAL NOT NULL DEFAULT 0,
  eta_seconds REAL,
  result TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_token TEXT NOT NULL DEFAULT '',
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key);
CREATE INDEX jobs_leasable ON jobs (state, priority DESC, created_at, seq);
CREATE INDEX jobs_newest ON jobs (created_at DESC, seq DESC);
CREATE INDEX jobs_content ON jobs (content_id);
)sql";

constexpr std::array<std::string_view, 1> kMigrations{kV1};

constexpr std::string_view kColumns =
    "id, type, payload, COALESCE(idempotency_key, ''), content_id, owner, priority, state, "
    "attempts, max_attempts, last_error, progress, eta_seconds, result, lease_owner, "
    "lease_expires_at, not_before, created_at, updated_at, finished_at, seq, lease_token, "
    "expired_leases";

std::int64_t DurationMs(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

// Library exceptions stop here: every public method runs its body through this.
template <class F>
auto Guarded(std::string_view op, F&& body) -> decltype(body()) {
  return sqlite::Guarded(kWhat, op, std::forward<F>(body));
}

struct Row {
  Job job;
  std::int64_t seq = 0;
  std::string lease_token;
  int expired_leases = 0;
};

Row ReadRow(SQLite::Statement& row) {
  Row out;
  Job& j = out.job;
  j.id = row.getColumn(0).getString();
  j.type = row.getColumn(1).getString();
  j.payload = row.getColumn(2).getString();
  j.idempotency_key = row.getColumn(3).getString();
  j.content_id = row.getColumn(4).getString();
  j.owner = row.getColumn(5).getString();
  j.priority = row.getColumn(6).getInt();
  j.state = row.getColumn(7).getString();
  j.attempts = row.getColumn(8).getInt();
  j.max_attempts = row.getColumn(9).getInt();
  j.last_error = row.getColumn(10).getString();
  j.progress = row.getColumn(11).getDouble();
  if (!row.getColumn(12).isNull()) {
    j.eta_seconds = row.getColumn(12).getDouble();
  }
  j.result = row.getColumn(13).getString();
  j.lease_owner = row.getColumn(14).getString();
  j.lease_expires_at = FromMs(row.getColumn(15).getInt64());
  j.not_before = FromMs(row.getColumn(16).getInt64());
  j.created_at = FromMs(row.getColumn(17).getInt64());
  j.updated_at = FromMs(row.getColumn(18).getInt64());
  if (!row.getColumn(19).isNull()) {
    j.finished_at = FromMs(row.getColumn(19).getInt64());
  }
  out.seq = row.getColumn(20).getInt64();
  out.lease_token = row.getColumn(21).getString();
  out.expired_leases = row.getColumn(22).getInt();
  return out;
}

std::optional<Row> LoadById(Db& db, std::string_view id) {
  SQLite::Statement query(db, fmt::format("SELECT {} FROM jobs WHERE id = ?", kColumns));
  query.bind(1, std::string(id));
  if (!query.executeStep()) {
    return std::nullopt;
  }
  return ReadRow(query);
}

std::optional<Row> LoadByKey(Db& db, const std::string& key) {
  SQLite::Statement query(db,
                          fmt::format("SELECT {} FROM jobs WHERE idempotency_key = ?", kColumns));
  query.bind(1, key);
  if (!query.executeStep()) {
    return std::nullopt;
  }
  return ReadRow(query);
}

// "type IN (?, ?)" for a non-empty list, or "1".
std::string TypeFilter(const std::vector<std::string>& types, std::vector<Param>& params) {
  if (types.empty()) {
    return "1";
  }
  std::string sql = "type IN (";
  for (std::size_t i = 0; i < types.size(); ++i) {
    sql += i == 0 ? "?" : ", ?";
    params.emplace_back(types[i]);
  }
  sql += ")";
  return sql;
}

std::string EncodeCursor(std::int64_t created_ms, std::int64_t seq) {
  const std::string plain = fmt::format("1.{}.{}", created_ms, seq);
  std::string hex;
  for (unsigned char c : plain) {
    hex += fmt::format("{:02x}", c);
  }
  return hex;
}

Result<std::pair<std::int64_t, std::int64_t>> DecodeCursor(std::string_view hex) {
  auto bad = [] { return MakeError(ErrorCode::kInvalidArgument, "invalid cursor"); };
  if (hex.size() % 2 != 0 || hex.size() > 128) {
    return bad();
  }
  std::string plain;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) {
      return bad();
    }
    plain.push_back(static_cast<char>(value));
  }
  if (plain.rfind("1.", 0) != 0) {
    return bad();
  }
  const std::string_view rest = std::string_view(plain).substr(2);
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos) {
    return bad();
  }
  std::int64_t created = 0;
  std::int64_t seq = 0;
  const auto first = rest.substr(0, dot);
  const auto second = rest.substr(dot + 1);
  auto r1 = std::from_chars(first.data(), first.data() + first.size(), created);
  auto r2 = std::from_chars(second.data(), second.data() + second.size(), seq);
  if (r1.ec != std::errc() || r1.ptr != first.data() + first.size() || r2.ec != std::errc() ||
      r2.ptr != second.data() + second.size() || first.empty() || second.empty()) {
    return bad();
  }
  return std::make_pair(created, seq);
}

bool IsValidState(std::string_view state) {
  return state == job_state::kQueued || state == job_state::kRunning ||
         state == job_state::kSucceeded || state == job_state::kDead;
}

}  // namespace

std::span<const std::string_view> JobQueueMigrations() { return kMigrations; }

bool IsValidJobType(std::string_view type) noexcept {
  if (type.empty() || type.size() > kMaxTypeChars) {
    return false;
  }
  for (char c : type) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

struct SqliteJobQueue::Impl {
  Options options;
  const Clock* clock = nullptr;
  Random* random = nullptr;

  std::mutex listener_mutex;
  Listener listener;

  Listener CurrentListener() {
    std::lock_guard lock(listener_mutex);
    return listener;
  }

  std::mutex mutex;
  std::unique_ptr<Db> db;
  std::mutex ping_mutex;
  std::unique_ptr<Db> ping_db;

  std::int64_t NowMs() const { return ToMs(clock->WallNow()); }

  // One short IMMEDIATE transaction, committed only when `body` succeeds.
  template <class T, class F>
  Result<T> Write(std::string_view op, F&& body) {
    std::lock_guard lock(mutex);
    if (!db) {
      return MakeError(ErrorCode::kUnavailable, "job queue is closed");
    }
    return Guarded(op, [&]() -> Result<T> {
      SQLite::Transaction transaction(*db, SQLite::TransactionBehavior::IMMEDIATE);
      Result<T> result = body(*db);
      if (result) {
        transaction.commit();
      }
      return result;
    });
  }

  template <class T, class F>
  Result<T> Read(std::string_view op, F&& body) {
    std::lock_guard lock(mutex);
    if (!db) {
      return MakeError(ErrorCode::kUnavailable, "job queue is closed");
    }
    return Guarded(op, [&]() -> Result<T> { return body(*db); });
  }

  // The row behind a lease, or kAlreadyExists when the lease is no longer the job's.
  Result<Row> Held(Db& conn, const JobLease& lease) {
    auto row = LoadById(conn, lease.job.id);
    if (!row || row->job.state != job_state::kRunning || row->lease_token != lease.token ||
        lease.token.empty()) {
      return MakeError(ErrorCode::kAlreadyExists, "lease lost: job {} was taken over or finished",
                       lease.job.id);
    }
    return *std::move(row);
  }
};

SqliteJobQueue::SqliteJobQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteJobQueue::~SqliteJobQueue() { Close(); }

Result<std::shared_ptr<SqliteJobQueue>> SqliteJobQueue::Open(const Options& options,
                                                             const Clock& clock, Random& random) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  impl->random = &random;
  const std::string path = options.path.string();
  const int busy_ms = static_cast<int>(options.busy_timeout.count());
  auto opened = Guarded("open " + path, [&]() -> Result<int> {
    impl->db = std::make_unique<Db>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX, busy_ms);
    Db& db = *impl->db;
    const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return MakeError(ErrorCode::kUnavailable,
                       "job database {} cannot use WAL mode (journal_mode is {}); put it on a "
                       "local file system",
                       path, mode);
    }
    // A commit survives kill -9 of the process; only a power cut may lose the last ones.
    db.exec("PRAGMA synchronous = NORMAL");
    SG_ASSIGN_OR_RETURN(int version, sqlite::Migrate(db, clock, JobQueueMigrations(), options.path,
                                                     "job database"));
    impl->ping_db = std::make_unique<Db>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX,
                                         kPingBusyTimeoutMs);
    impl->ping_db->exec("PRAGMA query_only = ON");
    return version;
  });
  if (!opened) {
    return MakeError(opened.error());
  }
  return std::shared_ptr<SqliteJobQueue>(new SqliteJobQueue(std::move(impl)));
}

void SqliteJobQueue::Close() noexcept {
  if (!impl_) {
    return;
  }
  {
    std::lock_guard lock(impl_->ping_mutex);
    impl_->ping_db.reset();
  }
  std::lock_guard lock(impl_->mutex);
  impl_->db.reset();
}

void SqliteJobQueue::SetListener(Listener listener) {
  std::lock_guard lock(impl_->listener_mutex);
  impl_->listener = std::move(listener);
}

Result<> SqliteJobQueue::Ping() {
  std::lock_guard lock(impl_->ping_mutex);
  if (!impl_->ping_db) {
    return MakeError(ErrorCode::kUnavailable, "job queue is closed");
  }
  auto result = Guarded("ping", [&]() -> Result<> {
    impl_->ping_db->execAndGet("SELECT 1 FROM schema_migrations LIMIT 1");
    return {};
  });
  if (!result) {
    return MakeError(ErrorCode::kUnavailable, "{}", result.error().message);
  }
  return {};
}

Result<Job> SqliteJobQueue::Enqueue(const JobSpec& spec) {
  if (!IsValidJobType(spec.type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "job type \"{}\" must be 1..{} characters of [a-z0-9._-]", spec.type,
                     kMaxTypeChars);
  }
  std::string payload = spec.payload.empty() ? "{}" : spec.payload;
  boost::system::error_code ec;
  boost::json::parse(payload, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument, "job payload is not JSON: {}", ec.message());
  }
  if (spec.max_attempts < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "max_attempts must be >= 0");
  }
  bool inserted = false;
  auto job = impl_->Write<Job>("enqueue", [&](Db& db) -> Result<Job> {
    if (!spec.idempotency_key.empty()) {
      if (auto existing = LoadByKey(db, spec.idempotency_key)) {
        return existing->job;
      }
    }
    const std::int64_t now = impl_->NowMs();
    const std::int64_t not_before = spec.not_before ? ToMs(*spec.not_before) : now;
    const int max_attempts = spec.max_attempts > 0
                                 ? spec.max_attempts
                                 : std::max(1, impl_->options.default_max_attempts);
    const std::string id = NewId();
    SQLite::Statement insert(
        db,
        "INSERT INTO jobs (id, type, payload, idempotency_key, content_id, owner, priority, "
        "state, max_attempts, not_before, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)");
    insert.bind(1, id);
    insert.bind(2, spec.type);
    insert.bind(3, payload);
    if (spec.idempotency_key.empty()) {
      insert.bind(4);  // NULL
    } else {
      insert.bind(4, spec.idempotency_key);
    }
    insert.bind(5, spec.content_id);
    insert.bind(6, spec.owner);
    insert.bind(7, spec.priority);
    insert.bind(8, max_attempts);
    insert.bind(9, not_before);
    insert.bind(10, now);
    insert.bind(11, now);
    insert.exec();
    inserted = true;
    return LoadById(db, id)->job;
  });
  if (job && inserted) {
    if (auto listener = impl_->CurrentListener(); listener.on_ready) {
      listener.on_ready(*job);
    }
  }
  return job;
}

Result<std::optional<JobLease>> SqliteJobQueue::Lease(const std::vector<std::string>& types,
                                                      std::string_view worker_id,
                                                      Duration visibility_timeout) {
  std::vector<Job> dead_lettered;
  auto lease = impl_->Write<std::optional<JobLease>>(
      "lease", [&](Db& db) -> Result<std::optional<JobLease>> {
        const std::int64_t now = impl_->NowMs();
        std::vector<Param> params;
        const std::string filter = TypeFilter(types, params);
        params.emplace_back(now);
        params.emplace_back(now);
        const std::string sql = fmt::format(
            "SELECT {} FROM jobs WHERE {} AND ((state = 'queued' AND not_before <= ?) OR "
            "(state = 'running' AND lease_expires_at <= ?)) "
            "ORDER BY priority DESC, created_at, seq LIMIT 1",
            kColumns, filter);
        // Each pass either leases a job or dead-letters one, so the loop ends.
        for (;;) {
          SQLite::Statement query(db, sql);
          BindAll(query, params);
          if (!query.executeStep()) {
            return std::optional<JobLease>{};
          }
          Row row = ReadRow(query);
          query.reset();
          const bool expired = row.job.state == job_state::kRunning;
          const int expired_leases = row.expired_leases + (expired ? 1 : 0);
          std::string last_error = row.job.last_error;
          if (expired) {
            last_error =
                fmt::format("lease expired (worker {} stopped heartbeating)", row.job.lease_owner);
          }
          if (row.job.attempts >= row.job.max_attempts) {
            SQLite::Statement dead(
                db,
                "UPDATE jobs SET state = 'dead', last_error = ?, expired_leases = ?, "
                "lease_token = '', lease_owner = '', updated_at = ?, finished_at = ? "
                "WHERE seq = ?");
            dead.bind(1, fmt::format("lease expired {} times", expired_leases));
            dead.bind(2, expired_leases);
            dead.bind(3, now);
            dead.bind(4, now);
            dead.bind(5, row.seq);
            dead.exec();
            dead_lettered.push_back(LoadById(db, row.job.id)->job);
            continue;
          }
          SQLite::Statement lease_seq(db, "SELECT lease_seq FROM jobs WHERE seq = ?");
          lease_seq.bind(1, row.seq);
          lease_seq.executeStep();
          const std::int64_t next_seq = lease_seq.getColumn(0).getInt64() + 1;
          const std::string token = fmt::format("{}.{:016x}", next_seq, impl_->random->NextU64());
          const std::int64_t expires = now + DurationMs(visibility_timeout);
          SQLite::Statement update(
              db,
              "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_seq = ?, "
              "lease_token = ?, lease_owner = ?, lease_expires_at = ?, expired_leases = ?, "
              "last_error = ?, progress = 0, eta_seconds = NULL, updated_at = ? WHERE seq = ?");
          update.bind(1, next_seq);
          update.bind(2, token);
          update.bind(3, std::string(worker_id));
          update.bind(4, expires);
          update.bind(5, expired_leases);
          update.bind(6, last_error);
          update.bind(7, now);
          update.bind(8, row.seq);
          update.exec();
          JobLease out;
          out.job = LoadById(db, row.job.id)->job;
          out.token = token;
          out.expires_at = FromMs(expires);
          return std::optional<JobLease>(std::move(out));
        }
      });
  // On failure the transaction rolled back: those dead letters never happened.
  if (lease && !dead_lettered.empty()) {
    if (auto listener = impl_->CurrentListener(); listener.on_dead_lettered) {
      for (const auto& job : dead_lettered) {
        listener.on_dead_lettered(job);
      }
    }
  }
  return lease;
}

Result<> SqliteJobQueue::Heartbeat(JobLease& lease, Duration extension,
                                   std::optional<JobProgress> progress) {
  auto expires = impl_->Write<std::int64_t>("heartbeat", [&](Db& db) -> Result<std::int64_t> {
    SG_ASSIGN_OR_RETURN(Row row, impl_->Held(db, lease));
    const std::int64_t now = impl_->NowMs();
    const std::int64_t until = now + DurationMs(extension);
    if (progress) {
      SQLite::Statement update(db,
                               "UPDATE jobs SET lease_expires_at = ?, progress = ?, "
                               "eta_seconds = ?, updated_at = ? WHERE seq = ?");
      update.bind(1, until);
      update.bind(2, std::clamp(progress->fraction, 0.0, 1.0));
      if (progress->eta_seconds) {
        update.bind(3, std::max(0.0, *progress->eta_seconds));
      } else {
        update.bind(3);
      }
      update.bind(4, now);
      update.bind(5, row.seq);
      update.exec();
    } else {
      SQLite::Statement update(
          db, "UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE seq = ?");
      update.bind(1, until);
      update.bind(2, now);
      update.bind(3, row.seq);
      update.exec();
    }
    return until;
  });
  if (!expires) {
    return MakeError(expires.error());
  }
  lease.expires_at = FromMs(*expires);
  return {};
}

Result<Job> SqliteJobQueue::Ack(const JobLease& lease, std::string result_json) {
  if (!result_json.empty()) {
    boost::system::error_code ec;
    boost::json::parse(result_json, ec);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument, "job result is not JSON: {}", ec.message());
    }
  }
  return impl_->Write<Job>("ack", [&](Db& db) -> Result<Job> {
    SG_ASSIGN_OR_RETURN(Row row, impl_->Held(db, lease));
    const std::int64_t now = impl_->NowMs();
    SQLite::Statement update(
        db,
        "UPDATE jobs SET state = 'succeeded', result = ?, progress = 1, eta_seconds = NULL, "
        "lease_token = '', updated_at = ?, finished_at = ? WHERE seq = ?");
    update.bind(1, result_json);
    update.bind(2, now);
    update.bind(3, now);
    update.bind(4, row.seq);
    update.exec();
    return LoadById(db, row.job.id)->job;
  });
}

Result<Job> SqliteJobQueue::Nack(const JobLease& lease, std::string_view reason,
                                 std::optional<Duration> delay, bool permanent) {
  return impl_->Write<Job>("nack", [&](Db& db) -> Result<Job> {
    SG_ASSIGN_OR_RETURN(Row row, impl_->Held(db, lease));
    const std::int64_t now = impl_->NowMs();
    if (permanent || row.job.attempts >= row.job.max_attempts) {
      SQLite::Statement dead(db,
                             "UPDATE jobs SET state = 'dead', last_error = ?, lease_token = '', "
                             "eta_seconds = NULL, updated_at = ?, finished_at = ? WHERE seq = ?");
      dead.bind(1, std::string(reason));
      dead.bind(2, now);
      dead.bind(3, now);
      dead.bind(4, row.seq);
      dead.exec();
      return LoadById(db, row.job.id)->job;
    }
    const Duration wait =
        delay ? std::max(*delay, Duration::zero())
              : BackoffDelay(impl_->options.backoff, row.job.attempts, *impl_->random);
    SQLite::Statement queued(db,
                             "UPDATE jobs SET state = 'queued', last_error = ?, lease_token = '', "
                             "not_before = ?, eta_seconds = NULL, updated_at = ? WHERE seq = ?");
    queued.bind(1, std::string(reason));
    queued.bind(2, now + DurationMs(wait));
    queued.bind(3, now);
    queued.bind(4, row.seq);
    queued.exec();
    return LoadById(db, row.job.id)->job;
  });
}

Result<Job> SqliteJobQueue::Release(const JobLease& lease, std::string_view reason) {
  auto job = impl_->Write<Job>("release", [&](Db& db) -> Result<Job> {
    SG_ASSIGN_OR_RETURN(Row row, impl_->Held(db, lease));
    const std::int64_t now = impl_->NowMs();
    SQLite::Statement update(
        db,
        "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), last_error = ?, "
        "lease_token = '', not_before = ?, eta_seconds = NULL, updated_at = ? WHERE seq = ?");
    update.bind(1, std::string(reason));
    update.bind(2, now);
    update.bind(3, now);
    update.bind(4, row.seq);
    update.exec();
    return LoadById(db, row.job.id)->job;
  });
  return job;
}

Result<Job> SqliteJobQueue::Get(std::string_view id) {
  return impl_->Read<Job>("get", [&](Db& db) -> Result<Job> {
    auto row = LoadById(db, id);
    if (!row) {
      return MakeError(ErrorCode::kNotFound, "job {} does not exist", id);
    }
    return row->job;
  });
}

Result<JobPage> SqliteJobQueue::List(const JobQuery& query) {
  if (query.limit < 1 || query.limit > kMaxLimit) {
    return MakeError(ErrorCode::kInvalidArgument, "limit must be 1..{}", kMaxLimit);
  }
  if (!query.state.empty() && !IsValidState(query.state)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "state must be one of queued, running, succeeded, dead");
  }
  std::optional<std::pair<std::int64_t, std::int64_t>> after;
  if (!query.cursor.empty()) {
    SG_ASSIGN_OR_RETURN(after, DecodeCursor(query.cursor));
  }
  return impl_->Read<JobPage>("list", [&](Db& db) -> Result<JobPage> {
    std::string sql = fmt::format("SELECT {} FROM jobs WHERE 1", kColumns);
    std::vector<Param> params;
    auto exact = [&](std::string_view column, const std::string& value) {
      if (!value.empty()) {
        sql += fmt::format(" AND {} = ?", column);
        params.emplace_back(value);
      }
    };
    exact("state", query.state);
    exact("content_id", query.content_id);
    exact("type", query.type);
    exact("owner", query.owner);
    if (after) {
      sql += " AND (created_at < ? OR (created_at = ? AND seq < ?))";
      params.emplace_back(after->first);
      params.emplace_back(after->first);
      params.emplace_back(after->second);
    }
    sql += " ORDER BY created_at DESC, seq DESC LIMIT ?";
    params.emplace_back(static_cast<std::int64_t>(query.limit + 1));
    SQLite::Statement statement(db, sql);
    BindAll(statement, params);
    JobPage page;
    std::optional<Row> last;
    while (statement.executeStep()) {
      Row row = ReadRow(statement);
      if (page.items.size() == query.limit) {
        page.next_cursor = EncodeCursor(ToMs(last->job.created_at), last->seq);
        break;
      }
      page.items.push_back(row.job);
      last = std::move(row);
    }
    return page;
  });
}

Result<Job> SqliteJobQueue::Retry(std::string_view id) {
  auto job = impl_->Write<Job>("retry", [&](Db& db) -> Result<Job> {
    auto row = LoadById(db, id);
    if (!row) {
      return MakeError(ErrorCode::kNotFound, "job {} does not exist", id);
    }
    if (row->job.state != job_state::kDead) {
      return MakeError(ErrorCode::kAlreadyExists, "job {} is {}, not dead", id, row->job.state);
    }
    const std::int64_t now = impl_->NowMs();
    SQLite::Statement update(
        db,
        "UPDATE jobs SET state = 'queued', attempts = 0, expired_leases = 0, progress = 0, "
        "eta_seconds = NULL, not_before = ?, finished_at = NULL, updated_at = ? WHERE seq = ?");
    update.bind(1, now);
    update.bind(2, now);
    update.bind(3, row->seq);
    update.exec();
    return LoadById(db, id)->job;
  });
  if (job) {
    if (auto listener = impl_->CurrentListener(); listener.on_ready) {
      listener.on_ready(*job);
    }
  }
  return job;
}

Result<JobCounts> SqliteJobQueue::Counts(const std::vector<std::string>& types) {
  return impl_->Read<JobCounts>("counts", [&](Db& db) -> Result<JobCounts> {
    const std::int64_t now = impl_->NowMs();
    // The times bind the SUMs, which come before the WHERE clause's types.
    std::vector<Param> params{now, now, now, now};
    const std::string filter = TypeFilter(types, params);
    SQLite::Statement query(
        db, fmt::format("SELECT "
                        "SUM(state = 'queued' AND not_before <= ?), "
                        "SUM(state = 'queued' AND not_before > ?), "
                        "SUM(state = 'running' AND lease_expires_at > ?), "
                        "SUM(state = 'running' AND lease_expires_at <= ?), "
                        "SUM(state = 'dead') "
                        "FROM jobs WHERE state IN ('queued', 'running', 'dead') AND {}",
                        filter));
    BindAll(query, params);
    JobCounts counts;
    if (query.executeStep()) {
      auto get = [&](int column) -> std::uint64_t {
        return query.getColumn(column).isNull()
                   ? 0
                   : static_cast<std::uint64_t>(query.getColumn(column).getInt64());
      };
      counts.ready = get(0) + get(3);  // an expired lease is leasable now
      counts.delayed = get(1);
      counts.running = get(2);
      counts.dead = get(4);
    }
    return counts;
  });
}

Result<std::uint64_t> SqliteJobQueue::PurgeSucceeded(WallTime before) {
  return impl_->Write<std::uint64_t>("purge", [&](Db& db) -> Result<std::uint64_t> {
    SQLite::Statement remove(db, "DELETE FROM jobs WHERE state = 'succeeded' AND finished_at < ?");
    remove.bind(1, ToMs(before));
    return static_cast<std::uint64_t>(remove.exec());
  });
}

}  // namespace sg::plugins::worker
