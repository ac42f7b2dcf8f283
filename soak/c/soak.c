/*
 * soak: the client side of the soak run (soak/src/Soak.ts), on the interop
 * client library (interop/c/rumpsp.c), talking to $RUMP_SERVER. Each mode
 * runs N times in a row and exits 0 once all went as expected (1 with a
 * FAIL line otherwise); `done N` is printed last.
 *
 *   soak cycles N    connect, guest handshake, getpid, open /dev/zero and
 *                    read 4 KiB (a copyout, checked to be zeros), open
 *                    /dev/null and write 4 KiB (a copyin), close both,
 *                    disconnect
 *   soak preforks N  connect, guest handshake, prefork (the cookie is never
 *                    used), disconnect: the server must free the preforked
 *                    process after its preforkExpiry
 *   soak execs N     one guest connection, then a chain of N execs of this
 *                    program keeping the socket: each image does the EXEC
 *                    handshake and a getpid (same pid), the last disconnects
 */
#include "progs.h"

#include <unistd.h>

#define CHUNK 4096

static void cycle(int i)
{
	static unsigned char buf[CHUNK];
	int64_t pid, zero, null, n;
	init_or_die("soak");
	CHECK(sys_getpid(&pid, NULL) == 0 && pid > 1, "cycle %d: getpid %lld", i, (long long)pid);
	CHECK(sys_open("/dev/zero", RSP_O_RDONLY, 0, &zero) == 0, "cycle %d: open /dev/zero", i);
	memset(buf, 0xa5, sizeof buf);
	int e = sys_read((int)zero, buf, sizeof buf, &n);
	CHECK(e == 0 && n == CHUNK, "cycle %d: read /dev/zero: errno %d n %lld", i, e, (long long)n);
	for (int k = 0; k < CHUNK; k++)
		CHECK(buf[k] == 0, "cycle %d: byte %d of /dev/zero is %d", i, k, buf[k]);
	CHECK(sys_open("/dev/null", RSP_O_WRONLY, 0, &null) == 0, "cycle %d: open /dev/null", i);
	e = sys_write((int)null, buf, sizeof buf, &n);
	CHECK(e == 0 && n == CHUNK, "cycle %d: write /dev/null: errno %d n %lld", i, e, (long long)n);
	CHECK(sys_close((int)zero) == 0 && sys_close((int)null) == 0, "cycle %d: close", i);
	rsp_fini();
}

static void prefork(int i)
{
	rsp_cookie_t cookie;
	init_or_die("soak-prefork");
	int e = rsp_prefork(&cookie);
	CHECK(e == 0, "prefork %d: errno %d", i, e);
	rsp_fini();
}

/**
 * One image of the exec chain: `left` more execs to go, `pid` the process's
 * pid (0: not known yet). Returns only in the last image, disconnected.
 */
static void exec_step(char *self, int left, int64_t pid)
{
	int64_t now;
	CHECK(sys_getpid(&now, NULL) == 0, "exec (%d left): getpid", left);
	CHECK(pid == 0 || now == pid, "exec (%d left): pid %lld, was %lld", left, (long long)now, (long long)pid);
	if (left == 0) {
		rsp_fini();
		return;
	}
	CHECK(rsp_exec_prepare() == 0, "rsp_exec_prepare");
	char sleft[32], spid[32];
	snprintf(sleft, sizeof sleft, "%d", left - 1);
	snprintf(spid, sizeof spid, "%lld", (long long)now);
	char *args[] = { self, "exec-next", sleft, spid, NULL };
	execv("/proc/self/exe", args);
	FAIL("execv: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "exec-next") == 0) {
		init_or_die("soak-exec");
		exec_step(argv[0], atoi(argv[2]), atoll(argv[3]));
		printf("done exec chain\n"); /* only the last image gets here */
		return 0;
	}
	CHECK(argc == 3, "usage: soak cycles|preforks|execs N");
	int n = atoi(argv[2]);
	if (strcmp(argv[1], "cycles") == 0) {
		for (int i = 0; i < n; i++)
			cycle(i);
	} else if (strcmp(argv[1], "preforks") == 0) {
		for (int i = 0; i < n; i++)
			prefork(i);
	} else if (strcmp(argv[1], "execs") == 0) {
		init_or_die("soak-exec");
		exec_step(argv[0], n, 0);
		printf("done exec chain\n");
		return 0;
	} else {
		FAIL("unknown mode %s", argv[1]);
	}
	printf("done %d\n", n);
	return 0;
}
