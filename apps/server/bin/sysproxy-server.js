#!/usr/bin/env node
// sysproxy-server: see @sysproxy/launch and ../src/main.ts.
import { launch } from "@sysproxy/launch"

await launch("sysproxy-server", new URL("../dist/main.js", import.meta.url))
