/**
 * Fault rules as data and as text: the one-line form parsed and written
 * back, the globs, and every way a rule is refused (each with a message
 * naming what is wrong).
 */
import { assert, describe, it } from "@effect/vitest"
import { Errno, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Duration } from "effect"
import { compileGlob } from "../src/middleware/Glob.ts"
import { FaultRuleError } from "../src/faults/FaultRule.ts"
import { compileRule } from "../src/faults/RuleSet.ts"
import { formatRule, parseRuleText } from "../src/faults/RuleText.ts"

const compile = (rule: Parameters<typeof compileRule>[0]) => compileRule(rule, { randomSeed: () => 42 })

const refusal = (rule: Parameters<typeof compileRule>[0]): string => {
  const r = compile(rule)
  assert.instanceOf(r, FaultRuleError, `accepted: ${JSON.stringify(rule)}`)
  return (r as FaultRuleError).message
}

describe("the text form", () => {
  it("parses the issue's examples into data, and writes them back the same", () => {
    assert.deepStrictEqual(parseRuleText("write:path=/tmp/log*:nth=3:errno=ENOSPC"), {
      syscall: "write",
      path: "/tmp/log*",
      nth: 3,
      errno: "ENOSPC"
    })
    assert.deepStrictEqual(parseRuleText("open:comm=myprog:delay=50ms"), { syscall: "open", comm: "myprog", delay: "50ms" })
    assert.deepStrictEqual(parseRuleText("read:every=2:short=1"), { syscall: "read", every: 2, short: 1 })
    assert.deepStrictEqual(parseRuleText("*:pid=4:p=0.01:seed=7:errno=EIO"), {
      syscall: "*",
      pid: 4,
      p: 0.01,
      seed: 7,
      errno: "EIO"
    })
    assert.deepStrictEqual(parseRuleText("4:drop"), { syscall: 4, drop: true })
    for (
      const text of [
        "write:path=/tmp/log*:nth=3:errno=ENOSPC",
        "open:comm=myprog:delay=50ms",
        "read:every=2:short=1",
        "*:pid=4:p=0.01:seed=7:errno=EIO",
        "getpid:signal=SIGUSR1:drop"
      ]
    ) {
      const r = compile(text)
      assert.notInstanceOf(r, FaultRuleError)
      assert.strictEqual((r as { text: string }).text, text)
    }
  })

  it("writes fields in one order whatever order they came in; a ':' in a glob is escaped", () => {
    assert.strictEqual(formatRule({ syscall: "write", errno: "EIO", nth: 2, comm: "a" }), "write:comm=a:nth=2:errno=EIO")
    const text = "open:path=/tmp/a\\:b*:errno=EIO"
    const parsed = parseRuleText(text)
    assert.deepStrictEqual(parsed, { syscall: "open", path: "/tmp/a:b*", errno: "EIO" })
    const r = compile(text)
    assert.notInstanceOf(r, FaultRuleError)
    assert.strictEqual((r as { text: string }).text, text)
    assert.isTrue((r as { path: { test: (s: string) => boolean } }).path.test("/tmp/a:bc"))
  })

  it("resolves names: syscall, base name, errno, signal (with or without SIG), delay", () => {
    const r = compile("stat:delay=1.5s:signal=usr2:errno=EWOULDBLOCK")
    assert.notInstanceOf(r, FaultRuleError)
    if (r instanceof FaultRuleError) return
    assert.strictEqual(r.number, SYS.__stat50)
    assert.strictEqual(r.errno, Errno.EAGAIN)
    assert.strictEqual(r.signo, signals.SIGUSR2)
    assert.strictEqual(Duration.toMillis(r.delay!), 1500)
    assert.strictEqual(Duration.toMillis((compile("read:delay=250us") as { delay: Duration.Duration }).delay), 0.25)
    assert.strictEqual((compile("*:signal=9") as { signo: number }).signo, 9)
  })
})

