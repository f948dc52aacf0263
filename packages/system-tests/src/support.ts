// The stacks a system test starts (sandbox as Meta + ingest + worker on private Redis/Postgres) are shared with
// the worker's own tests, so they stay in apps/worker/src/test-support; this file is the one door to them here.
export * from '../../../apps/worker/src/test-support/stack.js';
export * from '../../../apps/worker/src/test-support/webhook-stack.js';
export { WorkerRoute } from '../../../apps/worker/src/metrics/routes.js';
// The reconciliation scheduler, for the opt-in request system test that checks the all-Pages run it installs.
export { RECONCILE_SCHEDULER_ID, scheduleReconciliation } from '../../../apps/worker/src/queues/webhooks/reconcile.js';
