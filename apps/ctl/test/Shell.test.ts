/**
 * `sysproxy sh`: one process for a whole session (cd holds, one
 * connection), commands from -c, a script file, piped stdin and a
 * terminal (a pseudo-terminal from script(1): prompt, line editing, tab
 * completion of kernel paths, history); and the completion scripts
 * effect/cli generates for the tool's flags and subcommands.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { HAS_SCRIPT, startCtl } from "./support/Child.ts"
import { hostDir, on, run, type Server, startServer } from "./support/Harness.ts"
import { completeWith, dropPastedTabs } from "../src/shell/Interactive.ts"
import { echoText } from "../src/shell/Shell.ts"
import { parseScript, type Word } from "../src/shell/Words.ts"

const peer = (server: Server) => makeClient({ url: server.url, comm: "peer" })
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const SLOW = 60_000

describe("sh", () => {
  it.live("-c: commands in one process: cd holds, relative paths follow it, the status is the last command's", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/work")
      const ran = yield* on(server, "sh", "-c", "cd /work; pwd; touch a 'b c'; ls; mkdir sub; cd sub; pwd; ps")
      assert.strictEqual(ran.code, 0, ran.stderr)
      const lines = ran.stdout.split("\n")
      assert.deepStrictEqual(lines.slice(0, 5), ["/work", "a", "b c", "/work/sub", "  PID  PPID   UID STAT COMMAND"])
      assert.strictEqual(lines.filter((l) => /sysproxy-/.test(l)).length, 1, "one process for every command")
      assert.isTrue(lines.some((l) => / sysproxy-sh$/.test(l)))
      assert.strictEqual(text(yield* c.readFile("/work/b c")), "")
    }))

  it.live("a failing command does not stop the rest; unknown names are 127; exit N ends it with N", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      assert.deepInclude(yield* on(server, "sh", "-c", "cat /nope; echo-not; pwd"), {
        code: 0,
        stdout: "/\n",
        stderr: "cat: /nope: No such file or directory\nsh: echo-not: not found\n"
      })
      assert.deepInclude(yield* on(server, "sh", "-c", "pwd; cat /nope"), { code: 1 })
      assert.deepInclude(yield* on(server, "sh", "-c", "nothing-here"), { code: 127 })
      assert.deepInclude(yield* on(server, "sh", "-c", "exit 3; pwd"), { code: 3, stdout: "" })
      assert.deepInclude(yield* on(server, "sh", "-c", "exit 4x; pwd"), { code: 2, stdout: "", stderr: "sh: exit: Illegal number: 4x\n" })
      assert.deepInclude(yield* on(server, "sh", "-c", "cd /nope"), { code: 2, stderr: "cd: can't cd to /nope\n" })
      assert.deepInclude(yield* on(server, "sh", "-c", "ls 'unterminated"), { code: 2, stderr: "sh: Syntax error: Unterminated quoted string\n" })
      // the shell's process is the one connection: a command cannot ask for another server or user
      assert.deepInclude(yield* on(server, "sh", "-c", "id --uid 5; pwd"), {
        code: 0,
        stdout: "/\n",
        stderr: "id: --server, --uid and --gid go before sh (sysproxy --uid N sh), not on a command inside it\n"
      })
      // a tool's bad command line is its usage error (2), and the shell goes on
      const bad = yield* on(server, "sh", "-c", "ls --bogus; pwd")
      assert.strictEqual(bad.code, 0)
      assert.match(bad.console, /Unrecognized flag: --bogus/)
      assert.strictEqual(bad.stdout, "/\n")
    }))

  it.live("from a script file on the host, and from piped stdin", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const dir = yield* hostDir
      const script = Path.join(dir, "setup.sh")
      Fs.writeFileSync(script, "# make a tree\nmkdir -p /s/t\ncd /s/t\ncp host:" + script + " .\nls\n")
      assert.deepInclude(yield* on(server, "sh", script), { code: 0, stdout: "setup.sh\n", stderr: "" })
      assert.isTrue(text(yield* c.readFile("/s/t/setup.sh")).startsWith("# make a tree"))
      const piped = yield* run(["sh"], { env: { RUMP_SERVER: server.url }, stdin: "cd /s\nfind .\n" })
      assert.deepInclude(piped, { code: 0, stdout: ".\n./t\n./t/setup.sh\n" })
      assert.deepInclude(yield* on(server, "sh", Path.join(dir, "none.sh")), {
        code: 1,
        stderr: `sh: ${Path.join(dir, "none.sh")}: No such file or directory\n`
      })
    }))

  it.live("tab completion: tools for the first word, kernel paths after, directories with their /", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/data")
      yield* c.writeFile("/data/file.txt", "")
      yield* c.writeFile("/data/.hidden", "")
      yield* c.mkdir("/data/folder")
      const complete = completeWith(c)
      assert.deepStrictEqual(yield* complete("to"), [["touch "], "to"])
      assert.deepStrictEqual((yield* complete("c"))[0], ["cat ", "cd ", "chmod ", "chown ", "cp "])
      assert.deepStrictEqual(yield* complete("ls /da"), [["/data/"], "/da"])
      assert.deepStrictEqual(yield* complete("cat /data/f"), [["/data/file.txt", "/data/folder/"], "/data/f"])
      assert.deepStrictEqual(yield* complete("cat /data/."), [["/data/.hidden"], "/data/."])
      yield* c.chdir("/data")
      assert.deepStrictEqual(yield* complete("ls fo"), [["folder/"], "fo"])
    }))

  it("words: quotes, escapes, ; and newlines, comments, && and ||; sh's syntax errors", () => {
    const texts = (ws: ReadonlyArray<Word>) => ws.map((w) => w.text)
    const script = parseScript(`ls -l 'a b' "c \\"d\\"" e\\ f; pwd # comment\ncd /x && ls ||\n pwd`)
    assert.isUndefined(script.error)
    assert.deepStrictEqual(script.lists.map((l) => [texts(l.first), ...l.rest.map((r) => [r.op, ...texts(r.command)])]), [
      [["ls", "-l", "a b", 'c "d"', "e f"]],
      [["pwd"]],
      [["cd", "/x"], ["&&", "ls"], ["||", "pwd"]]
    ])
    assert.deepStrictEqual(parseScript("ls '*' \\? [a]").lists[0]!.first.map((w) => w.quoted), [[false, false], [true], [true], [false, false, false]])
    const error = (text: string) => parseScript(text).error
    assert.strictEqual(error("  ;; "), 'Syntax error: ";;" unexpected')
    assert.strictEqual(error("ls /mnt;;"), 'Syntax error: ";;" unexpected')
    assert.strictEqual(error("; ls"), 'Syntax error: ";" unexpected')
    assert.strictEqual(error("ls &&"), "Syntax error: end of file unexpected")
    assert.strictEqual(error("&& ls"), 'Syntax error: "&&" unexpected')
    assert.strictEqual(error(`echo "open`), "Syntax error: Unterminated quoted string")
    assert.strictEqual(error("ls | cat"), "pipelines (|) are not supported here")
    assert.strictEqual(error("ls > f"), "redirections (>) are not supported here")
    assert.strictEqual(error("ls &"), "background jobs (&) are not supported here")
    // what comes before the line with the error is kept (sh runs it), the line itself is not
    assert.deepStrictEqual(parseScript("pwd\nls;;\npwd").lists.map((l) => texts(l.first)), [["pwd"]])
  })

  it("a tab pasted into the line (two Tabs in one read) is dropped before completing", () => {
    let refreshed = 0
    const editor = { line: "ls /tmp/n\t", cursor: 10, _refreshLine: () => void refreshed++ }
    assert.strictEqual(dropPastedTabs(editor, "ls /tmp/n\t"), "ls /tmp/n")
    assert.deepInclude(editor, { line: "ls /tmp/n", cursor: 9 })
    assert.strictEqual(refreshed, 1)
    const plain = { line: "ls /tm", cursor: 6 }
    assert.strictEqual(dropPastedTabs(plain, "ls /tm"), "ls /tm")
    assert.deepStrictEqual(plain, { line: "ls /tm", cursor: 6 })
  })

  it("echo: -n, and -e's escapes", () => {
    assert.strictEqual(echoText(["a", "b"]), "a b\n")
    assert.strictEqual(echoText(["-n", "a"]), "a")
    assert.strictEqual(echoText(["-e", "a\\tb\\n"]), "a\tb\n\n")
    assert.strictEqual(echoText(["-e", "x\\cy", "z"]), "x")
    assert.strictEqual(echoText(["-e", "\\0101"]), "A\n")
    assert.strictEqual(echoText(["a\\tb"]), "a\\tb\n", "no escapes without -e")
  })

  it.live("&&, || and ; as sh runs them; echo; globs over kernel paths; refusals", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/g")
      for (const name of ["a.txt", "b.txt", "c.dat", ".hidden"]) yield* c.writeFile(`/g/${name}`, "")
      yield* c.mkdir("/g/sub")
      yield* c.writeFile("/g/sub/d.txt", "")
      const sh = (script: string) => on(server, "sh", "-c", script)
      assert.deepInclude(yield* sh("ls /g/a.txt && echo yes"), { code: 0, stdout: "/g/a.txt\nyes\n" })
      assert.deepInclude(yield* sh("ls /nope && echo yes"), { code: 1, stdout: "" })
      assert.deepInclude(yield* sh("ls /nope || echo no"), { code: 0, stdout: "no\n" })
      assert.deepInclude(yield* sh("ls /g/a.txt || echo no; echo after"), { code: 0, stdout: "/g/a.txt\nafter\n" })
      assert.deepInclude(yield* sh("false-cmd || echo a && echo b"), { code: 0, stdout: "a\nb\n" })
      assert.deepInclude(yield* sh("cd /g; echo *.txt"), { code: 0, stdout: "a.txt b.txt\n" })
      assert.deepInclude(yield* sh("echo /g/*/*.txt /g/?.dat /g/[ab].txt"), { code: 0, stdout: "/g/sub/d.txt /g/c.dat /g/a.txt /g/b.txt\n" })
      assert.deepInclude(yield* sh("cd /g; echo .h* '*.txt' \\*.txt *.none"), { code: 0, stdout: ".hidden *.txt *.txt *.none\n" })
      assert.deepInclude(yield* sh("cd /g && rm *.txt && ls"), { code: 0, stdout: "c.dat\nsub\n" })
      assert.deepInclude(yield* sh("ls /g;;"), { code: 2, stdout: "", stderr: 'sh: Syntax error: ";;" unexpected\n' })
      assert.deepInclude(yield* sh("pwd\nls /g | cat"), { code: 2, stdout: "/\n", stderr: "sh: pipelines (|) are not supported here\n" })
    }))

  it.live.skipIf(!HAS_SCRIPT)("on a terminal: a prompt with the cwd, tab completion, history kept in ~/.sysproxy_history, exit", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/home")
      yield* c.writeFile("/home/notes", "remember\n")
      const home = yield* hostDir
      const sh = yield* startCtl(["--server", server.url, "sh"], { HOME: home }, { pty: true })
      // the prompt names the kernel cwd
      yield* sh.waitForStdout(/sysproxy:\/\$ /)
      sh.stdin.write("cd /home\r")
      yield* sh.waitForStdout(/sysproxy:\/home\$ /)
      // a tab completes "no" to "notes" in the kernel's cwd
      sh.stdin.write("cat no")
      yield* sh.waitForStdout(/cat no/)
      sh.stdin.write("\t")
      yield* sh.waitForStdout(/cat notes/)
      sh.stdin.write("\r")
      yield* sh.waitForStdout(/remember\r?\n/)
      // the up arrow brings the last line back, and Enter runs it again
      sh.stdin.write("\x1b[A")
      yield* sh.waitForStdout(/cat notes[^]*cat notes/)
      sh.stdin.write("\r")
      yield* sh.waitForStdout(/remember[^]*remember/)
      // two Tabs in one read (typed fast): the second completes, the first is not left in the line
      sh.stdin.write("cat no\t\t")
      // the line redrawn without the tab (then the cursor put back after "no"), and the completion
      yield* sh.waitForStdout(/remember[^]*remember[^]*cat no\x1b\[\d+Gtes/)
      sh.stdin.write("\r")
      yield* sh.waitForStdout(/remember[^]*remember[^]*remember/)
      sh.stdin.write("exit 4\r")
      const exited = yield* sh.exited
      assert.strictEqual(exited.code, 4, exited.stdout)
      assert.deepStrictEqual(Fs.readFileSync(Path.join(home, ".sysproxy_history"), "utf8"), "cd /home\ncat notes\nexit 4\n")
    }), SLOW)
})

