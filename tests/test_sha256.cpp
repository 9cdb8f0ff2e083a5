// SHA-256 against the FIPS 180-2 example vectors and against sha256sum around the padding
// boundaries (55/56 bytes: does the length still fit the last block; 63/64/65: block edges).
#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

#include "evaluators/sha256.h"

using chipgym::evaluators::Sha256;
using chipgym::evaluators::sha256_hex;

TEST_CASE("sha256: FIPS example vectors", "[sha256]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256: one million 'a' fed in odd-sized chunks", "[sha256]") {
  const std::string chunk(1000, 'a');
  const std::size_t sizes[] = {1, 3, 7, 63, 64, 65, 127, 500, 999};
  Sha256 h;
  std::size_t fed = 0;
  for (std::size_t i = 0; fed < 1000000; ++i) {
    const std::size_t n = std::min(sizes[i % std::size(sizes)], 1000000 - fed);
    h.update(chunk.data(), n);
    fed += n;
  }
  CHECK(h.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: lengths around the padding boundary match sha256sum", "[sha256]") {
  // message(n) = "abcdefghijklmnopqrstuvwxyzabc..." cut to n bytes; digests from sha256sum.
  auto message = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + i % 26));
    return s;
  };
  const std::pair<std::size_t, const char*> expected[] = {
      {55, "595615dbe4f0f407ae397d08b4c2cb870cb9b0e11937416f950c5160acf9c005"},
      {56, "784f623b787495078e93ff28a25b581df0584055a7e71d8cd90c454716b92f51"},
      {63, "5ca3e1ef5207490eac01a795e5cc94d59582a5118bf9534665c8668d87aa647c"},
      {64, "2fcd5a0d60e4c941381fcc4e00a4bf8be422c3ddfafb93c809e8d1e2bfffae8e"},
      {65, "1b3cd1877ab2f2f19f7be001722554f336cb799df0329de0bb4c118dc6abc06d"},
  };
  for (const auto& [n, hex] : expected) {
    INFO("length " << n);
    const std::string m = message(n);
    CHECK(sha256_hex(m) == hex);
    // The same message byte by byte exercises the buffering path.
    Sha256 h;
    for (char c : m) h.update(std::string_view(&c, 1));
    CHECK(h.hex() == hex);
  }
}

TEST_CASE("sha256: digest bytes match the hex form", "[sha256]") {
  const auto d = Sha256().update("abc").digest();
  CHECK(d[0] == 0xba);
  CHECK(d[31] == 0xad);
}
