/*
 * sockets: the server's in-kernel sockets driven by real threads and real
 * processes.
 *
 * sockets reuse THREADS: a wildcard listener holds 0.0.0.0:PORT; THREADS
 *   threads of this one process each bind their own loopback address
 *   (127.x.y.1) on that same port with SO_REUSEADDR, all at once (a
 *   barrier holds them bound while the main thread checks that a bind
 *   without SO_REUSEADDR, and one onto an address already bound, are
 *   EADDRINUSE), then close and bind again, ROUNDS times each. Afterwards
 *   the port is free, and a second bind to it is EADDRINUSE.
 *
 * sockets sigio: F_SETOWN + O_ASYNC on a listening socket; another client
 *   process connects: this one gets a real host SIGIO (none before
 *   O_ASYNC is set), and another when data arrives on the accepted socket
 *   (which inherits O_ASYNC and the owner). Then the connecting process
 *   exits: end of file here, a write still goes out (and is answered by a
 *   reset), the next write is EPIPE with a real host SIGPIPE, and
 *   SO_ERROR reports ECONNRESET.
 *
 * A signal the server raises is in this process before the reply of the
 * call that was waiting then, and the call in flight while another client
 * connects is a later one: so the counts below are exact, not timed.
 */
#include "progs.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define REUSE_PORT 7777
#define SIGIO_PORT 7778
#define ROUNDS 8

/* ---- reuse -------------------------------------------------------------- */

struct binder {
	pthread_t thread;
	int index;
	char failure[160];
};

static pthread_barrier_t all_bound, checked;

static struct rsp_sockaddr_in thread_addr(int j)
{
	return rsp_sin(127, 1 + j / 250, 1 + j % 250, 1, REUSE_PORT);
}

static int bind_once(struct binder *b, int round)
{
	struct rsp_sockaddr_in sin = thread_addr(b->index);
	int64_t fd;
	int e = sys_socket(RSP_AF_INET, RSP_SOCK_STREAM, &fd);
	if (e != 0) {
		snprintf(b->failure, sizeof b->failure, "socket: errno %d", e);
		return -1;
	}
	e = sys_setsockopt_int((int)fd, RSP_SOL_SOCKET, RSP_SO_REUSEADDR, 1);
	if (e == 0)
		e = sys_sockaddr_call(RSP_SYS_bind, (int)fd, &sin);
	if (e != 0) {
		snprintf(b->failure, sizeof b->failure, "round %d: SO_REUSEADDR + bind: errno %d", round, e);
		sys_close((int)fd);
		return -1;
	}
	return (int)fd;
}

static void *binder_main(void *arg)
{
	struct binder *b = arg;
	int fd = bind_once(b, 0);
	if (fd >= 0) {
		struct rsp_sockaddr_in got, want = thread_addr(b->index);
		int e = sys_getsockname(fd, &got);
		if (e != 0 || memcmp(&got, &want, sizeof got) != 0)
			snprintf(b->failure, sizeof b->failure, "getsockname: errno %d, not the address bound", e);
	}
	/* every thread holds its binding while the main thread looks */
	pthread_barrier_wait(&all_bound);
	pthread_barrier_wait(&checked);
	if (fd < 0)
		return NULL;
	sys_close(fd);
	for (int round = 1; round < ROUNDS && b->failure[0] == 0; round++) {
		fd = bind_once(b, round);
		if (fd < 0)
			break;
		int e = sys_close(fd);
		if (e != 0)
			snprintf(b->failure, sizeof b->failure, "round %d: close: errno %d", round, e);
	}
	return NULL;
}

static int bind_plain(const struct rsp_sockaddr_in *sin, int reuseaddr, int64_t *fd)
{
	CHECK(sys_socket(RSP_AF_INET, RSP_SOCK_STREAM, fd) == 0, "socket");
	if (reuseaddr)
		CHECK(sys_setsockopt_int((int)*fd, RSP_SOL_SOCKET, RSP_SO_REUSEADDR, 1) == 0, "SO_REUSEADDR");
	return sys_sockaddr_call(RSP_SYS_bind, (int)*fd, sin);
}

