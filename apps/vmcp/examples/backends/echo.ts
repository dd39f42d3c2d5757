/** Example backend: says back what it is told. `node echo.ts` speaks MCP on stdio. */
import { serveTools } from "./serve.ts"

serveTools("echo", [
  {
    name: "echo",
    description: "Answers with the text it was given",
    properties: { text: { type: "string", description: "what to say back" } },
    run: (args) => String(args.text ?? "")
  },
  {
    name: "shout",
    description: "Answers with the text it was given, in capitals",
    properties: { text: { type: "string", description: "what to shout back" } },
    run: (args) => String(args.text ?? "").toUpperCase()
  }
])
