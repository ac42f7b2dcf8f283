import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import {
  ELAST,
  Errno,
  errnoMessage,
  errnoName,
  fcntlCmds,
  ioctl,
  openFlags,
  rebootFlags,
  rlimit,
  signals,
  Structs,
  SYS,
  SyscallByNumber,
  Syscalls,
  sysproxy
} from "../src/netbsd/index.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const generator = join(repoRoot, "scripts", "gen-netbsd-abi.mjs")
const generatedDir = join(repoRoot, "packages", "protocol", "src", "netbsd")
const factsDir = join(repoRoot, "..", "shared", "netbsd-abi")

// Expected values below are written by hand from the NetBSD headers
// (sys/errno.h, sys/fcntl.h, sys/signal.h, sys/filio.h, sys/syscall.h,
// sys/reboot.h), not copied from the generated files.

describe("NetBSD errno", () => {
  it("has the header values", () => {
    expect(Errno.EPERM).toBe(1)
    expect(Errno.ENOENT).toBe(2)
    expect(Errno.EBADF).toBe(9)
    expect(Errno.EAGAIN).toBe(35)
    expect(Errno.EWOULDBLOCK).toBe(35)
    expect(Errno.ENOTCONN).toBe(57)
    expect(Errno.ENOSYS).toBe(78)
    expect(Errno.EFTYPE).toBe(79)
    expect(Errno.EPROTO).toBe(96)
    expect(ELAST).toBe(96)
  })

  it("covers 1..ELAST with non-negative values only", () => {
    const values = new Set<number>(Object.values(Errno))
    for (let n = 1; n <= 96; n++) expect(values.has(n)).toBe(true)
    expect(Math.min(...values)).toBe(1)
    expect(Math.max(...values)).toBe(96)
    expect(Object.keys(Errno)).not.toContain("ERESTART")
    expect(Object.keys(Errno)).not.toContain("EJUSTRETURN")
    expect(errnoName(-3)).toBeUndefined()
  })

  it("names errnos by their primary name", () => {
    expect(errnoName(35)).toBe("EAGAIN")
    expect(errnoName(2)).toBe("ENOENT")
    expect(errnoName(96)).toBe("EPROTO")
    expect(errnoName(0)).toBeUndefined()
    expect(errnoName(97)).toBeUndefined()
    for (let n = 1; n <= 96; n++) {
      const name = errnoName(n)
      expect(name).toBeDefined()
      if (name !== undefined) expect(Errno[name]).toBe(n)
    }
  })

  it("gives the NetBSD strerror texts", () => {
    expect(errnoMessage(1)).toBe("Operation not permitted")
    expect(errnoMessage(2)).toBe("No such file or directory")
    expect(errnoMessage(9)).toBe("Bad file descriptor")
    expect(errnoMessage(35)).toBe("Resource temporarily unavailable")
    expect(errnoMessage(57)).toBe("Socket is not connected")
    expect(errnoMessage(78)).toBe("Function not implemented")
    expect(errnoMessage(79)).toBe("Inappropriate file type or format")
    expect(errnoMessage(96)).toBe("Protocol error")
    expect(errnoMessage(0)).toBe("Undefined error: 0")
    expect(errnoMessage(1234)).toBe("Unknown error: 1234")
    const texts = new Set<string>()
    for (let n = 1; n <= 96; n++) texts.add(errnoMessage(n))
    expect(texts.size).toBe(96)
  })
})

describe("NetBSD constants", () => {
  it("has the header values", () => {
    expect(openFlags.O_CREAT).toBe(0x200)
    expect(openFlags.O_RDWR).toBe(2)
    expect(openFlags.O_NONBLOCK).toBe(4)
    expect(fcntlCmds.F_GETFL).toBe(3)
    expect(signals.SIGUSR1).toBe(30)
    expect(signals.SIGKILL).toBe(9)
    expect(ioctl.FIONREAD).toBe(0x4004667f)
    expect(ioctl.FIONBIO).toBe(0x8004667e)
    expect(rebootFlags.RB_HALT).toBe(8)
    expect(rebootFlags.RB_POWERDOWN).toBe(0x808)
  })

  it("writes values beyond 2^53 as bigint and keeps nested groups", () => {
    expect(rlimit.RLIM_INFINITY).toBe(0x7fffffffffffffffn)
    expect(sysproxy.rsp_type.RUMPSP_SYSCALL).toBe(1)
    expect(sysproxy.misc.HDRSZ).toBe(24)
    expect(sysproxy.rsp_error_to_errno.RUMPSP_ERR_TRYAGAIN).toBe("EAGAIN")
  })
})

