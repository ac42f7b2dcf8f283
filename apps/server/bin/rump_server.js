#!/usr/bin/env node
// rump_server: see launch.js and ../src/rump_server.ts.
import { launch } from "./launch.js"

await launch("rump_server", "rump_server.js")
