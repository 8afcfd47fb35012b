// streamgate: the single binary. Subcommands: serve, plugins, config print|validate, version.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "app/builtin_plugins.h"
#include "app/serve_command.h"
#include "app/upload_command.h"
#include "core/config_loader.h"
#include "core/kernel.h"
#include "core/logging.h"
#include "core/plugin_registry.h"

namespace {

using sg::app::kExitConfigError;
using sg::app::kExitFailure;
using sg::app::kExitOk;

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::string current;
  for (char c : text) {
    if (c == ',') {
      if (!current.empty()) {
        items.push_back(current);
      }
      current.clear();
    } else if (c != ' ') {
      current.push_back(c);
    }
  }
  if (!current.empty()) {
    items.push_back(current);
  }
  return items;
}

// `config print` and `config validate` configure a kernel without starting anything.
int ConfigureOnly(const sg::core::PluginRegistry& registry, const sg::core::ConfigSources& sources,
                  bool print, const std::string& label) {
  auto tree = sg::core::LoadConfigTree(sources);
  if (!tree) {
    fmt::print(stderr, "{}: {}\n", label, tree.error().message);
    return kExitConfigError;
  }
  sg::core::Kernel kernel(registry);
  if (auto configured = kernel.Configure(*tree); !configured) {
    fmt::print(stderr, "{}: invalid configuration:\n{}\n", label, configured.error().message);
    return kExitConfigError;
  }
  if (print) {
    fmt::print("{}\n", kernel.PrintConfig());
  } else {
    fmt::print("{}: ok\n", label);
  }
  return kExitOk;
}

int ListPlugins(const sg::core::PluginRegistry& registry) {
  fmt::print("{:<10} {:<8} {:<8} {:<20} {}\n", "NAME", "VERSION", "DEFAULT", "DEPENDS ON",
             "DESCRIPTION");
  for (const auto& info : registry.List()) {
    std::string deps;
    for (const auto& dep : info.dependencies) {
      deps += (deps.empty() ? "" : ",") + dep;
    }
    fmt::print("{:<10} {:<8} {:<8} {:<20} {}\n", info.name, info.version,
               info.enabled_by_default ? "yes" : "no", deps.empty() ? "-" : deps, info.description);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  sg::core::PluginRegistry registry;
  if (auto registered = sg::app::RegisterBuiltinPlugins(registry); !registered) {
    fmt::print(stderr, "streamgate: plugin registration failed: {}\n", registered.error().message);
    return kExitFailure;
  }

  CLI::App app{
      "StreamGate: self-hostable video platform (upload, transcode, HLS/DASH, "
      "NFT-gated access)",
      "streamgate"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");

  // serve
  auto* serve = app.add_subcommand("serve",
                                   "Run the server (embedded defaults: "
                                   "http://127.0.0.1:8080, data in ./data)");
  std::string config_file, listen, data_dir, plugin_list, log_format, log_level;
  serve->add_option("--config", config_file, "YAML config file")->check(CLI::ExistingFile);
  serve->add_option("--listen", listen, "Address to listen on, ADDR:PORT (gateway.listen)");
  serve->add_option("--data-dir", data_dir, "Data directory (server.data_dir)");
  serve->add_option("--plugins", plugin_list,
                    "Comma-separated plugins to run (default: every default plugin)");
  serve->add_option("--log-format", log_format, "json (default) or text (log.format)")
      ->check(CLI::IsMember({"json", "text"}));
  serve->add_option("--log-level", log_level, "trace|debug|info|warn|error (log.level)");

  // plugins
  auto* plugins = app.add_subcommand("plugins", "List the registered plugins");

  // config print|validate
  auto* config = app.add_subcommand("config", "Print or validate configuration");
  config->require_subcommand(1);
  auto* print =
      config->add_subcommand("print",
                             "Print the effective configuration (defaults, file, environment), "
                             "secrets redacted");
  std::string print_file;
  print->add_option("--config", print_file, "YAML config file")->check(CLI::ExistingFile);
  auto* validate = config->add_subcommand("validate", "Check a config file; exit 2 if invalid");
  std::string validate_file;
  validate->add_option("file", validate_file, "YAML config file")->required();

  // upload
  auto* upload = app.add_subcommand(
      "upload", "Upload a video through the resumable chunked API; rerun to resume");
  sg::app::UploadCommandOptions upload_options;
  upload->add_option("file", upload_options.file, "The video file")->required();
  upload->add_option("--server", upload_options.server, "Server base URL")->capture_default_str();
  upload->add_option("--api-key", upload_options.api_key,
                     "Admin API key (default: $STREAMGATE_API_KEY)");
  upload->add_option("--title", upload_options.title, "Title (default: the file name)");
  upload->add_option("--description", upload_options.description, "Description");
  upload->add_option("--tags", upload_options.tags, "Comma-separated tags");
  upload
      ->add_option("--visibility", upload_options.visibility,
                   "Who may see the video once uploaded (default: public)")
      ->check(CLI::IsMember({"public", "unlisted", "private"}));
  upload->add_option("--parallel", upload_options.parallel, "Chunks in flight (1-8)")
      ->capture_default_str();
  upload->add_option("--chunk-size", upload_options.chunk_mib, "Chunk size in MiB")
      ->capture_default_str();
  upload->add_option("--state-dir", upload_options.state_dir,
                     "Where resume state is kept (default ~/.local/state/streamgate)");
  upload->add_flag("--quiet", upload_options.quiet, "No progress output");

  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? kExitOk : kExitConfigError;
  }

  sg::core::ConfigSources sources;
  sources.environment = sg::core::CurrentEnvironment();

  if (*serve) {
    if (!config_file.empty()) {
      sources.file = config_file;
    }
    if (!listen.empty()) {
      sources.flags.emplace_back("gateway.listen", listen);
    }
    if (!data_dir.empty()) {
      sources.flags.emplace_back("server.data_dir", data_dir);
    }
    if (!log_format.empty()) {
      sources.flags.emplace_back("log.format", log_format);
    }
    if (!log_level.empty()) {
      sources.flags.emplace_back("log.level", log_level);
    }
    return sg::app::RunServe(registry, sources, SplitList(plugin_list));
  }
  if (*plugins) {
    return ListPlugins(registry);
  }
  if (*upload) {
    if (upload_options.api_key.empty()) {
      if (const char* key = std::getenv("STREAMGATE_API_KEY"); key != nullptr) {
        upload_options.api_key = key;
      }
    }
    return sg::app::RunUploadCommand(upload_options);
  }
  if (*print) {
    if (!print_file.empty()) {
      sources.file = print_file;
    }
    return ConfigureOnly(registry, sources, true, "streamgate config print");
  }
  if (*validate) {
    if (!std::filesystem::exists(validate_file)) {
      fmt::print(stderr, "{}: no such file\n", validate_file);
      return kExitConfigError;
    }
    sources.file = validate_file;
    return ConfigureOnly(registry, sources, false, validate_file);
  }
  if (*version) {
    fmt::print("streamgate {}\n", SG_VERSION);
    return kExitOk;
  }
  return kExitConfigError;
}
