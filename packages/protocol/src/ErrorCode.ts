/**
 * The sysproxy error codes (class ERROR) and the errno a client reports for
 * each. The errno numbers are NetBSD's.
 */
import type { ErrorCode } from "./Enums.ts"

export interface ErrorCodeInfo {
  readonly code: ErrorCode
  readonly name: string
  /** NetBSD errno the client turns this code into (0 for NONE). */
  readonly errno: number
  readonly errnoName: string | undefined
}

export const ErrorCodes = {
  NONE: 0,
  TRYAGAIN: 1,
  AUTH: 2,
  INVALID_PREFORK: 3,
  RFORK_FAILED: 4,
  INEXEC: 5,
  NOMEM: 6,
  MALFORMED_REQUEST: 7
} as const satisfies Record<string, ErrorCode>

export type ErrorCodeName = keyof typeof ErrorCodes

export const ErrorCodeTable: ReadonlyArray<ErrorCodeInfo> = [
  { code: 0, name: "NONE", errno: 0, errnoName: undefined },
  { code: 1, name: "TRYAGAIN", errno: 35, errnoName: "EAGAIN" },
  { code: 2, name: "AUTH", errno: 1, errnoName: "EPERM" },
  { code: 3, name: "INVALID_PREFORK", errno: 3, errnoName: "ESRCH" },
  { code: 4, name: "RFORK_FAILED", errno: 5, errnoName: "EIO" },
  { code: 5, name: "INEXEC", errno: 16, errnoName: "EBUSY" },
  { code: 6, name: "NOMEM", errno: 12, errnoName: "ENOMEM" },
  { code: 7, name: "MALFORMED_REQUEST", errno: 22, errnoName: "EINVAL" }
]

/** The table row of a code (every ErrorCode has one). */
export const errorCodeInfo = (code: ErrorCode): ErrorCodeInfo => ErrorCodeTable[code]!
