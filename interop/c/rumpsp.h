/*
 * rumpsp: a small RUMPSP 0.4 (rump sysproxy) client, written from
 * /work/shared/PROTOCOL.md for the interoperability tests. Test tooling, not
 * shipped; not derived from NetBSD's librumpclient.
 *
 * One process has one connection (global state, as librumpclient). Any
 * number of threads may call rsp_syscall() at once: the socket is shared,
 * and whichever waiting thread is reading serves the server's requests
 * (copyin, copyinstr, copyout, copyoutstr, anonmmap, raise) against the
 * real memory of this process while it waits for its own answer.
 *
 * Error values: everything the server reports (syscall errors, ERROR
 * frames, handshake errors) is a NetBSD errno (RSP_E* below for the ones
 * that differ from Linux). A failure on this side (connect, socket I/O
 * before the handshake) is the host errno. A connection lost during a
 * call is RSP_ENOTCONN.
 */
#ifndef RUMPSP_H
#define RUMPSP_H

#include <stddef.h>
#include <stdint.h>

/* ---- wire layout ------------------------------------------------------ */

enum { RSP_CLASS_REQ = 0, RSP_CLASS_RESP = 1, RSP_CLASS_ERROR = 2 };
enum {
	RSP_TYPE_HANDSHAKE = 0,
	RSP_TYPE_SYSCALL = 1,
	RSP_TYPE_COPYIN = 2,
	RSP_TYPE_COPYINSTR = 3,
	RSP_TYPE_COPYOUT = 4,
	RSP_TYPE_COPYOUTSTR = 5,
	RSP_TYPE_ANONMMAP = 6,
	RSP_TYPE_PREFORK = 7,
	RSP_TYPE_RAISE = 8
};
enum { RSP_HS_GUEST = 0, RSP_HS_AUTH = 1, RSP_HS_FORK = 2, RSP_HS_EXEC = 3 };
enum {
	RSP_ERR_NONE = 0,
	RSP_ERR_TRYAGAIN = 1,
	RSP_ERR_AUTH = 2,
	RSP_ERR_INVALID_PREFORK = 3,
	RSP_ERR_RFORK_FAILED = 4,
	RSP_ERR_INEXEC = 5,
	RSP_ERR_NOMEM = 6,
	RSP_ERR_MALFORMED_REQUEST = 7
};

/* NetBSD errno values used here (EPERM, ESRCH, EIO, ENOMEM, EBUSY, EINVAL,
 * EBADF and EFAULT are the same numbers as on Linux). */
#define RSP_EPERM 1
#define RSP_ESRCH 3
#define RSP_EIO 5
#define RSP_EBADF 9
#define RSP_ENOMEM 12
#define RSP_EFAULT 14
#define RSP_EBUSY 16
#define RSP_EINVAL 22
#define RSP_EAGAIN 35
#define RSP_ENOTCONN 57

/** Every frame starts with this header; `len` counts the header too. */
struct rsp_hdr {
	uint64_t len;
	uint64_t reqno;
	uint16_t class;
	uint16_t type;
	union {
		uint32_t sysnum;    /* SYSCALL request */
		uint32_t error;     /* ERROR */
		uint32_t handshake; /* HANDSHAKE request */
		uint32_t signo;     /* RAISE */
		uint32_t zero;      /* otherwise */
	} u;
};

/** RESP SYSCALL body. */
struct rsp_syscall_resp {
	int32_t error;
	int32_t pad;
	int64_t retval[2];
};

/** HANDSHAKE FORK request body. */
struct rsp_fork_req {
	uint32_t cookie[4];
	int32_t cancel;
};

/** RESP HANDSHAKE body. */
struct rsp_handshake_resp {
	int32_t error;
};

/** RESP PREFORK body. */
struct rsp_prefork_resp {
	uint32_t cookie[4];
};

/** COPYIN / COPYINSTR request body; COPYOUT / COPYOUTSTR start with it, then `len` bytes. */
struct rsp_copy_req {
	uint64_t len;
	uint64_t addr;
};

/** ANONMMAP request body. */
struct rsp_anonmmap_req {
	uint64_t size;
};

/** RESP ANONMMAP body. */
struct rsp_anonmmap_resp {
	uint64_t addr;
};

_Static_assert(sizeof(struct rsp_hdr) == 24, "frame header is 24 bytes");
_Static_assert(sizeof(struct rsp_syscall_resp) == 24, "syscall response body is 24 bytes");
_Static_assert(sizeof(struct rsp_fork_req) == 20, "fork handshake body is 20 bytes");
_Static_assert(sizeof(struct rsp_handshake_resp) == 4, "handshake response body is 4 bytes");
_Static_assert(sizeof(struct rsp_prefork_resp) == 16, "prefork cookie is 16 bytes");
_Static_assert(sizeof(struct rsp_copy_req) == 16, "copy request body is 16 bytes");
_Static_assert(sizeof(struct rsp_anonmmap_req) == 8, "anonmmap request body is 8 bytes");
_Static_assert(sizeof(struct rsp_anonmmap_resp) == 8, "anonmmap response body is 8 bytes");

/* ---- API --------------------------------------------------------------- */

typedef struct {
	uint32_t w[4];
} rsp_cookie_t;

/** The variable carrying the kept socket across execve. */
#define RSP_EXECFD_ENV "RUMPSP_EXECFD"

