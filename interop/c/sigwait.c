/*
 * sigwait: a client that waits for its answers as NetBSD's librumpclient
 * does (see PROTOCOL.md, "How the real client waits"), with syscalls made
 * from a SIGALRM handler, as NetBSD's own signal test does.
 *
 *   sigwait SECONDS [INTERVAL_US]
 *
 * One thread, its own connection (not the interop library: that one keeps
 * signals blocked for a whole call). Every call blocks all signals, sends
 * its request and waits in poll() on the socket and on a signalfd of all
 * signals. When a signal is pending it reads nothing more, sets the
 * caller's signal mask for a moment so the handler runs, blocks them again
 * and waits on. SIGALRM fires every INTERVAL_US (10 ms by default); the
 * handler makes one sysctl(kern.hostname) and the main loop makes them
 * back to back, every result checked.
 *
 * A handler runs with SIGALRM blocked, so a nested call that sees SIGALRM
 * pending cannot get it delivered: the signalfd stays readable and
 * librumpclient would spin there forever, never reading its answer. Here
 * that moment is counted as a hang and the call goes on reading, so one run
 * tells how often a real program would have hung. The round trip of a
 * nested call must stay under the timer period for that never to happen.
 * (A timer shorter than the handler would run the handler forever; it is
 * stopped once the time is up, so a run always ends.)
 *
 * Prints one line:
 *   sigwait ok: <main calls> calls, <nested> nested in <ticks> SIGALRM
 *   handler runs; nested longest <us> us, over 1 ms <n>, over 2 ms <n>,
 *   over 10 ms <n>; hangs <n>; main longest <us> us
 * and exits 1 on a wrong result or a broken connection.
 */
#define _GNU_SOURCE
#include "rumpsp.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HDRLEN ((uint64_t)sizeof(struct rsp_hdr))

static int sock = -1;
static int sigfd = -1;
static uint64_t next_reqno;
static sigset_t fullset;

/* what the calls measure */
static long main_calls, nested_calls, ticks, hangs;
static uint64_t nested_max_ns, main_max_ns;
static long nested_over[3]; /* over 1, 2 and 10 ms */
static char hostname[256];
static uint64_t end_ns;

#define DIE(...)                                                   \
	do {                                                           \
		fprintf(stderr, "sigwait: " __VA_ARGS__);                  \
		fprintf(stderr, "\n");                                     \
		exit(1);                                                   \
	} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- frames ------------------------------------------------------------------ */

static void read_all(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(sock, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			DIE("connection lost while reading");
		p += n;
		len -= (size_t)n;
	}
}

