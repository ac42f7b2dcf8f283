/**
 * Typed failures crossing the server/kernel seam. Each carries the NetBSD
 * errno a client would see.
 */
import { Data } from "effect"

/** A kernel upcall refused (ESRCH: no such process, EBUSY: exec'ing, ...). */
export class HypervisorError extends Data.TaggedError("HypervisorError")<{
  readonly op: string
  readonly errno: number
  readonly message: string
}> {}

/**
 * Client memory could not be reached: the address was bad, the client
 * answered wrongly, or the connection is gone (errno EFAULT), or an anonymous
 * mapping was refused (errno ENOMEM).
 */
export class MemoryFault extends Data.TaggedError("MemoryFault")<{
  readonly op: "copyin" | "copyinstr" | "copyout" | "copyoutstr" | "anonmmap"
  readonly errno: number
  readonly message: string
}> {}
