#pragma once

#include <cstdint>
#include <string>

#include "core/api/config.h"

namespace sg::plugins::metadata {

struct MetadataConfig {
  /// The SQLite file; "" = "<server.data_dir>/streamgate.db".
  std::string path;
  /// How long a statement waits for a lock held by another connection or process.
  ConfigDuration busy_timeout{5'000};
  /// Read-only connections used concurrently by readers (WAL: readers never block the writer).
  std::int64_t read_connections = 4;
  /// normal: a commit survives a process crash (kill -9); a power cut may lose the last
  /// transactions but never corrupts the file. full: fsync on every commit, survives power
  /// loss too, at the cost of one fsync per write.
  std::string synchronous = "normal";

  void Visit(ConfigVisitor& v) {
    v.Field("path", path, {.doc = "SQLite database file; empty = <server.data_dir>/streamgate.db"});
    v.Field("busy_timeout", busy_timeout,
            {.doc = "how long a statement waits for a database lock", .min = 0, .max = 600'000});
    v.Field("read_connections", read_connections,
            {.doc = "read-only connections for concurrent readers", .min = 1, .max = 64});
    v.Field("synchronous", synchronous,
            {.doc = "normal: commits survive a crash of the process; full: also a power cut",
             .choices = {"normal", "full"}});
  }
  Result<> Validate() const { return {}; }
};

}  // namespace sg::plugins::metadata
