/*
 * rumpsp: a RUMPSP 0.4 client for the interoperability tests; see rumpsp.h.
 * Written from /work/shared/PROTOCOL.md.
 *
 * Concurrency: `mu` guards the request counter, the list of waiting calls,
 * the reader role and the dead flag; `wmu` makes every frame go out in one
 * piece. A caller registers its waiter before sending, then either waits on
 * `cv` or, if nobody is reading, becomes the reader: it reads and handles
 * frames (answers for any waiter, requests of the server) until its own
 * answer has come, then hands the role on by waking the others. The reader
 * marks `midframe` while it is inside a frame; `execing` (rsp_exec_prepare)
 * stops it from starting another, so execve never leaves half a frame read.
 * Every call runs with signals blocked (see call()), so signal handlers may
 * make calls too. ERROR TRYAGAIN answers to syscalls are retried.
 */
#define _GNU_SOURCE
#include "rumpsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#define BANNER_MAX 95
#define HDRLEN ((uint64_t)sizeof(struct rsp_hdr))
#define SMALL_BODY 64

struct waiter {
	struct waiter *next;
	uint64_t reqno;
	int done;
	int error; /* NetBSD errno from an ERROR frame, else 0 */
	uint16_t class;
	uint16_t type;
	size_t bodylen;
	uint8_t body[SMALL_BODY];
};

static struct {
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t wmu;
	uint64_t next_reqno;
	struct waiter *waiters;
	int reading;
	int dead;
	int midframe; /* the reader is inside a frame (between header and last byte) */
	int execing;  /* rsp_exec_prepare: no frame may be started any more */
} C = {
	.fd = -1,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.wmu = PTHREAD_MUTEX_INITIALIZER,
};

static void (*copyin_hook)(uint64_t, uint64_t);

void rsp_set_copyin_hook(void (*hook)(uint64_t len, uint64_t addr)) { copyin_hook = hook; }

int rsp_fd(void) { return C.fd; }

/* RAISE requests served, for tests that tell the server's signals from the host's coalescing of them */
static atomic_int g_raises;

int rsp_raises(void) { return atomic_load(&g_raises); }

/* ---- mappings ------------------------------------------------------------ */

static int error_to_errno(uint32_t code)
{
	switch (code) {
	case RSP_ERR_NONE: return 0;
	case RSP_ERR_TRYAGAIN: return RSP_EAGAIN;
	case RSP_ERR_AUTH: return RSP_EPERM;
	case RSP_ERR_INVALID_PREFORK: return RSP_ESRCH;
	case RSP_ERR_RFORK_FAILED: return RSP_EIO;
	case RSP_ERR_INEXEC: return RSP_EBUSY;
	case RSP_ERR_NOMEM: return RSP_ENOMEM;
	case RSP_ERR_MALFORMED_REQUEST: return RSP_EINVAL;
	default: return RSP_EINVAL;
	}
}

int rsp_host_signal(int sig)
{
	switch (sig) {
	case 1: return SIGHUP;
	case 2: return SIGINT;
	case 3: return SIGQUIT;
	case 4: return SIGILL;
	case 5: return SIGTRAP;
	case 6: return SIGABRT;
	case 8: return SIGFPE;
	case 9: return SIGKILL;
	case 10: return SIGBUS;
	case 11: return SIGSEGV;
	case 12: return SIGSYS;
	case 13: return SIGPIPE;
	case 14: return SIGALRM;
	case 15: return SIGTERM;
	case 16: return SIGURG;
	case 17: return SIGSTOP;
	case 18: return SIGTSTP;
	case 19: return SIGCONT;
	case 20: return SIGCHLD;
	case 21: return SIGTTIN;
	case 22: return SIGTTOU;
	case 23: return SIGIO;
	case 24: return SIGXCPU;
	case 25: return SIGXFSZ;
	case 26: return SIGVTALRM;
	case 27: return SIGPROF;
	case 28: return SIGWINCH;
	case 30: return SIGUSR1;
	case 31: return SIGUSR2;
	case 32: return SIGPWR;
	default: return 0; /* SIGINFO (29) and the rest have no Linux twin */
	}
}

/* ---- socket I/O ------------------------------------------------------------ */

