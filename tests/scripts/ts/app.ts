// A TypeScript module handler as people write them: types, interfaces, generics, enums,
// `satisfies`, non-null assertions, type-only imports and a .ts import.
import type { Greeting } from './types.ts';
import { Counter, Mode, shout } from './util.ts';

interface Env {
  GREETING?: string;
}

type Route = (request: Request, env: Env) => Response | Promise<Response>;

const counter = new Counter<number>(0);

function boom(where: string): never {
  throw new Error(`boom at ${where}`);  // line 15: the stack names app.ts:15
}

const routes: Record<string, Route> = {
  '/': (_request: Request, env: Env): Response => {
    const greeting: Greeting = { text: env.GREETING ?? 'hello', loud: false };
    return new Response(`${greeting.text} from typescript\n`);
  },
  '/util': (): Response => new Response(shout('util') + ' ' + Mode[Mode.Fast] + ' ' +
                                        String(counter.next()!)),
  '/throw': (): Response => boom('runtime'),
};

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname as keyof typeof routes;
    const route = routes[path];
    return route ? route(request, env) : new Response('not found', { status: 404 });
  },
} satisfies ExportedHandler<Env>;
