// Conformance tests every Transport implementation passes: in-process, and UCX over shared
// memory and over TCP. Two endpoints driven by the test thread unless a test says otherwise.
#include "common/transport.h"

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/transport_inproc.h"
#include "gtest/gtest.h"
#ifdef MOESERVE_HAVE_UCX
#include "common/transport_ucx.h"
#endif

namespace moeserve {
namespace {

using Clock = std::chrono::steady_clock;

struct Factory {
  std::string name;
  std::function<std::unique_ptr<Transport>()> make;
};

std::vector<Factory> Factories() {
  std::vector<Factory> all;
  auto fabric = std::make_shared<InProcessFabric>();
  all.push_back({"inproc", [fabric] { return MakeInProcessTransport(fabric); }});
#ifdef MOESERVE_HAVE_UCX
  for (const char* tls : {"sm", "tcp"}) {
    all.push_back({absl::StrCat("ucx_", tls), [tls]() -> std::unique_ptr<Transport> {
                     UcxTransportOptions options;
                     options.transports = tls;
                     options.peer_timeout = absl::Seconds(3);
                     auto t = MakeUcxTransport(options);
                     EXPECT_TRUE(t.ok()) << t.status();
                     return t.ok() ? std::move(*t) : nullptr;
                   }});
  }
#endif
  return all;
}

// Payload byte i of message `seq` from `rank`: a function of all three, so a receiver can tell
// where a message came from and whether it is intact.
std::byte PatternByte(uint32_t rank, uint32_t seq, size_t i) {
  return static_cast<std::byte>((rank * 131 + seq * 31 + i * 7 + (i >> 8)) & 0xff);
}
std::vector<std::byte> Payload(uint32_t rank, uint32_t seq, size_t size) {
  std::vector<std::byte> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = PatternByte(rank, seq, i);
  if (size >= 8) {
    std::memcpy(data.data(), &rank, 4);
    std::memcpy(data.data() + 4, &seq, 4);
  }
  return data;
}
bool PayloadIs(const std::vector<std::byte>& data, uint32_t rank, uint32_t seq, size_t size) {
  return data == Payload(rank, seq, size);
}

class TransportTest : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    a_ = GetParam().make();
    b_ = GetParam().make();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }

  // Progresses every endpoint in `drive` until `request` on `t` completes, or `timeout`.
  bool Wait(Transport* t, Request request, Completion* done, std::vector<Transport*> drive = {},
            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (drive.empty()) drive = {a_.get(), b_.get()};
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      for (Transport* d : drive) {
        if (d != nullptr) d->Progress();
      }
      if (t->Test(request, done)) return true;
    }
    return false;
  }

  // Sends one message a -> b and returns b's completion.
  Completion SendAB(PeerId to_b, uint32_t tag, const std::vector<std::byte>& data,
                    std::vector<std::byte>* received) {
    auto recv = b_->Irecv(tag, ~0u, received);
    EXPECT_TRUE(recv.ok()) << recv.status();
    auto send = a_->Isend(to_b, tag, data);
    EXPECT_TRUE(send.ok()) << send.status();
    Completion sent, got;
    EXPECT_TRUE(Wait(b_.get(), *recv, &got));
    EXPECT_TRUE(Wait(a_.get(), *send, &sent));
    EXPECT_TRUE(sent.status.ok()) << sent.status;
    EXPECT_EQ(sent.bytes, data.size());
    return got;
  }

  std::unique_ptr<Transport> a_, b_;
};

TEST_P(TransportTest, SendsAndReceivesEverySize) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok()) << to_b.status();
  uint32_t seq = 0;
  for (size_t size : {size_t{0}, size_t{1}, size_t{64} << 10, size_t{8} << 20}) {
    SCOPED_TRACE(size);
    const auto data = Payload(1, ++seq, size);
    std::vector<std::byte> received(3, std::byte{0x55});  // stale contents are replaced
    Completion got = SendAB(*to_b, 42, data, &received);
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_EQ(got.tag, 42u);
    EXPECT_EQ(got.bytes, size);
    EXPECT_TRUE(PayloadIs(received, 1, seq, size));
    EXPECT_TRUE(b_->PeerStatus(got.peer).ok());
  }
}

