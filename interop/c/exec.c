/*
 * exec: a chain of execs of this program with many threads inside the
 * server. Each image (but the last) makes a close-on-exec pipe (pipe2
 * O_CLOEXEC), starts `blocked` threads reading it and `blocked` more reading
 * a plain pipe made by the first image (both block in the server: nothing is
 * ever written before the exec), plus `queued` threads calling getpid in a
 * loop, then execs /proc/self/exe keeping its socket. execve kills the
 * threads on this side; the server must drain their lwps and answer the
 * EXEC handshake. The new image checks: same pid, the close-on-exec pipe is
 * gone (EBADF), the plain pipe still carries a byte, and kern.proc2 reports
 * nlwps == 2 for itself.
 *
 *   exec [rounds blocked queued]
 */
#include "progs.h"

#include <pthread.h>
#include <unistd.h>

static int g_rounds = 10, g_blocked = 63, g_queued = 189;
static int64_t g_pid;

static void *blocked_reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;
	int64_t n;
	int e = sys_read(fd, &c, 1, &n);
	FAIL("a blocked reader of fd %d came back before the exec: errno %d n %lld", fd, e, (long long)n);
	return NULL;
}

static void *getpid_loop(void *arg)
{
	(void)arg;
	for (;;) {
		int64_t pid;
		int e = sys_getpid(&pid, NULL);
		CHECK(e == 0 && pid == g_pid, "queued getpid: errno %d pid %lld, want %lld", e, (long long)pid,
		      (long long)g_pid);
	}
	return NULL;
}

static void start(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int e = pthread_create(&t, &attr, fn, arg);
	CHECK(e == 0, "pthread_create: %s", strerror(e));
	pthread_attr_destroy(&attr);
}

/** Checks made by every image after the first. */
static void check_after_exec(int round, int64_t want_pid, int cloexec_rd, int keep_rd, int keep_wr)
{
	int64_t pid, n;
	CHECK(sys_getpid(&pid, NULL) == 0, "round %d: getpid", round);
	CHECK(pid == want_pid, "round %d: pid %lld after exec, %lld before", round, (long long)pid, (long long)want_pid);
	char c = 0;
	int e = sys_read(cloexec_rd, &c, 1, &n);
	CHECK(e == RSP_EBADF, "round %d: read of the close-on-exec pipe (fd %d): errno %d, want EBADF", round,
	      cloexec_rd, e);
	e = sys_write(keep_wr, "k", 1, &n);
	CHECK(e == 0 && n == 1, "round %d: write to the kept pipe: errno %d n %lld", round, e, (long long)n);
	e = sys_read(keep_rd, &c, 1, &n);
	CHECK(e == 0 && n == 1 && c == 'k', "round %d: read of the kept pipe: errno %d n %lld c %d", round, e,
	      (long long)n, c);
	uint64_t nlwps = 0;
	e = sys_proc2_nlwps(pid, &nlwps);
	CHECK(e == 0, "round %d: sysctl kern.proc2: errno %d", round, e);
	CHECK(nlwps == 2, "round %d: kern.proc2 nlwps %llu, want 2", round, (unsigned long long)nlwps);
	printf("round %d ok: pid %lld, close-on-exec pipe EBADF, kept pipe works, nlwps 2\n", round, (long long)pid);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int round = 0, keep[2] = { -1, -1 }, cloexec[2] = { -1, -1 };
	alarm(50); /* a hang fails fast */
	if (argc == 10 && strcmp(argv[1], "next") == 0) {
		round = atoi(argv[2]);
		g_rounds = atoi(argv[3]);
		g_blocked = atoi(argv[4]);
		g_queued = atoi(argv[5]);
		g_pid = atoll(argv[6]);
		cloexec[0] = atoi(argv[7]);
		keep[0] = atoi(argv[8]);
		keep[1] = atoi(argv[9]);
		init_or_die("exec-next");
		check_after_exec(round, g_pid, cloexec[0], keep[0], keep[1]);
	} else {
		if (argc == 4) {
			g_rounds = atoi(argv[1]);
			g_blocked = atoi(argv[2]);
			g_queued = atoi(argv[3]);
		}
		init_or_die("exec");
		CHECK(sys_getpid(&g_pid, NULL) == 0, "getpid");
		int e = sys_pipe(keep);
		CHECK(e == 0 && keep[0] >= 0 && keep[1] >= 0 && keep[0] != keep[1], "pipe: errno %d fds %d %d", e,
		      keep[0], keep[1]);
	}
	if (round == g_rounds) {
		printf("exec chain ok: %d execs, %d + %d blocked and %d queued threads each\n", g_rounds, g_blocked,
		       g_blocked, g_queued);
		return 0;
	}

	int e = sys_pipe2(cloexec, RSP_O_CLOEXEC);
	CHECK(e == 0 && cloexec[0] >= 0 && cloexec[1] >= 0, "pipe2 O_CLOEXEC: errno %d fds %d %d", e, cloexec[0],
	      cloexec[1]);
	for (int i = 0; i < g_blocked; i++) {
		start(blocked_reader, (void *)(intptr_t)cloexec[0]);
		start(blocked_reader, (void *)(intptr_t)keep[0]);
	}
	for (int i = 0; i < g_queued; i++)
		start(getpid_loop, NULL);

	/* wait until the readers are all inside the server (their lwps count) */
	uint64_t nlwps = 0;
	int64_t want = 2 * (int64_t)g_blocked + 1;
	for (int i = 0; i < 1000; i++) {
		CHECK(sys_proc2_nlwps(g_pid, &nlwps) == 0, "sysctl kern.proc2 before the exec");
		if ((int64_t)nlwps >= want)
			break;
		usleep(5000);
	}
	CHECK((int64_t)nlwps >= want, "round %d: only %llu lwps in the server before the exec, want >= %lld", round,
	      (unsigned long long)nlwps, (long long)want);

	CHECK(rsp_exec_prepare() == 0, "rsp_exec_prepare");
	char a[7][32];
	snprintf(a[0], sizeof a[0], "%d", round + 1);
	snprintf(a[1], sizeof a[1], "%d", g_rounds);
	snprintf(a[2], sizeof a[2], "%d", g_blocked);
	snprintf(a[3], sizeof a[3], "%d", g_queued);
	snprintf(a[4], sizeof a[4], "%lld", (long long)g_pid);
	snprintf(a[5], sizeof a[5], "%d", cloexec[0]);
	snprintf(a[6], sizeof a[6], "%d", keep[0]);
	char skeepw[32];
	snprintf(skeepw, sizeof skeepw, "%d", keep[1]);
	char *args[] = { argv[0], "next", a[0], a[1], a[2], a[3], a[4], a[5], a[6], skeepw, NULL };
	fflush(stdout);
	execv("/proc/self/exe", args);
	FAIL("execv: %s", strerror(errno));
}
