#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/error.h"
#include "common/random.h"
#include "common/tensor.h"
#include "io/npy.h"
#include "io/npy_format.h"

namespace wino {
namespace {

using testing::slurp;
using testing::TempDir;

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy file built by hand: magic, version, header length (2 bytes in 1.0, 4 in 2.0/3.0),
// the header text, then the data bytes as given.
std::string npy_bytes(int major, const std::string& header, const std::string& data) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t n = header.size(), len_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename F>
void expect_error(F&& f, const std::string& path, const std::string& word) {
  try {
    f();
    ADD_FAILURE() << "expected wino::Error mentioning '" << word << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "message '" << msg << "' lacks the path";
    EXPECT_NE(msg.find(word), std::string::npos) << "message '" << msg << "' lacks '" << word << "'";
  }
}

std::vector<std::string> dir_entries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
  return names;
}

TEST(Npy, RoundTripsBothDtypesAndManyShapes) {
  TempDir dir;
  const std::vector<Shape> shapes = {{}, {1}, {7}, {3, 5}, {2, 3, 4, 5}, {1, 1, 1, 1, 2}, {2, 0, 3}};
  uint64_t seed = 1;
  for (DType dtype : {DType::f32, DType::f64})
    for (const Shape& shape : shapes) {
      const std::string path = dir.file("t.npy");
      Tensor t = random_normal(dtype, shape, seed++);
      write_npy(path, t);
      Tensor back = read_npy(path);
      ASSERT_EQ(back.dtype(), dtype);
      ASSERT_EQ(back.shape(), shape);
      for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(back.get(i), t.get(i));
      // The data starts at a multiple of 64 and the file holds nothing more.
      const std::string bytes = slurp(path);
      const size_t item = dtype == DType::f32 ? 4 : 8;
      ASSERT_EQ((bytes.size() - t.numel() * item) % 64, 0u) << shape_string(shape);
    }
  // No temporary file is left behind.
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"t.npy"});
}

TEST(Npy, WritesNumpysHeaderLayout) {
  TempDir dir;
  const std::string path = dir.file("v.npy");
  write_npy(path, random_normal(DType::f64, {3}, 2));
  const std::string bytes = slurp(path);
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  ASSERT_EQ(bytes.size(), 128u + 3 * 8);  // 10 + 57 + 1 bytes of header, padded to 128
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8, 118);
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 118 - dict.size() - 1), std::string(60, ' '));
  EXPECT_EQ(bytes[127], '\n');

  write_npy(path, Tensor(DType::f32, {}));
  EXPECT_NE(slurp(path).find("'descr': '<f4', 'fortran_order': False, 'shape': (), }"),
            std::string::npos);
}

TEST(Npy, UsesVersion2WhenTheHeaderNeedsIt) {
  TempDir dir;
  const std::string path = dir.file("deep.npy");
  Shape shape(22000, 1);  // "1, " per dimension: a header longer than 65535 bytes
  shape[5] = 2;
  Tensor t = random_normal(DType::f32, shape, 3);
  write_npy(path, t);
  const std::string bytes = slurp(path);
  EXPECT_EQ(bytes[6], '\x02');
  EXPECT_EQ(bytes[7], '\x00');
  Tensor back = read_npy(path);
  ASSERT_EQ(back.shape(), shape);
  EXPECT_EQ(back.get(1), t.get(1));
}

TEST(Npy, ReadsHandWrittenVersions1To3) {
  TempDir dir;
  const std::string data = raw(std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f});
  // Keys in any order, either quote style, odd spacing, trailing commas, no padding.
  const std::vector<std::string> headers = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
      "{\"shape\":(2,3),'fortran_order':False,\"descr\":'<f4'}\n",
      "{ 'fortran_order' : False , 'descr' : '<f4' , 'shape' : ( 2 , 3 , ) , }",
  };
  for (int major = 1; major <= 3; ++major)
    for (const std::string& header : headers) {
      const std::string path = dir.file("v" + std::to_string(major) + ".npy");
      spit(path, npy_bytes(major, header, data));
      Tensor t = read_npy(path);
      ASSERT_EQ(t.dtype(), DType::f32);
      ASSERT_EQ(t.shape(), (Shape{2, 3}));
      EXPECT_EQ(t.get(0), 1.5);
      EXPECT_EQ(t.get(2), 3.25);
      EXPECT_EQ(t.get(5), 6.0);
    }
  const std::string path = dir.file("scalar.npy");
  spit(path, npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}\n",
                       raw(std::vector<double>{2.5})));
  Tensor s = read_npy(path);
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(s.get(0), 2.5);
  spit(path, npy_bytes(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}\n",
                       raw(std::vector<double>{-0.5})));
  EXPECT_EQ(read_npy(path).shape(), Shape{1});
}

