import { assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { makeGuest, O_RDONLY } from "./VfsGuest.ts"

const USER = 1
const BIG = 0x8000_0000n

/** A guest with /tmp/f, a symbolic link /tmp/l to it, /tmp/f open; the paths, an attribute name and a buffer in its memory. */
const fileAndLink = Effect.gen(function*() {
  const g = yield* makeGuest()
  yield* g.writeFile("/tmp/f", "x")
  yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
  const fd = yield* g.open("/tmp/f", O_RDONLY)
  return { g, fd, f: g.str("/tmp/f"), l: g.str("/tmp/l"), name: g.str("user.test"), buf: g.buf(64) }
})

describe("extattr_* on tmpfs", () => {
  it.effect("every call reaches the file system, which has none: EOPNOTSUPP, for files, links, descriptors", () =>
    Effect.gen(function*() {
      const { buf, f, fd, g, l, name } = yield* fileAndLink
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_set_file, f, USER, name, buf, 4)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_file, f, USER, name, buf, 64)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_file, f, USER, name, 0, 0)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_delete_file, f, USER, name)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_list_file, f, USER, buf, 64)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_set_link, l, USER, name, buf, 4)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_link, l, USER, name, buf, 64)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_delete_link, l, USER, name)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_list_link, l, USER, 0, 0)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_set_fd, fd, USER, name, buf, 4)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_fd, fd, USER, name, buf, 64)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_delete_fd, fd, USER, name)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_list_fd, fd, USER, buf, 64)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattrctl, g.str("/tmp"), 1, 0, USER, name)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattrctl, g.str("/tmp"), 1, f, USER, 0)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_file, g.str("/dev/null"), USER, name, buf, 64)
    }))

  it.effect("the syscall's own checks come first: the name (EFAULT, ENAMETOOLONG), then the node, then the length", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      const f = g.str("/tmp/f")
      const name = g.str("user.test")
      yield* g.fails(Errno.EFAULT, SYS.extattr_get_file, g.str("/nope"), USER, 0x10n, 0, 0)
      yield* g.fails(Errno.ENAMETOOLONG, SYS.extattr_get_file, g.str("/nope"), USER, g.str("n".repeat(511)), 0, 0)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_file, f, USER, g.str("n".repeat(510)), 0, 0)
      yield* g.fails(Errno.ENOENT, SYS.extattr_get_file, g.str("/nope"), USER, name, 0, 0)
      yield* g.fails(Errno.EBADF, SYS.extattr_get_fd, 99, USER, name, 0, 0)
      yield* g.fails(Errno.EINVAL, SYS.extattr_get_file, f, USER, name, g.buf(8), BIG)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.extattr_get_file, f, USER, name, 0, BIG)
      yield* g.fails(Errno.EINVAL, SYS.extattr_set_file, f, USER, name, 0, BIG)
      yield* g.fails(Errno.EINVAL, SYS.extattr_list_file, f, USER, g.buf(8), BIG)
      const fds = g.buf(8)
      yield* g.ok(SYS.pipe2, fds, 0)
      yield* g.fails(Errno.EINVAL, SYS.extattr_list_fd, new DataView(g.bytes(fds, 4).slice().buffer).getInt32(0, true), USER, 0, 0)
    }))
})

describe("*xattr on tmpfs", () => {
  it.effect("answer ENOTSUP where the extattr calls say EOPNOTSUPP; their own errors are unchanged", () =>
    Effect.gen(function*() {
      const { buf, f, fd, g, l, name } = yield* fileAndLink
      for (const flags of [0, 1, 2]) yield* g.fails(Errno.ENOTSUP, SYS.setxattr, f, name, buf, 4, flags)
      yield* g.fails(Errno.ENOTSUP, SYS.lsetxattr, l, name, buf, 4, 0)
      yield* g.fails(Errno.ENOTSUP, SYS.fsetxattr, fd, name, buf, 4, 0)
      yield* g.fails(Errno.ENOTSUP, SYS.getxattr, f, name, buf, 64)
      yield* g.fails(Errno.ENOTSUP, SYS.lgetxattr, l, name, 0, 0)
      yield* g.fails(Errno.ENOTSUP, SYS.fgetxattr, fd, name, buf, 64)
      yield* g.fails(Errno.ENOTSUP, SYS.listxattr, f, buf, 64)
      yield* g.fails(Errno.ENOTSUP, SYS.llistxattr, l, 0, 0)
      yield* g.fails(Errno.ENOTSUP, SYS.flistxattr, fd, buf, 64)
      yield* g.fails(Errno.ENOTSUP, SYS.removexattr, f, name)
      yield* g.fails(Errno.ENOTSUP, SYS.lremovexattr, l, name)
      yield* g.fails(Errno.ENOTSUP, SYS.fremovexattr, fd, name)
      yield* g.fails(Errno.ENOENT, SYS.getxattr, g.str("/nope"), name, 0, 0)
      yield* g.fails(Errno.EBADF, SYS.fremovexattr, 99, name)
      yield* g.fails(Errno.EINVAL, SYS.setxattr, f, name, buf, BIG, 0)
      yield* g.fails(Errno.ENOTSUP, SYS.setxattr, f, name, buf, BIG, 1)
      assert.notStrictEqual(Errno.ENOTSUP, Errno.EOPNOTSUPP)
    }))
})
