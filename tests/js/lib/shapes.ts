// A TypeScript helper module for typescript.test.ts: an enum, an interface, a class with
// parameter properties and a generic function.
export enum Kind {
  Circle = 'circle',
  Square = 'square',
}

export interface Shape {
  kind: Kind;
  area(): number;
}

export class Square implements Shape {
  readonly kind = Kind.Square;
  constructor(public readonly side: number) {}
  area(): number {
    return this.side ** 2;
  }
}

export function largest<T extends Shape>(shapes: readonly T[]): T | undefined {
  return shapes.reduce<T | undefined>((best, s) => (best && best.area() >= s.area() ? best : s),
                                      undefined);
}

export function failHere(): never {
  throw new Error('failed in shapes.ts');  // line 27
}
