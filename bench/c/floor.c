/*
 * floor URL: the benchmark floor, a RUMPSP 0.4 echo server with no kernel
 * behind it (unix:///path or tcp://A.B.C.D:PORT).
 *
 * One thread per connection. It writes the banner, answers any HANDSHAKE
 * with error 0 and every SYSCALL with error 0, retval 0 without doing any
 * work, except:
 *   write (4) and pwrite (174): sends a COPYIN request for the whole
 *     buffer (args fd, buf, len) and answers the syscall, retval len, only
 *     once the COPYIN answer has come in (a write to a file costs one
 *     COPYIN round trip, whatever the file);
 *   read (3): sends a COPYOUT of len zero bytes to buf, then answers,
 *     retval len.
 * Other syscalls of the same connection keep being answered while a write
 * waits for its copyin (requests of many client threads are in flight at
 * once). Prints "READY <url>" once listening.
 *
 * Build: gcc -O2 -pthread -Iinterop/c bench/c/floor.c
 */
#define _GNU_SOURCE
#include "rumpsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define HDRLEN 24u
#define BANNER "RUMPSP-0.4-NetBSD-7.99.34/amd64\n"
#define INBUF (256u * 1024u)
#define MAXPENDING 1024
#define SYS_pwrite 174

struct pending {
	uint64_t myreqno;  /* our COPYIN request */
	uint64_t reqno;    /* the client's SYSCALL */
	int64_t retval;
	int used;
};

struct conn {
	int fd;
	uint8_t *buf;
	size_t start, end;
	uint64_t next_reqno;
	struct pending pend[MAXPENDING];
	uint8_t *zeros;
	size_t zeros_len;
};

