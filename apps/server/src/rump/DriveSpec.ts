/**
 * `-d key=PATH,hostpath=FILE,size=N[,offset=N][,type=reg|blk|chr]`: a host
 * file (or a window of one) named PATH in the kernel, as NetBSD's
 * rump_server registers an etfs. `size` takes rump_server's suffixes or
 * "host" (the host file's size past the offset); `type` defaults to blk.
 * A missing host file is created and a short one grown to offset + size.
 */
import { type HostFileType, HostFileTypes } from "@sysproxy/kernel"
import type { HostFileOption } from "../AppOptions.ts"
import { parseSize } from "./Sizes.ts"

const KEYS = ["key", "hostpath", "size", "offset", "type", "disklabel"] as const

/** The mapping, or the message saying what is wrong with `spec`. */
export const parseDriveSpec = (spec: string): HostFileOption | string => {
  const fields = new Map<string, string>()
  for (const part of spec.split(",")) {
    const eq = part.indexOf("=")
    const name = eq < 0 ? part : part.slice(0, eq)
    if (!(KEYS as ReadonlyArray<string>).includes(name)) return `unknown field ${JSON.stringify(name)} (known: ${KEYS.join(", ")})`
    if (eq < 0 || eq === part.length - 1) return `${name} needs a value`
    if (fields.has(name)) return `${name} given twice`
    fields.set(name, part.slice(eq + 1))
  }
  if (fields.has("disklabel")) return "disklabel partitions are not supported; give offset and size"
  const key = fields.get("key")
  const hostPath = fields.get("hostpath")
  const sizeText = fields.get("size")
  if (key === undefined || hostPath === undefined || sizeText === undefined) return "key, hostpath and size are needed"
  if (!key.startsWith("/") || key.split("/").includes("..") || key.replace(/\/+/g, "") === "") {
    return `key ${key}: an absolute path below / is needed`
  }
  const size = sizeText === "host" ? "host" : parseSize(sizeText)
  if (size === undefined) return `size ${sizeText}: expected bytes with an optional k, m, g or t, or "host"`
  const offsetText = fields.get("offset") ?? "0"
  const offset = parseSize(offsetText)
  if (offset === undefined) return `offset ${offsetText}: expected bytes with an optional k, m, g or t`
  const type = fields.get("type") ?? "blk"
  const known = HostFileTypes.find((t): t is HostFileType => t === type)
  if (known === undefined) return `type ${type}: expected one of ${HostFileTypes.join(", ")}`
  return { key, type: known, spec: { hostPath, size, offset } }
}
