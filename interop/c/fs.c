/*
 * fs: file system calls across clients.
 *
 *   fifo     a fifo between a process and its fork child, each on its own
 *            connection: the parent's open for reading waits in the server
 *            until the child opens for writing; the child's message comes
 *            through, then end of file when it closes.
 *   flock    two clients (separate connections): one holds LOCK_EX, the
 *            other's LOCK_EX|LOCK_NB is EAGAIN and its blocking LOCK_EX
 *            waits in the server until the holder lets go.
 *   mounts   statvfs1 of / and of a tmpfs mounted with a size limit,
 *            getvfsstat listing both, unmount refused (EBUSY) while a file
 *            is open on the mount and done once it is closed.
 *   sigsys   an old-ABI call (compat_50___stat30) is ENOSYS and raises a
 *            host SIGSYS in the caller.
 */
#include "progs.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYS_unmount 22
#define SYS_flock 131
#define SYS_mkfifo 132
#define SYS_mkdir 136
#define SYS_getvfsstat 356
#define SYS_statvfs1 357
#define SYS_compat_50___stat30 387
#define SYS___mount50 410

#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8
#define ST_WAIT 1
#define EBUSY_ 16
#define EAGAIN_ 35
#define ENOSYS_ 78

/* struct statvfs (NetBSD/amd64, Structs.statvfs) */
#define STATVFS_SIZE 2256
#define F_BSIZE 8
#define F_BLOCKS 32
#define F_FSTYPENAME 172
#define F_MNTONNAME 204

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sys_path_int(int num, const char *path, int arg)
{
	uint64_t a[2];
	rsp_arg_ptr(a, 0, path);
	rsp_arg_int(a, 1, arg);
	return rsp_syscall(num, a, sizeof a, NULL);
}

static int sys_flock(int fd, int how)
{
	uint64_t a[2];
	rsp_arg_int(a, 0, fd);
	rsp_arg_int(a, 1, how);
	return rsp_syscall(SYS_flock, a, sizeof a, NULL);
}

static int sys_statvfs1(const char *path, uint8_t *buf)
{
	uint64_t a[3];
	rsp_arg_ptr(a, 0, path);
	rsp_arg_ptr(a, 1, buf);
	rsp_arg_int(a, 2, ST_WAIT);
	return rsp_syscall(SYS_statvfs1, a, sizeof a, NULL);
}

static int sys_getvfsstat(uint8_t *buf, size_t size, int64_t *count)
{
	uint64_t a[3];
	int64_t rv[2];
	rsp_arg_ptr(a, 0, buf);
	rsp_arg(a, 1, size);
	rsp_arg_int(a, 2, ST_WAIT);
	int e = rsp_syscall(SYS_getvfsstat, a, sizeof a, rv);
	*count = rv[0];
	return e;
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, sizeof v);
	return v;
}

