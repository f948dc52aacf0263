import type { Command } from '../command.js';
import { campaignCommands } from './campaigns.js';
import { deadLetterCommands } from './dead-letters.js';
import { eventCommands } from './events.js';
import { maintenanceCommands } from './maintenance.js';
import { optInCommands } from './optins.js';
import { pageCommands } from './pages.js';
import { retentionCommands } from './retention.js';
import { subscriberCommands } from './subscribers.js';
import { webhookCommands } from './webhooks.js';

/** Every command, in the order `renotify --help` lists them. */
export const commands: Command[] = [
  ...pageCommands,
  ...subscriberCommands,
  ...optInCommands,
  ...eventCommands,
  ...deadLetterCommands,
  ...campaignCommands,
  ...webhookCommands,
  ...retentionCommands,
  ...maintenanceCommands,
];
