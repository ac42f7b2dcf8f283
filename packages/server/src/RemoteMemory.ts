/**
 * A client's memory as the kernel sees it: the UserMemory service over one
 * connection (the seeds' rumpuser_sp_copyin/copyinstr/copyout/copyoutstr/
 * anonmmap/raise, with copyin_req, send_copyout_req, anonmmap_req and
 * send_raise_req behind them).
 *
 * Copies are cut into MAX_COPY_CHUNK pieces so every frame stays under the
 * frame limit whatever the syscall's size. Any failure to get an answer (a
 * dead connection, a wrong answer) is EFAULT to the kernel, as in the seeds.
 */
import { Effect } from "effect"
import { MemoryFault, type UserMemoryService } from "@sysproxy/hypervisor"
import { type Frame, MAX_COPY_CHUNK } from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { NotConnected, type Waiters } from "./Waiters.ts"

/** What RemoteMemory needs of its connection. */
export interface RemoteLink {
  readonly nextReqno: () => bigint
  readonly waiters: Waiters
  /** Queues a frame; false when the connection is gone or was just dropped. */
  readonly send: (frame: Frame) => boolean
  /** Queues a frame and waits until the client has read enough of its backlog. */
  readonly sendPaced: (frame: Frame) => Effect.Effect<boolean>
  readonly onCopy: (direction: "in" | "out", bytes: number) => void
  /** Closes the connection at once; `reason` is logged when it is cleaned up. */
  readonly drop: (reason: string) => void
  /** Requests awaiting this client's answer at most; beyond, the copy fails with EFAULT. */
  readonly maxOutstanding?: number | undefined
}

type Op = MemoryFault["op"]

const fault = (op: Op, message: string) => new MemoryFault({ op, errno: Errno.EFAULT, message })

/**
 * Sends a request and waits for its answer, which must be of the expected
 * kind; `accept` checks the answer's contents.
 */
const ask = <T extends Frame["_tag"], A>(
  link: RemoteLink,
  op: Op,
  request: (reqno: bigint) => Frame,
  expect: T,
  accept: (answer: Extract<Frame, { readonly _tag: T }>) => Effect.Effect<A, MemoryFault>
): Effect.Effect<A, MemoryFault> =>
  Effect.suspend(() => {
    const max = link.maxOutstanding ?? Infinity
    if (link.waiters.size() >= max) {
      const message = `${link.waiters.size()} requests already await this client's answer, the limit is ${max}`
      return Effect.logWarning(`${op} refused: ${message}`).pipe(Effect.andThen(Effect.fail(fault(op, message))))
    }
    const reqno = link.nextReqno()
    const wait = link.waiters.register(reqno)
    if (!link.send(request(reqno))) {
      link.waiters.fail(reqno, new NotConnected())
      return Effect.fail(fault(op, "connection closed"))
    }
    return Effect.matchEffect(wait, {
      onFailure: (e) => Effect.fail(fault(op, e._tag === "NotConnected" ? "connection closed" : e.message)),
      onSuccess: (answer) =>
        answer._tag === expect
          ? accept(answer as Extract<Frame, { readonly _tag: T }>)
          : Effect.fail(fault(op, `expected ${expect}, the client sent ${answer._tag}`))
    })
  })

const copyinChunk = (link: RemoteLink, addr: bigint, len: number) =>
  ask(
    link,
    "copyin",
    (reqno) => ({ _tag: "CopyinRequest", reqno, len: BigInt(len), addr }),
    "CopyinResponse",
    (answer) =>
      answer.data.byteLength === len
        ? Effect.succeed(answer.data)
        : Effect.fail(fault("copyin", `asked for ${len} bytes, the client sent ${answer.data.byteLength}`))
  )

/** A class: one per connection, and its methods are shared, not closures per client. */
class RemoteMemory implements UserMemoryService {
  private readonly link: RemoteLink

  constructor(link: RemoteLink) {
    this.link = link
  }

  copyin(addr: bigint, len: number): Effect.Effect<Uint8Array, MemoryFault> {
    const link = this.link
    if (len === 0) return Effect.sync(() => new Uint8Array(0))
    if (len <= MAX_COPY_CHUNK) {
      return Effect.map(copyinChunk(link, addr, len), (data) => {
        link.onCopy("in", len)
        return data
      })
    }
    return Effect.gen(function*() {
      const out = new Uint8Array(len)
      for (let off = 0; off < len; off += MAX_COPY_CHUNK) {
        const n = Math.min(MAX_COPY_CHUNK, len - off)
        out.set(yield* copyinChunk(link, addr + BigInt(off), n), off)
      }
      link.onCopy("in", len)
      return out
    })
  }

  copyinstr(addr: bigint, maxLen: number): Effect.Effect<Uint8Array, MemoryFault> {
    const link = this.link
    const len = Math.min(maxLen, MAX_COPY_CHUNK)
    return ask(
      link,
      "copyinstr",
      (reqno) => ({ _tag: "CopyinstrRequest", reqno, len: BigInt(len), addr }),
      "CopyinResponse",
      (answer) => {
        const data = answer.data
        if (data.byteLength > len) {
          return Effect.fail(fault("copyinstr", `asked for at most ${len} bytes, the client sent ${data.byteLength}`))
        }
        // the string ends at its first NUL, whatever the client sent after it
        const nul = data.indexOf(0)
        const str = nul === -1 ? data : data.subarray(0, nul + 1)
        link.onCopy("in", str.byteLength)
        return Effect.succeed(str)
      }
    )
  }

  copyout(addr: bigint, data: Uint8Array): Effect.Effect<void, MemoryFault> {
    return this.copyoutAs("copyout", addr, data)
  }

  copyoutstr(addr: bigint, data: Uint8Array): Effect.Effect<void, MemoryFault> {
    return this.copyoutAs("copyoutstr", addr, data)
  }

  private copyoutAs(op: "copyout" | "copyoutstr", addr: bigint, data: Uint8Array): Effect.Effect<void, MemoryFault> {
    const link = this.link
    return Effect.gen(function*() {
      for (let off = 0; off === 0 || off < data.byteLength; off += MAX_COPY_CHUNK) {
        const piece = data.subarray(off, Math.min(data.byteLength, off + MAX_COPY_CHUNK))
        // copyoutstr goes out as COPYOUT, as the C server sends it
        const sent = yield* link.sendPaced({
          _tag: "CopyoutRequest",
          reqno: link.nextReqno(),
          addr: addr + BigInt(off),
          data: piece
        })
        if (!sent) return yield* fault(op, "connection closed")
        if (data.byteLength === 0) break
      }
      link.onCopy("out", data.byteLength)
    })
  }

  anonmmap(size: bigint): Effect.Effect<bigint, MemoryFault> {
    return ask(this.link, "anonmmap", (reqno) => ({ _tag: "AnonmmapRequest", reqno, size }), "AnonmmapResponse", (answer) =>
      answer.addr === 0n
        ? Effect.fail(new MemoryFault({ op: "anonmmap", errno: Errno.ENOMEM, message: "the client could not map memory" }))
        : Effect.succeed(answer.addr))
  }

  raise(signo: number): Effect.Effect<void> {
    return Effect.sync(() => {
      this.link.send({ _tag: "RaiseRequest", reqno: this.link.nextReqno(), signo })
    })
  }

  /** For fault injection's drop: the client is cut off as if it had vanished. */
  disconnect(reason: string): Effect.Effect<void> {
    return Effect.sync(() => this.link.drop(reason))
  }
}

export const makeRemoteMemory = (link: RemoteLink): UserMemoryService => new RemoteMemory(link)
