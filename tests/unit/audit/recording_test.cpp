// Session recordings: written, read back, verified; and every way of editing
// the file with a byte editor (a payload byte, a deleted, swapped or inserted
// record, a cut tail, a re-hashed chain, a wrong key) fails naming the first
// bad record, while the signed prefix stays readable.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/recording_reader.h"
#include "audit/recording_writer.h"
#include "audit/sha256.h"
#include "recording_test_util.h"

namespace pgw::audit {
namespace {

using testing::new_signing_key;
using testing::read_file;
using testing::Sample;
using testing::TempDir;
using testing::write_file;
using testing::write_sample;

struct Located {
  uint64_t offset;
  size_t size;  // the record's bytes in the file (uncompressed blocks)
  bool compressed;
};

// Where each record of a good file sits, read without a key.
std::vector<Located> locate(const std::string& path) {
  auto r = RecordingReader::open(path, nullptr);
  EXPECT_TRUE(r.ok());
  std::vector<Located> out;
  Record rec;
  while ((*r)->next(rec)) out.push_back({rec.offset, kRecordOverhead + rec.payload.size(), rec.compressed});
  EXPECT_TRUE((*r)->report().ok) << (*r)->report().problem;
  return out;
}

// The records a reader hands out (with `key`), compared with what was
// written: they must be a prefix of it, byte for byte. Returns how many.
size_t expect_good_prefix(const std::string& path, const PublicKey& key, const Sample& s) {
  auto r = RecordingReader::open(path, &key);
  if (!r.ok()) return 0;
  Record rec;
  size_t n = 0;
  while ((*r)->next(rec)) {
    EXPECT_LT(n, s.records.size());
    if (n >= s.records.size()) break;
    EXPECT_EQ(rec.index, n);
    if (n > 0) {
      EXPECT_EQ(rec.type, s.records[n].type) << n;
      EXPECT_EQ(rec.monotonic_ns, s.records[n].monotonic_ns) << n;
      EXPECT_EQ(rec.payload, s.records[n].payload) << n;
    }
    ++n;
  }
  EXPECT_EQ(n, (*r)->report().records);
  return n;
}

class RecordingTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::shared_ptr<const SigningKey> key = new_signing_key();
  PublicKey pub = key->public_key();
};

TEST_F(RecordingTest, WritesReadsAndVerifiesSeveralBlocksCompressedAndNot) {
  Sample s = write_sample(dir.path, key, "17", 300, true);
  VerifyReport rep = verify_recording(s.path, pub);
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_TRUE(rep.closed && rep.authenticated && !rep.in_use);
  EXPECT_EQ(rep.records, 301u);
  EXPECT_EQ(rep.last_good_record, 300u);
  EXPECT_FALSE(rep.first_bad_record);
  EXPECT_EQ(rep.session_id, "17");

  auto r = RecordingReader::open(s.path, &pub);
  ASSERT_TRUE(r.ok());
  const nlohmann::json& h = (*r)->header();
  EXPECT_EQ(h["session_id"], "17");
  EXPECT_EQ(h["recording_format"], 1);
  EXPECT_EQ(h["key_fingerprint"], key->fingerprint());
  EXPECT_EQ(h["identity"]["comm"], "psql");
  EXPECT_EQ(h["database"], "app");
  EXPECT_TRUE(h["start_time"].is_string());
  EXPECT_EQ(expect_good_prefix(s.path, pub, s), 301u);

  bool compressed = false, plain = false;
  Record rec;
  while ((*r)->next(rec)) (rec.compressed ? compressed : plain) = true;
  EXPECT_TRUE(compressed && plain) << "the sample has blocks of both kinds";
  EXPECT_TRUE((*r)->report().ok);
}

TEST_F(RecordingTest, FileIsPrivateNamedByStartTimeAndNeverOverwritten) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1718100900)) + std::chrono::nanoseconds(5);
  WriterOptions o;
  o.start_time = t;
  auto w = RecordingWriter::create(dir.path, "42", nlohmann::json::object(), key, o);
  ASSERT_TRUE(w.ok()) << w.error();
  EXPECT_EQ((*w)->path(), dir.path + "/20240611T101500.000000005Z-42.pgwrec");
  struct stat st {};
  ASSERT_EQ(::stat((*w)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = RecordingWriter::create(dir.path, "42", nlohmann::json::object(), key, o);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("File exists"), std::string::npos) << again.error();
  EXPECT_TRUE((*w)->close().ok());
  EXPECT_FALSE((*w)->append(RecordType::event, 1, "{}").ok());
  EXPECT_FALSE((*w)->close().ok());
  EXPECT_LT(recording_file_name(t, "9"), recording_file_name(t + std::chrono::seconds(1), "1"));

  for (const char* bad : {"", "../x", "a/b", "x y", ".."}) {
    EXPECT_FALSE(RecordingWriter::create(dir.path, bad, nlohmann::json::object(), key).ok()) << bad;
  }
  EXPECT_FALSE(RecordingWriter::create(dir.path, "1", nlohmann::json::array(), key).ok());
}

