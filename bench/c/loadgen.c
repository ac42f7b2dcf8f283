/*
 * loadgen MODE NCLIENTS NTHREADS SECONDS
 *
 * A load generator on the interop client library (interop/c/rumpsp.c),
 * talking to $RUMP_SERVER. Each client is a forked process with one
 * connection shared by its NTHREADS threads. Every call is timed with
 * CLOCK_MONOTONIC into a log-linear histogram; at the end one JSON line is
 * printed: ops, ops/s, p50 / p99 / p99.9 and the longest call (exact) in
 * microseconds, the calls over 1, 5 and 10 ms, errors (and for connect,
 * refusals; for the copy modes, MB/s).
 *
 * Modes:
 *   getpid    getpid per op
 *   write4k   write 4096 bytes to /dev/null (opened once per client)
 *   writefile4k  pwrite 4096 bytes at offset 0 of a file in the server's
 *             /tmp (a tmpfs; one file per client, created once)
 *   writefile64k  the same with 65536 bytes: the data copied into a file,
 *             the yardstick for copies (/dev/null takes writes without
 *             copying them in)
 *   write64k  write 65536 bytes to /dev/null
 *   read4k    read 4096 bytes from /dev/zero (opened once per client)
 *   sysctl    sysctl kern.hostname read
 *   connect   per op a fresh process connects, handshakes, calls getpid,
 *             exits; each client/thread runs these one after the other
 *
 * Build: gcc -O2 -pthread -Iinterop/c bench/c/loadgen.c interop/c/rumpsp.c
 */
#define _GNU_SOURCE
#include "rumpsp.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- log-linear histogram of nanoseconds --------------------------------- */

/* values below 64 ns get a bucket each; above, 32 buckets per power of two */
#define SUB_BITS 5
#define SUB (1u << SUB_BITS)
#define LINEAR (2u * SUB)
#define NBUCKETS (LINEAR + 58u * SUB)

struct hist {
	uint64_t count[NBUCKETS];
};

static unsigned bucket_of(uint64_t v)
{
	if (v < LINEAR)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS + 1 */
	unsigned shift = e - SUB_BITS;
	unsigned idx = LINEAR + (e - SUB_BITS - 1u) * SUB + (unsigned)((v >> shift) - SUB);
	return idx < NBUCKETS ? idx : NBUCKETS - 1;
}

/** The middle of bucket i, in ns. */
static double bucket_value(unsigned i)
{
	if (i < LINEAR)
		return (double)i;
	unsigned k = i - LINEAR;
	unsigned e = k / SUB + SUB_BITS + 1u;
	unsigned shift = e - SUB_BITS;
	double lo = (double)(((uint64_t)(k % SUB) + SUB) << shift);
	return lo + (double)(1ull << shift) / 2.0;
}

static double percentile_us(const struct hist *h, uint64_t total, double q)
{
	if (total == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total);
	if (rank >= total)
		rank = total - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		seen += h->count[i];
		if (seen > rank)
			return bucket_value(i) / 1000.0;
	}
	return bucket_value(NBUCKETS - 1) / 1000.0;
}

/* ---- shared results -------------------------------------------------------- */

/* what a client feels: the longest call and the calls over 1, 5 and 10 ms */
struct tail {
	uint64_t max_ns;
	uint64_t over[3];
};
static const uint64_t over_ns[3] = { 1000000ull, 5000000ull, 10000000ull };

static void tail_add(struct tail *t, uint64_t dt)
{
	if (dt > t->max_ns)
		t->max_ns = dt;
	for (int i = 0; i < 3; i++)
		t->over[i] += dt > over_ns[i];
}

static void tail_merge(struct tail *into, const struct tail *t)
{
	if (t->max_ns > into->max_ns)
		into->max_ns = t->max_ns;
	for (int i = 0; i < 3; i++)
		into->over[i] += t->over[i];
}

struct slot {
	uint64_t ops;
	uint64_t errors;
	uint64_t refusals;
	struct tail tail;
	struct hist h;
};

struct shared {
	_Atomic int ready;
	_Atomic int go;
	_Atomic int failed_init;
	double start;
	double end;
	struct slot slots[]; /* one per client */
};

static struct shared *S;
static int mode;
static int nthreads;
static int64_t fd_file = -1;

enum { M_GETPID, M_WRITE4K, M_WRITE64K, M_READ4K, M_SYSCTL, M_CONNECT, M_WRITEFILE4K, M_WRITEFILE64K };
static const char *const mode_names[] = { "getpid", "write4k", "write64k", "read4k", "sysctl", "connect", "writefile4k", "writefile64k" };

