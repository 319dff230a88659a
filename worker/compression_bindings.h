// The native half of CompressionStream and DecompressionStream: `native.compression`, whose
// functions worker/js/compression.js calls to drive one ZlibStream (zlib_stream.h) per stream.
//
//   create(format, compress) -> handle     TypeError for an unknown format
//   push(handle, chunk, offset, finish) -> [output | undefined, nextOffset, more]
//   free(handle)
//
// push runs one bounded ZlibStep on the BufferSource `chunk` from byte `offset`: at most
// ZlibStream::kMaxStepInput bytes of input and kMaxOutputChunk bytes of output (a fresh
// Uint8Array), so JavaScript can enqueue each piece and wait for the reader in between. It
// throws a TypeError for a chunk that is not a BufferSource and for corrupt, truncated or
// trailing data; the zlib state is freed then. `more` says to call again from nextOffset.
//
// Ownership: a handle is a v8::External pointing to a heap record that owns the ZlibStream.
// compression.js frees the stream explicitly when it finishes, fails or is cancelled; a weak
// global on the External frees whatever is left when a stream object is dropped unfinished, so
// GC is the fallback, never the usual path. zlib's memory is reported to V8 as external memory
// while the stream lives, so abandoned streams also drive GC.
#pragma once

#include <v8.h>

#include <cstddef>
#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

// The largest Uint8Array one push returns.
inline constexpr size_t kMaxOutputChunk = 64 * 1024;

// The functions of `native.compression`; the snapshot registers them as external references.
std::span<const NativeFunction> compressionFunctions();

// Creates `native.compression` holding compressionFunctions().
void installCompression(v8::Isolate* isolate, v8::Local<v8::Context> context,
                        v8::Local<v8::Object> native);

}  // namespace isolated::worker
