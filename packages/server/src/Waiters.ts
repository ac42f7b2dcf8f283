/**
 * Server-to-client requests that expect an answer (copyin, copyinstr,
 * anonmmap), keyed by reqno: the seeds' respwait list with waitresp and
 * kickwaiter. When the connection dies every wait ends with NotConnected.
 *
 * A wait is the fiber's own callback, kept in the table until its answer
 * comes: no Deferred, no finalizer chain, since a copyin wait is on the
 * hot path of every write and sysctl.
 */
import { Data, Effect } from "effect"
import type { Frame } from "@sysproxy/protocol"

/** The connection is gone (the seeds' ENOTCONN from waitresp). */
export class NotConnected extends Data.TaggedError("NotConnected")<{}> {}

/** The client answered with something that is not a valid answer. */
export class BadAnswer extends Data.TaggedError("BadAnswer")<{ readonly message: string }> {}

export type WaitError = NotConnected | BadAnswer

export interface Waiters {
  /**
   * Registers a wait for `reqno`'s answer, then calls `send` to put the
   * request on the wire (so no answer can slip past), and waits. A failed
   * send (false) or a closed table is NotConnected. However the wait ends
   * (answered, failed, interrupted), `reqno` is no longer registered.
   */
  readonly request: (reqno: bigint, send: () => boolean) => Effect.Effect<Frame, WaitError>
  /** Hands an answer to its waiter; false when nobody waits for this reqno (the frame is dropped). */
  readonly complete: (reqno: bigint, frame: Frame) => boolean
  /** Ends one wait with an error (an answer that could not be decoded). */
  readonly fail: (reqno: bigint, error: WaitError) => boolean
  /** Ends every wait with NotConnected; later requests fail at once. */
  readonly closeAll: () => void
  readonly size: () => number
}

type Resume = (answer: Effect.Effect<Frame, WaitError>) => void

const notConnected = Effect.fail(new NotConnected())

/**
 * A class: one per connection, with its methods shared rather than closures per client.
 *
 * The first wait has a slot of its own; only waits beyond it go to a Map.
 * A 1x1 client has one wait at a time, and a Map emptied after every copy
 * reallocates its table each time, every dropped table pointing to its
 * successor, so they all end up promoted (see the kernel's LinkedSet).
 */
class WaiterTable implements Waiters {
  private slotReqno = -1n
  private slotResume: Resume | undefined = undefined
  private more: Map<bigint, Resume> | undefined = undefined
  private closed = false

  request(reqno: bigint, send: () => boolean): Effect.Effect<Frame, WaitError> {
    return Effect.callback<Frame, WaitError>((resume) => {
      if (this.closed) return resume(notConnected)
      this.put(reqno, resume)
      if (!send()) {
        this.take(reqno)
        return resume(notConnected)
      }
      // interrupted while waiting (a disconnect past its grace): forget the wait
      return Effect.sync(() => {
        this.take(reqno)
      })
    })
  }

  complete(reqno: bigint, frame: Frame): boolean {
    return this.end(reqno, Effect.succeed(frame))
  }

  fail(reqno: bigint, error: WaitError): boolean {
    return this.end(reqno, Effect.fail(error))
  }

  private put(reqno: bigint, resume: Resume): void {
    if (this.slotResume === undefined) {
      this.slotReqno = reqno
      this.slotResume = resume
    } else {
      ;(this.more ??= new Map()).set(reqno, resume)
    }
  }

  /** The wait for `reqno`, no longer registered. */
  private take(reqno: bigint): Resume | undefined {
    const slot = this.slotResume
    if (slot !== undefined && this.slotReqno === reqno) {
      this.slotResume = undefined
      this.slotReqno = -1n
      return slot
    }
    const more = this.more
    const resume = more?.get(reqno)
    if (resume !== undefined) more!.delete(reqno)
    return resume
  }

  private end(reqno: bigint, result: Effect.Effect<Frame, WaitError>): boolean {
    const resume = this.take(reqno)
    if (resume === undefined) return false
    resume(result)
    return true
  }

  closeAll(): void {
    this.closed = true
    const all = this.more === undefined ? [] : [...this.more.values()]
    if (this.slotResume !== undefined) all.unshift(this.slotResume)
    this.slotResume = undefined
    this.more?.clear()
    for (const resume of all) resume(notConnected)
  }

  size(): number {
    return (this.slotResume === undefined ? 0 : 1) + (this.more?.size ?? 0)
  }
}

export const makeWaiters = (): Waiters => new WaiterTable()