/* the modes that write to a file of their own in /tmp, and those that move a buffer */
#define FILE_MODE(m) ((m) == M_WRITEFILE4K || (m) == M_WRITEFILE64K)
#define COPY_MODE(m) ((m) == M_WRITE4K || (m) == M_WRITE64K || (m) == M_READ4K || FILE_MODE(m))
#define COPY_LEN(m) ((m) == M_WRITE64K || (m) == M_WRITEFILE64K ? 65536 : 4096)
#define RSP_SYS_unlink 10
#define RSP_SYS_pwrite 174

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- one operation ----------------------------------------------------------- */

static int op_getpid(void)
{
	int64_t rv[2];
	int e = rsp_syscall(RSP_SYS_getpid, NULL, 0, rv);
	return e != 0;
}

static int op_rw(int sysnum, void *buf, size_t len)
{
	uint64_t a[3];
	int64_t rv[2];
	rsp_arg_int(a, 0, (int)fd_file);
	rsp_arg_ptr(a, 1, buf);
	rsp_arg(a, 2, len);
	int e = rsp_syscall(sysnum, a, sizeof a, rv);
	return e != 0 || rv[0] != (int64_t)len;
}

/** pwrite(fd, buf, len, PAD, 0): the same 4 KiB of the file over and over. */
static int op_pwrite(void *buf, size_t len)
{
	uint64_t a[5];
	int64_t rv[2];
	rsp_arg_int(a, 0, (int)fd_file);
	rsp_arg_ptr(a, 1, buf);
	rsp_arg(a, 2, len);
	rsp_arg(a, 3, 0);
	rsp_arg(a, 4, 0);
	int e = rsp_syscall(RSP_SYS_pwrite, a, sizeof a, rv);
	return e != 0 || rv[0] != (int64_t)len;
}

static int op_sysctl(void)
{
	int name[2] = { RSP_CTL_KERN, RSP_KERN_HOSTNAME };
	char host[256];
	size_t len = sizeof host;
	uint64_t a[6];
	rsp_arg_ptr(a, 0, name);
	rsp_arg_int(a, 1, 2);
	rsp_arg_ptr(a, 2, host);
	rsp_arg_ptr(a, 3, &len);
	rsp_arg(a, 4, 0);
	rsp_arg(a, 5, 0);
	return rsp_syscall(RSP_SYS___sysctl, a, sizeof a, NULL) != 0;
}

/** connect: 0 ok, 1 error, 2 refused. */
static int op_connect(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		int e = rsp_init("loadgen-connect");
		if (e == ECONNREFUSED || e == EAGAIN || e == RSP_EAGAIN)
			_exit(2);
		if (e != 0)
			_exit(1);
		int64_t rv[2];
		e = rsp_syscall(RSP_SYS_getpid, NULL, 0, rv);
		rsp_fini();
		_exit(e == 0 ? 0 : 1);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	if (!WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status) == 2 ? 2 : WEXITSTATUS(status) != 0;
}

/* ---- a client ---------------------------------------------------------------- */

struct worker {
	pthread_t thread;
	uint64_t ops, errors, refusals;
	struct tail tail;
	struct hist *h;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t len = COPY_LEN(mode);
	uint8_t *buf = NULL;
	if (COPY_MODE(mode)) {
		buf = malloc(len);
		memset(buf, 'x', len);
	}
	double end = S->end;
	while (now() < end) {
		uint64_t t0 = now_ns();
		int r;
		switch (mode) {
		case M_GETPID: r = op_getpid(); break;
		case M_WRITE4K:
		case M_WRITE64K: r = op_rw(RSP_SYS_write, buf, len); break;
		case M_READ4K: r = op_rw(RSP_SYS_read, buf, len); break;
		case M_WRITEFILE4K:
		case M_WRITEFILE64K: r = op_pwrite(buf, len); break;
		case M_SYSCTL: r = op_sysctl(); break;
		default: r = op_connect(); break;
		}
		uint64_t dt = now_ns() - t0;
		if (r == 2) {
			w->refusals++;
			continue;
		}
		if (r != 0) {
			w->errors++;
			/* a dead connection would spin: stop this thread */
			if (mode != M_CONNECT && rsp_fd() >= 0 && op_getpid() != 0)
				break;
			continue;
		}
		w->ops++;
		w->h->count[bucket_of(dt)]++;
		tail_add(&w->tail, dt);
	}
	free(buf);
	return NULL;
}

