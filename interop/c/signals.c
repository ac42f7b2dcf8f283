/*
 * signals: syscalls from inside a SIGALRM handler. setitimer fires SIGALRM
 * every 10 ms; each handler run makes up to `per_tick` getpid calls through
 * the library (until `total` calls in all) and checks every result, while
 * the main thread and a second thread keep making calls of their own
 * (getpid and sysctl kern.hostname, checked too), so that the signal lands
 * between and around their calls. The library blocks signals inside a call,
 * so a handler never runs inside its critical sections.
 *
 *   signals [total per_tick]
 */
#include "progs.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int64_t g_pid;
static int g_total = 20000, g_per_tick = 40;
static atomic_int g_claimed;  /* calls the handler runs have claimed */
static atomic_int g_done;     /* calls made by the handler */
static atomic_int g_ticks;    /* handler runs */
static atomic_int g_bad;      /* wrong results in the handler */
static atomic_int g_bad_errno, g_bad_pid;
static atomic_long g_loop_calls; /* calls made by the threads meanwhile */

static void on_alrm(int sig)
{
	(void)sig;
	int saved = errno;
	atomic_fetch_add(&g_ticks, 1);
	/* SIGALRM may land on the other thread while this run goes on: claim each call */
	for (int i = 0; i < g_per_tick && atomic_fetch_add(&g_claimed, 1) < g_total; i++) {
		int64_t pid = -1;
		int e = sys_getpid(&pid, NULL);
		if (e != 0 || pid != g_pid) {
			if (atomic_fetch_add(&g_bad, 1) == 0) {
				atomic_store(&g_bad_errno, e);
				atomic_store(&g_bad_pid, (int)pid);
			}
		}
		atomic_fetch_add(&g_done, 1);
	}
	errno = saved;
}

/** getpid and kern.hostname, both checked, until the handler has made all its calls. */
static void *loop(void *arg)
{
	const char *want = arg;
	while (atomic_load(&g_done) < g_total && atomic_load(&g_bad) == 0) {
		int64_t pid;
		int e = sys_getpid(&pid, NULL);
		CHECK(e == 0 && pid == g_pid, "loop getpid: errno %d pid %lld", e, (long long)pid);
		char host[256];
		size_t len = sizeof host;
		e = sys_gethostname(host, &len);
		CHECK(e == 0 && strcmp(host, want) == 0, "loop hostname: errno %d \"%s\"", e, host);
		atomic_fetch_add(&g_loop_calls, 2);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 3) {
		g_total = atoi(argv[1]);
		g_per_tick = atoi(argv[2]);
	}
	alarm(0);
	init_or_die("signals");
	CHECK(sys_getpid(&g_pid, NULL) == 0, "getpid");
	static char host[256];
	size_t len = sizeof host;
	CHECK(sys_gethostname(host, &len) == 0, "hostname");

	struct sigaction sa = { .sa_handler = on_alrm, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct itimerval it = { .it_interval = { 0, 10000 }, .it_value = { 0, 10000 } };
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");

	pthread_t other;
	CHECK(pthread_create(&other, NULL, loop, host) == 0, "pthread_create");
	loop(host);
	pthread_join(other, NULL);
	/* the handler may still be making its last calls on the other thread */
	while (atomic_load(&g_done) < g_total && atomic_load(&g_bad) == 0)
		usleep(1000);

	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(atomic_load(&g_bad) == 0, "%d wrong results in the handler (first: errno %d pid %d, want pid %lld)",
	      atomic_load(&g_bad), atomic_load(&g_bad_errno), atomic_load(&g_bad_pid), (long long)g_pid);
	int64_t pid;
	CHECK(sys_getpid(&pid, NULL) == 0 && pid == g_pid, "getpid afterwards");
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("signals ok: %d calls in %d SIGALRM handler runs, %ld calls by the threads meanwhile, %.1f s\n",
	       atomic_load(&g_done), atomic_load(&g_ticks), atomic_load(&g_loop_calls), secs);
	return 0;
}
