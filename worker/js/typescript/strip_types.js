// The TypeScript loader's one job: turn a .ts file's text into JavaScript by removing its types
// (sucrase's TypeScript transform, which keeps every line where it was). esbuild bundles this
// file apart from the runtime (cmake/RuntimeBundle.cmake), and worker/type_stripper.cc
// evaluates it in an isolate of its own, made only when a script imports TypeScript: plain
// JavaScript contexts and the startup snapshot never hold it.
//
// Supported: everything TypeScript adds that only describes types (annotations, interfaces,
// type aliases, generics, `as`, `satisfies`, `!`, `declare`, type-only imports and exports,
// abstract members), plus enums and constructor parameter properties, which sucrase
// compiles. Not supported: namespaces holding values (sucrase would drop them silently, so they
// are refused here), decorators, `import x = require()`, JSX.
import { transform } from 'sucrase';

// A namespace or an old-style internal module with a body, not `declare`d, at the very start of
// a line (a top-level declaration): sucrase removes it, which would leave the script with
// undefined names. Indented ones are left alone: those are nested, inside a `declare namespace`
// (types only) or inside a namespace already refused.
const kValueNamespace = /^(?:export[ \t]+)?(?:namespace|module)[ \t]+[A-Za-z_$][\w$.]*[ \t]*\{/m;

function lineOf(source, index) {
  let line = 1;
  for (let i = source.indexOf('\n'); i !== -1 && i < index; i = source.indexOf('\n', i + 1)) {
    line++;
  }
  return line;
}

// Returns the JavaScript as a string, or {line, message} (line 1-based) when the file cannot
// be turned into JavaScript.
export function stripTypes(source, path) {
  const namespace = kValueNamespace.exec(source);
  if (namespace !== null) {
    return {
      line: lineOf(source, namespace.index + namespace[0].search(/\S/)),
      message: 'TypeScript namespaces are not supported (only type-only syntax, enums and ' +
               'parameter properties are): use an ES module or a plain object',
    };
  }
  try {
    return transform(source, {
      transforms: ['typescript'],
      disableESTransforms: true,
      filePath: path,
    }).code;
  } catch (error) {
    const loc = error && error.loc;
    // Sucrase says "Error transforming PATH: MESSAGE (LINE:COLUMN)"; the host adds the path
    // and line itself.
    let message = String(error && error.message !== undefined ? error.message : error)
      .replace(/ \(\d+:\d+\)$/, '');
    const prefix = `Error transforming ${path}: `;
    if (message.startsWith(prefix)) message = message.slice(prefix.length);
    return { line: loc ? loc.line : 0, message: `TypeScript: ${message}` };
  }
}
