// libFuzzer entry point for the SIWE parser (built with clang only; see CMakeLists.txt).
// Checks, besides memory safety, that whatever parses also survives Format() and parses
// back to an equal message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "support/eth/siwe_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto message = sg::eth::SiweMessage::Parse(text);
  if (!message) {
    return 0;
  }
  auto again = sg::eth::SiweMessage::Parse(message->Format());
  if (!again || !(*again == *message)) {
    std::abort();
  }
  return 0;
}
