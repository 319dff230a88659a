// Imported by module.js to prove relative module imports resolve.
export function greeting(kind) {
  return `hello from ${kind}`;
}
