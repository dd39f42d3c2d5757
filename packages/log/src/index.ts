export * from "./Lines.ts"
export * from "./Logger.ts"
export * from "./LogReporter.ts"
