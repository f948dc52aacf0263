/*
 * The event contract lives in @renotify/domain (pure, so db and apps import it without this package). It is
 * re-exported here because it is also the producer SDK's surface: `createEventProducer(...).publish` takes
 * `EventInputDraft`s and throws `EventValidationError` with `EventProblem`s.
 */
export {
  EVENT_ID_MAX_LENGTH,
  EVENT_PRIORITIES,
  EVENT_TYPES,
  MAX_EVENTS_PER_BATCH,
  eventInputSchema,
  parseEvents,
  uniqueEvents,
  type EventInput,
  type EventInputDraft,
  type EventPriority,
  type EventProblem,
  type EventType,
  type ParseEventsResult,
} from '@renotify/domain';
