/**
 * `sysctl sysproxy.inject`: the fault rules in force, as one line of text
 * (`rule; rule`, so sysctl -a stays one node a line), at the server's own
 * sysctl node (CTL_SYSPROXY). Root in the kernel writes a new set the same
 * way, or one rule a line (an empty string clears them), so a test
 * can arm a fault at the moment it wants (`sysproxy inject`). A set with a
 * bad rule is refused whole (EINVAL) and the rules stay as they were. The
 * node exists only when the server runs with fault injection (--inject);
 * otherwise the tree is exactly the rump kernel's.
 */
import { type FaultInjectionService, type FaultRuleError, formatRuleList, parseRuleList } from "@sysproxy/hypervisor"
import { CTL_SYSPROXY, type SysctlExtraNode } from "@sysproxy/kernel"

/** The most bytes the node's text may have, its NUL included. */
export const INJECT_TEXT_SIZE = 16384

/**
 * The node, reading and writing through `faults()` (the service exists
 * once the kernel is wrapped, before any client can ask); `changed` hears
 * of every write, taken or refused.
 */
export const injectNode = (
  faults: () => FaultInjectionService | undefined,
  changed: (rules: ReadonlyArray<string>, refused: FaultRuleError | undefined) => void
): SysctlExtraNode => ({
  name: "sysproxy",
  num: CTL_SYSPROXY,
  children: [{
    name: "inject",
    type: "string",
    size: INJECT_TEXT_SIZE,
    read: () => formatRuleList(faults()?.list() ?? []),
    write: (text) => {
      const service = faults()
      if (service === undefined) return false
      const rules = parseRuleList(text)
      const refused = service.trySet(rules)
      changed(refused === undefined ? service.list() : rules, refused)
      return refused === undefined
    }
  }]
})
