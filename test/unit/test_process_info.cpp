// Process metadata: /proc/PID/cgroup lines as real hosts write them, the stat
// start time, and reading a whole process from a proc root laid out in a temp dir.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "process/process_info.h"

using netlens::CgroupInfo;
using netlens::ParseProcCgroup;

namespace {

constexpr const char* kDockerId =
    "3f4b2c1d5e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c";
constexpr const char* kPodUid = "8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";

struct Case {
  const char* name;
  std::string text;  // /proc/PID/cgroup content
  CgroupInfo want;
};

CgroupInfo Want(std::string path, std::string container_id, std::string runtime,
                std::string pod_uid, std::string qos, std::string unit, std::string slice) {
  return {std::move(path), std::move(container_id), std::move(runtime), std::move(pod_uid),
          std::move(qos),  std::move(unit),         std::move(slice)};
}

}  // namespace

TEST_CASE("cgroup lines of docker, containerd, cri-o, systemd, kubepods and cgroup v1") {
  const std::string id = kDockerId;
  const std::string uid = kPodUid;
  std::string uid_ = uid;  // systemd slice names write the pod uid with '_'
  for (char& c : uid_)
    if (c == '-') c = '_';

  const std::vector<Case> cases = {
      {"systemd service (v2)", "0::/system.slice/nginx.service\n",
       Want("/system.slice/nginx.service", "", "", "", "", "nginx.service", "system.slice")},
      {"user session scope (v2)", "0::/user.slice/user-1000.slice/session-3.scope\n",
       Want("/user.slice/user-1000.slice/session-3.scope", "", "", "", "", "session-3.scope",
            "user-1000.slice")},
      {"user service under user@ (v2)",
       "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.service\n",
       Want("/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.service", "", "", "",
            "", "app-foo.service", "app.slice")},
      {"slice only (v2)", "0::/system.slice\n",
       Want("/system.slice", "", "", "", "", "", "system.slice")},
      {"root (v2)", "0::/\n", Want("/", "", "", "", "", "", "")},
      {"docker, systemd driver (v2)", "0::/system.slice/docker-" + id + ".scope\n",
       Want("/system.slice/docker-" + id + ".scope", id, "docker", "", "", "", "system.slice")},
      {"docker, cgroupfs driver (v2)", "0::/docker/" + id + "\n",
       Want("/docker/" + id, id, "docker", "", "", "", "")},
      {"podman (v2)",
       "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope\n",
       Want("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope", id,
            "podman", "", "", "user@1000.service", "user.slice")},
      {"containerd kubepods burstable, systemd driver (v2)",
       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ +
           ".slice/cri-containerd-" + id + ".scope\n",
       Want("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ +
                ".slice/cri-containerd-" + id + ".scope",
            id, "containerd", uid, "burstable", "", "kubepods-burstable-pod" + uid_ + ".slice")},
      {"cri-o kubepods besteffort, systemd driver (v2)",
       "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
           ".slice/crio-" + id + ".scope\n",
       Want("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
                ".slice/crio-" + id + ".scope",
            id, "cri-o", uid, "besteffort", "", "kubepods-besteffort-pod" + uid_ + ".slice")},
      {"kubepods guaranteed, systemd driver (v2)",
       "0::/kubepods.slice/kubepods-pod" + uid_ + ".slice/cri-containerd-" + id + ".scope\n",
       Want("/kubepods.slice/kubepods-pod" + uid_ + ".slice/cri-containerd-" + id + ".scope", id,
            "containerd", uid, "guaranteed", "", "kubepods-pod" + uid_ + ".slice")},
      {"kubepods burstable, cgroupfs driver (v2)",
       "0::/kubepods/burstable/pod" + uid + "/" + id + "\n",
       Want("/kubepods/burstable/pod" + uid + "/" + id, id, "", uid, "burstable", "", "")},
      {"kubepods besteffort, cgroupfs driver (v1)",
       "12:memory:/kubepods/besteffort/pod" + uid + "/" + id + "\n" +
           "11:cpu,cpuacct:/kubepods/besteffort/pod" + uid + "/" + id + "\n",
       Want("/kubepods/besteffort/pod" + uid + "/" + id, id, "", uid, "besteffort", "", "")},
      {"kubepods guaranteed, cgroupfs driver (v2)", "0::/kubepods/pod" + uid + "/" + id + "\n",
       Want("/kubepods/pod" + uid + "/" + id, id, "", uid, "guaranteed", "", "")},
      {"pod sandbox cgroup without container (v2)",
       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ + ".slice\n",
       Want("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ + ".slice", "",
            "", uid, "burstable", "", "kubepods-burstable-pod" + uid_ + ".slice")},
      {"docker on cgroup v1 (all controllers)",
       "12:pids:/docker/" + id + "\n11:memory:/docker/" + id + "\n1:name=systemd:/docker/" + id +
           "\n0::/\n",
       Want("/docker/" + id, id, "docker", "", "", "", "")},
      {"systemd service on cgroup v1",
       "11:devices:/system.slice/sshd.service\n"
       "4:cpu,cpuacct:/system.slice/sshd.service\n"
       "3:freezer:/\n"
       "1:name=systemd:/system.slice/sshd.service\n",
       Want("/system.slice/sshd.service", "", "", "", "", "sshd.service", "system.slice")},
      {"hybrid: v2 root, v1 name=systemd names the unit",
       "5:memory:/\n1:name=systemd:/system.slice/cron.service\n0::/\n",
       Want("/system.slice/cron.service", "", "", "", "", "cron.service", "system.slice")},
      {"hybrid: v2 path wins when it names a cgroup",
       "1:name=systemd:/system.slice/cron.service\n0::/system.slice/cron.service\n",
       Want("/system.slice/cron.service", "", "", "", "", "cron.service", "system.slice")},
      {"cri-o conmon is a unit, not the container",
       "0::/system.slice/crio-conmon-" + id + ".scope\n",
       Want("/system.slice/crio-conmon-" + id + ".scope", "", "", "", "",
            "crio-conmon-" + id + ".scope", "system.slice")},
      {"a path with ':' in it", "0::/weird:name/x.service\n",
       Want("/weird:name/x.service", "", "", "", "", "x.service", "")},
      {"a 32-hex directory is no container id (v1 memory line of a sandbox)",
       "4:memory:/process_api/0d535389cdf2894713d3d1458d5ee8bd\n1:name=systemd:/\n0::/\n",
       Want("/process_api/0d535389cdf2894713d3d1458d5ee8bd", "", "", "", "", "", "")},
      {"ECS: task id, then the 64-hex container id (v1)",
       "3:cpu:/ecs/0d535389cdf2894713d3d1458d5ee8bd/" + id + "\n",
       Want("/ecs/0d535389cdf2894713d3d1458d5ee8bd/" + id, id, "", "", "", "", "")},
      {"empty file", "", Want("", "", "", "", "", "", "")},
      {"garbage", "not a cgroup line\n::\n", Want("", "", "", "", "", "", "")},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const CgroupInfo got = ParseProcCgroup(c.text);
    CHECK(got.path == c.want.path);
    CHECK(got.container_id == c.want.container_id);
    CHECK(got.runtime == c.want.runtime);
    CHECK(got.pod_uid == c.want.pod_uid);
    CHECK(got.qos_class == c.want.qos_class);
    CHECK(got.systemd_unit == c.want.systemd_unit);
    CHECK(got.systemd_slice == c.want.systemd_slice);
  }
}