static int wait_child(pid_t child)
{
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char FIFO_MSG[] = "through the fifo from the child";

static void scenario_fifo(void)
{
	int e = sys_path_int(SYS_mkfifo, "/tmp/fifo", 0600);
	CHECK(e == 0, "mkfifo: errno %d", e);
	rsp_cookie_t cookie;
	CHECK(rsp_prefork(&cookie) == 0, "prefork");
	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		CHECK(rsp_fork_handshake(&cookie, 0) == 0, "child: fork handshake");
		/* let the parent block in its open first */
		usleep(200 * 1000);
		int64_t fd, n;
		e = sys_open("/tmp/fifo", RSP_O_WRONLY, 0, &fd);
		CHECK(e == 0, "child: open the fifo for writing: errno %d", e);
		e = sys_write((int)fd, FIFO_MSG, sizeof FIFO_MSG - 1, &n);
		CHECK(e == 0 && n == (int64_t)(sizeof FIFO_MSG - 1), "child: write: errno %d n %lld", e, (long long)n);
		CHECK(sys_close((int)fd) == 0, "child: close");
		exit(0);
	}
	int64_t start = now_ms();
	int64_t fd, n;
	e = sys_open("/tmp/fifo", RSP_O_RDONLY, 0, &fd);
	CHECK(e == 0, "open the fifo for reading: errno %d", e);
	int64_t waited = now_ms() - start;
	CHECK(waited >= 150, "the open for reading waited only %lld ms for the writer", (long long)waited);
	char buf[128] = { 0 };
	size_t got = 0;
	for (;;) {
		e = sys_read((int)fd, buf + got, sizeof buf - 1 - got, &n);
		CHECK(e == 0, "read the fifo: errno %d", e);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	CHECK(got == sizeof FIFO_MSG - 1 && memcmp(buf, FIFO_MSG, got) == 0, "the fifo carried \"%s\"", buf);
	CHECK(sys_close((int)fd) == 0, "close");
	CHECK(wait_child(child) == 0, "the fifo child failed");
	printf("fifo ok: the open waited %lld ms for the writer; read \"%s\" then end of file\n", (long long)waited, buf);
}

static void scenario_flock(void)
{
	int64_t fd;
	CHECK(sys_open("/tmp/lockfile", RSP_O_CREAT | RSP_O_RDWR, 0644, &fd) == 0, "open");
	CHECK(sys_flock((int)fd, LOCK_EX) == 0, "flock LOCK_EX");
	int report[2];
	CHECK(pipe(report) == 0, "pipe");
	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		/* a client of its own, on its own connection */
		close(report[0]);
		rsp_forget();
		init_or_die("fs-flock-other");
		int64_t cfd;
		CHECK(sys_open("/tmp/lockfile", RSP_O_RDWR, 0, &cfd) == 0, "other: open");
		int e = sys_flock((int)cfd, LOCK_EX | LOCK_NB);
		CHECK(e == EAGAIN_, "other: LOCK_EX|LOCK_NB: errno %d, want EAGAIN", e);
		char c = 'w';
		CHECK(write(report[1], &c, 1) == 1, "other: report");
		int64_t start = now_ms();
		e = sys_flock((int)cfd, LOCK_EX);
		int64_t waited = now_ms() - start;
		CHECK(e == 0, "other: blocking LOCK_EX: errno %d", e);
		CHECK(waited >= 150, "other: the blocking flock returned after %lld ms", (long long)waited);
		printf("other client waited %lld ms for the lock\n", (long long)waited);
		fflush(stdout);
		exit(0);
	}
	close(report[1]);
	char c = 0;
	CHECK(read(report[0], &c, 1) == 1 && c == 'w', "the other client reported");
	usleep(300 * 1000);
	CHECK(sys_flock((int)fd, LOCK_UN) == 0, "LOCK_UN");
	CHECK(wait_child(child) == 0, "the other client failed");
	CHECK(sys_close((int)fd) == 0, "close");
	printf("flock ok: EAGAIN without waiting, then the blocking lock once released\n");
}

/* struct tmpfs_args, version 1, 16 pages at most */
struct tmpfs_args {
	int ta_version;
	uint64_t ta_nodes_max;
	int64_t ta_size_max;
	uint32_t ta_root_uid;
	uint32_t ta_root_gid;
	uint32_t ta_root_mode;
};

