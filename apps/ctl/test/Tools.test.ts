/**
 * Each tool against a real server (kernel and server in this process, a
 * unix socket between them and the tool's client), with what the tool
 * prints and its exit status checked as its Unix namesake's would be.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { rebootFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cutAt } from "./support/CutProxy.ts"
import { hostDir, on, run, type Server, startServer } from "./support/Harness.ts"

/** A client of the same server, to set things up and look at them. */
const peer = (server: Server) => makeClient({ url: server.url, comm: "peer" })

describe("halt", () => {
  it.live("halts the server with the flags as reboot howto", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const ran = yield* on(server, "halt", "-n", "--dump")
      assert.deepInclude(ran, { code: 0, stdout: "", stderr: "" })
      const halt = yield* server.halted
      assert.deepInclude(halt, { howto: rebootFlags.RB_NOSYNC | rebootFlags.RB_DUMP })
    }))

  it.live("--linger sends RB_HALT alone, and the help says so of each flag", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      assert.deepInclude(yield* on(server, "halt", "--linger"), { code: 0, stderr: "" })
      assert.deepInclude(yield* server.halted, { howto: rebootFlags.RB_HALT })
      const help = (yield* run(["halt", "--help"])).console
      assert.match(help, /--linger\s+send RB_HALT: halt rather than reboot/)
      assert.match(help, /--dump, -d\s+send RB_DUMP/)
      assert.match(help, /--no-sync, -n\s+send RB_NOSYNC/)
      // what the server does with the flags is not the tool's promise
      assert.notMatch(help, /process running/)
    }))
})

