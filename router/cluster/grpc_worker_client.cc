#include "router/cluster/grpc_worker_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "grpcpp/grpcpp.h"

namespace moeserve::router {
namespace pb = cluster::v1;

namespace {

pb::WorkerRequest ToProto(const WorkerRequest& r) {
  pb::WorkerRequest out;
  pb::AddRequest* add = out.mutable_add();
  add->set_request_id(r.request_id);
  for (int32_t id : r.prompt_ids) add->add_prompt_token_ids(static_cast<uint32_t>(id));
  pb::SamplingParams* s = add->mutable_sampling();
  s->set_temperature(r.sampling.temperature);
  s->set_top_p(r.sampling.top_p);
  s->set_top_k(r.sampling.top_k);
  s->set_min_p(r.sampling.min_p);
  s->set_seed(r.sampling.seed);
  s->set_presence_penalty(r.sampling.presence_penalty);
  s->set_frequency_penalty(r.sampling.frequency_penalty);
  s->set_repetition_penalty(r.sampling.repetition_penalty);
  s->set_max_tokens(static_cast<uint32_t>(r.max_tokens));
  for (int32_t id : r.stop_token_ids) s->add_stop_token_ids(static_cast<uint32_t>(id));
  s->set_ignore_eos(r.ignore_eos);
  if (r.logprobs >= 0) s->set_logprobs(static_cast<uint32_t>(r.logprobs));
  return out;
}

LoadReport FromProto(const pb::WorkerLoad& l) {
  LoadReport out;
  out.waiting_requests = static_cast<int32_t>(l.waiting_requests());
  out.running_requests = static_cast<int32_t>(l.running_requests());
  out.queued_tokens = static_cast<int64_t>(l.queued_tokens());
  out.running_tokens = static_cast<int64_t>(l.running_tokens());
  out.free_kv_blocks = static_cast<int64_t>(l.free_kv_blocks());
  out.total_kv_blocks = static_cast<int64_t>(l.total_kv_blocks());
  out.recent_prefixes.insert(l.recent_prefix_hashes().begin(), l.recent_prefix_hashes().end());
  return out;
}

}  // namespace

GrpcWorkerClient::GrpcWorkerClient(std::string name, std::string address)
    : name_(std::move(name)), address_(std::move(address)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  stub_ = pb::AttentionWorker::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
  connection_thread_ = std::thread([this] { ConnectionLoop(); });
}

GrpcWorkerClient::~GrpcWorkerClient() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  connection_thread_.join();
}

absl::Status GrpcWorkerClient::Submit(WorkerRequest request, EventSink sink) {
  absl::MutexLock lock(&mu_);
  if (!connected_ || !have_load_) {
    return absl::UnavailableError(absl::StrCat("worker ", name_, " is not connected"));
  }
  if (in_flight_.contains(request.request_id)) {
    return absl::AlreadyExistsError(absl::StrCat("request id ", request.request_id, " in flight"));
  }
  in_flight_[request.request_id] =
      InFlight{std::move(sink), static_cast<int64_t>(request.prompt_ids.size())};
  outgoing_.push_back(ToProto(request));
  return absl::OkStatus();
}

void GrpcWorkerClient::Abort(std::string_view request_id) {
  absl::MutexLock lock(&mu_);
  if (!in_flight_.contains(std::string(request_id)) || !connected_) return;
  pb::WorkerRequest r;
  r.mutable_abort()->set_request_id(std::string(request_id));
  outgoing_.push_back(std::move(r));
}

LoadReport GrpcWorkerClient::load() const {
  absl::MutexLock lock(&mu_);
  LoadReport report = last_load_;
  // Requests submitted since the last report count as waiting, so back-to-back scheduling
  // decisions see each other.
  report.waiting_requests += static_cast<int32_t>(in_flight_.size());
  for (const auto& [id, f] : in_flight_) report.queued_tokens += f.prompt_tokens;
  return report;
}

bool GrpcWorkerClient::ready() const {
  absl::MutexLock lock(&mu_);
  return connected_ && have_load_;
}

