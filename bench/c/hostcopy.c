/*
 * hostcopy MODE PATH ARG
 *
 * The host file system bench's client (bench/hostfs.ts), on the interop
 * client library (interop/c/rumpsp.c), talking to $RUMP_SERVER:
 *
 *   in PATH MIB     create PATH and write MIB MiB into it, 64 KiB per write,
 *                   then fsync it (a copy into the kernel); MB/s of the
 *                   writes, and the fsync's seconds apart
 *   out PATH MIB    read PATH to its end, 64 KiB per read (a copy out)
 *   cycle PATH MIB  write 64 KiB at a time into PATH for as long as `in`
 *                   would, each write at the next offset modulo MIB MiB
 *                   (a tmpfs file kept within the kernel's memory)
 *   walk PATH -     every directory below PATH read (getdents), every
 *                   entry stat'ed
 *
 * One JSON line: the mode, bytes moved (or entries seen), seconds, MB/s.
 *
 * Build: gcc -O2 -pthread -Iinterop/c bench/c/hostcopy.c interop/c/rumpsp.c
 */
#define _GNU_SOURCE
#include "rumpsp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 65536
#define SYS_fsync 95
#define SYS_pwrite 174
#define SYS_lstat 441
#define SYS_getdents 390
#define STAT_SIZE 152

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int e)
{
	fprintf(stderr, "hostcopy: %s: errno %d\n", what, e);
	exit(1);
}

static int64_t sys3(int num, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t a[3] = { a0, a1, a2 };
	int64_t rv[2];
	int e = rsp_syscall(num, a, sizeof a, rv);
	if (e != 0)
		die("syscall", e);
	return rv[0];
}

static int64_t open_path(const char *path, int flags)
{
	return sys3(RSP_SYS_open, (uint64_t)(uintptr_t)path, (uint64_t)(uint32_t)flags, 0644);
}

static uint64_t walked_entries;
static uint64_t walked_dirs;

static void walk(const char *path)
{
	static char buf[65536];
	int64_t fd = open_path(path, RSP_O_RDONLY);
	walked_dirs++;
	for (;;) {
		int64_t n = sys3(SYS_getdents, (uint64_t)fd, (uint64_t)(uintptr_t)buf, sizeof buf);
		if (n == 0)
			break;
		/* the names of this piece first: the buffer is reused by the walks below */
		char *copy = malloc((size_t)n);
		memcpy(copy, buf, (size_t)n);
		for (int64_t at = 0; at < n;) {
			uint16_t reclen, namlen;
			uint8_t type;
			memcpy(&reclen, copy + at + 8, 2);
			memcpy(&namlen, copy + at + 10, 2);
			type = (uint8_t)copy[at + 12];
			const char *name = copy + at + 13;
			at += reclen;
			if ((namlen == 1 && name[0] == '.') || (namlen == 2 && name[0] == '.' && name[1] == '.'))
				continue;
			char child[4096];
			snprintf(child, sizeof child, "%s/%.*s", path, namlen, name);
			char st[STAT_SIZE];
			uint64_t a[2] = { (uint64_t)(uintptr_t)child, (uint64_t)(uintptr_t)st };
			int64_t rv[2];
			int e = rsp_syscall(SYS_lstat, a, sizeof a, rv);
			if (e != 0)
				die("lstat", e);
			walked_entries++;
			if (type == 4 /* DT_DIR */)
				walk(child);
		}
		free(copy);
	}
	sys3(RSP_SYS_close, (uint64_t)fd, 0, 0);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: hostcopy in|out|cycle|walk PATH MIB\n");
		return 2;
	}
	const char *mode = argv[1];
	const char *path = argv[2];
	uint64_t bytes = (uint64_t)atoll(argv[3]) << 20;
	int e = rsp_init("hostcopy");
	if (e != 0)
		die("rsp_init", e);
	static char buf[CHUNK];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 131 + 7);
	uint64_t moved = 0;
	double t0 = now();
	double sync_secs = -1;
	if (strcmp(mode, "in") == 0) {
		int64_t fd = open_path(path, RSP_O_WRONLY | RSP_O_CREAT | RSP_O_TRUNC);
		while (moved < bytes) {
			int64_t n = sys3(RSP_SYS_write, (uint64_t)fd, (uint64_t)(uintptr_t)buf, CHUNK);
			if (n != CHUNK)
				die("short write", (int)n);
			moved += (uint64_t)n;
		}
		double t1 = now();
		uint64_t a[1] = { (uint64_t)fd };
		if ((e = rsp_syscall(SYS_fsync, a, sizeof a, NULL)) != 0)
			die("fsync", e);
		sync_secs = now() - t1;
		t0 += sync_secs;
		sys3(RSP_SYS_close, (uint64_t)fd, 0, 0);
	} else if (strcmp(mode, "out") == 0) {
		int64_t fd = open_path(path, RSP_O_RDONLY);
		for (;;) {
			int64_t n = sys3(RSP_SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)buf, CHUNK);
			if (n == 0)
				break;
			moved += (uint64_t)n;
		}
		sys3(RSP_SYS_close, (uint64_t)fd, 0, 0);
	} else if (strcmp(mode, "cycle") == 0) {
		/* five seconds of writes, the offsets going round MIB MiB */
		int64_t fd = open_path(path, RSP_O_WRONLY | RSP_O_CREAT | RSP_O_TRUNC);
		double until = t0 + 5.0;
		while (now() < until) {
			uint64_t a[5] = { (uint64_t)fd, (uint64_t)(uintptr_t)buf, CHUNK, 0, moved % bytes };
			int64_t rv[2];
			if ((e = rsp_syscall(SYS_pwrite, a, sizeof a, rv)) != 0)
				die("pwrite", e);
			moved += (uint64_t)rv[0];
		}
		sys3(RSP_SYS_close, (uint64_t)fd, 0, 0);
	} else if (strcmp(mode, "walk") == 0) {
		walk(path);
	} else {
		fprintf(stderr, "hostcopy: unknown mode %s\n", mode);
		return 2;
	}
	double secs = now() - t0;
	if (strcmp(mode, "walk") == 0)
		printf("{\"mode\":\"walk\",\"entries\":%llu,\"dirs\":%llu,\"seconds\":%.3f}\n", (unsigned long long)walked_entries,
		       (unsigned long long)walked_dirs, secs);
	else
		printf("{\"mode\":\"%s\",\"bytes\":%llu,\"seconds\":%.3f,\"mb_per_s\":%.1f,\"fsync_seconds\":%.3f}\n", mode,
		       (unsigned long long)moved, secs, (double)moved / 1e6 / secs, sync_secs);
	rsp_fini();
	return 0;
}
