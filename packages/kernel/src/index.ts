export { Args, packArgs } from "./abi/Args.ts"
export * from "./Kernel.ts"
export * from "./KernelConfig.ts"
