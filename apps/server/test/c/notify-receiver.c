/*
 * Test tooling: a stand-in for systemd's notification socket. Binds a unix
 * datagram socket at argv[1], prints "bound", then prints every message it
 * gets on one line ('\n' shown as '|'), closing any descriptor passed along
 * (systemd-notify's barrier waits for that). Like systemd's own socket it
 * stays until the barrier that follows READY=1 has come: systemd-notify
 * sends READY=1, then BARRIER=1 with a pipe, and fails ("Failed to invoke
 * barrier: Connection refused") if the socket is gone by then.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "usage: notify-receiver PATH\n");
		return 2;
	}
	alarm(300);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, argv[1]);
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
		perror("bind");
		return 1;
	}
	printf("bound\n");
	fflush(stdout);
	int ready = 0;
	for (;;) {
		char data[4096];
		char control[CMSG_SPACE(16 * sizeof(int))];
		struct iovec iov = { .iov_base = data, .iov_len = sizeof data - 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
		ssize_t n = recvmsg(s, &msg, 0);
		if (n < 0) {
			perror("recvmsg");
			return 1;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
			int *fds = (int *)CMSG_DATA(c);
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) close(fds[i]);
		}
		data[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (data[i] == '\n') data[i] = '|';
		printf("%s\n", data);
		fflush(stdout);
		if (strstr(data, "READY=1") != NULL) ready = 1;
		if (ready && strstr(data, "BARRIER=1") != NULL) return 0;
	}
}
