// ICU's converters behind decodeLegacy(): one converter per call, closed by a unique_ptr.
#include "worker/legacy_codec.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>

#include <memory>

namespace isolated::worker {

namespace {

struct ConverterCloser {
  void operator()(UConverter* converter) const { ucnv_close(converter); }
};
using Converter = std::unique_ptr<UConverter, ConverterCloser>;

// Writes U+FFFD for every invalid or unmapped sequence. ICU's own substitute callback writes
// U+001A for a single bad byte of a codepage whose substitution byte is 0x1A, where the
// Encoding standard wants U+FFFD.
void replaceWithFffd(const void*, UConverterToUnicodeArgs* args, const char*, int32_t,
                     UConverterCallbackReason reason, UErrorCode* error) {
  if (reason > UCNV_IRREGULAR) return;  // reset, close, clone: nothing to write
  static const UChar kReplacement[] = {0xFFFD};
  *error = U_ZERO_ERROR;
  ucnv_cbToUWriteUChars(args, kReplacement, 1, 0, error);
}

}  // namespace

LegacyDecodeResult decodeLegacy(const std::string& icuName, std::basic_string_view<uint8_t> bytes,
                                bool fatal, bool flush, std::u16string& out) {
  LegacyDecodeResult result;
  UErrorCode error = U_ZERO_ERROR;
  Converter converter(ucnv_open(icuName.c_str(), &error));
  if (U_FAILURE(error) || !converter) {
    result.status = LegacyDecodeResult::Status::kUnknownEncoding;
    return result;
  }
  if (fatal) {
    ucnv_setToUCallBack(converter.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr,
                        &error);
  } else {
    ucnv_setToUCallBack(converter.get(), replaceWithFffd, nullptr, nullptr, nullptr, &error);
  }
  if (U_FAILURE(error)) {
    result.status = LegacyDecodeResult::Status::kUnknownEncoding;
    return result;
  }
  // At most two UTF-16 units per byte in every legacy encoding, plus what a flush may write.
  out.resize(bytes.size() * 2 + 16);
  UChar* target = reinterpret_cast<UChar*>(out.data());
  UChar* const targetLimit = target + out.size();
  const char* source = reinterpret_cast<const char*>(bytes.data());
  const char* const sourceLimit = source + bytes.size();
  ucnv_toUnicode(converter.get(), &target, targetLimit, &source, sourceLimit, nullptr, flush,
                 &error);
  if (U_FAILURE(error)) {
    // With the STOP callback an invalid sequence is an error; the buffer is large enough that
    // U_BUFFER_OVERFLOW_ERROR cannot happen, and any other failure is treated alike.
    out.clear();
    result.status = LegacyDecodeResult::Status::kInvalid;
    return result;
  }
  out.resize(static_cast<size_t>(target - reinterpret_cast<UChar*>(out.data())));
  if (!flush) {
    int32_t pending = ucnv_toUCountPending(converter.get(), &error);
    if (U_SUCCESS(error) && pending > 0) result.pendingBytes = static_cast<size_t>(pending);
  }
  return result;
}

}  // namespace isolated::worker
