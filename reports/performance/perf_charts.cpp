#include "reports/performance/perf_charts.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "datasets/atomic_output.hpp"
#include "reports/performance/perf_gnuplot.hpp"
#include "reports/performance/perf_palette.hpp"
#include "reports/performance/perf_tables.hpp"

namespace attn::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

// gnuplot string literal in double quotes.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Safe file stem: letters, digits, '-', '_', '.'.
std::string stem(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out;
}

// Tics 1-2-5 per decade covering [lo, hi].
std::vector<double> log_tics(double lo, double hi) {
  std::vector<double> tics;
  for (int e = int(std::floor(std::log10(lo))) - 1; e <= int(std::ceil(std::log10(hi))) + 1; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e);
      if (v >= lo && v <= hi) tics.push_back(v);
    }
  return tics;
}

// One chart of a per-backend value vs L at (workload train_step, T).
ChartSpec per_backend_chart(const PerfRun& run, const std::string& preset, std::int64_t T, const std::string& kind,
                            const std::string& title, const std::string& ylabel, bool log_y,
                            double (*value)(const PerfResult&), bool error_bars) {
  ChartSpec c;
  c.id = kind + "_" + stem(preset);
  c.preset = preset;
  c.title = preset + ": " + title + " (training step, T = " + std::to_string(T) + ")";
  c.xlabel = "sequence length L (tokens)";
  c.ylabel = ylabel;
  c.log_y = log_y;
  for (std::int64_t L : distinct_L(run, preset, "train_step", T)) c.x_values.push_back(double(L));
  std::map<double, int> slots;  // stacked markers per x
  for (const std::string& b : backends_of(run, preset)) {
    ChartSeries s;
    s.label = b;
    s.color = backend_color(b);
    s.dash = backend_dash(b);
    bool present = false;
    for (double x : c.x_values) {
      const PerfResult* r = run.find("train_step", b, preset, std::int64_t(x), T);
      if (!r) continue;
      present = true;
      if (!r->ok()) {
        c.markers.push_back({x, b + " " + status_name(r->status), s.color, slots[x]++});
        continue;
      }
      const double y = value(*r);
      if (!std::isfinite(y) || (log_y && y <= 0)) continue;
      double lo = y, hi = y;
      if (error_bars && std::isfinite(r->min_ms) && std::isfinite(r->max_ms)) {
        lo = r->min_ms;
        hi = r->max_ms;
      }
      s.points.push_back({x, y, lo, hi});
    }
    if (present) c.series.push_back(std::move(s));
  }
  return c;
}

double median_ms(const PerfResult& r) { return r.median_ms; }
double peak_mem(const PerfResult& r) { return r.peak_mem_gib; }
double tflops(const PerfResult& r) { return r.tflops; }
double pct_gemm(const PerfResult& r) { return r.pct_of_gemm; }
// (max - min) / median of the repetitions in %; NaN with fewer than two.
double spread_pct(const PerfResult& r) {
  if (r.samples_ms.size() < 2 || !(r.median_ms > 0)) return kNaN;
  return 100.0 * (r.max_ms - r.min_ms) / r.median_ms;
}

// Distinct T (or L) of train_step over every preset: the overhead schemes' shades follow the
// value, the same in every preset's chart.
std::vector<std::int64_t> run_values(const PerfRun& run, bool want_T) {
  std::set<std::int64_t> v;
  for (const auto& [k, r] : run.results)
    if (k.structured() && k.workload == "train_step") v.insert(want_T ? k.T : k.L);
  return {v.begin(), v.end()};
}

double overhead(const PerfRun& run, const std::string& preset, std::int64_t L, std::int64_t T) {
  const PerfResult* fl = run.find("train_step", "flash", preset, L, T);
  const PerfResult* fo = run.find("train_step", "floor", preset, L, T);
  if (!fl || !fo || !fl->ok() || !fo->ok() || !(fo->median_ms > 0)) return kNaN;
  return fl->median_ms / fo->median_ms;
}

}  // namespace

