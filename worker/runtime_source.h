// The runtime bundle's source text (worker/js/ bundled, embedded in the binary) as a V8 string
// that every isolate of the process shares instead of copying.
//
// An isolate keeps a script's source for as long as its functions may be compiled lazily (and
// for Function.prototype.toString), so a copy of the 750 KB runtime source used to be
// deserialised from the startup snapshot into every isolate: about a third of an idle app's
// memory. As an external string whose resource is listed in the snapshot's external references
// (native_tables.cc), V8 serialises only a reference to the resource, and every isolate made
// from the snapshot points at the one copy in the binary's read-only data.
//
// Lifetime: the resource is a function-local static with no state (its text is the embedded
// constant), alive for the whole process as V8 requires; Dispose() does nothing, so isolates
// that collect or tear down the string never free it. Threading: immutable, any thread.
#pragma once

#include <v8.h>

#include <cstdint>

namespace isolated::worker {

// The resource to list in the external references; its address is what a snapshot names.
v8::String::ExternalOneByteStringResource* runtimeSourceResource();

// The runtime source as an external string in `isolate`.
v8::MaybeLocal<v8::String> runtimeSource(v8::Isolate* isolate);

}  // namespace isolated::worker
