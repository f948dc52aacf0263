import { z } from 'zod';

/** Meta's delivery and read receipts over a source's SENT deliveries (#15); rates are over SENT, null before any. */
export const receiptCountsSchema = z
  .object({
    sent: z.number().int(),
    delivered: z.number().int().describe("SENT deliveries Meta reported delivered (message_deliveries; a read implies it)"),
    read: z.number().int().describe('SENT deliveries Meta reported read (message_reads)'),
    deliveredRate: z.number().nullable().describe('delivered / sent, 4 decimals; null when nothing was sent'),
    readRate: z.number().nullable().describe('read / sent, 4 decimals; null when nothing was sent'),
  })
  .meta({ id: 'ReceiptCounts' });
