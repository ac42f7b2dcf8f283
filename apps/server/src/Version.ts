/** The version `sysproxy-server --version` prints (the package's version). */
export const VERSION = "0.1.0"

/** The program's name in messages. */
export const PROGRAM = "sysproxy-server"
