export { buildSandbox, type Sandbox, type SandboxOptions } from './app.js';
export {
  DEMO_PAGE,
  DEMO_USER_PSID,
  SandboxState,
  type AcceptedMessage,
  type CooldownPolicy,
  type FaultSettings,
  type OneTimeToken,
  type PageRecord,
  type RecurringToken,
  type UserRecord,
} from './state.js';
export { userActionSchema, type UserAction, type WebhookDelivery } from './webhooks.js';
export { toMetaJson, signBody } from './meta-json.js';
export { RECEIVER_PREFIX, type ReceivedRequest } from './receiver.js';