bool ChartSpec::empty() const {
  for (const auto& s : series)
    if (!s.points.empty()) return false;
  return true;
}

std::vector<ChartSpec> build_charts(const PerfRun& run) {
  std::vector<ChartSpec> charts;
  auto keep = [&](ChartSpec c) {
    if (!c.empty()) charts.push_back(std::move(c));
  };
  const std::vector<std::int64_t> all_T = run_values(run, true), all_L = run_values(run, false);
  for (const std::string& p : run.presets) {
    const std::int64_t T = chosen_T(run, p);
    keep(per_backend_chart(run, p, T, "latency", "step time", "median step time (ms, log scale; bars: fastest to slowest repetition)", true, median_ms, true));
    ChartSpec spread = per_backend_chart(run, p, T, "spread", "spread of the repetitions",
                                         "(slowest - fastest) / median repetition (%)", false, spread_pct, false);
    spread.markers.clear();  // the step-time chart already marks what did not run
    keep(spread);
    keep(per_backend_chart(run, p, T, "memory", "peak memory", "peak GPU memory above inputs (GiB, log scale)", true,
                           peak_mem, false));
    ChartSpec tf = per_backend_chart(run, p, T, "tflops", "throughput", "useful TFLOP/s", false, tflops, false);
    // The GEMM rate measured in the same run: the ceiling the TFLOP/s are compared with.
    std::vector<double> gemm;
    for (const auto& [k, r] : run.results)
      if (k.structured() && k.preset == p && r.ok() && std::isfinite(r.gemm_tflops)) gemm.push_back(r.gemm_tflops);
    if (!gemm.empty()) {
      tf.reference_line = median_of(gemm);
      tf.reference_label = "bf16 GEMM " + std::to_string(int(std::lround(tf.reference_line))) + " TFLOP/s";
    }
    keep(tf);
    ChartSpec pg = per_backend_chart(run, p, T, "pct_gemm", "share of the GEMM rate", "% of measured bf16 GEMM TFLOP/s",
                                     false, pct_gemm, false);
    keep(pg);

    // TTT overhead vs L, one line per T.
    const std::vector<std::int64_t> Ts = distinct_T(run, p, "train_step");
    ChartSpec ov;
    ov.id = "overhead_" + stem(p);
    ov.preset = p;
    ov.title = p + ": TTT overhead, flash / floor (training step)";
    ov.xlabel = "sequence length L (tokens)";
    ov.ylabel = "step time flash / floor (×)";
    ov.reference_line = 1.0;
    ov.zero_based = false;
    ov.reference_label = "no overhead";
    ov.key_title = "line colour: TTT length T (darker: larger)";
    std::set<std::int64_t> Ls;
    for (std::int64_t T2 : Ts) {
      ChartSeries s;
      s.label = "T = " + std::to_string(T2);
      s.color = t_color(T2, all_T);
      s.point = 5;
      for (std::int64_t L : distinct_L(run, p, "train_step", T2)) {
        const double v = overhead(run, p, L, T2);
        if (std::isfinite(v)) {
          s.points.push_back({double(L), v, v, v});
          Ls.insert(L);
        }
      }
      if (!s.points.empty()) ov.series.push_back(std::move(s));
    }
    for (std::int64_t L : Ls) ov.x_values.push_back(double(L));
    keep(ov);

    // ... and vs T, one line per L, when several T were measured.
    if (Ts.size() > 1) {
      ChartSpec ot;
      ot.id = "overhead_T_" + stem(p);
      ot.preset = p;
      ot.title = p + ": TTT overhead vs T, flash / floor (training step)";
      ot.xlabel = "TTT length T (draft steps)";
      ot.ylabel = "step time flash / floor (×)";
      ot.x_is_L = false;
      ot.reference_line = 1.0;
      ot.zero_based = false;
      ot.reference_label = "no overhead";
      ot.key_title = "line colour: sequence length L (darker: longer)";
      for (std::int64_t T2 : Ts) ot.x_values.push_back(double(T2));
      for (std::int64_t L : Ls) {
        ChartSeries s;
        s.label = "L = " + short_L(L);
        s.color = l_color(L, all_L);
        s.point = 9;
        for (std::int64_t T2 : Ts) {
          const double v = overhead(run, p, L, T2);
          if (std::isfinite(v)) s.points.push_back({double(T2), v, v, v});
        }
        if (!s.points.empty()) ot.series.push_back(std::move(s));
      }
      keep(ot);
    }
  }
  return charts;
}