static int write_all(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		ssize_t n = writev(fd, iov, iovcnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static void hdr(struct rsp_hdr *h, uint64_t len, uint64_t reqno, uint16_t class, uint16_t type, uint32_t u)
{
	memset(h, 0, sizeof *h);
	h->len = len;
	h->reqno = reqno;
	h->class = class;
	h->type = type;
	h->u.zero = u;
}

static int answer_syscall(struct conn *c, uint64_t reqno, int64_t retval)
{
	struct {
		struct rsp_hdr h;
		struct rsp_syscall_resp r;
	} f;
	hdr(&f.h, sizeof f, reqno, RSP_CLASS_RESP, RSP_TYPE_SYSCALL, 0);
	memset(&f.r, 0, sizeof f.r);
	f.r.retval[0] = retval;
	struct iovec iov = { &f, sizeof f };
	return write_all(c->fd, &iov, 1);
}

/** Makes at least `need` bytes available at c->buf + c->start. */
static int fill(struct conn *c, size_t need)
{
	if (c->end - c->start >= need)
		return 0;
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	while (c->end < need) {
		ssize_t n = read(c->fd, c->buf + c->end, INBUF - c->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->end += (size_t)n;
	}
	return 0;
}

/** Skips len bytes of body that may be larger than the buffer. */
static int skip(struct conn *c, uint64_t len)
{
	while (len > 0) {
		size_t have = c->end - c->start;
		if (have == 0) {
			c->start = c->end = 0;
			if (fill(c, 1))
				return -1;
			have = c->end;
		}
		size_t n = have < len ? have : (size_t)len;
		c->start += n;
		len -= n;
	}
	return 0;
}

static int handle_syscall(struct conn *c, const struct rsp_hdr *h, const uint8_t *args, size_t alen)
{
	uint64_t a[3] = { 0, 0, 0 };
	memcpy(a, args, alen < sizeof a ? alen : sizeof a);
	if ((h->u.sysnum == RSP_SYS_write || h->u.sysnum == SYS_pwrite) && a[2] > 0) {
		int slot = -1;
		for (int i = 0; i < MAXPENDING; i++)
			if (!c->pend[i].used) {
				slot = i;
				break;
			}
		if (slot < 0)
			return answer_syscall(c, h->reqno, 0);
		struct pending *p = &c->pend[slot];
		p->used = 1;
		p->myreqno = ++c->next_reqno;
		p->reqno = h->reqno;
		p->retval = (int64_t)a[2];
		struct {
			struct rsp_hdr h;
			struct rsp_copy_req r;
		} f;
		hdr(&f.h, sizeof f, p->myreqno, RSP_CLASS_REQ, RSP_TYPE_COPYIN, 0);
		f.r.len = a[2];
		f.r.addr = a[1];
		struct iovec iov = { &f, sizeof f };
		return write_all(c->fd, &iov, 1);
	}
	if (h->u.sysnum == RSP_SYS_read && a[2] > 0) {
		if (c->zeros_len < a[2]) {
			free(c->zeros);
			c->zeros = calloc(1, (size_t)a[2]);
			if (c->zeros == NULL)
				return -1;
			c->zeros_len = (size_t)a[2];
		}
		struct {
			struct rsp_hdr h;
			struct rsp_copy_req r;
		} f;
		struct {
			struct rsp_hdr h;
			struct rsp_syscall_resp r;
		} s;
		hdr(&f.h, sizeof f + a[2], ++c->next_reqno, RSP_CLASS_REQ, RSP_TYPE_COPYOUT, 0);
		f.r.len = a[2];
		f.r.addr = a[1];
		hdr(&s.h, sizeof s, h->reqno, RSP_CLASS_RESP, RSP_TYPE_SYSCALL, 0);
		memset(&s.r, 0, sizeof s.r);
		s.r.retval[0] = (int64_t)a[2];
		struct iovec iov[3] = { { &f, sizeof f }, { c->zeros, (size_t)a[2] }, { &s, sizeof s } };
		return write_all(c->fd, iov, 3);
	}
	return answer_syscall(c, h->reqno, 0);
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	struct iovec banner = { BANNER, sizeof BANNER - 1 };
	if (write_all(c->fd, &banner, 1))
		goto out;
	for (;;) {
		if (fill(c, HDRLEN))
			break;
		struct rsp_hdr h;
		memcpy(&h, c->buf + c->start, sizeof h);
		if (h.len < HDRLEN)
			break;
		uint64_t blen = h.len - HDRLEN;
		if (h.class == RSP_CLASS_RESP) {
			/* a COPYIN answer: the body is the client's buffer */
			c->start += HDRLEN;
			if (skip(c, blen))
				break;
			for (int i = 0; i < MAXPENDING; i++) {
				struct pending *p = &c->pend[i];
				if (p->used && p->myreqno == h.reqno) {
					p->used = 0;
					if (answer_syscall(c, p->reqno, p->retval))
						goto out;
					break;
				}
			}
			continue;
		}
		if (blen > INBUF - HDRLEN) {
			c->start += HDRLEN;
			if (skip(c, blen))
				break;
			continue;
		}
		if (fill(c, (size_t)h.len))
			break;
		const uint8_t *body = c->buf + c->start + HDRLEN;
		c->start += (size_t)h.len;
		int r = 0;
		if (h.class == RSP_CLASS_REQ && h.type == RSP_TYPE_HANDSHAKE) {
			if (h.u.handshake == RSP_HS_FORK && blen >= 20) {
				int32_t cancel;
				memcpy(&cancel, body + 16, 4);
				if (cancel)
					break;
			}
			struct rsp_hdr rh;
			uint8_t f[HDRLEN + 4] = { 0 }; /* header + int32 error 0 */
			hdr(&rh, sizeof f, h.reqno, RSP_CLASS_RESP, RSP_TYPE_HANDSHAKE, 0);
			memcpy(f, &rh, sizeof rh);
			struct iovec iov = { f, sizeof f };
			r = write_all(c->fd, &iov, 1);
		} else if (h.class == RSP_CLASS_REQ && h.type == RSP_TYPE_SYSCALL) {
			r = handle_syscall(c, &h, body, (size_t)blen);
		} else if (h.class == RSP_CLASS_REQ && h.type == RSP_TYPE_PREFORK) {
			struct {
				struct rsp_hdr h;
				struct rsp_prefork_resp p;
			} f;
			hdr(&f.h, sizeof f, h.reqno, RSP_CLASS_RESP, RSP_TYPE_PREFORK, 0);
			memset(&f.p, 0, sizeof f.p);
			struct iovec iov = { &f, sizeof f };
			r = write_all(c->fd, &iov, 1);
		}
		if (r)
			break;
	}
out:
	close(c->fd);
	free(c->buf);
	free(c->zeros);
	free(c);
	return NULL;
}

static int listen_url(const char *url)
{
	int fd;
	if (strncmp(url, "unix://", 7) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(url + 7) >= sizeof sun.sun_path)
			return -1;
		strcpy(sun.sun_path, url + 7);
		unlink(sun.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
			return -1;
	} else if (strncmp(url, "tcp://", 6) == 0) {
		char host[64];
		const char *colon = strrchr(url + 6, ':');
		if (colon == NULL || (size_t)(colon - (url + 6)) >= sizeof host)
			return -1;
		memcpy(host, url + 6, (size_t)(colon - (url + 6)));
		host[colon - (url + 6)] = '\0';
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return -1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
			return -1;
	} else {
		return -1;
	}
	if (listen(fd, 4096) != 0)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor unix:///path | tcp://A.B.C.D:PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_url(argv[1]);
	if (lfd < 0) {
		perror("floor: listen");
		return 1;
	}
	printf("READY %s\n", argv[1]);
	fflush(stdout);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			perror("floor: accept");
			return 1;
		}
		if (strncmp(argv[1], "tcp://", 6) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		struct conn *c = calloc(1, sizeof *c);
		c->fd = fd;
		c->buf = malloc(INBUF);
		pthread_t t;
		if (c->buf == NULL || pthread_create(&t, &attr, serve, c) != 0) {
			close(fd);
			free(c->buf);
			free(c);
		}
	}
}