TEST(Npy, RejectsUnsupportedArrays) {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  auto header = [](const std::string& descr, const std::string& fortran, const std::string& shape) {
    return "{'descr': " + descr + ", 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
  };
  const std::string four = raw(std::vector<double>{1, 2, 3, 4});
  auto check = [&](const std::string& h, const std::string& data, const std::string& word) {
    spit(path, npy_bytes(1, h, data));
    expect_error([&] { read_npy(path); }, path, word);
  };
  check(header("'<f8'", "True", "(2, 2)"), four, "Fortran-order arrays are not supported");
  check(header("'>f8'", "False", "(2, 2)"), four, "big-endian");
  check(header("'>f4'", "False", "(2, 2)"), four.substr(0, 16), "big-endian");
  check(header("'<i4'", "False", "(2, 2)"), four.substr(0, 16), "dtype '<i4'");
  check(header("'<f2'", "False", "(2, 3)"), four.substr(0, 8), "truncated data: shape (2, 3) of float16 needs 12 bytes");
  check(header("'>f2'", "False", "(2, 2)"), four.substr(0, 8), "big-endian");
  check(header("'<c8'", "False", "(2, 2)"), four, "dtype '<c8'");
  check(header("'|O'", "False", "(2, 2)"), four, "dtype '|O'");
  check(header("'|f4'", "False", "(2, 2)"), four.substr(0, 16), "byte order");
  check(header("[('a', '<f4'), ('b', '<f4')]", "False", "(2,)"), four.substr(0, 16), "dtype");
}

TEST(Npy, RejectsTruncatedAndTrailingData) {
  TempDir dir;
  const std::string path = dir.file("size.npy");
  const std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }\n";
  spit(path, npy_bytes(1, h, raw(std::vector<double>{1, 2, 3})));
  expect_error([&] { read_npy(path); }, path, "truncated");
  spit(path, npy_bytes(1, h, ""));
  expect_error([&] { read_npy(path); }, path, "truncated");
  // Trailing bytes mean the header's shape does not describe the file: an error, not ignored.
  spit(path, npy_bytes(1, h, raw(std::vector<double>{1, 2, 3, 4, 5})));
  expect_error([&] { read_npy(path); }, path, "trailing");
  // A shape of 2^40 elements in a tiny file: refused before anything is allocated.
  spit(path, npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,)}\n",
                       raw(std::vector<double>{1})));
  expect_error([&] { read_npy(path); }, path, "truncated");
  spit(path, npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, "
                          "1099511627776)}\n", ""));
  expect_error([&] { read_npy(path); }, path, "64 bits");
  spit(path, npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}\n",
                       ""));
  expect_error([&] { read_npy(path); }, path, "64 bits");
}

TEST(Npy, RejectsMalformedHeaders) {
  TempDir dir;
  const std::string path = dir.file("hdr.npy");
  const std::string four = raw(std::vector<float>{1, 2, 3, 4});
  auto check = [&](const std::string& bytes, const std::string& word) {
    spit(path, bytes);
    expect_error([&] { read_npy(path); }, path, word);
  };
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n";
  check("PK\x03\x04 not a numpy file at all", "magic");
  check("\x93NUM", "magic");
  check("", "magic");
  check(npy_bytes(4, good, four), "version 4.0");
  std::string minor = npy_bytes(1, good, four);
  minor[7] = 1;
  check(minor, "version 1.1");
  std::string beyond = npy_bytes(1, good, four);
  beyond[8] = '\xff', beyond[9] = '\x7f';
  check(beyond, "header length");
  check(npy_bytes(2, good, four).substr(0, 11), "header");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False}\n", four), "missing key 'shape'");
  check(npy_bytes(1, "{'shape': (4,), 'fortran_order': False}\n", four), "missing key 'descr'");
  check(npy_bytes(1, "{'descr': '<f4', 'shape': (4,)}\n", four), "missing key 'fortran_order'");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, x)}\n", four),
        "header");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4)}\n", four), "shape");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [4]}\n", four), "shape");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}\n", four), "negative");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}\n", four), "fortran_order");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}\n", four),
        "unexpected key 'x'");
  check(npy_bytes(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}\n",
                  four),
        "twice");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk\n", four),
        "header");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)\n", four), "header");
  check(npy_bytes(1, "{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}\n", four), "header");
  check(npy_bytes(1, "['descr', '<f4']\n", four), "header");
  check(npy_bytes(1, std::string("{'descr': '<f4',\0 'fortran_order': False, 'shape': (4,)}\n", 57),
                  four),
        "unexpected byte 0x00");
  check(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}\n",
                  four),
        "64 bits");
}

