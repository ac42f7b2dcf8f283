/**
 * What one syscall costs the kernel, in-process, by the measures that hold
 * under load: CPU time per call, heap bytes allocated per call, and the
 * bytes per call that reach old space (promoted, or allocated there: a
 * generator function made per call puts its map there), with the young
 * collections the run needed. Each call goes through the Hypervisor service
 * as the server's do (newLwp, syscall with the caller's memory, releaseLwp,
 * each its own effect run to completion). LocalMemory stands in for the
 * client, so what a copy costs on the wire is not in these figures; what
 * the kernel allocates for it is.
 *
 * Each scenario runs in a process of its own (its garbage and compiled code
 * count for nobody else), with Node's defaults. The host file system's
 * scenarios mount a fresh host directory at /host (removed after); their
 * calls wait for libuv's pool, so each is run to completion by a promise,
 * and the CPU time counts the pool's threads too (the main thread's alone
 * is the kernel's own work). The heap figures come from
 * V8's GC profiler (the heap's spaces before and after every collection of
 * the run), so they are exact whatever collections happen meanwhile.
 *
 *   node --conditions=@sysproxy/source bench/syscalls.ts [--calls N] [--only a,b] [--json]
 */
import { type HypervisorService, makeLocalMemory, UserMemory } from "@sysproxy/hypervisor"
import { fieldOffset } from "@sysproxy/protocol"
import {
  clockIds,
  fcntlCmds,
  ioctl,
  lseekWhence,
  openFlags,
  pollEvents,
  socket as socketConsts,
  Structs,
  SYS,
  sysctlKern,
  sysctlTop
} from "@sysproxy/protocol/netbsd"
import { makeKernel, packArgs } from "@sysproxy/kernel"
import { Effect, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { openHeapWindow } from "./heap-window.ts"

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "200000" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
    scenario: { type: "string" }
  }
})
const CALLS = Number(values.calls)
const WARMUP = 20_000

type Arg = bigint | number
/** One syscall of an iteration: its number and argument slots. */
type Call = readonly [number, ReadonlyArray<Arg>]

interface Setup {
  readonly hv: HypervisorService
  readonly pid: number
  /** A syscall during setup; its retval0 (an error is fatal). */
  readonly sys: (n: number, ...args: ReadonlyArray<Arg>) => bigint
  /** The same for a call that may wait (the host file system's). */
  readonly sysAsync: (n: number, ...args: ReadonlyArray<Arg>) => Promise<bigint>
  readonly alloc: (bytesOrSize: Uint8Array | number) => bigint
  readonly str: (s: string) => bigint
}

interface Scenario {
  readonly name: string
  /** The calls of one iteration, made once the setup has run. */
  readonly setup: (s: Setup) => ReadonlyArray<Call> | Promise<ReadonlyArray<Call>>
  /**
   * The first call blocks until the second (made meanwhile, in another
   * lwp) wakes it: a sleep on a wait queue and its wakeup, per iteration.
   */
  readonly wakes?: boolean
  /** A host directory is mounted at /host (HOST_FILE in it, HOST_FILE_SIZE bytes); the calls are asynchronous. */
  readonly host?: boolean
}

/** The host file system's scenarios' file, by its kernel path. */
const HOST_FILE = "/host/bench-file"
const HOST_FILE_SIZE = 4096