std::string gnuplot_data(const ChartSpec& c) {
  std::string out = "# " + c.title + "\n# columns: x y y_low y_high\n";
  bool first = true;
  for (const ChartSeries& s : c.series) {
    if (s.points.empty()) continue;
    if (!first) out += "\n\n";
    first = false;
    out += "# " + s.label + "\n";
    for (const auto& p : s.points) out += num(p[0]) + " " + num(p[1]) + " " + num(p[2]) + " " + num(p[3]) + "\n";
  }
  return out;
}

std::string gnuplot_script(const ChartSpec& c, const std::string& data_file) {
  std::ostringstream g;
  g << "# " << c.title << "\n# Drawn by attn-harness report; run: gnuplot " << c.id << ".gp\n"
    << "if (!exists(\"outfile\")) outfile = " << quoted(c.id + ".svg") << "\n"
    << "set terminal svg size 660,430 dynamic noenhanced font \"DejaVu Sans,12\" background \"#ffffff\"\n"
    << "set encoding utf8\n"
    << "set output outfile\n"
    << "set title " << quoted(c.title) << " font \",13\"\n"
    << "set xlabel " << quoted(c.xlabel) << "\n"
    << "set ylabel " << quoted(c.ylabel) << "\n"
    << "set border 3 lc rgb \"#444444\"\nset tics nomirror\n"
    << "set grid xtics ytics lc rgb \"#e3e3e3\" lw 1 dt 1\n"
    << "set key outside below center horizontal noopaque samplen 3 spacing 1.2\n";
  if (!c.key_title.empty()) g << "set key title " << quoted(c.key_title) << "\n";
  // Error bars as their own layer: thick, with caps wide enough to see on a log axis.
  g << "set errorbars 2.5\n";

  // x axis
  double xmin = 0, xmax = 0;
  if (!c.x_values.empty()) {
    xmin = *std::min_element(c.x_values.begin(), c.x_values.end());
    xmax = *std::max_element(c.x_values.begin(), c.x_values.end());
  }
  if (c.x_is_L) {
    g << "set logscale x 2\n";
    g << "set xrange [" << num(xmin / 1.35) << ":" << num(xmax * 1.35) << "]\n";
    g << "set xtics (";
    for (std::size_t i = 0; i < c.x_values.size(); ++i)
      g << (i ? ", " : "") << quoted(short_L(std::int64_t(c.x_values[i]))) << " " << num(c.x_values[i]);
    g << ")\n";
  } else {
    g << "set xrange [" << num(xmin - 0.5) << ":" << num(xmax + 0.5) << "]\n";
    g << "set xtics (";
    for (std::size_t i = 0; i < c.x_values.size(); ++i) g << (i ? ", " : "") << num(c.x_values[i]);
    g << ")\n";
  }

  // y axis: range from the data (and the reference line), headroom for the failure markers.
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (const auto& s : c.series)
    for (const auto& p : s.points) {
      ymin = std::min({ymin, p[1], p[2]});
      ymax = std::max({ymax, p[1], p[3]});
    }
  if (c.reference_line > 0) {
    ymin = std::min(ymin, c.reference_line);
    ymax = std::max(ymax, c.reference_line);
  }
  int slots = 0;
  for (const auto& m : c.markers) slots = std::max(slots, m.slot + 1);
  const double headroom = 1.0 + 0.16 * slots;  // fraction of the axis kept free for markers
  if (c.log_y) {
    const double lo = ymin / 1.6, hi = ymax * std::pow(ymax / ymin * 2.56, 0.16 * slots) * 1.6;
    g << "set logscale y 10\nset yrange [" << num(lo) << ":" << num(hi) << "]\n";
    g << "set ytics (";
    const auto tics = log_tics(lo, hi);
    for (std::size_t i = 0; i < tics.size(); ++i) g << (i ? ", " : "") << quoted(num(tics[i])) << " " << num(tics[i]);
    g << ")\nset mytics 10\n";
  } else {
    const double lo = c.zero_based ? std::min(0.0, ymin) : ymin - 0.15 * (ymax - ymin) - 0.02;
    const double hi = c.zero_based ? (ymax > 0 ? ymax : 1.0) * 1.12 * headroom
                                   : ymax + (0.15 + 0.16 * slots) * (ymax - ymin) + 0.02;
    g << "set yrange [" << num(lo) << ":" << num(hi) << "]\nset format y \"%g\"\n";
  }

  int tag = 1;
  for (const auto& m : c.markers) {
    const double y = 0.92 - 0.13 * m.slot;
    g << "set label " << tag++ << " " << quoted(m.text) << " at first " << num(m.x) << ", graph " << num(y)
      << " center tc rgb " << quoted(m.color) << " point pt 2 ps 1.3 lw 2 lc rgb " << quoted(m.color)
      << " offset 0,0.9 front\n";
  }

  if (c.reference_line > 0 && !c.reference_label.empty())
    g << "set label " << tag++ << " " << quoted(c.reference_label) << " at graph 0.02, first "
      << num(c.reference_line) << " left offset 0,-0.8 tc rgb \"#666666\" front\n";
  g << "plot ";
  bool first = true;
  int index = 0;
  for (const ChartSeries& s : c.series) {
    if (s.points.empty()) continue;
    bool bars = false;
    for (const auto& p : s.points) bars = bars || p[2] < p[3];
    g << (first ? "" : ", \\\n     ") << quoted(data_file) << " index " << index
      << " using 1:2 with linespoints lw 2 pt " << s.point << " ps 0.8 dt " << s.dash << " lc rgb " << quoted(s.color)
      << " title " << quoted(s.label);
    if (bars)
      g << ", \\\n     " << quoted(data_file) << " index " << index << " using 1:2:3:4 with yerrorbars lw 2.5 pt "
        << s.point << " ps 0.8 dt 1 lc rgb " << quoted(s.color) << " notitle";
    ++index;
    first = false;
  }
  if (c.reference_line > 0)  // labelled on the line itself, not in the key
    g << ", \\\n     " << num(c.reference_line) << " with lines lw 1.5 dt 3 lc rgb \"#999999\" notitle";
  g << "\nunset output\n";
  return g.str();
}

