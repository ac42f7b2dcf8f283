/**
 * The sysctl meta-operations in-process (CTL_QUERY, CTL_DESCRIBE,
 * CTL_CREATE, CTL_DESTROY), the tree a rump kernel has, writes by the
 * superuser only, and nodes added at boot through KernelConfig.sysctl.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, SYS, sysctlCtlflag, sysctlCtltype, sysctlHw, sysctlKern, sysctlSpecial, sysctlTop } from "@sysproxy/protocol/netbsd"
import { Cred } from "../src/kauth/Cred.ts"
import { CTL_SYSPROXY } from "../src/sysctl/Extra.ts"
import { boot, decode, type Guest, i32s, peek, peekI32, peekU64, text, u64s } from "./support/SyscallHarness.ts"

const { CTL_QUERY, CTL_DESCRIBE, CTL_CREATE, CTL_DESTROY, SYSCTL_VERSION } = sysctlSpecial
const { CTL_KERN, CTL_HW, CTL_VENDOR } = sysctlTop
const { CTLTYPE_NODE, CTLTYPE_INT, CTLTYPE_STRING, CTLTYPE_QUAD, CTLTYPE_STRUCT } = sysctlCtltype
const { CTLFLAG_PERMANENT, CTLFLAG_READWRITE, CTLFLAG_IMMEDIATE, CTLFLAG_OWNDATA } = sysctlCtlflag
const NODE = 96

interface NodeOut {
  readonly flags: number
  readonly type: number
  readonly num: number
  readonly name: string
  readonly ver: number
  readonly clen: number
  readonly idata: number
  readonly qdata: bigint
  readonly size: bigint
}

const parseNodes = (bytes: Uint8Array): Array<NodeOut> =>
  Array.from({ length: Math.floor(bytes.byteLength / NODE) }, (_, i) => {
    const b = bytes.subarray(i * NODE, (i + 1) * NODE)
    const v = new DataView(b.buffer, b.byteOffset, NODE)
    const nameBytes = b.subarray(8, 40)
    const nul = nameBytes.indexOf(0)
    const flags = v.getUint32(0, true)
    return {
      flags,
      type: flags & 0xf,
      num: v.getInt32(4, true),
      name: decode(nameBytes.subarray(0, nul)),
      ver: v.getUint32(40, true),
      clen: v.getUint32(52, true),
      idata: v.getInt32(48, true),
      qdata: v.getBigUint64(48, true),
      size: v.getBigUint64(64, true)
    }
  })

/** A struct sysctlnode to send: flags (SYSCTL_VERSION unless given otherwise), num, name, and the rest. */
const nodeIn = (o: {
  readonly flags?: number
  readonly num?: number
  readonly name?: string
  readonly ver?: number
  readonly un?: bigint
  readonly size?: bigint
  readonly desc?: bigint
}): Uint8Array => {
  const b = new Uint8Array(NODE)
  const v = new DataView(b.buffer)
  v.setUint32(0, o.flags ?? SYSCTL_VERSION, true)
  v.setInt32(4, o.num ?? 0, true)
  b.set(text(o.name ?? ""), 8)
  v.setUint32(40, o.ver ?? 0, true)
  v.setBigUint64(48, o.un ?? 0n, true)
  v.setBigUint64(64, o.size ?? 0n, true)
  v.setBigUint64(88, o.desc ?? 0n, true)
  return b
}

const call = (g: Guest, name: ReadonlyArray<number>, oldSize: number | undefined, newValue?: Uint8Array, newlen?: number) =>
  Effect.gen(function*() {
    const oldp = oldSize === undefined ? 0n : g.mem.alloc(Math.max(oldSize, 1))
    const oldlenp = g.mem.alloc(u64s(oldSize ?? 0))
    const newp = newValue === undefined ? 0n : g.mem.alloc(newValue)
    const r = yield* g.call(SYS.__sysctl, g.mem.alloc(i32s(...name)), name.length, oldp, oldlenp, newp, newlen ?? newValue?.byteLength ?? 0)
    const oldlen = peekU64(g, oldlenp)
    return { error: r.error, oldlen, oldp, bytes: oldp === 0n ? new Uint8Array(0) : peek(g, oldp, Math.min(oldSize ?? 0, Number(oldlen))) }
  })

