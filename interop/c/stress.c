/*
 * stress N M S: N client processes x M threads each, for S seconds, every
 * thread looping over
 *   getpid (pid of its process, parent 1),
 *   sysctl kern.hostname (must equal what the first connection read),
 *   open /dev/null + write 16 bytes + close,
 *   write a thread-unique 16-byte pattern to its own file, read it back;
 * every result is checked. Exits non-zero on any mismatch.
 */
#include "progs.h"

#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char expected_host[256];
static int64_t my_pid;
static double seconds;
static volatile int failed;

struct worker {
	pthread_t thread;
	int index;
	uint64_t ops;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define WCHECK(cond, ...)                                             \
	do {                                                              \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL pid %lld thread %d: ", (long long)my_pid, w->index); \
			fprintf(stderr, __VA_ARGS__);                             \
			fprintf(stderr, "\n");                                    \
			failed = 1;                                               \
			return NULL;                                              \
		}                                                             \
	} while (0)

static void *work(void *arg)
{
	struct worker *w = arg;
	char path[64];
	snprintf(path, sizeof path, "/tmp/stress-%lld-%d", (long long)my_pid, w->index);
	int64_t own, n, fd, pos;
	int e = sys_open(path, RSP_O_CREAT | RSP_O_RDWR | RSP_O_TRUNC, 0600, &own);
	WCHECK(e == 0, "open %s: errno %d", path, e);
	double end = now() + seconds;
	for (uint64_t i = 0; !failed && now() < end; i++) {
		int64_t pid, ppid;
		e = sys_getpid(&pid, &ppid);
		WCHECK(e == 0 && pid == my_pid && ppid == 1, "getpid: errno %d pid %lld ppid %lld, want %lld",
		       e, (long long)pid, (long long)ppid, (long long)my_pid);

		char host[256];
		memset(host, 0xff, sizeof host);
		size_t len = sizeof host;
		e = sys_gethostname(host, &len);
		WCHECK(e == 0 && len == strlen(expected_host) + 1 && strcmp(host, expected_host) == 0,
		       "sysctl kern.hostname: errno %d len %zu \"%.*s\"", e, len, (int)(len < 256 ? len : 255), host);

		char sixteen[16];
		memset(sixteen, 'a' + (int)(i % 26), sizeof sixteen);
		e = sys_open("/dev/null", RSP_O_WRONLY, 0, &fd);
		WCHECK(e == 0 && fd >= 3, "open /dev/null: errno %d fd %lld", e, (long long)fd);
		e = sys_write((int)fd, sixteen, sizeof sixteen, &n);
		WCHECK(e == 0 && n == 16, "write /dev/null: errno %d n %lld", e, (long long)n);
		e = sys_close((int)fd);
		WCHECK(e == 0, "close /dev/null: errno %d", e);

		uint64_t pattern[2] = { ((uint64_t)my_pid << 32) | (uint64_t)w->index, i }, back[2];
		e = sys_lseek((int)own, 0, 0, &pos);
		WCHECK(e == 0 && pos == 0, "lseek: errno %d", e);
		e = sys_write((int)own, pattern, sizeof pattern, &n);
		WCHECK(e == 0 && n == 16, "write own: errno %d n %lld", e, (long long)n);
		e = sys_lseek((int)own, 0, 0, &pos);
		WCHECK(e == 0 && pos == 0, "lseek: errno %d", e);
		memset(back, 0, sizeof back);
		e = sys_read((int)own, back, sizeof back, &n);
		WCHECK(e == 0 && n == 16 && memcmp(back, pattern, 16) == 0, "read own: errno %d n %lld", e, (long long)n);
		w->ops++;
	}
	e = sys_close((int)own);
	WCHECK(e == 0, "close own: errno %d", e);
	return NULL;
}

static int run_process(int threads, int report)
{
	init_or_die("stress");
	CHECK(sys_getpid(&my_pid, NULL) == 0, "getpid");
	struct worker *ws = calloc((size_t)threads, sizeof *ws);
	for (int t = 0; t < threads; t++) {
		ws[t].index = t;
		CHECK(pthread_create(&ws[t].thread, NULL, work, &ws[t]) == 0, "pthread_create");
	}
	uint64_t ops = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(ws[t].thread, NULL);
		ops += ws[t].ops;
	}
	CHECK(write(report, &ops, sizeof ops) == sizeof ops, "report");
	rsp_fini();
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	CHECK(argc == 4, "usage: stress PROCESSES THREADS SECONDS");
	int procs = atoi(argv[1]), threads = atoi(argv[2]);
	seconds = atof(argv[3]);
	CHECK(procs > 0 && threads > 0 && seconds > 0, "bad arguments");

	init_or_die("stress-main");
	size_t len = sizeof expected_host;
	CHECK(sys_gethostname(expected_host, &len) == 0, "sysctl kern.hostname");
	rsp_fini();

	int report[2];
	CHECK(pipe(report) == 0, "pipe");
	pid_t *kids = calloc((size_t)procs, sizeof *kids);
	fflush(stdout);
	for (int i = 0; i < procs; i++) {
		kids[i] = fork();
		CHECK(kids[i] >= 0, "fork");
		if (kids[i] == 0) {
			close(report[0]);
			_exit(run_process(threads, report[1]));
		}
	}
	close(report[1]);
	int bad = 0;
	for (int i = 0; i < procs; i++) {
		int status;
		CHECK(waitpid(kids[i], &status, 0) == kids[i], "waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "FAIL process %d: status 0x%x\n", i, status);
			bad = 1;
		}
	}
	uint64_t total = 0, ops;
	int reports = 0;
	while (read(report[0], &ops, sizeof ops) == sizeof ops) {
		total += ops;
		reports++;
	}
	printf("stress: %d processes x %d threads x %.1f s: %llu loops (%d reports)%s\n", procs, threads, seconds,
	       (unsigned long long)total, reports, bad ? ", FAILED" : "");
	if (reports != procs || total == 0)
		bad = 1;
	return bad;
}
