#pragma once

#include <cstdint>
#include <string>

#include "core/api/config.h"

namespace sg::plugins::storage {

/// Open files kept for reads (open_file_cache.h): a segment served again costs no
/// open/fstat/close.
struct OpenFileCacheConfig {
  std::int64_t max_files = 512;
  ConfigDuration valid{10'000};

  void Visit(ConfigVisitor& v) {
    v.Field("max_files", max_files,
            {.doc = "most object files kept open for reads; 0 = off", .min = 0, .max = 65536});
    v.Field("valid", valid,
            {.doc = "how long an open file is trusted before the file system is asked again "
                    "(changes made outside StreamGate show after this)",
             .min = 1,
             .max = 3600 * 1000.0});
  }
};

struct StorageConfig {
  /// Folder holding the objects; empty = "<server.data_dir>/objects". A relative path is
  /// relative to server.data_dir.
  std::string root;
  /// fsync files and their folders before a write is acknowledged, so it survives a power
  /// loss. Tests turn it off for speed.
  bool fsync = true;
  /// The one buffer each streaming read or write uses (memory per transfer).
  ByteSize io_buffer{256 * 1024};
  OpenFileCacheConfig open_file_cache;

  void Visit(ConfigVisitor& v) {
    v.Field("root", root,
            {.doc = "folder holding the objects; empty = <server.data_dir>/objects, relative = "
                    "below server.data_dir"});
    v.Field("fsync", fsync,
            {.doc = "fsync files and folders so an acknowledged write survives power loss"});
    v.Field("io_buffer", io_buffer,
            {.doc = "buffer per streaming transfer", .min = 4 * 1024, .max = 8 * 1024 * 1024});
    v.Section("open_file_cache", "object files kept open for reads (segments)",
              [this](ConfigVisitor& visitor) { open_file_cache.Visit(visitor); });
  }
  Result<> Validate() const { return {}; }
};

}  // namespace sg::plugins::storage
