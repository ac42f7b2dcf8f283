/**
 * struct kevent as NetBSD 7 lays it out on amd64 (sys/event.h; not among
 * the generated ABI facts, so its layout is declared here in the same
 * form): { uintptr_t ident; uint32_t filter; uint32_t flags; uint32_t
 * fflags; (4 bytes of padding) int64_t data; intptr_t udata }, 40 bytes,
 * little-endian; and the filter, flag and note numbers of that header.
 */
import { fieldOffset, viewOf } from "@sysproxy/protocol"
import type { StructLayout } from "@sysproxy/protocol/netbsd"

export const keventLayout = {
  size: 40,
  align: 8,
  fields: [
    { name: "ident", offset: 0, size: 8, ctype: "uintptr_t", signed: false },
    { name: "filter", offset: 8, size: 4, ctype: "uint32_t", signed: false },
    { name: "flags", offset: 12, size: 4, ctype: "uint32_t", signed: false },
    { name: "fflags", offset: 16, size: 4, ctype: "uint32_t", signed: false },
    { name: "data", offset: 24, size: 8, ctype: "int64_t", signed: true },
    { name: "udata", offset: 32, size: 8, ctype: "intptr_t", signed: true }
  ]
} as const satisfies StructLayout

export const KEVENT_SIZE = keventLayout.size

/** The filters (EVFILT_*); EVFILT_SYSCOUNT and above are no filter in this NetBSD. */
export const evfilt = {
  EVFILT_READ: 0,
  EVFILT_WRITE: 1,
  EVFILT_AIO: 2,
  EVFILT_VNODE: 3,
  EVFILT_PROC: 4,
  EVFILT_SIGNAL: 5,
  EVFILT_TIMER: 6,
  EVFILT_SYSCOUNT: 7
} as const

/** Action and returned flags (EV_*). */
export const evFlags = {
  EV_ADD: 0x0001,
  EV_DELETE: 0x0002,
  EV_ENABLE: 0x0004,
  EV_DISABLE: 0x0008,
  EV_ONESHOT: 0x0010,
  EV_CLEAR: 0x0020,
  EV_SYSFLAGS: 0xf000,
  EV_FLAG1: 0x2000,
  EV_EOF: 0x8000,
  EV_ERROR: 0x4000
} as const

/** Filter flags (NOTE_*); the vnode ones share values with NOTE_LOWAT, as in the header. */
export const notes = {
  NOTE_LOWAT: 0x0001,
  NOTE_DELETE: 0x0001,
  NOTE_WRITE: 0x0002,
  NOTE_EXTEND: 0x0004,
  NOTE_ATTRIB: 0x0008,
  NOTE_LINK: 0x0010,
  NOTE_RENAME: 0x0020,
  NOTE_REVOKE: 0x0040,
  NOTE_EXIT: 0x80000000,
  NOTE_FORK: 0x40000000,
  NOTE_EXEC: 0x20000000,
  NOTE_PCTRLMASK: 0xf0000000,
  NOTE_PDATAMASK: 0x000fffff,
  NOTE_TRACK: 0x00000001,
  NOTE_TRACKERR: 0x00000002,
  NOTE_CHILD: 0x00000004
} as const

/** A struct kevent, each field as wide as in C (ident and udata as 64-bit values). */
export interface Kevent {
  ident: bigint
  filter: number
  flags: number
  fflags: number
  data: bigint
  udata: bigint
}

const IDENT = fieldOffset(keventLayout, "ident")
const FILTER = fieldOffset(keventLayout, "filter")
const FLAGS = fieldOffset(keventLayout, "flags")
const FFLAGS = fieldOffset(keventLayout, "fflags")
const DATA = fieldOffset(keventLayout, "data")
const UDATA = fieldOffset(keventLayout, "udata")

/** The kevent at index `i` of `bytes`. */
export const decodeKevent = (bytes: Uint8Array, i: number): Kevent => {
  const view = viewOf(bytes)
  const at = bytes.byteOffset + i * KEVENT_SIZE
  return {
    ident: view.getBigUint64(at + IDENT, true),
    filter: view.getUint32(at + FILTER, true),
    flags: view.getUint32(at + FLAGS, true),
    fflags: view.getUint32(at + FFLAGS, true),
    data: view.getBigInt64(at + DATA, true),
    udata: view.getBigInt64(at + UDATA, true)
  }
}

/** Events as the caller's array of struct kevent (padding zeroed). */
export const encodeKevents = (events: ReadonlyArray<Kevent>): Uint8Array => {
  const bytes = new Uint8Array(events.length * KEVENT_SIZE)
  const view = viewOf(bytes)
  events.forEach((e, i) => {
    const at = i * KEVENT_SIZE
    view.setBigUint64(at + IDENT, BigInt.asUintN(64, e.ident), true)
    view.setUint32(at + FILTER, e.filter >>> 0, true)
    view.setUint32(at + FLAGS, e.flags >>> 0, true)
    view.setUint32(at + FFLAGS, e.fflags >>> 0, true)
    view.setBigInt64(at + DATA, BigInt.asIntN(64, e.data), true)
    view.setBigInt64(at + UDATA, BigInt.asIntN(64, e.udata), true)
  })
  return bytes
}
