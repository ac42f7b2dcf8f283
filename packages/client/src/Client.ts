/**
 * The connection as a service, for programs that hold one connection for
 * their whole life: `SysproxyClient.layer(url)` connects when the layer is
 * built and closes when it is torn down.
 */
import type { ServerUrl } from "@sysproxy/protocol"
import { Context, Layer } from "effect"
import { type ClientConnection, type ConnectOptions, connect } from "./Connection.ts"
import type { RequestError } from "./Errors.ts"

export class SysproxyClient extends Context.Service<SysproxyClient, ClientConnection>()("@sysproxy/client/SysproxyClient") {
  static readonly layer = (
    url: string | ServerUrl,
    options?: ConnectOptions
  ): Layer.Layer<SysproxyClient, RequestError> => Layer.effect(SysproxyClient, connect(url, options))
}
