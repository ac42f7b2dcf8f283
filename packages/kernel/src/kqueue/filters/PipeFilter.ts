/**
 * EVFILT_READ and EVFILT_WRITE on a pipe (sys_pipe.c's pipe_kqfilter,
 * filt_piperead, filt_pipewrite). NetBSD's pipe is two halves: the read
 * end's holds the buffer, the write end's none. So:
 * - READ on the read end: data is the bytes buffered; EV_EOF once the
 *   writer is gone (always active then), else active with data > 0;
 * - WRITE on the write end: data is the room left; active with at least
 *   PIPE_BUF of it; EV_EOF (data 0, active) once the reader is gone;
 * - READ on the write end and WRITE on the read end look at the empty
 *   half: data 0, active only with EV_EOF once the other end is gone;
 * - WRITE is EBADF when the other end is gone already.
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { evFlags, evfilt } from "../../abi/Kevent.ts"
import type { Knote, KnoteList } from "../Knote.ts"

/** What the filters read of a pipe (ipc/Pipe.ts). */
export interface WatchedPipe {
  readonly count: number
  readonly size: number
  readonly readerOpen: boolean
  readonly writerOpen: boolean
  readonly knotes: KnoteList
}

const eof = (kn: Knote): boolean => {
  kn.data = 0n
  kn.flags |= evFlags.EV_EOF
  return true
}

/** pipe_kqfilter for the `reader` end (true) or the write end. */
export const pipeKqfilter = (pipe: WatchedPipe, reader: boolean, kn: Knote): number => {
  // the other end of the half the filter looks at
  const peerOpen = () => (reader ? pipe.writerOpen : pipe.readerOpen)
  switch (kn.filter) {
    case evfilt.EVFILT_READ:
      kn.fop = {
        event: (k) => {
          k.data = reader ? BigInt(pipe.count) : 0n
          if (!peerOpen()) {
            k.flags |= evFlags.EV_EOF
            return true
          }
          return k.data > 0n
        },
        detach: (k) => pipe.knotes.remove(k)
      }
      break
    case evfilt.EVFILT_WRITE:
      if (!peerOpen()) return Errno.EBADF
      kn.fop = {
        event: (k) => {
          if (!peerOpen()) return eof(k)
          k.data = reader ? 0n : BigInt(pipe.size - pipe.count)
          return k.data >= BigInt(limits.PIPE_BUF)
        },
        detach: (k) => pipe.knotes.remove(k)
      }
      break
    default:
      return Errno.EINVAL
  }
  pipe.knotes.add(kn)
  return 0
}