std::vector<RenderedChart> render_charts(const std::vector<ChartSpec>& charts, const std::filesystem::path& dir,
                                         const std::filesystem::path& gnuplot, std::vector<std::string>& notes) {
  std::vector<RenderedChart> out;
  for (const ChartSpec& c : charts) {
    RenderedChart r;
    r.spec = c;
    r.data_path = dir / (c.id + ".dat");
    r.script_path = dir / (c.id + ".gp");
    r.svg_path = dir / (c.id + ".svg");
    data::write_file_atomically(r.data_path, gnuplot_data(c));
    data::write_file_atomically(r.script_path, gnuplot_script(c, r.data_path.filename().string()));
    const std::string tmp = c.id + ".svg.tmp" + std::to_string(::getpid());
    std::string warnings;
    try {
      warnings = run_gnuplot(gnuplot, dir, r.script_path.filename().string(), "outfile=" + quoted(tmp));
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove(dir / tmp, ignored);
      throw;
    }
    if (!warnings.empty()) notes.push_back(c.id + ".gp: " + warnings);
    std::ifstream in(dir / tmp, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    r.svg = ss.str();
    if (r.svg.find("<svg") == std::string::npos)
      throw std::runtime_error("gnuplot wrote no SVG for " + r.script_path.string());
    std::filesystem::rename(dir / tmp, r.svg_path);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

/// gnuplot's SVG made smaller without changing what it draws: runs of whitespace become one space
/// (none between tags; SVG collapses whitespace in text anyway), and groups with no content and
/// no id, which gnuplot writes around every axis tick, are dropped.
std::string compact_svg(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isspace(c)) {
      out += s[i];
      continue;
    }
    std::size_t j = i;
    while (j + 1 < s.size() && std::isspace(static_cast<unsigned char>(s[j + 1]))) ++j;
    const bool at_end = j + 1 == s.size();
    const bool between_tags = !out.empty() && out.back() == '>' && !at_end && s[j + 1] == '<';
    if (!between_tags && !at_end && !out.empty()) out += ' ';
    i = j;
  }
  for (bool dropped = true; dropped;) {  // an emptied group can empty its parent
    dropped = false;
    std::string kept;
    kept.reserve(out.size());
    for (std::size_t i = 0; i < out.size();) {
      if (out.compare(i, 3, "<g ") == 0 || out.compare(i, 3, "<g>") == 0) {
        const std::size_t close = out.find('>', i);
        if (close != std::string::npos && out[close - 1] != '/' && out.compare(close + 1, 4, "</g>") == 0 &&
            out.substr(i, close - i).find(" id=") == std::string::npos) {
          i = close + 5;
          dropped = true;
          continue;
        }
      }
      kept += out[i++];
    }
    out.swap(kept);
  }
  return out;
}

}  // namespace

