// A script with a syntax error on line 3.
export default {
  fetch(request) { return new Response("x") ]
};
