/**
 * A host descriptor that is closed only once no call is using it.
 *
 * Host calls run on libuv's thread pool and name a descriptor by its number
 * (a read on it, or a path `/proc/self/fd/N/name` through it). Were the
 * number closed while such a call waits for a pool thread, the next open
 * of the process could take the number, and the call would read another
 * file, or resolve a name in a directory outside the tree. So every call
 * holds the descriptor (`use`) while it runs, and `close` only marks it:
 * the number goes back to the host when the last use ends.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect } from "effect"
import { HostError } from "./HostError.ts"

/** What a descriptor is open for: a path handle (O_PATH) of any node, or a file or directory open for I/O. */
export type HostFdKind = "path" | "io"

const closedError = (syscall: string): HostError =>
  new HostError({ errno: Errno.EBADF, code: "EBADF", syscall, message: `${syscall}: descriptor closed` })

export class HostFd {
  readonly kind: HostFdKind
  readonly #fd: number
  readonly #closeFd: (fd: number) => Effect.Effect<void>
  #uses = 0
  #state: "open" | "closing" | "closed" = "open"
  readonly #done = Deferred.makeUnsafe<void>()

  constructor(fd: number, kind: HostFdKind, closeFd: (fd: number) => Effect.Effect<void>) {
    this.#fd = fd
    this.kind = kind
    this.#closeFd = closeFd
  }

  get isOpen(): boolean {
    return this.#state === "open"
  }

  /** Calls using the descriptor now. */
  get uses(): number {
    return this.#uses
  }

  /** Runs `f` with the descriptor number, which stays this file's until `f` ends; EBADF once closing. */
  use<A, E, R>(syscall: string, f: (fd: number) => Effect.Effect<A, E, R>): Effect.Effect<A, E | HostError, R> {
    return Effect.suspend((): Effect.Effect<A, E | HostError, R> => {
      if (this.#state !== "open") return Effect.fail(closedError(syscall))
      this.#uses++
      return Effect.ensuring(f(this.#fd), this.#unuse)
    })
  }

  /** A use ended: the number goes back to the host if it was the last of a closing descriptor. */
  readonly #unuse: Effect.Effect<void> = Effect.suspend(() => {
    this.#uses--
    return this.#state === "closing" && this.#uses === 0 ? this.#finish : Effect.void
  })

  /** Closes the descriptor, at once or when its last use ends; completes when it is closed. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#state !== "open") return Deferred.await(this.#done)
    this.#state = "closing"
    return this.#uses === 0 ? this.#finish : Deferred.await(this.#done)
  })

  // close(2) errors are not reported: on Linux the descriptor is gone whatever close says, and
  // what a write-back failure would say there, fsync has said already.
  readonly #finish: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#state === "closed") return Effect.void
    this.#state = "closed"
    return Effect.andThen(this.#closeFd(this.#fd), Deferred.succeed(this.#done, undefined))
  }).pipe(Effect.uninterruptible)
}