TEST_F(RecordingTest, AnOpenFileIsStillBeingWrittenAndItsFlushedBlocksVerify) {
  auto w = RecordingWriter::create(dir.path, "5", nlohmann::json::object(), key);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->append(RecordType::client_message, 1, "Q").ok());
  ASSERT_TRUE((*w)->flush().ok());
  ASSERT_TRUE((*w)->append(RecordType::server_message, 2, "Z").ok());  // buffered, not on disk
  VerifyReport rep = verify_recording((*w)->path(), pub);
  EXPECT_FALSE(rep.ok);
  EXPECT_TRUE(rep.in_use);
  EXPECT_EQ(rep.records, 2u);
  EXPECT_NE(rep.problem.find("still being written"), std::string::npos) << rep.problem;
  const std::string path = (*w)->path();
  w->reset();  // a writer that stops without close(): its file reads as truncated
  rep = verify_recording(path, pub);
  EXPECT_FALSE(rep.in_use);
  EXPECT_EQ(rep.problem,
            "file ends after record 1 without a close signature: truncated, or the writer stopped (records up to 1 "
            "are signed)");
  EXPECT_EQ(rep.first_bad_record->index, 2u);
}

TEST_F(RecordingTest, WrongKeyFailsAtTheFirstSignatureAndNamesBothKeys) {
  Sample s = write_sample(dir.path, key, "1", 50, true);
  auto other = new_signing_key();
  VerifyReport rep = verify_recording(s.path, other->public_key());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.records, 0u);
  ASSERT_TRUE(rep.first_bad_record);
  EXPECT_EQ(rep.first_bad_record->index, 0u);
  EXPECT_EQ(rep.first_bad_record->offset, kPreambleSize);
  EXPECT_EQ(rep.problem, "signature at record 0 does not verify with this public key (the header names key " +
                             key->fingerprint() + "; this key is " + other->fingerprint() + ")");
  EXPECT_EQ(expect_good_prefix(s.path, other->public_key(), s), 0u);
}

// Byte-editor tampering of a file whose blocks are not compressed, so each
// record's bytes can be found, cut and moved.
class TamperTest : public RecordingTest {
 protected:
  void SetUp() override {
    s = write_sample(dir.path, key, "7", 300, false);
    bytes = read_file(s.path);
    at = locate(s.path);
    ASSERT_EQ(at.size(), 301u);
  }
  // Writes `edited` as the file and verifies it.
  VerifyReport verify_edited(const std::string& edited) {
    write_file(s.path, edited);
    return verify_recording(s.path, pub);
  }
  std::string record_bytes(size_t i) const { return bytes.substr(at[i].offset, at[i].size); }
  void expect_bad(const VerifyReport& rep, uint64_t index, uint64_t offset, const std::string& problem) {
    EXPECT_FALSE(rep.ok);
    ASSERT_TRUE(rep.first_bad_record) << rep.problem;
    EXPECT_EQ(rep.first_bad_record->index, index) << rep.problem;
    EXPECT_EQ(rep.first_bad_record->offset, offset) << rep.problem;
    EXPECT_EQ(rep.problem, problem);
  }
  // First record of the block holding record i.
  uint64_t block_first(size_t i) const {
    size_t j = i;
    while (j > 0 && at[j - 1].offset + at[j - 1].size == at[j].offset) --j;
    return j;
  }
  Sample s;
  std::string bytes;
  std::vector<Located> at;
};

const std::string kChain = ": hash chain broken (edited, deleted, reordered or inserted record)";

TEST_F(TamperTest, TheUntouchedFileVerifies) {
  VerifyReport rep = verify_recording(s.path, pub);
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 301u);
}

