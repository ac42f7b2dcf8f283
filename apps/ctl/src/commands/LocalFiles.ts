/**
 * The host side of put and get: local files through the FileSystem
 * service, `-` for stdin/stdout, and a host error as its strerror text
 * (the same wording the server's errors have).
 */
import { errnoOfNodeError } from "@sysproxy/client"
import { errnoMessage } from "@sysproxy/protocol/netbsd"
import { Effect, FileSystem, type PlatformError, Stdio, Stream } from "effect"

/** "No such file or directory" for a missing file, as strerror says it. */
export const describeLocal = (e: PlatformError.PlatformError): string =>
  e.reason._tag === "BadArgument" ? e.message : errnoMessage(errnoOfNodeError(e.reason.cause))

/** The bytes of a local file, or of stdin for "-". */
export const readLocal = (
  path: string
): Effect.Effect<Uint8Array, PlatformError.PlatformError, FileSystem.FileSystem | Stdio.Stdio> =>
  path === "-"
    ? Effect.flatMap(Stdio.Stdio, (stdio) =>
      Effect.map(Stream.runCollect(stdio.stdin), (chunks) => Buffer.concat(chunks)))
    : Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path))

/** The permission bits of a local file (0666 for stdin). */
export const localMode = (path: string): Effect.Effect<number, PlatformError.PlatformError, FileSystem.FileSystem> =>
  path === "-"
    ? Effect.succeed(0o666)
    : Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.stat(path), (info) => info.mode & 0o7777))

/** Whether `path` is a local directory. */
export const isLocalDirectory = (path: string): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  path === "-"
    ? Effect.succeed(false)
    : Effect.flatMap(FileSystem.FileSystem, (fs) =>
      fs.stat(path).pipe(Effect.map((info) => info.type === "Directory"), Effect.orElseSucceed(() => false)))

/** Writes a local file (created with mode 0666 less the umask), or stdout for "-". */
export const writeLocal = (
  path: string,
  data: Uint8Array
): Effect.Effect<void, PlatformError.PlatformError, FileSystem.FileSystem | Stdio.Stdio> =>
  path === "-"
    ? Effect.flatMap(Stdio.Stdio, (stdio) => Stream.run(Stream.succeed(data), stdio.stdout()))
    : Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFile(path, data))
