// Small conversions between C++ strings and V8 values that the native bindings share, so that
// each binding file does not carry its own copy.
#pragma once

#include <v8.h>

#include <string>
#include <string_view>

namespace isolated::worker {

// A V8 string of UTF-8 `text`.
inline v8::Local<v8::String> v8String(v8::Isolate* isolate, std::string_view text) {
  return v8::String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(text.size()))
      .ToLocalChecked();
}

// Schedules a TypeError with `message` on `isolate`; the caller returns to JavaScript next.
inline void throwTypeError(v8::Isolate* isolate, std::string_view message) {
  isolate->ThrowException(v8::Exception::TypeError(v8String(isolate, message)));
}

// `value` converted to a string, as UTF-8 (empty if the conversion throws).
inline std::string utf8(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::String::Utf8Value text(isolate, value);
  return *text ? std::string(*text, static_cast<size_t>(text.length())) : std::string();
}

}  // namespace isolated::worker
