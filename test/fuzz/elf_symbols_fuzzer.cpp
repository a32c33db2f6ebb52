// Fuzz target: ELF files as netlens reads them to place uprobes (daemon/process/elf_symbols.cpp:
// FindElfSymbols) and to tell an nginx build (daemon/nginx/nginx_builds.cpp: IdentifyBinary).
// Contract: an answer per name, or std::runtime_error; a symbol's file offset, when there is one,
// is its address moved by a loadable segment that holds it; a build found is one whose version
// the file names. The seed corpus/elf_symbols/tiny-nginx.so was made with
//   gcc -shared -fPIC -nostdlib -Os -s -Wl,--hash-style=gnu -Wl,-z,norelro \
//       -Wl,-z,noseparate-code -o tiny-nginx.so tiny.c
// from a tiny.c defining ngx_http_free_request(), `void *ngx_cached_time`, and the strings
// "nginx/1.22.1" and Debian 12's module signature.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "nginx/nginx_builds.h"
#include "process/elf_symbols.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view image(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> names = {"ngx_http_free_request", "ngx_cached_time", "SSL_read"};
  try {
    const std::vector<std::optional<netlens::ElfSymbol>> found =
        netlens::FindElfSymbols(image, names, "fuzz input");
    NETLENS_FUZZ_CHECK(found.size() == names.size());
  } catch (const std::runtime_error&) {
    // Not a well-formed 64-bit ELF file: said so, nothing else.
  }
  const std::vector<netlens::nginx::NginxBuild>& builds = netlens::nginx::KnownBuilds();
  const netlens::nginx::BinaryIdentity identity = netlens::nginx::IdentifyBinary(image, builds);
  if (identity.build) {
    NETLENS_FUZZ_CHECK(*identity.build < builds.size());
    NETLENS_FUZZ_CHECK(identity.version == builds[*identity.build].version);
  }
  return 0;
}
