/*
 * creds: credentials, process groups, limits and chroot through the server,
 * one scenario per argument:
 *
 *   drop    root makes a 0600 file, the process drops to uid 1000 (setgid,
 *           setgroups, setuid) and is refused it; it cannot get root back
 *   fork    a prefork child inherits the credentials and the process group,
 *           leaves the group and rejoins it
 *   killpg  kill(0, SIGUSR1) reaches every member of the caller's group (the
 *           caller and two fork children) as host signals, not a bystander
 *   emfile  RLIMIT_NOFILE 128/1772 at start; at 12, 9 opens then EMFILE;
 *           RLIM_INFINITY is clamped to 1772
 *   chroot  a chrooted process cannot name a file outside, ".." included;
 *           fchroot on a descriptor of the old root gets it out again
 *   badargs negative counts and too many groups are EINVAL, -1 ids unchanged
 */
#include "progs.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYS_chroot 61
#define SYS_getgroups 79
#define SYS_setgroups 80
#define SYS_getpgrp 81
#define SYS_setpgid 82
#define SYS_setreuid 126
#define SYS_mkdir 136
#define SYS_setsid 147
#define SYS_setgid 181
#define SYS_getrlimit 194
#define SYS_setrlimit 195
#define SYS_getsid 286
#define SYS_fchroot 297
#define SYS_issetugid 305
#define SYS_setuid 23
#define SYS_getuid 24
#define SYS_getgid 47

#define E_NOENT 2
#define E_ACCES 13
#define E_MFILE 24
#define O_DIRECTORY_NB 0x200000
#define RLIMIT_NOFILE_NB 8
#define RLIM_INFINITY_NB 0x7fffffffffffffffULL

static int call1(int num, int64_t a0, int64_t *ret)
{
	uint64_t a[1];
	int64_t rv[2] = { 0, 0 };
	rsp_arg(a, 0, (uint64_t)a0);
	int e = rsp_syscall(num, a, sizeof a, rv);
	if (ret != NULL)
		*ret = rv[0];
	return e;
}

static int call2(int num, int64_t a0, int64_t a1, int64_t rv[2])
{
	uint64_t a[2];
	int64_t tmp[2] = { 0, 0 };
	rsp_arg(a, 0, (uint64_t)a0);
	rsp_arg(a, 1, (uint64_t)a1);
	int e = rsp_syscall(num, a, sizeof a, rv != NULL ? rv : tmp);
	return e;
}

static int call0(int num, int64_t rv[2])
{
	int64_t tmp[2] = { 0, 0 };
	return rsp_syscall(num, NULL, 0, rv != NULL ? rv : tmp);
}

static int set_groups(int n, const uint32_t *groups)
{
	return call2(SYS_setgroups, (uint32_t)n, (int64_t)(uintptr_t)groups, NULL);
}

/** setgid, setgroups, setuid: what `sysproxy --uid/--gid` and login(1) do. */
static void become(uint32_t uid, uint32_t gid, int ngroups, const uint32_t *groups)
{
	int e = call1(SYS_setgid, gid, NULL);
	CHECK(e == 0, "setgid(%u): errno %d", gid, e);
	e = set_groups(ngroups, groups);
	CHECK(e == 0, "setgroups: errno %d", e);
	e = call1(SYS_setuid, uid, NULL);
	CHECK(e == 0, "setuid(%u): errno %d", uid, e);
}

static void ids(int64_t uid[2], int64_t gid[2])
{
	CHECK(call0(SYS_getuid, uid) == 0, "getuid");
	CHECK(call0(SYS_getgid, gid) == 0, "getgid");
}

