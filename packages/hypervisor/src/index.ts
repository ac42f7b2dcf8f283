export * from "./Errors.ts"
export * from "./Hypervisor.ts"
export * from "./LocalMemory.ts"
export * from "./UserMemory.ts"
