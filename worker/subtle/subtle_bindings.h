// The native half of crypto.subtle: the `native.subtle` object whose functions worker/js
// calls with already-normalised algorithm parameters. Each function is synchronous and bounded
// (its work is linear in its input, or capped: see key_generate.h and key_derivation.h), reads
// its byte arguments in place (no JavaScript runs meanwhile) and returns fresh ArrayBuffers.
// Failures throw an Error whose `name` is the DOMException name JavaScript must report
// ("OperationError", "DataError", "NotSupportedError") or a TypeError for malformed arguments;
// worker/js turns the former into DOMExceptions.
//
// Symmetric keys cross as raw bytes. An imported or generated asymmetric key comes back as a
// description: its DER (pkcs8 for private, spki for public) and its JWK members as bytes;
// operations take the key material object {kind, curve, fields} worker/js keeps and rebuild
// the EVP_PKEY from the members, which is some 30 times cheaper than parsing DER with OpenSSL
// 3.0's decoders. No key material is kept in C++ between calls.
#pragma once

#include <v8.h>

#include <span>

#include "worker/function_table.h"

namespace isolated::worker::subtle {

// The functions of `native.subtle`; the snapshot registers them as external references.
std::span<const NativeFunction> subtleFunctions();

// Creates `native.subtle` holding subtleFunctions().
void installSubtle(v8::Isolate* isolate, v8::Local<v8::Context> context,
                   v8::Local<v8::Object> native);

}  // namespace isolated::worker::subtle
