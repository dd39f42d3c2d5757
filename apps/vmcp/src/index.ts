export * from "./Commands.ts"
export * from "./Config.ts"
