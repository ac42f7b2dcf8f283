#!/bin/sh
':' //; p=$(readlink -f -- "$0" 2>/dev/null || echo "$0"); n="${p%/*}/../../../node_modules/.bin/node"; [ -x "$n" ] || n=node; exec "$n" "$p" "$@"
// rump_server: see @sysproxy/launch (the line above: sh runs the pinned Node on this file) and ../src/rump_server.ts.
import { launch } from "@sysproxy/launch"

await launch("rump_server", new URL("../dist/bundle/rump_server.js", import.meta.url))
