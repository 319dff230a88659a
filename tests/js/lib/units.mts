// A .mts module (always a module) imported by typescript.test.ts.
export const units = 1024;
export function kilobytes(bytes: number): number {
  return bytes / units;
}