describe("refused rules", () => {
  it.each([
    ["wrte:errno=EIO", 'unknown syscall "wrte"'],
    ["write:errno=ENOSPX", 'unknown errno "ENOSPX"'],
    ["write:signal=SIGFOO", 'unknown signal "SIGFOO"'],
    ["write:signal=99", "no signal 99"],
    ["write:path=/tmp/[log:errno=EIO", "path: bad glob: unclosed [ at 6"],
    ["write:comm=[z-a]:errno=EIO", "comm: bad glob: range z-a is reversed (at 2)"],
    ["write:errno=EIO:path=/tmp/x\\", "path: bad glob: a \\ at the end escapes nothing"],
    ["write:nth=0:errno=EIO", "nth: expected a value greater than or equal to 1"],
    ["write:p=1.5:errno=EIO", "p: expected a value between 0 and 1"],
    ["write:nth=x:errno=EIO", 'nth: expected a number, got "x"'],
    ["write:nth=3", "no action: give errno, delay, short, signal or drop"],
    ["write:errno=EIO:short=1", "errno, short and drop exclude each other"],
    ["write:nth=2:every=2:errno=EIO", "nth picks one call: it cannot go with every or from"],
    ["write:seed=3:errno=EIO", "seed is for p"],
    ["open:short=1", "short is for read, write, pread, pwrite, recvfrom, sendto"],
    ["*:short=1", "short is for read, write, pread, pwrite, recvfrom, sendto"],
    ["getpid:path=/x:errno=EIO", "path is for calls that name a file (by path or descriptor); getpid names none"],
    ["write:delay=50", 'delay: expected a duration such as 50ms, 2s, 100us or 1m, got "50"'],
    ["write:bogus=1", 'unknown key "bogus" (known: pid, comm, path, nth, every, from, p, seed, delay, signal, errno, short, drop)'],
    ["write:nth=1:nth=2:errno=EIO", "nth given twice"],
    ["write:errno", 'expected key=value, got "errno"'],
    ["", "empty rule"],
    [":errno=EIO", "no syscall before the first ':'"]
  ])("%s: %s", (text, message) => {
    assert.strictEqual(refusal(text), message)
  })

  it("the data form is checked the same way, and unknown fields are refused", () => {
    assert.strictEqual(refusal({ syscall: "write", errno: "ENOSPX" }), 'unknown errno "ENOSPX"')
    assert.strictEqual(refusal({ syscall: "write", errno: "EIO", colour: "red" } as never), "colour: expected no excess property")
    assert.strictEqual(refusal({ syscall: -1, errno: "EIO" } as never), "syscall: expected a value greater than or equal to 0")
    const error = compile({ syscall: "wrte", errno: "EIO" })
    assert.strictEqual((error as FaultRuleError).rule, '{"syscall":"wrte","errno":"EIO"}')
  })
})

describe("globs", () => {
  const matches = (pattern: string, s: string) => {
    const g = compileGlob(pattern)
    assert.notProperty(g, "_tag", `${pattern} was refused`)
    return (g as { test: (s: string) => boolean }).test(s)
  }

  it("* and ? stay within a path segment, ** crosses them", () => {
    assert.isTrue(matches("/tmp/log*", "/tmp/log"))
    assert.isTrue(matches("/tmp/log*", "/tmp/log.txt"))
    assert.isFalse(matches("/tmp/log*", "/tmp/log/x"))
    assert.isTrue(matches("/tmp/**", "/tmp/a/b/c"))
    assert.isTrue(matches("/tmp/?.txt", "/tmp/a.txt"))
    assert.isFalse(matches("/tmp/?.txt", "/tmp/ab.txt"))
    assert.isFalse(matches("log*", "/tmp/log"), "a glob matches the whole name")
  })

  it("sets, negated sets, ranges, escapes; regex characters are literal", () => {
    assert.isTrue(matches("f[0-9]", "f7"))
    assert.isFalse(matches("f[!0-9]", "f7"))
    assert.isTrue(matches("f[^0-9]", "fx"))
    assert.isTrue(matches("f[]]", "f]"))
    assert.isTrue(matches("a\\*b", "a*b"))
    assert.isFalse(matches("a\\*b", "axb"))
    assert.isTrue(matches("a.(b)+", "a.(b)+"))
    assert.isFalse(matches("a.c", "abc"))
  })
})
