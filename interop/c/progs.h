/*
 * Small wrappers the interop test programs share: one function per NetBSD
 * syscall they use, each returning the NetBSD errno and the result in *ret.
 */
#ifndef PROGS_H
#define PROGS_H

#include "rumpsp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                   \
	do {                                                            \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);        \
		fprintf(stderr, __VA_ARGS__);                               \
		fprintf(stderr, "\n");                                      \
		exit(1);                                                    \
	} while (0)

#define CHECK(cond, ...)                                            \
	do {                                                            \
		if (!(cond))                                                \
			FAIL(__VA_ARGS__);                                      \
	} while (0)

static inline int sys_getpid(int64_t *pid, int64_t *ppid)
{
	int64_t rv[2];
	int e = rsp_syscall(RSP_SYS_getpid, NULL, 0, rv);
	if (pid != NULL)
		*pid = rv[0];
	if (ppid != NULL)
		*ppid = rv[1];
	return e;
}

static inline int sys_open(const char *path, int flags, int mode, int64_t *fd)
{
	uint64_t a[3];
	int64_t rv[2];
	rsp_arg_ptr(a, 0, path);
	rsp_arg_int(a, 1, flags);
	rsp_arg_int(a, 2, mode);
	int e = rsp_syscall(RSP_SYS_open, a, sizeof a, rv);
	*fd = rv[0];
	return e;
}

static inline int sys_rw(int num, int fd, const void *buf, size_t len, int64_t *n)
{
	uint64_t a[3];
	int64_t rv[2];
	rsp_arg_int(a, 0, fd);
	rsp_arg_ptr(a, 1, buf);
	rsp_arg(a, 2, len);
	int e = rsp_syscall(num, a, sizeof a, rv);
	if (n != NULL)
		*n = rv[0];
	return e;
}

static inline int sys_write(int fd, const void *buf, size_t len, int64_t *n)
{
	return sys_rw(RSP_SYS_write, fd, buf, len, n);
}

static inline int sys_read(int fd, void *buf, size_t len, int64_t *n)
{
	return sys_rw(RSP_SYS_read, fd, buf, len, n);
}

static inline int sys_close(int fd)
{
	uint64_t a[1];
	rsp_arg_int(a, 0, fd);
	return rsp_syscall(RSP_SYS_close, a, sizeof a, NULL);
}

static inline int sys_lseek(int fd, int64_t off, int whence, int64_t *pos)
{
	uint64_t a[4];
	int64_t rv[2];
	rsp_arg_int(a, 0, fd);
	rsp_arg(a, 1, 0); /* PAD */
	rsp_arg(a, 2, (uint64_t)off);
	rsp_arg_int(a, 3, whence);
	int e = rsp_syscall(RSP_SYS_lseek, a, sizeof a, rv);
	if (pos != NULL)
		*pos = rv[0];
	return e;
}

static inline int sys_kill(int pid, int sig)
{
	uint64_t a[2];
	rsp_arg_int(a, 0, pid);
	rsp_arg_int(a, 1, sig);
	return rsp_syscall(RSP_SYS_kill, a, sizeof a, NULL);
}

/** sysctl kern.hostname read into buf (*len in: size, out: bytes with the NUL). */
static inline int sys_gethostname(char *buf, size_t *len)
{
	int name[2] = { RSP_CTL_KERN, RSP_KERN_HOSTNAME };
	uint64_t a[6];
	rsp_arg_ptr(a, 0, name);
	rsp_arg_int(a, 1, 2);
	rsp_arg_ptr(a, 2, buf);
	rsp_arg_ptr(a, 3, len);
	rsp_arg(a, 4, 0);
	rsp_arg(a, 5, 0);
	return rsp_syscall(RSP_SYS___sysctl, a, sizeof a, NULL);
}

/** __nanosleep50 in the server (struct timespec: int64 sec, long nsec). */
static inline int sys_nanosleep(int64_t sec, int64_t nsec)
{
	int64_t ts[2] = { sec, nsec };
	uint64_t a[2];
	rsp_arg_ptr(a, 0, ts);
	rsp_arg(a, 1, 0);
	return rsp_syscall(RSP_SYS___nanosleep50, a, sizeof a, NULL);
}

/** pipe (42): the two descriptors come back in retval[0] and retval[1]. */
static inline int sys_pipe(int fds[2])
{
	int64_t rv[2];
	int e = rsp_syscall(RSP_SYS_pipe, NULL, 0, rv);
	fds[0] = (int)rv[0];
	fds[1] = (int)rv[1];
	return e;
}

/** pipe2 (453): the two descriptors are copied out to fds. */
static inline int sys_pipe2(int fds[2], int flags)
{
	uint64_t a[2];
	rsp_arg_ptr(a, 0, fds);
	rsp_arg_int(a, 1, flags);
	return rsp_syscall(RSP_SYS_pipe2, a, sizeof a, NULL);
}

/** sysctl kern.proc2 for one pid: its p_nlwps in *nlwps. */
static inline int sys_proc2_nlwps(int64_t pid, uint64_t *nlwps)
{
	int name[6] = { RSP_CTL_KERN, RSP_KERN_PROC2, RSP_KERN_PROC_PID, (int)pid, RSP_KINFO_PROC2_SIZE, 1 };
	static __thread uint8_t kp[RSP_KINFO_PROC2_SIZE];
	size_t len = sizeof kp;
	uint64_t a[6];
	memset(kp, 0xff, sizeof kp);
	rsp_arg_ptr(a, 0, name);
	rsp_arg_int(a, 1, 6);
	rsp_arg_ptr(a, 2, kp);
	rsp_arg_ptr(a, 3, &len);
	rsp_arg(a, 4, 0);
	rsp_arg(a, 5, 0);
	int e = rsp_syscall(RSP_SYS___sysctl, a, sizeof a, NULL);
	if (e == 0 && len != sizeof kp)
		return RSP_EINVAL;
	memcpy(nlwps, kp + RSP_KINFO_PROC2_P_NLWPS, sizeof *nlwps);
	return e;
}