TEST_F(TamperTest, EditedPayloadByte) {
  std::string e = bytes;
  e[at[57].offset + kRecordHeadSize + 1] ^= 0x20;
  VerifyReport rep = verify_edited(e);
  expect_bad(rep, 57, at[57].offset, "record 57" + kChain);
  // Everything before record 57's block is still good and readable.
  EXPECT_EQ(rep.records, block_first(57));
  EXPECT_EQ(expect_good_prefix(s.path, pub, s), block_first(57));
}

TEST_F(TamperTest, EditedTimestampTypeOrStoredHash) {
  for (size_t field : {size_t{0}, size_t{3}, at[120].size - 1}) {
    std::string e = bytes;
    e[at[120].offset + field] ^= 0x01;
    expect_bad(verify_edited(e), 120, at[120].offset, "record 120" + kChain);
  }
}

TEST_F(TamperTest, EditedHeader) {
  std::string e = bytes;
  const size_t pos = e.find("\"database\":\"app\"");
  ASSERT_NE(pos, std::string::npos);
  e[pos + 13] = 'X';
  expect_bad(verify_edited(e), 0, at[0].offset, "record 0" + kChain);
}

TEST_F(TamperTest, DeletedRecord) {
  // 57 inside a block, 75 the first of one; the chain breaks where it was.
  for (size_t i : {size_t{57}, size_t{75}}) {
    std::string e = bytes;
    e.erase(at[i].offset, at[i].size);
    expect_bad(verify_edited(e), i, at[i].offset, "record " + std::to_string(i) + kChain);
  }
  // 74, the last of its block: the block's body now runs into its signature,
  // which does not parse as a record.
  std::string e = bytes;
  e.erase(at[74].offset, at[74].size);
  expect_bad(verify_edited(e), 74, at[74].offset,
             "record 74: damaged (its length runs past the end of its block: edited, deleted or inserted bytes)");
  // 300, the last of the file: the close block's body now runs past the
  // end of the file, into what was its signature. Read as a length, those
  // bytes are either impossible (record 300 is damaged) or merely too long
  // (the file reads as cut inside its close block); either way 0..296 stay
  // signed and nothing after them verifies.
  e = bytes;
  e.erase(at[300].offset, at[300].size);
  VerifyReport rep = verify_edited(e);
  EXPECT_FALSE(rep.ok);
  ASSERT_TRUE(rep.first_bad_record);
  EXPECT_EQ(rep.records, 297u);
  if (rep.first_bad_record->index == 300u) {
    EXPECT_EQ(rep.problem,
              "record 300: damaged (its length runs past the end of its block: edited, deleted or inserted bytes)");
  } else {
    EXPECT_EQ(rep.first_bad_record->index, 297u) << rep.problem;
    EXPECT_EQ(rep.problem,
              "file ends inside a block after record 299 without a close signature: truncated (records up to 296 "
              "are signed, the 3 after them are not)");
  }
}

TEST_F(TamperTest, SwappedRecords) {
  std::string e = bytes;
  // 57 and 58 are in one block; swap them.
  ASSERT_EQ(at[57].offset + at[57].size, at[58].offset);
  e.replace(at[57].offset, at[57].size + at[58].size, record_bytes(58) + record_bytes(57));
  expect_bad(verify_edited(e), 57, at[57].offset, "record 57" + kChain);
}

TEST_F(TamperTest, InsertedCopyOfARecord) {
  for (size_t copied : {size_t{30}, size_t{56}, size_t{200}}) {
    std::string e = bytes;
    e.insert(at[57].offset, record_bytes(copied));
    expect_bad(verify_edited(e), 57, at[57].offset, "record 57" + kChain);
  }
  // A copy of 57 put before 57 chains as 57: the original, now 58, is where
  // it breaks.
  std::string e = bytes;
  e.insert(at[57].offset, record_bytes(57));
  expect_bad(verify_edited(e), 58, at[57].offset + at[57].size, "record 58" + kChain);
}

