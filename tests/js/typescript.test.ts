// `isolated test` runs TypeScript test files, and TypeScript imports load with their types
// stripped and their lines kept (worker/type_stripper.h).
import { assert, assertEquals } from './lib/assert.js';
import type { Shape } from './lib/shapes.ts';
import { failHere, Kind, largest, Square } from './lib/shapes.ts';
import { kilobytes } from './lib/units.mts';

type Pair<A, B> = readonly [A, B];

export function typesAreStripped(): void {
  const pair: Pair<string, number> = ['a', 1] as const;
  const value = pair[1]!;
  assertEquals(value satisfies number, 1);
  assertEquals(<number>(value as unknown) + 1, 2);
}

export function enumsAndParameterProperties(): void {
  const shapes: Shape[] = [new Square(2), new Square(5), new Square(3)];
  const best = largest(shapes) as Square;
  assertEquals(best.side, 5);
  assertEquals(best.kind, Kind.Square);
  assertEquals(Kind.Circle, 'circle');
}

export function stackTracesNameTheTypeScriptLine(): void {
  let stack = '';
  try {
    failHere();
  } catch (error) {
    stack = (error as Error).stack ?? '';
  }
  assert(/shapes\.ts:27:\d+/.test(stack), `the stack names shapes.ts:27: ${stack}`);
}

export async function asyncFunctionsWithTypes(): Promise<void> {
  const wait = (ms: number): Promise<number> => new Promise((resolve) => setTimeout(() =>
    resolve(ms), ms));
  assertEquals(await wait(1), 1);
}

abstract class Base {
  abstract name(): string;
  declare extra: number;
  greet(this: Base): string {
    return `hello ${this.name()}`;
  }
}

export function abstractClassesAndThisParameters(): void {
  class Impl extends Base {
    name(): string {
      return 'impl';
    }
  }
  assertEquals(new Impl().greet(), 'hello impl');
  assertEquals('extra' in new Impl(), false, 'a declared field makes no property');
}

export function mtsModulesLoad(): void {
  assertEquals(kilobytes(2048), 2);
}

// Ambient declarations, nested namespaces in them included, are types only.
declare namespace Ambient {
  namespace Inner {
    interface Shape {
      size: number;
    }
  }
  const version: string;
}
declare global {
  interface Thing {
    name: string;
  }
}

export function ambientDeclarationsAreTypesOnly(): void {
  const value: Ambient.Inner.Shape = { size: 1 };
  assertEquals(value.size, 1);
  assertEquals(typeof (globalThis as { Ambient?: unknown }).Ambient, 'undefined');
}
