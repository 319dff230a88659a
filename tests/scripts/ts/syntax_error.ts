// A TypeScript module with a syntax error on line 4.
interface Env { A: string }
export default {
  fetch(request: Request, env: Env): Response { return new Response("x") ]
};
