import { readFileSync } from 'node:fs';
import type { Campaign } from '@renotify/client';
import type { Command, Context } from '../command.js';
import { apiEnum, idempotencyHeader, idempotencyOption, jsonOption, listOptions, printList, required, str } from '../command.js';
import { unwrap } from '../client.js';
import { UsageError } from '../errors.js';
import { keyValues } from '../output.js';

const readJsonFile = (path: string) => readFileSync(path, 'utf8');

function describeCampaign(campaign: Campaign): string {
  return keyValues(Object.entries(campaign).filter(([key]) => key !== 'message' && key !== 'variables'));
}

/** --text or --message (JSON): exactly one; the API checks the message's shape and placeholders. */
function messageOf(context: Context) {
  const text = str(context.values, 'text');
  const message = jsonOption(context.values, 'message', readJsonFile);
  if ((text === undefined) === (message === undefined)) throw new UsageError('give either --text <message text> or --message <json|@file>');
  return (text ?? message) as never;
}

/** --cron [--timezone] or --local-time: exactly one. */
function scheduleOf(context: Context) {
  const cron = str(context.values, 'cron');
  const localTime = str(context.values, 'local-time');
  const timezone = str(context.values, 'timezone');
  if ((cron === undefined) === (localTime === undefined)) throw new UsageError('give either --cron "<expression>" or --local-time HH:MM');
  if (localTime !== undefined && timezone !== undefined) throw new UsageError('--timezone goes with --cron; --local-time runs at that hour in each subscriber\'s own zone');
  return cron !== undefined ? { cron, ...(timezone === undefined ? {} : { timezone }) } : { localTime: localTime! };
}

function campaignAction(action: 'pause' | 'resume', summary: string): Command {
  return {
    words: ['campaigns', action],
    summary,
    usage: '<campaignId>',
    examples: [`renotify campaigns ${action} 6f1c2d4e-…-uuid`],
    positionals: ['campaignId'],
    async run(context) {
      const campaign = await unwrap(context.api.POST(`/v1/campaigns/{id}/${action}`, { params: { path: { id: context.args[0]! } } }));
      context.print(campaign, () => `Campaign ${campaign.id} is ${campaign.status}.\n${describeCampaign(campaign)}`);
    },
  };
}

export const campaignCommands: Command[] = [
  {
    words: ['campaigns', 'list'],
    summary: 'List campaigns',
    usage: '[--page <pageId>] [--status active|paused] [--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify campaigns list --page 1234567890 --status active'],
    options: { page: { type: 'string' }, status: { type: 'string' }, ...listOptions },
    async run(context) {
      const query = { pageId: str(context.values, 'page'), status: apiEnum<'ACTIVE' | 'PAUSED'>(context.values, 'status') };
      await printList(
        context,
        (cursor, limit) => unwrap(context.api.GET('/v1/campaigns', { params: { query: { ...query, cursor, limit } } })),
        ['id', 'pageId', 'name', 'topic', 'status', 'nextOccurrenceAt'],
      );
    },
  },
  {
    words: ['campaigns', 'create'],
    summary: 'Create a recurring campaign to the subscribers of a topic',
    usage:
      '--page <pageId> --name <name> --topic <topic> (--text <message text> | --message <json|@file>)\n' +
      '  (--cron "<expression>" [--timezone <IANA zone>] | --local-time HH:MM) [--start-at <ISO time>] [--end-at <ISO time>]\n' +
      '  [--variables <json|@file>] [--defer-ineligible] [--idempotency-key <key>]\n' +
      "  --cron runs in --timezone (default: the Page's zone); --local-time runs at that hour in each subscriber's zone.",
    examples: [
      'renotify campaigns create --page 1234567890 --name "Weekly deals" --topic deals --text "This week: {{deal}}" --variables \'{"deal":"2 for 1"}\' --cron "0 9 * * 1" --timezone Europe/Paris',
      'renotify campaigns create --page 1234567890 --name "Morning digest" --topic digest --message @message.json --local-time 08:30',
    ],
    options: {
      page: { type: 'string' },
      name: { type: 'string' },
      topic: { type: 'string' },
      text: { type: 'string' },
      message: { type: 'string' },
      cron: { type: 'string' },
      timezone: { type: 'string' },
      'local-time': { type: 'string' },
      'start-at': { type: 'string' },
      'end-at': { type: 'string' },
      variables: { type: 'string' },
      'defer-ineligible': { type: 'boolean' },
      ...idempotencyOption,
    },
    async run(context) {
      const { values } = context;
      const campaign = await unwrap(
        context.api.POST('/v1/campaigns', {
          body: {
            pageId: required(context, 'page'),
            name: required(context, 'name'),
            topic: required(context, 'topic'),
            message: messageOf(context),
            schedule: scheduleOf(context),
            variables: jsonOption(values, 'variables', readJsonFile) as never,
            startAt: str(values, 'start-at'),
            endAt: str(values, 'end-at'),
            deferIneligible: values['defer-ineligible'] === true ? true : undefined,
          },
          headers: idempotencyHeader(values),
        }),
      );
      context.print(campaign, () => `Campaign ${campaign.id} created.\n${describeCampaign(campaign)}`);
    },
  },
  campaignAction('pause', 'Pause a campaign: no occurrence runs until it is resumed'),
  campaignAction('resume', 'Resume a paused campaign from its next occurrence'),
  {
    words: ['campaigns', 'run'],
    summary: 'Run a campaign now (one occurrence)',
    usage: '<campaignId>',
    examples: ['renotify campaigns run 6f1c2d4e-…-uuid'],
    positionals: ['campaignId'],
    async run(context) {
      const result = await unwrap(context.api.POST('/v1/campaigns/{id}/run', { params: { path: { id: context.args[0]! } }, body: {} }));
      context.print(result, () => `${result.created ? 'Run started' : 'Run already exists (re-queued)'}: ${result.run.id}\n${keyValues(Object.entries(result.run))}`);
    },
  },
];
