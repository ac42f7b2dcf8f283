/** Test doubles for the server/kernel seam: an in-memory kernel behind the Hypervisor service. */
export * as TestHypervisor from "./TestHypervisor.ts"
export { packArgs } from "./SyscallArgs.ts"
export * from "./TestKernel.ts"
export * from "./Rng.ts"
