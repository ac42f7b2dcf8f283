/**
 * Server-to-client requests that expect an answer (copyin, copyinstr,
 * anonmmap), keyed by reqno: the seeds' respwait list with waitresp and
 * kickwaiter. When the connection dies every wait ends with NotConnected.
 */
import { Data, Deferred, Effect } from "effect"
import type { Frame } from "@sysproxy/protocol"

/** The connection is gone (the seeds' ENOTCONN from waitresp). */
export class NotConnected extends Data.TaggedError("NotConnected")<{}> {}

/** The client answered with something that is not a valid answer. */
export class BadAnswer extends Data.TaggedError("BadAnswer")<{ readonly message: string }> {}

export type WaitError = NotConnected | BadAnswer

export interface Waiters {
  /**
   * Registers a wait for `reqno`'s answer at once (before the request goes
   * out, so no answer can slip past); the returned effect waits for it and
   * always unregisters. A registration whose effect is never run must be
   * ended with `fail`.
   */
  readonly register: (reqno: bigint) => Effect.Effect<Frame, WaitError>
  /** Hands an answer to its waiter; false when nobody waits for this reqno (the frame is dropped). */
  readonly complete: (reqno: bigint, frame: Frame) => boolean
  /** Ends one wait with an error (an answer that could not be decoded). */
  readonly fail: (reqno: bigint, error: WaitError) => boolean
  /** Ends every wait with NotConnected; later registrations fail at once. */
  readonly closeAll: () => void
  readonly size: () => number
}

/** A class: one per connection, with its methods shared rather than closures per client. */
class WaiterTable implements Waiters {
  private readonly table = new Map<bigint, Deferred.Deferred<Frame, WaitError>>()
  private closed = false

  register(reqno: bigint): Effect.Effect<Frame, WaitError> {
    if (this.closed) return Effect.fail(new NotConnected())
    const deferred = Deferred.makeUnsafe<Frame, WaitError>()
    this.table.set(reqno, deferred)
    return Deferred.await(deferred).pipe(Effect.ensuring(Effect.sync(() => this.table.delete(reqno))))
  }

  complete(reqno: bigint, frame: Frame): boolean {
    return this.end(reqno, Effect.succeed(frame))
  }

  fail(reqno: bigint, error: WaitError): boolean {
    return this.end(reqno, Effect.fail(error))
  }

  private end(reqno: bigint, result: Effect.Effect<Frame, WaitError>): boolean {
    const deferred = this.table.get(reqno)
    if (deferred === undefined) return false
    this.table.delete(reqno)
    return Deferred.doneUnsafe(deferred, result)
  }

  closeAll(): void {
    this.closed = true
    const all = [...this.table.values()]
    this.table.clear()
    for (const d of all) Deferred.doneUnsafe(d, Effect.fail(new NotConnected()))
  }

  size(): number {
    return this.table.size
  }
}

export const makeWaiters = (): Waiters => new WaiterTable()
