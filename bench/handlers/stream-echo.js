// bench/stream.sh handler: streams the request body straight back (request.body ->
// Response), keeping the length the client declared when it declared one.
export default {
  fetch(request) {
    const length = request.headers.get('content-length');
    return new Response(request.body, { headers: length ? { 'content-length': length } : {} });
  },
};
