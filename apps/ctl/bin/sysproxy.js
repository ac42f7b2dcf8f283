#!/bin/sh
':' //; p=$(readlink -f -- "$0" 2>/dev/null || echo "$0"); n="${p%/*}/../../../node_modules/.bin/node"; [ -x "$n" ] || n=node; exec "$n" "$p" "$@"
// sysproxy: see @sysproxy/launch (the line above: sh runs the pinned Node on this file) and ../src/main.ts.
import { launch } from "@sysproxy/launch"

await launch("sysproxy", new URL("../dist/bundle/sysproxy.js", import.meta.url))
