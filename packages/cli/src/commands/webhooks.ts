import type { components, paths } from '@renotify/client';
import type { Command } from '../command.js';
import { apiEnum, idempotencyHeader, idempotencyOption, listOptions, printList, required, str } from '../command.js';
import { unwrap } from '../client.js';
import { keyValues } from '../output.js';

type EventType = paths['/v1/webhook-endpoints']['post']['requestBody']['content']['application/json']['events'][number];
type MessageStatus = 'PENDING' | 'SENT' | 'DEAD';

const endpointColumns = ['id', 'pageId', 'url', 'events', 'enabled', 'description'];
const endpointRow = (endpoint: components['schemas']['WebhookEndpoint']) => ({ ...endpoint, events: endpoint.events.join(',') });

export const webhookCommands: Command[] = [
  {
    words: ['webhooks', 'list'],
    summary: 'List outbound webhook endpoints (where Renotify posts delivery, opt-in and message events)',
    usage: '[--page <pageId>] [--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify webhooks list --page 1234567890'],
    options: { page: { type: 'string' }, ...listOptions },
    async run(context) {
      const pageId = str(context.values, 'page');
      await printList(context, (cursor, limit) => unwrap(context.api.GET('/v1/webhook-endpoints', { params: { query: { pageId, cursor, limit } } })), endpointColumns, endpointRow);
    },
  },
  {
    words: ['webhooks', 'add'],
    summary: "Add an endpoint to a Page; the answer shows its signing secret once (Standard Webhooks)",
    usage: '--page <pageId> --endpoint-url <https url> --events <type,type,...> [--description <text>] [--secret whsec_…] [--idempotency-key <key>]',
    examples: ['renotify webhooks add --page 1234567890 --endpoint-url https://shop.example/hooks/renotify --events delivery.sent,delivery.dead,optin.created'],
    options: { page: { type: 'string' }, 'endpoint-url': { type: 'string' }, events: { type: 'string' }, description: { type: 'string' }, secret: { type: 'string' }, ...idempotencyOption },
    async run(context) {
      const { values } = context;
      const events = required(context, 'events').split(',').map((event) => event.trim()).filter(Boolean) as EventType[];
      const endpoint = await unwrap(
        context.api.POST('/v1/webhook-endpoints', {
          body: { pageId: required(context, 'page'), url: required(context, 'endpoint-url'), events, description: str(values, 'description'), secret: str(values, 'secret') },
          headers: idempotencyHeader(values),
        }),
      );
      context.print(endpoint, () => `Endpoint ${endpoint.id} added. Keep its signing secret: it is not shown again.\n${keyValues(Object.entries(endpointRow(endpoint)))}`);
    },
  },
  {
    words: ['webhooks', 'remove'],
    summary: 'Delete an endpoint and its messages',
    usage: '<endpointId>',
    examples: ['renotify webhooks remove 0b7c…-uuid'],
    positionals: ['endpointId'],
    async run(context) {
      await unwrap(context.api.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id: context.args[0]! } } }));
      context.print({ removed: true, id: context.args[0] }, () => `Endpoint ${context.args[0]} removed.\n`);
    },
  },
  {
    words: ['webhooks', 'messages'],
    summary: "List an endpoint's messages (its outbox), newest first",
    usage: '<endpointId> [--status pending|sent|dead] [--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify webhooks messages 0b7c…-uuid --status dead'],
    positionals: ['endpointId'],
    options: { status: { type: 'string' }, ...listOptions },
    async run(context) {
      const status = apiEnum<MessageStatus>(context.values, 'status');
      await printList(
        context,
        (cursor, limit) => unwrap(context.api.GET('/v1/webhook-endpoints/{id}/messages', { params: { path: { id: context.args[0]! }, query: { status, cursor, limit } } })),
        ['id', 'eventType', 'status', 'attempts', 'lastStatusCode', 'lastError', 'nextAttemptAt', 'createdAt'],
      );
    },
  },
  {
    words: ['webhooks', 'redrive'],
    summary: "Send an endpoint's DEAD messages again, with a fresh attempt budget",
    usage: '<endpointId>',
    examples: ['renotify webhooks redrive 0b7c…-uuid'],
    positionals: ['endpointId'],
    async run(context) {
      const result = await unwrap(context.api.POST('/v1/webhook-endpoints/{id}/redrive', { params: { path: { id: context.args[0]! } }, body: {} }));
      context.print(result, () => `Redrove ${result.redriven} dead message(s) of endpoint ${context.args[0]}.\n`);
    },
  },
];