/**
 * Connects to $RUMP_SERVER, reads the banner and sends a GUEST handshake
 * with `progname`. If $RUMPSP_EXECFD is set (this image was exec'd by
 * a client that called rsp_exec_prepare), it instead takes over that socket
 * and sends an EXEC handshake. Returns 0 or an error (see above).
 */
int rsp_init(const char *progname);

/**
 * One syscall: `num` with the NetBSD argument block `args` (8 bytes per
 * argument). Returns the NetBSD errno (0 on success) and the results in
 * retval (may be NULL). Thread-safe, and may be called from a signal
 * handler: signals stay blocked while a call is inside the library (a
 * signal the server RAISEs is delivered when the call returns). A call the
 * server refuses with ERROR TRYAGAIN is sent again after 1 ms.
 */
int rsp_syscall(int num, const void *args, size_t arglen, int64_t retval[2]);

/** PREFORK: the server forks this process in advance and answers a cookie. */
int rsp_prefork(rsp_cookie_t *cookie);

/**
 * In the child after fork(): forget the parent's connection (without
 * disturbing it), connect anew and send HANDSHAKE FORK with the cookie.
 * With cancel != 0 the server drops the prefork and closes; 0 is returned
 * once the request is sent.
 */
int rsp_fork_handshake(const rsp_cookie_t *cookie, int cancel);

/**
 * Keeps the socket open across execve (clears close-on-exec) and puts its
 * number in $RUMPSP_EXECFD for the new image's rsp_init. It also quiesces
 * the connection: other threads may stay inside calls, but from here on no
 * frame is half sent or half read, and no call can go out until execve (or
 * rsp_exec_abort if execve failed).
 */
int rsp_exec_prepare(void);

/** execve failed after rsp_exec_prepare: the connection works again. */
void rsp_exec_abort(void);

/** In a child after fork(): drop the inherited connection without touching the parent's. */
void rsp_forget(void);

/** Closes the connection (the server releases the process). */
void rsp_fini(void);

/** The connection's socket, -1 if none. */
int rsp_fd(void);

/** RAISE requests served so far (each raised its host signal; several pending at once are one). */
int rsp_raises(void);

/** Host signal number for a NetBSD one, 0 if unknown. */
int rsp_host_signal(int netbsd_sig);

/**
 * Test hook: called by the reading thread before it answers a COPYIN or
 * COPYINSTR (len, addr of the request). NULL (the default) for none.
 */
void rsp_set_copyin_hook(void (*hook)(uint64_t len, uint64_t addr));

/** Helpers to fill an argument block: slot i of args gets v. */
static inline void rsp_arg(uint64_t *args, int i, uint64_t v) { args[i] = v; }
static inline void rsp_arg_int(uint64_t *args, int i, int v) { args[i] = (uint64_t)(uint32_t)v; }
static inline void rsp_arg_ptr(uint64_t *args, int i, const void *p) { args[i] = (uint64_t)(uintptr_t)p; }

/* NetBSD syscall numbers and constants the test programs use. */
#define RSP_SYS_exit 1
#define RSP_SYS_read 3
#define RSP_SYS_write 4
#define RSP_SYS_open 5
#define RSP_SYS_close 6
#define RSP_SYS_getpid 20
#define RSP_SYS_kill 37
#define RSP_SYS_getppid 39
#define RSP_SYS_pipe 42
#define RSP_SYS_lseek 199
#define RSP_SYS___sysctl 202
#define RSP_SYS___nanosleep50 430
#define RSP_SYS_pipe2 453
#define RSP_SYS_accept 30
#define RSP_SYS_getsockname 32
#define RSP_SYS_fcntl 92
#define RSP_SYS_connect 98
#define RSP_SYS_bind 104
#define RSP_SYS_setsockopt 105
#define RSP_SYS_listen 106
#define RSP_SYS_getsockopt 118
#define RSP_SYS___socket30 394

#define RSP_O_RDONLY 0
#define RSP_O_WRONLY 1
#define RSP_O_RDWR 2
#define RSP_O_CREAT 0x200
#define RSP_O_TRUNC 0x400
#define RSP_O_CLOEXEC 0x400000
#define RSP_O_NONBLOCK 0x4
#define RSP_O_ASYNC 0x40

#define RSP_F_SETFL 4
#define RSP_F_SETOWN 6

#define RSP_AF_INET 2
#define RSP_SOCK_STREAM 1
#define RSP_SOL_SOCKET 0xffff
#define RSP_SO_REUSEADDR 0x4
#define RSP_SO_ERROR 0x1007

#define RSP_EPIPE 32
#define RSP_EADDRINUSE 48
#define RSP_ECONNRESET 54

#define RSP_CTL_KERN 1
#define RSP_KERN_HOSTNAME 10
#define RSP_KERN_PROC2 47
#define RSP_KERN_PROC_PID 1
/* struct kinfo_proc2 (packages/protocol/src/netbsd/structs.ts) */
#define RSP_KINFO_PROC2_SIZE 680
#define RSP_KINFO_PROC2_P_NLWPS 616 /* uint64_t */

#define RSP_SIGHUP 1
#define RSP_SIGINT 2
#define RSP_SIGKILL 9
#define RSP_SIGPIPE 13
#define RSP_SIGALRM 14
#define RSP_SIGTERM 15
#define RSP_SIGIO 23
#define RSP_SIGUSR1 30
#define RSP_SIGUSR2 31

#endif