describe("sysctl", () => {
  it.live("prints name = value, or only the value with -n", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      assert.deepInclude(yield* on(server, "sysctl", "kern.hostname", "hw.ncpu"), {
        code: 0,
        stdout: "kern.hostname = ctl-test\nhw.ncpu = 1\n"
      })
      assert.strictEqual((yield* on(server, "sysctl", "-n", "kern.ostype")).stdout, "NetBSD\n")
      // the structs it knows spelled out; quads unsigned; the numbers of a name turned into names
      assert.strictEqual(
        (yield* on(server, "sysctl", "kern.clockrate")).stdout,
        "kern.clockrate: tick = 10000, tickadj = 40, hz = 100, profhz = 100, stathz = 100\n"
      )
      assert.match((yield* on(server, "sysctl", "hw.physmem64")).stdout, /^hw\.physmem64 = \d+\n$/)
      assert.strictEqual((yield* on(server, "sysctl", "1.1")).stdout, "kern.ostype = NetBSD\n")
      assert.strictEqual((yield* on(server, "sysctl", "proc.curproc.rlimit.cputime.soft")).stdout, "proc.curproc.rlimit.cputime.soft = unlimited\n")
    }))

  it.live("sets with -w and prints old -> new (the new value alone with -n); refuses = without -w", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      assert.deepInclude(yield* on(server, "sysctl", "-w", "kern.hostname=renamed"), {
        code: 0,
        stdout: "kern.hostname: ctl-test -> renamed\n"
      })
      const c = yield* peer(server)
      assert.strictEqual(yield* c.sysctl("kern.hostname"), "renamed")
      // NetBSD's sysctl -n -w: the new value alone, no name, no old value
      assert.deepInclude(yield* on(server, "sysctl", "-n", "-w", "kern.hostname=quiet"), { code: 0, stdout: "quiet\n" })
      assert.strictEqual(yield* c.sysctl("kern.hostname"), "quiet")
      assert.deepInclude(yield* on(server, "sysctl", "-w", "kern.hostname=renamed"), { code: 0 })
      assert.deepInclude(yield* on(server, "sysctl", "kern.hostname=again"), {
        code: 1,
        stdout: "",
        stderr: "sysctl: Must specify -w to set variables\n"
      })
      assert.strictEqual(yield* c.sysctl("kern.hostname"), "renamed")
      assert.deepInclude(yield* on(server, "sysctl", "-w", "hw.ncpu=many"), {
        code: 1,
        stderr: "sysctl: hw.ncpu: many is not a 32-bit integer\n"
      })
      // the kernel's own refusal: hw.ncpu is read-only
      assert.deepInclude(yield* on(server, "sysctl", "-w", "hw.ncpu=4"), {
        code: 1,
        stderr: "sysctl: hw.ncpu: Operation not permitted\n"
      })
    }))

  it.live("names an invalid level; lists a node's readable children, refuses one it cannot; -a lists everything", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      // sysctl(8) stops at a name it cannot resolve
      const bad = yield* on(server, "sysctl", "kern.ostype", "kern.nosuch", "kern.ostype")
      assert.deepInclude(bad, {
        code: 1,
        stdout: "kern.ostype = NetBSD\n",
        stderr: "sysctl: second level name 'nosuch' in 'kern.nosuch' is invalid\n"
      })
      // a full kernel's name a rump kernel lacks
      assert.deepInclude(yield* on(server, "sysctl", "kern.maxfiles"), {
        code: 1,
        stderr: "sysctl: second level name 'maxfiles' in 'kern.maxfiles' is invalid\n"
      })
      const hw = yield* on(server, "sysctl", "hw")
      assert.strictEqual(hw.code, 0)
      assert.include(hw.stdout, "hw.ncpu = 1\n")
      assert.include(hw.stdout, "hw.machine_arch = x86_64\n")
      assert.notInclude(hw.stdout, "kern.")
      // a node another program shows, named: sysctl(8)'s pointer to it and exit 1
      assert.deepInclude(yield* on(server, "sysctl", "kern.proc2", "kern.ostype"), {
        code: 1,
        stdout: "kern.ostype = NetBSD\n",
        stderr: "sysctl: kern.proc2: use 'ps' to view this information\n"
      })
      assert.deepInclude(yield* on(server, "sysctl", "-n", "kern.14"), {
        code: 1,
        stdout: "",
        stderr: "sysctl: kern.proc: use 'ps' to view this information\n"
      })
      // a struct it has no format for, named
      assert.deepInclude(yield* on(server, "sysctl", "kern.mbuf.stats"), {
        code: 1,
        stderr: "sysctl: kern.mbuf.stats: this type is unknown to this program\n"
      })
      assert.deepInclude(yield* on(server, "sysctl", "kern.pipe"), {
        code: 0,
        stdout: "kern.pipe.maxkvasz = 16777216\nkern.pipe.maxloankvasz = 4194304\nkern.pipe.maxbigpipes = 32\n" +
          "kern.pipe.nbigpipes = 0\nkern.pipe.kvasize = 0\n"
      })
      assert.deepInclude(yield* on(server, "sysctl", "net.inet"), {
        code: 1,
        stderr: "sysctl: net.inet: use 'netstat' to view this information\n"
      })
      // -a walks the whole tree with CTL_QUERY; what it cannot show it passes over in silence
      const all = yield* on(server, "sysctl", "-a")
      assert.deepInclude(all, { code: 0, stderr: "" })
      const lines = all.stdout.trimEnd().split("\n")
      assert.strictEqual(lines[0], "kern.ostype = NetBSD")
      for (const want of ["kern.hostname = ctl-test", "hw.pagesize = 4096", "hw.model = rumpcore (virtual)", "vfs.sync.delay = 30",
        "proc.curproc.rlimit.descriptors.hard = 1772", "kern.timecounter.hardware = rumpclk", "kern.module.autoload = 1"]) {
        assert.include(lines, want)
      }
      for (const never of ["kern.proc2", "kern.mbuf.stats", "kern.file", "net.inet"]) {
        assert.isFalse(lines.some((l) => l.startsWith(`${never} `)), never)
      }
    }))
})

