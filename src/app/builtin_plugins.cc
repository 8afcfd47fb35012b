#include "app/builtin_plugins.h"

#include "plugins/debug/debug_plugin.h"
#include "plugins/gateway/gateway_plugin.h"
#include "plugins/monitor/monitor_plugin.h"
#ifdef SG_HAVE_PLUGIN_AUTH
#include "plugins/auth/auth_plugin.h"
#endif
#ifdef SG_HAVE_PLUGIN_STORAGE
#include "plugins/storage/storage_plugin.h"
#endif
#ifdef SG_HAVE_PLUGIN_METADATA
#include "plugins/metadata/metadata_plugin.h"
#endif
#ifdef SG_HAVE_PLUGIN_CONTENT
#include "plugins/content/content_plugin.h"
#endif
#ifdef SG_HAVE_PLUGIN_UPLOAD
#include "plugins/upload/upload_plugin.h"
#endif

namespace sg::app {

Result<> RegisterBuiltinPlugins(PluginRegistrar& registrar) {
  SG_RETURN_IF_ERROR(RegisterGatewayPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterMonitorPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterDebugPlugin(registrar));
#ifdef SG_HAVE_PLUGIN_AUTH
  SG_RETURN_IF_ERROR(RegisterAuthPlugin(registrar));
#endif
#ifdef SG_HAVE_PLUGIN_STORAGE
  SG_RETURN_IF_ERROR(RegisterStoragePlugin(registrar));
#endif
#ifdef SG_HAVE_PLUGIN_METADATA
  SG_RETURN_IF_ERROR(RegisterMetadataPlugin(registrar));
#endif
#ifdef SG_HAVE_PLUGIN_CONTENT
  SG_RETURN_IF_ERROR(RegisterContentPlugin(registrar));
#endif
#ifdef SG_HAVE_PLUGIN_UPLOAD
  SG_RETURN_IF_ERROR(RegisterUploadPlugin(registrar));
#endif
  return {};
}

}  // namespace sg::app
