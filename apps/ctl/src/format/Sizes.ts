/** Sizes as df -h, du -h and ls -h print them: three significant digits and a unit letter, as humanize_number(3). */

const UNITS = ["B", "K", "M", "G", "T", "P"]

/** 1536 -> "1.5K", 10240 -> "10K", 0 -> "0B". */
export const humanSize = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  if (unit === 0) return `${bytes}B`
  return value < 10 ? `${(Math.round(value * 10) / 10).toFixed(1)}${UNITS[unit]}` : `${Math.round(value)}${UNITS[unit]}`
}
