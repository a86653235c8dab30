#include "common/grpc_util.h"

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "moeserve/cluster/v1/cluster.grpc.pb.h"

namespace moeserve {
namespace {

using ::testing::HasSubstr;

TEST(GrpcStatus, EveryCodeMapsOneToOneBothWays) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status a(static_cast<absl::StatusCode>(code), code == 0 ? "" : "msg");
    const grpc::Status g = ToGrpcStatus(a);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(g.error_message(), code == 0 ? "" : "msg");
    const absl::Status back = FromGrpcStatus(g);
    EXPECT_EQ(back, a) << code;
  }
  // Names, not just numbers, agree (spot checks of the ones handlers return most).
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("x")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "q")).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(GrpcStatus, UnknownCodesBecomeUnknown) {
  const absl::Status odd(static_cast<absl::StatusCode>(42), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcStatus(odd).error_message(), "odd");
  EXPECT_EQ(FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(99), "x")).code(),
            absl::StatusCode::kUnknown);
}

TEST(GrpcServerOptions, Validate) {
  GrpcServerOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.address = "localhost";
  EXPECT_THAT(o.Validate().message(), HasSubstr("expected host:port"));
  o.address = "localhost:70000";
  EXPECT_THAT(o.Validate().message(), HasSubstr("0..65535"));
  o.address = "[::1]:0";
  EXPECT_TRUE(o.Validate().ok());
  o.max_message_bytes = 0;
  EXPECT_THAT(o.Validate().message(), HasSubstr("max_message_bytes"));
}

// A ClusterControl whose GetPlacement answers with an absl error, to check the edge mapping.
class FailingControl final : public cluster::v1::ClusterControl::CallbackService {
  grpc::ServerUnaryReactor* GetPlacement(grpc::CallbackServerContext* context,
                                         const cluster::v1::GetPlacementRequest*,
                                         cluster::v1::Placement*) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError("no shards registered")));
    return reactor;
  }
};

// One ServerReflectionInfo exchange asking list_services, through the generic stub (the
// reflection messages have no installed C++ headers). Returns the raw response bytes.
std::string ReflectionListServices(const std::string& target) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto call = generic.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto wait = [&cq](intptr_t want) {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), want);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!wait(1)) return "";
  const char request[] = {0x3a, 0x00};  // field 7 (list_services) = ""
  grpc::Slice slice(request, sizeof(request));
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  wait(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  wait(3);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(4));
  const bool got = wait(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  wait(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (!got) return "";
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(in.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

TEST(StartGrpcServer, ServesHealthReflectionAndServices) {
  FailingControl service;
  auto started = StartGrpcServer({.address = "127.0.0.1:0"}, {&service});
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_GT(started->port, 0);
  const std::string target = "127.0.0.1:" + std::to_string(started->port);

  EXPECT_TRUE(CheckGrpcHealth(target, absl::Seconds(5)).ok());
  SetServing(*started->server, false);
  absl::Status not_serving = CheckGrpcHealth(target, absl::Seconds(5));
  EXPECT_EQ(not_serving.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(not_serving.message(), HasSubstr("NOT_SERVING"));
  SetServing(*started->server, true);
  EXPECT_TRUE(CheckGrpcHealth(target, absl::Seconds(5)).ok());

  // The service's absl error reaches the client with the same code and message.
  auto stub = cluster::v1::ClusterControl::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  cluster::v1::Placement placement;
  const absl::Status s = FromGrpcStatus(stub->GetPlacement(&ctx, {}, &placement));
  EXPECT_EQ(s, absl::FailedPreconditionError("no shards registered"));

  // Unimplemented methods of the callback service say so.
  grpc::ClientContext ctx2;
  cluster::v1::ClusterStatusResponse status;
  EXPECT_EQ(FromGrpcStatus(stub->GetClusterStatus(&ctx2, {}, &status)).code(),
            absl::StatusCode::kUnimplemented);

  // Reflection is registered next to the services: list_services names ClusterControl.
  EXPECT_THAT(ReflectionListServices(target), HasSubstr("moeserve.cluster.v1.ClusterControl"));
  EXPECT_THAT(ReflectionListServices(target), HasSubstr("grpc.health.v1.Health"));
  started->server->Shutdown();
}

TEST(StartGrpcServer, CanStartNotServing) {
  auto started = StartGrpcServer({.address = "127.0.0.1:0", .initially_serving = false}, {});
  ASSERT_TRUE(started.ok());
  const std::string target = "127.0.0.1:" + std::to_string(started->port);
  EXPECT_EQ(CheckGrpcHealth(target, absl::Seconds(5)).code(), absl::StatusCode::kUnavailable);
  SetServing(*started->server, true);
  EXPECT_TRUE(CheckGrpcHealth(target, absl::Seconds(5)).ok());
  started->server->Shutdown();
}

TEST(StartGrpcServer, WithoutHealthServiceProbesFail) {
  auto started = StartGrpcServer({.address = "127.0.0.1:0", .enable_health = false}, {});
  ASSERT_TRUE(started.ok());
  const std::string target = "127.0.0.1:" + std::to_string(started->port);
  EXPECT_EQ(CheckGrpcHealth(target, absl::Seconds(5)).code(), absl::StatusCode::kUnimplemented);
  SetServing(*started->server, true);  // no health service: a no-op
  started->server->Shutdown();
}

TEST(StartGrpcServer, PortInUseIsUnavailable) {
  auto first = StartGrpcServer({.address = "127.0.0.1:0"}, {});
  ASSERT_TRUE(first.ok());
  auto second = StartGrpcServer({.address = "127.0.0.1:" + std::to_string(first->port)}, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("cannot listen"));
  first->server->Shutdown();
}

TEST(CheckGrpcHealth, NothingListeningIsAnError) {
  auto s = StartGrpcServer({.address = "127.0.0.1:0"}, {});
  ASSERT_TRUE(s.ok());
  const int port = s->port;
  s->server->Shutdown();
  s->server.reset();
  absl::Status h = CheckGrpcHealth("127.0.0.1:" + std::to_string(port), absl::Milliseconds(300));
  EXPECT_FALSE(h.ok());
  EXPECT_THAT(h.message(), HasSubstr("health check of 127.0.0.1:"));
}

TEST(StartGrpcServer, RejectsBadOptions) {
  auto s = StartGrpcServer({.address = "nonsense"}, {});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moeserve
