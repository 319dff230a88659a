// Whole bodies as one ArrayBuffer or one string, built natively (see body_text.h).
#include "worker/body_text.h"

#include "worker/text_codec.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace isolated::worker {

namespace {

// Below this, copying into the V8 heap is cheaper than an external string's bookkeeping.
constexpr size_t kExternalMinBytes = 64u << 10;

bool isAscii(const uint8_t* data, size_t size) {
  size_t i = 0;
  uint64_t high = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    high |= word;
  }
  for (; i < size; ++i)
    high |= data[i];
  return (high & 0x8080808080808080ull) == 0;
}

void freeBytes(void* data, size_t, void*) {
  std::free(data);
}

// An ASCII text over bytes the string owns; V8 deletes it when the string is collected.
class AsciiResource final : public v8::String::ExternalOneByteStringResource {
 public:
  AsciiResource(uint8_t* data, size_t offset, size_t size)
      : data_(data), offset_(offset), size_(size) {}
  ~AsciiResource() override { std::free(data_); }
  AsciiResource(const AsciiResource&) = delete;
  AsciiResource& operator=(const AsciiResource&) = delete;
  const char* data() const override { return reinterpret_cast<const char*>(data_ + offset_); }
  size_t length() const override { return size_ - offset_; }

 private:
  uint8_t* data_;
  size_t offset_;
  size_t size_;
};

// UTF-16 text the string owns.
class TwoByteResource final : public v8::String::ExternalStringResource {
 public:
  TwoByteResource(std::u16string text, size_t offset) : text_(std::move(text)), offset_(offset) {}
  const uint16_t* data() const override {
    return reinterpret_cast<const uint16_t*>(text_.data() + offset_);
  }
  size_t length() const override { return text_.size() - offset_; }

 private:
  std::u16string text_;
  size_t offset_;
};

size_t bomLength(std::span<const uint8_t> bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
}

bool tooLong(v8::Isolate* isolate, size_t size) {
  if (size <= static_cast<size_t>(v8::String::kMaxLength)) return false;
  isolate->ThrowException(v8::Exception::RangeError(
      v8::String::NewFromUtf8Literal(isolate, "the body is too large to be read as one string")));
  return true;
}

}  // namespace

void ByteBuffer::reserve(size_t capacity) {
  if (capacity <= capacity_) return;
  auto* grown = static_cast<uint8_t*>(std::realloc(data_.get(), capacity));
  if (grown == nullptr) throw std::bad_alloc();
  (void)data_.release();
  data_.reset(grown);
  capacity_ = capacity;
}

void ByteBuffer::append(const uint8_t* data, size_t size) {
  if (size == 0) return;
  // Growth by half again: realloc of a large block remaps pages rather than copying them.
  if (size_ + size > capacity_) reserve(std::max(size_ + size, capacity_ + capacity_ / 2));
  std::memcpy(data_.get() + size_, data, size);
  size_ += size;
  if (ascii_) ascii_ = isAscii(data, size);
}

uint8_t* ByteBuffer::release() {
  if (capacity_ > size_) {
    auto* shrunk = static_cast<uint8_t*>(std::realloc(data_.get(), std::max<size_t>(size_, 1)));
    if (shrunk != nullptr) {
      (void)data_.release();
      data_.reset(shrunk);
    }
  }
  capacity_ = size_ = 0;
  ascii_ = true;
  return data_.release();
}

void TextCollector::reserve(size_t bytes) {
  hint_ = bytes;
  if (!decoding_) ascii_.reserve(bytes);
}

void TextCollector::append(const uint8_t* data, size_t size) {
  if (size == 0) return;
  if (!decoding_) {
    if (isAscii(data, size)) {
      ascii_.append(data, size);
      return;
    }
    decoding_ = true;
    text_.reserve(std::max(hint_, ascii_.size() + size));
    text_.append(ascii_.data(), ascii_.data() + ascii_.size());
    ascii_ = ByteBuffer();
  }
  // Geometric growth here, so that the decoder's own reserve never reallocates per chunk.
  if (text_.capacity() < text_.size() + size + pending_.size()) {
    text_.reserve(std::max(text_.capacity() * 2, text_.size() + size + pending_.size()));
  }
  std::basic_string_view<uint8_t> view(data, size);
  std::basic_string<uint8_t> joined;
  if (!pending_.empty()) {
    joined = pending_;
    joined.append(view);
    view = joined;
  }
  Utf8DecodeResult decoded = decodeUtf8(view, /*fatal=*/false, /*stream=*/true, text_);
  pending_.assign(view.substr(view.size() - decoded.pending));
}

v8::MaybeLocal<v8::String> TextCollector::finish(v8::Isolate* isolate) {
  if (!decoding_) return utf8Text(isolate, std::exchange(ascii_, ByteBuffer()));
  if (!pending_.empty()) {
    decodeUtf8(pending_, /*fatal=*/false, /*stream=*/false, text_);
    pending_.clear();
  }
  std::u16string text = std::exchange(text_, std::u16string());
  decoding_ = false;
  size_t offset = !text.empty() && text[0] == 0xFEFF ? 1 : 0;
  size_t length = text.size() - offset;
  if (tooLong(isolate, length)) return {};
  if (length * 2 < kExternalMinBytes) {
    return v8::String::NewFromTwoByte(isolate,
                                      reinterpret_cast<const uint16_t*>(text.data() + offset),
                                      v8::NewStringType::kNormal, static_cast<int>(length));
  }
  return v8::String::NewExternalTwoByte(isolate, new TwoByteResource(std::move(text), offset));
}

v8::Local<v8::Uint8Array> adoptAsUint8Array(v8::Isolate* isolate, ByteBuffer bytes) {
  size_t size = bytes.size();
  uint8_t* data = bytes.release();
  auto store = v8::ArrayBuffer::NewBackingStore(data, size, &freeBytes, nullptr);
  return v8::Uint8Array::New(v8::ArrayBuffer::New(isolate, std::move(store)), 0, size);
}

v8::MaybeLocal<v8::String> utf8Text(v8::Isolate* isolate, std::span<const uint8_t> bytes) {
  bytes = bytes.subspan(bomLength(bytes));
  if (tooLong(isolate, bytes.size())) return {};
  // V8's UTF-8 decoder replaces invalid sequences as the WHATWG decoder does (one U+FFFD per
  // maximal subpart; tests/js/body_text.test.js checks it against TextDecoder), and takes a
  // one-byte fast path for ASCII.
  return v8::String::NewFromUtf8(isolate, reinterpret_cast<const char*>(bytes.data()),
                                 v8::NewStringType::kNormal, static_cast<int>(bytes.size()));
}

v8::MaybeLocal<v8::String> utf8Text(v8::Isolate* isolate, ByteBuffer bytes) {
  std::span<const uint8_t> view(bytes.data(), bytes.size());
  size_t offset = bomLength(view);
  size_t length = bytes.size() - offset;
  // A BOM is not ASCII, so ascii() is false for a body that starts with one.
  bool ascii = bytes.ascii() || (offset > 0 && isAscii(view.data() + offset, length));
  if (length < kExternalMinBytes || !ascii) return utf8Text(isolate, view);
  if (tooLong(isolate, length)) return {};
  size_t size = bytes.size();
  return v8::String::NewExternalOneByte(isolate, new AsciiResource(bytes.release(), offset, size));
}

}  // namespace isolated::worker
