#pragma once
/// A ByteSource over an in-memory string, for tests of code that streams bytes.

#include <algorithm>
#include <span>
#include <string>

#include "core/api/byte_source.h"

namespace sg::testing {

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<std::size_t> Read(std::span<char> buffer) override {
    std::size_t n = std::min(buffer.size(), data_.size() - position_);
    std::copy_n(data_.data() + position_, n, buffer.data());
    position_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t position_ = 0;
};

}  // namespace sg::testing
