// Stands in for the npm package tr46 in the bundle (esbuild --alias, cmake/RuntimeBundle.cmake),
// which whatwg-url uses for its "domain to ASCII" step. tr46 carries the whole IDNA mapping table
// (most of whatwg-url's heap and evaluation time), yet the hosts most URLs have do not need it:
// the URL Standard (https://url.spec.whatwg.org/#concept-domain-to-ascii) notes that when
// beStrict is false, the domain is ASCII and no dot-separated label starts with "xn--" (ASCII
// case-insensitively), the step is equivalent to ASCII lowercasing. Those inputs get that here;
// any other input, or beStrict (whatwg-url passes it as the STD3, DNS-length and hyphen options),
// loads the real tr46 on first use. package.json installs it a second time as `tr46-full` so that
// this module can name it past the alias.
import { lazyModule } from './lazy_module.js';

const tr46 = lazyModule(() => require('tr46-full'));

const kAscii = /^[\x00-\x7f]*$/;
const kPunycodeLabel = /(?:^|\.)xn--/i;

export function toASCII(domain, options = {}) {
  if (!options.useSTD3ASCIIRules && !options.verifyDNSLength && !options.checkHyphens &&
      kAscii.test(domain) && !kPunycodeLabel.test(domain)) {
    return domain.toLowerCase();
  }
  return tr46().toASCII(domain, options);
}

export function toUnicode(domain, options) {
  return tr46().toUnicode(domain, options);
}