static int wait_child(pid_t child)
{
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void scenario_drop(void)
{
	int64_t fd, n;
	int e = sys_open("/tmp/secret", RSP_O_CREAT | RSP_O_WRONLY | RSP_O_TRUNC, 0600, &fd);
	CHECK(e == 0, "root creates /tmp/secret: errno %d", e);
	CHECK(sys_write((int)fd, "root only\n", 10, &n) == 0 && n == 10, "write the secret");
	CHECK(sys_close((int)fd) == 0, "close");

	become(1000, 100, 0, NULL);
	int64_t uid[2], gid[2];
	ids(uid, gid);
	CHECK(uid[0] == 1000 && uid[1] == 1000 && gid[0] == 100 && gid[1] == 100, "ids %lld/%lld %lld/%lld",
	      (long long)uid[0], (long long)uid[1], (long long)gid[0], (long long)gid[1]);
	e = sys_open("/tmp/secret", RSP_O_RDONLY, 0, &fd);
	CHECK(e == E_ACCES, "uid 1000 opens root's 0600 file: errno %d, want EACCES", e);
	e = call1(SYS_setuid, 0, NULL);
	CHECK(e == RSP_EPERM, "setuid(0) as uid 1000: errno %d, want EPERM", e);
	int64_t tainted[2];
	CHECK(call0(SYS_issetugid, tainted) == 0 && tainted[0] == 1, "issetugid %lld", (long long)tainted[0]);
	printf("drop ok: uid 1000 gid 100, EACCES on root's 0600 file, setuid(0) EPERM\n");
}

static void scenario_fork(void)
{
	int64_t pid, rv[2];
	CHECK(sys_getpid(&pid, NULL) == 0, "getpid");
	CHECK(call0(SYS_setsid, rv) == 0 && rv[0] == pid, "setsid returns the pid");
	const uint32_t groups[] = { 7, 8 };
	become(1000, 100, 2, groups);
	rsp_cookie_t cookie;
	CHECK(rsp_prefork(&cookie) == 0, "prefork");
	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		CHECK(rsp_fork_handshake(&cookie, 0) == 0, "child: fork handshake");
		int64_t uid[2], gid[2], ppid, self;
		ids(uid, gid);
		CHECK(uid[0] == 1000 && uid[1] == 1000 && gid[0] == 100 && gid[1] == 100, "child: ids %lld %lld",
		      (long long)uid[0], (long long)gid[0]);
		CHECK(call2(SYS_getgroups, 0, 0, rv) == 0 && rv[0] == 2, "child: %lld groups", (long long)rv[0]);
		CHECK(sys_getpid(&self, &ppid) == 0 && ppid == 1, "child: ppid %lld", (long long)ppid);
		CHECK(call0(SYS_getpgrp, rv) == 0 && rv[0] == pid, "child: group %lld, want %lld", (long long)rv[0], (long long)pid);
		CHECK(call1(SYS_getsid, 0, &rv[0]) == 0 && rv[0] == pid, "child: session %lld", (long long)rv[0]);
		CHECK(call2(SYS_setpgid, 0, 0, NULL) == 0, "child: a group of its own");
		CHECK(call0(SYS_getpgrp, rv) == 0 && rv[0] == self, "child: group %lld", (long long)rv[0]);
		CHECK(call2(SYS_setpgid, 0, pid, NULL) == 0, "child: rejoins its parent's group");
		CHECK(call0(SYS_getpgrp, rv) == 0 && rv[0] == pid, "child: group %lld after rejoining", (long long)rv[0]);
		printf("child %lld: uid 1000 gid 100, 2 groups, ppid 1, group and session %lld, left and rejoined\n",
		       (long long)self, (long long)pid);
		fflush(stdout);
		exit(0);
	}
	CHECK(wait_child(child) == 0, "the forked child failed");
	printf("fork ok\n");
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

/** A group member: claims the prefork, says it is ready, sleeps in the server until SIGUSR1. */
static void member(const rsp_cookie_t *cookie, int ready)
{
	CHECK(rsp_fork_handshake(cookie, 0) == 0, "member: fork handshake");
	CHECK(write(ready, "r", 1) == 1, "member: ready");
	for (int i = 0; i < 500 && !got_usr1; i++)
		CHECK(sys_nanosleep(0, 20 * 1000 * 1000) == 0, "member: nanosleep");
	CHECK(got_usr1 == 1, "member: %d SIGUSR1 within 10 s", (int)got_usr1);
	exit(0);
}

/** Not in the group: a guest of its own, which must not get the signal. */
static void bystander(int ready, int done)
{
	rsp_forget();
	init_or_die("creds-bystander");
	CHECK(write(ready, "r", 1) == 1, "bystander: ready");
	char c;
	CHECK(read(done, &c, 1) == 1, "bystander: wait for the kill");
	/* a few more round trips: a RAISE sent before the kill was answered would have come by now */
	for (int i = 0; i < 5; i++)
		CHECK(sys_nanosleep(0, 20 * 1000 * 1000) == 0, "bystander: nanosleep");
	CHECK(got_usr1 == 0, "bystander: got %d SIGUSR1", (int)got_usr1);
	exit(0);
}

static void scenario_killpg(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	int64_t pid, rv[2];
	CHECK(sys_getpid(&pid, NULL) == 0, "getpid");
	CHECK(call0(SYS_setsid, rv) == 0, "setsid");
	int ready[2], done[2];
	CHECK(pipe(ready) == 0 && pipe(done) == 0, "pipes");
	pid_t kids[3];
	for (int i = 0; i < 2; i++) {
		rsp_cookie_t cookie;
		CHECK(rsp_prefork(&cookie) == 0, "prefork");
		fflush(stdout);
		kids[i] = fork();
		CHECK(kids[i] >= 0, "fork");
		if (kids[i] == 0)
			member(&cookie, ready[1]);
	}
	fflush(stdout);
	kids[2] = fork();
	CHECK(kids[2] >= 0, "fork");
	if (kids[2] == 0)
		bystander(ready[1], done[0]);
	for (int i = 0; i < 3; i++) {
		char c;
		CHECK(read(ready[0], &c, 1) == 1, "ready");
	}
	int e = sys_kill(0, RSP_SIGUSR1);
	CHECK(e == 0, "kill(0, SIGUSR1): errno %d", e);
	CHECK(write(done[1], "k", 1) == 1, "tell the bystander");
	CHECK(wait_child(kids[0]) == 0 && wait_child(kids[1]) == 0, "a member failed");
	CHECK(wait_child(kids[2]) == 0, "the bystander failed");
	for (int i = 0; i < 50 && !got_usr1; i++)
		usleep(10 * 1000);
	CHECK(got_usr1 == 1, "the caller got %d SIGUSR1", (int)got_usr1);
	e = sys_kill(-4242, RSP_SIGUSR1);
	CHECK(e == RSP_ESRCH, "kill(-4242): errno %d, want ESRCH", e);
	printf("killpg ok: the caller and both members of group %lld got a host SIGUSR1, the bystander none\n", (long long)pid);
}

static int get_nofile(uint64_t lim[2])
{
	return call2(SYS_getrlimit, RLIMIT_NOFILE_NB, (int64_t)(uintptr_t)lim, NULL);
}

static int set_nofile(uint64_t cur, uint64_t max)
{
	uint64_t lim[2] = { cur, max };
	return call2(SYS_setrlimit, RLIMIT_NOFILE_NB, (int64_t)(uintptr_t)lim, NULL);
}

static void scenario_emfile(void)
{
	uint64_t lim[2];
	CHECK(get_nofile(lim) == 0 && lim[0] == 128 && lim[1] == 1772, "RLIMIT_NOFILE %llu/%llu",
	      (unsigned long long)lim[0], (unsigned long long)lim[1]);
	CHECK(set_nofile(12, 1772) == 0, "setrlimit 12");
	int64_t fd;
	for (int want = 3; want < 12; want++) {
		int e = sys_open("/dev/null", RSP_O_RDONLY, 0, &fd);
		CHECK(e == 0 && fd == want, "open %d: errno %d fd %lld", want, e, (long long)fd);
	}
	int e = sys_open("/dev/null", RSP_O_RDONLY, 0, &fd);
	CHECK(e == E_MFILE, "the 10th open: errno %d, want EMFILE", e);
	CHECK(set_nofile(RLIM_INFINITY_NB, RLIM_INFINITY_NB) == 0, "setrlimit RLIM_INFINITY as root");
	CHECK(get_nofile(lim) == 0 && lim[0] == 1772 && lim[1] == 1772, "clamped to %llu/%llu",
	      (unsigned long long)lim[0], (unsigned long long)lim[1]);
	CHECK(sys_open("/dev/null", RSP_O_RDONLY, 0, &fd) == 0 && fd == 12, "room again");
	printf("emfile ok: 9 opens at a soft limit of 12, then EMFILE; RLIM_INFINITY clamped to 1772\n");
}

static int exists(const char *path)
{
	int64_t fd;
	int e = sys_open(path, RSP_O_RDONLY, 0, &fd);
	if (e == 0)
		sys_close((int)fd);
	return e;
}

static void scenario_chroot(void)
{
	int64_t fd, root;
	uint64_t a[2];
	rsp_arg_ptr(a, 0, "/jail");
	rsp_arg_int(a, 1, 0755);
	CHECK(rsp_syscall(SYS_mkdir, a, sizeof a, NULL) == 0, "mkdir /jail");
	CHECK(sys_open("/jail/inside", RSP_O_CREAT | RSP_O_WRONLY, 0644, &fd) == 0 && sys_close((int)fd) == 0, "/jail/inside");
	CHECK(sys_open("/outside", RSP_O_CREAT | RSP_O_WRONLY, 0644, &fd) == 0 && sys_close((int)fd) == 0, "/outside");
	CHECK(sys_open("/", RSP_O_RDONLY | O_DIRECTORY_NB, 0, &root) == 0, "open /");
	uint64_t c[1];
	rsp_arg_ptr(c, 0, "/jail");
	CHECK(rsp_syscall(SYS_chroot, c, sizeof c, NULL) == 0, "chroot /jail");
	CHECK(exists("/inside") == 0, "/inside inside the chroot");
	const char *outside[] = { "/outside", "../outside", "/../outside", "/../../outside", "/jail/inside" };
	for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		int e = exists(outside[i]);
		CHECK(e == E_NOENT, "%s from inside: errno %d, want ENOENT", outside[i], e);
	}
	CHECK(call1(SYS_fchroot, root, NULL) == 0, "fchroot on the old root");
	CHECK(exists("/outside") == 0, "/outside after fchroot");
	printf("chroot ok: nothing outside can be named; fchroot on a kept descriptor gets out\n");
}

