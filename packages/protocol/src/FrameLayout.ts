/**
 * Where each message kind lives on the wire: its class, type and header
 * union, the size its body must have, and how the body maps to the frame's
 * fields. One table serves decoding and encoding, so the two cannot drift.
 *
 * The functions here are the bodies of the Schema transformations in
 * FrameCodec.ts; nothing else should call them directly.
 */
import { allocBytes, copyBytes, viewOf } from "./Bytes.ts"
import {
  COOKIE_SIZE,
  COPYDATA_SIZE,
  FORK_BODY_SIZE,
  HANDSHAKE_RESPONSE_BODY_SIZE,
  HEADER_SIZE,
  SYSCALL_RESPONSE_BODY_SIZE
} from "./Constants.ts"
import { type ErrorCode, FrameClasses, FrameTypes, HandshakeKinds } from "./Enums.ts"
import type { Frame, FrameOf, FrameTag } from "./Frame.ts"
import type { Header, KindFields } from "./Header.ts"

/** A decoding problem, located at one field of the frame. */
export interface FieldIssue {
  readonly field: string
  readonly message: string
}

const issue = (field: string, message: string): FieldIssue => ({ field, message })

type BodySize = { readonly exact: number } | { readonly min: number }

interface Layout<T extends FrameTag> {
  readonly class: number
  readonly type: number
  readonly arg: (f: FrameOf<T>) => number
  readonly body: BodySize
  /** `view` covers the buffer behind `body`; the body starts at offset `o` of it. */
  readonly decode: (h: Header, body: Uint8Array, view: DataView, o: number) => FrameOf<T> | FieldIssue
  readonly bodyLength: (f: FrameOf<T>) => number
  /**
   * Writes the body at HEADER_SIZE of the frame's bytes, but for the
   * payload; in `view` the frame starts at offset `o`.
   */
  readonly write: (f: FrameOf<T>, view: DataView, bytes: Uint8Array, o: number) => void
  /** Bytes the body ends with, as given (a copy's data, an argument block): sent as they are. */
  readonly payload?: (f: FrameOf<T>) => Uint8Array
}

const utf8Decoder = new TextDecoder("utf-8")
const utf8Encoder = new TextEncoder()

/** A NUL-terminated name: the bytes before the first NUL (or all of them). */
const readComm = (body: Uint8Array): string => {
  const nul = body.indexOf(0)
  return utf8Decoder.decode(nul === -1 ? body : body.subarray(0, nul))
}

// Program names are encoded twice per frame (length, then write); the cache
// keeps that to one encoding for the common case of repeated names.
let lastComm = ""
let lastCommBytes = new Uint8Array(0)
const commBytes = (comm: string): Uint8Array => {
  if (comm !== lastComm) {
    lastComm = comm
    lastCommBytes = utf8Encoder.encode(comm)
  }
  return lastCommBytes
}

/**
 * Whether the frame being decoded is in a buffer of its own that nothing
 * else holds (a frame the stream decoder gathered from several chunks):
 * its fields may then be views of it instead of copies, which for a 1 MiB
 * COPYOUT or COPYIN answer is one 1 MiB allocation and copy less. Set only
 * around one synchronous decode (decodeOwnedFrame).
 */
let decodingOwned = false

/** Runs `decode` with the frame's bytes taken as its own (see decodingOwned). */
export const withOwnedBytes = <A>(decode: () => A): A => {
  decodingOwned = true
  try {
    return decode()
  } finally {
    decodingOwned = false
  }
}

const copy = (src: Uint8Array): Uint8Array => (decodingOwned ? src : copyBytes(src))

const noArg = () => 0
const noBody = () => {}
const zero = () => 0

type CommTag = "HandshakeGuest" | "HandshakeExec"
const commLayout = (tag: CommTag, kind: number): Layout<CommTag> => ({
  class: FrameClasses.REQ,
  type: FrameTypes.HANDSHAKE,
  arg: () => kind,
  body: { min: 0 },
  decode: (h, body) => ({ _tag: tag, reqno: h.reqno, comm: readComm(body) }),
  bodyLength: (f) => commBytes(f.comm).byteLength + 1,
  write: (f, _view, bytes) => {
    bytes.set(commBytes(f.comm), HEADER_SIZE)
    // the NUL is already there: frames are allocated zeroed
  }
})

