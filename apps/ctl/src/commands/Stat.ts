/**
 * `sysproxy stat path ...` (rump.stat): one line per file in stat(1)'s
 * default format: dev ino mode nlink uid gid rdev size "atime" "mtime"
 * "ctime" "birthtime" blksize blocks flags name. The file is lstat'ed;
 * owners are numbers.
 */
import type { Stat } from "@sysproxy/client"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { statTime } from "../format/Dates.ts"
import { modeString } from "../format/Mode.ts"
import { attempt, eachOperand } from "../Operands.ts"
import { line } from "../Output.ts"

const TOOL = "stat"

export const statLine = (path: string, s: Stat): string =>
  [
    s.dev,
    s.ino,
    modeString(s.mode),
    s.nlink,
    s.uid,
    s.gid,
    // %r is unsigned: NODEV ((dev_t)-1, every node but a device) prints as 2^64 - 1
    BigInt.asUintN(64, BigInt(s.rdev)),
    s.size,
    `"${statTime(s.atime)}"`,
    `"${statTime(s.mtime)}"`,
    `"${statTime(s.ctime)}"`,
    `"${statTime(s.birthtime)}"`,
    s.blksize,
    s.blocks,
    // %#Xf: 0 prints as 0, anything else with its 0X prefix
    s.flags === 0 ? "0" : `0X${s.flags.toString(16).toUpperCase()}`,
    path
  ].join(" ")

export const stat = Command.make(
  TOOL,
  { paths: Argument.String("file").pipe(Argument.variadic({ min: 1 })) },
  ({ paths }) =>
    withClient(TOOL, (c) =>
      eachOperand(paths, (path) =>
        attempt(TOOL, path, Effect.flatMap(c.lstat(path), (s) => line(statLine(path, s))), (e) => `lstat: ${e.description}`)))
).pipe(Command.withDescription("Show file status on the server (rump.stat)."))
