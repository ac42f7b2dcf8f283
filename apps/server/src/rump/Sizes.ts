/**
 * Sizes as rump_server takes them: a number of bytes with an optional
 * suffix k, m, g or t (powers of 1024, either case).
 */
const SUFFIXES: Readonly<Record<string, number>> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }

/** The byte count, or undefined for anything else (no fractions, no negative numbers). */
export const parseSize = (text: string): number | undefined => {
  const m = /^(\d+)([kmgt]?)$/i.exec(text)
  if (m === null) return undefined
  const bytes = Number(m[1]) * SUFFIXES[m[2]!.toLowerCase()]!
  return Number.isSafeInteger(bytes) ? bytes : undefined
}
