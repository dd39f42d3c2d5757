export * from "./MetricsHandler.ts"
export * from "./PrometheusReporter.ts"
