/**
 * The character devices in /dev: the console (writes go to the server's
 * console output tagged with the writer's pid; reads fail with EBADF, as
 * the reference shows for a guest's fds 0-2), null (reads end at once,
 * writes vanish) and zero (reads give zeros, writes vanish).
 */
import { Errno, pollEvents } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { FileOps } from "../fd/File.ts"
import { seltrueKqfilter } from "../kqueue/filters/VnodeFilter.ts"
import { sysErr } from "../kern/SysErr.ts"
import type { DeviceDriver } from "./Vnode.ts"

/** NetBSD's makedev: major in bits 8-19, minor split over bits 0-7 and 20-31. */
export const makedev = (major: number, minor: number): number =>
  ((major << 8) & 0x000fff00) | ((minor << 12) & 0xfff00000) | (minor & 0xff)

/** A read from /dev/zero gives at most this much (a short read, which a device may give). */
export const ZERO_READ_MAX = 1024 * 1024
const ZEROES = new Uint8Array(ZERO_READ_MAX)

const READABLE = pollEvents.POLLIN | pollEvents.POLLRDNORM
const WRITABLE = pollEvents.POLLOUT | pollEvents.POLLWRNORM

const deviceOps = (ops: Pick<FileOps, "read" | "write" | "poll" | "kqfilter">): FileOps => ({
  kind: "device",
  seekable: true,
  close: () => Effect.void,
  ...ops
})

export const consoleDriver = (console: (pid: number, bytes: Uint8Array) => void): DeviceDriver => ({
  name: "console",
  rdev: makedev(0, 0),
  // what the reference reports for /dev/console
  shownNlink: 0,
  ops: deviceOps({
    read: () => sysErr(Errno.EBADF),
    write: (ctx, _file, data) =>
      Effect.sync(() => {
        console(ctx.proc.pid, data)
        return data.length
      }),
    poll: (_file, events) => events & WRITABLE
  })
})

export const nullDriver: DeviceDriver = {
  name: "null",
  rdev: makedev(2, 2),
  ops: deviceOps({
    read: () => Effect.succeed(new Uint8Array(0)),
    write: (_ctx, _file, data) => Effect.succeed(data.length),
    poll: (_file, events) => events & (READABLE | WRITABLE),
    kqfilter: seltrueKqfilter
  })
}

export const zeroDriver: DeviceDriver = {
  name: "zero",
  rdev: makedev(2, 12),
  ops: deviceOps({
    // one shared block of zeroes: read data is only ever copied out, never written to
    read: (_ctx, _file, len) => Effect.succeed(ZEROES.subarray(0, Math.max(0, Math.min(len, ZERO_READ_MAX)))),
    write: (_ctx, _file, data) => Effect.succeed(data.length),
    poll: (_file, events) => events & (READABLE | WRITABLE),
    kqfilter: seltrueKqfilter
  })
}

/** What a device node with numbers no driver has leads to (spec_open: ENXIO). */
export const absentDriver = (rdev: number): DeviceDriver => ({
  name: "",
  rdev,
  absent: true,
  ops: deviceOps({
    read: () => sysErr(Errno.ENXIO),
    write: () => sysErr(Errno.ENXIO),
    poll: () => 0
  })
})
