/**
 * A shell line cut into commands and words as sh(1) would for the simple
 * cases a tool shell needs: commands separated by `;` or newlines, words
 * by blanks, '...' taken literally, "..." with \" \\ \$ escapes, a
 * backslash quoting the next character, `#` at the start of a word
 * beginning a comment. An unterminated quote is an error.
 */

export type Commands = Array<Array<string>>

export const parseLine = (text: string): Commands | { readonly error: string } => {
  const commands: Commands = []
  let words: Array<string> = []
  let word = ""
  let inWord = false
  const endWord = () => {
    if (inWord) words.push(word)
    word = ""
    inWord = false
  }
  const endCommand = () => {
    endWord()
    if (words.length > 0) commands.push(words)
    words = []
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === "'") {
      const close = text.indexOf("'", i + 1)
      if (close === -1) return { error: "unterminated quoted string" }
      word += text.slice(i + 1, close)
      inWord = true
      i = close
    } else if (ch === '"') {
      inWord = true
      let j = i + 1
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`'.includes(text[j + 1]!)) j++
        word += text[j]
      }
      if (j >= text.length) return { error: "unterminated quoted string" }
      i = j
    } else if (ch === "\\") {
      if (i + 1 < text.length && text[i + 1] !== "\n") word += text[++i]
      else i++
      inWord = true
    } else if (ch === "#" && !inWord) {
      const nl = text.indexOf("\n", i)
      i = nl === -1 ? text.length : nl - 1
    } else if (ch === ";" || ch === "\n") {
      endCommand()
    } else if (ch === " " || ch === "\t" || ch === "\r") {
      endWord()
    } else {
      word += ch
      inWord = true
    }
  }
  endCommand()
  return commands
}
