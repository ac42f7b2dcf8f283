/*
 * fork: prefork, host fork(), the child takes over with the cookie and
 * writes to a descriptor the parent opened; the parent checks the file
 * through a new syscall; a pipe made before the fork carries a string from
 * the parent to the child, then 256 KiB in one write — four times what a
 * pipe buffers, so the parent sleeps in the kernel until the child, on its
 * own connection, has read enough — and the child sees end of file once
 * both write ends are closed. Then: a corrupted cookie gives ESRCH, a cancelled
 * prefork cannot be claimed afterwards, and the daemon pattern (the parent
 * exits right after fork, the child connects later) works.
 */
#include "progs.h"

#include <sys/wait.h>
#include <unistd.h>

static const char CHILD_MSG[] = "written by the forked child\n";
static const char DAEMON_MSG[] = "written by the daemon\n";
static const char PIPE_MSG[] = "through the pipe from the parent";
/** More than the pipe's largest buffer (64 KiB): the writer must wait for the reader. */
#define PIPE_BULK (256 * 1024)

static uint8_t bulk_byte(size_t i)
{
	return (uint8_t)(i * 7 + i / 4096);
}

/** Reads exactly `len` bytes from a server descriptor (short reads are normal on a pipe). */
static void read_exact(int fd, void *buf, size_t len, const char *what)
{
	size_t got = 0;
	while (got < len) {
		int64_t n;
		int e = sys_read(fd, (char *)buf + got, len - got, &n);
		CHECK(e == 0 && n > 0, "%s: read at %zu of %zu: errno %d n %lld", what, got, len, e, (long long)n);
		got += (size_t)n;
	}
}

static int wait_child(pid_t child)
{
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/**
 * In a forked child: claim the prefork, write to fd, check who we are, and
 * read what the parent sends through the pipe made before the fork.
 */
static void child_takeover(const rsp_cookie_t *cookie, int fd, int64_t parent_pid, const int pipefd[2])
{
	int e = rsp_fork_handshake(cookie, 0);
	CHECK(e == 0, "child: fork handshake: %d", e);
	int64_t pid, ppid, n;
	CHECK(sys_getpid(&pid, &ppid) == 0, "child: getpid");
	CHECK(pid > 1 && pid != parent_pid, "child: pid %lld, parent %lld", (long long)pid, (long long)parent_pid);
	e = sys_write(fd, CHILD_MSG, sizeof CHILD_MSG - 1, &n);
	CHECK(e == 0 && n == (int64_t)(sizeof CHILD_MSG - 1), "child: write: errno %d n %lld", e, (long long)n);
	printf("child pid=%lld ppid=%lld wrote %lld bytes\n", (long long)pid, (long long)ppid, (long long)n);
	CHECK(sys_close(pipefd[1]) == 0, "child: close the pipe's write end");
	char buf[64] = { 0 };
	read_exact(pipefd[0], buf, sizeof PIPE_MSG - 1, "child: the string");
	CHECK(memcmp(buf, PIPE_MSG, sizeof PIPE_MSG - 1) == 0, "child: the pipe carried \"%s\"", buf);
	uint8_t *bulk = malloc(PIPE_BULK);
	CHECK(bulk != NULL, "malloc");
	read_exact(pipefd[0], bulk, PIPE_BULK, "child: the bulk");
	for (size_t i = 0; i < PIPE_BULK; i++)
		CHECK(bulk[i] == bulk_byte(i), "child: bulk byte %zu is %u, want %u", i, bulk[i], bulk_byte(i));
	e = sys_read(pipefd[0], bulk, 16, &n);
	CHECK(e == 0 && n == 0, "child: end of the pipe: errno %d n %lld", e, (long long)n);
	free(bulk);
	printf("child read from the pipe \"%s\" and %d bytes in order\n", buf, PIPE_BULK);
	fflush(stdout);
	exit(0);
}

static void scenario_fork(void)
{
	int64_t pid, fd, n;
	CHECK(sys_getpid(&pid, NULL) == 0, "getpid");
	int e = sys_open("/tmp/forkfile", RSP_O_CREAT | RSP_O_RDWR, 0644, &fd);
	CHECK(e == 0, "open /tmp/forkfile: errno %d", e);
	int pipefd[2];
	e = sys_pipe(pipefd);
	CHECK(e == 0, "pipe: errno %d", e);
	rsp_cookie_t cookie;
	e = rsp_prefork(&cookie);
	CHECK(e == 0, "prefork: %d", e);

	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork: %s", strerror(errno));
	if (child == 0)
		child_takeover(&cookie, (int)fd, pid, pipefd);
	/* the child has its own references to both ends: the parent writes and closes its own */
	CHECK(sys_close(pipefd[0]) == 0, "close the pipe's read end");
	e = sys_write(pipefd[1], PIPE_MSG, sizeof PIPE_MSG - 1, &n);
	CHECK(e == 0 && n == (int64_t)(sizeof PIPE_MSG - 1), "write the pipe: errno %d n %lld", e, (long long)n);
	uint8_t *bulk = malloc(PIPE_BULK);
	CHECK(bulk != NULL, "malloc");
	for (size_t i = 0; i < PIPE_BULK; i++)
		bulk[i] = bulk_byte(i);
	e = sys_write(pipefd[1], bulk, PIPE_BULK, &n);
	CHECK(e == 0 && n == PIPE_BULK, "write %d bytes to the pipe: errno %d n %lld", PIPE_BULK, e, (long long)n);
	free(bulk);
	CHECK(sys_close(pipefd[1]) == 0, "close the pipe's write end");
	CHECK(wait_child(child) == 0, "the forked child failed");

	/* the child shares the open file (and its offset): rewind, read back */
	int64_t pos;
	e = sys_lseek((int)fd, 0, 0, &pos);
	CHECK(e == 0 && pos == 0, "lseek: errno %d pos %lld", e, (long long)pos);
	char buf[128] = { 0 };
	e = sys_read((int)fd, buf, sizeof buf - 1, &n);
	CHECK(e == 0, "read back: errno %d", e);
	CHECK(n == (int64_t)(sizeof CHILD_MSG - 1) && memcmp(buf, CHILD_MSG, (size_t)n) == 0,
	      "read back %lld bytes: \"%s\"", (long long)n, buf);
	CHECK(sys_close((int)fd) == 0, "close");
	printf("fork ok: parent %lld read back \"%.*s\"\n", (long long)pid, (int)n - 1, buf);
}

static void scenario_bad_cookie(void)
{
	rsp_cookie_t cookie, bad;
	CHECK(rsp_prefork(&cookie) == 0, "prefork");
	bad = cookie;
	bad.w[0] ^= 0x5a5a5a5a;
	bad.w[3] ^= 1;

	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		int e = rsp_fork_handshake(&bad, 0);
		CHECK(e == RSP_ESRCH, "corrupted cookie: %d, want ESRCH", e);
		/* cancel the real prefork, then it cannot be claimed any more */
		e = rsp_fork_handshake(&cookie, 1);
		CHECK(e == 0, "cancel: %d", e);
		e = rsp_fork_handshake(&cookie, 0);
		CHECK(e == RSP_ESRCH, "claim after cancel: %d, want ESRCH", e);
		exit(0);
	}
	CHECK(wait_child(child) == 0, "the corrupted-cookie child failed");
	printf("bad cookie ok: ESRCH\n");
}

