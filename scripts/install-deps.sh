#!/usr/bin/env bash
# Installs from Debian 12 everything netlens needs to build and to run all its tests.
# Idempotent: when every package is already installed it changes nothing, needs no
# root and takes well under a second.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config            # toolchain
  clang-format git                            # format check (test/build)
  clang llvm libbpf-dev bpftool               # eBPF objects, skeletons
  libelf-dev zlib1g-dev                       # libbpf's link dependencies
  prometheus-cpp-dev libboost-dev zlib1g-dev  # /metrics: exposition, HTTP (Beast/Asio), gzip
  libyaml-cpp-dev libspdlog-dev libfmt-dev    # config, logging
  catch2                                      # unit tests
  prometheus                                  # promtool (metrics lint in tests)
  curl iproute2 procps                        # integration tests
  lz4                                         # kernel BTF from a bzImage (scripts/kernel)
  nginx wrk bpftrace python3                  # benchmark (bench/run.sh); nginx, python3: integration
  qemu-system-x86 busybox-static cpio         # kernel matrix (test/kernel_matrix)
  libsystemd-dev libssl-dev libcrypt-dev      # sd_notify; TLS and bcrypt for /metrics
  systemd dpkg-dev openssl apache2-utils      # deploy tests: systemd-analyze, cpack's
                                              # dpkg-shlibdeps, test certificates, htpasswd
  prometheus-alertmanager python3 python3-yaml  # fleet tests: Alertmanager, amtool (test/fleet)
  libclang-rt-14-dev                          # fuzz test: libFuzzer, ASan/UBSan runtimes
  python3-matplotlib                          # soak run plots (test/soak)
  mariadb-server mariadb-client libmariadb-dev  # MySQL request metrics: the real server, clients
  nghttp2-client                              # nghttp, h2load: HTTP/2 streams to nginx
  python3-grpcio                              # gRPC peers (test/helpers/grpc_peer.py)
)

missing=()
installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
for pkg in "${PACKAGES[@]}"; do
  grep -qxF "${pkg} installed" <<<"${installed}" || missing+=("${pkg}")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages installed"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: installing needs root; run: sudo $0" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o DPkg::Lock::Timeout=300)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
