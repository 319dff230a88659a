// Types only: nothing of it exists at run time.
export interface Greeting {
  text: string;
  loud: boolean;
}
export type Maybe<T> = T | undefined;
