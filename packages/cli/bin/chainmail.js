#!/usr/bin/env node
// The `chainmail` command: the compiled CLI. This file exists before the build so that
// pnpm links the command at install time, which it skips for a bin missing from disk.
import "../dist/main.js";
