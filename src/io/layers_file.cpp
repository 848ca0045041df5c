#include "io/layers_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace wino::io {

namespace {

constexpr const char* kColumns = "name N C K H W R S pad [stride]";

int64_t parse_column(const std::string& text, const char* column, int64_t lo, const std::string& where) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && ptr == end && v >= (int64_t{1} << 31)))
    throw Error(where + "column " + column + ": '" + text + "' is too large");
  if (ec != std::errc() || ptr != end)
    throw Error(where + "column " + column + ": '" + text + "' is not an integer");
  if (v < lo)
    throw Error(where + "column " + column + " must be >= " + std::to_string(lo) + ", got " + text);
  return v;
}

}  // namespace

std::vector<Layer> parse_layers(std::istream& in, const std::string& filename) {
  std::vector<Layer> layers;
  std::string text;
  for (int line_no = 1; std::getline(in, text); ++line_no) {
    if (size_t hash = text.find('#'); hash != std::string::npos) text.resize(hash);
    std::istringstream fields(text);
    std::vector<std::string> cols;
    for (std::string f; fields >> f;) cols.push_back(f);
    if (cols.empty()) continue;
    const std::string where = filename + ":" + std::to_string(line_no) + ": ";
    if (cols.size() != 9 && cols.size() != 10)
      throw Error(where + "expected 9 or 10 columns (" + kColumns + "), got " + std::to_string(cols.size()));
    Layer l;
    l.name = cols[0];
    l.line = line_no;
    ConvDesc& d = l.desc;
    d.n = parse_column(cols[1], "N", 1, where);
    d.c = parse_column(cols[2], "C", 1, where);
    d.k = parse_column(cols[3], "K", 1, where);
    d.h = parse_column(cols[4], "H", 1, where);
    d.w = parse_column(cols[5], "W", 1, where);
    d.r = parse_column(cols[6], "R", 1, where);
    d.s = parse_column(cols[7], "S", 1, where);
    d.pad = Padding::all(parse_column(cols[8], "pad", 0, where));
    if (cols.size() == 10) d.stride = parse_column(cols[9], "stride", 1, where);
    try {
      validate(d);
    } catch (const Error& e) {
      throw Error(where + l.name + ": " + e.what());
    }
    for (const Layer& other : layers)
      if (other.name == l.name)
        throw Error(where + "layer name '" + l.name + "' already used on line " +
                    std::to_string(other.line));
    layers.push_back(std::move(l));
  }
  if (in.bad()) throw Error(filename + ": read error");
  if (layers.empty()) throw Error(filename + ": no layers (expected lines of " + kColumns + ")");
  return layers;
}

std::vector<Layer> read_layers_file(const std::string& path) {
  // stat() first: a directory opens "successfully", and a FIFO would block until a writer comes.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    throw Error("cannot open layer file '" + path + "': " +
                (err == ENOENT ? "file not found (No such file or directory)" : std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) throw Error("cannot open layer file '" + path + "': is a directory, not a layer file");
  if (!S_ISREG(st.st_mode)) throw Error("cannot open layer file '" + path + "': not a regular file");
  std::ifstream in(path);
  if (!in) throw Error("cannot open layer file '" + path + "': " + std::strerror(errno));
  return parse_layers(in, path);
}

std::vector<const Layer*> select_layers(const std::vector<Layer>& layers,
                                        const std::vector<std::string>& names,
                                        const std::string& filename) {
  std::vector<const Layer*> selected;
  if (names.empty()) {
    for (const Layer& l : layers) selected.push_back(&l);
    return selected;
  }
  for (const std::string& name : names) {
    auto it = std::find_if(layers.begin(), layers.end(), [&](const Layer& l) { return l.name == name; });
    if (it == layers.end()) {
      std::string known;
      for (const Layer& l : layers) known += (known.empty() ? "" : ", ") + l.name;
      throw Error("no layer '" + name + "' in " + filename + " (layers: " + known + ")");
    }
    selected.push_back(&*it);
  }
  return selected;
}

}  // namespace wino::io
