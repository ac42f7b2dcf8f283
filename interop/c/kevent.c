/*
 * kevent: the server's kqueue and timers from a real client.
 *
 *   kevent pipe        a kevent loop over a server pipe written by a fork
 *                      child on its own connection, until end of file
 *   kevent exit        NOTE_EXIT for a fork child killed with SIGKILL
 *   kevent itimer MS S ITIMER_REAL every MS ms for S seconds: the SIGALRMs the
 *                      server raises run a handler here; prints the count
 *   kevent block       blocks in kevent (a pipe, a long timer, itself) after
 *                      printing BLOCKED, for the test to kill it
 */
#include "progs.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYS_kqueue 344
#define SYS___setitimer50 425
#define SYS___kevent50 435

enum { EVFILT_READ = 0, EVFILT_PROC = 4, EVFILT_TIMER = 6 };
enum { EV_ADD = 0x1, EV_DELETE = 0x2, EV_ONESHOT = 0x10, EV_CLEAR = 0x20, EV_EOF = 0x8000, EV_ERROR = 0x4000 };
#define NOTE_EXIT 0x80000000u

/** struct kevent as NetBSD/amd64 lays it out. */
struct nb_kevent {
	uint64_t ident;
	uint32_t filter;
	uint32_t flags;
	uint32_t fflags;
	int64_t data;
	int64_t udata;
};
_Static_assert(sizeof(struct nb_kevent) == 40, "struct kevent is 40 bytes");

static struct nb_kevent ev_set(uint64_t ident, uint32_t filter, uint32_t flags, uint32_t fflags, int64_t data)
{
	struct nb_kevent k = { ident, filter, flags, fflags, data, 0 };
	return k;
}

static int sys_kqueue(int64_t *fd)
{
	int64_t rv[2];
	int e = rsp_syscall(SYS_kqueue, NULL, 0, rv);
	*fd = rv[0];
	return e;
}

/** kevent; timeout_ms < 0 waits for ever. */
static int sys_kevent(int kq, const struct nb_kevent *changes, int nchanges, struct nb_kevent *events, int nevents,
                      int64_t timeout_ms, int64_t *n)
{
	int64_t ts[2] = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 * 1000 };
	uint64_t a[6];
	int64_t rv[2];
	rsp_arg_int(a, 0, kq);
	rsp_arg_ptr(a, 1, changes);
	rsp_arg(a, 2, (uint64_t)nchanges);
	rsp_arg_ptr(a, 3, events);
	rsp_arg(a, 4, (uint64_t)nevents);
	rsp_arg_ptr(a, 5, timeout_ms < 0 ? NULL : ts);
	int e = rsp_syscall(SYS___kevent50, a, sizeof a, rv);
	if (n != NULL)
		*n = rv[0];
	return e;
}

