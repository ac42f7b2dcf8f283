/*
 * stress N M S [KILL_MS]: N client processes x M threads each for S
 * seconds, every thread looping over
 *   sysctl kern.hostname read and checked (see below),
 *   getpid (the pid of its process, parent 1),
 *   open /dev/null + write 16 bytes + close,
 *   socket + SO_REUSEADDR + bind 127.0.0.1:PORT + close (PORT its own),
 * every result checked, while this parent kills one child every KILL_MS
 * (default 100) ms — alternately SIGUSR1 (the child's threads finish their
 * loop, it leaves the server and exits 0) and SIGKILL (it dies wherever it
 * is, in the middle of calls) — and starts a new one in its place. At the
 * end every child left gets SIGUSR1. Exits non-zero on any mismatch or a
 * child that did not end as told.
 *
 * The hostname: kern.hostname is one value for the whole kernel (as in
 * NetBSD's rump server), so "the value this process set" cannot hold for
 * 32 processes setting their own. Each child sets it to "stress<pid>" as it
 * starts (as the classic test does) and records its pid, before the write,
 * in a table shared by the whole run; every read must then be exactly
 * "stress" followed by a pid from that table, NUL-terminated, with the
 * length sysctl reports: a value some process of this run really wrote,
 * whole — never the server's own name, a torn or mixed value, or a stale
 * length. (The classic test compared the prefix only.)
 *
 * Ports: child number K (counting every one started) binds 10000 + K*M + t
 * in thread t, so a child started in place of one just killed never needs
 * a port the dead one may still hold; every bind must succeed (after the
 * close of the last iteration's socket the port is free again).
 */
#include "progs.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOST_PREFIX "stress"
#define MAX_WRITERS 65536
#define FIRST_PORT 10000

/** Shared by the whole run (MAP_SHARED before the forks): who set the hostname. */
struct writers {
	uint32_t count;
	int64_t pid[MAX_WRITERS];
};

static struct writers *writers;
static int64_t my_pid;
static int serial, threads;
static volatile sig_atomic_t quit;
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

static void on_usr1(int sig)
{
	(void)sig;
	quit = 1;
}

/** "stress<pid>" with a pid some process of this run recorded before writing it. */
static int known_hostname(const char *host, size_t len)
{
	size_t plen = sizeof HOST_PREFIX - 1;
	if (len < plen + 2 || host[len - 1] != 0 || strlen(host) != len - 1 || strncmp(host, HOST_PREFIX, plen) != 0)
		return 0;
	int64_t pid = 0;
	for (const char *p = host + plen; *p != 0; p++) {
		if (*p < '0' || *p > '9' || pid > 1000000000)
			return 0;
		pid = pid * 10 + (*p - '0');
	}
	uint32_t n = __atomic_load_n(&writers->count, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n && i < MAX_WRITERS; i++)
		if (__atomic_load_n(&writers->pid[i], __ATOMIC_ACQUIRE) == pid)
			return 1;
	return 0;
}

#define WCHECK(cond, ...)                                                                       \
	do {                                                                                        \
		if (!(cond)) {                                                                          \
			fprintf(stderr, "FAIL pid %lld thread %d: ", (long long)my_pid, w->index);        \
			fprintf(stderr, __VA_ARGS__);                                                       \
			fprintf(stderr, "\n");                                                              \
			failed = 1;                                                                         \
			return NULL;                                                                        \
		}                                                                                       \
	} while (0)

static void *work(void *arg)
{
	struct worker *w = arg;
	int port = FIRST_PORT + (serial * threads + w->index) % (60000 - FIRST_PORT);
	struct rsp_sockaddr_in sin = rsp_sin(127, 0, 0, 1, port);
	while (!quit && !failed) {
		char host[256];
		memset(host, 0xff, sizeof host);
		size_t len = sizeof host;
		int e = sys_gethostname(host, &len);
		WCHECK(e == 0 && known_hostname(host, len), "sysctl kern.hostname: errno %d len %zu \"%.*s\"", e, len,
		       (int)(len < sizeof host ? len : sizeof host - 1), host);

		int64_t pid, ppid;
		e = sys_getpid(&pid, &ppid);
		WCHECK(e == 0 && pid == my_pid && ppid == 1, "getpid: errno %d pid %lld ppid %lld, want %lld", e,
		       (long long)pid, (long long)ppid, (long long)my_pid);

		int64_t fd, n;
		char sixteen[16];
		memset(sixteen, 'a' + (int)(w->ops % 26), sizeof sixteen);
		e = sys_open("/dev/null", RSP_O_WRONLY, 0, &fd);
		WCHECK(e == 0 && fd >= 0, "open /dev/null: errno %d fd %lld", e, (long long)fd);
		e = sys_write((int)fd, sixteen, sizeof sixteen, &n);
		WCHECK(e == 0 && n == 16, "write /dev/null: errno %d n %lld", e, (long long)n);
		e = sys_close((int)fd);
		WCHECK(e == 0, "close /dev/null: errno %d", e);

		int64_t s;
		e = sys_socket(RSP_AF_INET, RSP_SOCK_STREAM, &s);
		WCHECK(e == 0, "socket: errno %d", e);
		e = sys_setsockopt_int((int)s, RSP_SOL_SOCKET, RSP_SO_REUSEADDR, 1);
		WCHECK(e == 0, "SO_REUSEADDR: errno %d", e);
		e = sys_sockaddr_call(RSP_SYS_bind, (int)s, &sin);
		WCHECK(e == 0, "bind 127.0.0.1:%d: errno %d", port, e);
		e = sys_close((int)s);
		WCHECK(e == 0, "close the socket: errno %d", e);
		w->ops++;
	}
	return NULL;
}

