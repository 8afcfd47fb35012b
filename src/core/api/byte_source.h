#pragma once
/// A pull-based stream of bytes, read in caller-sized pieces: how request bodies, objects
/// and files move without ever being held whole in memory.

#include <cstddef>
#include <span>

#include "core/api/result.h"

namespace sg {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to `buffer.size()` bytes into `buffer`; 0 means the end. Errors are final.
  virtual Result<std::size_t> Read(std::span<char> buffer) = 0;
};

}  // namespace sg