/** __setitimer50(ITIMER_REAL, { interval, value }, NULL), both the same, in microseconds. */
static int sys_setitimer_real(int64_t usec)
{
	/* struct itimerval: two struct timeval { int64 sec; int32 usec; pad } */
	struct {
		int64_t sec;
		int32_t usec;
		int32_t pad;
	} itv[2] = { { usec / 1000000, (int32_t)(usec % 1000000), 0 }, { usec / 1000000, (int32_t)(usec % 1000000), 0 } };
	uint64_t a[3];
	rsp_arg_int(a, 0, 0);
	rsp_arg_ptr(a, 1, itv);
	rsp_arg(a, 2, 0);
	return rsp_syscall(SYS___setitimer50, a, sizeof a, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int wait_child(pid_t child)
{
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- pipe: a kevent loop over a pipe a fork child writes --------------- */

#define MESSAGES 10
#define MSG_LEN 100

static char msg_byte(int m, int i)
{
	return (char)('a' + (m * 7 + i) % 26);
}

static void pipe_writer(const rsp_cookie_t *cookie, int fds[2])
{
	CHECK(rsp_fork_handshake(cookie, 0) == 0, "child: fork handshake");
	CHECK(sys_close(fds[0]) == 0, "child: close the read end");
	for (int m = 0; m < MESSAGES; m++) {
		char buf[MSG_LEN];
		for (int i = 0; i < MSG_LEN; i++)
			buf[i] = msg_byte(m, i);
		int64_t n;
		int e = sys_write(fds[1], buf, MSG_LEN, &n);
		CHECK(e == 0 && n == MSG_LEN, "child: write %d: errno %d n %lld", m, e, (long long)n);
		usleep(20 * 1000);
	}
	CHECK(sys_close(fds[1]) == 0, "child: close the write end");
	exit(0);
}

static void scenario_pipe(void)
{
	int fds[2];
	CHECK(sys_pipe(fds) == 0, "pipe");
	int64_t kq;
	CHECK(sys_kqueue(&kq) == 0, "kqueue");
	struct nb_kevent add = ev_set((uint64_t)fds[0], EVFILT_READ, EV_ADD, 0, 0);
	int64_t n;
	CHECK(sys_kevent((int)kq, &add, 1, NULL, 0, 0, &n) == 0, "kevent: add EVFILT_READ");
	rsp_cookie_t cookie;
	CHECK(rsp_prefork(&cookie) == 0, "prefork");
	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0)
		pipe_writer(&cookie, fds);
	CHECK(sys_close(fds[1]) == 0, "close the write end");

	char got[MESSAGES * MSG_LEN];
	size_t total = 0;
	int events = 0;
	for (;;) {
		struct nb_kevent ev;
		int e = sys_kevent((int)kq, NULL, 0, &ev, 1, 10 * 1000, &n);
		CHECK(e == 0 && n == 1, "kevent: errno %d n %lld (after %zu bytes)", e, (long long)n, total);
		CHECK(ev.ident == (uint64_t)fds[0] && ev.filter == EVFILT_READ, "kevent: ident %llu filter %u",
		      (unsigned long long)ev.ident, ev.filter);
		events++;
		if (ev.data > 0) {
			CHECK(total + (size_t)ev.data <= sizeof got, "more data than was written: %lld", (long long)ev.data);
			int64_t r;
			e = sys_read(fds[0], got + total, (size_t)ev.data, &r);
			CHECK(e == 0 && r == ev.data, "read %lld: errno %d got %lld", (long long)ev.data, e, (long long)r);
			total += (size_t)r;
		}
		if ((ev.flags & EV_EOF) != 0 && ev.data == 0)
			break;
	}
	CHECK(total == sizeof got, "read %zu bytes, want %zu", total, sizeof got);
	for (int m = 0; m < MESSAGES; m++)
		for (int i = 0; i < MSG_LEN; i++)
			CHECK(got[m * MSG_LEN + i] == msg_byte(m, i), "byte %d of message %d", i, m);
	CHECK(wait_child(child) == 0, "the writer failed");
	CHECK(sys_close((int)kq) == 0, "close the kqueue");
	CHECK(sys_close(fds[0]) == 0, "close the read end");
	printf("kevent pipe ok: %zu bytes from the child in %d events, then end of file\n", total, events);
}

/* ---- exit: NOTE_EXIT for a killed child --------------------------------- */

static void scenario_exit(void)
{
	int tell[2];
	CHECK(pipe(tell) == 0, "host pipe");
	rsp_cookie_t cookie;
	CHECK(rsp_prefork(&cookie) == 0, "prefork");
	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		close(tell[0]);
		CHECK(rsp_fork_handshake(&cookie, 0) == 0, "child: fork handshake");
		int64_t pid;
		CHECK(sys_getpid(&pid, NULL) == 0, "child: getpid");
		CHECK(write(tell[1], &pid, sizeof pid) == sizeof pid, "child: tell the pid");
		for (;;)
			sys_nanosleep(1, 0);
	}
	close(tell[1]);
	int64_t pid;
	CHECK(read(tell[0], &pid, sizeof pid) == sizeof pid, "read the child's pid");
	close(tell[0]);
	int64_t kq, n;
	CHECK(sys_kqueue(&kq) == 0, "kqueue");
	struct nb_kevent add = ev_set((uint64_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0);
	CHECK(sys_kevent((int)kq, &add, 1, NULL, 0, 0, &n) == 0, "kevent: add EVFILT_PROC for %lld", (long long)pid);
	CHECK(kill(child, SIGKILL) == 0, "kill");
	CHECK(wait_child(child) == 128 + SIGKILL, "the child was not killed");
	struct nb_kevent ev;
	int e = sys_kevent((int)kq, NULL, 0, &ev, 1, 10 * 1000, &n);
	CHECK(e == 0 && n == 1, "kevent: errno %d n %lld (no NOTE_EXIT in 10 s)", e, (long long)n);
	CHECK(ev.ident == (uint64_t)pid && ev.filter == EVFILT_PROC && ev.fflags == NOTE_EXIT &&
	          (ev.flags & (EV_EOF | EV_ONESHOT)) == (EV_EOF | EV_ONESHOT),
	      "event: ident %llu filter %u flags 0x%x fflags 0x%x", (unsigned long long)ev.ident, ev.filter, ev.flags,
	      ev.fflags);
	/* the knote went with the event: deleting it is ENOENT */
	struct nb_kevent del = ev_set((uint64_t)pid, EVFILT_PROC, EV_DELETE, 0, 0);
	e = sys_kevent((int)kq, &del, 1, NULL, 0, 0, &n);
	CHECK(e == 2 /* ENOENT */, "delete after NOTE_EXIT: errno %d", e);
	printf("kevent exit ok: NOTE_EXIT for pid %lld killed by SIGKILL, status %lld\n", (long long)pid,
	       (long long)ev.data);
}

/* ---- itimer: SIGALRMs from the server's ITIMER_REAL ---------------------- */

static atomic_int g_alarms;

static void on_alrm(int sig)
{
	(void)sig;
	atomic_fetch_add(&g_alarms, 1);
}

static void scenario_itimer(int ms, int seconds)
{
	struct sigaction sa = { .sa_handler = on_alrm, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
	double t0 = now_s();
	CHECK(sys_setitimer_real((int64_t)ms * 1000) == 0, "setitimer");
	/* calls shorter than the period keep a reader on the socket, so each RAISE is served (and its handler run) as it comes */
	while (now_s() - t0 < seconds)
		CHECK(sys_nanosleep(0, 20 * 1000 * 1000) == 0, "nanosleep");
	CHECK(sys_setitimer_real(0) == 0, "setitimer off");
	double took = now_s() - t0;
	int n = atomic_load(&g_alarms);
	/* what was in flight when it stopped has arrived by now; nothing more comes */
	CHECK(sys_nanosleep(0, 200 * 1000 * 1000) == 0, "nanosleep");
	CHECK(atomic_load(&g_alarms) <= n + 1, "SIGALRMs went on after the timer stopped: %d then %d", n,
	      atomic_load(&g_alarms));
	printf("kevent itimer: %d SIGALRM handler runs in %.2f s of a %d ms ITIMER_REAL\n", atomic_load(&g_alarms), took,
	       ms);
}

/* ---- block: killed while blocked in kevent -------------------------------- */

static void scenario_block(void)
{
	int fds[2];
	CHECK(sys_pipe(fds) == 0, "pipe");
	int64_t kq, pid, n;
	CHECK(sys_kqueue(&kq) == 0, "kqueue");
	CHECK(sys_getpid(&pid, NULL) == 0, "getpid");
	struct nb_kevent add[3] = {
		ev_set((uint64_t)fds[0], EVFILT_READ, EV_ADD, 0, 0),
		ev_set(1, EVFILT_TIMER, EV_ADD, 0, 3600 * 1000),
		ev_set((uint64_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0),
	};
	CHECK(sys_kevent((int)kq, add, 3, NULL, 0, 0, &n) == 0, "kevent: add");
	printf("BLOCKED\n");
	fflush(stdout);
	struct nb_kevent ev;
	int e = sys_kevent((int)kq, NULL, 0, &ev, 1, -1, &n);
	FAIL("kevent returned: errno %d n %lld", e, (long long)n);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "pipe";
	init_or_die("kevent");
	if (strcmp(what, "pipe") == 0)
		scenario_pipe();
	else if (strcmp(what, "exit") == 0)
		scenario_exit();
	else if (strcmp(what, "itimer") == 0)
		scenario_itimer(argc > 2 ? atoi(argv[2]) : 50, argc > 3 ? atoi(argv[3]) : 2);
	else if (strcmp(what, "block") == 0)
		scenario_block();
	else
		FAIL("unknown scenario %s", what);
	return 0;
}
