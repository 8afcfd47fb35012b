#pragma once
/// `streamgate upload FILE`: a resumable client of the seed upload API.

#include <cstdint>
#include <string>

namespace sg::app {

struct UploadCommandOptions {
  std::string file;
  std::string server = "http://127.0.0.1:8080";
  std::string api_key;  ///< or STREAMGATE_API_KEY
  std::string title;
  std::string description;
  std::string tags;  ///< comma-separated
  /// public | unlisted | private; empty = not sent (the server creates it public).
  std::string visibility;
  int parallel = 3;             ///< chunks in flight, 1..8
  std::uint64_t chunk_mib = 8;  ///< chunk size in MiB (the server bounds it, 1..64 by default)
  /// Where resumable state is kept; default $XDG_STATE_HOME or ~/.local/state/streamgate.
  std::string state_dir;
  bool quiet = false;
};

/// Hashes the file (whole and per chunk), creates or resumes the session, sends missing
/// chunks `parallel` at a time with retries, completes, prints the content id on stdout.
/// Rerunning after an interruption resumes the same session. Exit codes: 0 done,
/// 1 server or network failure, 2 bad arguments.
int RunUploadCommand(const UploadCommandOptions& options);

}  // namespace sg::app
