// The platform example's cron app: a scheduled handler counts ticks; GET shows the count.
// State lives in the app's own isolate, so it is per worker and lost when the isolate is
// evicted; a real app would keep it in a binding.
let ticks = 0;
let lastCron = null;

export default {
  async fetch() {
    return Response.json({ ticks, lastCron });
  },
  async scheduled(event) {
    ticks += 1;
    lastCron = event.cron;
    console.log(`tick ${ticks} (${event.cron})`);
  },
};