TEST_P(TransportTest, ReceiverAnswersTheImplicitPeer) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  std::vector<std::byte> received;
  Completion got = SendAB(*to_b, 7, Payload(1, 1, 100), &received);
  ASSERT_TRUE(got.status.ok());
  // b never called Connect: it learned a from the message. Connecting to a's address now gives
  // the same peer.
  auto to_a = b_->Connect(a_->LocalAddress());
  ASSERT_TRUE(to_a.ok());
  EXPECT_EQ(*to_a, got.peer);
  auto again = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *to_b);

  std::vector<std::byte> answer;
  auto recv = a_->Irecv(8, ~0u, &answer);
  ASSERT_TRUE(recv.ok());
  const auto data = Payload(2, 1, 5000);
  auto send = b_->Isend(got.peer, 8, data);
  ASSERT_TRUE(send.ok());
  Completion back, sent;
  ASSERT_TRUE(Wait(a_.get(), *recv, &back));
  ASSERT_TRUE(Wait(b_.get(), *send, &sent));
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.peer, *to_b);
  EXPECT_TRUE(PayloadIs(answer, 2, 1, 5000));
}

TEST_P(TransportTest, ManyMessagesKeepPerTagOrder) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  constexpr int kMessages = 2000, kTags = 4, kWindow = 16;
  auto size_of = [](uint32_t seq) { return size_t{8} + (seq * 37) % 3000; };
  std::vector<std::vector<std::byte>> sent_data(kMessages);
  std::vector<Request> sends;
  int next_send = 0;
  std::vector<uint32_t> expected_seq(kTags, 0);  // next seq expected per tag
  // Receives for any tag (mask 0); order within a tag must hold.
  std::vector<std::vector<std::byte>> buffers(kWindow);
  std::vector<Request> recvs(kWindow);
  for (int i = 0; i < kWindow; ++i) recvs[i] = *b_->Irecv(0, 0, &buffers[i]);
  int received = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (received < kMessages && Clock::now() < deadline) {
    if (next_send < kMessages && sends.size() < 64) {
      const uint32_t seq = next_send++;
      sent_data[seq] = Payload(1, seq, size_of(seq));
      auto s = a_->Isend(*to_b, seq % kTags, sent_data[seq]);
      ASSERT_TRUE(s.ok()) << s.status();
      sends.push_back(*s);
    }
    a_->Progress();
    b_->Progress();
    for (size_t i = 0; i < sends.size();) {
      Completion c;
      if (a_->Test(sends[i], &c)) {
        ASSERT_TRUE(c.status.ok()) << c.status;
        sends[i] = sends.back();
        sends.pop_back();
      } else {
        ++i;
      }
    }
    for (int i = 0; i < kWindow; ++i) {
      Completion c;
      if (!b_->Test(recvs[i], &c)) continue;
      ASSERT_TRUE(c.status.ok()) << c.status;
      ASSERT_LT(c.tag, static_cast<uint32_t>(kTags));
      uint32_t rank = 0, seq = 0;
      ASSERT_GE(buffers[i].size(), 8u);
      std::memcpy(&rank, buffers[i].data(), 4);
      std::memcpy(&seq, buffers[i].data() + 4, 4);
      ASSERT_EQ(rank, 1u);
      ASSERT_EQ(seq % kTags, c.tag);
      ASSERT_EQ(seq, expected_seq[c.tag] * kTags + c.tag) << "out of order on tag " << c.tag;
      ++expected_seq[c.tag];
      ASSERT_TRUE(PayloadIs(buffers[i], 1, seq, size_of(seq)));
      ++received;
      recvs[i] = *b_->Irecv(0, 0, &buffers[i]);
    }
  }
  EXPECT_EQ(received, kMessages);
  for (int i = 0; i < kWindow; ++i) b_->Cancel(recvs[i]);
}