// A NUL or control byte from the file is shown escaped: what() is a C string, and a raw NUL
// would end the message there.
TEST(Npy, NonPrintableBytesInHeaderStringsAreEscaped) {
  TempDir dir;
  const std::string path = dir.file("nul.npy");
  const std::string four = raw(std::vector<float>{1, 2, 3, 4});
  const std::string nul_dtype("{'descr': '<f\0\x1b" "4', 'fortran_order': False, 'shape': (4,)}\n", 58);
  spit(path, npy_bytes(1, nul_dtype, four));
  try {
    read_npy(path);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unsupported dtype '<f\\x00\\x1b4'; only float32"), std::string::npos) << msg;
  }
  spit(path, npy_bytes(1, std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'k\0': 1}\n", 65),
                       four));
  expect_error([&] { read_npy(path); }, path, "unexpected key 'k\\x00'");
}

// NpyFile reads the header alone; the data is read (and allocated) only on read(), which
// first checks it against the memory available.
TEST(Npy, HeaderIsReadBeforeTheDataAndTheDataMustFitInMemory) {
  TempDir dir;
  const std::string path = dir.file("huge.npy");
  testing::write_sparse_f32_npy(path, {1 << 20, 1 << 18});  // 1 TiB
  NpyFile file(path);
  EXPECT_EQ(file.layout().shape, (Shape{1 << 20, 1 << 18}));
  EXPECT_EQ(file.layout().dtype, DType::f32);
  expect_error([&] { file.read(); }, path, "reading its data needs 1048576 MiB of memory but only");
  expect_error([&] { read_npy(path); }, path, "reading its data needs 1048576 MiB");
}

// A FIFO, a character device: refused without blocking (a FIFO has no writer here).
TEST(Npy, NonRegularFilesAreRefusedWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.file("x.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  testing::FifoUnblocker unblocker(fifo);  // a wrongly blocking open fails the test, not hangs it
  expect_error([&] { read_npy(fifo); }, fifo, "is a FIFO (named pipe), not a regular .npy file");
  EXPECT_FALSE(unblocker.unblocked()) << "read_npy waited for a writer";
  expect_error([&] { read_npy("/dev/null"); }, "/dev/null", "is a character device, not a regular .npy file");
}

TEST(Npy, MissingFileAndDirectory) {
  TempDir dir;
  const std::string missing = dir.file("nope.npy");
  expect_error([&] { read_npy(missing); }, missing, "not found");
  expect_error([&] { read_npy(missing); }, missing, "No such file");
  expect_error([&] { read_npy(dir.path().string()); }, dir.path().string(), "directory");
}

TEST(Npy, WriteReplacesAtomicallyAndReportsBadPaths) {
  TempDir dir;
  const std::string path = dir.file("out.npy");
  write_npy(path, random_normal(DType::f32, {4}, 4));
  Tensor next = random_normal(DType::f64, {2, 2}, 5);
  write_npy(path, next);
  Tensor back = read_npy(path);
  ASSERT_EQ(back.shape(), (Shape{2, 2}));
  EXPECT_EQ(back.get(3), next.get(3));
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"out.npy"});

  const std::string no_dir = dir.file("missing/out.npy");
  expect_error([&] { write_npy(no_dir, next); }, no_dir, "does not exist");
  const std::string under_file = path + "/x.npy";
  expect_error([&] { write_npy(under_file, next); }, under_file, "not a directory");
  expect_error([&] { write_npy(dir.path().string(), next); }, dir.path().string(), "directory");
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"out.npy"});

  if (geteuid() != 0) {  // root may write anywhere
    std::filesystem::create_directory(dir.file("ro"));
    std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_read |
                                                     std::filesystem::perms::owner_exec);
    const std::string ro = dir.file("ro/out.npy");
    expect_error([&] { write_npy(ro, next); }, ro, "not writable");
    std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_all);
  }
}

