/**
 * The kernel's series beside the server's: processes, lwps, open files, and
 * the syscalls it does not implement, by number (read from Kernel.stats()
 * at scrape time; a number seen for the first time gets its series then).
 */
import type { KernelService } from "@sysproxy/kernel"
import { SyscallByNumber } from "@sysproxy/protocol/netbsd"
import type { ServerMetrics } from "@sysproxy/server"

/** Registers the kernel's series; call the returned function before each scrape. */
export const watchKernel = (metrics: ServerMetrics, kernel: KernelService): () => void => {
  metrics.gauge("sysproxy_kernel_processes", "guest processes", {}, () => kernel.stats().processes)
  metrics.gauge("sysproxy_kernel_lwps", "lwps (one per syscall in the kernel)", {}, () => kernel.stats().lwps)
  metrics.gauge("sysproxy_kernel_open_files", "open files", {}, () => kernel.stats().openFiles)
  const known = new Set<number>()
  return () => {
    for (const number of kernel.stats().unimplemented.keys()) {
      if (known.has(number)) continue
      known.add(number)
      metrics.counter(
        "sysproxy_unimplemented_syscalls_total",
        "syscalls requested that the kernel does not implement (ENOSYS), by number (512: any above 511)",
        { number: String(number), syscall: SyscallByNumber.get(number)?.name ?? "unknown" },
        () => kernel.stats().unimplemented.get(number) ?? 0
      )
    }
  }
}
