#include "process/elf_symbols.h"

#include <elf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace netlens {
namespace {

template <typename T>
T At(std::string_view image, uint64_t offset) {
  if (offset > image.size() || image.size() - offset < sizeof(T))
    throw std::runtime_error("truncated ELF file");
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

}  // namespace

std::string ReadElfFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::vector<std::optional<ElfSymbol>> FindElfSymbols(std::string_view image,
                                                     const std::vector<std::string>& names,
                                                     const std::string& what) {
  const auto header = At<Elf64_Ehdr>(image, 0);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
    throw std::runtime_error(what + " is not a 64-bit ELF file");
  std::vector<std::optional<ElfSymbol>> found(names.size());
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    const auto section = At<Elf64_Shdr>(image, header.e_shoff + uint64_t{i} * header.e_shentsize);
    if ((section.sh_type != SHT_DYNSYM && section.sh_type != SHT_SYMTAB) || section.sh_entsize == 0)
      continue;
    const auto strings =
        At<Elf64_Shdr>(image, header.e_shoff + uint64_t{section.sh_link} * header.e_shentsize);
    if (strings.sh_offset > image.size() || image.size() - strings.sh_offset < strings.sh_size)
      throw std::runtime_error("truncated ELF file");
    for (uint64_t at = 0; at + section.sh_entsize <= section.sh_size; at += section.sh_entsize) {
      const auto symbol = At<Elf64_Sym>(image, section.sh_offset + at);
      const unsigned type = ELF64_ST_TYPE(symbol.st_info);
      if ((type != STT_FUNC && type != STT_OBJECT) || symbol.st_shndx == SHN_UNDEF) continue;
      if (symbol.st_name >= strings.sh_size) continue;
      const char* name = image.data() + strings.sh_offset + symbol.st_name;
      const std::string_view symbol_name(name, strnlen(name, strings.sh_size - symbol.st_name));
      for (size_t n = 0; n < names.size(); ++n) {
        if (found[n] || symbol_name != names[n]) continue;
        ElfSymbol result;
        result.address = symbol.st_value;
        // The address's file offset: through the loadable segment holding it in the file.
        for (uint16_t p = 0; p < header.e_phnum; ++p) {
          const auto segment =
              At<Elf64_Phdr>(image, header.e_phoff + uint64_t{p} * header.e_phentsize);
          if (segment.p_type == PT_LOAD && symbol.st_value >= segment.p_vaddr &&
              symbol.st_value < segment.p_vaddr + segment.p_filesz)
            result.file_offset = symbol.st_value - segment.p_vaddr + segment.p_offset;
        }
        found[n] = result;
      }
    }
  }
  return found;
}

}  // namespace netlens
