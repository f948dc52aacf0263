export { buildIngestApp } from './app.js';
export { createIngestDeps, closeIngestDeps, type IngestDeps } from './deps.js';
export { startIngest, type RunningIngest } from './server.js';
export { HttpError, parseInput } from './http-errors.js';
