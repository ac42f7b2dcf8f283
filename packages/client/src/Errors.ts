/**
 * The client's typed failures. `ClientError` is a request that did not
 * work (bad URL, no banner, a refused handshake, an ERROR frame, ...);
 * `ConnectionClosed` is the connection itself being gone, which every
 * pending and later request fails with; `SyscallError` is a syscall the
 * kernel refused with an errno.
 */
import { Errno, errnoMessage, errnoName } from "@sysproxy/protocol/netbsd"
import { Data } from "effect"

export type ClientErrorReason =
  /** The server URL did not parse (or is a wildcard a client cannot use). */
  | "BadUrl"
  /** The socket could not be opened. */
  | "ConnectFailed"
  /** No newline in the first 96 bytes, or the line is not a RUMPSP banner. */
  | "BadBanner"
  /** The server answered with an ERROR frame; `code` names the error code. */
  | "ServerError"
  /** A handshake response carried a non-zero error. */
  | "HandshakeFailed"
  /** The request could not be encoded (a field out of its C type's range). */
  | "BadRequest"
  /** The server answered with a frame of the wrong kind, or one that did not decode. */
  | "BadResponse"

export class ClientError extends Data.TaggedError("ClientError")<{
  readonly reason: ClientErrorReason
  /** The NetBSD errno the C client would report. */
  readonly errno: number
  /** The sysproxy error code name, for `ServerError`. */
  readonly code: string | undefined
  readonly message: string
}> {}

export type ConnectionClosedReason =
  /** The server closed the connection (EOF). */
  | "Eof"
  /** The socket failed (reset, broken pipe, ...). */
  | "SocketError"
  /** The server sent bytes that cannot be cut into frames. */
  | "ProtocolError"
  /** We closed it. */
  | "Local"

export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly reason: ConnectionClosedReason
  /** ENOTCONN, what librumpclient reports for a lost connection. */
  readonly errno: number
  readonly message: string
  /**
   * Whether the request that fails with this had been written to the
   * socket before the close (so the server may have run it); false for
   * one that never left, and for failures not of one request.
   */
  readonly sent: boolean
}> {}

/** Either failure of a request on a connection. */
export type RequestError = ClientError | ConnectionClosed

const errnoByName: Readonly<Record<string, number>> = Errno

/** A Node system error code ("ECONNREFUSED") as the NetBSD errno of the same name, else EIO. */
export const errnoOfNodeError = (error: unknown): number => {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
  return (typeof code === "string" ? errnoByName[code] : undefined) ?? Errno.EIO
}

export const connectionClosed = (reason: ConnectionClosedReason, message: string, sent = false): ConnectionClosed =>
  new ConnectionClosed({ reason, errno: Errno.ENOTCONN, message, sent })

/**
 * A syscall the kernel answered with an errno. `code` is the errno's name
 * ("ENOENT"), `errno` its NetBSD number, `description` its strerror(3) text.
 */
export class SyscallError extends Data.TaggedError("SyscallError")<{
  /** The syscall's name ("open", "__stat50", or "syscall 123" for an unknown number). */
  readonly syscall: string
  readonly errno: number
  readonly code: string
  readonly description: string
  readonly message: string
}> {}

export const syscallError = (syscall: string, errno: number): SyscallError => {
  const description = errnoMessage(errno)
  return new SyscallError({
    syscall,
    errno,
    code: errnoName(errno) ?? `E${errno}`,
    description,
    message: `${syscall}: ${description}`
  })
}

/** What a typed syscall can fail with: the kernel's errno, or the request not getting through. */
export type CallError = SyscallError | RequestError