/** Reads exactly len bytes; -1 on EOF or error. */
static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int discard(int fd, uint64_t len)
{
	uint8_t scratch[4096];
	while (len > 0) {
		size_t n = len > sizeof scratch ? sizeof scratch : (size_t)len;
		if (read_all(fd, scratch, n))
			return -1;
		len -= n;
	}
	return 0;
}

/** Writes all of iov (modified) as one frame, under wmu. */
static int send_iov(struct iovec *iov, int iovcnt)
{
	int rv = 0;
	pthread_mutex_lock(&C.wmu);
	while (iovcnt > 0) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t n = sendmsg(C.fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv = -1;
			break;
		}
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
	pthread_mutex_unlock(&C.wmu);
	return rv;
}

static int send_frame(struct rsp_hdr *h, const void *body, size_t blen)
{
	struct iovec iov[2] = {
		{ .iov_base = h, .iov_len = sizeof *h },
		{ .iov_base = (void *)(uintptr_t)body, .iov_len = blen },
	};
	h->len = HDRLEN + blen;
	return send_iov(iov, blen > 0 ? 2 : 1);
}

static void make_hdr(struct rsp_hdr *h, uint64_t reqno, uint16_t class, uint16_t type, uint32_t arg)
{
	memset(h, 0, sizeof *h);
	h->reqno = reqno;
	h->class = class;
	h->type = type;
	h->u.zero = arg;
}

/* ---- serving the server's requests (reader only, mu not held) --------------- */

static int serve_copyin(const struct rsp_hdr *h)
{
	struct rsp_copy_req req;
	if (h->len - HDRLEN != sizeof req)
		return discard(C.fd, h->len - HDRLEN);
	if (read_all(C.fd, &req, sizeof req))
		return -1;
	if (copyin_hook != NULL)
		copyin_hook(req.len, req.addr);
	const char *src = (const char *)(uintptr_t)req.addr;
	size_t n = (size_t)req.len;
	if (h->type == RSP_TYPE_COPYINSTR) {
		size_t s = strnlen(src, n);
		n = s < n ? s + 1 : n;
	}
	struct rsp_hdr resp;
	make_hdr(&resp, h->reqno, RSP_CLASS_RESP, RSP_TYPE_COPYIN, 0);
	resp.len = HDRLEN + n;
	struct iovec iov[2] = {
		{ .iov_base = &resp, .iov_len = sizeof resp },
		{ .iov_base = (void *)(uintptr_t)src, .iov_len = n },
	};
	return send_iov(iov, n > 0 ? 2 : 1);
}

static int serve_copyout(const struct rsp_hdr *h)
{
	struct rsp_copy_req req;
	uint64_t blen = h->len - HDRLEN;
	if (blen < sizeof req)
		return discard(C.fd, blen);
	if (read_all(C.fd, &req, sizeof req))
		return -1;
	if (req.len != blen - sizeof req)
		return discard(C.fd, blen - sizeof req);
	if (req.len == 0)
		return 0;
	return read_all(C.fd, (void *)(uintptr_t)req.addr, (size_t)req.len);
}

