/**
 * `-l library` and `-m module`: NetBSD's rump_server loads rump components
 * (librump*.so) and kernel modules (*.kmod) by these. Ours is one kernel
 * with everything it has built in, so a name of something it has is
 * accepted as is, and any other gets a warning: never a failure, so test
 * scripts written for NetBSD still start a server.
 */

/** Components our kernel always has, by their librump names without "lib" and ".so". */
export const BUILT_IN_COMPONENTS: ReadonlySet<string> = new Set([
  "rump",
  "rumpuser",
  "rumpkern",
  "rumpkern_sysproxy",
  "rumpkern_time",
  "rumpvfs",
  "rumpfs_tmpfs",
  "rumpdev",
  "rumpnet",
  "rumpnet_net",
  "rumpnet_local",
  "rumpnet_netinet",
  "rumpnet_netinet6"
])

/** Kernel modules our kernel always has, by module name. */
export const BUILT_IN_MODULES: ReadonlySet<string> = new Set(["tmpfs", "local", "inet", "inet6"])

/** "/usr/lib/librumpfs_tmpfs.so.0" -> "rumpfs_tmpfs"; "/stand/.../tmpfs.kmod" -> "tmpfs". */
export const componentName = (given: string): string =>
  (given.split("/").pop() ?? given).replace(/^lib(?=rump)/, "").replace(/\.(so(\.\d+)*|a|kmod)$/, "")

/** A warning for a name the kernel does not have, or undefined. */
export const componentWarning = (flag: "-l" | "-m", given: string): string | undefined => {
  const name = componentName(given)
  const known = flag === "-l" ? BUILT_IN_COMPONENTS.has(name) : BUILT_IN_MODULES.has(name) || BUILT_IN_COMPONENTS.has(name)
  return known ? undefined : `${flag} ${given}: not part of this kernel; ignored`
}