type CopyRequestTag = "CopyinRequest" | "CopyinstrRequest"
const copyRequestLayout = (tag: CopyRequestTag, type: number): Layout<CopyRequestTag> => ({
  class: FrameClasses.REQ,
  type,
  arg: noArg,
  body: { exact: COPYDATA_SIZE },
  decode: (h, _b, v, o) => ({ _tag: tag, reqno: h.reqno, len: v.getBigUint64(o, true), addr: v.getBigUint64(o + 8, true) }),
  bodyLength: () => COPYDATA_SIZE,
  write: (f, v, _bytes, o) => {
    v.setBigUint64(o + HEADER_SIZE, f.len, true)
    v.setBigUint64(o + HEADER_SIZE + 8, f.addr, true)
  }
})

type CopyoutTag = "CopyoutRequest" | "CopyoutstrRequest"
const copyoutLayout = (tag: CopyoutTag, type: number): Layout<CopyoutTag> => ({
  class: FrameClasses.REQ,
  type,
  arg: noArg,
  body: { min: COPYDATA_SIZE },
  decode: (h, body, v, o) => {
    const len = v.getBigUint64(o, true)
    if (len !== BigInt(body.byteLength - COPYDATA_SIZE)) {
      return issue("rcp_len", `copydata len ${len} does not match the ${body.byteLength - COPYDATA_SIZE} data bytes`)
    }
    return { _tag: tag, reqno: h.reqno, addr: v.getBigUint64(o + 8, true), data: copy(body.subarray(COPYDATA_SIZE)) }
  },
  bodyLength: (f) => COPYDATA_SIZE + f.data.byteLength,
  write: (f, v, _bytes, o) => {
    v.setBigUint64(o + HEADER_SIZE, BigInt(f.data.byteLength), true)
    v.setBigUint64(o + HEADER_SIZE + 8, f.addr, true)
  },
  payload: (f) => f.data
})

