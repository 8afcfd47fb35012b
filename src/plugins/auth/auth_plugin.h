#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the auth plugin: the `Authenticator` service (today the admin API key).
Result<> RegisterAuthPlugin(PluginRegistrar& registrar);

}  // namespace sg
