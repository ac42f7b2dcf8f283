/**
 * fnmatch(3) patterns as find -name uses them: `*`, `?`, bracket
 * expressions (`[abc]`, `[a-z]`, `[!x]`) and `\` quoting, matched against
 * a whole name.
 */

const special = /[.+^${}()|\\/]/g

/** The pattern as an anchored RegExp (an unclosed `[` is a literal `[`). */
export const globToRegExp = (glob: string): RegExp => {
  let out = ""
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!
    if (ch === "*") out += "[^]*"
    else if (ch === "?") out += "[^]"
    else if (ch === "\\" && i + 1 < glob.length) out += glob[++i]!.replace(special, "\\$&")
    else if (ch === "[") {
      const close = glob.indexOf("]", i + 2)
      if (close === -1) {
        out += "\\["
        continue
      }
      let body = glob.slice(i + 1, close)
      if (body.startsWith("!")) body = `^${body.slice(1)}`
      out += `[${body.replace(/\\/g, "\\\\")}]`
      i = close
    } else out += ch.replace(special, "\\$&")
  }
  return new RegExp(`^${out}$`, "s")
}
