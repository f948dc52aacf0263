import { fitMessageText, localTimeParts, mapStrings, renderTemplate } from '@renotify/domain';

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
const pad = (value: number) => String(value).padStart(2, '0');

/** The built-in variables of one occurrence, on the wall clock of `timeZone`. */
export function builtinVariables(occurrenceAt: Date, timeZone: string, campaignName: string): Record<string, string> {
  const local = localTimeParts(occurrenceAt, timeZone);
  return {
    date: `${local.year}-${pad(local.month)}-${pad(local.day)}`,
    time: `${pad(local.hour)}:${pad(local.minute)}`,
    weekday: WEEKDAYS[local.weekday - 1]!,
    campaign: campaignName,
  };
}

/**
 * Fills every {{placeholder}} in every string of a Send API message (text, template titles, buttons …).
 * Built-ins win over custom variables of the same name (the API refuses such names anyway). `text` is fitted
 * to Meta's 2000-character limit after rendering.
 */
export function renderCampaignMessage(message: Record<string, unknown>, variables: Record<string, string | number>, builtins: Record<string, string>): Record<string, unknown> {
  const values = { ...variables, ...builtins };
  const rendered = mapStrings(message, (text) => renderTemplate(text, values)) as Record<string, unknown>;
  if (typeof rendered.text === 'string') rendered.text = fitMessageText(rendered.text);
  return rendered;
}
