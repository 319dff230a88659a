// The source files a script snapshot was made from, written beside it (FILE.sources) so that a
// worker can tell whether the snapshot still matches the files on disk. Without this check a
// worker spawned after the script changed (a crash replacement, a scale-up) would serve the
// snapshot's old code, while without --snapshot-script it reads the files afresh: a changed file
// makes the worker ignore the snapshot and evaluate the script as it is now.
//
// Format: one line per file, "SHA-256-HEX PATH", in path order. Paths never hold a newline
// (the loader rejects nothing, so such a path simply never matches, and the snapshot is unused).
#pragma once

#include <map>
#include <string>

namespace isolated::worker {

// The manifest of `sources` (path -> text, as read by SourceCache).
std::string describeSources(const std::map<std::string, std::string>& sources);

// Whether every file in `manifest` still has the hash it lists; false with `whyNot` otherwise.
bool sourcesUnchanged(const std::string& manifest, std::string& whyNot);

}  // namespace isolated::worker