describe("ls", () => {
  it.live("lists names sorted, dot files with -a, files before directories, headers for several", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/d")
      yield* Effect.forEach(["b", "a", ".hidden", "C"], (n) => c.writeFile(`/d/${n}`, n), { discard: true })
      yield* c.mkdir("/e")
      yield* c.writeFile("/f", "f")
      assert.deepInclude(yield* on(server, "ls", "/d"), { code: 0, stdout: "C\na\nb\n" })
      assert.strictEqual((yield* on(server, "ls", "-a", "/d")).stdout, ".\n..\n.hidden\nC\na\nb\n")
      assert.strictEqual((yield* on(server, "ls", "/e", "/f", "/d")).stdout, "/f\n\n/d:\nC\na\nb\n\n/e:\n")
      assert.strictEqual((yield* on(server, "ls", "/f")).stdout, "/f\n")
    }))

  it.live("-l shows mode, links, owner, group, size, time and link targets", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/l")
      yield* c.writeFile("/l/file", "12345", 0o640)
      yield* c.mkdir("/l/sub", 0o750)
      yield* c.symlink("/l/file", "/l/link")
      const ran = yield* on(server, "ls", "-l", "/l")
      assert.strictEqual(ran.code, 0)
      const lines = ran.stdout.trimEnd().split("\n")
      assert.match(lines[0] ?? "", /^total \d+$/)
      const time = String.raw`\w{3} [ \d]\d (\d\d:\d\d| \d{4})`
      assert.match(lines[1] ?? "", new RegExp(String.raw`^-rw-r-----  1 0  0  5 ${time} file$`))
      assert.match(lines[2] ?? "", new RegExp(String.raw`^lrwxr-xr-x  1 0  0  7 ${time} link -> /l/file$`))
      assert.match(lines[3] ?? "", new RegExp(String.raw`^drwxr-x---  2 0  0  \d ${time} sub$`))
      assert.strictEqual(lines.length, 4)
    }))

  it.live("a missing operand: the message of ls(1), exit 1, the others still listed", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const ran = yield* on(server, "ls", "/nope", "/tmp")
      assert.deepInclude(ran, { code: 1, stderr: "ls: /nope: No such file or directory\n", stdout: "/tmp:\n" })
      const c = yield* peer(server)
      yield* c.writeFile("/tmp/x", "")
      assert.deepInclude(yield* on(server, "ls", "/nope", "/tmp"), { code: 1, stdout: "/tmp:\nx\n" })
    }))

  it.live("a server lost mid-listing fails the tool (exit 1, one line), not a short listing", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/d")
      yield* c.writeFile("/d/a", "a")
      // the directory's own stat goes through; the first entry's lstat is where the server dies
      const cut = yield* cutAt(server.url, SYS.__lstat50)
      const ran = yield* run(["--server", cut, "ls", "/d"])
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      assert.match(ran.stderr, /^sysproxy: .*closed.*\n$/)
    }))
})

describe("cat", () => {
  it.live("writes the files' bytes unchanged, in order, however large", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const binary = new Uint8Array(200_000).map((_, i) => (i * 31 + 7) % 256)
      yield* c.writeFile("/bin.dat", binary)
      yield* c.writeFile("/t", "tail\n")
      const ran = yield* on(server, "cat", "/bin.dat", "/t")
      assert.strictEqual(ran.code, 0)
      assert.deepStrictEqual(ran.stdoutBytes, new Uint8Array([...binary, ...new TextEncoder().encode("tail\n")]))
    }))

  it.live("cat /nope: the message on stderr, exit 1, the other files still printed", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/ok", "fine\n")
      yield* c.mkdir("/dir")
      assert.deepInclude(yield* on(server, "cat", "/nope", "/ok"), {
        code: 1,
        stdout: "fine\n",
        stderr: "cat: /nope: No such file or directory\n"
      })
      assert.deepInclude(yield* on(server, "cat", "/dir"), { code: 1, stderr: "cat: /dir: Is a directory\n" })
    }))
})

