// How a TCP byte stream is checked end to end, shared by tcp-echo-client
// (tools/) and ix-tcp-client (apps/tcp_client.cc): both send the same
// deterministic pattern and digest what went and came back, so either can
// face the other side's echo server and their digests can be compared.
// Header-only and plain C++ plus libcrypto, as tools have no include path.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace stream_check {

// The byte at stream offset i: position dependent, so a lost, duplicated or
// misplaced byte shows up at once.
inline uint8_t pattern_at(uint64_t i) {
  const uint64_t x = (i ^ (i >> 13) ^ (i >> 29)) * 0x9e3779b97f4a7c15ull;
  return static_cast<uint8_t>(x >> 56);
}

// SHA-256 of a stream, printed as hex.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("SHA-256 unavailable in libcrypto");
  }
  void add(const uint8_t *p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  // Finishes the digest: call once.
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string out;
    char two[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(two, sizeof two, "%02x", md[i]);
      out += two;
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

}  // namespace stream_check
