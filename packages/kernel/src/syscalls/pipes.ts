/**
 * The pipes family: pipe and pipe2 (NetBSD's pipe1). The pipe itself is
 * ipc/Pipe.ts; these calls make one and give its two ends the lowest free
 * descriptors, the read end first.
 */
import { Effect } from "effect"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import type { File } from "../fd/File.ts"
import { releaseFile } from "../fd/FileTable.ts"
import { openPipe } from "../ipc/Pipe.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** The flags pipe2 takes; any other bit is EINVAL. */
const PIPE2_FLAGS = openFlags.O_CLOEXEC | openFlags.O_NONBLOCK | openFlags.O_NOSIGPIPE

interface Ends {
  readonly rfd: number
  readonly wfd: number
  readonly reader: File
  readonly writer: File
}

/** pipe1: a new pipe on two new descriptors (EMFILE when the table has not room for both). */
const makePipe: (ctx: SyscallContext, flags: number) => Effect.Effect<Ends, SysErr> = Effect.fnUntraced(
  function*(ctx, flags) {
    if ((flags & ~PIPE2_FLAGS) !== 0) return yield* sysErr(Errno.EINVAL)
    const table = ctx.proc.fds
    const cloexec = (flags & openFlags.O_CLOEXEC) !== 0
    const rfd = table.lowestFree()
    if (rfd === undefined) return yield* sysErr(Errno.EMFILE)
    const { reader, writer } = openPipe(ctx.kernel, ctx.proc, flags)
    table.install(rfd, reader, cloexec)
    const wfd = table.lowestFree()
    if (wfd === undefined) {
      table.remove(rfd)
      yield* releaseFile(writer)
      yield* releaseFile(reader)
      return yield* sysErr(Errno.EMFILE)
    }
    table.install(wfd, writer, cloexec)
    return { rfd, wfd, reader, writer }
  })

/** pipe(): the read end in retval[0], the write end in retval[1]. */
const pipe: SyscallImpl = (ctx) => Effect.map(makePipe(ctx, 0), ({ rfd, wfd }) => [BigInt(rfd), BigInt(wfd)] as const)

/** The two descriptors as the caller's int[2]. */
const fildes = (r: number, w: number): Uint8Array => {
  const bytes = new Uint8Array(8)
  const view = new DataView(bytes.buffer)
  view.setInt32(0, r, true)
  view.setInt32(4, w, true)
  return bytes
}

/**
 * pipe2(fildes, flags): the descriptors go to fildes. When that copyout
 * fails (EFAULT) the new descriptors are closed again rather than left
 * open behind the caller's back, as NetBSD 7 leaves them.
 */
const pipe2: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const ends = yield* makePipe(ctx, ctx.args.int(1))
    yield* copyout(ctx, ctx.args.ptr(0), fildes(ends.rfd, ends.wfd)).pipe(
      Effect.tapError(() =>
        // only descriptors that still hold the new files (another lwp may have closed and reused one meanwhile)
        Effect.forEach([[ends.rfd, ends.reader], [ends.wfd, ends.writer]] as const, ([fd, file]) => {
          if (ctx.proc.fds.get(fd)?.file !== file) return Effect.void
          ctx.proc.fds.remove(fd)
          return releaseFile(file)
        }, { discard: true })
      )
    )
  })

export const family: SyscallFamily = [
  [SYS.pipe, pipe],
  [SYS.pipe2, pipe2]
]
