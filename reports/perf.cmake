# Performance reports (attn-harness report): Google Benchmark JSON -> HTML + Markdown + gnuplot
# charts. Included from reports/CMakeLists.txt; the sources join attn_reports.
target_sources(attn_reports PRIVATE
  perf_results.cpp
  perf_controls.cpp
  perf_noise.cpp
  perf_shards.cpp
  perf_compare.cpp
  perf_tables.cpp
  perf_time_format.cpp
  perf_paths.cpp
  perf_palette.cpp
  perf_failures.cpp
  perf_verdict.cpp
  perf_harness_timing.cpp
  perf_gnuplot.cpp
  perf_charts.cpp
  perf_markdown.cpp
  perf_html.cpp
  perf_report.cpp)

if(ATTN_BUILD_TESTS)
  add_executable(perf_report_tests
    tests/perf_test_data.cpp
    tests/test_perf_results.cpp
    tests/test_perf_shards.cpp
    tests/test_perf_compare.cpp
    tests/test_perf_writers.cpp
    tests/test_perf_verdict.cpp
    tests/test_perf_page.cpp
    tests/test_perf_harness_timing.cpp)
  target_link_libraries(perf_report_tests PRIVATE attn_reports GTest::gtest_main attn_warnings)
  target_compile_definitions(perf_report_tests PRIVATE
    ATTN_PERF_SAMPLE_DIR="${CMAKE_CURRENT_SOURCE_DIR}/tests/data")
  gtest_discover_tests(perf_report_tests TEST_PREFIX "perf." DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "perf")
  # The CLI on the committed sample (exit codes, files, regressions; chart checks skipped, 77,
  # only where gnuplot is not installed), then the pages rendered in headless Chromium: the
  # sample's screenshot, and the sample's, the H100's and the H200's width at 1400 px (skipped,
  # 77, only where chromium is not installed).
  add_test(NAME perf_report_cli
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/perf_report_cli_test.sh $<TARGET_FILE:attn-harness>
                   ${CMAKE_CURRENT_SOURCE_DIR}/tests/data)
  add_test(NAME perf_report_render
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/perf_report_render_test.sh $<TARGET_FILE:attn-harness>
                   ${CMAKE_CURRENT_SOURCE_DIR}/tests/data ${CMAKE_CURRENT_SOURCE_DIR}/tests/perf_png_check.py
                   ${PROJECT_SOURCE_DIR})
  add_test(NAME perf_controls_cli
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/perf_controls_cli_test.sh $<TARGET_FILE:attn-harness>
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(perf_report_cli perf_report_render perf_controls_cli PROPERTIES LABELS "perf;cli" TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
