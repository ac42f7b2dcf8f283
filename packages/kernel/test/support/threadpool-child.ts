/**
 * ThreadPool.test.ts's fresh process: sets the pool's size (argv[2]) before
 * or after (argv[3] = "late") its first host call, makes host calls, and
 * prints what it saw as JSON.
 */
import { Effect, Exit } from "effect"
import * as Fs from "node:fs"
import { poolThreads, setThreadPoolSize } from "../../src/vfs/host/ThreadPool.ts"

const size = Number(process.argv[2])
const late = process.argv[3] === "late"

const calls = () => Promise.all(Array.from({ length: 64 }, () => Fs.promises.stat("/")))

const before = poolThreads()
if (late) await calls()
const set = await Effect.runPromise(Effect.exit(setThreadPoolSize(size)))
await calls()
process.stdout.write(JSON.stringify({ before, set: Exit.isSuccess(set) ? "ok" : String(set.cause), after: poolThreads() }) + "\n")
