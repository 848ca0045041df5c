#include "bench_rows.h"

#include "common/error.h"
#include "report_format.h"

namespace wino::cli {

void rank_layer(RowIt begin, RowIt end) {
  double direct_us = -1;
  for (RowIt r = begin; r != end; ++r)
    if (r->rankable() && r->report.plan == "direct") direct_us = r->time_us;
  RowIt best = end;
  for (RowIt r = begin; r != end; ++r) {
    if (!r->rankable()) continue;
    if (direct_us > 0) r->vs_direct = direct_us / r->time_us;
    if (best == end || r->time_us < best->time_us) best = r;
  }
  if (best != end) best->fastest = true;
}

void print_fastest(std::ostream& out, RowIt begin, RowIt end) {
  std::string wrong;
  for (RowIt r = begin; r != end; ++r)
    if (r->wrong()) wrong += (wrong.empty() ? "" : ", ") + r->plan;
  for (RowIt r = begin; r != end; ++r)
    if (r->fastest)
      out << "  fastest: " << r->report.plan
          << (r->report.m ? " F(" + std::to_string(r->report.m) + "," + std::to_string(r->report.r) + ")" : "")
          << fmt(" %.1f us", r->time_us) << (r->check ? "" : " (unchecked: add --check)") << "\n";
  if (!wrong.empty()) out << "  WRONG (not ranked): " << wrong << "\n";
}

void throw_if_wrong(const std::vector<Row>& rows) {
  std::string wrong;
  for (const Row& row : rows)
    if (row.wrong()) wrong += (wrong.empty() ? "" : ", ") + row.layer->name + " " + row.plan;
  if (!wrong.empty())
    throw Error("--check failed: over the tolerance of their F(m, r) (docs/accuracy.md): " + wrong);
}

}  // namespace wino::cli