std::string inline_svg(const std::string& svg, const std::string& id_prefix, const std::string& title) {
  std::string s = svg;
  // Drop everything before <svg (XML prolog, DOCTYPE).
  if (const auto start = s.find("<svg"); start != std::string::npos) s.erase(0, start);
  // Collect ids, then rewrite the definitions and the references (#id followed by ' " or )).
  std::set<std::string> ids;
  for (const char* attr : {"id='", "id=\""}) {
    const std::string a = attr;
    for (std::size_t pos = s.find(a); pos != std::string::npos; pos = s.find(a, pos + 1)) {
      if (pos > 0 && (std::isalnum(static_cast<unsigned char>(s[pos - 1])) || s[pos - 1] == '-')) continue;
      const std::size_t begin = pos + a.size(), end = s.find(a.back(), begin);
      if (end != std::string::npos) ids.insert(s.substr(begin, end - begin));
    }
  }
  std::string out;
  out.reserve(s.size() + 64 * ids.size());
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    for (const char* attr : {"id='", "id=\""}) {
      const std::string a = attr;
      if (s.compare(i, a.size(), a) == 0 && (i == 0 || !(std::isalnum(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '-'))) {
        out += a + id_prefix;
        i += a.size();
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    if (s[i] == '#') {
      const std::size_t end = s.find_first_of("'\")", i + 1);
      if (end != std::string::npos && ids.count(s.substr(i + 1, end - i - 1))) {
        out += "#" + id_prefix;
        ++i;
        continue;
      }
    }
    out += s[i++];
  }
  // Title for tooltips and screen readers.
  std::string escaped;
  for (char c : title) {
    if (c == '<') escaped += "&lt;";
    else if (c == '>') escaped += "&gt;";
    else if (c == '&') escaped += "&amp;";
    else escaped += c;
  }
  const std::string gp_title = "<title>Gnuplot</title>";
  if (const auto t = out.find(gp_title); t != std::string::npos) out.replace(t, gp_title.size(), "<title>" + escaped + "</title>");
  if (const auto tag = out.find("<svg"); tag != std::string::npos) out.insert(tag + 4, " role=\"img\"");
  return compact_svg(out);
}

}  // namespace attn::report
