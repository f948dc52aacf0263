import { z } from 'zod';
import { characterCount, METADATA_MAX_CHARS, OPT_IN_TITLE_MAX_CHARS, TEXT_MAX_CHARS } from './builders.js';

/**
 * The Send API `message` object (messenger-platform.md §3 "Body"), as Meta refuses it with code 100. Ingest
 * parses campaign and event messages with it so a malformed message is a 400 at creation, not a code 100 for
 * every recipient at send time. Limits are Meta's documented ones (text 2,000, quick replies 13 with titles of 20,
 * button template text 640, generic elements 10 with titles of 80, buttons 3, attachments 30, metadata 1,000);
 * unknown keys are kept so fields Meta adds later still pass.
 */

const maxChars = (max: number) =>
  z.string().refine((value) => characterCount(value) <= max, { message: `must be at most ${max} characters` });
const nonEmptyMaxChars = (max: number) => maxChars(max).refine((value) => value.length > 0, { message: 'must not be empty' });

export const QUICK_REPLY_CONTENT_TYPES = ['text', 'user_phone_number', 'user_email'] as const;
export const QUICK_REPLY_TITLE_MAX_CHARS = 20;
export const QUICK_REPLY_PAYLOAD_MAX_CHARS = 1000;
export const QUICK_REPLIES_MAX = 13;

export const quickReplySchema = z
  .looseObject({
    content_type: z.enum(QUICK_REPLY_CONTENT_TYPES),
    title: nonEmptyMaxChars(QUICK_REPLY_TITLE_MAX_CHARS).optional(),
    payload: z.union([maxChars(QUICK_REPLY_PAYLOAD_MAX_CHARS), z.number()]).optional(),
    image_url: z.url().optional(),
  })
  .superRefine((reply, ctx) => {
    // A text quick reply is a button: Meta needs its label and the payload it posts back.
    if (reply.content_type !== 'text') return;
    if (reply.title === undefined && reply.image_url === undefined) ctx.addIssue({ code: 'custom', path: ['title'], message: 'is required for a text quick reply' });
    if (reply.payload === undefined) ctx.addIssue({ code: 'custom', path: ['payload'], message: 'is required for a text quick reply' });
  });

const buttonSchema = z.looseObject({ type: z.string().min(1) });

const mediaPayloadSchema = z
  .looseObject({ url: z.url().optional(), attachment_id: z.string().min(1).optional(), is_reusable: z.boolean().optional() })
  .refine((payload) => payload.url !== undefined || payload.attachment_id !== undefined, { message: 'needs a url or an attachment_id' });

const mediaAttachmentSchema = z.looseObject({ type: z.enum(['image', 'audio', 'video', 'file']), payload: mediaPayloadSchema });

const oneTimeNotifTemplate = z.looseObject({
  template_type: z.literal('one_time_notif_req'),
  title: nonEmptyMaxChars(OPT_IN_TITLE_MAX_CHARS),
  payload: z.string().min(1),
});

const frequency = z.enum(['DAILY', 'WEEKLY', 'MONTHLY']);
const recurringTemplate = z
  .looseObject({
    template_type: z.literal('notification_messages'),
    payload: z.string().min(1).optional(),
    title: nonEmptyMaxChars(OPT_IN_TITLE_MAX_CHARS).optional(),
    image_url: z.url().optional(),
    image_aspect_ratio: z.enum(['HORIZONTAL', 'SQUARE']).optional(),
    notification_messages_frequency: frequency.optional(),
    notification_messages_reoptin: z.enum(['ENABLED', 'DISABLED']).optional(),
    notification_messages_timezone: z.string().min(1).optional(),
    notification_messages_cta_text: z.enum(['ALLOW', 'GET', 'GET_UPDATES', 'OPT_IN', 'SIGN_UP']).optional(),
    elements: z
      .array(z.looseObject({ title: nonEmptyMaxChars(OPT_IN_TITLE_MAX_CHARS).optional(), image_url: z.url().optional(), payload: z.string().min(1), notification_messages_frequency: frequency }))
      .min(1)
      .max(5)
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.elements && value.title === undefined) ctx.addIssue({ code: 'custom', path: ['title'], message: 'is required with elements' });
    if (!value.elements && value.payload === undefined) ctx.addIssue({ code: 'custom', path: ['payload'], message: 'is required' });
  });

const genericTemplate = z.looseObject({
  template_type: z.literal('generic'),
  elements: z
    .array(
      z.looseObject({
        title: nonEmptyMaxChars(80),
        subtitle: maxChars(80).optional(),
        image_url: z.url().optional(),
        buttons: z.array(buttonSchema).max(3).optional(),
      }),
    )
    .min(1)
    .max(10),
});

const buttonTemplate = z.looseObject({
  template_type: z.literal('button'),
  text: nonEmptyMaxChars(640),
  buttons: z.array(buttonSchema).min(1).max(3),
});

const KNOWN_TEMPLATES: Record<string, z.ZodType> = {
  one_time_notif_req: oneTimeNotifTemplate,
  notification_messages: recurringTemplate,
  generic: genericTemplate,
  button: buttonTemplate,
};

/** Templates Renotify knows are checked in full; any other `template_type` passes (Meta has many), a missing one does not. */
const templatePayloadSchema = z.looseObject({ template_type: z.string().min(1) }).superRefine((payload, ctx) => {
  const known = KNOWN_TEMPLATES[payload.template_type];
  if (!known) return;
  const result = known.safeParse(payload);
  if (result.success) return;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
});

const templateAttachmentSchema = z.looseObject({ type: z.literal('template'), payload: templatePayloadSchema });

export const sendApiAttachmentSchema = z.discriminatedUnion('type', [mediaAttachmentSchema, templateAttachmentSchema]);

export const sendApiMessageSchema = z
  .looseObject({
    text: nonEmptyMaxChars(TEXT_MAX_CHARS).optional(),
    attachment: sendApiAttachmentSchema.optional(),
    attachments: z.array(mediaAttachmentSchema).min(1).max(30).optional(),
    quick_replies: z.array(quickReplySchema).min(1).max(QUICK_REPLIES_MAX).optional(),
    metadata: maxChars(METADATA_MAX_CHARS).optional(),
  })
  .superRefine((message, ctx) => {
    const parts = [message.text, message.attachment, message.attachments].filter((part) => part !== undefined).length;
    if (parts !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'needs exactly one of text, attachment or attachments' });
  });

export type SendApiMessage = z.output<typeof sendApiMessageSchema>;

/** Why Meta would refuse `message` (empty when it has the Send API shape), with paths like `quick_replies.0.content_type`. */
export function sendApiMessageProblems(message: unknown): Array<{ path: Array<string | number>; message: string }> {
  const result = sendApiMessageSchema.safeParse(message);
  if (result.success) return [];
  return result.error.issues.map((issue) => ({
    path: issue.path.filter((part): part is string | number => typeof part !== 'symbol'),
    message: issue.message,
  }));
}