TEST_F(TamperTest, RehashedChainIsCaughtByTheBlockSignature) {
  // An editor who knows the format recomputes every hash after the edit:
  // the chain holds, the block's signature does not.
  std::string e = bytes;
  e[at[57].offset + kRecordHeadSize + 1] ^= 0x20;
  Sha256 sha;
  const size_t first = block_first(57);
  for (size_t i = 57; i < at.size() && block_first(i) == first; ++i) {
    const size_t body = at[i].size - kHashSize;
    const auto* prev = reinterpret_cast<const unsigned char*>(e.data() + at[i - 1].offset + at[i - 1].size - kHashSize);
    unsigned char h[kHashSize];
    ASSERT_TRUE(sha.hash2(prev, kHashSize, e.data() + at[i].offset, body, h));
    std::memcpy(e.data() + at[i].offset + body, h, kHashSize);
  }
  size_t last = 57;
  while (last + 1 < at.size() && block_first(last + 1) == first) ++last;
  expect_bad(verify_edited(e), first, at[first].offset - kBlockHeaderSize,
             "signature at record " + std::to_string(last) +
                 " does not verify, though the blocks before it do with this key: records " + std::to_string(first) +
                 ".." + std::to_string(last) + " were altered, or the block was marked closed or not");
}

TEST_F(TamperTest, DeletedOrSwappedBlocks) {
  const uint64_t b1 = at[38].offset - kBlockHeaderSize;  // records 38..74
  const uint64_t b2 = at[75].offset - kBlockHeaderSize;  // records 75..99
  const uint64_t b3 = at[100].offset - kBlockHeaderSize;
  std::string e = bytes;
  e.erase(b1, b2 - b1);
  expect_bad(verify_edited(e), 38, b1,
             "record 38: the block at offset " + std::to_string(b1) +
                 " says it starts at record 75 (a block was deleted, inserted or reordered)");
  e = bytes.substr(0, b1) + bytes.substr(b2, b3 - b2) + bytes.substr(b1, b2 - b1) + bytes.substr(b3);
  expect_bad(verify_edited(e), 38, b1,
             "record 38: the block at offset " + std::to_string(b1) +
                 " says it starts at record 75 (a block was deleted, inserted or reordered)");
}

TEST_F(TamperTest, TruncatedAtSeveralPoints) {
  struct Cut {
    uint64_t size;
    uint64_t signed_records;
    uint64_t unsigned_records;
    std::string problem;
  };
  const uint64_t b75 = at[75].offset - kBlockHeaderSize;
  std::vector<Cut> cuts = {
      // At a block boundary: the writer stopped (or the tail was cut there).
      {b75, 75, 0,
       "file ends after record 74 without a close signature: truncated, or the writer stopped (records up to 74 are "
       "signed)"},
      // Mid-block, inside record 80: 75..79 are there but not signed.
      {at[80].offset + 5, 75, 5,
       "file ends inside a block after record 79 without a close signature: truncated (records up to 74 are "
       "signed, the 5 after them are not)"},
      // Inside the signature of the block 104..111.
      {at[111].offset + at[111].size + 10, 104, 8,
       "file ends inside a block after record 111 without a close signature: truncated (records up to 103 are "
       "signed, the 8 after them are not)"},
      // Inside a block header.
      {b75 + 3, 75, 0,
       "file ends inside a block after record 74 without a close signature: truncated (records up to 74 are "
       "signed)"},
      // One byte short of the close signature (of the close block, 297..300).
      {bytes.size() - 1, 297, 4,
       "file ends inside a block after record 300 without a close signature: truncated (records up to 296 are "
       "signed, the 4 after them are not)"},
      // Inside the preamble, and inside the header's block.
      {20, 0, 0, "file ends inside its preamble: truncated (no record is signed)"},
      {kPreambleSize + 40, 0, 0,
       "file ends inside its first block without a close signature: truncated (no record is signed)"},
      {at[0].offset + at[0].size + 10, 0, 1,
       "file ends inside a block after record 0 without a close signature: truncated (no record is signed, the 1 "
       "after them are not)"},
  };
  for (const Cut& c : cuts) {
    SCOPED_TRACE(c.size);
    VerifyReport rep = verify_edited(bytes.substr(0, c.size));
    EXPECT_FALSE(rep.ok);
    EXPECT_EQ(rep.records, c.signed_records);
    EXPECT_EQ(rep.unsigned_records, c.unsigned_records);
    EXPECT_EQ(rep.problem, c.problem);
    ASSERT_TRUE(rep.first_bad_record);
    EXPECT_EQ(rep.first_bad_record->index, c.signed_records);
    EXPECT_EQ(expect_good_prefix(s.path, pub, s), c.signed_records);
  }
}

