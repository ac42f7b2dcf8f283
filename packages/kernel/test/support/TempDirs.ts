/**
 * Host directories for the host file system's tests: fresh ones under the
 * system's temporary directory, all removed when the test file ends.
 */
import { afterAll } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A maker of `<tmp>/<prefix>XXXXXX/root` trees (with `secret`, a file outside the root, beside it). */
export const tempTrees = (prefix: string) => {
  const made: Array<string> = []
  afterAll(() => {
    for (const dir of made) Fs.rmSync(dir, { recursive: true, force: true })
  })
  return () => {
    const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
    made.push(base)
    const root = Path.join(base, "root")
    Fs.mkdirSync(root)
    Fs.writeFileSync(Path.join(base, "secret"), "outside")
    return { base, root }
  }
}
