// The platform example's catch-all app: answers every request no other app's route claims.
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    return new Response(`${env.GREETING} from the hello app (${pathname})\n`, {
      headers: { 'content-type': 'text/plain' },
    });
  },
};
