/**
 * Host file mappings (rump_server -d): a window of a host file named in the
 * kernel's tree as a regular file, a block device or a character device,
 * whose reads and writes reach the host file in place.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errno, lseekWhence, modeBits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Exit, Logger } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { HostFile, HostFileError, type HostFileSpec, type HostFileType, openHostFile } from "../src/index.ts"
import { makeKernel } from "../src/Kernel.ts"
import { type HostCallsService, nodeHostCalls } from "../src/vfs/host/HostCalls.ts"
import { makeGuest, O_RDONLY, O_RDWR, O_TRUNC } from "./VfsGuest.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-hostfile-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A guest whose kernel has `spec` mapped at `key`. */
const guestWith = (key: string, type: HostFileType, spec: HostFileSpec) =>
  Effect.gen(function*() {
    const file = yield* openHostFile(spec)
    return yield* makeGuest({ hostFiles: [{ key, type, file }] })
  })

const major = (rdev: bigint) => Number((rdev >> 8n) & 0xfffn)

describe("host file mappings", () => {
  it.effect("type=reg with size=host: stat, read and write reach the host file, writes past the window fail", () =>
    Effect.gen(function*() {
      const host = Path.join(yield* tempDir, "data")
      Fs.writeFileSync(host, "hello world")
      const g = yield* guestWith("/mnt/data", "reg", { hostPath: host, size: "host" })
      const st = yield* g.stat("/mnt/data")
      assert.strictEqual(st.mode & modeBits.S_IFMT, modeBits.S_IFREG)
      assert.strictEqual(st.size, 11n)
      assert.strictEqual(yield* g.readFile("/mnt/data"), "hello world")

      const fd = yield* g.open("/mnt/data", O_RDWR)
      yield* g.ok(SYS.lseek, fd, 0, 6, lseekWhence.SEEK_SET)
      assert.strictEqual(yield* g.write(fd, "WORLD"), 5)
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "hello WORLD")
      // the window is 11 bytes: one more does not fit
      yield* g.fails(Errno.ENOSPC, SYS.write, fd, g.str("!"), 1)
      yield* g.close(fd)
      // O_TRUNC leaves the window (and the host file) as it is
      yield* g.close(yield* g.open("/mnt/data", O_RDWR | O_TRUNC))
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "hello WORLD")
      // unlinking the name leaves the host file alone
      yield* g.ok(SYS.unlink, g.str("/mnt/data"))
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "hello WORLD")
    }))

  it.effect("type=blk with a size creates the host file; the device reads and writes it at the file offset", () =>
    Effect.gen(function*() {
      const host = Path.join(yield* tempDir, "disk.img")
      const g = yield* guestWith("/dev/wd0", "blk", { hostPath: host, size: 8192 })
      assert.strictEqual(Fs.statSync(host).size, 8192)
      const st = yield* g.stat("/dev/wd0")
      assert.strictEqual(st.mode & modeBits.S_IFMT, modeBits.S_IFBLK)
      assert.strictEqual(major(st.rdev), 197)

      const fd = yield* g.open("/dev/wd0", O_RDWR)
      assert.strictEqual(yield* g.ok(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_END), 8192n)
      const block = new Uint8Array(4096).fill(0xa5)
      assert.strictEqual(yield* g.ok(SYS.pwrite, fd, g.mem.alloc(block), 4096, 0, 4096), 4096n)
      const onHost = Fs.readFileSync(host)
      assert.strictEqual(onHost.subarray(4096).every((b) => b === 0xa5), true)
      assert.strictEqual(onHost.subarray(0, 4096).every((b) => b === 0), true)
      // a read at the end gives nothing; a write across it fails whole
      yield* g.ok(SYS.lseek, fd, 0, 8190, lseekWhence.SEEK_SET)
      assert.strictEqual((yield* g.read(fd, 100)).length, 2)
      assert.strictEqual((yield* g.read(fd, 100)).length, 0)
      yield* g.fails(Errno.ENOSPC, SYS.pwrite, fd, g.mem.alloc(block), 4096, 0, 6000)
      yield* g.close(fd)
    }))

  it.effect("type=chr with an offset: the window starts there and the host file is only grown, never cut", () =>
    Effect.gen(function*() {
      const host = Path.join(yield* tempDir, "part")
      Fs.writeFileSync(host, "0123456789")
      const g = yield* guestWith("/dev/rpart", "chr", { hostPath: host, size: 4, offset: 2 })
      const st = yield* g.stat("/dev/rpart")
      assert.strictEqual(st.mode & modeBits.S_IFMT, modeBits.S_IFCHR)
      const fd = yield* g.open("/dev/rpart", O_RDONLY)
      assert.strictEqual(new TextDecoder().decode(yield* g.read(fd, 100)), "2345")
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "0123456789")
    }))

  it.effect("a size=host mapping of a missing file fails with the host's reason", () =>
    Effect.gen(function*() {
      const host = Path.join(yield* tempDir, "missing")
      const error = yield* Effect.flip(openHostFile({ hostPath: host, size: "host" }))
      assert.match(error.message, /missing: ENOENT/)
      assert.isFalse(Fs.existsSync(host))
    }))

  it.effect("a key that is taken or not absolute is refused at boot", () =>
    Effect.gen(function*() {
      const file = yield* openHostFile({ hostPath: Path.join(yield* tempDir, "f"), size: 512 })
      const cases = [
        ["/dev/null", /"\/dev\/null": the name exists already/],
        ["relative/path", /an absolute path below \/ is needed/],
        ["/", /an absolute path below \/ is needed/],
        ["/dev/null/below", /null is not a directory/]
      ] as const
      for (const [key, why] of cases) {
        const exit = yield* Effect.exit(makeKernel({ console: () => {}, hostFiles: [{ key, type: "reg", file }] }))
        assert.isTrue(Exit.isFailure(exit), key)
        // a typed failure the caller can report, not a defect
        const error = yield* Effect.flip(makeKernel({ console: () => {}, hostFiles: [{ key, type: "reg", file }] }))
        assert.instanceOf(error, HostFileError, key)
        assert.match(error.message, why, key)
      }
    }))

  it.effect("a host I/O failure is the caller's errno at once (the host's ENOSPC), not a syscall defect", () =>
    Effect.gen(function*() {
      if (!Fs.existsSync("/dev/full")) return
      const logged: Array<string> = []
      const collector = Logger.make((o) => {
        logged.push(Array.isArray(o.message) ? o.message.map(String).join(" ") : String(o.message))
      })
      yield* Effect.gen(function*() {
        // writing /dev/full fails with the host's ENOSPC
        const reg = yield* guestWith("/mnt/full", "reg", { hostPath: "/dev/full", size: 4096 })
        const fd = yield* reg.open("/mnt/full", O_RDWR)
        yield* reg.fails(Errno.ENOSPC, SYS.write, fd, reg.str("x"), 1)
        const chr = yield* guestWith("/dev/rfull", "chr", { hostPath: "/dev/full", size: 4096 })
        const dev = yield* chr.open("/dev/rfull", O_RDWR)
        yield* chr.fails(Errno.ENOSPC, SYS.write, dev, chr.str("x"), 1)
      }).pipe(Effect.provide(Logger.layer([collector])))
      assert.deepStrictEqual(logged.filter((line) => line.includes("defect")), [])
    }))

  it.effect("fsync and fdatasync of a mapping (file or device) reach the host file as themselves", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const counted = (name: string) => {
        const syncs: Array<string> = []
        const calls: HostCallsService = {
          ...nodeHostCalls,
          fsync: (fd) => Effect.andThen(Effect.sync(() => syncs.push("fsync")), nodeHostCalls.fsync(fd)),
          fdatasync: (fd) => Effect.andThen(Effect.sync(() => syncs.push("fdatasync")), nodeHostCalls.fdatasync(fd))
        }
        const path = Path.join(dir, name)
        Fs.writeFileSync(path, "0123456789")
        return { syncs, file: new HostFile(path, Fs.openSync(path, "r+"), 0, 10, calls) }
      }
      const reg = counted("reg")
      const blk = counted("blk")
      const g = yield* makeGuest({
        hostFiles: [{ key: "/mnt/reg", type: "reg", file: reg.file }, { key: "/dev/blk", type: "blk", file: blk.file }]
      })
      for (const [path, { syncs }] of [["/mnt/reg", reg], ["/dev/blk", blk]] as const) {
        const fd = yield* g.open(path, O_RDWR)
        yield* g.ok(SYS.fsync, fd)
        assert.deepStrictEqual(syncs, ["fsync"], path)
        yield* g.ok(SYS.fdatasync, fd)
        assert.deepStrictEqual(syncs, ["fsync", "fdatasync"], path)
        yield* g.close(fd)
      }
      yield* reg.file.close
      yield* blk.file.close
    }))
})
