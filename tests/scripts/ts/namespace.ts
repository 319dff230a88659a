// Namespaces hold values: refused with the line that declares one.
export default { fetch: () => new Response('x') };

namespace Tools {
  export const x = 1;
}