/** A child: connect, set the hostname, loop in `threads` threads until SIGUSR1, report the loops. */
static int run_child(int report)
{
	init_or_die("stress");
	CHECK(sys_getpid(&my_pid, NULL) == 0, "getpid");
	uint32_t slot = __atomic_fetch_add(&writers->count, 1, __ATOMIC_ACQ_REL);
	CHECK(slot < MAX_WRITERS, "too many children");
	__atomic_store_n(&writers->pid[slot], my_pid, __ATOMIC_RELEASE);
	char name[64];
	snprintf(name, sizeof name, HOST_PREFIX "%lld", (long long)my_pid);
	int e = sys_sethostname(name);
	CHECK(e == 0, "sysctl kern.hostname=%s: errno %d", name, e);

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

static int started;

static pid_t start_child(int report[2])
{
	int k = started++;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(report[0]);
		serial = k;
		struct sigaction sa = { .sa_handler = on_usr1 };
		sigemptyset(&sa.sa_mask);
		CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
		sigset_t usr1;
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
		_exit(run_child(report[1]));
	}
	return pid;
}

/** Waits for `pid`, killed with `sig`: SIGUSR1 must end it with status 0, SIGKILL must kill it. */
static int reap(pid_t pid, int sig)
{
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	int ok = sig == SIGKILL ? WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL
	                        : WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		fprintf(stderr, "FAIL child %d after %s: status 0x%x\n", (int)pid, sig == SIGKILL ? "SIGKILL" : "SIGUSR1",
		        status);
	return ok;
}

int main(int argc, char **argv)
{
	CHECK(argc == 4 || argc == 5, "usage: stress PROCESSES THREADS SECONDS [KILL_MS]");
	int procs = atoi(argv[1]);
	threads = atoi(argv[2]);
	double seconds = atof(argv[3]);
	int kill_ms = argc == 5 ? atoi(argv[4]) : 100;
	CHECK(procs > 0 && threads > 0 && seconds > 0 && kill_ms > 0, "bad arguments");

	writers = mmap(NULL, sizeof *writers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(writers != MAP_FAILED, "mmap: %s", strerror(errno));

	/* the first value: set by this parent, so even the first read of a child has one of the run's */
	init_or_die("stress-main");
	CHECK(sys_getpid(&my_pid, NULL) == 0, "getpid");
	writers->pid[writers->count++] = my_pid;
	char name[64];
	snprintf(name, sizeof name, HOST_PREFIX "%lld", (long long)my_pid);
	CHECK(sys_sethostname(name) == 0, "sysctl kern.hostname=%s", name);
	rsp_fini();

	/* children start with SIGUSR1 blocked, until their handler is in place */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	int report[2];
	CHECK(pipe(report) == 0, "pipe");
	pid_t *kids = calloc((size_t)procs, sizeof *kids);
	for (int i = 0; i < procs; i++)
		kids[i] = start_child(report);

	int bad = 0, usr1_ended = 0, killed = 0, next = 0;
	double end = now() + seconds, due = now();
	for (;;) {
		/* on a fixed beat: time spent reaping and starting counts toward the next interval;
		 * and never past the end, however long the reaps took (a loaded machine) */
		due += kill_ms / 1000.0;
		if (due >= end || now() >= end)
			break;
		double wait = due - now();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
		int sig = (usr1_ended + killed) % 2 == 0 ? SIGUSR1 : SIGKILL;
		CHECK(kill(kids[next], sig) == 0, "kill: %s", strerror(errno));
		if (!reap(kids[next], sig))
			bad = 1;
		if (sig == SIGKILL)
			killed++;
		else
			usr1_ended++;
		kids[next] = start_child(report);
		next = (next + 1) % procs;
	}
	for (int i = 0; i < procs; i++)
		CHECK(kill(kids[i], SIGUSR1) == 0, "kill: %s", strerror(errno));
	for (int i = 0; i < procs; i++)
		if (!reap(kids[i], SIGUSR1))
			bad = 1;
	close(report[1]);

	uint64_t total = 0, ops;
	int reports = 0;
	while (read(report[0], &ops, sizeof ops) == sizeof ops) {
		total += ops;
		reports++;
	}
	printf("stress: %d processes x %d threads x %.1f s: %llu loops reported by %d processes; "
	       "%d started, %d ended by SIGUSR1 and %d by SIGKILL meanwhile%s\n",
	       procs, threads, seconds, (unsigned long long)total, reports, started, usr1_ended, killed,
	       bad ? ", FAILED" : "");
	/* every child that got SIGUSR1 reports; the killed ones cannot */
	if (reports != usr1_ended + procs || total == 0)
		bad = 1;
	return bad;
}