TEST_F(TamperTest, BytesAppendedAfterTheClose) {
  VerifyReport rep = verify_edited(bytes + record_bytes(12));
  expect_bad(rep, 301, bytes.size(),
             "data after the close signature at offset " + std::to_string(bytes.size()) +
                 " (appended after the file was closed)");
  EXPECT_EQ(rep.records, 301u);
}

TEST_F(TamperTest, NotARecordingAtAll) {
  expect_bad(verify_edited("hello\n"), 0, 0, "not a pgwarden recording (no PGWREC 1 line at the start)");
  expect_bad(verify_edited("PGWREC 2\n" + bytes.substr(9)), 0, 0,
             "recording format \"2\" is not one this pgwarden reads (1)");
  expect_bad(verify_edited(""), 0, 0, "the file is empty: not a recording, or its writer stopped at once");
}

TEST_F(RecordingTest, CompressedBlocksEditedOrCutFailWithinTheirBlock) {
  Sample s = write_sample(dir.path, key, "8", 300, true);
  const std::string bytes = read_file(s.path);
  auto at = locate(s.path);
  ASSERT_TRUE(at[50].compressed);
  const uint64_t block = at[50].offset;  // records 38..74, compressed
  ASSERT_EQ(at[38].offset, block);
  for (uint64_t delta : {uint64_t{40}, uint64_t{200}, uint64_t{400}}) {
    std::string e = bytes;
    e[block + kBlockHeaderSize + delta] ^= 0x04;
    write_file(s.path, e);
    VerifyReport rep = verify_recording(s.path, pub);
    EXPECT_FALSE(rep.ok);
    ASSERT_TRUE(rep.first_bad_record);
    EXPECT_GE(rep.first_bad_record->index, 38u) << rep.problem;
    EXPECT_LE(rep.first_bad_record->index, 74u) << rep.problem;
    EXPECT_EQ(rep.records, 38u) << rep.problem;
  }
  write_file(s.path, bytes.substr(0, block + 100));
  VerifyReport rep = verify_recording(s.path, pub);
  EXPECT_EQ(rep.problem,
            "file ends inside a block after record 37 without a close signature: truncated (records up to 37 are "
            "signed)");
  EXPECT_EQ(expect_good_prefix(s.path, pub, s), 38u);
}

// Random damage: flipped bytes and cut tails, on compressed and plain files.
// Never a crash; what the reader hands out is always a prefix of what was
// written; and a flipped byte is always noticed unless it left the records
// exactly as they were (possible only inside a zstd frame).
TEST_F(RecordingTest, RandomDamageNeverCrashesAndOnlyTheGoodPrefixIsRead) {
  for (bool compress : {false, true}) {
    Sample s = write_sample(dir.path, key, compress ? "fz" : "fp", 200, compress);
    const std::string bytes = read_file(s.path);
    uint32_t x = compress ? 99 : 7;
    auto rnd = [&x](uint32_t n) {
      x = x * 1664525u + 1013904223u;
      return (x >> 8) % n;
    };
    for (int round = 0; round < 300; ++round) {
      std::string e = bytes;
      const int kind = round % 3;
      if (kind == 0 || kind == 2) {
        const int flips = 1 + static_cast<int>(rnd(3));
        for (int f = 0; f < flips; ++f) e[rnd(static_cast<uint32_t>(e.size()))] ^= static_cast<char>(1 + rnd(255));
      }
      if (kind == 1 || kind == 2) e.resize(rnd(static_cast<uint32_t>(e.size())));
      if (e == bytes) continue;
      write_file(s.path, e);
      VerifyReport rep = verify_recording(s.path, pub);
      const size_t n = expect_good_prefix(s.path, pub, s);
      if (rep.ok) {
        EXPECT_TRUE(compress) << "round " << round;
        EXPECT_EQ(n, s.records.size());
      } else {
        EXPECT_FALSE(rep.problem.empty());
        EXPECT_LT(n, s.records.size());
      }
      // Without a key the reader must not crash either.
      auto r = RecordingReader::open(s.path, nullptr);
      ASSERT_TRUE(r.ok());
      Record rec;
      while ((*r)->next(rec)) {
      }
    }
    ::unlink(s.path.c_str());
  }
}

