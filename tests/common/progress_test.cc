#include "common/progress.h"

#include <sstream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace moeserve {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

class FakeClock {
 public:
  std::chrono::steady_clock::time_point Now() const { return now_; }
  void Advance(std::chrono::steady_clock::duration d) { now_ += d; }
  ProgressReporter::Clock AsClock() {
    return [this] { return Now(); };
  }

 private:
  std::chrono::steady_clock::time_point now_{seconds(1000)};
};

ProgressOptions Options(bool tty) {
  ProgressOptions o;
  o.label = "loading";
  o.unit_name = "shards";
  o.total_units = 2;
  o.total_bytes = 100'000'000;
  o.tty = tty;
  return o;
}

TEST(ProgressReporter, LogModeWritesALineEveryInterval) {
  FakeClock clock;
  std::ostringstream out;
  ProgressReporter p(&out, Options(/*tty=*/false), clock.AsClock());
  p.AddBytes(10'000'000);
  EXPECT_EQ(out.str(), "");  // within the first interval
  clock.Advance(seconds(3));
  p.AddBytes(20'000'000);
  EXPECT_EQ(out.str(), "");
  clock.Advance(seconds(3));
  p.AddBytes(20'000'000);  // 50 MB after 6 s
  p.AddUnit();             // within the interval: no new line
  EXPECT_EQ(out.str(), "loading: 0/2 shards, 50.0 MB / 100.0 MB (50%), 8 MB/s, ETA 6.0s\n");
  clock.Advance(seconds(6));
  p.AddBytes(50'000'000);
  p.AddUnit();
  p.Finish();
  p.Finish();  // idempotent
  EXPECT_EQ(out.str(),
            "loading: 0/2 shards, 50.0 MB / 100.0 MB (50%), 8 MB/s, ETA 6.0s\n"
            "loading: 1/2 shards, 100.0 MB / 100.0 MB (100%), 8 MB/s, ETA 0.0s\n"
            "loading: done 2 shards, 100.0 MB in 12s (8 MB/s)\n");
}

TEST(ProgressReporter, TtyModeRedrawsOneLine) {
  FakeClock clock;
  std::ostringstream out;
  ProgressReporter p(&out, Options(/*tty=*/true), clock.AsClock());
  clock.Advance(milliseconds(500));
  p.AddBytes(25'000'000);
  EXPECT_EQ(out.str(),
            "\rloading [#####...............] 0/2 shards, 25.0 MB / 100.0 MB (25%), 50 MB/s, "
            "ETA 1.5s\x1b[K");
  clock.Advance(milliseconds(50));  // under redraw_interval: nothing
  p.AddBytes(25'000'000);
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
  EXPECT_EQ(out.str().rfind('\r'), 0u);
  clock.Advance(milliseconds(450));
  p.AddUnit();
  EXPECT_THAT(out.str(), HasSubstr("\rloading [##########..........] 1/2 shards, 50.0 MB"));
  p.Finish();
  EXPECT_THAT(out.str(), ::testing::EndsWith("\rloading: done 1 shards, 50.0 MB in 1.0s "
                                             "(50 MB/s)\x1b[K\n"));
}

TEST(ProgressReporter, LineBeforeAnyProgress) {
  FakeClock clock;
  ProgressReporter p(nullptr, Options(/*tty=*/false), clock.AsClock());
  EXPECT_EQ(p.Line(), "loading: 0/2 shards, 0 B / 100.0 MB (0%), 0 MB/s, ETA --");
}

TEST(ProgressReporter, DestructorFinishes) {
  FakeClock clock;
  std::ostringstream out;
  {
    ProgressReporter p(&out, Options(/*tty=*/false), clock.AsClock());
    clock.Advance(seconds(2));
    p.AddBytes(4'000'000);
  }
  EXPECT_EQ(out.str(), "loading: done 0 shards, 4.0 MB in 2.0s (2 MB/s)\n");
}

TEST(ProgressReporter, CountsFromManyThreads) {
  ProgressReporter p(nullptr, Options(/*tty=*/false));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) p.AddBytes(3);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(p.bytes_done(), 12000);
}

TEST(Format, BytesAndDurations) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(999), "999 B");
  EXPECT_EQ(FormatBytes(1500), "1.5 kB");
  EXPECT_EQ(FormatBytes(12'300'000), "12.3 MB");
  EXPECT_EQ(FormatBytes(438'000'000'000), "438.0 GB");
  EXPECT_EQ(FormatBytes(2'500'000'000'000), "2.50 TB");
  EXPECT_EQ(FormatDuration(0.25), "0.2s");
  EXPECT_EQ(FormatDuration(42), "42s");
  EXPECT_EQ(FormatDuration(245), "4m05s");
  EXPECT_EQ(FormatDuration(7380), "2h03m");
  EXPECT_EQ(FormatDuration(-1), "--");
}

}  // namespace
}  // namespace moeserve