export const Layouts: { readonly [T in FrameTag]: Layout<T> } = {
  HandshakeGuest: commLayout("HandshakeGuest", HandshakeKinds.GUEST) as Layout<"HandshakeGuest">,
  HandshakeExec: commLayout("HandshakeExec", HandshakeKinds.EXEC) as Layout<"HandshakeExec">,
  HandshakeFork: {
    class: FrameClasses.REQ,
    type: FrameTypes.HANDSHAKE,
    arg: () => HandshakeKinds.FORK,
    body: { exact: FORK_BODY_SIZE },
    decode: (h, body, v, o) => ({
      _tag: "HandshakeFork",
      reqno: h.reqno,
      cookie: copy(body.subarray(0, COOKIE_SIZE)),
      cancel: v.getInt32(o + COOKIE_SIZE, true)
    }),
    bodyLength: () => FORK_BODY_SIZE,
    write: (f, v, bytes, o) => {
      bytes.set(f.cookie, HEADER_SIZE)
      v.setInt32(o + HEADER_SIZE + COOKIE_SIZE, f.cancel, true)
    }
  },
  HandshakeResponse: {
    class: FrameClasses.RESP,
    type: FrameTypes.HANDSHAKE,
    arg: noArg,
    body: { exact: HANDSHAKE_RESPONSE_BODY_SIZE },
    decode: (h, _b, v, o) => ({ _tag: "HandshakeResponse", reqno: h.reqno, error: v.getInt32(o, true) }),
    bodyLength: () => HANDSHAKE_RESPONSE_BODY_SIZE,
    write: (f, v, _bytes, o) => v.setInt32(o + HEADER_SIZE, f.error, true)
  },
  PreforkRequest: {
    class: FrameClasses.REQ,
    type: FrameTypes.PREFORK,
    arg: noArg,
    body: { exact: 0 },
    decode: (h) => ({ _tag: "PreforkRequest", reqno: h.reqno }),
    bodyLength: zero,
    write: noBody
  },
  PreforkResponse: {
    class: FrameClasses.RESP,
    type: FrameTypes.PREFORK,
    arg: noArg,
    body: { exact: COOKIE_SIZE },
    decode: (h, body) => ({ _tag: "PreforkResponse", reqno: h.reqno, cookie: copy(body) }),
    bodyLength: () => COOKIE_SIZE,
    write: (f, _v, bytes) => bytes.set(f.cookie, HEADER_SIZE)
  },
  SyscallRequest: {
    class: FrameClasses.REQ,
    type: FrameTypes.SYSCALL,
    arg: (f) => f.sysnum,
    body: { min: 0 },
    decode: (h, body) => ({ _tag: "SyscallRequest", reqno: h.reqno, sysnum: h.arg, args: copy(body) }),
    bodyLength: (f) => f.args.byteLength,
    write: noBody,
    payload: (f) => f.args
  },
  SyscallResponse: {
    class: FrameClasses.RESP,
    type: FrameTypes.SYSCALL,
    arg: noArg,
    body: { exact: SYSCALL_RESPONSE_BODY_SIZE },
    decode: (h, _b, v, o) => ({
      _tag: "SyscallResponse",
      reqno: h.reqno,
      error: v.getInt32(o, true),
      retval0: v.getBigInt64(o + 8, true),
      retval1: v.getBigInt64(o + 16, true)
    }),
    bodyLength: () => SYSCALL_RESPONSE_BODY_SIZE,
    write: (f, v, _bytes, o) => {
      // bytes 4..7 are the struct's padding; the frame buffer is zeroed
      v.setInt32(o + HEADER_SIZE, f.error, true)
      v.setBigInt64(o + HEADER_SIZE + 8, f.retval0, true)
      v.setBigInt64(o + HEADER_SIZE + 16, f.retval1, true)
    }
  },
  CopyinRequest: copyRequestLayout("CopyinRequest", FrameTypes.COPYIN) as Layout<"CopyinRequest">,
  CopyinstrRequest: copyRequestLayout("CopyinstrRequest", FrameTypes.COPYINSTR) as Layout<"CopyinstrRequest">,
  CopyoutRequest: copyoutLayout("CopyoutRequest", FrameTypes.COPYOUT) as Layout<"CopyoutRequest">,
  CopyoutstrRequest: copyoutLayout("CopyoutstrRequest", FrameTypes.COPYOUTSTR) as Layout<"CopyoutstrRequest">,
  AnonmmapRequest: {
    class: FrameClasses.REQ,
    type: FrameTypes.ANONMMAP,
    arg: noArg,
    body: { exact: 8 },
    decode: (h, _b, v, o) => ({ _tag: "AnonmmapRequest", reqno: h.reqno, size: v.getBigUint64(o, true) }),
    bodyLength: () => 8,
    write: (f, v, _bytes, o) => v.setBigUint64(o + HEADER_SIZE, f.size, true)
  },
  CopyinResponse: {
    class: FrameClasses.RESP,
    type: FrameTypes.COPYIN,
    arg: noArg,
    body: { min: 0 },
    decode: (h, body) => ({ _tag: "CopyinResponse", reqno: h.reqno, data: copy(body) }),
    bodyLength: (f) => f.data.byteLength,
    write: noBody,
    payload: (f) => f.data
  },
  AnonmmapResponse: {
    class: FrameClasses.RESP,
    type: FrameTypes.ANONMMAP,
    arg: noArg,
    body: { exact: 8 },
    decode: (h, _b, v, o) => ({ _tag: "AnonmmapResponse", reqno: h.reqno, addr: v.getBigUint64(o, true) }),
    bodyLength: () => 8,
    write: (f, v, _bytes, o) => v.setBigUint64(o + HEADER_SIZE, f.addr, true)
  },
  RaiseRequest: {
    class: FrameClasses.REQ,
    type: FrameTypes.RAISE,
    arg: (f) => f.signo,
    body: { exact: 0 },
    decode: (h) => ({ _tag: "RaiseRequest", reqno: h.reqno, signo: h.arg }),
    bodyLength: zero,
    write: noBody
  },
  ErrorFrame: {
    class: FrameClasses.ERROR,
    type: 0,
    arg: (f) => f.code,
    body: { exact: 0 },
    decode: (h) =>
      h.arg <= 7
        ? { _tag: "ErrorFrame", reqno: h.reqno, code: h.arg as ErrorCode }
        : issue("arg", `unknown error code ${h.arg}`),
    bodyLength: zero,
    write: noBody
  }
}

const requestByType: ReadonlyArray<FrameTag | undefined> = [
  undefined, // HANDSHAKE: by kind, below
  "SyscallRequest",
  "CopyinRequest",
  "CopyinstrRequest",
  "CopyoutRequest",
  "CopyoutstrRequest",
  "AnonmmapRequest",
  "PreforkRequest",
  "RaiseRequest"
]

const responseByType: ReadonlyArray<FrameTag | undefined> = [
  "HandshakeResponse",
  "SyscallResponse",
  "CopyinResponse", // the answer to COPYIN and to COPYINSTR alike
  undefined,
  undefined,
  undefined,
  "AnonmmapResponse",
  "PreforkResponse",
  undefined
]

const handshakeByKind: ReadonlyArray<FrameTag | undefined> = ["HandshakeGuest", undefined, "HandshakeFork", "HandshakeExec"]

