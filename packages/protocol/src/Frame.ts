/**
 * Every RUMPSP 0.4 message as a Schema: one tagged struct per message kind
 * (17 in all) and the tagged union `Frame` over them.
 *
 * Field types follow the C structs: u64 lengths, addresses and reqnos are
 * bigint (client addresses exceed 2^53); int32 errors and u32 header unions
 * are numbers; byte payloads are Uint8Array.
 */
import { Schema } from "effect"
import { COOKIE_SIZE } from "./Constants.ts"
import { ErrorCode } from "./Enums.ts"

// Each C type's range as one comparison: every frame checks several of these
// both ways, and the generic isBetween (an Order, dual-call wrappers) cost a
// quarter of a small frame's encoding (BENCHMARKS.md, frame codec).
const U32 = Schema.Number.check(Schema.makeFilter((n: number) => (n >>> 0) === n || "an unsigned 32-bit integer"))
const I32 = Schema.Number.check(Schema.makeFilter((n: number) => (n | 0) === n || "a signed 32-bit integer"))
const U64 = Schema.BigInt.check(Schema.makeFilter((n: bigint) => BigInt.asUintN(64, n) === n || "an unsigned 64-bit integer"))
const I64 = Schema.BigInt.check(Schema.makeFilter((n: bigint) => BigInt.asIntN(64, n) === n || "a signed 64-bit integer"))

/** Request number: each side numbers its own requests. */
export const ReqNo = U64

/** The 128-bit prefork cookie, as the 16 bytes on the wire. */
export const Cookie = Schema.Uint8Array.check(
  Schema.makeFilter((u: Uint8Array) => u.byteLength === COOKIE_SIZE || `expected a ${COOKIE_SIZE}-byte cookie`)
)

/** A program name: sent NUL-terminated, so it cannot contain a NUL itself. */
export const Comm = Schema.String.check(
  Schema.makeFilter((s: string) =>
    // a lone surrogate would not survive the UTF-8 round trip
    (!s.includes("\0") && s.isWellFormed()) || "a program name is well-formed text without NUL"
  )
)

// client -> server requests
export const HandshakeGuest = Schema.TaggedStruct("HandshakeGuest", { reqno: ReqNo, comm: Comm })
export const HandshakeFork = Schema.TaggedStruct("HandshakeFork", { reqno: ReqNo, cookie: Cookie, cancel: I32 })
export const HandshakeExec = Schema.TaggedStruct("HandshakeExec", { reqno: ReqNo, comm: Comm })
export const PreforkRequest = Schema.TaggedStruct("PreforkRequest", { reqno: ReqNo })
export const SyscallRequest = Schema.TaggedStruct("SyscallRequest", {
  reqno: ReqNo,
  sysnum: U32,
  /** The argument block: one 8-byte little-endian slot per argument. */
  args: Schema.Uint8Array
})

// server -> client responses
export const HandshakeResponse = Schema.TaggedStruct("HandshakeResponse", { reqno: ReqNo, error: I32 })
export const PreforkResponse = Schema.TaggedStruct("PreforkResponse", { reqno: ReqNo, cookie: Cookie })
export const SyscallResponse = Schema.TaggedStruct("SyscallResponse", {
  reqno: ReqNo,
  error: I32,
  retval0: I64,
  retval1: I64
})

// server -> client requests
export const CopyinRequest = Schema.TaggedStruct("CopyinRequest", { reqno: ReqNo, len: U64, addr: U64 })
export const CopyinstrRequest = Schema.TaggedStruct("CopyinstrRequest", { reqno: ReqNo, len: U64, addr: U64 })
export const CopyoutRequest = Schema.TaggedStruct("CopyoutRequest", {
  reqno: ReqNo,
  addr: U64,
  data: Schema.Uint8Array
})
export const CopyoutstrRequest = Schema.TaggedStruct("CopyoutstrRequest", {
  reqno: ReqNo,
  addr: U64,
  data: Schema.Uint8Array
})
export const AnonmmapRequest = Schema.TaggedStruct("AnonmmapRequest", { reqno: ReqNo, size: U64 })
export const RaiseRequest = Schema.TaggedStruct("RaiseRequest", { reqno: ReqNo, signo: U32 })

// client -> server responses
/** The answer to COPYIN and to COPYINSTR (both use type COPYIN). */
export const CopyinResponse = Schema.TaggedStruct("CopyinResponse", { reqno: ReqNo, data: Schema.Uint8Array })
/** The client address of the new mapping, 0 on failure. */
export const AnonmmapResponse = Schema.TaggedStruct("AnonmmapResponse", { reqno: ReqNo, addr: U64 })

// either direction
export const ErrorFrame = Schema.TaggedStruct("ErrorFrame", { reqno: ReqNo, code: ErrorCode })

const members = [
  HandshakeGuest,
  HandshakeFork,
  HandshakeExec,
  HandshakeResponse,
  PreforkRequest,
  PreforkResponse,
  SyscallRequest,
  SyscallResponse,
  CopyinRequest,
  CopyinstrRequest,
  CopyoutRequest,
  CopyoutstrRequest,
  AnonmmapRequest,
  CopyinResponse,
  AnonmmapResponse,
  RaiseRequest,
  ErrorFrame
] as const

export const Frame = Schema.Union(members).pipe(Schema.toTaggedUnion("_tag"))

export type Frame = typeof Frame.Type
export type FrameTag = Frame["_tag"]
export type FrameOf<T extends FrameTag> = Extract<Frame, { readonly _tag: T }>

/** Every message kind's Schema by tag. */
export const FrameMembers = Object.fromEntries(
  members.map((m) => [m.fields._tag.schema.literal, m])
) as unknown as { readonly [T in FrameTag]: Schema.Codec<FrameOf<T>> }

export type HandshakeGuest = typeof HandshakeGuest.Type
export type HandshakeFork = typeof HandshakeFork.Type
export type HandshakeExec = typeof HandshakeExec.Type
export type HandshakeResponse = typeof HandshakeResponse.Type
export type PreforkRequest = typeof PreforkRequest.Type
export type PreforkResponse = typeof PreforkResponse.Type
export type SyscallRequest = typeof SyscallRequest.Type
export type SyscallResponse = typeof SyscallResponse.Type
export type CopyinRequest = typeof CopyinRequest.Type
export type CopyinstrRequest = typeof CopyinstrRequest.Type
export type CopyoutRequest = typeof CopyoutRequest.Type
export type CopyoutstrRequest = typeof CopyoutstrRequest.Type
export type AnonmmapRequest = typeof AnonmmapRequest.Type
export type CopyinResponse = typeof CopyinResponse.Type
export type AnonmmapResponse = typeof AnonmmapResponse.Type
export type RaiseRequest = typeof RaiseRequest.Type
export type ErrorFrame = typeof ErrorFrame.Type
