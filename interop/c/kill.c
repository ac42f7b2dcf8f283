/*
 * kill: two client processes. The receiver tells the sender its pid (over a
 * host pipe) and then sleeps in the server, so a thread of it is reading the
 * socket; the sender calls kill(receiver, SIGUSR1 (NetBSD 30)) through the
 * server, which sends the receiver a RAISE; the receiver must get a real
 * host SIGUSR1. Also: kill of a pid nobody has is ESRCH, signal 0 probes.
 */
#include "progs.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static int receiver(int to_sender)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	init_or_die("kill-receiver");
	int64_t pid;
	CHECK(sys_getpid(&pid, NULL) == 0, "receiver: getpid");
	CHECK(write(to_sender, &pid, sizeof pid) == sizeof pid, "receiver: tell the pid");
	close(to_sender);
	/* sleep in the server, 20 ms at a time, for at most 10 s */
	for (int i = 0; i < 500 && !got_usr1; i++) {
		int e = sys_nanosleep(0, 20 * 1000 * 1000);
		CHECK(e == 0, "receiver: nanosleep: errno %d", e);
	}
	CHECK(got_usr1, "receiver: no SIGUSR1 within 10 s");
	printf("receiver %lld got a host SIGUSR1\n", (long long)pid);
	fflush(stdout);
	return 0;
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		close(p[0]);
		return receiver(p[1]);
	}
	close(p[1]);
	/* the sender must not be hit by a stray SIGUSR1 either */
	signal(SIGUSR1, SIG_IGN);
	init_or_die("kill-sender");
	int64_t target;
	CHECK(read(p[0], &target, sizeof target) == sizeof target, "sender: read the receiver's pid");
	int64_t self;
	CHECK(sys_getpid(&self, NULL) == 0, "sender: getpid");
	CHECK(target != self && target > 1, "sender: receiver pid %lld, mine %lld", (long long)target, (long long)self);

	CHECK(sys_kill((int)target, 0) == 0, "kill(%lld, 0)", (long long)target);
	int e = sys_kill(29999, RSP_SIGUSR1);
	CHECK(e == RSP_ESRCH, "kill(29999): errno %d, want ESRCH", e);
	e = sys_kill((int)target, RSP_SIGUSR1);
	CHECK(e == 0, "kill(%lld, SIGUSR1): errno %d", (long long)target, e);

	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the receiver failed (status 0x%x)", status);
	printf("kill ok\n");
	return 0;
}
