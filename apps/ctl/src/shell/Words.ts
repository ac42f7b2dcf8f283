/**
 * A shell script cut up as sh(1) would for what a tool shell runs:
 * commands of words, joined by `&&` and `||` into and-or lists, those
 * separated by `;` or newlines. Words are split by blanks, '...' is taken
 * literally, "..." with \" \\ \$ \` escapes, a backslash quotes the next
 * character, `#` at the start of a word begins a comment, and a newline
 * after `&&` or `||` continues the list. Each word keeps which of its
 * characters were quoted, so glob characters only in the unquoted parts
 * expand (shell/Glob.ts).
 *
 * A script is read one line (one complete command) at a time, as sh reads
 * it: a syntax error stops the reading there, in sh's words (`Syntax
 * error: ";;" unexpected`), and the lines before it still run. Pipelines,
 * background jobs, redirections and subshells are refused the same way,
 * saying they are not supported here.
 */

/** One word: its characters, and for each whether it was quoted. */
export interface Word {
  readonly text: string
  readonly quoted: ReadonlyArray<boolean>
}

/** Commands joined by && and ||: `rest[i].op` decides whether `rest[i].command` runs after the one before. */
export interface AndOr {
  readonly first: ReadonlyArray<Word>
  readonly rest: ReadonlyArray<{ readonly op: "&&" | "||"; readonly command: ReadonlyArray<Word> }>
}

/** What a script holds: its lines' and-or lists in order, and the error that stopped the reading, if one did. */
export interface Script {
  readonly lists: ReadonlyArray<AndOr>
  readonly error: string | undefined
}

type Token =
  | { readonly kind: "word"; readonly word: Word }
  | { readonly kind: "op"; readonly op: string }
  | { readonly kind: "newline" }

const OPERATORS = ["&&", "||", ";;", ">>", "<<", ";", "|", "&", "<", ">", "(", ")"]

const UNSUPPORTED: Readonly<Record<string, string>> = {
  "|": "pipelines (|)",
  "&": "background jobs (&)",
  "<": "redirections (<)",
  ">": "redirections (>)",
  ">>": "redirections (>>)",
  "<<": "here-documents (<<)",
  "(": "subshells ( )",
  ")": "subshells ( )"
}

class SyntaxError {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/** The tokens of `text`; an unterminated quote is a syntax error. */
const tokenize = (text: string): Array<Token> => {
  const tokens: Array<Token> = []
  let chars = ""
  let quoted: Array<boolean> = []
  let inWord = false
  const add = (s: string, q: boolean) => {
    chars += s
    for (let k = 0; k < s.length; k++) quoted.push(q)
    inWord = true
  }
  const endWord = () => {
    if (inWord) tokens.push({ kind: "word", word: { text: chars, quoted } })
    chars = ""
    quoted = []
    inWord = false
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === "'") {
      const close = text.indexOf("'", i + 1)
      if (close === -1) throw new SyntaxError("Unterminated quoted string")
      add(text.slice(i + 1, close), true)
      i = close
    } else if (ch === '"') {
      let j = i + 1
      let inner = ""
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`'.includes(text[j + 1]!)) j++
        inner += text[j]
      }
      if (j >= text.length) throw new SyntaxError("Unterminated quoted string")
      add(inner, true)
      i = j
    } else if (ch === "\\") {
      if (i + 1 < text.length && text[i + 1] !== "\n") add(text[++i]!, true)
      else if (i + 1 < text.length) i++
      else add("\\", true)
    } else if (ch === "#" && !inWord) {
      const nl = text.indexOf("\n", i)
      i = nl === -1 ? text.length : nl - 1
    } else if (ch === "\n") {
      endWord()
      tokens.push({ kind: "newline" })
    } else if (ch === " " || ch === "\t" || ch === "\r") {
      endWord()
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i))
      if (op === undefined) {
        add(ch, false)
        continue
      }
      endWord()
      tokens.push({ kind: "op", op })
      i += op.length - 1
    }
  }
  endWord()
  return tokens
}

const unexpected = (t: Token | undefined) =>
  new SyntaxError(
    t === undefined
      ? "end of file unexpected"
      : t.kind === "newline"
      ? "newline unexpected"
      : `"${t.kind === "op" ? t.op : t.word.text}" unexpected`
  )

/** Reads the script; what comes before a syntax error is kept. */
export const parseScript = (text: string): Script => {
  const lists: Array<AndOr> = []
  let tokens: Array<Token>
  try {
    tokens = tokenize(text)
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e
    // sh has read nothing it could run when the quote never closes: the error is the script's first word
    return { lists, error: `Syntax error: ${e.message}` }
  }
  let at = 0
  const peek = () => tokens[at]
  const refuse = (op: string) => {
    const what = UNSUPPORTED[op]
    return what === undefined ? unexpected(tokens[at]) : new SyntaxError(`${what} are not supported here`)
  }
  const command = (): Array<Word> => {
    const words: Array<Word> = []
    for (let t = peek(); t !== undefined && t.kind === "word"; t = peek()) {
      words.push(t.word)
      at++
    }
    const t = peek()
    if (t !== undefined && t.kind === "op" && t.op in UNSUPPORTED) throw refuse(t.op)
    if (words.length === 0) throw unexpected(t)
    return words
  }
  const andOr = (): AndOr => {
    const first = command()
    const rest: Array<AndOr["rest"][number]> = []
    for (let t = peek(); t !== undefined && t.kind === "op" && (t.op === "&&" || t.op === "||"); t = peek()) {
      at++
      while (peek()?.kind === "newline") at++
      rest.push({ op: t.op, command: command() })
    }
    return { first, rest }
  }
  try {
    for (;;) {
      // blank lines between commands
      while (peek()?.kind === "newline") at++
      if (peek() === undefined) break
      // one line: and-or lists separated by ;, up to a newline or the end
      const line: Array<AndOr> = []
      for (;;) {
        line.push(andOr())
        const t = peek()
        if (t === undefined || t.kind === "newline") break
        if (t.kind === "op" && t.op === ";") {
          at++
          const next = peek()
          if (next === undefined || next.kind === "newline") break
          continue
        }
        throw unexpected(t)
      }
      lists.push(...line)
    }
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e
    // the line with the error does not run: drop what of it was read
    return { lists, error: e.message.endsWith("not supported here") ? e.message : `Syntax error: ${e.message}` }
  }
  return { lists, error: undefined }
}
