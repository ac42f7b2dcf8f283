/**
 * The syscall argument block: NetBSD's `struct sys_<name>_args`, one
 * 8-byte little-endian slot per argument (an int fills the low 4 bytes,
 * which for a little-endian 64-bit store is the same as widening it).
 */
import { SyscallByNumber } from "@sysproxy/protocol/netbsd"
import { Result } from "effect"

export const ARG_SLOT_SIZE = 8

const MIN_I64 = -(1n << 63n)
const MAX_U64 = (1n << 64n) - 1n

/** One argument: a pointer, a size, an int, a flag word... */
export type SyscallArg = bigint | number

/**
 * Packs arguments into slots. Negative values are stored as 64-bit two's
 * complement; the error names the first argument that fits no 64-bit slot.
 */
export const encodeSyscallArgs = (args: ReadonlyArray<SyscallArg>): Result.Result<Uint8Array<ArrayBuffer>, string> => {
  const block = new Uint8Array(args.length * ARG_SLOT_SIZE)
  const view = new DataView(block.buffer)
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (typeof arg === "number" && !Number.isSafeInteger(arg)) {
      return Result.fail(`argument ${i} (${arg}) is not a safe integer`)
    }
    const value = BigInt(arg)
    if (value < MIN_I64 || value > MAX_U64) {
      return Result.fail(`argument ${i} (${value}) does not fit in 64 bits`)
    }
    view.setBigUint64(i * ARG_SLOT_SIZE, BigInt.asUintN(64, value), true)
  }
  return Result.succeed(block)
}

/**
 * The slots of syscall `sysnum` for its named arguments in order: the PAD
 * slots syscalls.master puts before 64-bit arguments (pread's offset,
 * lseek's) are filled in from the syscall table. A syscall the table does
 * not know takes `values` as they are.
 */
export const slotsFor = (
  sysnum: number,
  values: ReadonlyArray<SyscallArg>
): Result.Result<ReadonlyArray<SyscallArg>, string> => {
  const info = SyscallByNumber.get(sysnum)
  if (info === undefined) return Result.succeed(values)
  const named = info.args.filter((a) => a.name !== "PAD").length
  if (values.length !== named) {
    return Result.fail(`${info.name} takes ${named} arguments, not ${values.length}`)
  }
  const slots: Array<SyscallArg> = []
  let next = 0
  for (const arg of info.args) slots.push(arg.name === "PAD" ? 0 : values[next++]!)
  return Result.succeed(slots)
}

/** The name the syscall table gives `sysnum`, or "syscall N". */
export const syscallName = (sysnum: number): string => SyscallByNumber.get(sysnum)?.name ?? `syscall ${sysnum}`