const queryOf = (g: Guest, mib: ReadonlyArray<number>, q: Uint8Array = nodeIn({})) =>
  Effect.map(call(g, [...mib, CTL_QUERY], 64 * NODE, q), (r) => ({ ...r, nodes: parseNodes(r.bytes) }))

/** A guest whose process is not the superuser (its credentials replaced directly, as a set*id call would). */
const nonRoot = (g: Guest): Guest => {
  g.proc.cred = Cred.of(1000, 100)
  return g
}

describe("CTL_QUERY", () => {
  it.effect("the top level: NetBSD's 13 nodes, in number order, all nodes, vendor the only writable one", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const r = yield* queryOf(g, [])
      assert.strictEqual(r.error, 0)
      assert.strictEqual(r.oldlen, BigInt(13 * NODE))
      assert.deepStrictEqual(r.nodes.map((n) => [n.num, n.name]), [
        [1, "kern"], [2, "vm"], [3, "vfs"], [4, "net"], [5, "debug"], [6, "hw"], [7, "machdep"],
        [8, "user"], [9, "ddb"], [10, "proc"], [11, "vendor"], [12, "emul"], [13, "security"]
      ])
      for (const n of r.nodes) {
        assert.strictEqual(n.flags & 0xff000000, SYSCTL_VERSION)
        assert.strictEqual(n.type, CTLTYPE_NODE)
        assert.strictEqual(n.size, BigInt(NODE))
        const rw = n.name === "vendor" ? CTLFLAG_READWRITE : 0
        assert.strictEqual(n.flags & 0x00fffff0, CTLFLAG_PERMANENT | rw, n.name)
      }
      assert.strictEqual(r.nodes[0]!.clen, 30)
      assert.strictEqual(r.nodes.find((n) => n.name === "ddb")!.clen, 0)
    }))

  it.effect("kern and hw as a rump kernel has them: names, numbers, types, flags, sizes, immediate values", () =>
    Effect.gen(function*() {
      const k = yield* boot({ physmem: 64 * 1024 * 1024 })
      const g = yield* k.guest()
      const kern = (yield* queryOf(g, [CTL_KERN])).nodes
      assert.deepStrictEqual(kern.map((n) => n.name), [
        "ostype", "osrelease", "osrevision", "version", "hostname", "clockrate", "proc", "file", "domainname",
        "rawpartition", "msgbufsize", "mbuf", "proc2", "proc_args", "msgbuf", "pipe", "sbmax", "urandom",
        "somaxkva", "buf", "file2", "hardclock_ticks", "arandom", "evcnt", "timecounter", "pool",
        "direct_select", "uidinfo", "module", "posix"
      ])
      const byName = new Map(kern.map((n) => [n.name, n]))
      assert.deepInclude(byName.get("ostype"), { num: 1, type: CTLTYPE_STRING, size: 7n, flags: SYSCTL_VERSION | CTLTYPE_STRING | CTLFLAG_PERMANENT })
      assert.deepInclude(byName.get("osrevision"), {
        num: 3,
        idata: 799003400,
        flags: SYSCTL_VERSION | CTLTYPE_INT | CTLFLAG_PERMANENT | CTLFLAG_IMMEDIATE
      })
      assert.deepInclude(byName.get("hostname"), {
        num: 10,
        size: 256n,
        flags: SYSCTL_VERSION | CTLTYPE_STRING | CTLFLAG_PERMANENT | CTLFLAG_READWRITE
      })
      assert.deepInclude(byName.get("clockrate"), { num: 12, type: CTLTYPE_STRUCT, size: 20n })
      assert.deepInclude(byName.get("proc2"), { num: 47, type: CTLTYPE_NODE })
      assert.deepInclude(byName.get("file2"), { num: 77, type: CTLTYPE_STRUCT })
      // dynamic numbers come from CREATE_BASE up, in creation order
      const dynamic = kern.slice(24).map((n) => n.num)
      assert.isTrue(dynamic.every((n, i) => n > 1024 && (i === 0 || n > dynamic[i - 1]!)))
      const hw = (yield* queryOf(g, [CTL_HW])).nodes
      assert.deepStrictEqual(hw.map((n) => n.name), [
        "machine", "model", "ncpu", "byteorder", "physmem", "pagesize", "disknames", "iostats", "machine_arch",
        "alignbytes", "physmem64", "iostatnames", "ncpuonline", "firmware"
      ])
      assert.deepInclude(hw.find((n) => n.name === "physmem64"), { num: 13, type: CTLTYPE_QUAD, qdata: 64n * 1024n * 1024n })
      const vm = (yield* queryOf(g, [sysctlTop.CTL_VM])).nodes.map((n) => n.name)
      assert.deepStrictEqual(vm, ["bufcache", "bufmem", "bufmem_lowater", "bufmem_hiwater"])
      const vfs = (yield* queryOf(g, [sysctlTop.CTL_VFS])).nodes.map((n) => n.name)
      assert.deepStrictEqual(vfs, ["generic", "sync", "namecache_stats", "wapbl"])
      const net = (yield* queryOf(g, [sysctlTop.CTL_NET])).nodes.map((n) => n.name)
      assert.deepStrictEqual(net, ["local", "inet", "oroute", "inet6", "route", "sdl", "ether", "interfaces"])
      const proc = (yield* queryOf(g, [sysctlTop.CTL_PROC])).nodes
      assert.deepStrictEqual(proc.map((n) => [n.name, n.num]), [["curproc", 0x7fffffff]])
      // curproc answers for any process number
      const mine = (yield* queryOf(g, [sysctlTop.CTL_PROC, g.pid])).nodes.map((n) => n.name)
      assert.deepStrictEqual(mine, ["corename", "rlimit", "stopfork", "stopexec", "stopexit"])
    }))

  it.effect("too small a buffer: the whole nodes that fit, ENOMEM and the size of all; no buffer: the size", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const small = yield* call(g, [CTL_QUERY], 2 * NODE + 50, nodeIn({}))
      assert.strictEqual(small.error, Errno.ENOMEM)
      assert.strictEqual(small.oldlen, BigInt(13 * NODE))
      assert.deepStrictEqual(parseNodes(small.bytes.subarray(0, 2 * NODE)).map((n) => n.name), ["kern", "vm"])
      assert.deepStrictEqual([...peek(g, small.oldp + BigInt(2 * NODE), 50)], new Array(50).fill(0))
      const size = yield* call(g, [CTL_HW, CTL_QUERY], undefined, nodeIn({}))
      assert.strictEqual(size.error, 0)
      assert.strictEqual(size.oldlen, BigInt(14 * NODE))
    }))

  it.effect("EINVAL for a version mismatch, no node or a short one; ENOTDIR on a leaf; ENOENT past a missing node", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* queryOf(g, [CTL_KERN], nodeIn({ flags: 0 }))).error, Errno.EINVAL)
      assert.strictEqual((yield* queryOf(g, [CTL_KERN], nodeIn({ flags: 0x02000000 }))).error, Errno.EINVAL)
      assert.strictEqual((yield* call(g, [CTL_KERN, CTL_QUERY], NODE * 40)).error, Errno.EINVAL)
      assert.strictEqual((yield* call(g, [CTL_KERN, CTL_QUERY], NODE * 40, nodeIn({}), NODE - 8)).error, Errno.EINVAL)
      // sysctl_ver: 0 or the node's or the root's
      const top = (yield* queryOf(g, [])).nodes
      const kernVer = top[0]!.ver
      assert.strictEqual((yield* queryOf(g, [CTL_KERN], nodeIn({ ver: kernVer }))).error, 0)
      assert.strictEqual((yield* queryOf(g, [CTL_KERN], nodeIn({ ver: 0x7fff0000 }))).error, Errno.EINVAL)
      assert.strictEqual((yield* queryOf(g, [CTL_KERN, sysctlKern.KERN_OSTYPE])).error, Errno.ENOTDIR)
      // a leaf with a function of its own takes the rest as a name: EINVAL
      assert.strictEqual((yield* queryOf(g, [CTL_KERN, sysctlKern.KERN_HOSTNAME])).error, Errno.EINVAL)
      assert.strictEqual((yield* queryOf(g, [CTL_KERN, 9999])).error, Errno.ENOENT)
      // nodes with functions answer CTL_QUERY themselves: no children
      const proc2 = yield* queryOf(g, [CTL_KERN, sysctlKern.KERN_PROC2])
      assert.strictEqual(proc2.error, 0)
      assert.strictEqual(proc2.oldlen, 0n)
    }))
})

