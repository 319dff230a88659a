// TextDecoder for the Encoding standard's legacy encodings (ICU's converters, see
// worker/legacy_codec.h): labels, single-byte and multi-byte decoding, UTF-16, fatal mode,
// streaming across chunk boundaries, x-user-defined.
import { assertEquals, assertThrows } from './lib/assert.js';

const bytes = (...values) => new Uint8Array(values);

export function labelsResolveToTheStandardNames() {
  const cases = {
    'latin1': 'windows-1252', 'ascii': 'windows-1252', 'ISO-8859-1': 'windows-1252',
    'l2': 'iso-8859-2', 'koi8-r': 'koi8-r', 'cp866': 'ibm866', 'sjis': 'shift_jis',
    'euc-kr': 'euc-kr', 'gb2312': 'gbk', 'gb18030': 'gb18030', 'big5': 'big5',
    'utf-16': 'utf-16le', 'utf-16be': 'utf-16be', 'x-user-defined': 'x-user-defined',
    'iso-2022-jp': 'iso-2022-jp', 'logical': 'iso-8859-8-i', 'x-mac-ukrainian': 'x-mac-cyrillic',
    'macintosh': 'macintosh', 'windows-874': 'windows-874',
  };
  for (const [label, name] of Object.entries(cases)) {
    assertEquals(new TextDecoder(label).encoding, name, label);
  }
}

export function singleByteEncodings() {
  assertEquals(new TextDecoder('windows-1252').decode(bytes(0x63, 0x61, 0x66, 0xE9, 0x80)),
               'café€');
  assertEquals(new TextDecoder('iso-8859-2').decode(bytes(0xA3, 0xF3, 0x64, 0xBC)), 'Łódź');
  assertEquals(new TextDecoder('koi8-r').decode(bytes(0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4)),
               'Привет');
  assertEquals(new TextDecoder('windows-1251').decode(bytes(0xCF, 0xF0, 0xE8)), 'При');
  assertEquals(new TextDecoder('iso-8859-7').decode(bytes(0xE1, 0xE2, 0xE3)), 'αβγ');
}

export function multiByteEncodings() {
  // 日本 in Shift_JIS, EUC-JP and ISO-2022-JP; 한국 in EUC-KR; 中文 in GBK and gb18030; 中 in Big5.
  assertEquals(new TextDecoder('shift_jis').decode(bytes(0x93, 0xFA, 0x96, 0x7B)), '日本');
  assertEquals(new TextDecoder('euc-jp').decode(bytes(0xC6, 0xFC, 0xCB, 0xDC)), '日本');
  assertEquals(new TextDecoder('iso-2022-jp').decode(
    bytes(0x1B, 0x24, 0x42, 0x46, 0x7C, 0x4B, 0x5C, 0x1B, 0x28, 0x42)), '日本');
  assertEquals(new TextDecoder('euc-kr').decode(bytes(0xC7, 0xD1, 0xB1, 0xB9)), '한국');
  assertEquals(new TextDecoder('gbk').decode(bytes(0xD6, 0xD0, 0xCE, 0xC4)), '中文');
  assertEquals(new TextDecoder('gb18030').decode(bytes(0xD6, 0xD0, 0x81, 0x30, 0x81, 0x30)),
               '中\u0080');
  assertEquals(new TextDecoder('big5').decode(bytes(0xA4, 0xA4)), '中');
}

export function utf16WithAndWithoutBom() {
  assertEquals(new TextDecoder('utf-16le').decode(bytes(0xFF, 0xFE, 0x68, 0x00, 0x69, 0x00)),
               'hi', 'the BOM is removed');
  assertEquals(new TextDecoder('utf-16le', { ignoreBOM: true })
                 .decode(bytes(0xFF, 0xFE, 0x68, 0x00)), '\uFEFFh');
  assertEquals(new TextDecoder('utf-16be').decode(bytes(0x00, 0x68, 0xD8, 0x3D, 0xDE, 0x00)),
               'h\u{1F600}');
  assertEquals(new TextDecoder('utf-16le').decode(bytes(0x68, 0x00, 0x69)), 'h\uFFFD',
               'a lone trailing byte');
}

export function invalidBytesAreReplacedOrFatal() {
  assertEquals(new TextDecoder('shift_jis').decode(bytes(0x61, 0x81)), 'a\uFFFD');
  assertEquals(new TextDecoder('euc-kr').decode(bytes(0xC7, 0x20)), '\uFFFD ');
  assertThrows(() => new TextDecoder('shift_jis', { fatal: true }).decode(bytes(0x61, 0x81)),
               TypeError);
  const fatal = new TextDecoder('euc-jp', { fatal: true });
  assertEquals(fatal.fatal, true);
  assertThrows(() => fatal.decode(bytes(0xC6)), TypeError);
  assertEquals(fatal.decode(bytes(0xC6, 0xFC)), '日', 'usable after a fatal error');
}

export function streamingKeepsSplitSequences() {
  const decoder = new TextDecoder('shift_jis');
  let text = '';
  for (const b of [0x93, 0xFA, 0x96, 0x7B, 0x41]) {
    text += decoder.decode(bytes(b), { stream: true });
  }
  text += decoder.decode();
  assertEquals(text, '日本A');
  const utf16 = new TextDecoder('utf-16be');
  assertEquals(utf16.decode(bytes(0x00), { stream: true }) +
               utf16.decode(bytes(0x41, 0xD8), { stream: true }) +
               utf16.decode(bytes(0x3D, 0xDE, 0x00)), 'A\u{1F600}');
}

export function edgesTheStandardSpellsOut() {
  // windows-1252's undefined bytes are C1 controls, not errors.
  assertEquals(new TextDecoder('windows-1252').decode(bytes(0x81, 0x8D, 0x80)),
               '\u0081\u008D\u20AC');
  // A lone surrogate in UTF-16 is an error: U+FFFD.
  assertEquals(new TextDecoder('utf-16le').decode(bytes(0x00, 0xD8, 0x41, 0x00)), '\uFFFDA');
  // A large input in one call.
  const text = new TextDecoder('latin1').decode(new Uint8Array(1 << 20).fill(0xE9));
  assertEquals(text.length, 1 << 20);
  assertEquals(text[12345], '\u00E9');
}

export function userDefined() {
  assertEquals(new TextDecoder('x-user-defined').decode(bytes(0x41, 0x80, 0xFF)),
               'A\uF780\uF7FF');
}
