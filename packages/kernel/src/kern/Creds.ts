/**
 * The credentials a process acts with, for the checks of the time, timer
 * and kqueue calls: one place to change when processes carry their
 * credentials apart from themselves.
 */
import type { Cred } from "../kauth/Cred.ts"
import type { Proc } from "../proc/Proc.ts"

export const credOf = (p: Proc): Cred => p
