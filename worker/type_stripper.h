// Turns TypeScript into JavaScript when a script loads a .ts or .mts file: the types are
// removed by sucrase (bundled at build time from npm, worker/js/typescript/strip_types.js), which
// keeps every line where it was, so V8's syntax errors and stack traces name the .ts file's own
// lines. Columns can shift to the left of a removed type on the same line.
//
// The transform runs in an isolate of its own, created on the first .ts file and destroyed with
// this object (SourceCache drops it once a script has loaded): the script's isolate, its
// contexts and its startup snapshot never hold the transformer, and plain JavaScript costs
// nothing. It runs once per file per worker process (SourceCache keeps the result), never per
// request or per context.
//
// Lifetime: may be created and destroyed while another isolate is entered; it enters its own
// isolate only inside strip(). Threading: one thread.
#pragma once

#include <v8.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace isolated::worker {

class OwnedIsolate;

// Whether `path` names a TypeScript file (.ts or .mts).
bool isTypeScriptPath(const std::string& path);

class TypeStripper {
 public:
  TypeStripper();
  ~TypeStripper();
  TypeStripper(const TypeStripper&) = delete;
  TypeStripper& operator=(const TypeStripper&) = delete;

  // The JavaScript of the TypeScript `source` read from `path`; nullopt with `error` (and
  // `errorLine`, 1-based, 0 when unknown) when it is not valid TypeScript or uses syntax
  // that needs more than removing types (namespaces).
  std::optional<std::string> strip(const std::string& path, const std::string& source,
                                   uint32_t& errorLine, std::string& error);

 private:
  // Makes the isolate and evaluates the bundle in it, on first use.
  bool start(std::string& error);

  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  std::unique_ptr<OwnedIsolate> isolate_;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> strip_;
};

}  // namespace isolated::worker
