#include "app/builtin_plugins.h"

#include "plugins/auth/auth_plugin.h"
#include "plugins/cache/cache_plugin.h"
#include "plugins/chains/chains_plugin.h"
#include "plugins/content/content_plugin.h"
#include "plugins/debug/debug_plugin.h"
#include "plugins/gateway/gateway_plugin.h"
#include "plugins/metadata/metadata_plugin.h"
#include "plugins/monitor/monitor_plugin.h"
#include "plugins/storage/storage_plugin.h"
#include "plugins/streaming/streaming_plugin.h"
#include "plugins/transcode/transcode_plugin.h"
#include "plugins/upload/upload_plugin.h"
#include "plugins/worker/worker_plugin.h"

namespace sg::app {

Result<> RegisterBuiltinPlugins(PluginRegistrar& registrar) {
  // Registration order is the start order wherever dependencies allow it. A plugin that
  // looks up an optional service (Find) comes after its provider: auth uses the chains and
  // the cache; content and streaming use auth's AccessDecider.
  SG_RETURN_IF_ERROR(RegisterGatewayPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterMonitorPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterDebugPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterStoragePlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterMetadataPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterCachePlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterChainsPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterAuthPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterContentPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterUploadPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterWorkerPlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterTranscodePlugin(registrar));
  SG_RETURN_IF_ERROR(RegisterStreamingPlugin(registrar));
  return {};
}

}  // namespace sg::app
