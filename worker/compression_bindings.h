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
// Ownership: a handle is a zero-length ArrayBuffer whose backing store points to a record that
// owns the ZlibStream; the store's deleter frees the record when V8 collects the handle or
// disposes the isolate, so nothing leaks across isolate rebuilds. compression.js frees the
// zlib state (up to 384 KiB) explicitly when a stream finishes, fails or is cancelled, so GC is
// the fallback, never the usual path; and it makes the state only at the first write, so a
// stream that is constructed and dropped costs none.
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
