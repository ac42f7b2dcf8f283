/**
 * Which side of a copy a path names: the server's kernel unless it starts
 * with `host:` (`host:./notes.txt`, `host:/etc/hosts`, `host:-` for stdin
 * or stdout), as scp marks the other machine. A kernel path that really
 * starts with "host:" is written `./host:...`.
 */
export const HOST_PREFIX = "host:"

export type Where = "kernel" | "host"

export interface SidePath {
  readonly where: Where
  readonly path: string
}

export const sidePath = (operand: string): SidePath =>
  operand.startsWith(HOST_PREFIX)
    ? { where: "host", path: operand.slice(HOST_PREFIX.length) }
    : { where: "kernel", path: operand }

/** The operand as the user wrote it, for messages. */
export const showPath = (p: SidePath): string => (p.where === "host" ? `${HOST_PREFIX}${p.path}` : p.path)
