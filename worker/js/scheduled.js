// Scheduled (cron) events: `export default { scheduled(event, env, ctx) }` or
// addEventListener('scheduled', listener). The host calls dispatchScheduled for each trigger
// (a Scheduled message); like a request, it ends in exactly one native.respond/fail call: 200
// when the handler (and the promise it returned, or those passed to event.waitUntil in
// service-worker syntax) fulfilled.
import { formatArg } from './console.js';
import { currentEnv } from './env.js';
import { ExecutionContext } from './execution_context.js';
import { native } from './native.js';

const kContext = Symbol('context');

export class ScheduledEvent {
  constructor(scheduledTime, cron, context) {
    this.type = 'scheduled';
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this[kContext] = context;
  }
  waitUntil(promise) {
    this[kContext].waitUntil(promise);
  }
  noRetry() {}
  get [Symbol.toStringTag]() {
    return 'ScheduledEvent';
  }
}

function failWith(id, error) {
  native.fail(id, 'script-threw', error instanceof Error ? (error.stack || String(error)) :
                                                       'Uncaught ' + formatArg(error));
}

export function dispatchScheduledTo(handlers, id, scheduledTime, cron) {
  const ctx = new ExecutionContext(id);
  const event = new ScheduledEvent(scheduledTime, cron, ctx);
  const pending = [];
  try {
    if (handlers.module !== null) {
      if (typeof handlers.module.scheduled !== 'function') {
        native.fail(id, 'no-handler', 'the module\'s default export has no scheduled() method');
        return;
      }
      pending.push(handlers.module.scheduled(event, currentEnv(), ctx));
    } else {
      if (handlers.listeners.length === 0) {
        native.fail(id, 'no-handler', 'no scheduled event listener is registered');
        return;
      }
      // In service-worker syntax the outcome includes what the listeners passed to
      // event.waitUntil, as Workers reports it.
      const own = [];
      event.waitUntil = (promise) => {
        own.push(Promise.resolve(promise));
        ctx.waitUntil(promise);
      };
      for (const listener of handlers.listeners) listener(event);
      pending.push(...own);
    }
  } catch (error) {
    failWith(id, error);
    return;
  }
  Promise.all(pending).then(() => native.respond(id, 200, '', null),
                            (error) => failWith(id, error));
}
