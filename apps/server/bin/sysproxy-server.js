#!/bin/sh
':' //; p=$(readlink -f -- "$0" 2>/dev/null || echo "$0"); n="${p%/*}/../../../node_modules/.bin/node"; [ -x "$n" ] || n=node; exec "$n" "$p" "$@"
// sysproxy-server: see @sysproxy/launch (the line above: sh runs the pinned Node on this file) and ../src/main.ts.
import { launch } from "@sysproxy/launch"

await launch("sysproxy-server", new URL("../dist/bundle/sysproxy-server.js", import.meta.url))
