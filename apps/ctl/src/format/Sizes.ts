/**
 * Sizes as df -h, du -h and ls -h print them: NetBSD's
 * humanize_number(3) into a 5-byte buffer with HN_AUTOSCALE and
 * HN_DECIMAL | HN_B | HN_NOSPACE, its integer arithmetic step for step:
 * at most three digits and a unit letter, one decimal below 10 (999 ->
 * "999B", 1000 -> "1.0K", 1536 -> "1.5K", 10240 -> "10K").
 */

const PREFIXES = ["B", "K", "M", "G", "T", "P", "E"]

/** The buffer's 5 bytes less the digit and the prefix: humanize_number's `len - baselen`. */
const ROOM = 5 - 2

export const humanSize = (bytes: number): string => {
  const sign = bytes < 0 ? -1 : 1
  // hundredths, so the rounding below has two digits to work on
  let value = Math.abs(bytes) * 100
  // below this many hundredths the value fits as it is
  const max = 100 * 10 ** ROOM - 50
  let scale = 0
  while (value >= max && scale < PREFIXES.length - 1) {
    value = Math.floor(value / 1024)
    scale++
  }
  if (value < 995 && scale > 0) {
    const tenths = Math.floor((value + 5) / 10)
    return `${sign < 0 ? "-" : ""}${Math.floor(tenths / 10)}.${tenths % 10}${PREFIXES[scale]}`
  }
  return `${sign * Math.floor((value + 50) / 100)}${PREFIXES[scale]}`
}
