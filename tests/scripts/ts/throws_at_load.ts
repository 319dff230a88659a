// Throws while evaluating the top level, on line 6 (types before it on the same lines).
type Config = { missing: { value: number } };
const config: Config | undefined = undefined as Config | undefined;
function set(c: Config): void {
  // the line the error names:
  c!.missing.value = 1;
}
set(config as Config);
