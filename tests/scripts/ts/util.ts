// A .ts module imported by app.ts: an enum, a generic class with a parameter property.
export enum Mode {
  Slow,
  Fast,
}

export class Counter<T extends number> {
  constructor(private value: T) {}
  next(): number | undefined {
    return ++(this.value as number);
  }
}

export function shout(text: string): string {
  return text.toUpperCase();
}
