// UploadBuffer: a fetch's streamed request body on its way to libcurl (see the header).
#include "supervisor/upload_buffer.h"

#include <algorithm>
#include <cstring>

namespace isolated::supervisor {

UploadBuffer::Refusal UploadBuffer::add(capnp::Data::Reader data, bool end) {
  if (data.size() > ipc::kFetchMaxChunkBytes || !window_.receive(data.size())) {
    return Refusal::kBeyondWindow;
  }
  // What is held now includes `data`.
  if (length_ && sent_ + static_cast<curl_off_t>(window_.held()) > *length_) {
    return Refusal::kBeyondLength;
  }
  if (data.size() > 0)
    chunks_.emplace_back(reinterpret_cast<const char*>(data.begin()), data.size());
  ended_ = end;
  return Refusal::kNone;
}

size_t UploadBuffer::take(char* out, size_t room) {
  size_t taken = 0;
  while (taken < room && !chunks_.empty()) {
    const std::string& chunk = chunks_.front();
    size_t part = std::min(room - taken, chunk.size() - offset_);
    std::memcpy(out + taken, chunk.data() + offset_, part);
    taken += part;
    offset_ += part;
    if (offset_ == chunk.size()) {
      chunks_.pop_front();
      offset_ = 0;
    }
  }
  if (taken > 0) {
    window_.passedOn(taken);
    sent_ += static_cast<curl_off_t>(taken);
  }
  return taken;
}

void UploadBuffer::drop() {
  dropped_ = true;
  chunks_.clear();
  offset_ = 0;
  window_ = CreditReceiver(ipc::kFetchWindowBytes);
}

}  // namespace isolated::supervisor
