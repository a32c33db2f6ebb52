#include "nginx/nginx_builds.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "config/yaml_walk.h"

namespace netlens::nginx {
namespace {

// The offset fields, in the order of the YAML the generator writes.
struct OffsetField {
  std::string_view name;
  __u32 nl_nginx_build::*member;
};
constexpr std::array<OffsetField, 25> kOffsetFields = {{
    {"request_connection", &nl_nginx_build::request_connection},
    {"request_upstream_states", &nl_nginx_build::request_upstream_states},
    {"request_status", &nl_nginx_build::request_status},
    {"request_err_status", &nl_nginx_build::request_err_status},
    {"request_start_sec", &nl_nginx_build::request_start_sec},
    {"request_start_msec", &nl_nginx_build::request_start_msec},
    {"request_length", &nl_nginx_build::request_length},
    {"request_unparsed_uri", &nl_nginx_build::request_unparsed_uri},
    {"request_method_name", &nl_nginx_build::request_method_name},
    {"connection_sent", &nl_nginx_build::connection_sent},
    {"connection_local_sockaddr", &nl_nginx_build::connection_local_sockaddr},
    {"array_elts", &nl_nginx_build::array_elts},
    {"array_nelts", &nl_nginx_build::array_nelts},
    {"upstream_state_size", &nl_nginx_build::upstream_state_size},
    {"upstream_state_status", &nl_nginx_build::upstream_state_status},
    {"upstream_state_response_time", &nl_nginx_build::upstream_state_response_time},
    {"upstream_state_connect_time", &nl_nginx_build::upstream_state_connect_time},
    {"upstream_state_header_time", &nl_nginx_build::upstream_state_header_time},
    {"upstream_state_bytes_received", &nl_nginx_build::upstream_state_bytes_received},
    {"upstream_state_bytes_sent", &nl_nginx_build::upstream_state_bytes_sent},
    {"upstream_state_peer", &nl_nginx_build::upstream_state_peer},
    {"str_len", &nl_nginx_build::str_len},
    {"str_data", &nl_nginx_build::str_data},
    {"time_sec", &nl_nginx_build::time_sec},
    {"time_msec", &nl_nginx_build::time_msec},
}};

// No struct nginx has is this large: a bigger number is a typo, not a layout.
constexpr uint32_t kMaxOffset = 1 << 16;

uint32_t ParseOffset(const YamlField& field) {
  const std::string& text = field.Scalar("an offset in bytes");
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || error != std::errc() ||
      value >= kMaxOffset) {
    field.Fail("'" + field.path() + "' must be an offset in bytes below " +
               std::to_string(kMaxOffset) + ", got " + DescribeNode(field.value()));
  }
  return value;
}

void ParseOffsets(const YamlField& field, NginxBuild& build) {
  if (!field.value().IsMap()) field.FailExpected("a map of field offsets");
  std::array<std::string_view, kOffsetFields.size()> names{};
  for (size_t i = 0; i < kOffsetFields.size(); ++i) names[i] = kOffsetFields[i].name;
  std::array<bool, kOffsetFields.size()> seen{};
  ForEachKey(field.source(), field.value(), field.path(), {names},
             [&](size_t index, const YamlField& value) {
               build.offsets.*(kOffsetFields[index].member) = ParseOffset(value);
               seen[index] = true;
             });
  for (size_t i = 0; i < kOffsetFields.size(); ++i) {
    if (!seen[i]) {
      field.Fail("'" + field.path() + "' lacks '" + std::string(kOffsetFields[i].name) +
                 "' (scripts/nginx/gen-offsets.sh writes every field)");
    }
  }
  // The probe takes a zero start_sec offset for "no build" (phases.bpf.c).
  if (build.offsets.request_start_sec == 0 || build.offsets.upstream_state_size == 0) {
    field.Fail("'" + field.path() + "': request_start_sec and upstream_state_size cannot be 0");
  }
}

// The registers a probe site may keep r in (callee-saved: the function keeps r there across
// its calls).
constexpr std::array<std::pair<std::string_view, nl_nginx_request_at>, 6> kSiteRegisters = {{
    {"rbx", NL_NGINX_AT_SITE_RBX},
    {"rbp", NL_NGINX_AT_SITE_RBP},
    {"r12", NL_NGINX_AT_SITE_R12},
    {"r13", NL_NGINX_AT_SITE_R13},
    {"r14", NL_NGINX_AT_SITE_R14},
    {"r15", NL_NGINX_AT_SITE_R15},
}};

// "0f 84": one to 15 bytes (an x86 instruction's most), in hex, spaces between.
std::string ParseSiteBytes(const YamlField& field) {
  const std::string& text = field.NonEmptyScalar("instruction bytes in hex, as \"0f 84\"");
  std::string bytes;
  std::istringstream words(text);
  for (std::string word; words >> word;) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value, 16);
    if (word.size() != 2 || end != word.data() + word.size() || error != std::errc())
      field.Fail("'" + field.path() +
                 "' must be bytes in hex separated by spaces, as \"0f 84\"; got '" + word + "'");
    bytes.push_back(static_cast<char>(value));
  }
  if (bytes.empty() || bytes.size() > 15)
    field.Fail("'" + field.path() + "' must hold 1 to 15 bytes, got " +
               std::to_string(bytes.size()));
  return bytes;
}

