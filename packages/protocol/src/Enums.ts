/**
 * The numeric enumerations of the frame header, as literal-union Schemas.
 */
import { Schema } from "effect"

/** rsp_class: 0 REQ, 1 RESP, 2 ERROR. */
export const FrameClass = Schema.Literals([0, 1, 2])
export type FrameClass = typeof FrameClass.Type
export const FrameClasses = { REQ: 0, RESP: 1, ERROR: 2 } as const

/** rsp_type: what the frame is about. */
export const FrameType = Schema.Literals([0, 1, 2, 3, 4, 5, 6, 7, 8])
export type FrameType = typeof FrameType.Type
export const FrameTypes = {
  HANDSHAKE: 0,
  SYSCALL: 1,
  COPYIN: 2,
  COPYINSTR: 3,
  COPYOUT: 4,
  COPYOUTSTR: 5,
  ANONMMAP: 6,
  PREFORK: 7,
  RAISE: 8
} as const

/** The handshake kind carried in the header union of a HANDSHAKE request. */
export const HandshakeKind = Schema.Literals([0, 1, 2, 3])
export type HandshakeKind = typeof HandshakeKind.Type
export const HandshakeKinds = { GUEST: 0, AUTH: 1, FORK: 2, EXEC: 3 } as const

/** The error code carried in the header union of an ERROR frame. */
export const ErrorCode = Schema.Literals([0, 1, 2, 3, 4, 5, 6, 7])
export type ErrorCode = typeof ErrorCode.Type
