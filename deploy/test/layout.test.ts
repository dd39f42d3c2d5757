import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

it("the deploy folder has its README", () => {
  expect(existsSync(fileURLToPath(new URL("../README.md", import.meta.url)))).toBe(true)
})
