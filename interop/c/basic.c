/*
 * basic: guest handshake, getpid (> 1, parent 1), the hostname by sysctl.
 * `basic exec` then also keeps its socket across execve of itself: the new
 * image sends an EXEC handshake and must find the same process, its plain
 * descriptor still open and its close-on-exec one gone.
 */
#include "progs.h"

#include <unistd.h>

static int after_exec(char **argv)
{
	init_or_die("basic-exec");
	int64_t want = atoll(argv[2]), keep = atoll(argv[3]), cloexec = atoll(argv[4]);
	int64_t pid, ppid, n;
	CHECK(sys_getpid(&pid, &ppid) == 0, "getpid after exec");
	CHECK(pid == want, "pid after exec: %lld, before: %lld", (long long)pid, (long long)want);
	int e = sys_write((int)cloexec, "x", 1, &n);
	CHECK(e == RSP_EBADF, "write to the close-on-exec fd after exec: errno %d, want EBADF", e);
	e = sys_write((int)keep, "kept\n", 5, &n);
	CHECK(e == 0 && n == 5, "write to the kept fd after exec: errno %d n %lld", e, (long long)n);
	printf("exec ok pid=%lld\n", (long long)pid);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "after-exec") == 0)
		return after_exec(argv);

	init_or_die("basic");
	int64_t pid, ppid;
	int e = sys_getpid(&pid, &ppid);
	CHECK(e == 0, "getpid: errno %d", e);
	CHECK(pid > 1, "getpid: pid %lld", (long long)pid);
	CHECK(ppid == 1, "getpid: ppid %lld", (long long)ppid);

	char host[256];
	size_t len = sizeof host;
	e = sys_gethostname(host, &len);
	CHECK(e == 0, "sysctl kern.hostname: errno %d", e);
	CHECK(len == strlen(host) + 1, "sysctl kern.hostname: len %zu for \"%s\"", len, host);
	printf("pid=%lld ppid=%lld hostname=%s\n", (long long)pid, (long long)ppid, host);
	fflush(stdout);

	if (argc == 2 && strcmp(argv[1], "exec") == 0) {
		int64_t keep, cloexec;
		CHECK(sys_open("/tmp/basic-keep", RSP_O_RDWR | RSP_O_CREAT, 0644, &keep) == 0, "open keep");
		CHECK(sys_open("/tmp/basic-cloexec", RSP_O_RDWR | RSP_O_CREAT | RSP_O_CLOEXEC, 0644, &cloexec) == 0,
		      "open cloexec");
		CHECK(rsp_exec_prepare() == 0, "rsp_exec_prepare");
		char spid[32], skeep[32], scloexec[32];
		snprintf(spid, sizeof spid, "%lld", (long long)pid);
		snprintf(skeep, sizeof skeep, "%lld", (long long)keep);
		snprintf(scloexec, sizeof scloexec, "%lld", (long long)cloexec);
		char *args[] = { argv[0], "after-exec", spid, skeep, scloexec, NULL };
		execv("/proc/self/exe", args);
		FAIL("execv: %s", strerror(errno));
	}
	return 0;
}
