# The x86 kernel types (vmlinux.h beside this file) serve these CMAKE_SYSTEM_PROCESSOR values;
# the folder's name is the __TARGET_ARCH_ the eBPF programs are built for.
set(NETLENS_BPF_ARCH_PROCESSORS x86_64 AMD64 amd64)