TEST_P(TransportTest, MatchesTagsUnderMask) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  std::vector<std::byte> want7, any_high, rest;
  auto r7 = b_->Irecv(7, ~0u, &want7);
  auto high = b_->Irecv(0x10000, 0xffff0000u, &any_high);  // any tag 0x1xxxx
  ASSERT_TRUE(r7.ok() && high.ok());
  const auto m5 = Payload(1, 5, 10), m1 = Payload(1, 6, 11), m7 = Payload(1, 7, 12);
  ASSERT_TRUE(a_->Isend(*to_b, 5, m5).ok());
  ASSERT_TRUE(a_->Isend(*to_b, 0x1abcd, m1).ok());
  ASSERT_TRUE(a_->Isend(*to_b, 7, m7).ok());
  Completion c7, ch;
  ASSERT_TRUE(Wait(b_.get(), *r7, &c7));
  ASSERT_TRUE(Wait(b_.get(), *high, &ch));
  EXPECT_EQ(c7.tag, 7u);
  EXPECT_TRUE(PayloadIs(want7, 1, 7, 12));
  EXPECT_EQ(ch.tag, 0x1abcdu);
  EXPECT_TRUE(PayloadIs(any_high, 1, 6, 11));
  // The tag-5 message waited for a receive that matches it.
  auto r_any = b_->Irecv(0, 0, &rest);
  Completion c5;
  ASSERT_TRUE(Wait(b_.get(), *r_any, &c5));
  EXPECT_EQ(c5.tag, 5u);
  EXPECT_TRUE(PayloadIs(rest, 1, 5, 10));
}

TEST_P(TransportTest, CancelledReceiveLeavesTheMessageForTheNext) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  std::vector<std::byte> first, second;
  auto r1 = b_->Irecv(3, ~0u, &first);
  ASSERT_TRUE(r1.ok());
  b_->Progress();
  b_->Cancel(*r1);
  auto r2 = b_->Irecv(3, ~0u, &second);
  const auto data = Payload(1, 1, 300);
  ASSERT_TRUE(a_->Isend(*to_b, 3, data).ok());
  Completion c;
  ASSERT_TRUE(Wait(b_.get(), *r2, &c));
  EXPECT_TRUE(c.status.ok());
  EXPECT_TRUE(PayloadIs(second, 1, 1, 300));
  EXPECT_TRUE(first.empty());
}

TEST_P(TransportTest, ConnectDoesNotBlock) {
  // b is never progressed while a connects and posts a send.
  const auto start = Clock::now();
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  const auto data = Payload(1, 1, 1000);
  auto send = a_->Isend(*to_b, 1, data);
  ASSERT_TRUE(send.ok());
  for (int i = 0; i < 10; ++i) a_->Progress();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
  // Once b runs, the message arrives.
  std::vector<std::byte> received;
  auto recv = b_->Irecv(1, ~0u, &received);
  Completion c, s;
  ASSERT_TRUE(Wait(b_.get(), *recv, &c));
  ASSERT_TRUE(Wait(a_.get(), *send, &s));
  EXPECT_TRUE(PayloadIs(received, 1, 1, 1000));
}

TEST_P(TransportTest, DestroyedPeerIsReportedWithinTheTimeout) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  std::vector<std::byte> received;
  ASSERT_TRUE(SendAB(*to_b, 1, Payload(1, 1, 64), &received).status.ok());
  // a waits for an answer that will never come.
  std::vector<std::byte> answer;
  auto recv = a_->Irecv(2, ~0u, &answer);
  ASSERT_TRUE(recv.ok());
  b_.reset();
  const auto start = Clock::now();
  while (a_->PeerStatus(*to_b).ok() && Clock::now() - start < std::chrono::seconds(5)) {
    a_->Progress();
  }
  const absl::Status status = a_->PeerStatus(*to_b);
  EXPECT_TRUE(absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) << status;
  // Later sends to it fail.
  const auto data = Payload(1, 2, 64);
  auto send = a_->Isend(*to_b, 1, data);
  if (send.ok()) {
    Completion c;
    ASSERT_TRUE(Wait(a_.get(), *send, &c, {a_.get()}));
    EXPECT_FALSE(c.status.ok());
  }
  a_->Cancel(*recv);
}

TEST_P(TransportTest, ConnectToAGoneEndpointFailsThePeerNotTheCall) {
  auto c = GetParam().make();
  const std::vector<std::byte> address(c->LocalAddress().begin(), c->LocalAddress().end());
  c.reset();
  const auto start = Clock::now();
  auto peer = a_->Connect(address);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
  if (!peer.ok()) {
    GTEST_SKIP() << "rejected at Connect: " << peer.status();
  }
  const auto data = Payload(1, 1, 64 << 10);
  auto send = a_->Isend(*peer, 1, data);
  ASSERT_TRUE(send.ok());
  Completion done;
  ASSERT_TRUE(Wait(a_.get(), *send, &done, {a_.get()}, std::chrono::seconds(8)));
  EXPECT_FALSE(done.status.ok());
  EXPECT_FALSE(a_->PeerStatus(*peer).ok());
}

