/**
 * Opening a host directory to mount (KernelConfig.mounts, the server's
 * `--root` and `--mount`): its confined walker and its sidecar store, both
 * closed with the kernel's scope. The store lives in `.sysproxy/` at the
 * tree's root (made 0700 through the walker, never followed if a symlink);
 * a read-only tree opens the one it has, if it can, and none otherwise.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Data, Effect, type Scope } from "effect"
import type { HostError } from "./HostError.ts"
import { SIDECAR_DIR } from "./HostMount.ts"
import { procPath } from "./HostPath.ts"
import { HostCalls, type HostCallsService } from "./HostCalls.ts"
import { HostTree } from "./HostTree.ts"
import { Sidecar } from "./Sidecar.ts"

/** A host directory that cannot be mounted: the server's startup error. */
export class HostMountError extends Data.TaggedError("HostMountError")<{
  readonly hostPath: string
  readonly message: string
}> {}

/** A host directory to mount, and where. */
export interface HostMountSpec {
  readonly hostPath: string
  /** An absolute kernel path ("/" for the root file system). */
  readonly at: string
  /** `:ro`: every change is EROFS. */
  readonly readOnly?: boolean | undefined
}

export const SIDECAR_FILE = "sidecar.db"

const refused = (hostPath: string, what: string, e: HostError | Error): HostMountError =>
  new HostMountError({ hostPath, message: `${hostPath}: ${what}: ${e.message}` })

/** The tree at `spec.hostPath` and its sidecar store (none for a read-only tree without one it can open). */
export const openHostTree = (
  spec: HostMountSpec,
  calls: HostCallsService
): Effect.Effect<{ readonly tree: HostTree; readonly sidecar: Sidecar | undefined }, HostMountError, Scope.Scope> =>
  Effect.gen(function*() {
    const hostPath = spec.hostPath
    const tree = yield* HostTree.open(hostPath).pipe(
      Effect.provideService(HostCalls, calls),
      Effect.mapError((e) => refused(hostPath, "cannot open it", e))
    )
    if (spec.readOnly !== true) {
      yield* Effect.catchIf(tree.mkdir(tree.root, SIDECAR_DIR, 0o700), (e) => e.errno === Errno.EEXIST, () => Effect.void).pipe(
        Effect.mapError((e) => refused(hostPath, `cannot make ${SIDECAR_DIR}`, e))
      )
    }
    const dirStat = yield* Effect.orElseSucceed(tree.lstat(tree.root, SIDECAR_DIR), () => undefined)
    if (dirStat === undefined) return { tree, sidecar: undefined }
    if (!dirStat.isDirectory()) {
      return yield* new HostMountError({ hostPath, message: `${hostPath}: ${SIDECAR_DIR} is not a directory` })
    }
    // the store is reached through the root's descriptor: the directory the tree is, whatever its path says now
    const path = yield* tree.root.use("open", (fd) => Effect.succeed(`${procPath(fd).toString("latin1")}/${SIDECAR_DIR}/${SIDECAR_FILE}`)).pipe(
      Effect.orDie
    )
    const opened = Sidecar.open(path, tree.rootStat, spec.readOnly === true)
    // a read-only tree may have no store it can open: it then has no records
    const sidecar: Sidecar | undefined = spec.readOnly === true
      ? yield* Effect.orElseSucceed(opened, () => undefined)
      : yield* Effect.mapError(opened, (e) => refused(hostPath, `cannot open its sidecar ${SIDECAR_DIR}/${SIDECAR_FILE}`, e))
    return { tree, sidecar }
  })
