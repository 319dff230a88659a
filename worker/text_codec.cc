// UTF-8 and base64 per the WHATWG Encoding and Infra standards.
#include "worker/text_codec.h"

namespace isolated::worker {

namespace {

void appendCodePoint(uint32_t cp, std::u16string& out) {
  if (cp < 0x10000) {
    out.push_back(static_cast<char16_t>(cp));
  } else {
    cp -= 0x10000;
    out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
    out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
  }
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64Value(char16_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Utf8DecodeResult decodeUtf8(std::basic_string_view<uint8_t> bytes, bool fatal, bool stream,
                            std::u16string& out) {
  Utf8DecodeResult result;
  const size_t n = bytes.size();
  out.reserve(out.size() + n);
  size_t i = 0;
  while (i < n) {
    uint8_t lead = bytes[i];
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    int needed = 0;
    uint32_t cp = 0;
    uint8_t lower = 0x80;
    uint8_t upper = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 1;
      cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 2;
      cp = lead & 0x0F;
      if (lead == 0xE0) lower = 0xA0;
      if (lead == 0xED) upper = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 3;
      cp = lead & 0x07;
      if (lead == 0xF0) lower = 0x90;
      if (lead == 0xF4) upper = 0x8F;  // nothing above U+10FFFF
    } else {
      if (fatal) return {false, 0};
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool complete = true;
    for (int seen = 0; seen < needed; ++seen, ++j) {
      if (j >= n) {
        if (stream) {
          result.pending = n - i;
          return result;
        }
        complete = false;
        break;
      }
      uint8_t next = bytes[j];
      if (next < lower || next > upper) {
        complete = false;
        break;
      }
      lower = 0x80;
      upper = 0xBF;
      cp = (cp << 6) | (next & 0x3F);
    }
    if (!complete) {
      // The maximal subpart [i, j) becomes one U+FFFD; the offending byte is decoded afresh.
      if (fatal) return {false, 0};
      out.push_back(0xFFFD);
      i = j;
      continue;
    }
    appendCodePoint(cp, out);
    i = j;
  }
  return result;
}

Utf8EncodeResult encodeUtf8Into(std::u16string_view text, uint8_t* dest, size_t capacity) {
  Utf8EncodeResult result;
  const size_t n = text.size();
  while (result.read < n) {
    uint32_t cp = text[result.read];
    size_t units = 1;
    if (cp >= 0xD800 && cp <= 0xDBFF && result.read + 1 < n && text[result.read + 1] >= 0xDC00 &&
        text[result.read + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (text[result.read + 1] - 0xDC00);
      units = 2;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    size_t length = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (result.written + length > capacity) break;
    uint8_t* p = dest + result.written;
    switch (length) {
      case 1:
        p[0] = static_cast<uint8_t>(cp);
        break;
      case 2:
        p[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
        p[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
        break;
      case 3:
        p[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
        p[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
        p[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
        break;
      default:
        p[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
        p[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
        p[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
        p[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    }
    result.written += length;
    result.read += units;
  }
  return result;
}

std::string base64Encode(std::basic_string_view<uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = bytes[i] << 16;
    if (rest == 2) v |= bytes[i + 1] << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> forgivingBase64Decode(std::u16string_view text) {
  // Strip ASCII whitespace: TAB, LF, FF, CR and SPACE.
  std::u16string data;
  data.reserve(text.size());
  for (char16_t c : text) {
    if (c != 0x09 && c != 0x0A && c != 0x0C && c != 0x0D && c != 0x20) data.push_back(c);
  }
  if (data.size() % 4 == 0) {
    if (data.ends_with(u"==")) {
      data.resize(data.size() - 2);
    } else if (data.ends_with(u"=")) {
      data.resize(data.size() - 1);
    }
  }
  if (data.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(data.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char16_t c : data) {
    int value = base64Value(c);
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  // Leftover bits (4 or 2) are discarded, as the forgiving algorithm says.
  return out;
}

}  // namespace isolated::worker