static void run_client(int index)
{
	int init_error = 0;
	if (mode != M_CONNECT) {
		int e = rsp_init("loadgen");
		if (e != 0) {
			fprintf(stderr, "loadgen: client %d: rsp_init: error %d\n", index, e);
			init_error = 1;
		} else if (COPY_MODE(mode)) {
			char file[64];
			snprintf(file, sizeof file, "/tmp/loadgen.%d.%d", (int)getppid(), index);
			const char *path = mode == M_READ4K ? "/dev/zero" : FILE_MODE(mode) ? file : "/dev/null";
			int flags = mode == M_READ4K ? RSP_O_RDONLY : FILE_MODE(mode) ? RSP_O_RDWR | RSP_O_CREAT : RSP_O_WRONLY;
			uint64_t a[3];
			int64_t rv[2];
			rsp_arg_ptr(a, 0, path);
			rsp_arg_int(a, 1, flags);
			rsp_arg(a, 2, 0600);
			e = rsp_syscall(RSP_SYS_open, a, sizeof a, rv);
			if (e != 0) {
				fprintf(stderr, "loadgen: client %d: open %s: errno %d\n", index, path, e);
				init_error = 1;
			}
			fd_file = rv[0];
		}
	}
	if (init_error)
		atomic_fetch_add(&S->failed_init, 1);
	atomic_fetch_add(&S->ready, 1);
	while (!atomic_load(&S->go))
		usleep(200);
	if (init_error)
		_exit(1);

	struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
	for (int i = 0; i < nthreads; i++) {
		ws[i].h = calloc(1, sizeof(struct hist));
		pthread_create(&ws[i].thread, NULL, work, &ws[i]);
	}
	struct slot *slot = &S->slots[index];
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].thread, NULL);
		slot->ops += ws[i].ops;
		slot->errors += ws[i].errors;
		slot->refusals += ws[i].refusals;
		tail_merge(&slot->tail, &ws[i].tail);
		for (unsigned b = 0; b < NBUCKETS; b++)
			slot->h.count[b] += ws[i].h->count[b];
	}
	if (FILE_MODE(mode)) {
		char file[64];
		snprintf(file, sizeof file, "/tmp/loadgen.%d.%d", (int)getppid(), index);
		uint64_t a[1];
		rsp_arg_ptr(a, 0, file);
		rsp_syscall(RSP_SYS_unlink, a, sizeof a, NULL);
	}
	if (mode != M_CONNECT)
		rsp_fini();
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: loadgen getpid|write4k|writefile4k|write64k|writefile64k|read4k|sysctl|connect NCLIENTS NTHREADS SECONDS\n");
		return 2;
	}
	mode = -1;
	for (int i = 0; i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
		if (strcmp(argv[1], mode_names[i]) == 0)
			mode = i;
	int nclients = atoi(argv[2]);
	nthreads = atoi(argv[3]);
	double seconds = atof(argv[4]);
	if (mode < 0 || nclients <= 0 || nthreads <= 0 || !(seconds > 0)) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}

	size_t size = sizeof(struct shared) + (size_t)nclients * sizeof(struct slot);
	S = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED) {
		perror("loadgen: mmap");
		return 1;
	}
	memset(S, 0, size);
	S->end = 1e300;

	pid_t *pids = calloc((size_t)nclients, sizeof *pids);
	for (int i = 0; i < nclients; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("loadgen: fork");
			return 1;
		}
		if (pids[i] == 0)
			run_client(i);
	}
	while (atomic_load(&S->ready) < nclients)
		usleep(500);
	S->start = now();
	S->end = S->start + seconds;
	atomic_store(&S->go, 1);

	int failed = 0;
	for (int i = 0; i < nclients; i++) {
		int status;
		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	double elapsed = now() - S->start;

	static struct hist total;
	struct tail tail = { 0, { 0, 0, 0 } };
	uint64_t ops = 0, errors = 0, refusals = 0;
	for (int i = 0; i < nclients; i++) {
		tail_merge(&tail, &S->slots[i].tail);
		ops += S->slots[i].ops;
		errors += S->slots[i].errors;
		refusals += S->slots[i].refusals;
		for (unsigned b = 0; b < NBUCKETS; b++)
			total.count[b] += S->slots[i].h.count[b];
	}
	double bytes = COPY_MODE(mode) ? (double)COPY_LEN(mode) : 0.0;
	printf("{\"mode\":\"%s\",\"clients\":%d,\"threads\":%d,\"seconds\":%.3f,\"ops\":%llu,"
	       "\"ops_per_s\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.1f,"
	       "\"over_1ms\":%llu,\"over_5ms\":%llu,\"over_10ms\":%llu,"
	       "\"errors\":%llu,\"refusals\":%llu,\"failed_clients\":%d,\"mb_per_s\":%.2f}\n",
	       mode_names[mode], nclients, nthreads, elapsed, (unsigned long long)ops,
	       (double)ops / elapsed, percentile_us(&total, ops, 0.50), percentile_us(&total, ops, 0.99),
	       percentile_us(&total, ops, 0.999), (double)tail.max_ns / 1000.0,
	       (unsigned long long)tail.over[0], (unsigned long long)tail.over[1], (unsigned long long)tail.over[2],
	       (unsigned long long)errors, (unsigned long long)refusals,
	       failed, bytes * (double)ops / elapsed / 1e6);
	return 0;
}