static void write_all(struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		ssize_t n = writev(sock, iov, iovcnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			DIE("connection lost while writing");
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
}

static void send_frame(uint64_t reqno, uint16_t class, uint16_t type, uint32_t arg, const void *body, size_t blen)
{
	struct rsp_hdr h;
	memset(&h, 0, sizeof h);
	h.len = HDRLEN + blen;
	h.reqno = reqno;
	h.class = class;
	h.type = type;
	h.u.zero = arg;
	struct iovec iov[2] = { { &h, sizeof h }, { (void *)(uintptr_t)body, blen } };
	write_all(iov, blen > 0 ? 2 : 1);
}

/* ---- answers: at most one outer and one nested call wait at a time ------------- */

struct waiter {
	uint64_t reqno;
	int done;
	struct rsp_hdr h;
	uint8_t body[64];
};

static struct waiter *waiting[4];
static int nwaiting;

/** Reads one frame and handles it: serves the server's requests, files answers. */
static void read_frame(void)
{
	struct rsp_hdr h;
	read_all(&h, sizeof h);
	if (h.len < HDRLEN)
		DIE("frame shorter than its header");
	uint64_t blen = h.len - HDRLEN;
	if (h.class == RSP_CLASS_REQ && (h.type == RSP_TYPE_COPYIN || h.type == RSP_TYPE_COPYINSTR)) {
		struct rsp_copy_req req;
		if (blen != sizeof req)
			DIE("bad copyin request");
		read_all(&req, sizeof req);
		const char *src = (const char *)(uintptr_t)req.addr;
		size_t n = (size_t)req.len;
		if (h.type == RSP_TYPE_COPYINSTR) {
			size_t s = strnlen(src, n);
			n = s < n ? s + 1 : n;
		}
		send_frame(h.reqno, RSP_CLASS_RESP, RSP_TYPE_COPYIN, 0, src, n);
		return;
	}
	if (h.class == RSP_CLASS_REQ && (h.type == RSP_TYPE_COPYOUT || h.type == RSP_TYPE_COPYOUTSTR)) {
		struct rsp_copy_req req;
		if (blen < sizeof req)
			DIE("bad copyout request");
		read_all(&req, sizeof req);
		if (req.len != blen - sizeof req)
			DIE("copyout length mismatch");
		read_all((void *)(uintptr_t)req.addr, (size_t)req.len);
		return;
	}
	if (h.class == RSP_CLASS_REQ) {
		/* RAISE and the rest: nothing this program needs */
		uint8_t scratch[256];
		while (blen > 0) {
			size_t n = blen > sizeof scratch ? sizeof scratch : (size_t)blen;
			read_all(scratch, n);
			blen -= n;
		}
		return;
	}
	struct waiter *w = NULL;
	for (int i = 0; i < nwaiting; i++)
		if (waiting[i]->reqno == h.reqno && !waiting[i]->done)
			w = waiting[i];
	if (w == NULL || blen > sizeof w->body)
		DIE("an answer nobody waits for (reqno %llu)", (unsigned long long)h.reqno);
	read_all(w->body, (size_t)blen);
	w->h = h;
	w->done = 1;
}

/**
 * librumpclient's wait: poll on the socket and the signalfd; a pending
 * signal stops the reading and gets the caller's mask for a moment. When
 * that mask blocks the pending signal (a handler's own signal) the real
 * client spins: counted as a hang, then the wait reads on.
 */
static void wait_for(struct waiter *w, const sigset_t *caller)
{
	int hung = 0;
	while (!w->done) {
		struct pollfd p[2] = { { sock, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		int n = poll(p, hung ? 1 : 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			DIE("poll: %s", strerror(errno));
		if (!hung && (p[1].revents & POLLIN)) {
			sigprocmask(SIG_SETMASK, caller, NULL);
			sigprocmask(SIG_SETMASK, &fullset, NULL);
			sigset_t pending;
			sigpending(&pending);
			int stuck = 0;
			for (int s = 1; s < NSIG; s++)
				if (sigismember(&pending, s) == 1 && sigismember(caller, s) == 1)
					stuck = 1;
			if (stuck) {
				hangs++;
				hung = 1;
			}
			continue;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_frame();
	}
}

/** One syscall; returns the NetBSD errno. */
static int call(int num, const void *args, size_t alen, int64_t *rv0)
{
	sigset_t caller;
	sigprocmask(SIG_SETMASK, &fullset, &caller);
	struct waiter w = { .reqno = ++next_reqno };
	waiting[nwaiting++] = &w;
	send_frame(w.reqno, RSP_CLASS_REQ, RSP_TYPE_SYSCALL, (uint32_t)num, args, alen);
	wait_for(&w, &caller);
	nwaiting--;
	sigprocmask(SIG_SETMASK, &caller, NULL);
	if (w.h.class != RSP_CLASS_RESP || w.h.type != RSP_TYPE_SYSCALL || w.h.len != HDRLEN + sizeof(struct rsp_syscall_resp))
		DIE("not a syscall answer (class %u type %u)", w.h.class, w.h.type);
	struct rsp_syscall_resp r;
	memcpy(&r, w.body, sizeof r);
	if (rv0 != NULL)
		*rv0 = r.retval[0];
	return r.error;
}

static void get_hostname(char *buf, size_t size)
{
	int name[2] = { RSP_CTL_KERN, RSP_KERN_HOSTNAME };
	size_t len = size;
	uint64_t a[6];
	rsp_arg_ptr(a, 0, name);
	rsp_arg_int(a, 1, 2);
	rsp_arg_ptr(a, 2, buf);
	rsp_arg_ptr(a, 3, &len);
	rsp_arg(a, 4, 0);
	rsp_arg(a, 5, 0);
	int e = call(RSP_SYS___sysctl, a, sizeof a, NULL);
	if (e != 0)
		DIE("sysctl kern.hostname: errno %d", e);
	if (len == 0 || len > size || buf[len - 1] != '\0')
		DIE("sysctl kern.hostname: length %zu", len);
}

/** One sysctl(kern.hostname), checked; returns how long it took (ns). */
static uint64_t timed_hostname(const char *who)
{
	char buf[256];
	uint64_t t0 = now_ns();
	get_hostname(buf, sizeof buf);
	uint64_t dt = now_ns() - t0;
	if (strcmp(buf, hostname) != 0)
		DIE("%s sysctl gave \"%s\", not \"%s\"", who, buf, hostname);
	return dt;
}

/* ---- the handler --------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	ticks++;
	uint64_t dt = timed_hostname("the handler's");
	nested_calls++;
	if (dt > nested_max_ns)
		nested_max_ns = dt;
	nested_over[0] += dt > 1000000ull;
	nested_over[1] += dt > 2000000ull;
	nested_over[2] += dt > 10000000ull;
	/* a timer shorter than the handler would run it forever: stop it in time */
	if (now_ns() >= end_ns) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
	}
	errno = saved;
}

/* ---- connecting ------------------------------------------------------------------ */

static void connect_server(void)
{
	const char *url = getenv("RUMP_SERVER");
	if (url == NULL || strncmp(url, "unix://", 7) != 0)
		DIE("RUMP_SERVER must be unix:///path");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(url + 7) >= sizeof sun.sun_path)
		DIE("socket path too long");
	strcpy(sun.sun_path, url + 7);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sun, sizeof sun) != 0)
		DIE("connect %s: %s", url, strerror(errno));
	char banner[96];
	ssize_t n = read(sock, banner, sizeof banner - 1);
	if (n <= 0 || banner[n - 1] != '\n')
		DIE("no banner");
	const char comm[] = "sigwait";
	struct waiter w = { .reqno = ++next_reqno };
	waiting[nwaiting++] = &w;
	send_frame(w.reqno, RSP_CLASS_REQ, RSP_TYPE_HANDSHAKE, RSP_HS_GUEST, comm, sizeof comm);
	while (!w.done)
		read_frame();
	nwaiting--;
	int32_t err;
	memcpy(&err, w.body, sizeof err);
	if (w.h.class != RSP_CLASS_RESP || w.h.type != RSP_TYPE_HANDSHAKE || err != 0)
		DIE("handshake refused");
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		DIE("usage: sigwait SECONDS [INTERVAL_US]");
	double seconds = atof(argv[1]);
	long interval = argc == 3 ? atol(argv[2]) : 10000;
	if (!(seconds > 0) || interval <= 0)
		DIE("bad arguments");

	sigfillset(&fullset);
	/* faults stay deliverable, as in librumpclient */
	sigdelset(&fullset, SIGSEGV);
	sigdelset(&fullset, SIGBUS);
	sigdelset(&fullset, SIGILL);
	sigdelset(&fullset, SIGFPE);
	sigfd = signalfd(-1, &fullset, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		DIE("signalfd: %s", strerror(errno));
	connect_server();
	get_hostname(hostname, sizeof hostname);

	end_ns = now_ns() + (uint64_t)(seconds * 1e9);
	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { interval / 1000000, interval % 1000000 }, { interval / 1000000, interval % 1000000 } };
	setitimer(ITIMER_REAL, &it, NULL);

	while (now_ns() < end_ns) {
		uint64_t dt = timed_hostname("the main loop's");
		main_calls++;
		if (dt > main_max_ns)
			main_max_ns = dt;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_IGN);
	printf("sigwait ok: %ld calls, %ld nested in %ld SIGALRM handler runs; nested longest %.1f us, "
	       "over 1 ms %ld, over 2 ms %ld, over 10 ms %ld; hangs %ld; main longest %.1f us\n",
	       main_calls, nested_calls, ticks, (double)nested_max_ns / 1000.0, nested_over[0], nested_over[1],
	       nested_over[2], hangs, (double)main_max_ns / 1000.0);
	return 0;
}
