// The list of test projects. Vitest 5 no longer reads this file by itself:
// the root vitest.config.ts imports it, so this stays the single list.
export const projects = ["packages/*", "apps/*", "interop", "soak"]
export default projects
