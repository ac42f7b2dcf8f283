/**
 * chmod(1)'s mode operand as NetBSD's setmode(3) reads it and getmode(3)
 * applies it: an octal number, or symbolic clauses `[ugoa]*[+-=]...`
 * separated by commas, each operator followed by permission letters
 * (`rwxXst`) or by one of `u`, `g`, `o` to copy that class's bits
 * (`g=u-w`, `o=g`), several operators in one clause (`u+r-w`). A clause
 * without a who letter is for all, less the umask (`+w` under umask 022
 * gives write to the owner only); `X` is execute if the file is a
 * directory or executable by anyone; `s` and `t` mean nothing for `o`
 * alone. Undefined for anything else ("Invalid file mode").
 */

export type ModeChange = (mode: number) => number

const S_ISUID = 0o4000
const S_ISGID = 0o2000
const S_ISTXT = 0o1000
const S_IRWXU = 0o700
const S_IRWXG = 0o070
const S_IRWXO = 0o007
const S_IFDIR = 0o040000
const STANDARD_BITS = S_ISUID | S_ISGID | S_IRWXU | S_IRWXG | S_IRWXO

const WHO: Readonly<Record<string, number>> = {
  a: STANDARD_BITS,
  u: S_ISUID | S_IRWXU,
  g: S_ISGID | S_IRWXG,
  o: S_IRWXO
}

/** One step of getmode(): set or clear bits, X, or copy a class's bits to the classes in `to`. */
type Step =
  | { readonly cmd: "+" | "-" | "X"; readonly bits: number }
  | { readonly cmd: "u" | "g" | "o"; readonly bits: number; readonly to: number; readonly set: boolean; readonly clear: boolean }

const U = 4
const G = 2
const O = 1

/** addcmd(): the steps of one operator with its argument, for `who` (0: all, through `mask`). */
const steps = (op: string, who: number, arg: number | string, mask: number): Array<Step> => {
  if (typeof arg === "string") {
    const to = who === 0 ? U | G | O : ((who & 0o400) !== 0 ? U : 0) | ((who & 0o040) !== 0 ? G : 0) | ((who & 0o004) !== 0 ? O : 0)
    return [{
      cmd: arg as "u" | "g" | "o",
      bits: who === 0 ? mask : ~0,
      to,
      set: op === "+" || op === "=",
      clear: op === "-" || op === "="
    }]
  }
  const bits = (who === 0 ? mask : who) & arg
  if (op === "=") return [{ cmd: "-", bits: who === 0 ? STANDARD_BITS : who }, { cmd: "+", bits }]
  return [{ cmd: op as "+" | "-" | "X", bits }]
}

/** setmode(): the steps, or undefined for a mode it would refuse. */
const compile = (spec: string, mask: number): Array<Step> | undefined => {
  if (/^[0-7]/.test(spec)) {
    if (!/^[0-7]+$/.test(spec)) return undefined
    const value = parseInt(spec, 8)
    if ((value & ~(STANDARD_BITS | S_ISTXT)) !== 0) return undefined
    return steps("=", STANDARD_BITS | S_ISTXT, value, mask)
  }
  const out: Array<Step> = []
  let p = 0
  for (;;) {
    let who = 0
    while (spec[p] !== undefined && spec[p]! in WHO) who |= WHO[spec[p++]!]!
    // one or more operators, each with its argument, for this who
    for (;;) {
      const op = spec[p++]
      if (op !== "+" && op !== "-" && op !== "=") return undefined
      let opWho = who & ~S_ISTXT
      let perm = 0
      let permX = 0
      let equalDone = false
      for (;; p++) {
        const ch = spec[p]
        if (ch === "r") perm |= 0o444
        else if (ch === "w") perm |= 0o222
        else if (ch === "x") perm |= 0o111
        else if (ch === "X") permX = 0o111
        else if (ch === "s") {
          // set-id bits mean nothing for "other" alone
          if (opWho === 0 || (opWho & ~S_IRWXO) !== 0) perm |= S_ISUID | S_ISGID
        } else if (ch === "t") {
          if (opWho === 0 || (opWho & ~S_IRWXO) !== 0) {
            opWho |= S_ISTXT
            perm |= S_ISTXT
          }
        } else if (ch === "u" || ch === "g" || ch === "o") {
          if (perm !== 0) {
            out.push(...steps(op, opWho, perm, mask))
            perm = 0
          }
          if (op === "=") equalDone = true
          if (op === "+" && permX !== 0) {
            out.push(...steps("X", opWho, permX, mask))
            permX = 0
          }
          out.push(...steps(op, opWho, ch, mask))
        } else {
          if (perm !== 0 || (op === "=" && !equalDone)) {
            equalDone = true
            out.push(...steps(op, opWho, perm, mask))
            perm = 0
          }
          if (permX !== 0) out.push(...steps("X", opWho, permX, mask))
          break
        }
      }
      if (spec[p] === undefined) return out
      if (spec[p] === ",") {
        p++
        break
      }
    }
  }
}

/** getmode(): the steps applied to `mode` (with its file type, which X looks at). */
const apply = (plan: ReadonlyArray<Step>, mode: number): number => {
  let next = mode
  for (const s of plan) {
    switch (s.cmd) {
      case "+":
        next |= s.bits
        break
      case "-":
        next &= ~s.bits
        break
      case "X":
        if ((mode & (S_IFDIR | 0o111)) !== 0) next |= s.bits
        break
      default: {
        const value = s.cmd === "u" ? (next & S_IRWXU) >> 6 : s.cmd === "g" ? (next & S_IRWXG) >> 3 : next & S_IRWXO
        if (s.clear) {
          const clear = s.set ? S_IRWXO : value
          if ((s.to & U) !== 0) next &= ~((clear << 6) & s.bits)
          if ((s.to & G) !== 0) next &= ~((clear << 3) & s.bits)
          if ((s.to & O) !== 0) next &= ~(clear & s.bits)
        }
        if (s.set) {
          if ((s.to & U) !== 0) next |= (value << 6) & s.bits
          if ((s.to & G) !== 0) next |= (value << 3) & s.bits
          if ((s.to & O) !== 0) next |= value & s.bits
        }
      }
    }
  }
  return next & 0o7777
}

/** The change a mode operand makes under `umask`, or undefined when it is not one. */
export const parseMode = (spec: string, umask = 0): ModeChange | undefined => {
  const plan = compile(spec, ~umask)
  return plan === undefined ? undefined : (mode) => apply(plan, mode)
}

/** Whether the change depends on the umask (a clause without a who letter). */
export const needsUmask = (spec: string): boolean => /^[0-7]/.test(spec) ? false : /(^|,)[-+=]/.test(spec)
