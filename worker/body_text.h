// A whole body as one JavaScript value, built in native code: the bytes of a body read whole
// (Body.text(), arrayBuffer(), json()) are gathered into one buffer as they arrive (one
// allocation of the final size when the length is known in advance, growth by realloc
// otherwise), and handed to JavaScript without a copy: an ArrayBuffer that adopts the buffer,
// or, for ASCII text, an external string over it. Other text is decoded per the WHATWG "UTF-8
// decode" (a leading BOM dropped, invalid sequences replaced by U+FFFD) straight into a V8
// string. Reading a body costs CPU in proportion to its size, none of it in JavaScript
// (docs/limits.md has the figures).
//
// Threading: the isolate's thread; the V8 calls inside a HandleScope of an entered context.
#pragma once

#include <v8.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

namespace isolated::worker {

// A growable malloc'd byte buffer, never zero-filled. Moves only.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  // Reserves exactly `capacity` bytes (the known final size) at once.
  void reserve(size_t capacity);
  void append(const uint8_t* data, size_t size);
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_.get(); }
  // Whether every byte appended so far is ASCII (tracked as they arrive).
  bool ascii() const { return ascii_; }
  // Gives up the bytes: a buffer of exactly size() bytes (shrunk if needed) for free().
  uint8_t* release();

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool ascii_ = true;
};

// A body's text gathered as its bytes arrive: the bytes themselves while they are all ASCII
// (handed over as an external one-byte string), then, from the first other byte on, decoded
// chunk by chunk into UTF-16 (the WHATWG decoder of worker/text_codec.h, an incomplete sequence
// carried to the next chunk) and handed over as an external two-byte string. So the turn that
// takes the text does no decoding at all, whatever the body holds.
class TextCollector {
 public:
  // The body's declared length: sizes the buffers at once.
  void reserve(size_t bytes);
  void append(const uint8_t* data, size_t size);
  // The text (BOM dropped, invalid sequences as U+FFFD); leaves the collector empty. Empty,
  // with a RangeError thrown, when it would exceed V8's longest string.
  v8::MaybeLocal<v8::String> finish(v8::Isolate* isolate);

 private:
  ByteBuffer ascii_;
  bool decoding_ = false;
  std::u16string text_;
  std::basic_string<uint8_t> pending_;
  size_t hint_ = 0;
};

// A Uint8Array over a fresh ArrayBuffer that adopts the buffer's bytes (no copy).
v8::Local<v8::Uint8Array> adoptAsUint8Array(v8::Isolate* isolate, ByteBuffer bytes);

// The text of `bytes`, decoded as UTF-8. Empty (with a RangeError thrown) when it would exceed
// V8's longest string.
v8::MaybeLocal<v8::String> utf8Text(v8::Isolate* isolate, std::span<const uint8_t> bytes);
// The same, taking the buffer: a long all-ASCII text becomes an external string over its
// bytes, with no copy at all.
v8::MaybeLocal<v8::String> utf8Text(v8::Isolate* isolate, ByteBuffer bytes);

}  // namespace isolated::worker