/** sysctl kern.hostname set to `name`. */
static inline int sys_sethostname(const char *name)
{
	int mib[2] = { RSP_CTL_KERN, RSP_KERN_HOSTNAME };
	uint64_t a[6];
	rsp_arg_ptr(a, 0, mib);
	rsp_arg_int(a, 1, 2);
	rsp_arg(a, 2, 0);
	rsp_arg(a, 3, 0);
	rsp_arg_ptr(a, 4, name);
	rsp_arg(a, 5, strlen(name) + 1);
	return rsp_syscall(RSP_SYS___sysctl, a, sizeof a, NULL);
}

static inline int sys_fcntl(int fd, int cmd, int arg, int64_t *ret)
{
	uint64_t a[3];
	int64_t rv[2];
	rsp_arg_int(a, 0, fd);
	rsp_arg_int(a, 1, cmd);
	rsp_arg_int(a, 2, arg);
	int e = rsp_syscall(RSP_SYS_fcntl, a, sizeof a, rv);
	if (ret != NULL)
		*ret = rv[0];
	return e;
}

/** struct sockaddr_in in NetBSD's layout: sin_len first; port and address in network order. */
struct rsp_sockaddr_in {
	uint8_t len;
	uint8_t family;
	uint8_t port[2];
	uint8_t addr[4];
	uint8_t zero[8];
};
_Static_assert(sizeof(struct rsp_sockaddr_in) == 16, "struct sockaddr_in is 16 bytes");

/** a.b.c.d:port */
static inline struct rsp_sockaddr_in rsp_sin(int a, int b, int c, int d, int port)
{
	struct rsp_sockaddr_in s = { .len = 16, .family = RSP_AF_INET };
	s.port[0] = (uint8_t)(port >> 8);
	s.port[1] = (uint8_t)port;
	s.addr[0] = (uint8_t)a;
	s.addr[1] = (uint8_t)b;
	s.addr[2] = (uint8_t)c;
	s.addr[3] = (uint8_t)d;
	return s;
}

static inline int sys_socket(int domain, int type, int64_t *fd)
{
	uint64_t a[3];
	int64_t rv[2];
	rsp_arg_int(a, 0, domain);
	rsp_arg_int(a, 1, type);
	rsp_arg_int(a, 2, 0);
	int e = rsp_syscall(RSP_SYS___socket30, a, sizeof a, rv);
	*fd = rv[0];
	return e;
}

static inline int sys_setsockopt_int(int fd, int level, int name, int value)
{
	uint64_t a[5];
	rsp_arg_int(a, 0, fd);
	rsp_arg_int(a, 1, level);
	rsp_arg_int(a, 2, name);
	rsp_arg_ptr(a, 3, &value);
	rsp_arg(a, 4, sizeof value);
	return rsp_syscall(RSP_SYS_setsockopt, a, sizeof a, NULL);
}

static inline int sys_getsockopt_int(int fd, int level, int name, int *value)
{
	uint32_t len = sizeof *value;
	uint64_t a[5];
	rsp_arg_int(a, 0, fd);
	rsp_arg_int(a, 1, level);
	rsp_arg_int(a, 2, name);
	rsp_arg_ptr(a, 3, value);
	rsp_arg_ptr(a, 4, &len);
	return rsp_syscall(RSP_SYS_getsockopt, a, sizeof a, NULL);
}

/** bind (104) or connect (98) to an AF_INET address. */
static inline int sys_sockaddr_call(int num, int fd, const struct rsp_sockaddr_in *sin)
{
	uint64_t a[3];
	rsp_arg_int(a, 0, fd);
	rsp_arg_ptr(a, 1, sin);
	rsp_arg(a, 2, sizeof *sin);
	return rsp_syscall(num, a, sizeof a, NULL);
}

static inline int sys_listen(int fd, int backlog)
{
	uint64_t a[2];
	rsp_arg_int(a, 0, fd);
	rsp_arg_int(a, 1, backlog);
	return rsp_syscall(RSP_SYS_listen, a, sizeof a, NULL);
}

static inline int sys_accept(int fd, int64_t *nfd)
{
	uint64_t a[3] = { 0, 0, 0 };
	int64_t rv[2];
	rsp_arg_int(a, 0, fd);
	int e = rsp_syscall(RSP_SYS_accept, a, sizeof a, rv);
	*nfd = rv[0];
	return e;
}

/** getsockname of an AF_INET socket into *sin. */
static inline int sys_getsockname(int fd, struct rsp_sockaddr_in *sin)
{
	uint32_t len = sizeof *sin;
	uint64_t a[3];
	rsp_arg_int(a, 0, fd);
	rsp_arg_ptr(a, 1, sin);
	rsp_arg_ptr(a, 2, &len);
	int e = rsp_syscall(RSP_SYS_getsockname, a, sizeof a, NULL);
	return e == 0 && len != sizeof *sin ? RSP_EINVAL : e;
}

static inline void init_or_die(const char *progname)
{
	int e = rsp_init(progname);
	CHECK(e == 0, "rsp_init(%s): %d (%s)", progname, e, strerror(e));
}

#endif