describe("CTL_DESCRIBE", () => {
  it.effect("every child's struct sysctldesc, empty as a rump kernel's; one node by number; ENOENT for none", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const all = yield* call(g, [CTL_DESCRIBE], 4096)
      assert.strictEqual(all.error, 0)
      // 12 bytes of header and the NUL padded to 4, per node
      assert.strictEqual(all.oldlen, BigInt(13 * 16))
      const v = new DataView(all.bytes.buffer, all.bytes.byteOffset)
      assert.deepStrictEqual([v.getInt32(0, true), v.getUint32(8, true), all.bytes[12]], [1, 1, 0])
      assert.strictEqual(v.getInt32(16, true), 2)
      const one = yield* call(g, [CTL_KERN, CTL_DESCRIBE], 4096, nodeIn({ num: sysctlKern.KERN_HOSTNAME }))
      assert.strictEqual(one.error, 0)
      assert.strictEqual(one.oldlen, 16n)
      assert.strictEqual(new DataView(one.bytes.buffer, one.bytes.byteOffset).getInt32(0, true), sysctlKern.KERN_HOSTNAME)
      assert.strictEqual((yield* call(g, [CTL_KERN, CTL_DESCRIBE], 4096, nodeIn({ num: 9999 }))).error, Errno.ENOENT)
      assert.strictEqual((yield* call(g, [CTL_KERN, sysctlKern.KERN_OSTYPE, CTL_DESCRIBE], 4096)).error, Errno.ENOTDIR)
      const short = yield* call(g, [CTL_DESCRIBE], 20)
      assert.strictEqual(short.error, Errno.ENOMEM)
      assert.strictEqual(short.oldlen, BigInt(13 * 16))
    }))
})

