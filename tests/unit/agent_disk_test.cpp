// Disk admission: --min-free-disk as operators write it, and the decision
// that holds pulls below it.
#include <gtest/gtest.h>

#include "agent/disk.h"

namespace swarm_prepull::agent {
namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr std::uint64_t GiB = 1024 * MiB;

TEST(AgentDisk, ParsesPercentages) {
  auto ten = parse_min_free_disk("10%");
  ASSERT_TRUE(ten) << ten.error().message;
  EXPECT_TRUE(ten->is_percent);
  EXPECT_EQ(ten->required(1000), 100u);
  EXPECT_EQ(ten->to_string(), "10%");
  auto fraction = parse_min_free_disk("2.5%");
  ASSERT_TRUE(fraction);
  EXPECT_EQ(fraction->required(1000), 25u);
  auto zero = parse_min_free_disk("0%");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->required(GiB), 0u);
  auto all = parse_min_free_disk("100%");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->required(GiB), GiB);
}

TEST(AgentDisk, ParsesBytesWithUnits) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"0", 0},
      {"1048576", MiB},
      {"512B", 512},
      {"500MB", 500'000'000},
      {"500mb", 500'000'000},
      {"2GiB", 2 * GiB},
      {"2gib", 2 * GiB},
      {"1.5GiB", GiB + GiB / 2},
      {"64MiB", 64 * MiB},
      {"1k", 1000},
      {"1KiB", 1024},
      {"3G", 3'000'000'000},
      {"1TB", 1'000'000'000'000},
  };
  for (const auto& [text, bytes] : cases) {
    auto parsed = parse_min_free_disk(text);
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().message;
    EXPECT_FALSE(parsed->is_percent) << text;
    EXPECT_EQ(parsed->bytes, bytes) << text;
    EXPECT_EQ(parsed->required(10 * GiB), bytes) << text;
  }
}

TEST(AgentDisk, RefusesMalformedThresholdsWithTheTextGiven) {
  for (const char* text : {"", "%", "ten%", "10 %", "101%", "-1", "-5%", "2XB", "GiB", ".", "1.2.3",
                           "2GiB ", " 2GiB", "1e3", "99999999999TiB", "nan", "10%%"}) {
    auto parsed = parse_min_free_disk(text);
    ASSERT_FALSE(parsed) << "'" << text << "' was accepted";
    EXPECT_NE(parsed.error().message.find("--min-free-disk"), std::string::npos);
    EXPECT_NE(parsed.error().message.find("'" + std::string(text) + "'"), std::string::npos)
        << parsed.error().message;
  }
}

TEST(AgentDisk, FormatsBytesForPeople) {
  EXPECT_EQ(format_bytes(0), "0B");
  EXPECT_EQ(format_bytes(1023), "1023B");
  EXPECT_EQ(format_bytes(1024), "1KiB");
  EXPECT_EQ(format_bytes(12 * MiB + MiB / 2), "12.5MiB");
  EXPECT_EQ(format_bytes(2 * GiB), "2GiB");
}

// The admission decision table: (space measured?, free vs required) -> admit?
TEST(AgentDisk, AdmissionDecisionTable) {
  const auto ten = parse_min_free_disk("10%").value();
  const auto bytes = parse_min_free_disk("100MiB").value();
  const auto never = parse_min_free_disk("0").value();
  struct Case {
    const char* name;
    std::optional<DiskSpace> space;
    MinFreeDisk min;
    bool admit;
    std::uint64_t required;
  };
  const Case cases[] = {
      {"unmeasured admits", std::nullopt, ten, true, 0},
      {"well above 10%", DiskSpace{.free_bytes = 500 * MiB, .size_bytes = GiB}, ten, true,
       GiB / 10 + 1},
      {"exactly at 10% admits", DiskSpace{.free_bytes = 100, .size_bytes = 1000}, ten, true, 100},
      {"one byte below 10% holds", DiskSpace{.free_bytes = 99, .size_bytes = 1000}, ten, false,
       100},
      {"nothing free holds", DiskSpace{.free_bytes = 0, .size_bytes = GiB}, ten, false,
       GiB / 10 + 1},
      {"bytes: above", DiskSpace{.free_bytes = 101 * MiB, .size_bytes = 10 * GiB}, bytes, true,
       100 * MiB},
      {"bytes: below", DiskSpace{.free_bytes = 99 * MiB, .size_bytes = 10 * GiB}, bytes, false,
       100 * MiB},
      {"bytes: larger than the disk holds",
       DiskSpace{.free_bytes = 50 * MiB, .size_bytes = 64 * MiB}, bytes, false, 100 * MiB},
      {"threshold 0 never holds", DiskSpace{.free_bytes = 0, .size_bytes = GiB}, never, true, 0},
  };
  for (const auto& c : cases) {
    const auto admission = admit_pulls(c.space, c.min);
    EXPECT_EQ(admission.admit, c.admit) << c.name;
    EXPECT_EQ(admission.space, c.space) << c.name;
    if (c.space) {
      // ceil: 10% of GiB is not a whole byte.
      EXPECT_GE(admission.required_free + 1, c.required) << c.name;
      EXPECT_LE(admission.required_free, c.required) << c.name;
    }
  }
}

TEST(AgentDisk, MeasuresARealFilesystem) {
  auto space = measure_disk("/");
  ASSERT_TRUE(space) << space.error().message;
  EXPECT_GT(space->size_bytes, 0u);
  EXPECT_LE(space->free_bytes, space->size_bytes);
}

TEST(AgentDisk, AMissingDataRootIsAnErrorNamingIt) {
  auto space = measure_disk("/nonexistent/data-root");
  ASSERT_FALSE(space);
  EXPECT_NE(space.error().message.find("/nonexistent/data-root"), std::string::npos);
  EXPECT_NE(space.error().message.find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace swarm_prepull::agent
