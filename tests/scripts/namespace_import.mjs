// `import * as` makes a module namespace object, which V8 10.2 cannot put in a snapshot: the
// snapshot helper dies, and the workers evaluate the script instead.
import * as lib from './lib/greeting.js';

export default {
  fetch() {
    return new Response(lib.greeting('a namespace'));
  },
};
