/*
 * idle N: opens N connections to $RUMP_SERVER (unix:///path), each with a
 * GUEST handshake, and holds them idle. Prints "HELD <ok> <failed>" once
 * done, then waits until stdin closes (or a signal) and exits, which closes
 * them all. One process, raw frames (the client library keeps one
 * connection per process).
 *
 * Build: gcc -O2 -Iinterop/c bench/c/idle.c
 */
#define _GNU_SOURCE
#include "rumpsp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int open_one(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) != 0)
		goto fail;
	char banner[96];
	ssize_t n = read(fd, banner, 95);
	if (n <= 0 || banner[n - 1] != '\n')
		goto fail;
	static const char name[] = "idle";
	uint8_t frame[24 + sizeof name];
	struct rsp_hdr h = { .len = sizeof frame, .reqno = 1, .class = RSP_CLASS_REQ, .type = RSP_TYPE_HANDSHAKE };
	h.u.handshake = RSP_HS_GUEST;
	memcpy(frame, &h, sizeof h);
	memcpy(frame + 24, name, sizeof name);
	if (write(fd, frame, sizeof frame) != (ssize_t)sizeof frame)
		goto fail;
	uint8_t resp[28];
	if (read_all(fd, resp, sizeof resp))
		goto fail;
	struct rsp_hdr rh;
	int32_t err;
	memcpy(&rh, resp, sizeof rh);
	memcpy(&err, resp + 24, 4);
	if (rh.len != 28 || rh.class != RSP_CLASS_RESP || err != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int main(int argc, char **argv)
{
	const char *url = getenv("RUMP_SERVER");
	if (argc != 2 || url == NULL || strncmp(url, "unix://", 7) != 0) {
		fprintf(stderr, "usage: RUMP_SERVER=unix:///path idle N\n");
		return 2;
	}
	int n = atoi(argv[1]);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strncpy(sun.sun_path, url + 7, sizeof sun.sun_path - 1);
	int ok = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		if (open_one(&sun) >= 0)
			ok++;
		else
			failed++;
	}
	printf("HELD %d %d\n", ok, failed);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
