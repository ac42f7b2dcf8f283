/**
 * chmod(1)'s mode operand: an octal number, or symbolic clauses
 * `[ugoa]*[+-=][rwxXst]*` separated by commas (u+x, go-w, a=r,u+w, +X),
 * applied to a file's current mode. With no who letter the clause is for
 * all (the server's umask is not consulted).
 */

export type ModeChange = (mode: number, isDir: boolean) => number

const WHO: Readonly<Record<string, number>> = { u: 0o4700, g: 0o2070, o: 0o1007 }

const permBits = (perms: string, mode: number, isDir: boolean): number | undefined => {
  let bits = 0
  for (const p of perms) {
    if (p === "r") bits |= 0o444
    else if (p === "w") bits |= 0o222
    else if (p === "x") bits |= 0o111
    else if (p === "X") bits |= isDir || (mode & 0o111) !== 0 ? 0o111 : 0
    else if (p === "s") bits |= 0o6000
    else if (p === "t") bits |= 0o1000
    else return undefined
  }
  return bits
}

/** The change a mode operand makes, or undefined when it is not one. */
export const parseMode = (spec: string): ModeChange | undefined => {
  if (/^[0-7]{1,4}$/.test(spec)) {
    const value = parseInt(spec, 8)
    return () => value
  }
  const clauses = spec.split(",")
  const parsed: Array<{ who: number; op: string; perms: string }> = []
  for (const clause of clauses) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause)
    if (m === null) return undefined
    const letters = m[1]!.length === 0 || m[1]!.includes("a") ? "ugo" : m[1]!
    let who = 0
    for (const l of letters) who |= WHO[l]!
    parsed.push({ who, op: m[2]!, perms: m[3]! })
  }
  if (parsed.some((p) => permBits(p.perms, 0, false) === undefined)) return undefined
  return (mode, isDir) => {
    let next = mode & 0o7777
    for (const { op, perms, who } of parsed) {
      const bits = permBits(perms, next, isDir)! & who
      if (op === "+") next |= bits
      else if (op === "-") next &= ~bits
      else next = (next & ~who) | bits
    }
    return next
  }
}