describe("put and get", () => {
  it.live("put copies a host file, into a directory under its name, keeping its permission bits", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const dir = yield* hostDir
      const local = Path.join(dir, "notes.txt")
      Fs.writeFileSync(local, "remote notes\n", { mode: 0o640 })
      Fs.chmodSync(local, 0o640)
      assert.deepInclude(yield* on(server, "put", local, "/copy"), { code: 0, stdout: "", stderr: "" })
      const c = yield* peer(server)
      assert.strictEqual(new TextDecoder().decode(yield* c.readFile("/copy")), "remote notes\n")
      assert.strictEqual((yield* c.stat("/copy")).mode & 0o777, 0o640)
      assert.strictEqual((yield* on(server, "put", local, "/tmp")).code, 0)
      assert.strictEqual(new TextDecoder().decode(yield* c.readFile("/tmp/notes.txt")), "remote notes\n")
    }))

  it.live("put - reads stdin; a missing local file or remote directory is reported", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const piped = yield* run(["put", "-", "/stdin"], { env: { RUMP_SERVER: server.url }, stdin: "from stdin" })
      assert.strictEqual(piped.code, 0)
      const c = yield* peer(server)
      assert.strictEqual(new TextDecoder().decode(yield* c.readFile("/stdin")), "from stdin")
      const dir = yield* hostDir
      const missing = Path.join(dir, "missing")
      assert.deepInclude(yield* on(server, "put", missing, "/x"), {
        code: 1,
        stderr: `put: ${missing}: No such file or directory\n`
      })
      const local = Path.join(dir, "f")
      Fs.writeFileSync(local, "f")
      assert.deepInclude(yield* on(server, "put", local, "/no/such/dir"), {
        code: 1,
        stderr: "put: /no/such/dir: No such file or directory\n"
      })
    }))

  it.live("get copies a server file to the host, into a directory, or to stdout", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const data = new Uint8Array(100_000).map((_, i) => i % 253)
      yield* c.writeFile("/tmp/blob", data)
      const dir = yield* hostDir
      const local = Path.join(dir, "copy")
      assert.deepInclude(yield* on(server, "get", "/tmp/blob", local), { code: 0, stderr: "" })
      assert.deepStrictEqual(new Uint8Array(Fs.readFileSync(local)), data)
      assert.strictEqual((yield* on(server, "get", "/tmp/blob", dir)).code, 0)
      assert.deepStrictEqual(new Uint8Array(Fs.readFileSync(Path.join(dir, "blob"))), data)
      assert.deepStrictEqual((yield* on(server, "get", "/tmp/blob", "-")).stdoutBytes, data)
      assert.deepInclude(yield* on(server, "get", "/nope", local), {
        code: 1,
        stderr: "get: /nope: No such file or directory\n"
      })
      assert.deepInclude(yield* on(server, "get", "/tmp/blob", Path.join(dir, "no", "such")), { code: 1 })
    }))
})