static int serve_anonmmap(const struct rsp_hdr *h)
{
	struct rsp_anonmmap_req req;
	if (h->len - HDRLEN != sizeof req)
		return discard(C.fd, h->len - HDRLEN);
	if (read_all(C.fd, &req, sizeof req))
		return -1;
	struct rsp_anonmmap_resp out = { 0 };
	void *p = mmap(NULL, (size_t)req.size, PROT_READ | PROT_WRITE, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (p != MAP_FAILED)
		out.addr = (uint64_t)(uintptr_t)p;
	struct rsp_hdr resp;
	make_hdr(&resp, h->reqno, RSP_CLASS_RESP, RSP_TYPE_ANONMMAP, 0);
	return send_frame(&resp, &out, sizeof out);
}

/** An answer: hand it to its waiter (dropped if nobody waits for it). */
static int deliver(const struct rsp_hdr *h)
{
	uint8_t body[SMALL_BODY];
	uint64_t blen = h->len - HDRLEN;
	size_t keep = blen > SMALL_BODY ? SMALL_BODY : (size_t)blen;
	if (read_all(C.fd, body, keep) || discard(C.fd, blen - keep))
		return -1;
	pthread_mutex_lock(&C.mu);
	for (struct waiter *w = C.waiters; w != NULL; w = w->next) {
		if (w->reqno != h->reqno || w->done)
			continue;
		w->done = 1;
		w->class = h->class;
		w->type = h->type;
		w->error = h->class == RSP_CLASS_ERROR ? error_to_errno(h->u.error) : 0;
		w->bodylen = keep;
		memcpy(w->body, body, keep);
		pthread_cond_broadcast(&C.cv);
		break;
	}
	pthread_mutex_unlock(&C.mu);
	return 0;
}

/** Reads and handles one frame (its header read already). */
static int serve_frame(struct rsp_hdr h)
{
	if (h.len < HDRLEN)
		return -1;
	if (h.class == RSP_CLASS_RESP || h.class == RSP_CLASS_ERROR)
		return deliver(&h);
	if (h.class != RSP_CLASS_REQ)
		return discard(C.fd, h.len - HDRLEN);
	switch (h.type) {
	case RSP_TYPE_COPYIN:
	case RSP_TYPE_COPYINSTR:
		return serve_copyin(&h);
	case RSP_TYPE_COPYOUT:
	case RSP_TYPE_COPYOUTSTR:
		return serve_copyout(&h);
	case RSP_TYPE_ANONMMAP:
		return serve_anonmmap(&h);
	case RSP_TYPE_RAISE: {
		if (discard(C.fd, h.len - HDRLEN))
			return -1;
		atomic_fetch_add(&g_raises, 1);
		int sig = rsp_host_signal((int)h.u.signo);
		if (sig != 0)
			raise(sig);
		return 0;
	}
	default:
		return discard(C.fd, h.len - HDRLEN);
	}
}

/**
 * Waits until a frame starts to arrive, then reads and handles it whole,
 * marked `midframe` so that rsp_exec_prepare never execs with half a frame
 * consumed. Once an exec is pending no new frame is started. -1: the
 * connection is unusable.
 */
static int serve_one(void)
{
	struct pollfd pfd = { .fd = C.fd, .events = POLLIN };
	int n;
	do
		n = poll(&pfd, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	pthread_mutex_lock(&C.mu);
	while (C.execing)
		pthread_cond_wait(&C.cv, &C.mu);
	C.midframe = 1;
	pthread_mutex_unlock(&C.mu);

	struct rsp_hdr h;
	int r = read_all(C.fd, &h, sizeof h);
	if (r == 0)
		r = serve_frame(h);

	pthread_mutex_lock(&C.mu);
	C.midframe = 0;
	if (C.execing)
		pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
	return r;
}

/* ---- calls ------------------------------------------------------------------ */

static void unlink_waiter(struct waiter *w)
{
	for (struct waiter **pp = &C.waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/** Waits for w's answer, reading when nobody else does. mu held. */
static void wait_for(struct waiter *w)
{
	while (!w->done && !C.dead) {
		if (C.reading) {
			pthread_cond_wait(&C.cv, &C.mu);
			continue;
		}
		C.reading = 1;
		while (!w->done && !C.dead) {
			pthread_mutex_unlock(&C.mu);
			int r = serve_one();
			pthread_mutex_lock(&C.mu);
			if (r != 0)
				C.dead = 1;
		}
		C.reading = 0;
		pthread_cond_broadcast(&C.cv);
	}
}

/**
 * Sends a request and waits for its answer (unless w is NULL). Returns 0,
 * the NetBSD errno of an ERROR answer, or RSP_ENOTCONN.
 */
static int call_masked(uint16_t type, uint32_t arg, const void *body, size_t blen, struct waiter *w)
{
	struct rsp_hdr h;
	pthread_mutex_lock(&C.mu);
	if (C.fd < 0 || C.dead) {
		pthread_mutex_unlock(&C.mu);
		return RSP_ENOTCONN;
	}
	make_hdr(&h, ++C.next_reqno, RSP_CLASS_REQ, type, arg);
	if (w != NULL) {
		memset(w, 0, sizeof *w);
		w->reqno = h.reqno;
		w->next = C.waiters;
		C.waiters = w;
	}
	pthread_mutex_unlock(&C.mu);

	int sent = send_frame(&h, body, blen);
	pthread_mutex_lock(&C.mu);
	if (sent != 0) {
		C.dead = 1;
		pthread_cond_broadcast(&C.cv);
	} else if (w != NULL) {
		wait_for(w);
	}
	if (w != NULL)
		unlink_waiter(w);
	pthread_mutex_unlock(&C.mu);
	if (w == NULL)
		return sent == 0 ? 0 : RSP_ENOTCONN;
	if (!w->done)
		return RSP_ENOTCONN;
	if (w->error != 0)
		return w->error;
	return w->class == RSP_CLASS_RESP ? 0 : RSP_EINVAL;
}

/**
 * Signals stay blocked for the whole call (as librumpclient does): a handler
 * that makes calls of its own (a SIGALRM handler calling rsp_syscall) then
 * never runs inside the library's critical sections (mutexes, the reader
 * role, half a frame), so calls from handlers are safe. A signal the server
 * RAISEs is delivered when the call returns. Synchronous faults stay
 * unblocked.
 */
static int call(uint16_t type, uint32_t arg, const void *body, size_t blen, struct waiter *w)
{
	sigset_t all, saved;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	int e = call_masked(type, arg, body, blen, w);
	int saved_errno = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	errno = saved_errno;
	return e;
}

int rsp_syscall(int num, const void *args, size_t arglen, int64_t retval[2])
{
	struct waiter w;
	int err;
	/*
	 * ERROR TRYAGAIN: the server has too many of this connection's calls
	 * (or jobs) already; send it again a little later, as librumpclient.
	 */
	for (;;) {
		err = call(RSP_TYPE_SYSCALL, (uint32_t)num, args, arglen, &w);
		if (!(err == RSP_EAGAIN && w.done && w.class == RSP_CLASS_ERROR))
			break;
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (err == 0 && (w.type != RSP_TYPE_SYSCALL || w.bodylen != sizeof(struct rsp_syscall_resp)))
		err = RSP_EINVAL;
	if (err != 0) {
		if (retval != NULL)
			retval[0] = -1, retval[1] = 0;
		return err;
	}
	struct rsp_syscall_resp r;
	memcpy(&r, w.body, sizeof r);
	if (retval != NULL) {
		retval[0] = r.retval[0];
		retval[1] = r.retval[1];
	}
	return r.error;
}

static int handshake_answer(const struct waiter *w, int err)
{
	if (err != 0)
		return err;
	if (w->type != RSP_TYPE_HANDSHAKE || w->bodylen != sizeof(struct rsp_handshake_resp))
		return RSP_EINVAL;
	struct rsp_handshake_resp r;
	memcpy(&r, w->body, sizeof r);
	return r.error;
}

int rsp_prefork(rsp_cookie_t *cookie)
{
	struct waiter w;
	int err = call(RSP_TYPE_PREFORK, 0, NULL, 0, &w);
	if (err != 0)
		return err;
	if (w.type != RSP_TYPE_PREFORK || w.bodylen != sizeof(struct rsp_prefork_resp))
		return RSP_EINVAL;
	memcpy(cookie->w, w.body, sizeof cookie->w);
	return 0;
}

/* ---- connecting ---------------------------------------------------------------- */

/** Connects and reads the banner: 0 and the socket in *fdp, or an errno. */
static int connect_server(int *fdp)
{
	const char *url = getenv("RUMP_SERVER");
	if (url == NULL)
		return ENOENT;
	int fd;
	if (strncmp(url, "unix://", 7) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		const char *path = url + 7;
		if (strlen(path) >= sizeof sun.sun_path)
			return ENAMETOOLONG;
		strcpy(sun.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return errno;
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
			int e = errno;
			close(fd);
			return e;
		}
	} else if (strncmp(url, "tcp://", 6) == 0) {
		char host[64];
		const char *colon = strrchr(url + 6, ':');
		if (colon == NULL || (size_t)(colon - (url + 6)) >= sizeof host)
			return EINVAL;
		memcpy(host, url + 6, (size_t)(colon - (url + 6)));
		host[colon - (url + 6)] = '\0';
		char *end;
		long port = strtol(colon + 1, &end, 10);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		if (*end != '\0' || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return EINVAL;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return errno;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
			int e = errno;
			close(fd);
			return e;
		}
	} else {
		return EINVAL; /* tcp6:// and the rest: not implemented, as the C client */
	}

	/* the banner: one read, the last byte must be the newline */
	char banner[BANNER_MAX + 1];
	ssize_t n;
	do
		n = read(fd, banner, BANNER_MAX);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || banner[n - 1] != '\n') {
		int e = n < 0 ? errno : ECONNREFUSED;
		close(fd);
		return e;
	}
	*fdp = fd;
	return 0;
}

static void reset_state(int fd, uint64_t next_reqno)
{
	pthread_mutex_init(&C.mu, NULL);
	pthread_cond_init(&C.cv, NULL);
	pthread_mutex_init(&C.wmu, NULL);
	C.fd = fd;
	C.next_reqno = next_reqno;
	C.waiters = NULL;
	C.reading = 0;
	C.dead = 0;
	C.midframe = 0;
	C.execing = 0;
}

static int attach(void)
{
	int fd;
	int e = connect_server(&fd);
	if (e != 0)
		return e;
	reset_state(fd, 0);
	return 0;
}

int rsp_init(const char *progname)
{
	const char *execfd = getenv(RSP_EXECFD_ENV);
	struct waiter w;
	if (execfd != NULL) {
		int fd;
		unsigned long long next;
		if (sscanf(execfd, "%d:%llu", &fd, &next) != 2)
			return EINVAL;
		unsetenv(RSP_EXECFD_ENV);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		reset_state(fd, (uint64_t)next);
		return handshake_answer(&w, call(RSP_TYPE_HANDSHAKE, RSP_HS_EXEC, progname, strlen(progname) + 1, &w));
	}
	int e = attach();
	if (e != 0)
		return e;
	e = handshake_answer(&w, call(RSP_TYPE_HANDSHAKE, RSP_HS_GUEST, progname, strlen(progname) + 1, &w));
	if (e != 0)
		rsp_fini();
	return e;
}

void rsp_forget(void)
{
	if (C.fd >= 0)
		close(C.fd);
	reset_state(-1, 0);
}

int rsp_fork_handshake(const rsp_cookie_t *cookie, int cancel)
{
	rsp_forget();
	int e = attach();
	if (e != 0)
		return e;
	struct rsp_fork_req req;
	memcpy(req.cookie, cookie->w, sizeof req.cookie);
	req.cancel = cancel;
	if (cancel) {
		/* no answer comes: the server drops the prefork and closes */
		e = call(RSP_TYPE_HANDSHAKE, RSP_HS_FORK, &req, sizeof req, NULL);
		rsp_fini();
		return e;
	}
	struct waiter w;
	e = handshake_answer(&w, call(RSP_TYPE_HANDSHAKE, RSP_HS_FORK, &req, sizeof req, &w));
	if (e != 0)
		rsp_fini();
	return e;
}

int rsp_exec_prepare(void)
{
	char buf[64];
	if (C.fd < 0)
		return RSP_ENOTCONN;
	if (fcntl(C.fd, F_SETFD, 0) != 0)
		return errno;
	/*
	 * Quiesce: the reader finishes the frame it is in and starts no other
	 * (frames that arrive later stay in the socket for the new image, which
	 * drops answers it does not wait for), and wmu stays held so that no
	 * other thread is or will be half-way through sending a frame when
	 * execve kills it.
	 */
	pthread_mutex_lock(&C.mu);
	C.execing = 1;
	while (C.midframe)
		pthread_cond_wait(&C.cv, &C.mu);
	/* the new image numbers its requests far above any the old one used */
	snprintf(buf, sizeof buf, "%d:%llu", C.fd, (unsigned long long)C.next_reqno + (1ull << 32));
	pthread_mutex_unlock(&C.mu);
	pthread_mutex_lock(&C.wmu);
	if (setenv(RSP_EXECFD_ENV, buf, 1) != 0) {
		int e = errno;
		rsp_exec_abort();
		return e;
	}
	return 0;
}

void rsp_exec_abort(void)
{
	pthread_mutex_unlock(&C.wmu);
	pthread_mutex_lock(&C.mu);
	C.execing = 0;
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
	fcntl(C.fd, F_SETFD, FD_CLOEXEC);
	unsetenv(RSP_EXECFD_ENV);
}

void rsp_fini(void)
{
	pthread_mutex_lock(&C.mu);
	int fd = C.fd;
	C.fd = -1;
	C.dead = 1;
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
	if (fd >= 0)
		close(fd);
}
