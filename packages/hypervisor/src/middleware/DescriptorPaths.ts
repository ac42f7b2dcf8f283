/**
 * What a kernel can say about its descriptors: the name of the file a
 * process's descriptor is open on. Optional: middleware over a kernel that
 * does not provide it matches paths only where a call names one (open's
 * path), not where it names a descriptor (write's fd).
 */
import { Context } from "effect"

export interface DescriptorPathsService {
  /** The file's current absolute name, or undefined (no such descriptor, not a file, or unlinked). */
  readonly pathOf: (pid: number, fd: number) => string | undefined
}

export class DescriptorPaths extends Context.Service<DescriptorPaths, DescriptorPathsService>()(
  "@sysproxy/hypervisor/DescriptorPaths"
) {}
