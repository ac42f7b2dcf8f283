/*
 * faults: small programs for the fault injection and trace scenarios, one
 * per mode. Each behaves as a careful program would when a call fails, and
 * says what it saw on stdout.
 *
 *   faults log PATH N   writes "line <i>" N times to PATH; a write that
 *                       fails with ENOSPC is reported and that line
 *                       skipped ("write 3: ENOSPC, line skipped"); then it
 *                       reads the file back (short reads are fine) and
 *                       prints it after "contents:".
 *   faults pids N       N getpid calls; one character each: '.' for
 *                       success, 'x' for a failure.
 *   faults block        prints "calling", then a getpid a rule holds.
 *   faults signal       getpid with a SIGUSR1 handler installed; prints
 *                       whether the handler ran and the call's errno.
 *   faults small        open, write, lseek, read, close, getpid: what the
 *                       trace scenario expects to see, in that order.
 */
#include "progs.h"

#include <signal.h>
#include <unistd.h>

#define RSP_ENOSPC 28

static int log_mode(const char *path, int n)
{
	int64_t fd, k;
	int e = sys_open(path, RSP_O_RDWR | RSP_O_CREAT | RSP_O_TRUNC, 0644, &fd);
	CHECK(e == 0, "open %s: errno %d", path, e);
	for (int i = 1; i <= n; i++) {
		char line[32];
		int len = snprintf(line, sizeof line, "line %d\n", i);
		e = sys_write((int)fd, line, (size_t)len, &k);
		if (e == RSP_ENOSPC) {
			printf("write %d: ENOSPC, line skipped\n", i);
			continue;
		}
		CHECK(e == 0 && k == len, "write %d: errno %d, %lld bytes", i, e, (long long)k);
		printf("write %d: ok\n", i);
	}
	CHECK(sys_lseek((int)fd, 0, 0, NULL) == 0, "lseek");
	char buf[4096];
	size_t got = 0;
	for (;;) {
		e = sys_read((int)fd, buf + got, sizeof buf - 1 - got, &k);
		CHECK(e == 0, "read: errno %d", e);
		if (k == 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
	CHECK(sys_close((int)fd) == 0, "close");
	printf("contents:\n%s", buf);
	return 0;
}

static int pids_mode(int n)
{
	for (int i = 0; i < n; i++)
		putchar(sys_getpid(NULL, NULL) == 0 ? '.' : 'x');
	putchar('\n');
	return 0;
}

static int block_mode(void)
{
	printf("calling\n");
	fflush(stdout);
	int e = sys_getpid(NULL, NULL);
	printf("getpid returned: errno %d\n", e);
	return 0;
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static int signal_mode(void)
{
	signal(SIGUSR1, on_usr1);
	int e = sys_getpid(NULL, NULL);
	printf("getpid errno %d, SIGUSR1 %s\n", e, got_usr1 ? "handled" : "not seen");
	return 0;
}

static int small_mode(void)
{
	int64_t fd, n;
	char back[8];
	CHECK(sys_open("/tmp/small", RSP_O_RDWR | RSP_O_CREAT, 0600, &fd) == 0, "open");
	CHECK(sys_write((int)fd, "hello", 5, &n) == 0 && n == 5, "write");
	CHECK(sys_lseek((int)fd, 0, 0, NULL) == 0, "lseek");
	CHECK(sys_read((int)fd, back, sizeof back, &n) == 0 && n == 5, "read");
	CHECK(sys_close((int)fd) == 0, "close");
	int64_t pid;
	CHECK(sys_getpid(&pid, NULL) == 0, "getpid");
	printf("small pid=%lld\n", (long long)pid);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		FAIL("usage: faults log PATH N | pids N | block | signal | small");
	init_or_die("faults");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "log") == 0 && argc == 4)
		return log_mode(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "pids") == 0 && argc == 3)
		return pids_mode(atoi(argv[2]));
	if (strcmp(argv[1], "block") == 0)
		return block_mode();
	if (strcmp(argv[1], "signal") == 0)
		return signal_mode();
	if (strcmp(argv[1], "small") == 0)
		return small_mode();
	FAIL("unknown mode %s", argv[1]);
}
