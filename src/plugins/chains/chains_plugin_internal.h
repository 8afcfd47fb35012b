#pragma once

#include <memory>

#include "core/api/plugin.h"
#include "plugins/chains/rpc_transport.h"

namespace sg::plugins::chains {

/// For tests: a fresh plugin; `transport` replaces libcurl when set.
std::unique_ptr<Plugin> MakeChainsPlugin(std::shared_ptr<RpcTransport> transport = nullptr);

}  // namespace sg::plugins::chains
