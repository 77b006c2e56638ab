// Builds the timeline page into dist/ui: one esbuild bundle of ui/timeline.ts with the
// protocol package's own code in it (the badge runs the same verifier as tail and the
// audit), plus the page and its stylesheet. Nothing is fetched from a CDN at run time.
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist/ui");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, "ui/timeline.ts")],
  outfile: path.join(out, "timeline.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  inject: [path.join(root, "ui/buffer-shim.ts")],
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) copyFileSync(path.join(root, "ui", file), path.join(out, file));
