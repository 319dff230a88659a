// Unhandled rejections and uncaught timer errors in a served script: /lost leaves a promise
// rejected (logged), /quiet leaves one rejected with a reason the script's own
// unhandledrejection listener cancels (not logged), /timer throws from a timer (logged). The
// timer is waitUntil() work: a request's timers end with it (docs/limits.md).
addEventListener('unhandledrejection', (event) => {
  if (event.reason === 'quiet') event.preventDefault();
});

export default {
  fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === '/lost') Promise.reject(new Error('lost rejection'));
    if (path === '/quiet') Promise.reject('quiet');
    if (path === '/timer') {
      ctx.waitUntil(new Promise((resolve) => setTimeout(() => {
        resolve();
        throw new Error('timer threw');
      }, 0)));
    }
    return new Response('ok');
  },
};
