/** The version `sysproxy --version` prints (the package's version). */
export const VERSION = "0.1.0"

/** The program's name in messages about the program itself (not about one tool). */
export const PROGRAM = "sysproxy"
