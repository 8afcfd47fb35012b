#include "app/builtin_plugins.h"

#include "plugins/debug/debug_plugin.h"
#include "plugins/gateway/gateway_plugin.h"
#include "plugins/monitor/monitor_plugin.h"

namespace sg::app {

Result<> RegisterBuiltinPlugins(PluginRegistrar& registrar) {
  SG_RETURN_IF_ERROR(RegisterGatewayPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterMonitorPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterDebugPlugin(registrar));
  return {};
}

}  // namespace sg::app
