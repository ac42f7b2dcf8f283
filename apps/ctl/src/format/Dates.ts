/** Times as the tools print them, in local time: strftime's %a %b %e %H %M %S %Y. */
import { type Timespec, timespecToDate } from "@sysproxy/client"

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

const two = (n: number) => String(n).padStart(2, "0")
const monthDay = (d: Date) => `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")}`
const clock = (d: Date) => `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`

/** stat(1)'s default: "%b %e %H:%M:%S %Y". */
export const statTime = (ts: Timespec): string => {
  const d = timespecToDate(ts)
  return `${monthDay(d)} ${clock(d)} ${d.getFullYear()}`
}

/** ctime(3) without the newline: "%a %b %e %H:%M:%S %Y" (sysctl kern.boottime). */
export const ctimeString = (ts: Timespec): string => {
  const d = timespecToDate(ts)
  return `${DAYS[d.getDay()]} ${monthDay(d)} ${clock(d)} ${d.getFullYear()}`
}

const SIX_MONTHS_MS = (365 / 2) * 86_400_000

/** ls -l: "%b %e %H:%M" within six months of now, else "%b %e  %Y". */
export const lsTime = (ts: Timespec, now: number): string => {
  const d = timespecToDate(ts)
  const recent = Math.abs(now - d.getTime()) < SIX_MONTHS_MS
  return recent ? `${monthDay(d)} ${two(d.getHours())}:${two(d.getMinutes())}` : `${monthDay(d)}  ${d.getFullYear()}`
}
