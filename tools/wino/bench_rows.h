// The rows of `wino bench` and how they are ranked: a row whose --check failed is marked wrong,
// gets no speed-up and is never the fastest; any wrong row makes the command fail.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "io/layers_file.h"
#include "reference/reference_check.h"
#include "wino/wino.h"

namespace wino::cli {

struct Row {
  const io::Layer* layer = nullptr;
  std::string plan;
  Report report;
  double time_us = -1, gflops = -1, vs_direct = -1;
  std::optional<CheckVerdict> check;  // with --check
  bool sampled = false;
  bool fastest = false;  // the fastest row of its layer among those that ran and passed the check
  std::string error;     // why the plan did not run on this layer

  bool wrong() const { return check && check->kind == CheckVerdict::Kind::fail; }
  bool rankable() const { return error.empty() && !wrong(); }
};

using RowIt = std::vector<Row>::iterator;

/// Sets vs_direct and `fastest` over the rows of one layer, among rows that ran and were not wrong.
void rank_layer(RowIt begin, RowIt end);

/// "  fastest: unfused F(4,3) 12.5 us" and the wrong rows of one layer, after its table rows.
void print_fastest(std::ostream& out, RowIt begin, RowIt end);

/// Throws wino::Error naming every wrong row ("--check failed: ...") when there is one.
void throw_if_wrong(const std::vector<Row>& rows);

}  // namespace wino::cli