/** Which message kind a header announces. */
export const kindOf = (h: KindFields): FrameTag | FieldIssue => {
  switch (h.class) {
    case FrameClasses.REQ: {
      if (h.type === FrameTypes.HANDSHAKE) {
        return handshakeByKind[h.arg] ?? issue("arg", `unsupported handshake kind ${h.arg}`)
      }
      return requestByType[h.type] ?? issue("type", `unknown request type ${h.type}`)
    }
    case FrameClasses.RESP:
      return responseByType[h.type] ?? issue("type", `no response is defined for type ${h.type}`)
    case FrameClasses.ERROR:
      return "ErrorFrame"
    default:
      return issue("class", `unknown frame class ${h.class}`)
  }
}

const isIssue = (u: Frame | FrameTag | FieldIssue): u is FieldIssue => typeof u === "object" && "field" in u

/** Turns a header and its body into a frame, or says which field is wrong. */
export const decodeParts = (h: Header, body: Uint8Array): Frame | FieldIssue => {
  if (h.len !== BigInt(HEADER_SIZE + body.byteLength)) {
    return issue("len", `len ${h.len} does not match the ${HEADER_SIZE + body.byteLength} bytes of the frame`)
  }
  const tag = kindOf(h)
  if (isIssue(tag)) return tag
  const layout: Layout<FrameTag> = Layouts[tag] as Layout<FrameTag>
  const size = layout.body
  if ("exact" in size ? body.byteLength !== size.exact : body.byteLength < size.min) {
    const want = "exact" in size ? `${size.exact}` : `at least ${size.min}`
    return issue("body", `${tag} needs a body of ${want} bytes, got ${body.byteLength}`)
  }
  return layout.decode(h, body, viewOf(body), body.byteOffset)
}

export { isIssue as isFieldIssue }

/** The header a frame is sent with. */
export const headerOf = (f: Frame): Header => {
  const layout = Layouts[f._tag] as Layout<FrameTag>
  return {
    len: BigInt(HEADER_SIZE + layout.bodyLength(f)),
    reqno: f.reqno,
    class: layout.class,
    type: layout.type,
    arg: layout.arg(f)
  }
}

/** Writes everything but the payload into `bytes` (at least the head's length). */
const writeHead = (f: Frame, layout: Layout<FrameTag>, length: number, bytes: Uint8Array<ArrayBuffer>) => {
  const view = viewOf(bytes)
  const o = bytes.byteOffset
  view.setBigUint64(o, BigInt(length), true)
  view.setBigUint64(o + 8, f.reqno, true)
  view.setUint16(o + 16, layout.class, true)
  view.setUint16(o + 18, layout.type, true)
  view.setUint32(o + 20, layout.arg(f), true)
  layout.write(f, view, bytes, o)
}

/** The exact bytes of a frame: header then body, padding zeroed. */
export const encodeWhole = (f: Frame): Uint8Array<ArrayBuffer> => {
  const layout = Layouts[f._tag] as Layout<FrameTag>
  const length = HEADER_SIZE + layout.bodyLength(f)
  const bytes = allocBytes(length)
  writeHead(f, layout, length, bytes)
  const payload = layout.payload?.(f)
  if (payload !== undefined) bytes.set(payload, length - payload.byteLength)
  return bytes
}

/** Payloads at least this long are sent as they are rather than copied into the frame. */
export const CHUNKED_PAYLOAD_MIN = 1024

/**
 * The same bytes as encodeWhole, as the pieces to write one after the
 * other: the head, then a large payload itself (no copy of a 1 MiB copyout).
 */
export const encodeChunks = (f: Frame): ReadonlyArray<Uint8Array> => {
  const layout = Layouts[f._tag] as Layout<FrameTag>
  const payload = layout.payload?.(f)
  if (payload === undefined || payload.byteLength < CHUNKED_PAYLOAD_MIN) return [encodeWhole(f)]
  const length = HEADER_SIZE + layout.bodyLength(f)
  const head = allocBytes(length - payload.byteLength)
  writeHead(f, layout, length, head)
  return [head, payload]
}

/** Whether encodeChunks would send the frame as more than one piece (a payload of CHUNKED_PAYLOAD_MIN or more). */
export const isChunked = (f: Frame): boolean => {
  const payload = (Layouts[f._tag] as Layout<FrameTag>).payload?.(f)
  return payload !== undefined && payload.byteLength >= CHUNKED_PAYLOAD_MIN
}

/** Undoes encodeChunks: the frame's bytes in one buffer. */
export const joinChunks = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const out = allocBytes(chunks.reduce((n, c) => n + c.byteLength, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}