const i32s = (...xs: ReadonlyArray<number>) => {
  const b = new Uint8Array(xs.length * 4)
  const v = new DataView(b.buffer)
  xs.forEach((x, i) => v.setInt32(i * 4, x, true))
  return b
}
const u64s = (...xs: ReadonlyArray<bigint | number>) => {
  const b = new Uint8Array(xs.length * 8)
  const v = new DataView(b.buffer)
  xs.forEach((x, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(x)), true))
  return b
}
/** pipe2 into fresh memory: [read end, write end]. */
const pipe = (s: Setup): readonly [number, number] => {
  const fildes = s.alloc(8)
  s.sys(SYS.pipe2, fildes, 0)
  return readFds(fildes)
}
/** Two ints the kernel wrote to guest memory (pipe2's and socketpair's descriptors). */
const readFds = (addr: bigint): readonly [number, number] => {
  const b = memory.read(addr, 8)!
  const v = new DataView(b.buffer, b.byteOffset, 8)
  return [v.getInt32(0, true), v.getInt32(4, true)]
}
const open = (s: Setup, path: string, flags: number) => Number(s.sys(SYS.open, s.str(path), flags, 0o644))
const openAsync = async (s: Setup, path: string, flags: number) => Number(await s.sysAsync(SYS.open, s.str(path), flags, 0o644))

const POLLFD = Structs.pollfd
const KEVENT_SIZE = 40

