// AES in the four WebCrypto modes: GCM (authenticated), CBC (PKCS#7 padding), CTR (with the
// WebCrypto counter-length rule) and KW (RFC 3394 key wrap). Keys are raw 16, 24 or 32 bytes;
// JavaScript has checked the length at import.
#pragma once

#include "worker/subtle/crypto_result.h"

namespace isolated::worker::subtle {

// Encrypts to ciphertext || tag, or decrypts such input; a tag mismatch is an OperationError.
Result<Bytes> aesGcm(bool encrypt, ByteView key, ByteView iv, ByteView data,
                     ByteView additionalData, int tagLengthBits);

Result<Bytes> aesCbc(bool encrypt, ByteView key, ByteView iv, ByteView data);

// The rightmost `lengthBits` bits of the 16-byte `counter` block are the counter, which wraps
// to zero without carrying into the nonce bits; more blocks than the counter has values is an
// OperationError. Encryption and decryption are the same operation.
Result<Bytes> aesCtr(ByteView key, ByteView counter, int lengthBits, ByteView data);

Result<Bytes> aesKw(bool wrap, ByteView key, ByteView data);

}  // namespace isolated::worker::subtle
