#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the chains plugin: the ChainReader service (core/api/services/chain.h) over
/// JSON-RPC eth_call to the configured EVM chains (batches, failover between URLs,
/// retries, a circuit breaker per URL).
Result<> RegisterChainsPlugin(PluginRegistrar& registrar);

}  // namespace sg
