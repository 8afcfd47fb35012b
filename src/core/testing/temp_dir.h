#pragma once
/// A fresh folder under /tmp for one test, removed with everything in it afterwards.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace sg::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view name = "sg-test") {
    std::string pattern = "/tmp/" + std::string(name) + "-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    path_ = made == nullptr ? std::filesystem::path() : std::filesystem::path(made);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sg::testing
