#!/usr/bin/env node
// sysproxy: see @sysproxy/launch and ../src/main.ts.
import { launch } from "@sysproxy/launch"

await launch("sysproxy", new URL("../dist/main.js", import.meta.url))
