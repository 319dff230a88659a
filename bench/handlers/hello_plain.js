// bench/worker_path.sh handler: the plainest answer, without looking at the request.
export default {
  fetch(request) {
    return new Response('hi');
  },
};