static void scenario_mounts(void)
{
	static uint8_t sv[STATVFS_SIZE];
	CHECK(sys_statvfs1("/", sv) == 0, "statvfs1 /");
	CHECK(strcmp((char *)sv + F_FSTYPENAME, "tmpfs") == 0, "/ is %s", (char *)sv + F_FSTYPENAME);
	CHECK(strcmp((char *)sv + F_MNTONNAME, "/") == 0, "/ is mounted on %s", (char *)sv + F_MNTONNAME);
	CHECK(u64_at(sv, F_BSIZE) == 4096, "f_bsize %llu", (unsigned long long)u64_at(sv, F_BSIZE));
	CHECK(u64_at(sv, F_BLOCKS) > 0, "f_blocks of /");

	int e = sys_path_int(SYS_mkdir, "/mnt", 0755);
	CHECK(e == 0, "mkdir /mnt: errno %d", e);
	struct tmpfs_args ta = { 1, 0, 16 * 4096, 0, 0, 0755 };
	_Static_assert(sizeof ta == 40, "tmpfs_args is 40 bytes");
	uint64_t a[5];
	rsp_arg_ptr(a, 0, "tmpfs");
	rsp_arg_ptr(a, 1, "/mnt");
	rsp_arg_int(a, 2, 0);
	rsp_arg_ptr(a, 3, &ta);
	rsp_arg(a, 4, sizeof ta);
	e = rsp_syscall(SYS___mount50, a, sizeof a, NULL);
	CHECK(e == 0, "mount tmpfs on /mnt: errno %d", e);
	CHECK(sys_statvfs1("/mnt", sv) == 0, "statvfs1 /mnt");
	CHECK(strcmp((char *)sv + F_MNTONNAME, "/mnt") == 0, "/mnt is mounted on %s", (char *)sv + F_MNTONNAME);
	CHECK(u64_at(sv, F_BLOCKS) == 16, "f_blocks of /mnt: %llu", (unsigned long long)u64_at(sv, F_BLOCKS));

	int64_t count;
	CHECK(sys_getvfsstat(NULL, 0, &count) == 0 && count == 2, "getvfsstat counts %lld mounts", (long long)count);
	static uint8_t all[2 * STATVFS_SIZE];
	CHECK(sys_getvfsstat(all, sizeof all, &count) == 0 && count == 2, "getvfsstat");
	CHECK(strcmp((char *)all + F_MNTONNAME, "/") == 0, "first mount %s", (char *)all + F_MNTONNAME);
	CHECK(strcmp((char *)all + STATVFS_SIZE + F_MNTONNAME, "/mnt") == 0, "second mount %s",
	      (char *)all + STATVFS_SIZE + F_MNTONNAME);

	int64_t fd;
	CHECK(sys_open("/mnt/busy", RSP_O_CREAT | RSP_O_WRONLY, 0644, &fd) == 0, "open /mnt/busy");
	e = sys_path_int(SYS_unmount, "/mnt", 0);
	CHECK(e == EBUSY_, "unmount with a file open: errno %d, want EBUSY", e);
	CHECK(sys_close((int)fd) == 0, "close");
	e = sys_path_int(SYS_unmount, "/mnt", 0);
	CHECK(e == 0, "unmount: errno %d", e);
	CHECK(sys_getvfsstat(NULL, 0, &count) == 0 && count == 1, "after unmount: %lld mounts", (long long)count);
	printf("mounts ok: / and /mnt (16 blocks) listed, unmount EBUSY while a file was open, then done\n");
}

static volatile sig_atomic_t got_sigsys;

static void on_sigsys(int sig)
{
	(void)sig;
	got_sigsys = 1;
}

static void scenario_sigsys(void)
{
	struct sigaction sa = { .sa_handler = on_sigsys };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGSYS, &sa, NULL) == 0, "sigaction");
	static uint8_t st[144];
	uint64_t a[2];
	rsp_arg_ptr(a, 0, "/");
	rsp_arg_ptr(a, 1, st);
	int e = rsp_syscall(SYS_compat_50___stat30, a, sizeof a, NULL);
	CHECK(e == ENOSYS_, "compat_50___stat30: errno %d, want ENOSYS", e);
	CHECK(got_sigsys, "no host SIGSYS");
	printf("sigsys ok: ENOSYS and a host SIGSYS\n");
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	init_or_die("fs");
	if (strcmp(what, "fifo") == 0)
		scenario_fifo();
	else if (strcmp(what, "flock") == 0)
		scenario_flock();
	else if (strcmp(what, "mounts") == 0)
		scenario_mounts();
	else if (strcmp(what, "sigsys") == 0)
		scenario_sigsys();
	else
		FAIL("usage: fs fifo|flock|mounts|sigsys");
	return 0;
}
