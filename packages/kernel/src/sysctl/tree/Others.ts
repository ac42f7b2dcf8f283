/**
 * vm (the buffer cache, vfs_bio.c), vfs (generic, sync, namecache_stats,
 * wapbl) and net (the protocol families' nodes) of a rump kernel.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { createv } from "../Create.ts"
import { intData, intVariable, quadData, stringData } from "../Data.ts"
import { CTLTYPE_STRUCT, type SysctlNode } from "../Node.ts"
import { emptyTable } from "./Procs.ts"
import { computed, CTL_CREATE, funcNode, intNode, node, quadNode, RW, stringNode } from "./Spec.ts"

/** BUFCACHE: the percentage of memory the buffer cache may take. */
const BUFCACHE = 15

export const setupVm = (vm: SysctlNode, physmem: number): void => {
  let bufcache = BUFCACHE
  let hiwater = BigInt(Math.floor((physmem * bufcache) / 100))
  let lowater = hiwater / 8n
  createv(vm, computed(intNode("bufcache", CTL_CREATE, intData(() => bufcache, (_ctx, n) => {
    if (n < 0 || n > 100) return Errno.EINVAL
    bufcache = n
    hiwater = BigInt(Math.floor((physmem * n) / 100))
    lowater = hiwater / 8n
  }), RW)))
  createv(vm, quadNode("bufmem", CTL_CREATE, quadData(() => 0n)))
  createv(vm, computed(quadNode("bufmem_lowater", CTL_CREATE, quadData(() => lowater, (_ctx, n) => {
    if (n < 0n || n > hiwater) return Errno.EINVAL
    lowater = n
  }), RW)))
  createv(vm, computed(quadNode("bufmem_hiwater", CTL_CREATE, quadData(() => hiwater, (_ctx, n) => {
    if (n < lowater) return Errno.EINVAL
    hiwater = n
  }), RW)))
}

/** VFS_GENERIC, VFS_USERMOUNT and VFS_MAGICLINKS of sys/mount.h. */
const VFS_GENERIC = 0
const VFS_USERMOUNT = 3
const VFS_MAGICLINKS = 19

export const setupVfs = (vfs: SysctlNode): void => {
  const generic = createv(vfs, node("generic", VFS_GENERIC))
  createv(generic, intNode("usermount", VFS_USERMOUNT, intVariable(0, (n) => n === 0 || n === 1), RW))
  createv(generic, intNode("magiclinks", VFS_MAGICLINKS, intVariable(0), RW))
  createv(generic, computed(stringNode("fstypes", CTL_CREATE, stringData(() => "tmpfs"))))
  const sync = createv(vfs, node("sync", CTL_CREATE))
  createv(sync, intNode("delay", CTL_CREATE, intVariable(30, (n) => n >= 0), RW))
  createv(sync, intNode("filedelay", CTL_CREATE, intVariable(30, (n) => n >= 0), RW))
  createv(sync, intNode("dirdelay", CTL_CREATE, intVariable(15, (n) => n >= 0), RW))
  createv(sync, intNode("metadelay", CTL_CREATE, intVariable(10, (n) => n >= 0), RW))
  createv(vfs, funcNode("namecache_stats", CTL_CREATE, CTLTYPE_STRUCT, emptyTable))
  const wapbl = createv(vfs, node("wapbl", CTL_CREATE))
  createv(wapbl, intNode("flush_disk_cache", CTL_CREATE, intVariable(1), RW))
  createv(wapbl, intNode("verbose_commit", CTL_CREATE, intVariable(0), RW))
}

/** PF_LOCAL, PF_INET, PF_OROUTE, PF_INET6 and PF_ROUTE. */
const FAMILIES: ReadonlyArray<readonly [string, number]> = [
  ["local", 1],
  ["inet", 2],
  ["oroute", 17],
  ["inet6", 24],
  ["route", 34]
]

export const setupNet = (net: SysctlNode): void => {
  for (const [name, num] of FAMILIES) createv(net, node(name, num))
  for (const name of ["sdl", "ether", "interfaces"]) createv(net, node(name, CTL_CREATE))
}
