/*
 * The host process of the walker's race test: swaps two names with
 * renameat2(RENAME_EXCHANGE) as fast as it can, so that one of them is a
 * directory at one instant and a symlink the next. Prints "ready" once it
 * has swapped, and the number of swaps when SIGTERM stops it.
 *
 *   swapper PATH-A PATH-B
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static volatile sig_atomic_t stop;

static void on_term(int sig) {
	(void)sig;
	stop = 1;
}

static int exchange(const char *a, const char *b) {
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: swapper PATH-A PATH-B\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	long swaps = 0;
	while (!stop) {
		if (exchange(argv[1], argv[2]) != 0) {
			perror("renameat2");
			return 1;
		}
		if (++swaps == 1) {
			printf("ready\n");
			fflush(stdout);
		}
	}
	/* leave the names as they were found: an even number of swaps */
	if (swaps % 2 == 1 && exchange(argv[1], argv[2]) == 0) swaps++;
	printf("%ld\n", swaps);
	return 0;
}
