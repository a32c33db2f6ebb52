#!/bin/bash
# Writes the struct offsets of an nginx build that netlens' nginx phases (issue 17) read, as one
# YAML entry of the table in daemon/nginx/builds/: the build's version and module signature
# (which the daemon checks against the binary), then offsetof() of every field read.
#
#   scripts/nginx/gen-offsets.sh [NGINX_BINARY] > daemon/nginx/builds/NAME.yaml
#
# How: nginx's headers and configure come from nginx-dev (Debian; installed if missing). A copy
# is configured with the arguments `NGINX_BINARY -V` prints, without its dynamic modules (they
# add no field to the structs read here, and need their libraries' headers), which gives the
# objs/ngx_auto_config.h the binary was built with; a small program then prints the offsets.
# Checked on Debian 12's nginx 1.22.1: the offsets match the running binary's (request
# headers_out.status 648, start_sec 960, start_msec 968) and so does the signature string.
set -euo pipefail

binary=${1:-/usr/sbin/nginx}
source_dir=/usr/share/nginx/src
if [[ ! -x $source_dir/configure ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-dev >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir" "$work/nginx"

# The configure arguments, as the shell would split them (they hold quoted --with-cc-opt).
arguments=$("$binary" -V 2>&1 | sed -n 's/^configure arguments: //p')
[[ -n $arguments ]] || { echo "gen-offsets: $binary -V prints no configure arguments" >&2; exit 2; }
eval "all=($arguments)"
kept=()
for argument in "${all[@]}"; do
  case $argument in
    --with-*=dynamic | --add-dynamic-module=* | --add-module=*) ;;
    *) kept+=("$argument") ;;
  esac
done
(cd "$work/nginx" && ./configure "${kept[@]}" >"$work/configure.log" 2>&1) ||
  { echo "gen-offsets: configure failed, see below" >&2; tail -20 "$work/configure.log" >&2; exit 2; }

cat >"$work/offsets.c" <<'PROGRAM'
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <stdio.h>
#define FIELD(name, type, member) printf("    %s: %zu\n", name, offsetof(type, member))
int main(void) {
  printf("- version: \"%s\"\n  signature: \"%s\"\n  offsets:\n", NGINX_VERSION,
         NGX_MODULE_SIGNATURE);
  FIELD("request_connection", ngx_http_request_t, connection);
  FIELD("request_upstream_states", ngx_http_request_t, upstream_states);
  FIELD("request_status", ngx_http_request_t, headers_out.status);
  FIELD("request_err_status", ngx_http_request_t, err_status);
  FIELD("request_start_sec", ngx_http_request_t, start_sec);
  FIELD("request_start_msec", ngx_http_request_t, start_msec);
  FIELD("request_length", ngx_http_request_t, request_length);
  FIELD("request_unparsed_uri", ngx_http_request_t, unparsed_uri);
  FIELD("request_method_name", ngx_http_request_t, method_name);
  FIELD("connection_sent", ngx_connection_t, sent);
  FIELD("connection_local_sockaddr", ngx_connection_t, local_sockaddr);
  FIELD("array_elts", ngx_array_t, elts);
  FIELD("array_nelts", ngx_array_t, nelts);
  printf("    upstream_state_size: %zu\n", sizeof(ngx_http_upstream_state_t));
  FIELD("upstream_state_status", ngx_http_upstream_state_t, status);
  FIELD("upstream_state_response_time", ngx_http_upstream_state_t, response_time);
  FIELD("upstream_state_connect_time", ngx_http_upstream_state_t, connect_time);
  FIELD("upstream_state_header_time", ngx_http_upstream_state_t, header_time);
  FIELD("upstream_state_bytes_received", ngx_http_upstream_state_t, bytes_received);
  FIELD("upstream_state_bytes_sent", ngx_http_upstream_state_t, bytes_sent);
  FIELD("upstream_state_peer", ngx_http_upstream_state_t, peer);
  FIELD("str_len", ngx_str_t, len);
  FIELD("str_data", ngx_str_t, data);
  FIELD("time_sec", ngx_time_t, sec);
  FIELD("time_msec", ngx_time_t, msec);
  return 0;
}
PROGRAM
includes=()
for dir in src/core src/event src/event/modules src/os/unix objs src/http src/http/modules \
  src/http/v2; do
  includes+=(-I "$work/nginx/$dir")
done
cc "${includes[@]}" -o "$work/offsets" "$work/offsets.c"
echo "# $("$binary" -v 2>&1), $(dpkg -S "$(readlink -f "$binary")" 2>/dev/null | cut -d: -f1)" \
  "$(dpkg-query -W -f='${Version} ${Architecture}' nginx 2>/dev/null || true);" \
  "written by scripts/nginx/gen-offsets.sh"
"$work/offsets"
