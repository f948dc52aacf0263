import { readFileSync } from 'node:fs';
import type { paths } from '@renotify/client';
import type { Command } from '../command.js';
import { apiEnum, idempotencyHeader, idempotencyOption, jsonOption, listOptions, printList, required, requiredEnum, str } from '../command.js';
import { unwrap } from '../client.js';
import { UsageError } from '../errors.js';
import { keyValues } from '../output.js';

type SendBody = paths['/v1/optin-requests']['post']['requestBody']['content']['application/json'];


export const optInCommands: Command[] = [
  {
    words: ['optins', 'list'],
    summary: "List a Page's opt-ins (tokens are shown as fingerprints only)",
    usage: '<pageId> [--topic <topic>] [--kind one_time|recurring] [--status <status>] [--psid <psid>] [--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify optins list 1234567890 --topic back_in_stock:sku-1 --status active --all'],
    positionals: ['pageId'],
    options: { topic: { type: 'string' }, kind: { type: 'string' }, status: { type: 'string' }, psid: { type: 'string' }, ...listOptions },
    async run(context) {
      const { values } = context;
      const query = { topic: str(values, 'topic'), kind: str(values, 'kind'), status: str(values, 'status'), psid: str(values, 'psid') };
      await printList(
        context,
        (cursor, limit) => unwrap(context.api.GET('/v1/pages/{id}/optins', { params: { path: { id: context.args[0]! }, query: { ...query, cursor, limit } } })),
        ['id', 'psid', 'kind', 'topic', 'frequency', 'status', 'tokenFingerprint', 'expiresAt'],
      );
    },
  },
  {
    words: ['optin-requests', 'send'],
    summary: 'Ask a person, through Meta, to opt in to a topic (within 24 h of their last message)',
    usage:
      '--page <pageId> --psid <psid> --kind one-time|recurring --title <title> (--topic <topic> | --subject <json|@file>)\n' +
      '  [--frequency daily|weekly|monthly] [--image-url <url>] [--cta-text allow|get|get-updates|opt-in|sign-up] [--timezone <IANA zone>] [--idempotency-key <key>]\n' +
      '  --subject builds the topic as the API does, e.g. \'{"type":"back_in_stock","productId":"sku-1"}\'; the recurring-only options need --kind recurring.',
    examples: [
      'renotify optin-requests send --page 1234567890 --psid 5551234 --kind one-time --title "Back in stock: Blue mug" --subject \'{"type":"back_in_stock","productId":"sku-1"}\'',
      'renotify optin-requests send --page 1234567890 --psid 5551234 --kind recurring --title "Weekly deals" --topic deals --frequency weekly --idempotency-key deals-5551234',
    ],
    options: {
      page: { type: 'string' },
      psid: { type: 'string' },
      kind: { type: 'string' },
      title: { type: 'string' },
      topic: { type: 'string' },
      subject: { type: 'string' },
      frequency: { type: 'string' },
      'image-url': { type: 'string' },
      'cta-text': { type: 'string' },
      timezone: { type: 'string' },
      ...idempotencyOption,
    },
    async run(context) {
      const { values } = context;
      const topic = str(values, 'topic');
      const subject = jsonOption(values, 'subject', (path) => readFileSync(path, 'utf8'));
      if ((topic === undefined) === (subject === undefined)) throw new UsageError('give either --topic or --subject');
      const sent = await unwrap(
        context.api.POST('/v1/optin-requests', {
          body: {
            pageId: required(context, 'page'),
            psid: required(context, 'psid'),
            kind: requiredEnum<SendBody['kind']>(context, 'kind'),
            title: required(context, 'title'),
            topic,
            // The API validates the subject's shape and answers 400 naming the field.
            subject: subject as never,
            frequency: apiEnum<NonNullable<SendBody['frequency']>>(values, 'frequency'),
            imageUrl: str(values, 'image-url'),
            ctaText: apiEnum<NonNullable<SendBody['ctaText']>>(values, 'cta-text'),
            timezone: str(values, 'timezone'),
          },
          headers: idempotencyHeader(values),
        }),
      );
      context.print(sent, () => `Opt-in request sent to ${sent.psid} (topic ${sent.topic}).\n${keyValues(Object.entries(sent))}`);
    },
  },
];