describe("NetBSD syscalls", () => {
  it("has the syscall numbers", () => {
    expect(SYS.read).toBe(3)
    expect(SYS.write).toBe(4)
    expect(SYS.getpid).toBe(20)
    expect(SYS.__sysctl).toBe(202)
    expect(SYS.reboot).toBe(208)
    expect(SYS.__stat50).toBe(439)
  })

  it("has 8 argument bytes per argument", () => {
    expect(Syscalls.length).toBeGreaterThan(200)
    for (const s of Syscalls) expect(s.argBytes, s.name).toBe(8 * s.args.length)
  })

  it("describes arguments", () => {
    const read = SyscallByNumber.get(3)
    expect(read?.name).toBe("read")
    expect(read?.args.map((a) => [a.name, a.size, a.signed, a.pointer])).toEqual([
      ["fd", 4, true, false],
      ["buf", 8, false, true],
      ["nbyte", 8, false, false]
    ])
    expect(SyscallByNumber.get(SYS.getpid)?.noerr).toBe(true)
    expect(SyscallByNumber.get(SYS.lseek)?.args.map((a) => a.name)).toEqual(["fd", "PAD", "offset", "whence"])
  })

  it("SyscallByNumber agrees with SYS for every entry", () => {
    expect(SyscallByNumber.size).toBe(Syscalls.length)
    expect(Object.keys(SYS).length).toBe(Syscalls.length)
    for (const [name, number] of Object.entries(SYS)) {
      expect(SyscallByNumber.get(number)?.name, name).toBe(name)
    }
    for (const s of Syscalls) {
      expect(SyscallByNumber.get(s.number)).toBe(s)
      expect((SYS as Record<string, number>)[s.name]).toBe(s.number)
    }
  })
})

describe("NetBSD structs", () => {
  it("has the amd64 layouts", () => {
    expect(Structs.stat.size).toBe(152)
    const fileno = Structs.dirent.fields.find((f) => f.name === "d_fileno")
    expect(fileno).toMatchObject({ offset: 0, size: 8 })
    expect(Structs.kinfo_proc2.size).toBe(680)
    expect(Structs.timespec.size).toBe(16)
    expect(Structs.rsp_hdr.size).toBe(24)
    expect(Structs.rsp_hdr.fields.find((f) => f.name === "u")).toEqual({
      name: "u",
      offset: 20,
      size: 4,
      ctype: "union"
    })
  })

  it("keeps fields in order, inside the struct", () => {
    for (const [name, s] of Object.entries(Structs)) {
      let end = 0
      for (const f of s.fields) {
        expect(f.offset, `${name}.${f.name}`).toBeGreaterThanOrEqual(end)
        end = f.offset + f.size
      }
      expect(end, name).toBeLessThanOrEqual(s.size)
      expect(s.size % s.align, name).toBe(0)
    }
  })
})

describe("generated files", () => {
  it.skipIf(!existsSync(factsDir))("are up to date with the netbsd-abi facts", () => {
    const out = mkdtempSync(join(tmpdir(), "netbsd-abi-"))
    try {
      const run = spawnSync(process.execPath, [generator, factsDir, out], { encoding: "utf8" })
      expect(run.stderr).toBe("")
      expect(run.status).toBe(0)
      const files = readdirSync(out).sort()
      expect(files).toEqual(["constants.ts", "errno.ts", "index.ts", "structs.ts", "syscalls.ts"])
      for (const file of files) {
        const fresh = readFileSync(join(out, file), "utf8")
        const committed = readFileSync(join(generatedDir, file), "utf8")
        expect(committed === fresh, `${file} is stale: run npm run gen:abi`).toBe(true)
      }
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})
