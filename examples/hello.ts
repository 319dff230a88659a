// The smallest Workers-style handler in TypeScript: `isolated serve examples/hello.ts`. Types are
// stripped when the worker loads the file (docs/scripts.md); nothing checks them.
interface Env {
  GREETING?: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const greeting: string = env.GREETING ?? 'Hello World';
    return new Response(`${greeting}\n`, { headers: { 'content-type': 'text/plain' } });
  },
};
