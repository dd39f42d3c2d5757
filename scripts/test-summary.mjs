// Prints one plain line, `N passed, N failed` (skipped tests on the line before it), counted from the vitest JSON reports
// every package wrote to .vitest/results.json in this run. Exits 1 when a test failed or no
// test ran at all.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
let passed = 0
let failed = 0
let skipped = 0
const perPackage = []
for (const group of ["packages", "apps", "bench", "deploy", "test"]) {
  const dir = join(root, group)
  if (!existsSync(dir)) continue
  const candidates =
    group === "bench" || group === "deploy" ? [dir] : readdirSync(dir).map((name) => join(dir, name))
  for (const pkg of candidates) {
    const file = join(pkg, ".vitest", "results.json")
    if (!existsSync(file)) continue
    const report = JSON.parse(readFileSync(file, "utf8"))
    passed += report.numPassedTests
    failed += report.numFailedTests + filesThatFailedToRun(report)
    skipped += report.numPendingTests + report.numTodoTests
    perPackage.push(
      `${pkg.slice(root.length)}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`
    )
  }
}

// A test file that fails to load has no failed test, only a failed file: count it as one failure.
function filesThatFailedToRun(report) {
  return report.testResults.filter(
    (r) => r.status === "failed" && !r.assertionResults.some((a) => a.status === "failed")
  ).length
}

for (const line of perPackage) console.log(`  ${line}`)
console.log(`  (${skipped} skipped)`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
