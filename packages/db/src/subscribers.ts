import type { Database } from './client.js';

export interface SubscriberWindow {
  id: string;
  /** When the person last messaged the Page: Meta's 24-hour standard window runs from here. */
  lastUserMessageAt: Date | null;
}

/** The subscriber known on `pageId` by `psid`, with what the standard-window check needs; null when unknown. */
export function findSubscriberWindow(db: Database, pageId: string, psid: string): Promise<SubscriberWindow | null> {
  return db.prisma.subscriber.findUnique({ where: { pageId_psid: { pageId, psid } }, select: { id: true, lastUserMessageAt: true } });
}
