#!/usr/bin/env node
import { runCli } from "./Commands.ts"

process.exitCode = await runCli(process.argv.slice(2))