describe("tail -f", () => {
  it.live("follows a file another client appends to, until a signal", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/log", "one\ntwo\n")
      const tail = yield* startCtl(["--server", server.url, "tail", "-n", "1", "-f", "/log"])
      yield* tail.waitForStdout(/^two\n$/)
      const fd = yield* c.open("/log", 0o1 | 0o10) // O_WRONLY | O_APPEND
      yield* c.write(fd, "three\n")
      yield* tail.waitForStdout(/^two\nthree\n$/)
      yield* c.write(fd, "four\n")
      yield* tail.waitForStdout(/^two\nthree\nfour\n$/)
      yield* tail.kill("SIGINT")
      assert.deepInclude(yield* tail.exited, { code: 130, stdout: "two\nthree\nfour\n" })
    }), SLOW)
})

describe("completion scripts", () => {
  it("bash, zsh and fish scripts name every tool; bash's completes subcommands and flags", () => {
    const HELPER = new URL("../src/main.ts", import.meta.url).pathname
    const script = (shell: string) => {
      const r = ChildProcess.spawnSync(process.execPath, ["--conditions=@sysproxy/source", HELPER, "--completions", shell], {
        encoding: "utf8",
        timeout: 60_000
      })
      assert.strictEqual(r.status, 0, r.stderr)
      return r.stdout
    }
    const bash = script("bash")
    for (const tool of ["cp", "mv", "ln", "chmod", "chown", "touch", "df", "du", "find", "dd", "tail", "id", "sh", "ls"]) {
      assert.include(bash, `_sysproxy_${tool}()`, tool)
    }
    assert.match(script("zsh"), /^#compdef sysproxy/)
    assert.include(script("fish"), "complete -c sysproxy")
    const dir = Fs.mkdtempSync(Path.join(process.env.TMPDIR ?? "/tmp", "sp-comp-"))
    try {
      Fs.writeFileSync(Path.join(dir, "c.bash"), bash)
      const ask = (words: ReadonlyArray<string>) => {
        const line = words.join(" ")
        const r = ChildProcess.spawnSync("bash", [
          "-c",
          `source ${dir}/c.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; ` +
          `COMP_LINE='${line}'; COMP_POINT=${line.length}; _sysproxy; printf '%s\\n' "\${COMPREPLY[@]}"`
        ], { encoding: "utf8" })
        return r.stdout.split("\n").filter((l) => l.length > 0)
      }
      assert.deepStrictEqual(ask(["sysproxy", "to"]), ["touch"])
      assert.includeMembers(ask(["sysproxy", "cp", "-"]), ["--recursive", "-R", "--preserve", "--quiet", "--server", "--uid"])
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }, SLOW)
})
