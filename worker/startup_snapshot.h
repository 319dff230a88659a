// A V8 startup snapshot an isolate can be created from, with the external references its native
// callbacks need. Two kinds:
//  - the built-ins snapshot, made at compile time by isolated_mksnapshot (worker/mksnapshot.cc)
//    and embedded in the binary: the runtime (worker/js/ bundled, with its native bindings)
//    evaluated in a context;
//  - a script snapshot, made at pool start by `isolated __snapshot-script` on top of the
//    built-ins: the user's script evaluated there too. Workers map the file read-only.
// Either way the runtime's context is context kRuntimeContextIndex of the blob (see
// worker/script_context.h), and Context::New still gives a plain context.
//
// Lifetime: V8 reads the blob whenever a context is deserialised, so this object must outlive
// every isolate created from it (workerMain and testMain own it above their hosts).
#pragma once

#include <v8.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/script_context.h"

namespace isolated::worker {

// The built-ins blob, defined in a file generated at build time (or empty in the tool that
// generates it, worker/no_builtins_snapshot.cc).
extern const std::string_view kBuiltinsSnapshot;

class StartupSnapshot {
 public:
  // The built-ins snapshot compiled into this binary; nullptr, with `whyNot`, when there is none
  // or this V8 rejects it (another V8 version than the one that built it).
  static std::unique_ptr<StartupSnapshot> builtIn(std::string& whyNot);
  // A script snapshot file, mapped read-only; nullptr, with `whyNot`, when it cannot be read or
  // this V8 rejects it.
  static std::unique_ptr<StartupSnapshot> mapFile(const std::string& path, std::string& whyNot);
  ~StartupSnapshot();
  StartupSnapshot(const StartupSnapshot&) = delete;
  StartupSnapshot& operator=(const StartupSnapshot&) = delete;

  SnapshotContents contents() const { return contents_; }
  // For Isolate::CreateParams and SnapshotCreator; valid while this object lives. V8 takes
  // non-const pointers but only reads them.
  v8::StartupData* blob() { return &blob_; }
  const intptr_t* externalReferences() const { return references_.data(); }

 private:
  StartupSnapshot(SnapshotContents contents, const char* data, size_t size, void* mapping);

  SnapshotContents contents_;
  v8::StartupData blob_;
  void* mapping_;  // the mmap()ed file, or nullptr for the embedded blob
  size_t mappingSize_;
  std::vector<intptr_t> references_;
};

}  // namespace isolated::worker
