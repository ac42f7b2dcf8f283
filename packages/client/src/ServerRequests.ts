/**
 * What the client does with the server's requests (COPYIN, COPYINSTR,
 * COPYOUT, COPYOUTSTR, ANONMMAP, RAISE), as a pure step over the address
 * space: the frame to answer with, if any, and what to record. Kept apart
 * from the socket so the rules can be read (and tested) on their own.
 */
import type {
  AnonmmapRequest,
  CopyinRequest,
  CopyinstrRequest,
  CopyoutRequest,
  CopyoutstrRequest,
  Frame,
  RaiseRequest
} from "@sysproxy/protocol"
import { type AddressSpace, MAX_REGION_SIZE } from "./AddressSpace.ts"

export type ServerRequest =
  | CopyinRequest
  | CopyinstrRequest
  | CopyoutRequest
  | CopyoutstrRequest
  | AnonmmapRequest
  | RaiseRequest

export const isServerRequest = (frame: Frame): frame is ServerRequest => {
  switch (frame._tag) {
    case "CopyinRequest":
    case "CopyinstrRequest":
    case "CopyoutRequest":
    case "CopyoutstrRequest":
    case "AnonmmapRequest":
    case "RaiseRequest":
      return true
    default:
      return false
  }
}

export interface ServerRequestOutcome {
  /** The answer to send back (COPYIN and ANONMMAP only). */
  readonly reply: Frame | undefined
  /** The request touched unmapped memory. */
  readonly fault: "copyin" | "copyout" | undefined
  /** A signal the server raised in us. */
  readonly signal: number | undefined
}

const outcome = (o: Partial<ServerRequestOutcome>): ServerRequestOutcome => ({
  reply: o.reply,
  fault: o.fault,
  signal: o.signal
})

const EMPTY = new Uint8Array(0)

export const answerServerRequest = (space: AddressSpace, request: ServerRequest): ServerRequestOutcome => {
  switch (request._tag) {
    case "CopyinRequest":
    case "CopyinstrRequest": {
      // COPYIN answers from the memory itself: the frame's payload is written out as it is
      const data = request._tag === "CopyinRequest"
        ? space.view(request.addr, request.len)
        : space.readCString(request.addr, request.len)
      // The C client would crash on an unmapped address; an empty answer
      // is the closest thing the server can observe (a short copyin).
      return outcome({
        reply: { _tag: "CopyinResponse", reqno: request.reqno, data: data ?? EMPTY },
        fault: data === undefined ? "copyin" : undefined
      })
    }
    case "CopyoutRequest":
    case "CopyoutstrRequest":
      // the frame's decoded bytes are its own copy: a read into a fresh buffer keeps them as they are
      return outcome({ fault: space.writeOwned(request.addr, request.data) ? undefined : "copyout" })
    case "AnonmmapRequest": {
      // mmap(2) of 0 bytes fails too; 0 is how the client says "failed"
      const addr = request.size === 0n || request.size > BigInt(MAX_REGION_SIZE) ? 0n : space.alloc(request.size)
      return outcome({ reply: { _tag: "AnonmmapResponse", reqno: request.reqno, addr } })
    }
    case "RaiseRequest":
      return outcome({ signal: request.signo })
  }
}
