/*
 * sysctl: the whole tree walked with CTL_QUERY, as NetBSD's sysctl(8) -a
 * walks it, every node printed and every value read without an error
 * (what sysctl(8) hands to another program, kern.proc2 and the like, is
 * named, not read); then names resolved component by component with
 * CTL_QUERY, as libc's sysctlnametomib does, and read by the MIB found.
 */
#include "progs.h"

#include <stdbool.h>

#define CTL_MAXNAME 12
#define NETBSD_ENOENT 2
#define CTL_QUERY (-2)
#define CTL_DESCRIBE (-7)
#define SYSCTL_VERSION 0x01000000u
#define CTLTYPE_NODE 1
#define CTLTYPE_INT 2
#define CTLTYPE_STRING 3
#define CTLTYPE_QUAD 4
#define CTLTYPE_STRUCT 5
#define CTLTYPE_BOOL 6
#define CTLFLAG_HIDDEN 0x8000u

/* struct sysctlnode as NetBSD/amd64 lays it out (sys/sysctl.h): 96 bytes. */
struct node {
	uint32_t flags;
	int32_t num;
	char name[32];
	uint32_t ver;
	uint32_t rsvd;
	union {
		struct {
			uint32_t csize, clen;
			uint64_t child;
		} c;
		int32_t idata;
		uint64_t qdata;
	} un;
	uint64_t size, func, parent, desc;
};
_Static_assert(sizeof(struct node) == 96, "struct sysctlnode is 96 bytes");

static int sysctl_raw(const int *name, unsigned namelen, void *old, size_t *oldlen, const void *new, size_t newlen)
{
	uint64_t a[6];
	rsp_arg_ptr(a, 0, name);
	rsp_arg_int(a, 1, (int)namelen);
	rsp_arg_ptr(a, 2, old);
	rsp_arg_ptr(a, 3, oldlen);
	rsp_arg_ptr(a, 4, new);
	rsp_arg(a, 5, newlen);
	return rsp_syscall(RSP_SYS___sysctl, a, sizeof a, NULL);
}

/** The children of the node at mib: asks their size, then for them (malloc'd, *n of them). */
static int query(const int *mib, unsigned len, struct node **out, size_t *n)
{
	int name[CTL_MAXNAME];
	memcpy(name, mib, len * sizeof(int));
	name[len] = CTL_QUERY;
	struct node q;
	memset(&q, 0, sizeof q);
	q.flags = SYSCTL_VERSION;
	size_t size = 0;
	int e = sysctl_raw(name, len + 1, NULL, &size, &q, sizeof q);
	if (e != 0)
		return e;
	*out = malloc(size + sizeof(struct node));
	CHECK(*out != NULL, "malloc");
	e = sysctl_raw(name, len + 1, *out, &size, &q, sizeof q);
	*n = size / sizeof(struct node);
	return e;
}

/* sysctl(8)'s handlers for nodes another program shows: named, not read, as -a passes over them */
static const char *const other[] = { "kern.evcnt", "kern.vnode", "kern.proc", "kern.proc2", "kern.proc_args",
	"kern.file", "kern.file2", "kern.ntptime", "kern.msgbuf", NULL };

static bool shown_elsewhere(const char *name)
{
	for (int i = 0; other[i] != NULL; i++)
		if (strcmp(name, other[i]) == 0)
			return true;
	return false;
}

static int nodes, values;

static void print_value(const int *mib, unsigned len, const char *name, const struct node *n)
{
	unsigned type = n->flags & 0xf;
	/* as sysctl(8): the node's size, asked for only when it has none; a string gets 1024 bytes first */
	size_t size = n->size;
	int e = 0;
	if (size == 0)
		e = sysctl_raw(mib, len, NULL, &size, NULL, 0);
	CHECK(e == 0, "%s: size: errno %d", name, e);
	if (type == CTLTYPE_STRING && size < 1024)
		size = 1024;
	unsigned char *buf = calloc(1, size + 1);
	CHECK(buf != NULL, "malloc");
	size_t got = size;
	e = sysctl_raw(mib, len, buf, &got, NULL, 0);
	CHECK(e == 0, "%s: read: errno %d", name, e);
	switch (type) {
	case CTLTYPE_INT:
		CHECK(got == 4, "%s: an int of %zu bytes", name, got);
		printf("%s = %d\n", name, *(int32_t *)buf);
		break;
	case CTLTYPE_QUAD:
		CHECK(got == 8, "%s: a quad of %zu bytes", name, got);
		printf("%s = %llu\n", name, (unsigned long long)*(uint64_t *)buf);
		break;
	case CTLTYPE_BOOL:
		CHECK(got == 1, "%s: a bool of %zu bytes", name, got);
		printf("%s = %d\n", name, buf[0]);
		break;
	case CTLTYPE_STRING:
		CHECK(got >= 1 && buf[got - 1] == 0, "%s: a string of %zu bytes without its NUL", name, got);
		printf("%s = %s\n", name, (char *)buf);
		break;
	case CTLTYPE_STRUCT:
		printf("%s: struct, %zu bytes\n", name, got);
		break;
	default:
		FAIL("%s: type %u", name, type);
	}
	free(buf);
	values++;
}