describe("CTL_CREATE and CTL_DESTROY", () => {
  it.effect("the superuser adds an int, a string and a node under vendor, reads and writes them, and removes them", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const made = yield* call(g, [CTL_VENDOR, CTL_CREATE], NODE, nodeIn({
        flags: SYSCTL_VERSION | CTLTYPE_INT | CTLFLAG_READWRITE | CTLFLAG_IMMEDIATE,
        num: CTL_CREATE,
        name: "answer",
        un: 42n
      }))
      assert.strictEqual(made.error, 0)
      const node = parseNodes(made.bytes)[0]!
      assert.strictEqual(node.name, "answer")
      assert.isAbove(node.num, 1024)
      assert.strictEqual(node.idata, 42)
      const read = yield* call(g, [CTL_VENDOR, node.num], 4)
      assert.strictEqual(new DataView(read.bytes.buffer, read.bytes.byteOffset).getInt32(0, true), 42)
      assert.strictEqual((yield* call(g, [CTL_VENDOR, node.num], 4, i32s(7))).error, 0)
      assert.strictEqual(peekI32(g, (yield* call(g, [CTL_VENDOR, node.num], 4)).oldp), 7)
      // the same name again: EEXIST, with the node that is there
      const again = yield* call(g, [CTL_VENDOR, CTL_CREATE], NODE, nodeIn({ flags: SYSCTL_VERSION | CTLTYPE_INT | CTLFLAG_IMMEDIATE, num: CTL_CREATE, name: "answer" }))
      assert.strictEqual(again.error, Errno.EEXIST)
      assert.strictEqual(parseNodes(again.bytes)[0]!.num, node.num)
      // a string the node owns, copied in from the caller
      const value = g.mem.alloc(text("hello\0"))
      const str = yield* call(g, [CTL_VENDOR, CTL_CREATE], NODE, nodeIn({
        flags: SYSCTL_VERSION | CTLTYPE_STRING | CTLFLAG_READWRITE | CTLFLAG_OWNDATA,
        num: 500,
        name: "greeting",
        un: value
      }))
      assert.strictEqual(str.error, 0)
      assert.deepInclude(parseNodes(str.bytes)[0], { num: 500, size: 6n })
      assert.strictEqual(decode((yield* call(g, [CTL_VENDOR, 500], 16)).bytes), "hello\0")
      const dir = yield* call(g, [CTL_VENDOR, CTL_CREATE], NODE, nodeIn({ flags: SYSCTL_VERSION | CTLTYPE_NODE | CTLFLAG_READWRITE, num: 7, name: "dir" }))
      assert.strictEqual(dir.error, 0)
      assert.deepStrictEqual((yield* queryOf(g, [CTL_VENDOR])).nodes.map((n) => n.name), ["dir", "greeting", "answer"])
      // removed: copied out once more, then gone
      const gone = yield* call(g, [CTL_VENDOR, CTL_DESTROY], NODE, nodeIn({ num: 500 }))
      assert.strictEqual(gone.error, 0)
      assert.strictEqual(parseNodes(gone.bytes)[0]!.name, "greeting")
      assert.strictEqual((yield* call(g, [CTL_VENDOR, 500], 16)).error, Errno.ENOENT)
      assert.strictEqual((yield* call(g, [CTL_VENDOR, CTL_DESTROY], NODE, nodeIn({ num: 500 }))).error, Errno.ENOENT)
    }))

  it.effect("refused: anyone but the superuser (EPERM), a permanent parent or node (EPERM), bad names and types (EINVAL)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const root = yield* k.guest()
      const user = nonRoot(yield* k.guest())
      const int = (name: string, num: number = CTL_CREATE) => nodeIn({ flags: SYSCTL_VERSION | CTLTYPE_INT | CTLFLAG_IMMEDIATE, num, name })
      assert.strictEqual((yield* call(user, [CTL_VENDOR, CTL_CREATE], NODE, int("x"))).error, Errno.EPERM)
      assert.strictEqual((yield* call(root, [CTL_KERN, CTL_CREATE], NODE, int("x"))).error, Errno.EPERM)
      assert.strictEqual((yield* call(root, [CTL_VENDOR, CTL_CREATE], NODE)).error, Errno.EINVAL)
      assert.strictEqual((yield* call(root, [CTL_VENDOR, CTL_CREATE], NODE, int("9lives"))).error, Errno.EINVAL)
      assert.strictEqual((yield* call(root, [CTL_VENDOR, CTL_CREATE], NODE, int("a.b"))).error, Errno.EINVAL)
      assert.strictEqual((yield* call(root, [CTL_VENDOR, CTL_CREATE], NODE, int("x", -9))).error, Errno.EINVAL)
      const permanent = nodeIn({ flags: SYSCTL_VERSION | CTLTYPE_INT | CTLFLAG_IMMEDIATE | CTLFLAG_PERMANENT, num: CTL_CREATE, name: "p" })
      assert.strictEqual((yield* call(root, [CTL_VENDOR, CTL_CREATE], NODE, permanent)).error, Errno.EPERM)
      assert.strictEqual((yield* call(root, [CTL_KERN, sysctlKern.KERN_HOSTNAME, CTL_CREATE], NODE, int("x"))).error, Errno.EINVAL)
      assert.strictEqual((yield* call(root, [CTL_KERN, CTL_DESTROY], NODE, nodeIn({ num: sysctlKern.KERN_OSTYPE }))).error, Errno.EPERM)
      assert.strictEqual((yield* call(root, [CTL_DESTROY], NODE, nodeIn({ num: CTL_VENDOR }))).error, Errno.EPERM)
      assert.strictEqual((yield* call(user, [CTL_VENDOR, CTL_DESTROY], NODE, nodeIn({ num: 1 }))).error, Errno.EPERM)
    }))
})