// A write that fails (here EFBIG from RLIMIT_FSIZE, as ENOSPC would) is an
// error, leaves the file whole blocks, and keeps the records for a retry.
TEST_F(RecordingTest, FailedWriteIsAnErrorAndARetryWritesTheRecords) {
  WriterOptions o;
  o.compress = false;
  auto w = RecordingWriter::create(dir.path, "9", nlohmann::json::object(), key, o);
  ASSERT_TRUE(w.ok());
  const uint64_t size = (*w)->file_size();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*w)->append(RecordType::server_message, i, std::string(100, 'x')).ok());

  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  struct rlimit small = old;
  small.rlim_cur = size + 1000;  // the block is about 14.5 kB: a part of it gets written
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status st = (*w)->flush();
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(st.ok());
  EXPECT_EQ((*w)->last_errno(), EFBIG);
  EXPECT_NE(st.error().find("cannot write recording"), std::string::npos) << st.error();
  EXPECT_EQ((*w)->records_buffered(), 100u);
  EXPECT_EQ((*w)->file_size(), size);
  struct stat sb {};
  ASSERT_EQ(::stat((*w)->path().c_str(), &sb), 0);
  EXPECT_EQ(static_cast<uint64_t>(sb.st_size), size) << "the partial block is cut off";

  ASSERT_TRUE((*w)->flush().ok());
  ASSERT_TRUE((*w)->close().ok());
  VerifyReport rep = verify_recording((*w)->path(), pub);
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 101u);
}

TEST_F(RecordingTest, OversizedRecordIsRefused) {
  auto w = RecordingWriter::create(dir.path, "10", nlohmann::json::object(), key);
  ASSERT_TRUE(w.ok());
  // Untouched anonymous pages: the size is what matters, not the bytes.
  const size_t n = size_t{kMaxPayload} + 1;
  void* big = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(big, MAP_FAILED);
  EXPECT_FALSE((*w)->append(RecordType::server_message, 1, std::string_view(static_cast<const char*>(big), n)).ok());
  ::munmap(big, n);
  EXPECT_EQ((*w)->records_buffered(), 0u);
  EXPECT_TRUE((*w)->close().ok());
  EXPECT_TRUE(verify_recording((*w)->path(), pub).ok);
}

TEST_F(RecordingTest, WithoutAKeyOnlyTheChainIsChecked) {
  Sample s = write_sample(dir.path, key, "11", 20, true);
  auto r = RecordingReader::open(s.path, nullptr);
  ASSERT_TRUE(r.ok());
  Record rec;
  size_t n = 0;
  while ((*r)->next(rec)) ++n;
  EXPECT_EQ(n, 21u);
  EXPECT_TRUE((*r)->report().ok);
  EXPECT_FALSE((*r)->report().authenticated);
}

// SigningKey::load and PublicKey::load, on files as openssl writes them.
TEST_F(RecordingTest, KeyFiles) {
  const std::string pem = testing::new_key_pem();
  const std::string priv = dir.path + "/recording.key";
  write_file(priv, pem, 0644);
  auto refused = SigningKey::load(priv);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), "recording key \"" + priv + "\" is accessible to others (mode 0644): chmod 600 it");
  ::chmod(priv.c_str(), 0600);
  auto k = SigningKey::load(priv);
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(k->fingerprint().size(), 7u + 64u);
  EXPECT_EQ(k->fingerprint().rfind("sha256:", 0), 0u);

  const std::string pubfile = dir.path + "/recording.pub";
  write_file(pubfile, k->public_pem(), 0644);  // a public key may be read by anyone
  auto p = PublicKey::load(pubfile);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->fingerprint(), k->fingerprint());
  EXPECT_EQ(p->pem(), k->public_pem());

  EXPECT_FALSE(PublicKey::load(priv).ok()) << "a private key is not a public key file";
  EXPECT_FALSE(PublicKey::load(dir.path + "/missing.pub").ok());
  write_file(priv, testing::new_key_pem("EC"), 0600);
  auto ec = SigningKey::load(priv);
  ASSERT_FALSE(ec.ok());
  EXPECT_NE(ec.error().find("is not an Ed25519 key"), std::string::npos) << ec.error();
  write_file(priv, "not a key", 0600);
  EXPECT_FALSE(SigningKey::load(priv).ok());
}

}  // namespace
}  // namespace pgw::audit
