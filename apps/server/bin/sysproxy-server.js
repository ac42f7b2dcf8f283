#!/usr/bin/env node
// sysproxy-server: see launch.js and ../src/main.ts.
import { launch } from "./launch.js"

await launch("sysproxy-server", "main.js")
