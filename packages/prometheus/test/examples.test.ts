import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { publishWithMetrics } from "../examples/effect.ts"
import { startWithMetrics } from "../examples/promise.ts"
import { github, parseExposition, settle, status } from "./fixtures.ts"

const scrape = (url: string) =>
  fetch(url)
    .then((r) => r.text())
    .then(parseExposition)

const phaseOf = (samples: Awaited<ReturnType<typeof scrape>>) =>
  samples.find((s) => s.name === "vmcp_phase" && s.value === 1)?.labels.phase

describe("README examples", () => {
  it.effect("Effect form: serves the phase and the reporter's own outcomes", () =>
    Effect.gen(function* () {
      const { url, update } = yield* publishWithMetrics(0)
      yield* update(status([github("healthy")]))
      yield* settle
      const samples = yield* Effect.promise(() => scrape(url))
      assert.strictEqual(phaseOf(samples), "Ready")
      const written = samples.find(
        (s) =>
          s.name === "vmcp_reports_total" &&
          s.labels.reporter === "prometheus" &&
          s.labels.outcome === "written"
      )
      assert.deepStrictEqual(written?.labels, { vmcp: "my-vmcp", reporter: "prometheus", outcome: "written" })
      assert.strictEqual(written?.value, 1)
    })
  )

  it("Promise form: serves the phase once the publisher has reported", async () => {
    const running = await startWithMetrics(0)
    try {
      running.update(status([github("healthy")]))
      // The reporter runs on its own fiber: scrape until it has (each scrape is a real round trip).
      let phase: string | undefined
      for (let i = 0; i < 100 && phase !== "Ready"; i++) phase = phaseOf(await scrape(running.url))
      assert.strictEqual(phase, "Ready")
    } finally {
      await running.stop()
    }
  })

  it("are the code the README shows", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    for (const file of ["promise.ts", "effect.ts"])
      assert.include(readme, readFileSync(new URL(`../examples/${file}`, import.meta.url), "utf8"), file)
  })
})
