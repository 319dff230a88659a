// Decoding of the WHATWG Encoding standard's legacy encodings (everything but UTF-8,
// x-user-defined and replacement, which worker/js/encoding.js handles) with ICU's converters,
// from Debian's libicu, the ICU libnode itself links. worker/js/encoding.js maps each WHATWG
// name to the ICU converter named here.
//
// Streaming: each call opens a converter and decodes the bytes it is given; the bytes of an
// incomplete trailing sequence are reported back (pendingBytes) for the caller to prepend to
// the next chunk. A stateful encoding's shift state (ISO-2022-JP's escapes) does not survive
// between chunks.
// Threading: any; no state is kept between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace isolated::worker {

struct LegacyDecodeResult {
  enum class Status { kOk, kUnknownEncoding, kInvalid };
  Status status = Status::kOk;
  size_t pendingBytes = 0;  // an incomplete sequence at the end, when not flushing
};

// Decodes `bytes` in ICU converter `icuName` into `out` (UTF-16). Invalid sequences become
// U+FFFD, or, with `fatal`, stop the decode with kInvalid. With `flush` false, an incomplete
// sequence at the end is left undecoded and counted in pendingBytes.
LegacyDecodeResult decodeLegacy(const std::string& icuName, std::basic_string_view<uint8_t> bytes,
                                bool fatal, bool flush, std::u16string& out);

}  // namespace isolated::worker
