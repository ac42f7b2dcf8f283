/**
 * strftime(3) in the C locale, local time, for the conversions people put
 * in `stat -t`: %a %A %b %B %c %C %d %D %e %F %H %I %j %k %l %m %M %n %p
 * %r %R %s %S %t %T %u %w %x %X %y %Y %z %Z %%. Anything else is copied
 * as it stands.
 */

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December"
]

const pad = (n: number, width = 2, fill = "0") => String(n).padStart(width, fill)

const dayOfYear = (d: Date) => Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - new Date(d.getFullYear(), 0, 1).getTime()) / 86_400_000) + 1

const offset = (d: Date) => {
  const minutes = -d.getTimezoneOffset()
  return `${minutes < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(minutes) / 60))}${pad(Math.abs(minutes) % 60)}`
}

const zoneName = (d: Date) => /\(([^)]+)\)$/.exec(d.toString())?.[1] ?? offset(d)

const conversion = (ch: string, d: Date): string | undefined => {
  const h12 = d.getHours() % 12 === 0 ? 12 : d.getHours() % 12
  switch (ch) {
    case "a":
      return DAYS[d.getDay()]!.slice(0, 3)
    case "A":
      return DAYS[d.getDay()]
    case "b":
    case "h":
      return MONTHS[d.getMonth()]!.slice(0, 3)
    case "B":
      return MONTHS[d.getMonth()]
    case "c":
      return strftime("%a %b %e %H:%M:%S %Y", d)
    case "C":
      return pad(Math.floor(d.getFullYear() / 100))
    case "d":
      return pad(d.getDate())
    case "D":
      return strftime("%m/%d/%y", d)
    case "e":
      return pad(d.getDate(), 2, " ")
    case "F":
      return strftime("%Y-%m-%d", d)
    case "H":
      return pad(d.getHours())
    case "I":
      return pad(h12)
    case "j":
      return pad(dayOfYear(d), 3)
    case "k":
      return pad(d.getHours(), 2, " ")
    case "l":
      return pad(h12, 2, " ")
    case "m":
      return pad(d.getMonth() + 1)
    case "M":
      return pad(d.getMinutes())
    case "n":
      return "\n"
    case "p":
      return d.getHours() < 12 ? "AM" : "PM"
    case "r":
      return strftime("%I:%M:%S %p", d)
    case "R":
      return strftime("%H:%M", d)
    case "s":
      return String(Math.floor(d.getTime() / 1000))
    case "S":
      return pad(d.getSeconds())
    case "t":
      return "\t"
    case "T":
      return strftime("%H:%M:%S", d)
    case "u":
      return String(d.getDay() === 0 ? 7 : d.getDay())
    case "w":
      return String(d.getDay())
    case "x":
      return strftime("%m/%d/%y", d)
    case "X":
      return strftime("%H:%M:%S", d)
    case "y":
      return pad(d.getFullYear() % 100)
    case "Y":
      return String(d.getFullYear())
    case "z":
      return offset(d)
    case "Z":
      return zoneName(d)
    case "%":
      return "%"
    default:
      return undefined
  }
}

export const strftime = (format: string, d: Date): string => {
  let out = ""
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!
    if (ch !== "%" || i + 1 >= format.length) {
      out += ch
      continue
    }
    const next = format[++i]!
    out += conversion(next, d) ?? `%${next}`
  }
  return out
}
