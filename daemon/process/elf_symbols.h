// Symbols of an ELF file, for uprobes and for the variables a probe reads (issue 16's OpenSSL
// functions, issue 17's nginx functions and ngx_cached_time): read from .dynsym (a library's
// exports, an executable's with -rdynamic, as nginx is built for dynamic modules) and .symtab
// (an executable not stripped). Only defined functions and objects; 64-bit ELF only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlens {

struct ElfSymbol {
  uint64_t address = 0;                 // st_value: the virtual address in the file's layout
  std::optional<uint64_t> file_offset;  // where a uprobe goes; none for a symbol in .bss
};

// The whole file; throws std::runtime_error naming the path and errno.
std::string ReadElfFile(const std::string& path);

// The named symbols of an ELF image (nullopt for one not found); throws std::runtime_error if
// the image is not a well-formed 64-bit ELF file. `what` names the image in errors.
std::vector<std::optional<ElfSymbol>> FindElfSymbols(std::string_view image,
                                                     const std::vector<std::string>& names,
                                                     const std::string& what);

}  // namespace netlens