const scenarios: ReadonlyArray<Scenario> = [
  { name: "(harness: Effect.void, no syscall)", setup: () => [] },
  { name: "getpid", setup: () => [[SYS.getpid, []]] },
  { name: "getppid", setup: () => [[SYS.getppid, []]] },
  { name: "getuid", setup: () => [[SYS.getuid, []]] },
  { name: "clock_gettime(MONOTONIC)", setup: (s) => [[SYS.__clock_gettime50, [clockIds.CLOCK_MONOTONIC, s.alloc(16)]]] },
  { name: "gettimeofday", setup: (s) => [[SYS.__gettimeofday50, [s.alloc(16), 0]]] },
  { name: "nanosleep(0)", setup: (s) => [[SYS.__nanosleep50, [s.alloc(16), 0]]] },
  {
    name: "sysctl kern.hostname",
    setup: (s) => [[SYS.__sysctl, [s.alloc(i32s(sysctlTop.CTL_KERN, sysctlKern.KERN_HOSTNAME)), 2, s.alloc(256), s.alloc(u64s(256)), 0, 0]]]
  },
  {
    name: "sysctl kern.ostype",
    setup: (s) => [[SYS.__sysctl, [s.alloc(i32s(sysctlTop.CTL_KERN, sysctlKern.KERN_OSTYPE)), 2, s.alloc(256), s.alloc(u64s(256)), 0, 0]]]
  },
  { name: "read 4k /dev/zero", setup: (s) => [[SYS.read, [open(s, "/dev/zero", openFlags.O_RDONLY), s.alloc(4096), 4096]]] },
  { name: "write 4k /dev/null", setup: (s) => [[SYS.write, [open(s, "/dev/null", openFlags.O_WRONLY), s.alloc(4096), 4096]]] },
  {
    name: "pread 4k tmpfs",
    setup: (s) => {
      const fd = open(s, "/tmp/bench-pread", openFlags.O_RDWR | openFlags.O_CREAT)
      const buf = s.alloc(4096)
      s.sys(SYS.pwrite, fd, buf, 4096, 0, 0)
      return [[SYS.pread, [fd, buf, 4096, 0, 0]]]
    }
  },
  {
    name: "pwrite 4k tmpfs",
    setup: (s) => [[SYS.pwrite, [open(s, "/tmp/bench-pwrite", openFlags.O_RDWR | openFlags.O_CREAT), s.alloc(4096), 4096, 0, 0]]]
  },
  {
    name: "readv 2x2k /dev/zero",
    setup: (s) => {
      const iov = s.alloc(u64s(s.alloc(2048), 2048, s.alloc(2048), 2048))
      return [[SYS.readv, [open(s, "/dev/zero", openFlags.O_RDONLY), iov, 2]]]
    }
  },
  {
    name: "writev 2x2k /dev/null",
    setup: (s) => {
      const iov = s.alloc(u64s(s.alloc(2048), 2048, s.alloc(2048), 2048))
      return [[SYS.writev, [open(s, "/dev/null", openFlags.O_WRONLY), iov, 2]]]
    }
  },
  {
    name: "lseek tmpfs",
    setup: (s) => [[SYS.lseek, [open(s, "/tmp/bench-lseek", openFlags.O_RDWR | openFlags.O_CREAT), 0, 0, lseekWhence.SEEK_SET]]]
  },
  { name: "fcntl F_GETFL", setup: (s) => [[SYS.fcntl, [open(s, "/dev/null", openFlags.O_RDWR), fcntlCmds.F_GETFL, 0]]] },
  { name: "ioctl FIONREAD pipe", setup: (s) => [[SYS.ioctl, [pipe(s)[0], ioctl.FIONREAD, s.alloc(4)]]] },
  {
    name: "dup + close",
    setup: (s) => {
      const fd = open(s, "/dev/null", openFlags.O_RDWR)
      const next = Number(s.sys(SYS.dup, fd))
      s.sys(SYS.close, next)
      return [[SYS.dup, [fd]], [SYS.close, [next]]]
    }
  },
  { name: "fstat", setup: (s) => [[SYS.__fstat50, [open(s, "/dev/null", openFlags.O_RDWR), s.alloc(Structs.stat.size)]]] },
  { name: "stat /dev/null", setup: (s) => [[SYS.__stat50, [s.str("/dev/null"), s.alloc(Structs.stat.size)]]] },
  { name: "lstat /tmp", setup: (s) => [[SYS.__lstat50, [s.str("/tmp"), s.alloc(Structs.stat.size)]]] },
  { name: "open + close /dev/null", setup: (s) => [[SYS.open, [s.str("/dev/null"), openFlags.O_RDWR, 0]], [SYS.close, [3]]] },
  {
    name: "poll 1 pipe, ready",
    setup: (s) => {
      const [, w] = pipe(s)
      const fds = new Uint8Array(POLLFD.size)
      const v = new DataView(fds.buffer)
      v.setInt32(fieldOffset(POLLFD, "fd"), w, true)
      v.setInt16(fieldOffset(POLLFD, "events"), pollEvents.POLLOUT, true)
      return [[SYS.poll, [s.alloc(fds), 1, 0]]]
    }
  },
  {
    name: "select 1 pipe, ready",
    setup: (s) => {
      const [, w] = pipe(s)
      const set = new Uint8Array(128)
      set[w >> 3] = 1 << (w & 7)
      // the bits are copied back: every iteration finds the same set (the write end stays writable)
      return [[SYS.__select50, [w + 1, 0, s.alloc(set), 0, s.alloc(16)]]]
    }
  },
  {
    name: "kevent scan, 1 ready",
    setup: (s) => {
      const [r, w] = pipe(s)
      s.sys(SYS.write, w, s.alloc(1), 1)
      const kq = Number(s.sys(SYS.kqueue1, 0))
      const change = new Uint8Array(KEVENT_SIZE)
      const v = new DataView(change.buffer)
      v.setBigUint64(0, BigInt(r), true)
      v.setUint32(8, 0, true) // EVFILT_READ
      v.setUint32(12, 1, true) // EV_ADD
      s.sys(SYS.__kevent50, kq, s.alloc(change), 1, 0, 0, 0)
      return [[SYS.__kevent50, [kq, 0, 0, s.alloc(4 * KEVENT_SIZE), 4, s.alloc(16)]]]
    }
  },
  {
    name: "pipe read 64 asleep, woken by a write",
    wakes: true,
    setup: (s) => {
      const [r, w] = pipe(s)
      return [[SYS.read, [r, s.alloc(64), 64]], [SYS.write, [w, s.alloc(64), 64]]]
    }
  },
  {
    name: "pipe write 64 + read 64",
    setup: (s) => {
      const [r, w] = pipe(s)
      const buf = s.alloc(64)
      return [[SYS.write, [w, buf, 64]], [SYS.read, [r, buf, 64]]]
    }
  },
  { name: "stat host file", host: true, setup: (s) => [[SYS.__stat50, [s.str(HOST_FILE), s.alloc(Structs.stat.size)]]] },
  { name: "open + close host file", host: true, setup: (s) => [[SYS.open, [s.str(HOST_FILE), openFlags.O_RDONLY, 0]], [SYS.close, [3]]] },
  {
    name: "fstat host file",
    host: true,
    setup: async (s) => [[SYS.__fstat50, [await openAsync(s, HOST_FILE, openFlags.O_RDONLY), s.alloc(Structs.stat.size)]]]
  },
  {
    name: "pread 4k host file",
    host: true,
    setup: async (s) => [[SYS.pread, [await openAsync(s, HOST_FILE, openFlags.O_RDONLY), s.alloc(4096), 4096, 0, 0]]]
  },
  {
    name: "socketpair sendto 64 + recvfrom 64",
    setup: (s) => {
      const sv = s.alloc(8)
      s.sys(SYS.socketpair, socketConsts.AF_LOCAL, socketConsts.SOCK_STREAM, 0, sv)
      const [a, b] = readFds(sv)
      const buf = s.alloc(64)
      return [[SYS.sendto, [a, buf, 64, 0, 0, 0]], [SYS.recvfrom, [b, buf, 64, 0, 0, 0]]]
    }
  }
]