TEST(Npy, CharacterDevicesAreWrittenInPlace) {
  TempDir dir;
  const Tensor t = random_normal(DType::f32, {64}, 8);
  const std::string null = testing::char_device(dir, "null", 3), full = testing::char_device(dir, "full", 7);
  if (null.empty() || full.empty()) GTEST_SKIP() << "cannot make device nodes (root without CAP_MKNOD)";
  write_npy(null, t);
  EXPECT_TRUE(testing::is_char_device(null)) << null << " was replaced";
  expect_error([&] { write_npy(full, t); }, full, "write failed: No space left on device");
  EXPECT_TRUE(testing::is_char_device(full)) << full << " was replaced";
  for (const auto& name : dir_entries(dir.path())) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

TEST(Npy, FifoWithAReaderIsWrittenInPlaceAndWithoutOneIsRefused) {
  TempDir dir;
  const std::string fifo = dir.file("out.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const Tensor t = random_normal(DType::f32, {3, 5}, 9);
  expect_error([&] { write_npy(fifo, t); }, fifo, "is a FIFO with no reader");
  testing::FifoReader reader(fifo);
  write_npy(fifo, t);
  EXPECT_EQ(reader.take(), encode_npy(t));
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"out.fifo"});
}

TEST(Npy, SymlinkTargetIsWrittenAndTheLinkStays) {
  TempDir dir;
  const Tensor t = random_normal(DType::f32, {4}, 10);
  write_npy(dir.file("real.npy"), random_normal(DType::f32, {2}, 11));
  std::filesystem::create_symlink("real.npy", dir.file("link.npy"));  // relative, like ln -s
  write_npy(dir.file("link.npy"), t);
  EXPECT_TRUE(std::filesystem::is_symlink(dir.file("link.npy")));
  EXPECT_EQ(slurp(dir.file("real.npy")), encode_npy(t));
  // A dangling link: its target is created, as the shell's > would.
  std::filesystem::create_directory(dir.file("sub"));
  std::filesystem::create_symlink("sub/new.npy", dir.file("dangling.npy"));
  write_npy(dir.file("dangling.npy"), t);
  EXPECT_TRUE(std::filesystem::is_symlink(dir.file("dangling.npy")));
  EXPECT_EQ(slurp(dir.file("sub/new.npy")), encode_npy(t));
}

TEST(Npy, ReplacingAFileKeepsItsMode) {
  TempDir dir;
  const std::string path = dir.file("private.npy");
  write_npy(path, random_normal(DType::f32, {2}, 12));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  write_npy(path, random_normal(DType::f32, {3}, 13));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(read_npy(path).shape(), Shape{3});
}

// Runs in a death-test child: exits 0 when write_npy fails with a write error.
[[noreturn]] void write_with_size_limit(const std::string& path) {
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit limit{4096, 4096};
  setrlimit(RLIMIT_FSIZE, &limit);
  int code = 3;
  try {
    write_npy(path, random_normal(DType::f64, {1 << 17}, 7));
  } catch (const Error& e) {
    code = std::string(e.what()).find("write failed") != std::string::npos ? 0 : 4;
  }
  std::_Exit(code);
}

TEST(Npy, FailedWriteLeavesThePreviousFileUntouched) {
  TempDir dir;
  const std::string path = dir.file("keep.npy");
  write_npy(path, random_normal(DType::f32, {8}, 6));
  const std::string before = slurp(path);
  // In a child process, a 4 KiB file size limit makes the write of a 1 MiB tensor fail midway.
  EXPECT_EXIT(write_with_size_limit(path), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"keep.npy"});
}

}  // namespace
}  // namespace wino