TEST_P(TransportTest, AbortFailsEverything) {
  auto to_b = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(to_b.ok());
  std::vector<std::byte> buffer;
  auto recv = a_->Irecv(1, ~0u, &buffer);
  ASSERT_TRUE(recv.ok());
  a_->Abort(absl::AbortedError("test abort"));
  Completion c;
  ASSERT_TRUE(a_->Test(*recv, &c));
  EXPECT_TRUE(absl::IsAborted(c.status)) << c.status;
  EXPECT_TRUE(absl::IsAborted(a_->PeerStatus(*to_b)));
  EXPECT_TRUE(absl::IsAborted(a_->Isend(*to_b, 1, {}).status()));
  EXPECT_TRUE(absl::IsAborted(a_->Irecv(1, ~0u, &buffer).status()));
  a_->Abort(absl::InternalError("second"));  // idempotent
  EXPECT_TRUE(absl::IsAborted(a_->PeerStatus(*to_b)));
}

TEST_P(TransportTest, RejectsBadAddresses) {
  const std::vector<std::byte> junk = {std::byte{1}, std::byte{2}, std::byte{3}};
  EXPECT_TRUE(absl::IsInvalidArgument(a_->Connect(junk).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(a_->Connect({}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(a_->Connect(a_->LocalAddress()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(a_->PeerStatus(99)));
  EXPECT_FALSE(a_->Isend(99, 1, {}).ok());
}

TEST_P(TransportTest, RegistersMemory) {
  std::vector<std::byte> block(1 << 20);
  auto region = a_->RegisterMemory(block.data(), block.size());
  ASSERT_TRUE(region.ok()) << region.status();
  region->reset();
}

TEST_P(TransportTest, PingPongAcrossThreads) {
  const std::vector<std::byte> b_address(b_->LocalAddress().begin(), b_->LocalAddress().end());
  constexpr int kRounds = 300;
  std::thread echo([&] {
    // b answers every message with the same bytes until it has seen kRounds.
    std::vector<std::byte> buffer;
    for (int i = 0; i < kRounds; ++i) {
      auto r = b_->Irecv(1, ~0u, &buffer);
      Completion c;
      while (!b_->Test(*r, &c)) {
      }
      ASSERT_TRUE(c.status.ok());
      auto s = b_->Isend(c.peer, 2, buffer);
      Completion sent;
      while (!b_->Test(*s, &sent)) {
      }
      ASSERT_TRUE(sent.status.ok());
    }
  });
  auto to_b = a_->Connect(b_address);
  ASSERT_TRUE(to_b.ok());
  std::vector<std::byte> answer;
  for (int i = 0; i < kRounds; ++i) {
    const auto data = Payload(1, i, 8 + i * 11);
    auto r = a_->Irecv(2, ~0u, &answer);
    auto s = a_->Isend(*to_b, 1, data);
    Completion c;
    ASSERT_TRUE(Wait(a_.get(), *r, &c, {a_.get()}));
    ASSERT_TRUE(Wait(a_.get(), *s, &c, {a_.get()}));
    ASSERT_TRUE(PayloadIs(answer, 1, i, 8 + i * 11));
  }
  echo.join();
}

TEST(TransportAddress, HexRoundTrips) {
  const std::vector<std::byte> bytes = {std::byte{0}, std::byte{0xab}, std::byte{0x7f}};
  EXPECT_EQ(AddressToHex(bytes), "00ab7f");
  auto back = AddressFromHex("00AB7f");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, bytes);
  EXPECT_TRUE(absl::IsInvalidArgument(AddressFromHex("abc").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(AddressFromHex("zz").status()));
}

TEST(InProcessTransport, AddressOfAnotherFabricIsRejected) {
  auto one = MakeInProcessTransport(std::make_shared<InProcessFabric>());
  auto two = MakeInProcessTransport(std::make_shared<InProcessFabric>());
  EXPECT_TRUE(absl::IsInvalidArgument(one->Connect(two->LocalAddress()).status()));
}

INSTANTIATE_TEST_SUITE_P(AllTransports, TransportTest, ::testing::ValuesIn(Factories()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace moeserve
