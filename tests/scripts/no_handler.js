// Loads fine but registers no fetch handler.
globalThis.nothing = 1;