const memory = makeLocalMemory()

// ---- one scenario in this process ----------------------------------------------

const child = async (index: number) => {
  const scenario = scenarios[index]!
  const hostDir = scenario.host === true ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "sysproxy-syscalls-bench-")) : undefined
  if (hostDir !== undefined) {
    Fs.writeFileSync(Path.join(hostDir, Path.basename(HOST_FILE)), new Uint8Array(HOST_FILE_SIZE))
    process.on("exit", () => Fs.rmSync(hostDir, { recursive: true, force: true }))
  }
  const mounts = hostDir === undefined ? undefined : [{ hostPath: hostDir, at: Path.dirname(HOST_FILE) }]
  const { hypervisor: hv } = await Effect.runPromise(
    Effect.orDie(makeKernel({ console: () => {}, mounts })).pipe(Effect.provideService(Scope.Scope, Scope.makeUnsafe()))
  )
  const proc = Effect.runSync(Effect.orDie(hv.rfork({ client: memory.service, mode: "clear", comm: "bench" })))
  const syscall = (n: number, args: Uint8Array) =>
    Effect.flatMap(hv.newLwp(proc.pid), (lwp) => Effect.onExit(hv.syscall(lwp, n, args), () => hv.releaseLwp(lwp)))
  const setupCall = (n: number, args: ReadonlyArray<Arg>) =>
    Effect.orDie(syscall(n, packArgs(...args))).pipe(
      Effect.provideService(UserMemory, memory.service),
      Effect.map((r) => {
        if (r.error !== 0) throw new Error(`${scenario.name}: setup syscall ${n} failed with errno ${r.error}`)
        return r.retval0
      })
    )
  const setup: Setup = {
    hv,
    pid: proc.pid,
    sys: (n, ...args) => Effect.runSync(setupCall(n, args)),
    sysAsync: (n, ...args) => Effect.runPromise(setupCall(n, args)),
    alloc: (b) => memory.alloc(b),
    str: (s) => memory.allocString(s)
  }
  const calls = await scenario.setup(setup)
  // each call its own effect run to completion, as the server runs each in a fiber of its own
  const effects = calls.map(([n, args]) =>
    Effect.orDie(syscall(n, packArgs(...args))).pipe(Effect.provideService(UserMemory, memory.service))
  )
  if (effects.length === 0) effects.push(Effect.orDie(Effect.void).pipe(Effect.as({ error: 0, retval0: 0n, retval1: 0n })))
  const check = (r: { readonly error: number }) => {
    if (r.error !== 0) throw new Error(`${scenario.name}: errno ${r.error}`)
  }
  const iterate = async (n: number) => {
    if (scenario.host === true) {
      for (let i = 0; i < n; i++) for (const e of effects) check(await Effect.runPromise(e))
      return
    }
    if (scenario.wakes === true) {
      const [sleeper, waker] = effects as [typeof effects[0], typeof effects[0]]
      for (let i = 0; i < n; i++) {
        const asleep = Effect.runFork(sleeper)
        check(Effect.runSync(waker))
        // the wakeup resumes the sleeper's fiber at once, so it has ended by now
        const exit = asleep.pollUnsafe()
        if (exit === undefined || exit._tag !== "Success") throw new Error(`${scenario.name}: the sleeper did not end with the wakeup`)
        check(exit.value)
      }
      return
    }
    for (let i = 0; i < n; i++) for (const e of effects) check(Effect.runSync(e))
  }
  const gc = (globalThis as { gc?: () => void }).gc!
  await iterate(WARMUP)
  const iterations = Math.max(1, Math.floor(CALLS / effects.length))
  gc()
  const heap = openHeapWindow()
  const cpuBefore = process.cpuUsage()
  const threadBefore = process.threadCpuUsage()
  await iterate(iterations)
  const thread = process.threadCpuUsage(threadBefore)
  const cpu = process.cpuUsage(cpuBefore)
  const { allocatedBytes, oldBytes, scavengesMs, markCompacts } = heap.close()
  process.stdout.write(`${
    JSON.stringify({
      nsPerIteration: ((cpu.user + cpu.system) * 1000) / iterations,
      mainThreadNsPerIteration: ((thread.user + thread.system) * 1000) / iterations,
      bytesPerIteration: allocatedBytes / iterations,
      oldBytesPerIteration: oldBytes / iterations,
      iterations,
      scavenges: scavengesMs.length,
      scavengeLongestMs: Math.max(0, ...scavengesMs),
      scavengeMedianMs: median(scavengesMs),
      markCompacts
    })
  }\n`)
}

