/**
 * Sizes and limits of the RUMPSP 0.4 wire format (amd64 layout).
 */

/** The frame header: len, reqno (u64 each), class, type (u16 each), a u32 union. */
export const HEADER_SIZE = 24

/** struct rsp_copydata: u64 len, u64 addr (data follows in COPYOUT requests). */
export const COPYDATA_SIZE = 16

/** The prefork cookie: four u32 words. */
export const COOKIE_SIZE = 16

/** struct handshake_fork: the cookie, then int32 cancel. */
export const FORK_BODY_SIZE = 20

/** struct rsp_sysresp: int32 error, 4 bytes padding, two int64 retvals. */
export const SYSCALL_RESPONSE_BODY_SIZE = 24

/** Body of a HANDSHAKE response: one int32 error. */
export const HANDSHAKE_RESPONSE_BODY_SIZE = 4

/**
 * The largest piece of client memory the server moves in one copyin or
 * copyout frame. Larger copies are cut into chunks of this size, which is
 * what lets the frame limit below stay small.
 */
export const MAX_COPY_CHUNK = 1024 * 1024

/**
 * Default maximum frame length: one full copy chunk plus the header and the
 * copydata header, so every frame the server itself produces fits.
 */
export const DEFAULT_MAX_FRAME_LENGTH = HEADER_SIZE + COPYDATA_SIZE + MAX_COPY_CHUNK
