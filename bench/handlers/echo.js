// bench/suite.sh handler: JSON echo. Parses the POST body and returns it with
// Response.json, so each request costs a JSON.parse and a JSON.stringify.
// The suite posts bench/handlers/echo-body.json.
export default {
  async fetch(request, env, ctx) {
    let body;
    try {
      body = await request.json();
    } catch {
      return new Response('body is not JSON\n', { status: 400 });
    }
    return Response.json(body);
  },
};
