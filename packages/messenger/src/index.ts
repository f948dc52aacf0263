export {
  classifyGraphError,
  GraphRequestError,
  type ClassifiableError,
  type FailureClass,
  type FailureKind,
  type GraphApiError,
  type RecipientKind,
} from './errors.js';
export {
  buildOneTimeNotifRequest,
  buildPsidSend,
  buildRecurringOptInRequest,
  buildTextMessage,
  buildTokenSend,
  characterCount,
  recipientKindOf,
  METADATA_MAX_CHARS,
  OPT_IN_TITLE_MAX_CHARS,
  TEXT_MAX_CHARS,
  type ImageAspectRatio,
  type MessageTag,
  type MessagingType,
  type NotificationType,
  type OneTimeNotifRequestInput,
  type OneTimeNotifTemplate,
  type OutgoingMessage,
  type PsidSendInput,
  type Recipient,
  type RecurringCtaText,
  type RecurringFrequency,
  type RecurringOptInRequestInput,
  type RecurringOptInTemplate,
  type SendRequestBody,
  type TemplateMessage,
  type TextMessage,
  type TokenKind,
  type TokenSendInput,
} from './builders.js';
export {
  createGraphClient,
  toDate,
  type GraphClient,
  type GraphClientOptions,
  type GraphResult,
  type ListTokensInput,
  type NotificationMessageTokenInfo,
  type PageAuth,
  type PageCallInput,
  type SendMessageInput,
  type SendOutcome,
  type SubscribedApp,
  type TokenPage,
} from './client.js';
export { appSecretProof, AppSecretProofs } from './appsecret-proof.js';
export { checkGraphVersion, GRAPH_VERSION_EXPIRY, MIN_GRAPH_VERSION, type GraphVersionCheck } from './graph-versions.js';
export {
  QUICK_REPLIES_MAX,
  QUICK_REPLY_CONTENT_TYPES,
  QUICK_REPLY_PAYLOAD_MAX_CHARS,
  QUICK_REPLY_TITLE_MAX_CHARS,
  quickReplySchema,
  sendApiAttachmentSchema,
  sendApiMessageProblems,
  sendApiMessageSchema,
  type SendApiMessage,
} from './message-schema.js';
/** Webhook fields Renotify needs the app subscribed to on each Page (messenger-platform.md §4). */
export const REQUIRED_WEBHOOK_FIELDS = ['messages', 'messaging_optins', 'messaging_postbacks'] as const;
/** Webhook fields for Meta's delivery and read receipts (optional: delivered/read counts need them). */
export const RECEIPT_WEBHOOK_FIELDS = ['message_deliveries', 'message_reads'] as const;
export { signPayload, toMetaJson, verifySignature } from './webhooks/signature.js';
export {
  parseWebhookPayload,
  type CheckboxOptInEvent,
  type MessageDeliveryEvent,
  type MessageEvent,
  type MessageReadEvent,
  type OneTimeOptInEvent,
  type ParsedWebhook,
  type PostbackEvent,
  type RecurringOptInEvent,
  type RecurringStatusEvent,
  type WebhookEntry,
  type WebhookEvent,
  type WebhookReject,
} from './webhooks/parse.js';
export { createOutboundPost, isPrivateAddress, lookupPublicOnly, outboundUrlProblem, OutboundAddressError, type OutboundPost } from './outbound-address.js';