static int scenario_reuse(int threads)
{
	init_or_die("sockets-reuse");
	/* a descriptor per thread and a few more: beyond RLIMIT_NOFILE's default 128, as NetBSD asks */
	uint64_t nofile[2] = { (uint64_t)threads + 16, 1772 };
	uint64_t lim[2];
	rsp_arg(lim, 0, 8 /* RLIMIT_NOFILE */);
	rsp_arg_ptr(lim, 1, nofile);
	CHECK(rsp_syscall(195 /* setrlimit */, lim, sizeof lim, NULL) == 0, "setrlimit RLIMIT_NOFILE %d", threads + 16);
	struct rsp_sockaddr_in any = rsp_sin(0, 0, 0, 0, REUSE_PORT);
	int64_t wild, probe;
	CHECK(bind_plain(&any, 0, &wild) == 0, "bind 0.0.0.0:%d", REUSE_PORT);
	CHECK(sys_listen((int)wild, 5) == 0, "listen");

	struct binder *bs = calloc((size_t)threads, sizeof *bs);
	CHECK(pthread_barrier_init(&all_bound, NULL, (unsigned)threads + 1) == 0, "barrier");
	CHECK(pthread_barrier_init(&checked, NULL, (unsigned)threads + 1) == 0, "barrier");
	for (int j = 0; j < threads; j++) {
		bs[j].index = j;
		CHECK(pthread_create(&bs[j].thread, NULL, binder_main, &bs[j]) == 0, "pthread_create");
	}
	pthread_barrier_wait(&all_bound);
	/* all bound now: without SO_REUSEADDR the wildcard is in the way; an exact address is taken either way */
	struct rsp_sockaddr_in loop = rsp_sin(127, 0, 0, 1, REUSE_PORT), first = thread_addr(0);
	int e = bind_plain(&loop, 0, &probe);
	CHECK(e == RSP_EADDRINUSE, "bind 127.0.0.1:%d without SO_REUSEADDR: errno %d, want EADDRINUSE", REUSE_PORT, e);
	sys_close((int)probe);
	e = bind_plain(&first, 1, &probe);
	CHECK(e == RSP_EADDRINUSE, "bind onto a bound address with SO_REUSEADDR: errno %d, want EADDRINUSE", e);
	sys_close((int)probe);
	e = bind_plain(&any, 1, &probe);
	CHECK(e == RSP_EADDRINUSE, "bind onto the wildcard listener's address: errno %d, want EADDRINUSE", e);
	sys_close((int)probe);
	pthread_barrier_wait(&checked);

	int bad = 0;
	for (int j = 0; j < threads; j++) {
		pthread_join(bs[j].thread, NULL);
		if (bs[j].failure[0] != 0) {
			fprintf(stderr, "FAIL thread %d: %s\n", j, bs[j].failure);
			bad = 1;
		}
	}
	CHECK(!bad, "a thread failed");
	CHECK(sys_close((int)wild) == 0, "close the listener");

	/* the port is free again; a second bind to it is EADDRINUSE until the first socket goes */
	int64_t a, b;
	CHECK(bind_plain(&loop, 0, &a) == 0, "bind 127.0.0.1:%d once everything is closed", REUSE_PORT);
	e = bind_plain(&loop, 0, &b);
	CHECK(e == RSP_EADDRINUSE, "second bind: errno %d, want EADDRINUSE", e);
	CHECK(sys_close((int)a) == 0, "close");
	CHECK(sys_sockaddr_call(RSP_SYS_bind, (int)b, &loop) == 0, "bind again after the close");
	CHECK(sys_close((int)b) == 0, "close");
	printf("reuse ok: %d threads bound 127.x.y.1:%d at once beside a wildcard listener with SO_REUSEADDR, "
	       "%d rounds each; EADDRINUSE without it\n",
	       threads, REUSE_PORT, ROUNDS);
	rsp_fini();
	return 0;
}

/* ---- sigio ---------------------------------------------------------------- */

static volatile sig_atomic_t sigio_count, sigpipe_count;

static void on_sigio(int sig)
{
	(void)sig;
	sigio_count++;
}

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipe_count++;
}

static void say(int fd, char c)
{
	CHECK(write(fd, &c, 1) == 1, "host pipe write");
}

static char hear(int fd)
{
	char c = 0;
	CHECK(read(fd, &c, 1) == 1, "host pipe read");
	return c;
}

struct connector {
	pid_t pid;
	int to;   /* commands: 'w' write "data", 'x' exit */
	int from; /* answers: 'c' connected, 'w' written */
};

/** Another client process: connects to SIGIO_PORT, then does what it is told. */
static struct connector start_connector(void)
{
	int down[2], up[2];
	CHECK(pipe(down) == 0 && pipe(up) == 0, "pipe");
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		rsp_forget();
		signal(SIGIO, SIG_IGN);
		init_or_die("sockets-connector");
		struct rsp_sockaddr_in to = rsp_sin(127, 0, 0, 1, SIGIO_PORT);
		int64_t fd, n;
		CHECK(sys_socket(RSP_AF_INET, RSP_SOCK_STREAM, &fd) == 0, "connector: socket");
		int e = sys_sockaddr_call(RSP_SYS_connect, (int)fd, &to);
		CHECK(e == 0, "connector: connect: errno %d", e);
		say(up[1], 'c');
		for (;;) {
			char c = hear(down[0]);
			if (c == 'x')
				_exit(0); /* the connection, and with it the socket, goes with the process */
			e = sys_write((int)fd, "data", 4, &n);
			CHECK(e == 0 && n == 4, "connector: write: errno %d", e);
			say(up[1], 'w');
		}
	}
	close(down[0]);
	close(up[1]);
	return (struct connector){ .pid = pid, .to = down[1], .from = up[0] };
}

