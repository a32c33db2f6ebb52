# bpf_object(NAME SRC): compile an eBPF C source to a CO-RE object with clang and turn it
# into a libbpf skeleton header; the result is an INTERFACE library NAME_skel that puts
# NAME.skel.h on the include path.
find_program(BPF_CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(NETLENS_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
    "BTF used to generate vmlinux.h (types only: the programs are CO-RE and run on other kernels)")
set(BPF_GEN_DIR "${CMAKE_BINARY_DIR}/bpf")
file(MAKE_DIRECTORY "${BPF_GEN_DIR}")

if(NOT EXISTS "${NETLENS_VMLINUX_BTF}")
  message(FATAL_ERROR "No kernel BTF at ${NETLENS_VMLINUX_BTF}: build on a kernel with "
                      "CONFIG_DEBUG_INFO_BTF=y or pass -DNETLENS_VMLINUX_BTF=/path/to/vmlinux.btf")
endif()
add_custom_command(
  OUTPUT "${BPF_GEN_DIR}/vmlinux.h"
  COMMAND ${BPFTOOL} btf dump file ${NETLENS_VMLINUX_BTF} format c > ${BPF_GEN_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from ${NETLENS_VMLINUX_BTF}"
  VERBATIM)

function(bpf_object name src)
  set(obj "${BPF_GEN_DIR}/${name}.bpf.o")
  set(skel "${BPF_GEN_DIR}/${name}.skel.h")
  get_filename_component(src_abs "${src}" ABSOLUTE)
  get_filename_component(src_dir "${src_abs}" DIRECTORY)
  file(GLOB bpf_headers "${src_dir}/*.h")
  add_custom_command(
    OUTPUT "${obj}"
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_x86
            -I${BPF_GEN_DIR} -I${src_dir} -c ${src_abs} -o ${obj}
    DEPENDS "${src_abs}" ${bpf_headers} "${BPF_GEN_DIR}/vmlinux.h"
    COMMENT "Compiling eBPF object ${name}.bpf.o"
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
  target_include_directories(${name}_skel INTERFACE "${BPF_GEN_DIR}" "${src_dir}")
endfunction()
