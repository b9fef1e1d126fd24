// SPDX-License-Identifier: Apache-2.0
/// \file io/mapped_file.hpp
/// A read-only memory map of a whole file (POSIX mmap). Checkpoint readers hand out spans into it,
/// so tensor bytes are paged in on first touch and never copied. Depends on core/ only; host-only.
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include "../core/error.hpp"

namespace templlm::io {

/// RAII read-only mapping of one file; movable, not copyable. Spans from `bytes()` stay valid
/// across moves (the mapping itself does not move) until the owning object is destroyed.
/// If the file is truncated while mapped, touching a page past its new end raises SIGBUS: that
/// is how mmap works, and docs/reliability.md says what the user sees.
///
///   auto f = MappedFile::open("model.safetensors");
///   std::span<const std::byte> all = f.bytes();
class MappedFile {
 public:
  MappedFile() = default;

  /// Maps `path`. Throws IoError naming the file and the OS reason when it cannot be opened,
  /// is not a regular file, or cannot be mapped. An empty file gives an empty span, no mapping
  /// (mmap of length 0 is EINVAL).
  static MappedFile open(const std::filesystem::path& path) {
    MappedFile out;
    out.path_ = path;
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; the
    // flag does nothing to a regular file, and anything else is refused just below.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw IoError(path.string() + ": cannot open: " + errno_message());
    // The descriptor is only needed until mmap returns; the mapping keeps the file alive.
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st{};
    if (::fstat(fd, &st) != 0) throw IoError(path.string() + ": cannot stat: " + errno_message());
    if (!S_ISREG(st.st_mode))
      throw IoError(path.string() + ": expected a regular file, found " + file_kind(st.st_mode));
    if (st.st_size <= 0) return out;
    const auto size = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      throw IoError(path.string() + ": cannot map " + std::to_string(size) +
                    " bytes: " + errno_message());
    out.data_ = static_cast<const std::byte*>(p);
    out.size_ = size;
    return out;
  }

  MappedFile(MappedFile&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { unmap(); }

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  static std::string errno_message() { return std::system_category().message(errno); }

  static std::string file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a pipe";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
  }

  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace templlm::io
