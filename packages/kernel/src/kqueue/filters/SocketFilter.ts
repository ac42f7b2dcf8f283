/**
 * EVFILT_READ and EVFILT_WRITE on a socket (uipc_socket.c's sokqfilter,
 * filt_soread, filt_solisten, filt_sowrite). Which read filter a knote gets
 * is decided when it is added: a listening socket's counts the connections
 * waiting to be accepted, any other's the bytes received.
 * - read: EV_EOF with fflags so_error once nothing more can arrive (always
 *   active then); active with a pending error, or with at least the low
 *   water mark received (1 byte, or data given with NOTE_LOWAT);
 * - write: data is the room to send (here, what the connected peer's
 *   receive buffer has free; the send buffer's size otherwise); EV_EOF once
 *   nothing more can be sent; never active on an unconnected stream socket;
 *   else active with at least the send low water mark (2048 bytes, MCLBYTES,
 *   at most the send buffer's size; or NOTE_LOWAT's data) of room.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { evFlags, evfilt, notes } from "../../abi/Kevent.ts"
import type { Socket } from "../../net/Socket.ts"
import type { Knote } from "../Knote.ts"

/** The send buffer's low water mark soreserve sets (MCLBYTES). */
const SEND_LOWAT = 2048

const unsigned = (n: bigint): bigint => BigInt.asUintN(64, n)

/** Whether `k.data` reaches the low water mark (compared unsigned, as kn_sdata is a uintptr_t). */
const reaches = (k: Knote, lowat: number): boolean =>
  (k.sfflags & notes.NOTE_LOWAT) !== 0 ? unsigned(k.data) >= unsigned(k.sdata) : k.data >= BigInt(lowat)

const sendRoom = (s: Socket): number => {
  const peer = s.peer
  if (s.isStream && s.connected && peer !== undefined && !peer.closed) {
    return Math.max(0, peer.rcvbuf - peer.stream.count)
  }
  return s.sndbuf
}

const cantMore = (k: Knote, s: Socket): boolean => {
  k.flags |= evFlags.EV_EOF
  k.fflags = s.error
  return true
}

export const socketKqfilter = (s: Socket, kn: Knote): number => {
  const detach = (k: Knote) => s.knotes.remove(k)
  switch (kn.filter) {
    case evfilt.EVFILT_READ:
      kn.fop = s.listening
        ? {
          event: (k) => {
            k.data = BigInt(s.pending.length)
            return k.data > 0n
          },
          detach
        }
        : {
          event: (k) => {
            k.data = BigInt(s.received)
            if (s.cantRcvMore) return cantMore(k, s)
            return s.error !== 0 || reaches(k, 1)
          },
          detach
        }
      break
    case evfilt.EVFILT_WRITE:
      kn.fop = {
        event: (k) => {
          k.data = BigInt(sendRoom(s))
          if (s.cantSendMore) return cantMore(k, s)
          if (s.error !== 0) return true
          if (s.isStream && !s.connected) return false
          return reaches(k, Math.min(SEND_LOWAT, s.sndbuf))
        },
        detach
      }
      break
    default:
      return Errno.EINVAL
  }
  s.knotes.add(kn)
  return 0
}
