/**
 * What middleware needs to know of a syscall's arguments, from the
 * protocol's NetBSD syscall table: which slots hold a path, a descriptor,
 * a byte count, a C string or a pointer, and how to read a slot's value.
 * Worked out once per syscall number, on first use.
 */
import { SYS, type SyscallArg, SyscallByNumber, type SyscallInfo, Syscalls } from "@sysproxy/protocol/netbsd"

const SLOT = 8

/** How an argument is shown and matched. */
export type ArgKind = "int" | "uint" | "mode" | "string" | "pointer"

export interface ArgShape {
  readonly name: string
  /** The slot it occupies (PAD slots are skipped in `args` but count here). */
  readonly slot: number
  readonly kind: ArgKind
  readonly arg: SyscallArg
}

export interface SyscallShape {
  readonly info: SyscallInfo
  /** The arguments without PAD slots, in order. */
  readonly args: ReadonlyArray<ArgShape>
  /** Slots naming a file by path (open's path, rename's from and to, ...). */
  readonly pathSlots: ReadonlyArray<number>
  /** The slot of the descriptor the call works on, if any. */
  readonly fdSlot: number | undefined
  /** The slot of the byte count of a plain read or write (read, write, pread, pwrite, recvfrom, sendto). */
  readonly countSlot: number | undefined
}

/** `const char *` arguments that are file names (not a semaphore's or attribute's name). */
const PATH_ARGS = new Set(["path", "link", "fname", "from", "to", "name1", "name2", "path1", "path2", "filename"])
const FD_ARGS = new Set(["fd", "fdes", "fildes"])
/** The calls whose byte count a short read or write may cut, and that count's name. */
const COUNTED: Readonly<Record<string, string>> = {
  read: "nbyte",
  write: "nbyte",
  pread: "nbyte",
  pwrite: "nbyte",
  recvfrom: "len",
  sendto: "len"
}

/** The syscalls a short read or write applies to. */
export const SHORT_SYSCALLS: ReadonlyArray<string> = Object.keys(COUNTED)

const kindOf = (a: SyscallArg): ArgKind => {
  if (a.ctype === "const char *") return "string"
  if (a.pointer) return "pointer"
  if (a.ctype === "mode_t") return "mode"
  return a.signed ? "int" : "uint"
}

const build = (info: SyscallInfo): SyscallShape => {
  const args: Array<ArgShape> = []
  const pathSlots: Array<number> = []
  let fdSlot: number | undefined
  let countSlot: number | undefined
  info.args.forEach((arg, slot) => {
    if (arg.name === "PAD") return
    const kind = kindOf(arg)
    args.push({ name: arg.name, slot, kind, arg })
    if (kind === "string" && PATH_ARGS.has(arg.name)) pathSlots.push(slot)
    if (fdSlot === undefined && arg.ctype === "int" && FD_ARGS.has(arg.name)) fdSlot = slot
    if (COUNTED[info.name] === arg.name) countSlot = slot
  })
  return { info, args, pathSlots, fdSlot, countSlot }
}

const shapes = new Map<number, SyscallShape>()

/** The shape of syscall `number`; undefined for a number off the table. */
export const shapeOf = (number: number): SyscallShape | undefined => {
  const known = shapes.get(number)
  if (known !== undefined) return known
  const info = SyscallByNumber.get(number)
  if (info === undefined) return undefined
  const shape = build(info)
  shapes.set(number, shape)
  return shape
}

const SYSCALL_NAMES: Readonly<Record<string, number>> = SYS

/**
 * The number of a syscall named as in the NetBSD table (`__stat50`), or by
 * its base name as libc's function is called (`stat`: the newest
 * `__stat<version>`); undefined for a name that is neither.
 */
export const syscallNumberOf = (name: string): number | undefined => {
  const exact = Object.hasOwn(SYSCALL_NAMES, name) ? SYSCALL_NAMES[name] : undefined
  if (exact !== undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return exact
  let best: number | undefined
  const versioned = new RegExp(`^__${name}\\d+$`)
  for (const s of Syscalls) if (versioned.test(s.name) && (best === undefined || s.number > best)) best = s.number
  return best
}

/** The name of syscall `number`, or `syscall_<number>` off the table. */
export const syscallLabel = (number: number): string => SyscallByNumber.get(number)?.name ?? `syscall_${number}`

/** The value in `slot` as its C type reads it (signed or not, 4 or 8 bytes); 0 past the block's end. */
export const readSlot = (block: Uint8Array, slot: number, arg: SyscallArg): bigint => {
  const offset = slot * SLOT
  if (offset + SLOT > block.byteLength) return 0n
  const view = new DataView(block.buffer, block.byteOffset + offset, SLOT)
  if (arg.size === 4) return BigInt(arg.signed ? view.getInt32(0, true) : view.getUint32(0, true))
  return arg.signed ? view.getBigInt64(0, true) : view.getBigUint64(0, true)
}

/** A copy of `block` with `slot` set to `value` (the caller's block is the server's frame: never changed in place). */
export const withSlot = (block: Uint8Array, slot: number, value: bigint): Uint8Array => {
  const copy = block.slice()
  if ((slot + 1) * SLOT <= copy.byteLength) {
    new DataView(copy.buffer).setBigUint64(slot * SLOT, BigInt.asUintN(64, value), true)
  }
  return copy
}