ProbeSite ParseProbeSite(const YamlField& field) {
  if (!field.value().IsMap()) field.FailExpected("a map (offset, bytes, request_register)");
  ProbeSite site;
  std::array<bool, 3> seen{};
  constexpr std::array<std::string_view, 3> kKeys = {"offset", "bytes", "request_register"};
  ForEachKey(field.source(), field.value(), field.path(), {kKeys},
             [&](size_t index, const YamlField& value) {
               seen[index] = true;
               if (index == 0) {
                 site.offset = ParseOffset(value);
               } else if (index == 1) {
                 site.bytes = ParseSiteBytes(value);
               } else {
                 const std::string& name = value.NonEmptyScalar("a register: rbx, rbp, r12-r15");
                 const auto* found = std::find_if(kSiteRegisters.begin(), kSiteRegisters.end(),
                                                  [&](const auto& r) { return r.first == name; });
                 if (found == kSiteRegisters.end())
                   value.Fail("'" + value.path() +
                              "' must be one of rbx, rbp, r12, r13, r14, r15; got '" + name + "'");
                 site.request = found->second;
               }
             });
  if (!seen[0] || !seen[1] || !seen[2])
    field.Fail("'" + field.path() + "' needs offset, bytes and request_register");
  return site;
}

// kBuildTables: {file name, YAML text} of each daemon/nginx/builds/*.yaml
// (cmake/NginxBuilds.cmake).
#include "nginx_build_tables.inc"

}  // namespace

std::vector<NginxBuild> ParseBuilds(const std::string& source, const YAML::Node& list) {
  const YamlField whole(source, "builds", list, list);
  if (list.IsNull()) return {};
  if (!list.IsSequence()) whole.FailExpected("a list of {version, signature, offsets}");
  std::vector<NginxBuild> builds;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node node = list[i];
    const YamlField entry(source, "builds[" + std::to_string(i) + "]", node, node);
    if (!node.IsMap()) entry.FailExpected("a map (version, signature, offsets)");
    NginxBuild build;
    build.origin = entry.At();
    bool has_offsets = false;
    constexpr std::array<std::string_view, 4> kKeys = {"version", "signature", "offsets",
                                                       "probe_site"};
    ForEachKey(source, node, entry.path(), {kKeys}, [&](size_t index, const YamlField& value) {
      if (index == 0) {
        build.version = value.NonEmptyScalar("a version such as 1.22.1");
      } else if (index == 1) {
        build.signature = value.NonEmptyScalar("nginx's module signature");
      } else if (index == 2) {
        ParseOffsets(value, build);
        has_offsets = true;
      } else {
        build.site = ParseProbeSite(value);
      }
    });
    if (build.version.empty() || build.signature.empty() || !has_offsets) {
      entry.Fail("'" + entry.path() + "' needs version, signature and offsets");
    }
    builds.push_back(std::move(build));
  }
  return builds;
}

const std::vector<NginxBuild>& KnownBuilds() {
  static const std::vector<NginxBuild> builds = [] {
    std::vector<NginxBuild> all;
    for (const auto& [name, text] : kBuildTables) {
      auto some = ParseBuilds("builds/" + std::string(name),
                              LoadSingleDocument(std::string(text), std::string(name)));
      all.insert(all.end(), some.begin(), some.end());
    }
    return all;
  }();
  return builds;
}

BinaryIdentity IdentifyBinary(std::string_view image, const std::vector<NginxBuild>& builds) {
  // A C string in the file: the text and its terminating NUL.
  const auto holds = [&](const std::string& text) {
    return image.find(std::string_view(text.c_str(), text.size() + 1)) != std::string_view::npos;
  };
  BinaryIdentity identity;
  for (size_t i = 0; i < builds.size() && !identity.build; ++i) {
    if (holds("nginx/" + builds[i].version) && holds(builds[i].signature)) identity.build = i;
  }
  if (identity.build) {
    identity.version = builds[*identity.build].version;
    return identity;
  }
  constexpr std::string_view kMarker = "nginx/";
  for (size_t at = image.find(kMarker); at != std::string_view::npos;
       at = image.find(kMarker, at + 1)) {
    size_t end = at + kMarker.size();
    while (end < image.size() &&
           (std::isdigit(static_cast<unsigned char>(image[end])) || image[end] == '.'))
      ++end;
    if (end > at + kMarker.size() && end < image.size() && image[end] == '\0') {
      identity.version = std::string(image.substr(at + kMarker.size(), end - at - kMarker.size()));
      break;
    }
  }
  return identity;
}

}  // namespace netlens::nginx
