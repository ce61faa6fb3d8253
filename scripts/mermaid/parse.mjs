// Parses each Mermaid file named on the command line with Mermaid's own parser (under a
// jsdom window, as Mermaid expects a browser); prints `ok FILE: TYPE` or `FAIL FILE: why`
// for each and exits 1 if any failed. Used by tests/engine/timeline.rs.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const parsed = await mermaid.parse(readFileSync(file, "utf8"));
    console.log(`ok ${file}: ${parsed.diagramType}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${file}: ${String(e?.message ?? e)}`);
  }
}
process.exit(failed ? 1 : 0);
