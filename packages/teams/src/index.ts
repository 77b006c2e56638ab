export * from "./deliveries.js";
