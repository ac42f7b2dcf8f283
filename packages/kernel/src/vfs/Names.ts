/**
 * Path names as the kernel keeps them: one JS char per byte (latin1), so any
 * byte string a client sends (UTF-8 or not) comes back out byte for byte.
 */

export const nameFromBytes = (bytes: Uint8Array): string => {
  let s = ""
  // chunked: String.fromCharCode takes its arguments on the stack
  for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096))
  return s
}

export const bytesOfName = (name: string): Uint8Array => {
  const bytes = new Uint8Array(name.length)
  for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i) & 0xff
  return bytes
}

/** A name that cannot be created, removed or renamed: "." and "..", and "" (the path was "/"). */
export const isDotName = (name: string): boolean => name === "" || name === "." || name === ".."