/*
 * The daemon pattern, in a process of its own: it connects, opens a file,
 * preforks, forks and exits at once; the child (the daemon) waits until its
 * parent is certainly gone, then claims the prefork and writes to the file.
 * The daemon reports through a host pipe, since nobody waits for it.
 */
static void scenario_daemon(void)
{
	int report[2];
	CHECK(pipe(report) == 0, "pipe");
	fflush(stdout);
	pid_t middle = fork();
	CHECK(middle >= 0, "fork");
	if (middle == 0) {
		close(report[0]);
		rsp_forget();
		init_or_die("fork-daemon-parent");
		int64_t fd;
		CHECK(sys_open("/tmp/daemonfile", RSP_O_CREAT | RSP_O_RDWR | RSP_O_TRUNC, 0644, &fd) == 0, "open");
		rsp_cookie_t cookie;
		CHECK(rsp_prefork(&cookie) == 0, "prefork");
		pid_t daemon = fork();
		CHECK(daemon >= 0, "fork");
		if (daemon != 0)
			_exit(0); /* the parent leaves at once, its connection with it */
		usleep(300 * 1000);
		int code = 1;
		if (rsp_fork_handshake(&cookie, 0) == 0) {
			int64_t n;
			if (sys_write((int)fd, DAEMON_MSG, sizeof DAEMON_MSG - 1, &n) == 0 &&
			    n == (int64_t)(sizeof DAEMON_MSG - 1))
				code = 0;
		}
		char c = (char)('0' + code);
		CHECK(write(report[1], &c, 1) == 1, "report");
		_exit(code);
	}
	close(report[1]);
	CHECK(wait_child(middle) == 0, "the daemon's parent failed");
	char c = 0;
	ssize_t got = read(report[0], &c, 1);
	CHECK(got == 1 && c == '0', "the daemon reported %zd '%c'", got, c);
	close(report[0]);

	int64_t fd, n;
	CHECK(sys_open("/tmp/daemonfile", RSP_O_RDONLY, 0, &fd) == 0, "open daemonfile");
	char buf[128] = { 0 };
	CHECK(sys_read((int)fd, buf, sizeof buf - 1, &n) == 0, "read daemonfile");
	CHECK(n == (int64_t)(sizeof DAEMON_MSG - 1) && memcmp(buf, DAEMON_MSG, (size_t)n) == 0,
	      "daemonfile holds %lld bytes: \"%s\"", (long long)n, buf);
	CHECK(sys_close((int)fd) == 0, "close");
	printf("daemon ok\n");
}

int main(void)
{
	init_or_die("fork");
	scenario_fork();
	scenario_bad_cookie();
	scenario_daemon();
	printf("all fork scenarios ok\n");
	return 0;
}