const median = (xs: ReadonlyArray<number>) => xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

// ---- every scenario, each in processes of its own --------------------------------

const runChild = (index: number) =>
  JSON.parse(
    ChildProcess.execFileSync(process.execPath, [
      "--conditions=@sysproxy/source",
      "--expose-gc",
      import.meta.filename,
      "--scenario",
      String(index),
      "--calls",
      String(CALLS)
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!
  )

const all = () => {
  const only = values.only?.split(",")
  const rows: Array<Record<string, unknown>> = []
  scenarios.forEach((s, i) => {
    if (only !== undefined && !only.some((o) => s.name.includes(o))) return
    const row = { name: s.name, ...runChild(i) }
    rows.push(row)
    if (!values.json) process.stderr.write(`${s.name}: ${JSON.stringify(row)}\n`)
  })
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`)
    return
  }
  process.stdout.write(
    `In-process kernel, per iteration (one or two syscalls, each with newLwp and releaseLwp), ${CALLS} calls per run; Node ${process.version}\n\n`
  )
  process.stdout.write(
    "| scenario | CPU ns | main thread CPU ns | heap B allocated | old-space B | scavenges (median / longest ms) | mark-compacts |\n"
  )
  process.stdout.write("| --- | --- | --- | --- | --- | --- | --- |\n")
  for (const r of rows) {
    const f = (k: string, d = 0) => (r[k] as number).toFixed(d)
    process.stdout.write(
      `| ${r.name} | ${f("nsPerIteration")} | ${f("mainThreadNsPerIteration")} | ${f("bytesPerIteration")} | ${f("oldBytesPerIteration", 1)} | ${r.scavenges} (${
        f("scavengeMedianMs", 2)
      } / ${f("scavengeLongestMs", 2)}) | ${r.markCompacts} |\n`
    )
  }
}

if (values.scenario === undefined) all()
else await child(Number(values.scenario))
