// Imports a .ts module without its extension.
import { shout } from './util';
export default { fetch: () => new Response(shout('x')) };