describe("writes", () => {
  it.effect("EPERM for a process that is not the superuser, the value kept", () =>
    Effect.gen(function*() {
      const k = yield* boot({ hostname: "keep" })
      const user = nonRoot(yield* k.guest())
      const w = yield* call(user, [CTL_KERN, sysctlKern.KERN_HOSTNAME], 64, text("mine\0"))
      assert.strictEqual(w.error, Errno.EPERM)
      assert.strictEqual(k.kernel.state.hostname, "keep")
      // reading is anyone's
      assert.strictEqual(decode((yield* call(user, [CTL_KERN, sysctlKern.KERN_HOSTNAME], 64)).bytes), "keep\0")
    }))

  it.effect("ENOMEM with the size needed, and the value that fits, for a struct and a string", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const clock = yield* call(g, [CTL_KERN, sysctlKern.KERN_CLOCKRATE], 8)
      assert.strictEqual(clock.error, Errno.ENOMEM)
      assert.strictEqual(clock.oldlen, 20n)
      const full = yield* call(g, [CTL_KERN, sysctlKern.KERN_CLOCKRATE], 20)
      const v = new DataView(full.bytes.buffer, full.bytes.byteOffset)
      assert.deepStrictEqual([0, 4, 8].map((o) => v.getInt32(o, true)), [100, 10000, 40])
      const model = yield* call(g, [CTL_HW, sysctlHw.HW_MODEL], 4)
      assert.strictEqual(model.error, Errno.ENOMEM)
      assert.strictEqual(model.oldlen, BigInt("rumpcore (virtual)".length + 1))
      assert.strictEqual(decode(model.bytes), "rump")
    }))
})

