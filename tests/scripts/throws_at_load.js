// Throws while evaluating the top level.
const config = undefined;
config.missing.value = 1;
