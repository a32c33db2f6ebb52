#!/usr/bin/env python3
"""Writes a kernel's BTF as a raw .btf file, from whatever form the kernel comes in.

usage: extract-btf.py SOURCE OUT

SOURCE may be raw BTF (/sys/kernel/btf/vmlinux), an ELF vmlinux with a .BTF section, an
x86 bzImage (its payload is found by compression magic: lz4 legacy or frame, gzip, zstd, xz),
or an uncompressed arm64 Image. Exits 1 with the reason when no BTF is found.

The kernel links .BTF as one blob (header, types, strings), so in an image that is not ELF it
is found by its magic and header, and checked for the first type being a sane record.
"""
import gzip
import io
import lzma
import shutil
import struct
import subprocess
import sys
import zlib

BTF_MAGIC = b"\x9f\xeb\x01\x00"  # 0xeB9F little-endian, version 1, flags 0
BTF_HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len type_off type_len str_off str_len
MIN_VMLINUX_BTF = 1 << 20  # a vmlinux BTF is megabytes; modules' split BTF is not wanted


def fail(message):
    print(f"extract-btf: {message}", file=sys.stderr)
    sys.exit(1)


def btf_at(data, offset):
    """The BTF blob starting at offset, or None if the header there is not a vmlinux's."""
    if data[offset : offset + 4] != BTF_MAGIC or offset + BTF_HEADER.size > len(data):
        return None
    _, _, _, hdr_len, type_off, type_len, str_off, str_len = BTF_HEADER.unpack_from(data, offset)
    if hdr_len != 24 or type_off != 0 or str_off != type_len:
        return None
    size = hdr_len + str_off + str_len
    if size < MIN_VMLINUX_BTF or offset + size > len(data):
        return None
    strings = offset + hdr_len + str_off
    if data[strings] != 0:  # the string section starts with the empty name
        return None
    return data[offset : offset + size]


def elf_btf_section(data):
    """The .BTF section of a 64-bit little-endian ELF, or None."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def section(i):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size
    _, names_off, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = data.index(b"\0", names_off + name)
        if data[names_off + name : end] == b".BTF":
            return data[off : off + size]
    return None


def decompress_all(data):
    """Each payload that decompresses from a compression magic inside data (bzImage)."""
    lz4 = shutil.which("lz4")
    for magic, kind in ((b"\x02\x21\x4c\x18", "lz4"), (b"\x04\x22\x4d\x18", "lz4"),
                        (b"\x1f\x8b\x08", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"),
                        (b"\xfd7zXZ\x00", "xz")):
        start = data.find(magic)
        if start < 0:
            continue
        payload = data[start:]
        try:
            if kind == "gzip":
                yield gzip.GzipFile(fileobj=io.BytesIO(payload)).read()
            elif kind == "xz":
                yield lzma.LZMADecompressor().decompress(payload)
            else:
                tool = lz4 if kind == "lz4" else shutil.which("zstd")
                if not tool:
                    fail(f"the kernel is {kind}-compressed and `{kind}` is not installed "
                         f"(scripts/install-deps.sh installs it)")
                out = subprocess.run([tool, "-d", "-c"], input=payload, capture_output=True)
                if out.stdout:  # trailing bytes after the frame make the tools complain
                    yield out.stdout
        except (OSError, EOFError, lzma.LZMAError, zlib.error):
            continue  # a magic that was not the start of a stream


def find_btf(data):
    if btf_at(data, 0):
        return data
    section = elf_btf_section(data)
    if section:
        return section
    offset = data.find(BTF_MAGIC)
    while offset >= 0:
        blob = btf_at(data, offset)
        if blob:
            return blob
        offset = data.find(BTF_MAGIC, offset + 1)
    return None


def main():
    if len(sys.argv) != 3:
        fail("usage: extract-btf.py SOURCE OUT")
    source, out = sys.argv[1:]
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(f"cannot read {source}: {e.strerror}")
    btf = find_btf(data)
    if btf is None:
        for payload in decompress_all(data):
            btf = find_btf(payload)
            if btf:
                break
    if btf is None:
        fail(f"no kernel BTF in {source} (a kernel built with CONFIG_DEBUG_INFO_BTF=y has it)")
    with open(out, "wb") as f:
        f.write(btf)


if __name__ == "__main__":
    main()
