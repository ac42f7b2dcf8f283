/**
 * The command line: flags in any order and clustered, the server from
 * --server or RUMP_SERVER, and bad command lines refused with exit 2
 * before anything connects; the exit status of each outcome.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { exitCode, failed } from "../src/ExitStatus.ts"
import { run, startServer } from "./support/Harness.ts"

describe("parsing", () => {
  it.live("--server before or after the tool; RUMP_SERVER when it is absent; the flag wins", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const expected = "kern.hostname = ctl-test\n"
      assert.strictEqual((yield* run(["--server", server.url, "sysctl", "kern.hostname"])).stdout, expected)
      assert.strictEqual((yield* run(["sysctl", "--server", server.url, "kern.hostname"])).stdout, expected)
      assert.strictEqual((yield* run(["sysctl", "kern.hostname"], { env: { RUMP_SERVER: server.url } })).stdout, expected)
      const wins = yield* run(["--server", server.url, "sysctl", "kern.hostname"], {
        env: { RUMP_SERVER: "unix:///nonexistent/sock" }
      })
      assert.deepInclude(wins, { code: 0, stdout: expected })
    }))

  it.live("clustered short flags and flags after operands", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const env = { RUMP_SERVER: server.url }
      const clustered = yield* run(["ls", "-la", "/tmp"], { env })
      const apart = yield* run(["ls", "/tmp", "-l", "-a"], { env })
      assert.strictEqual(clustered.code, 0)
      assert.match(clustered.stdout, /^total \d+\n.* \.\n.* \.\.\n$/)
      assert.strictEqual(apart.stdout, clustered.stdout)
      assert.strictEqual((yield* run(["sysctl", "-nw", "kern.hostname=x"], { env })).stdout, "x\n")
    }))

  it.live("bad command lines exit 2 with what is wrong and one usage line on stderr, and connect to nothing", () =>
    Effect.gen(function*() {
      // RUMP_SERVER points nowhere: a tool that ran would exit 1, not 2
      const env = { RUMP_SERVER: "unix:///nonexistent/sock" }
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["ls", "--bogus"], "sysproxy ls: Unrecognized flag: --bogus in command sysproxy ls\nusage: sysproxy ls [flags] [<path...>]"],
        [["cat"], "sysproxy cat: Missing required argument: file\nusage: sysproxy cat [flags] <file...>"],
        [["put", "only-one"], "sysproxy put: Missing required argument: REMOTE\nusage: sysproxy put [flags] <LOCAL> <REMOTE>"],
        [["frobnicate"], 'sysproxy: Unknown subcommand "frobnicate" for "sysproxy"\nusage: sysproxy <subcommand> [flags]'],
        [["mkdir", "-q", "/x"], "sysproxy mkdir: Unrecognized flag: -q in command sysproxy mkdir\nusage: sysproxy mkdir [flags] <dir...>"]
      ]
      for (const [args, message] of cases) {
        const ran = yield* run(args, { env })
        assert.strictEqual(ran.code, 2, `${args.join(" ")}: ${ran.console}`)
        assert.strictEqual(ran.consoleErrors, message)
        assert.strictEqual(ran.console, ran.consoleErrors, "no help on stdout")
        assert.strictEqual(ran.stderr, "", "nothing from the tool itself")
      }
      // --help is the whole help, on stdout
      const help = yield* run(["cp", "--help"])
      assert.deepInclude(help, { code: 0, consoleErrors: "" })
      assert.match(help.console, /USAGE\n  sysproxy cp/)
    }))

  it.live("--uid and --gid outside 0..4294967294: exit 2 with one line, nothing run as root", () =>
    Effect.gen(function*() {
      const env = { RUMP_SERVER: "unix:///nonexistent/sock" }
      for (const [flag, value] of [["--uid", "4294967296"], ["--uid", "-1"], ["--gid", "4294967295"]] as const) {
        const ran = yield* run([flag, value, "id"], { env })
        assert.strictEqual(ran.code, 2, ran.console)
        assert.strictEqual(
          ran.consoleErrors,
          `sysproxy id: Invalid value for flag ${flag}: "${value}". Expected: an id from 0 to 4294967294\nusage: sysproxy id [flags]`
        )
      }
    }))

  it.live("--help and --version exit 0", () =>
    Effect.gen(function*() {
      const help = yield* run(["--help"])
      assert.strictEqual(help.code, 0)
      for (const tool of ["halt", "sysctl", "ls", "cat", "put", "get", "cp", "mv", "ln", "mkdir", "rm", "chmod", "chown", "touch", "stat", "ps", "df", "du", "find", "dd", "tail", "id", "sh"]) {
        assert.match(help.console, new RegExp(`\\n  ${tool} `))
      }
      const version = yield* run(["--version"])
      assert.deepInclude(version, { code: 0 })
      assert.match(version.console, /0\.1\.0/)
      assert.strictEqual((yield* run(["ls", "--help"])).code, 0)
    }))

  it.live("no server anywhere, or one that is not there: one line and exit 1", () =>
    Effect.gen(function*() {
      assert.deepInclude(yield* run(["ls", "/"]), {
        code: 1,
        stdout: "",
        stderr: "sysproxy: no server URL given and RUMP_SERVER is not set\n"
      })
      const gone = yield* run(["--server", "unix:///nonexistent/sock", "ps"])
      assert.strictEqual(gone.code, 1)
      assert.match(gone.stderr, /^sysproxy: cannot connect to \/nonexistent\/sock: .*\n$/)
      const bad = yield* run(["--server", "http://x", "ps"])
      assert.strictEqual(bad.code, 1)
      assert.match(bad.stderr, /^sysproxy: .*http:\/\/x.*\n$/)
    }))
})

describe("exit status", () => {
  it("128 + the signal for an interruption by one, 1 for one without, the ExitStatus's code", () => {
    assert.strictEqual(exitCode(Exit.void), 0)
    assert.strictEqual(exitCode(Exit.interrupt(1), "SIGINT"), 130)
    assert.strictEqual(exitCode(Exit.interrupt(1), "SIGTERM"), 143)
    assert.strictEqual(exitCode(Exit.interrupt(1)), 1)
    assert.strictEqual(exitCode(Exit.fail(failed), "SIGTERM"), 1, "a failure is not a signal's doing")
  })
})