TEST_CASE("stat start time is field 22, whatever comm holds") {
  const std::string tail =
      " S 1 1234 1234 0 -1 4194560 1000 0 0 0 5 3 0 0 20 0 1 0 987654 12345678 300 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  REQUIRE(netlens::ParseStatStartTime("1234 (nginx)" + tail) == 987654u);
  REQUIRE(netlens::ParseStatStartTime("1234 (a) b (c) d)" + tail) == 987654u);
  REQUIRE(netlens::ParseStatStartTime("1234 (x y)" + tail) == 987654u);
  REQUIRE_FALSE(netlens::ParseStatStartTime("no parenthesis").has_value());
  REQUIRE_FALSE(netlens::ParseStatStartTime("1 (short) S 1 2 3").has_value());
  REQUIRE_FALSE(netlens::ParseStatStartTime("1 (bad)" + std::string(" x") + std::string(20, 'y'))
                    .has_value());
}

TEST_CASE("a process read from a proc root") {
  char pattern[] = "/tmp/netlens-proc.XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const std::filesystem::path root = pattern;
  const auto dir = root / "4242";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "stat") << "4242 (my app) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                                 "555 0 0\n";
  std::ofstream(dir / "comm") << "my app\n";
  std::ofstream(dir / "cgroup") << "0::/system.slice/myapp.service\n";
  std::filesystem::create_symlink("/usr/bin/myapp (deleted)", dir / "exe");

  const auto info = netlens::ReadProcessInfo(4242, root.string());
  REQUIRE(info.has_value());
  CHECK(info->pid == 4242);
  CHECK(info->comm == "my app");
  CHECK(info->exe == "/usr/bin/myapp");
  CHECK(info->start_time_ticks == 555);
  CHECK(info->cgroup.path == "/system.slice/myapp.service");
  CHECK(info->cgroup.systemd_unit == "myapp.service");
  CHECK(info->cgroup_v2_path == "/system.slice/myapp.service");
  CHECK_FALSE(netlens::ReadProcessInfo(4243, root.string()).has_value());
  std::filesystem::remove_all(root);
}

TEST_CASE("the cgroup v2 mount, also on hybrid hosts") {
  char pattern[] = "/tmp/netlens-mounts.XXXXXX";
  const int fd = mkstemp(pattern);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(pattern) << "tmpfs /sys/fs/cgroup tmpfs ro,nosuid 0 0\n"
                            "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0\n"
                            "cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n";
  CHECK(netlens::CgroupV2Root(pattern) == "/sys/fs/cgroup/unified");
  std::ofstream(pattern) << "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
  CHECK_FALSE(netlens::CgroupV2Root(pattern).has_value());
  unlink(pattern);
}

TEST_CASE("this process read from /proc") {
  const auto info = netlens::ReadProcessInfo(static_cast<uint32_t>(getpid()));
  REQUIRE(info.has_value());
  CHECK(info->exe == std::filesystem::read_symlink("/proc/self/exe").string());
  CHECK(info->start_time_ticks > 0);
  CHECK_FALSE(info->cgroup.path.empty());
  struct stat st {};
  REQUIRE(stat("/proc/self/ns/net", &st) == 0);
  CHECK(netlens::ReadNetnsInode(static_cast<uint32_t>(getpid())) == st.st_ino);
}
