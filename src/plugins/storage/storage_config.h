#pragma once

#include <string>

#include "core/api/config.h"

namespace sg::plugins::storage {

struct StorageConfig {
  /// Folder holding the objects; empty = "<server.data_dir>/objects". A relative path is
  /// relative to server.data_dir.
  std::string root;
  /// fsync files and their folders before a write is acknowledged, so it survives a power
  /// loss. Tests turn it off for speed.
  bool fsync = true;
  /// The one buffer each streaming read or write uses (memory per transfer).
  ByteSize io_buffer{256 * 1024};

  void Visit(ConfigVisitor& v) {
    v.Field("root", root,
            {.doc = "folder holding the objects; empty = <server.data_dir>/objects, relative = "
                    "below server.data_dir"});
    v.Field("fsync", fsync,
            {.doc = "fsync files and folders so an acknowledged write survives power loss"});
    v.Field("io_buffer", io_buffer,
            {.doc = "buffer per streaming transfer", .min = 4 * 1024, .max = 8 * 1024 * 1024});
  }
  Result<> Validate() const { return {}; }
};

}  // namespace sg::plugins::storage
