import type { components } from '@renotify/client';
import type { Command, Context } from '../command.js';
import { listOptions, printList, str } from '../command.js';
import { unwrap } from '../client.js';
import { UsageError } from '../errors.js';
import { keyValues } from '../output.js';

type Subscriber = components['schemas']['SubscriberSummary'];

const subscriberRow = ({ activeTokens, ...subscriber }: Subscriber) => ({ ...subscriber, oneTime: activeTokens.ONE_TIME, recurring: activeTokens.RECURRING });

const target = (context: Context) => ({ path: { id: context.args[0]!, psid: context.args[1]! } });

export const subscriberCommands: Command[] = [
  {
    words: ['subscribers', 'list'],
    summary: "List a Page's subscribers: open 24 h window (who may be asked to opt in now) and active tokens",
    usage: '<pageId> [--window-open] [--topic <topic>] [--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify subscribers list 1234567890 --window-open', 'renotify subscribers list 1234567890 --topic back_in_stock:sku-1 --all --json'],
    positionals: ['pageId'],
    options: { 'window-open': { type: 'boolean' }, topic: { type: 'string' }, ...listOptions },
    async run(context) {
      const query = { windowOpen: context.values['window-open'] === true ? ('true' as const) : undefined, topic: str(context.values, 'topic') };
      await printList(
        context,
        (cursor, limit) => unwrap(context.api.GET('/v1/pages/{id}/subscribers', { params: { path: { id: context.args[0]! }, query: { ...query, cursor, limit } } })),
        ['psid', 'windowEndsAt', 'oneTime', 'recurring', 'timezone', 'locale', 'lastUserMessageAt'],
        subscriberRow,
      );
    },
  },
  {
    words: ['subscribers', 'set'],
    summary: "Set a subscriber's time zone or locale (the zone their quiet hours and local-time campaigns use)",
    usage: '<pageId> <psid> [--timezone <IANA zone>|off] [--locale <locale>|off]',
    examples: ['renotify subscribers set 1234567890 5551234 --timezone America/New_York --locale en_US'],
    positionals: ['pageId', 'psid'],
    options: { timezone: { type: 'string' }, locale: { type: 'string' } },
    async run(context) {
      const clearable = (name: string) => {
        const value = str(context.values, name);
        return value?.toLowerCase() === 'off' ? null : value;
      };
      const body = { timezone: clearable('timezone'), locale: clearable('locale') };
      if (body.timezone === undefined && body.locale === undefined) throw new UsageError('give --timezone and/or --locale');
      const subscriber = await unwrap(context.api.PATCH('/v1/pages/{id}/subscribers/{psid}', { params: target(context), body }));
      context.print(subscriber, () => keyValues(Object.entries(subscriberRow(subscriber))));
    },
  },
  {
    words: ['subscribers', 'stop'],
    summary: "Stop every notification to a person on their behalf: all their tokens STOPPED, waiting deliveries skipped",
    usage: '<pageId> <psid>',
    examples: ['renotify subscribers stop 1234567890 5551234'],
    positionals: ['pageId', 'psid'],
    async run(context) {
      const result = await unwrap(context.api.POST('/v1/pages/{id}/subscribers/{psid}/stop', { params: target(context) }));
      context.print(result, () => `Stopped ${result.stoppedTokens} token(s) of ${context.args[1]}; ${result.skippedDeliveries} waiting delivery(ies) skipped.\n`);
    },
  },
  {
    words: ['subscribers', 'erase'],
    summary: 'Erase a person (GDPR): tokens, PSID and personal fields of their deliveries; anonymous counts stay. Cannot be undone',
    usage: '<pageId> <psid> --yes   (--yes confirms; erasing again is a no-op)',
    examples: ['renotify subscribers erase 1234567890 5551234 --yes'],
    positionals: ['pageId', 'psid'],
    options: { yes: { type: 'boolean' } },
    async run(context) {
      if (context.values.yes !== true) throw new UsageError(`erasing ${context.args[1]} cannot be undone: add --yes to confirm`);
      await unwrap(context.api.DELETE('/v1/pages/{id}/subscribers/{psid}', { params: target(context) }));
      context.print({ erased: true, pageId: context.args[0], psid: context.args[1] }, () => `Erased ${context.args[1]} from Page ${context.args[0]}.\n`);
    },
  },
];