static void end_connector(struct connector *c)
{
	say(c->to, 'x');
	int status;
	CHECK(waitpid(c->pid, &status, 0) == c->pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the connector failed (status 0x%x)", status);
	close(c->to);
	close(c->from);
}

/** One call to the server: whatever it raised before is delivered when it returns. */
static void round_trip(void)
{
	CHECK(sys_getpid(NULL, NULL) == 0, "getpid");
}

static int scenario_sigio(void)
{
	struct sigaction sa = { .sa_handler = on_sigio, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGIO, &sa, NULL) == 0, "sigaction SIGIO");
	sa.sa_handler = on_sigpipe;
	CHECK(sigaction(SIGPIPE, &sa, NULL) == 0, "sigaction SIGPIPE");
	init_or_die("sockets-sigio");
	int64_t me, l, a, n;
	CHECK(sys_getpid(&me, NULL) == 0, "getpid");
	struct rsp_sockaddr_in here = rsp_sin(127, 0, 0, 1, SIGIO_PORT);
	CHECK(sys_socket(RSP_AF_INET, RSP_SOCK_STREAM, &l) == 0, "socket");
	CHECK(sys_sockaddr_call(RSP_SYS_bind, (int)l, &here) == 0, "bind");
	CHECK(sys_listen((int)l, 5) == 0, "listen");
	CHECK(sys_fcntl((int)l, RSP_F_SETOWN, (int)me, NULL) == 0, "F_SETOWN");

	/* an owner but no O_ASYNC: a connection raises nothing */
	struct connector quiet = start_connector();
	CHECK(hear(quiet.from) == 'c', "the first connector did not connect");
	round_trip();
	CHECK(sigio_count == 0, "SIGIO without O_ASYNC (%d)", (int)sigio_count);
	CHECK(sys_accept((int)l, &a) == 0, "accept");
	end_connector(&quiet);
	char buf[16];
	int e = sys_read((int)a, buf, sizeof buf, &n);
	CHECK(e == 0 && n == 0, "end of file from the first connector: errno %d n %lld", e, (long long)n);
	CHECK(sys_close((int)a) == 0, "close");

	/* O_ASYNC: a connection raises SIGIO, and so does data on the accepted socket */
	CHECK(sys_fcntl((int)l, RSP_F_SETFL, RSP_O_ASYNC, NULL) == 0, "F_SETFL O_ASYNC");
	struct connector loud = start_connector();
	CHECK(hear(loud.from) == 'c', "the second connector did not connect");
	round_trip();
	CHECK(sigio_count == 1, "SIGIO on connect: %d, want 1", (int)sigio_count);
	CHECK(sys_accept((int)l, &a) == 0, "accept");
	say(loud.to, 'w');
	CHECK(hear(loud.from) == 'w', "the connector did not write");
	round_trip();
	CHECK(sigio_count == 2, "SIGIO on data: %d, want 2", (int)sigio_count);
	e = sys_read((int)a, buf, sizeof buf, &n);
	CHECK(e == 0 && n == 4 && memcmp(buf, "data", 4) == 0, "read: errno %d n %lld", e, (long long)n);
	printf("sigio ok: none without O_ASYNC, a host SIGIO on connect and on data\n");

	/* the connector goes: end of file; a write is reset; the next is EPIPE with SIGPIPE */
	end_connector(&loud);
	e = sys_read((int)a, buf, sizeof buf, &n);
	CHECK(e == 0 && n == 0, "end of file: errno %d n %lld", e, (long long)n);
	e = sys_write((int)a, "late", 4, &n);
	CHECK(e == 0 && n == 4, "write after the peer closed: errno %d n %lld", e, (long long)n);
	CHECK(sigpipe_count == 0, "SIGPIPE too early");
	e = sys_write((int)a, "more", 4, &n);
	CHECK(e == RSP_EPIPE, "write after the reset: errno %d, want EPIPE", e);
	CHECK(sigpipe_count == 1, "SIGPIPE: %d, want 1", (int)sigpipe_count);
	int so_error = -1;
	CHECK(sys_getsockopt_int((int)a, RSP_SOL_SOCKET, RSP_SO_ERROR, &so_error) == 0, "SO_ERROR");
	CHECK(so_error == RSP_ECONNRESET, "SO_ERROR %d, want ECONNRESET", so_error);
	CHECK(sys_getsockopt_int((int)a, RSP_SOL_SOCKET, RSP_SO_ERROR, &so_error) == 0 && so_error == 0,
	      "SO_ERROR not cleared: %d", so_error);
	CHECK(sys_close((int)a) == 0 && sys_close((int)l) == 0, "close");
	printf("reset ok: end of file, a write reset, then EPIPE with a host SIGPIPE; SO_ERROR ECONNRESET once\n");
	rsp_fini();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "reuse") == 0)
		return scenario_reuse(atoi(argv[2]));
	if (argc == 2 && strcmp(argv[1], "sigio") == 0)
		return scenario_sigio();
	fprintf(stderr, "usage: sockets reuse THREADS | sockets sigio\n");
	return 2;
}
