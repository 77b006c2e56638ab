#!/usr/bin/env node
// The `chainmail` command. The workspace runs its TypeScript directly (no build step),
// so register tsx's loader before loading the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
