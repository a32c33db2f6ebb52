// CgroupDirectory: id -> path from a listing of a directory tree (a cgroup's id is its
// directory's inode), over a temporary tree that stands in for /sys/fs/cgroup.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "process/cgroup_directory.h"

using namespace netlens;
using namespace std::chrono_literals;

namespace {

uint64_t InodeOf(const std::filesystem::path& path) {
  struct stat status {};
  REQUIRE(stat(path.c_str(), &status) == 0);
  return status.st_ino;
}

struct TempTree {
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("netlens-cgroups-" + std::to_string(getpid()));
  TempTree() { std::filesystem::create_directories(root / "a" / "b"); }
  ~TempTree() { std::filesystem::remove_all(root); }
};

}  // namespace

TEST_CASE("cgroup directory: a cgroup made after a listing is found at once, by a new listing") {
  TempTree tree;
  CgroupDirectory directory(tree.root.string(), 100);
  const auto listing = directory.List();
  CHECK(listing.paths.size() == 3);  // "/", "/a", "/a/b"
  CHECK(listing.paths.at(InodeOf(tree.root / "a" / "b")) == "/a/b");
  CHECK_FALSE(listing.full);

  std::filesystem::create_directory(tree.root / "new");
  const CgroupDirectory::Lookup lookup = directory.Find(InodeOf(tree.root / "new"), 1h);
  CHECK(lookup.listed);
  REQUIRE(lookup.path);
  CHECK(*lookup.path == "/new");
  CHECK(directory.Known(InodeOf(tree.root / "new")) == "/new");
}

TEST_CASE("cgroup directory: an id a listing missed lists again only after relist_after") {
  TempTree tree;
  CgroupDirectory directory(tree.root.string(), 100);
  constexpr uint64_t kGone = 0xdead'beef'0000;  // no directory has this inode
  CHECK(directory.Find(kGone, 1h).listed);      // first miss: listed
  const CgroupDirectory::Lookup again = directory.Find(kGone, 1h);
  CHECK_FALSE(again.listed);  // missed by that listing: not within the hour
  CHECK_FALSE(again.path);
  CHECK(directory.Find(kGone, 0s).listed);  // past relist_after: listed again
}

TEST_CASE("cgroup directory: a listing keeps at most capacity cgroups and says it was full") {
  TempTree tree;
  CgroupDirectory directory(tree.root.string(), 2);
  const auto listing = directory.List();
  CHECK(listing.paths.size() == 2);
  CHECK(listing.full);
}