describe("mkdir and rm", () => {
  it.live("mkdir makes directories, -p with parents and no complaint for existing ones", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      assert.deepInclude(yield* on(server, "mkdir", "/a", "/b"), { code: 0, stderr: "" })
      assert.isTrue(((yield* c.stat("/b")).mode & 0o170000) === 0o040000)
      assert.deepInclude(yield* on(server, "mkdir", "/a", "/c"), { code: 1, stderr: "mkdir: /a: File exists\n" })
      assert.strictEqual((yield* c.readdir("/")).some((e) => e.name === "c"), true, "the other operand was made")
      assert.deepInclude(yield* on(server, "mkdir", "/x/y/z"), { code: 1, stderr: "mkdir: /x/y/z: No such file or directory\n" })
      assert.deepInclude(yield* on(server, "mkdir", "-p", "/x/y/z", "/a"), { code: 0, stderr: "" })
      assert.strictEqual((yield* c.readdir("/x/y")).map((e) => e.name).includes("z"), true)
      yield* c.writeFile("/file", "")
      assert.deepInclude(yield* on(server, "mkdir", "-p", "/file/sub"), { code: 1, stderr: "mkdir: /file/sub: Not a directory\n" })
      // the last component itself a file: mkdir(1)'s "File exists", with or without -p, trailing slash or not
      assert.deepInclude(yield* on(server, "mkdir", "-p", "/file"), { code: 1, stderr: "mkdir: /file: File exists\n" })
      assert.deepInclude(yield* on(server, "mkdir", "-p", "/file/"), { code: 1, stderr: "mkdir: /file/: File exists\n" })
      assert.deepInclude(yield* on(server, "mkdir", "/file"), { code: 1, stderr: "mkdir: /file: File exists\n" })
    }))

  it.live("rm removes files, directories only with -r, is quiet about missing ones with -f", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/f", "x")
      yield* c.mkdir("/d")
      yield* c.mkdir("/d/e")
      yield* c.writeFile("/d/e/g", "y")
      assert.deepInclude(yield* on(server, "rm", "/f"), { code: 0, stderr: "" })
      assert.deepInclude(yield* Effect.flip(c.stat("/f")), { code: "ENOENT" })
      assert.deepInclude(yield* on(server, "rm", "/f"), { code: 1, stderr: "rm: /f: No such file or directory\n" })
      assert.deepInclude(yield* on(server, "rm", "-f", "/f"), { code: 0, stderr: "" })
      assert.deepInclude(yield* on(server, "rm", "/d"), { code: 1, stderr: "rm: /d: is a directory\n" })
      assert.deepInclude(yield* on(server, "rm", "/d/."), { code: 1, stderr: `rm: "." and ".." may not be removed\n` })
      assert.deepInclude(yield* on(server, "rm", "-rf", "/d"), { code: 0, stderr: "" })
      assert.deepInclude(yield* Effect.flip(c.stat("/d")), { code: "ENOENT" })
    }))

  it.live("rm -f forgives only ENOENT: ENOTDIR is reported, and a lost connection fails", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/file", "x")
      assert.deepInclude(yield* on(server, "rm", "-f", "/file/sub"), {
        code: 1,
        stderr: "rm: /file/sub: Not a directory\n"
      })
      assert.deepInclude(yield* on(server, "rm", "/file/sub"), { code: 1, stderr: "rm: /file/sub: Not a directory\n" })
      const cut = yield* cutAt(server.url, SYS.__lstat50)
      const lost = yield* run(["--server", cut, "rm", "-f", "/file"])
      assert.strictEqual(lost.code, 1)
      assert.match(lost.stderr, /^sysproxy: .*closed.*\n$/)
      assert.strictEqual(new TextDecoder().decode(yield* c.readFile("/file")), "x", "nothing was removed")
    }))
})

describe("stat and ps", () => {
  it.live("stat prints stat(1)'s default line; a missing file is lstat's error", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/s", "123", 0o604)
      const st = yield* c.lstat("/s")
      const ran = yield* on(server, "stat", "/s", "/nope")
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stderr, "stat: /nope: lstat: No such file or directory\n")
      const date = String.raw`"\w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"`
      assert.match(
        ran.stdout,
        new RegExp(String.raw`^${st.dev} ${st.ino} -rw----r-- 1 0 0 18446744073709551615 3 ${date} ${date} ${date} ${date} ${st.blksize} ${st.blocks} 0 /s\n$`)
      )
    }))

  it.live("ps lists every process of the kernel, itself included", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const other = yield* makeClient({ url: server.url, comm: "other-proc" })
      const otherPid = yield* other.getpid()
      const ran = yield* on(server, "ps")
      assert.strictEqual(ran.code, 0)
      const [header, ...rows] = ran.stdout.trimEnd().split("\n")
      assert.strictEqual(header, "  PID  PPID   UID STAT COMMAND")
      assert.match(rows[0] ?? "", /^\s+1\s+0\s+0 \S+\s+init$/)
      assert.isTrue(rows.some((r) => new RegExp(String.raw`^\s+${otherPid}\s+1\s+0 \S+\s+other-proc$`).test(r)))
      assert.isTrue(rows.some((r) => /\s+sysproxy-ps$/.test(r)), "its own process")
    }))
})