void GrpcWorkerClient::Deliver(const pb::WorkerEvent& event) {
  EventSink sink;
  WorkerEvent out;
  std::string id;
  bool terminal = false;
  switch (event.kind_case()) {
    case pb::WorkerEvent::kLoad: {
      absl::MutexLock lock(&mu_);
      last_load_ = FromProto(event.load());
      have_load_ = true;
      return;
    }
    case pb::WorkerEvent::kTokens: {
      const pb::TokenOutput& t = event.tokens();
      id = t.request_id();
      for (int i = 0; i < t.token_ids_size(); ++i) {
        out.token_ids.push_back(static_cast<int32_t>(t.token_ids(i)));
        if (i < t.logprobs_size()) {
          TokenLogprob lp;
          lp.token_id = static_cast<int32_t>(t.token_ids(i));
          lp.logprob = t.logprobs(i).logprob();
          for (const auto& top : t.logprobs(i).top()) {
            lp.top.emplace_back(static_cast<int32_t>(top.token_id()), top.logprob());
          }
          out.logprobs.push_back(std::move(lp));
        }
      }
      break;
    }
    case pb::WorkerEvent::kFinished:
      id = event.finished().request_id();
      terminal = true;
      switch (event.finished().reason()) {
        case pb::FINISH_REASON_STOP:
          out.finish_reason = FinishReason::kStop;
          break;
        case pb::FINISH_REASON_ABORT:
          out.finish_reason = FinishReason::kAborted;
          break;
        default:
          out.finish_reason = FinishReason::kLength;
      }
      break;
    case pb::WorkerEvent::kError:
      id = event.error().request_id();
      terminal = true;
      out.status = absl::Status(static_cast<absl::StatusCode>(event.error().code()),
                                event.error().message());
      if (out.status.ok()) out.status = absl::InternalError(event.error().message());
      break;
    default:
      return;
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) return;
    sink = it->second.sink;
    if (terminal) in_flight_.erase(it);
  }
  sink(std::move(out));
}

void GrpcWorkerClient::FailAll(const absl::Status& status) {
  absl::flat_hash_map<std::string, InFlight> failed;
  {
    absl::MutexLock lock(&mu_);
    failed.swap(in_flight_);
    outgoing_.clear();
  }
  for (auto& [id, f] : failed) {
    WorkerEvent e;
    e.status = status;
    f.sink(std::move(e));
  }
}

void GrpcWorkerClient::WriterLoop(
    grpc::ClientReaderWriter<pb::WorkerRequest, pb::WorkerEvent>* stream,
    grpc::ClientContext* context) {
  for (;;) {
    pb::WorkerRequest next;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this] { return stopping_ || !connected_ || !outgoing_.empty(); };
      mu_.Await(absl::Condition(&has_work));
      if (stopping_ || !connected_) return;
      next = std::move(outgoing_.front());
      outgoing_.pop_front();
    }
    if (!stream->Write(next)) {
      context->TryCancel();
      return;
    }
  }
}

void GrpcWorkerClient::ConnectionLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    grpc::ClientContext context;
    context.set_wait_for_ready(false);
    auto stream = stub_->Generate(&context);
    {
      absl::MutexLock lock(&mu_);
      context_ = &context;
      connected_ = true;
      have_load_ = false;
      if (stopping_) context.TryCancel();
    }
    std::thread writer([&] { WriterLoop(stream.get(), &context); });
    pb::WorkerEvent event;
    while (stream->Read(&event)) Deliver(event);
    {
      absl::MutexLock lock(&mu_);
      connected_ = false;
      have_load_ = false;
      context_ = nullptr;
    }
    writer.join();
    stream->WritesDone();
    const grpc::Status s = stream->Finish();
    FailAll(absl::UnavailableError(absl::StrCat("worker ", name_, " stream closed: ",
                                                s.error_message())));
    // Back off before reconnecting (the worker may still be loading).
    for (int i = 0; i < 20; ++i) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  FailAll(absl::UnavailableError("router shutting down"));
}

}  // namespace moeserve::router
