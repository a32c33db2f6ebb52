# bpf_object(NAME SRC): compile an eBPF C source to a CO-RE object with clang and turn it
# into a libbpf skeleton header; the result is an INTERFACE library NAME_skel that puts
# NAME.skel.h on the include path.
#
# The build reads nothing of the build host's kernel. The programs are compiled against the
# pinned kernel types of the target architecture, ebpf/vmlinux/ARCH/vmlinux.h
# (scripts/kernel/gen-vmlinux-h.sh regenerates them); libbpf relocates every field access
# against the running kernel's BTF at load time, so one object runs on every supported kernel.
find_program(BPF_CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(BPF_SOURCE_ROOT "${CMAKE_SOURCE_DIR}/ebpf")
set(BPF_GEN_DIR "${CMAKE_BINARY_DIR}/bpf")
file(MAKE_DIRECTORY "${BPF_GEN_DIR}")

# The target architecture: the folder of ebpf/vmlinux/ whose arch.cmake lists
# CMAKE_SYSTEM_PROCESSOR. Its name is the kernel's (__TARGET_ARCH_<name>, used by
# bpf_tracing.h for the pt_regs layout of kprobes).
if(NOT NETLENS_BPF_ARCH)
  file(GLOB arch_files "${BPF_SOURCE_ROOT}/vmlinux/*/arch.cmake")
  foreach(arch_file IN LISTS arch_files)
    include("${arch_file}")
    if(CMAKE_SYSTEM_PROCESSOR IN_LIST NETLENS_BPF_ARCH_PROCESSORS)
      get_filename_component(arch_dir "${arch_file}" DIRECTORY)
      get_filename_component(NETLENS_BPF_ARCH "${arch_dir}" NAME)
    endif()
  endforeach()
  if(NOT NETLENS_BPF_ARCH)
    message(FATAL_ERROR "netlens: no kernel types for processor ${CMAKE_SYSTEM_PROCESSOR} under "
                        "ebpf/vmlinux/: add a folder with an arch.cmake and generate its "
                        "vmlinux.h with scripts/kernel/gen-vmlinux-h.sh")
  endif()
endif()
set(NETLENS_BPF_ARCH "${NETLENS_BPF_ARCH}" CACHE STRING
    "Kernel architecture the eBPF programs are built for (a folder of ebpf/vmlinux/)")

# Developers may compile against another kernel's types instead, to check that the programs
# (and lib/core_fixes.bpf.h) build with what that kernel has. Never needed for a normal build.
# A build tree configured before the types were pinned holds the old default, the host's BTF:
# it is dropped once, so that such a tree too stops reading the host's kernel.
get_property(vmlinux_btf_help CACHE NETLENS_VMLINUX_BTF PROPERTY HELPSTRING)
if(vmlinux_btf_help MATCHES "^BTF used to generate vmlinux.h")
  unset(NETLENS_VMLINUX_BTF CACHE)
endif()
set(NETLENS_VMLINUX_BTF "" CACHE FILEPATH "Optional: generate vmlinux.h from this kernel (raw \
BTF, vmlinux ELF or vmlinuz) instead of the pinned ebpf/vmlinux/ARCH/vmlinux.h")
if(NETLENS_VMLINUX_BTF)
  if(NOT EXISTS "${NETLENS_VMLINUX_BTF}")
    message(FATAL_ERROR "NETLENS_VMLINUX_BTF=${NETLENS_VMLINUX_BTF}: no such file (leave it "
                        "empty to use the pinned ebpf/vmlinux/${NETLENS_BPF_ARCH}/vmlinux.h)")
  endif()
  set(BPF_VMLINUX_DIR "${BPF_GEN_DIR}/vmlinux")
  file(MAKE_DIRECTORY "${BPF_VMLINUX_DIR}")
  add_custom_command(
    OUTPUT "${BPF_VMLINUX_DIR}/vmlinux.h"
    COMMAND ${Python3_EXECUTABLE} "${CMAKE_SOURCE_DIR}/scripts/kernel/extract-btf.py"
            "${NETLENS_VMLINUX_BTF}" "${BPF_VMLINUX_DIR}/vmlinux.btf"
    COMMAND ${BPFTOOL} btf dump file "${BPF_VMLINUX_DIR}/vmlinux.btf" format c >
            "${BPF_VMLINUX_DIR}/vmlinux.h"
    DEPENDS "${NETLENS_VMLINUX_BTF}"
    COMMENT "Generating vmlinux.h from ${NETLENS_VMLINUX_BTF}"
    VERBATIM)
  message(STATUS "netlens: eBPF programs built against the types of ${NETLENS_VMLINUX_BTF}")
else()
  set(BPF_VMLINUX_DIR "${BPF_SOURCE_ROOT}/vmlinux/${NETLENS_BPF_ARCH}")
endif()

function(bpf_object name src)
  set(obj "${BPF_GEN_DIR}/${name}.bpf.o")
  set(skel "${BPF_GEN_DIR}/${name}.skel.h")
  get_filename_component(src_abs "${src}" ABSOLUTE)
  # clang's depfile lists every header the source includes, at any depth, so editing any of
  # them rebuilds the object. Run from the source tree so that the object does not depend on
  # where the build directory is.
  add_custom_command(
    OUTPUT "${obj}"
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${NETLENS_BPF_ARCH}
            -I${BPF_VMLINUX_DIR} -I${BPF_SOURCE_ROOT} -MD -MF ${obj}.d -c ${src_abs} -o ${obj}
    MAIN_DEPENDENCY "${src_abs}"
    DEPENDS "${BPF_VMLINUX_DIR}/vmlinux.h"
    DEPFILE "${obj}.d"
    WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}"
    COMMENT "Compiling eBPF object ${name}.bpf.o (${NETLENS_BPF_ARCH})"
    VERBATIM)
  add_custom_command(
    OUTPUT "${skel}"
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS "${obj}"
    COMMENT "Generating skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS "${skel}")
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE "${BPF_GEN_DIR}" "${BPF_SOURCE_ROOT}")
endfunction()
