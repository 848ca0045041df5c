// A minimal streaming JSON writer: enough for the CLI's --json outputs, with correct escaping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wino {

/// Builds one JSON document. Call begin_object/key/value/... in order; commas are automatic.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(int64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(double v);  // non-finite values are written as null
  JsonWriter& null();
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

/// Escapes a string for inclusion in JSON (quotes included).
std::string json_quote(std::string_view s);

}  // namespace wino
