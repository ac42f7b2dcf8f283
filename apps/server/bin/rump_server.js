#!/usr/bin/env node
// rump_server: see @sysproxy/launch and ../src/rump_server.ts.
import { launch } from "@sysproxy/launch"

await launch("rump_server", new URL("../dist/rump_server.js", import.meta.url))
