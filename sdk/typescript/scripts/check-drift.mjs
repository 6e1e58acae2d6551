// Fails when src/schema.d.ts is not what openapi-typescript makes of docs/openapi.json today,
// i.e. when someone changed the API document without running `make sdk`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "gatehouse-sdk-drift-"));
try {
  const fresh = join(dir, "schema.d.ts");
  execFileSync(join(root, "node_modules/.bin/openapi-typescript"), ["../../docs/openapi.json", "-o", fresh], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (readFileSync(fresh, "utf8") !== readFileSync(join(root, "src/schema.d.ts"), "utf8")) {
    console.error("sdk/typescript/src/schema.d.ts is out of date with docs/openapi.json: run `make sdk` and commit the result");
    process.exit(1);
  }
  console.log("sdk/typescript: src/schema.d.ts matches docs/openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
