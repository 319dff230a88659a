// Whole bodies as one ArrayBuffer or one string, built natively (see body_text.h).
#include "worker/body_text.h"

#include <algorithm>
#include <cstring>
#include <new>

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
