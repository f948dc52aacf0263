export { startWorker, type RunningWorker } from './server.js';
export { createWorkerDeps, closeWorkerDeps, type WorkerDeps } from './deps.js';
export { processorModules, type ProcessorModule, type JobProcessor } from './queues/index.js';
export { Liveness } from './liveness.js';