static void walk(int *mib, unsigned len, const char *prefix)
{
	struct node *kids;
	size_t n;
	int e = query(mib, len, &kids, &n);
	CHECK(e == 0, "CTL_QUERY under %s: errno %d", prefix[0] ? prefix : "(root)", e);
	if (n == 0)
		printf("%s: no children\n", prefix);
	for (size_t i = 0; i < n; i++) {
		const struct node *k = &kids[i];
		CHECK((k->flags & 0xff000000u) == SYSCTL_VERSION, "%s.%s: version %#x", prefix, k->name, k->flags);
		CHECK(len < CTL_MAXNAME, "too deep under %s", prefix);
		char name[512];
		snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
		nodes++;
		mib[len] = k->num;
		if (k->flags & CTLFLAG_HIDDEN)
			continue;
		if (shown_elsewhere(name)) {
			printf("%s: shown by another program\n", name);
			continue;
		}
		if ((k->flags & 0xf) == CTLTYPE_NODE)
			walk(mib, len + 1, name);
		else
			print_value(mib, len + 1, name, k);
	}
	free(kids);
}

/** sysctlnametomib: each component looked up among its parent's children by name (or number). */
static int nametomib(const char *name, int *mib, unsigned *len, struct node *found)
{
	char copy[256];
	snprintf(copy, sizeof copy, "%s", name);
	*len = 0;
	for (char *part = strtok(copy, "."); part != NULL; part = strtok(NULL, ".")) {
		struct node *kids;
		size_t n;
		int e = query(mib, *len, &kids, &n);
		if (e != 0)
			return e;
		char *end;
		long num = strtol(part, &end, 10);
		bool numeric = *part != '\0' && *end == '\0';
		size_t i = 0;
		while (i < n && !(numeric ? kids[i].num == num : strcmp(kids[i].name, part) == 0))
			i++;
		if (i == n) {
			free(kids);
			return NETBSD_ENOENT;
		}
		mib[(*len)++] = kids[i].num;
		*found = kids[i];
		free(kids);
	}
	return 0;
}

int main(int argc, char **argv)
{
	init_or_die("sysctl");
	int mib[CTL_MAXNAME];
	walk(mib, 0, "");
	CHECK(nodes > 100 && values > 50, "only %d nodes and %d values", nodes, values);
	printf("walk ok: %d nodes, %d values\n", nodes, values);

	for (int i = 1; i < argc; i++) {
		unsigned len;
		struct node n;
		memset(&n, 0, sizeof n);
		int e = nametomib(argv[i], mib, &len, &n);
		if (e != 0) {
			printf("nametomib %s: errno %d\n", argv[i], e);
			continue;
		}
		printf("nametomib %s =", argv[i]);
		for (unsigned j = 0; j < len; j++)
			printf("%s%d", j ? "." : " ", mib[j]);
		printf(" (type %u)\n", n.flags & 0xf);
		if ((n.flags & 0xf) != CTLTYPE_NODE)
			print_value(mib, len, argv[i], &n);
	}

	/* CTL_DESCRIBE of the top level: one record per node, empty descriptions */
	int d[1] = { CTL_DESCRIBE };
	size_t size = 0;
	CHECK(sysctl_raw(d, 1, NULL, &size, NULL, 0) == 0, "CTL_DESCRIBE size");
	printf("describe ok: %zu bytes\n", size);
	return 0;
}