describe("nodes added at boot (KernelConfig.sysctl)", () => {
  it.effect("a top-level node of the server's own: read by anyone, set by the superuser, EINVAL leaves the old value", () =>
    Effect.gen(function*() {
      let mode = "off"
      const k = yield* boot({
        sysctl: [{
          name: "sysproxy",
          num: CTL_SYSPROXY,
          children: [{
            name: "inject",
            type: "string",
            read: () => mode,
            write: (v) => {
              if (!/^(off|drop|delay)$/.test(v)) return false
              mode = v
              return true
            }
          }]
        }]
      })
      const g = yield* k.guest()
      const top = (yield* queryOf(g, [])).nodes
      assert.deepStrictEqual(top.map((n) => n.num).slice(-2), [13, CTL_SYSPROXY])
      const children = (yield* queryOf(g, [CTL_SYSPROXY])).nodes
      assert.strictEqual(children[0]!.name, "inject")
      const mib = [CTL_SYSPROXY, children[0]!.num]
      assert.strictEqual(decode((yield* call(g, mib, 64)).bytes), "off\0")
      const set = yield* call(g, mib, 64, text("drop\0"))
      assert.strictEqual(set.error, 0)
      assert.strictEqual(decode(set.bytes), "off\0")
      assert.strictEqual(mode, "drop")
      assert.strictEqual((yield* call(g, mib, 64, text("explode\0"))).error, Errno.EINVAL)
      assert.strictEqual(mode, "drop")
      const user = nonRoot(yield* k.guest())
      assert.strictEqual((yield* call(user, mib, 64, text("off\0"))).error, Errno.EPERM)
      assert.strictEqual(mode, "drop")
      // the default tree has no such node
      const plain = yield* boot()
      const p = yield* plain.guest()
      assert.strictEqual((yield* call(p, [CTL_SYSPROXY, CTL_QUERY], 4096, nodeIn({}))).error, Errno.ENOENT)
    }))
})