static void scenario_badargs(void)
{
	uint32_t groups[17] = { 0 };
	int64_t rv[2];
	int e = call2(SYS_getgroups, -1, (int64_t)(uintptr_t)groups, NULL);
	CHECK(e == RSP_EINVAL, "getgroups(-1): errno %d", e);
	e = set_groups(17, groups);
	CHECK(e == RSP_EINVAL, "setgroups(17): errno %d", e);
	e = set_groups(-1, groups);
	CHECK(e == RSP_EINVAL, "setgroups(-1): errno %d", e);
	CHECK(set_groups(2, groups) == 0, "setgroups(2)");
	e = call2(SYS_getgroups, 1, (int64_t)(uintptr_t)groups, NULL);
	CHECK(e == RSP_EINVAL, "getgroups into a buffer too small: errno %d", e);
	CHECK(call2(SYS_setreuid, 1000, 2000, NULL) == 0, "setreuid(1000, 2000)");
	CHECK(call2(SYS_setreuid, -1, -1, NULL) == 0, "setreuid(-1, -1)");
	CHECK(call0(SYS_getuid, rv) == 0 && rv[0] == 1000 && rv[1] == 2000, "uids %lld %lld after -1, -1",
	      (long long)rv[0], (long long)rv[1]);
	e = call2(SYS_setpgid, 0, -1, NULL);
	CHECK(e == RSP_EINVAL, "setpgid(0, -1): errno %d", e);
	printf("badargs ok\n");
}

int main(int argc, char **argv)
{
	CHECK(argc == 2, "usage: creds drop|fork|killpg|emfile|chroot|badargs");
	init_or_die("creds");
	const char *s = argv[1];
	if (strcmp(s, "drop") == 0)
		scenario_drop();
	else if (strcmp(s, "fork") == 0)
		scenario_fork();
	else if (strcmp(s, "killpg") == 0)
		scenario_killpg();
	else if (strcmp(s, "emfile") == 0)
		scenario_emfile();
	else if (strcmp(s, "chroot") == 0)
		scenario_chroot();
	else if (strcmp(s, "badargs") == 0)
		scenario_badargs();
	else
		FAIL("unknown scenario %s", s);
	return 0;
}
