/*
 * disconnect: writes 1 MiB from its memory to a file in the server, but
 * never answers the server's COPYIN: it announces "COPYIN <len> <addr>" on
 * stdout and waits there to be killed (the test sends SIGKILL).
 */
#include "progs.h"

#include <unistd.h>

static void stall(uint64_t len, uint64_t addr)
{
	printf("COPYIN %llu 0x%llx\n", (unsigned long long)len, (unsigned long long)addr);
	fflush(stdout);
	for (;;)
		pause();
}

int main(void)
{
	init_or_die("disconnect");
	int64_t fd, n;
	CHECK(sys_open("/tmp/big", RSP_O_CREAT | RSP_O_RDWR, 0644, &fd) == 0, "open /tmp/big");
	size_t size = 1024 * 1024;
	char *buf = malloc(size);
	CHECK(buf != NULL, "malloc");
	memset(buf, 'x', size);
	printf("opened fd %lld\n", (long long)fd);
	fflush(stdout);
	rsp_set_copyin_hook(stall);
	int e = sys_write((int)fd, buf, size, &n);
	FAIL("the write returned (errno %d n %lld); it should have stalled", e, (long long)n);
}
